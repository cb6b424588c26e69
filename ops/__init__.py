"""Operator and developer tooling: the `framepipe` command (cli.py), its commands by audience: client/ (users),
dev/ (developers, and the local stand-ins the tests start), bus/ (operators: events, replay, dlq) and schemas/
(the contract's documents and wheel), plus chaos/ (chaos runs)."""
