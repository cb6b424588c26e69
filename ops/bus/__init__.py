"""For operators: the tools for the broker and what flowed through it. Commands: `framepipe events` (the
archive, read by filter), `framepipe replay` (archived events sent again, dry run first, resumable) and
`framepipe dlq` (parking queues: list, show, redrive, purge). What they are made of: the archive reader
(archive.py) and what a filter selects from it (selection.py, filters.py), a replay's execution and state
(replayer.py, replaystate.py), parking queues (parking.py), pacing (pacing.py), the audit trail (audit.py) and
the connection (broker.py). brokerusers.py derives the broker's users and permissions from the contract."""
