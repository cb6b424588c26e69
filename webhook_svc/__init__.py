"""webhook_svc: the owner's endpoints, signed deliveries of their videos' events, retries, and the delivery log."""
