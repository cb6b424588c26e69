-- Users and their argon2id password hashes. E-mails are stored normalised (trimmed, lower-case); the unique
-- index on lower(email) keeps two spellings of one address from ever becoming two accounts.
CREATE TABLE users (
    id             uuid        PRIMARY KEY,
    email          text        NOT NULL,
    name           text,
    password_hash  text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_unique ON users (lower(email));

-- Failed logins, one row per failure and per throttling key ('account:<email>' or 'address:<ip>'). Kept in
-- the database, not in memory, so every replica sees the same counts. Rows older than the window are pruned.
CREATE TABLE login_failures (
    id         bigserial   PRIMARY KEY,
    key        text        NOT NULL,
    failed_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX login_failures_key_time ON login_failures (key, failed_at DESC);
CREATE INDEX login_failures_time ON login_failures (failed_at);
