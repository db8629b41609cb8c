-- 0012_enclave_attestation.sql: what an enclave must prove to get its
-- certificate and secrets, the certificates issued, and the secrets kept.
-- Rules: api/apps.c (the fields), api/enclaves.c (attestation),
-- api/certificates.c, api/secrets.c.

ALTER TABLE apps
    ADD COLUMN attestation text NOT NULL DEFAULT 'cloister'
        CHECK (attestation IN ('cloister', 'none')),
    ADD COLUMN identity text NOT NULL DEFAULT 'mrenclave'
        CHECK (identity IN ('mrenclave', 'signer')),
    ADD COLUMN min_isvsvn integer NOT NULL DEFAULT 0 CHECK (min_isvsvn BETWEEN 0 AND 65535),
    ADD COLUMN required_node_labels jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN cert_lifetime integer NOT NULL DEFAULT 604800
        CHECK (cert_lifetime BETWEEN 3600 AND 7776000),
    ADD COLUMN secrets_env boolean NOT NULL DEFAULT false,
    ADD COLUMN cloister_dir text NOT NULL DEFAULT '/run/cloister',
    ADD COLUMN on_attestation_failure text NOT NULL DEFAULT 'retry'
        CHECK (on_attestation_failure IN ('retry', 'exit'));

-- The platform a node's evidence came from (the PPID of its PCK
-- certificate), so that an enclave elsewhere cannot borrow the node.
ALTER TABLE nodes ADD COLUMN ppid text;

-- Every certificate issued to an attested enclave, with what it was
-- issued on.
CREATE TABLE certificates (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    app_id       uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    build_id     uuid REFERENCES builds (id) ON DELETE SET NULL,
    node_id      uuid REFERENCES nodes (id) ON DELETE SET NULL,
    report_id    uuid REFERENCES attestation_reports (id) ON DELETE SET NULL,
    serial       text NOT NULL CHECK (serial ~ '^[0-9a-f]{1,40}$'),
    names        jsonb NOT NULL DEFAULT '[]',
    cert_pem     text NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    revoke_reason text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX certificates_account ON certificates (account_id, created_at, id);
CREATE INDEX certificates_build ON certificates (build_id) WHERE revoked_at IS NULL;

-- An app's secrets: every version kept, sealed under the KEK; the newest
-- version of a name not deleted is the one released.
CREATE TABLE app_secrets (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id    uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    app_id        uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,127}$'),
    version       integer NOT NULL CHECK (version >= 1),
    kind          text NOT NULL CHECK (kind IN ('value', 'random', 'certificate', 'exported')),
    value_sealed  text,                     -- NULL: this version deletes the name
    source        text,                     -- exported: "app:<id>/<name>@<version>"
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (app_id, name, version)
);
