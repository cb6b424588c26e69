-- A user's uploads over time, deleted ones included (quotas count what was uploaded, not what is kept).
CREATE INDEX videos_by_owner_created ON videos (owner_id, created_at DESC);
