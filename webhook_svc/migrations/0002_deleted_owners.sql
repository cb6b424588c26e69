-- Deleted accounts: their endpoints and kept events are removed, and an event of theirs that arrives afterwards
-- (a video deleted with the account, a late outcome) is not kept. Only the id and the time are remembered.
CREATE TABLE deleted_owners (
    owner_id    uuid        PRIMARY KEY,
    deleted_at  timestamptz NOT NULL
);
