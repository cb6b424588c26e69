-- Videos and their processing state, and the stored responses of idempotent uploads.
CREATE TABLE videos (
    id                uuid             PRIMARY KEY,
    owner_id          uuid             NOT NULL,
    filename          text             NOT NULL,
    content_type      text             NOT NULL,
    size_bytes        bigint           NOT NULL CHECK (size_bytes > 0),
    source_key        text             NOT NULL,
    source_sha256     text             NOT NULL,
    interval_seconds  double precision NOT NULL,
    image_format      text             NOT NULL CHECK (image_format IN ('png', 'jpg')),
    status            text             NOT NULL DEFAULT 'uploaded'
                                       CHECK (status IN ('uploaded', 'processing', 'done', 'failed')),
    progress          double precision NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    frame_count       integer,
    duration_seconds  double precision,
    result_key        text,
    result_size_bytes bigint,
    result_sha256     text,
    error_code        text,
    error_message     text,
    -- clock_timestamp, not now(): the files of one upload keep the order they were sent in.
    created_at        timestamptz      NOT NULL DEFAULT clock_timestamp(),
    updated_at        timestamptz      NOT NULL DEFAULT clock_timestamp(),
    finished_at       timestamptz,
    deleted_at        timestamptz
);
-- Keyset pagination, newest first, per owner (with and without the status filter).
CREATE INDEX videos_by_owner ON videos (owner_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX videos_by_owner_status ON videos (owner_id, status, created_at DESC, id DESC) WHERE deleted_at IS NULL;

CREATE TABLE idempotency_keys (
    owner_id    uuid        NOT NULL,
    key         text        NOT NULL,
    status      integer     NOT NULL,
    body        jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_id, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
