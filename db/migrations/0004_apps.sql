-- 0004_apps.sql: applications, the unit everything else (builds, secrets,
-- certificates, deployments) hangs off.  Field rules: api/apps.c.

CREATE TABLE apps (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id       uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name             text NOT NULL CHECK (name ~ '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'),
    description      text NOT NULL DEFAULT '',
    input_image      text NOT NULL,
    output_image     text NOT NULL,
    runtime          text NOT NULL DEFAULT 'gramine' CHECK (runtime IN ('gramine')),
    enclave_size     bigint NOT NULL,
    max_threads      integer NOT NULL CHECK (max_threads BETWEEN 1 AND 1024),
    isvprodid        integer NOT NULL DEFAULT 0 CHECK (isvprodid BETWEEN 0 AND 65535),
    isvsvn           integer NOT NULL DEFAULT 0 CHECK (isvsvn BETWEEN 0 AND 65535),
    entrypoint       jsonb,
    args             jsonb,
    env              jsonb NOT NULL DEFAULT '{}',
    allowed_domains  jsonb NOT NULL DEFAULT '[]',
    encrypted_paths  jsonb NOT NULL DEFAULT '[]',
    writable_paths   jsonb NOT NULL DEFAULT '[]',
    labels           jsonb NOT NULL DEFAULT '{}',
    debug            boolean NOT NULL DEFAULT false,
    version          integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, name)
);
CREATE INDEX apps_account ON apps (account_id, created_at, id);
CREATE TRIGGER apps_touch BEFORE UPDATE ON apps
    FOR EACH ROW EXECUTE FUNCTION cl_touch_updated_at();
