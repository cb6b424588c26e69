"""auth_svc: users, password hashes and the RS256 signing key. Issues the access tokens every other service
verifies on its own, and announces new users with `auth.user.registered.v1`."""
