-- 0001_core.sql: what every later table builds on.
--
-- Every resource table has created_at and updated_at; this trigger function
-- keeps updated_at true on every UPDATE, so no handler has to remember it.
-- Attach it with:
--   CREATE TRIGGER <table>_touch BEFORE UPDATE ON <table>
--     FOR EACH ROW EXECUTE FUNCTION cl_touch_updated_at();

CREATE OR REPLACE FUNCTION cl_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
