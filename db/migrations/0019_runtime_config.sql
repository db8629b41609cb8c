-- 0019_runtime_config.sql: what a registered build's runtime needs to know
-- to start it (Occlum's instance directory and Occlum.json, EDP's .sgxs,
-- ...), checked at registration by the runtime's own file under
-- lib/runtime/, read by the deploy job.  Converted builds need none: their
-- image starts itself.
ALTER TABLE builds
    ADD COLUMN runtime_config jsonb,
    ADD CONSTRAINT builds_runtime_config CHECK (
        runtime_config IS NULL
        OR (origin = 'registered' AND jsonb_typeof(runtime_config) = 'object'));
