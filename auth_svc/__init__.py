"""auth_svc: users, password hashes and the RS256 signing key. Issues the access tokens every other service
verifies on its own, and announces new users with `auth.user.registered.v1`.

Login throttling counts failures per account and per client address, in PostgreSQL so every replica sees the
same counts. The client address is the TCP peer (`request.remote`); X-Forwarded-For is never trusted here.
Behind the ALB or a reverse proxy, presenting the real client address (the proxy's X-Forwarded-For handling,
or the PROXY protocol) is the deployment's job; without it, every client shares the proxy's address."""
