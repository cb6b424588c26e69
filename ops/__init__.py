"""Operator and developer tooling: the `framepipe` command (dev stack, client, schemas, events, replay, dlq)."""
