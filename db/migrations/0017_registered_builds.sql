-- 0017_registered_builds.sql: apps under other enclave runtimes, and builds
-- registered from outside with their SIGSTRUCT rather than converted here.
-- Rules: lib/runtime.c (the runtimes), api/builds.c (registration).

ALTER TABLE apps DROP CONSTRAINT apps_runtime_check;
ALTER TABLE apps ADD CONSTRAINT apps_runtime_check
    CHECK (runtime IN ('gramine', 'occlum', 'scone', 'sgx-sdk', 'edp'));

-- A converted build names the job, input, runtime image and manifest it
-- came from; a registered one names none of them, only the image that
-- carries the enclave (output_image at output_digest) and where its
-- SIGSTRUCT was read from.
ALTER TABLE builds
    ADD COLUMN origin        text NOT NULL DEFAULT 'converted'
                             CHECK (origin IN ('converted', 'registered')),
    ADD COLUMN measured_from text NOT NULL DEFAULT 'conversion'
                             CHECK (measured_from IN ('conversion', 'sigstruct',
                                                      'sgx-sdk-enclave', 'sgxs')),
    ALTER COLUMN job_id DROP NOT NULL,
    ALTER COLUMN input_image DROP NOT NULL,
    ALTER COLUMN input_digest DROP NOT NULL,
    ALTER COLUMN runtime_version DROP NOT NULL,
    ALTER COLUMN runtime_image DROP NOT NULL,
    ALTER COLUMN runtime_digest DROP NOT NULL,
    ALTER COLUMN manifest DROP NOT NULL,
    ALTER COLUMN trusted_files DROP NOT NULL,
    ADD CONSTRAINT builds_origin_columns CHECK (
        (origin = 'converted' AND measured_from = 'conversion' AND job_id IS NOT NULL
         AND input_image IS NOT NULL AND input_digest IS NOT NULL AND manifest IS NOT NULL
         AND trusted_files IS NOT NULL AND runtime_image IS NOT NULL)
        OR (origin = 'registered' AND measured_from <> 'conversion' AND job_id IS NULL
            AND output_digest IS NOT NULL));

-- One registration of a SIGSTRUCT per app.
CREATE UNIQUE INDEX builds_registered ON builds (app_id, mrenclave, mrsigner)
    WHERE origin = 'registered';
