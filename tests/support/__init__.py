"""What the tests and the benchmarks share, one module per concern: the run's settings, scratch databases and
vhosts, test videos, tokens, waiting for a condition, sample events, server-sent events, S3 clients and a webhook
receiver."""
