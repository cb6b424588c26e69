"""For users: `framepipe client`, the command-line client of the HTTP API (command.py), and what it is made of:
the API as the client sees it (api.py), what each command does (actions.py, webhooks.py), the processing-option
flags (options.py), messages for people (messages.py), the output for people or scripts (output.py) and the
progress bars (progress.py)."""
