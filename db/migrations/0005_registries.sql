-- 0005_registries.sql: OCI registries and their credentials.  The password
-- (or token) is sealed with AES-256-GCM under the key-encryption key
-- (lib/seal.h), bound to the registry's id; it is never returned.

CREATE TABLE registries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id       uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name             text NOT NULL CHECK (name ~ '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'),
    host             text NOT NULL,
    tls              boolean NOT NULL DEFAULT true,
    username         text,
    password_sealed  text,
    last_check_job   uuid,
    version          integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, name)
);
CREATE INDEX registries_account ON registries (account_id, created_at, id);
CREATE TRIGGER registries_touch BEFORE UPDATE ON registries
    FOR EACH ROW EXECUTE FUNCTION cl_touch_updated_at();
