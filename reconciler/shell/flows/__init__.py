"""One module per command: each loads what it needs, talks to the server through the client,
calls the pure core, and returns an exit code or raises a :mod:`reconciler.errors` exception
(the CLI maps those to messages and exit codes)."""
