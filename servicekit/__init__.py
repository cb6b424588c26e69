"""Shared runtime for framepipe's services: settings, logging, metrics, HTTP helpers, database, bus,
outbox, inbox and S3 storage. Plumbing used by more than one service lives here, once."""
