-- Preview images of the first frames (processor-made, optional), and a notification for every change of a video,
-- so each replica can push changes to the event streams it holds, whichever replica made them.
ALTER TABLE videos ADD COLUMN preview_keys text[] NOT NULL DEFAULT '{}';

-- Catching up a reconnecting event stream: the owner's videos changed since a time, deleted ones included.
CREATE INDEX videos_by_owner_updated ON videos (owner_id, updated_at);

-- Sent at commit (never for a rolled-back change) on the channel `<schema>.videos`; the payload names the owner
-- and the video, and listeners read the row itself, so the notification never outgrows pg_notify's 8000 bytes.
CREATE FUNCTION notify_video_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '.videos', NEW.owner_id::text || ' ' || NEW.id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER videos_changed AFTER INSERT OR UPDATE ON videos
    FOR EACH ROW EXECUTE FUNCTION notify_video_change();
