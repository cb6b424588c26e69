-- Every processing option of contract 1.6.0, as the upload accepted them (the whole ProcessingOptions object).
-- Rows from before have NULL here and read back as their interval and format with every other option at its
-- default, which is what they were processed with. The two old columns are still written, so they stay right for
-- every row and for a replica that does not know this column yet.
ALTER TABLE videos ADD COLUMN options jsonb;

-- WebP frames (1.6.0).
ALTER TABLE videos DROP CONSTRAINT videos_image_format_check;
ALTER TABLE videos ADD CONSTRAINT videos_image_format_check CHECK (image_format IN ('png', 'jpg', 'webp'));
