"""video_svc: uploads, video status and progress, downloads."""
