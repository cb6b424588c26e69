-- webhook_svc's own data: the users' endpoints, the events they may receive (kept for retries, resends and
-- replays), one delivery per (endpoint, event), and the log of every attempt.
CREATE TABLE endpoints (
    id                          uuid        PRIMARY KEY,
    owner_id                    uuid        NOT NULL,
    url                         text        NOT NULL,
    description                 text        NOT NULL DEFAULT '',
    event_types                 text[]      NOT NULL,
    secret                      text        NOT NULL,
    previous_secret             text,
    previous_secret_expires_at  timestamptz,
    enabled                     boolean     NOT NULL DEFAULT true,
    failing_since               timestamptz,
    disabled_at                 timestamptz,
    disabled_reason             text,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX endpoints_by_owner ON endpoints (owner_id, created_at);

-- The body is the CloudEvents envelope exactly as it is delivered: the bytes every signature covers.
CREATE TABLE events (
    event_id     uuid        PRIMARY KEY,
    event_type   text        NOT NULL,
    owner_id     uuid        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    body         bytea       NOT NULL
);
CREATE INDEX events_by_owner ON events (owner_id, occurred_at);
CREATE INDEX events_received_at ON events (received_at);

-- `attempts` counts every attempt (it numbers the log); `round_attempts` restarts at 0 when a delivery is
-- resent or replayed, and picks the wait before the next retry. A claimed delivery's next_attempt_at is a
-- lease: if its sender dies, the delivery is due again when the lease ends.
CREATE TABLE deliveries (
    seq               bigserial   UNIQUE,
    id                uuid        PRIMARY KEY,
    endpoint_id       uuid        NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    event_id          uuid        NOT NULL REFERENCES events (event_id) ON DELETE CASCADE,
    status            text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts          integer     NOT NULL DEFAULT 0,
    round_attempts    integer     NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    last_attempt_at   timestamptz,
    last_status_code  integer,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, seq DESC);
CREATE INDEX deliveries_by_event ON deliveries (event_id);

CREATE TABLE attempts (
    delivery_id    uuid        NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt        integer     NOT NULL,
    started_at     timestamptz NOT NULL,
    duration_ms    integer     NOT NULL,
    status_code    integer,
    error          text,
    response_body  text,
    PRIMARY KEY (delivery_id, attempt)
);

-- Wake the dispatchers on commit when deliveries are added (resends and replays notify explicitly).
CREATE FUNCTION deliveries_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_deliveries', '');
    RETURN NULL;
END $$;
CREATE TRIGGER deliveries_inserted AFTER INSERT ON deliveries FOR EACH STATEMENT EXECUTE FUNCTION deliveries_notify();
