-- What was deleted, so that nothing is e-mailed about it afterwards: an outcome of a deleted video, or of any
-- video of a deleted account, that arrives later (processing finishing after the deletion, a redelivery, a replay)
-- is dropped. Only ids and times are kept; a deleted account's recipient record and notification log are removed.
CREATE TABLE deleted_users (
    user_id     uuid        PRIMARY KEY,
    deleted_at  timestamptz NOT NULL
);

CREATE TABLE deleted_videos (
    video_id    uuid        PRIMARY KEY,
    deleted_at  timestamptz NOT NULL
);
CREATE INDEX deleted_videos_by_time ON deleted_videos (deleted_at);
