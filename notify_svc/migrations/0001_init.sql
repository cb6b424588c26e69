-- notify_svc's own data: the recipient directory (a projection of auth.user.registered.v1) and the
-- notification log. The video's file name comes with each outcome event.
CREATE TABLE recipients (
    user_id        uuid        PRIMARY KEY,
    email          text        NOT NULL,
    name           text,
    registered_at  timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- One row per outcome event: `event_id` is the idempotency key of the e-mail (its Message-ID is derived
-- from it), so a redelivered or replayed outcome never produces a second row or a second e-mail.
CREATE TABLE notifications (
    seq          bigserial   UNIQUE,
    id           uuid        PRIMARY KEY,
    event_id     uuid        NOT NULL UNIQUE,
    user_id      uuid        NOT NULL,
    video_id     uuid        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('processed', 'failed')),
    channel      text        NOT NULL DEFAULT 'email' CHECK (channel = 'email'),
    status       text        NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    subject      text        NOT NULL,
    message_id   text        NOT NULL,
    recipient    text,
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz
);
CREATE INDEX notifications_by_user ON notifications (user_id, seq DESC);
