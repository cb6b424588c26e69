"""processor_svc: turns uploaded videos into a ZIP of still frames with ffmpeg, several videos at once."""
