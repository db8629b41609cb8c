-- 0010_nodes.sql: what confidential compute nodes join with, and the
-- account CA that certifies them.  Rules: api/node_tokens.c, api/pki.c.

-- A join token is shown once; the table keeps its SHA-256 and a prefix to
-- recognise it by.  It admits at most max_uses nodes before expires_at.
CREATE TABLE node_tokens (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix       text NOT NULL,
    secret_hash  bytea NOT NULL UNIQUE,
    max_uses     integer NOT NULL CHECK (max_uses BETWEEN 1 AND 10000),
    uses         integer NOT NULL DEFAULT 0 CHECK (uses >= 0),
    labels       jsonb NOT NULL DEFAULT '{}',
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX node_tokens_account ON node_tokens (account_id, created_at, id);

-- Each account's certificate authority: an EC P-256 key sealed at rest.
CREATE TABLE account_cas (
    account_id   uuid PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    key_sealed   text NOT NULL,
    cert_pem     text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Certificates the account's CA revoked, for its CRL.
CREATE TABLE revoked_certificates (
    account_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    serial       text NOT NULL CHECK (serial ~ '^[0-9a-f]{1,40}$'),
    reason       text NOT NULL DEFAULT '',
    revoked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, serial)
);
