-- Access tokens revoked before they expire. A row names one token (`jti`, a sign-out) or every token of the user
-- issued before `not_before` (a password change, a deleted account). Each row is published once as
-- auth.token.revoked.v1 (through the outbox); every verifier keeps the rows still in force in memory. Rows whose
-- tokens have expired no longer matter and are pruned.
CREATE TABLE token_revocations (
    id          bigserial   PRIMARY KEY,
    user_id     uuid        NOT NULL,
    jti         text        UNIQUE,
    not_before  timestamptz,
    expires_at  timestamptz NOT NULL,
    reason      text        NOT NULL,
    revoked_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (jti IS NOT NULL OR not_before IS NOT NULL)
);
CREATE INDEX token_revocations_expiry ON token_revocations (expires_at);

-- Tokens of the user issued before this instant (whole seconds) are revoked; new ones are dated from it at the
-- earliest, so a token issued in the same second as a password change is not born revoked.
ALTER TABLE users ADD COLUMN tokens_not_before timestamptz;
