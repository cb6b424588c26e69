"""notify_svc: e-mails the owner of a video once per outcome, from a recipient directory built from events."""
