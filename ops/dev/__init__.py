"""For developers: `framepipe dev` (command.py) runs the whole system on one machine (stack.py, env.py,
process.py), with local stand-ins for the infrastructure a laptop lacks (localinfra.py: S3 and SMTP, s3mirror.py).
The tests and benchmarks start the same stand-ins, and the ones for faults: a PostgreSQL server and a RabbitMQ
cluster of their own (localpostgres.py, localcluster.py), a TCP proxy that can be cut (tcpproxy.py), loopback
partitions (netcut.py), and the scratch directories they all clean up after (scratch.py)."""
