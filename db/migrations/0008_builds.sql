-- 0008_builds.sql: enclave signing keys and builds.  Rules: api/builds.c,
-- api/signing_keys.c and workers/convert/.

-- One active RSA-3072/e=3 key per account signs its enclaves; a rotated key
-- is retired, not deleted, so the MRSIGNERs of older builds stay listed.  An
-- offline key is only its public half: its holder signs each build.
CREATE TABLE signing_keys (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    mrsigner    text NOT NULL CHECK (mrsigner ~ '^[0-9a-f]{64}$'),
    public_pem  text NOT NULL,
    key_sealed  text,
    origin      text NOT NULL CHECK (origin IN ('generated', 'imported', 'offline')),
    CHECK ((origin = 'offline') = (key_sealed IS NULL)),
    state       text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'retired')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);
CREATE UNIQUE INDEX signing_keys_active ON signing_keys (account_id) WHERE state = 'active';
CREATE INDEX signing_keys_account ON signing_keys (account_id, created_at, id);

-- A build is recorded when its conversion succeeds, with everything the CPU
-- will report for it and the manifest that fixes what it may load.
CREATE TABLE builds (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id      uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    app_id          uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    job_id          uuid NOT NULL UNIQUE,
    state           text NOT NULL
                    CHECK (state IN ('awaiting_signature', 'pending', 'approved', 'rejected',
                                     'deprecated')),
    input_image     text NOT NULL,
    input_digest    text NOT NULL,
    runtime         text NOT NULL,
    runtime_version text NOT NULL,
    runtime_image   text NOT NULL,
    runtime_digest  text NOT NULL,
    output_image    text NOT NULL,
    output_digest   text,           -- NULL until it is signed and pushed
    mrenclave       text NOT NULL CHECK (mrenclave ~ '^[0-9a-f]{64}$'),
    mrsigner        text NOT NULL CHECK (mrsigner ~ '^[0-9a-f]{64}$'),
    signing_key_id  uuid REFERENCES signing_keys (id),
    isvprodid       integer NOT NULL,
    isvsvn          integer NOT NULL,
    debug           boolean NOT NULL,
    enclave_size    bigint NOT NULL,
    max_threads     integer NOT NULL,
    sigstruct_date  date NOT NULL,
    manifest        text NOT NULL,
    trusted_files   integer NOT NULL,
    sigstruct       bytea NOT NULL,  -- awaiting_signature: prepared, not yet signed
    signed_at       timestamptz,
    finish_job_id   uuid,            -- the job that pushes an offline-signed build
    task_id         uuid REFERENCES tasks (id),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    decided_at      timestamptz,
    deprecated_at   timestamptz
);
CREATE INDEX builds_account ON builds (account_id, created_at, id);
CREATE INDEX builds_app ON builds (app_id, created_at, id);
