-- 0007_app_digest.sql: the digest an app's input_image resolved to, filled
-- in by the image.inspect job that every new or changed input_image queues.

ALTER TABLE apps ADD COLUMN input_digest text;
ALTER TABLE apps ADD COLUMN input_inspect_job uuid;
