"""Chaos runs: the whole system on a three-node RabbitMQ cluster and infrastructure of its own, hurt by real faults
while users upload, and the figures that say whether an accepted upload was ever lost (bench/chaos.py for the long
soak, tests/cluster for the short run in `make test`).

- `stack`: the infrastructure (cluster, PostgreSQL, S3 behind a proxy, SMTP) and the four services on it;
- `faults`: each fault, injected and recovered from;
- `load`: steady uploads, and the probes that time the broker's failover;
- `figures`: what happened to every accepted upload, and the numbers printed at the end."""
