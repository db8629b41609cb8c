-- 0009_attestation.sql: what SGX attestation needs and leaves behind.
-- Rules: api/attestation.c and api/collateral.c.

-- Intel's collateral, public and shared by every account: imported by an
-- instance administrator (air-gapped installs) or fetched from the PCS.
CREATE TABLE collateral (
    kind          text NOT NULL
                  CHECK (kind IN ('tcb_info', 'qe_identity', 'pck_crl', 'root_ca_crl')),
    key           text NOT NULL,   -- tcb_info: the FMSPC (lower-case hex);
                                   -- pck_crl: 'processor' or 'platform'; else ''
    body          bytea NOT NULL,  -- as served: JSON text, or a DER CRL
    issuer_chain  text NOT NULL DEFAULT '',
    issue_date    timestamptz NOT NULL,
    next_update   timestamptz NOT NULL,
    version       text NOT NULL DEFAULT '',   -- TCB Info / QE identity version; CRL number
    source        text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, key)
);

CREATE TABLE attestation_policies (
    account_id           uuid PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    accepted_statuses    jsonb NOT NULL DEFAULT '["UpToDate", "SWHardeningNeeded"]',
    accepted_advisories  jsonb NOT NULL DEFAULT '[]',
    allow_debug          boolean NOT NULL DEFAULT false,
    min_isvsvn           integer NOT NULL DEFAULT 0 CHECK (min_isvsvn BETWEEN 0 AND 65535),
    version              integer NOT NULL DEFAULT 1,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- Single-use nonces that bind evidence to a moment (API.md).
CREATE TABLE attestation_nonces (
    nonce       text PRIMARY KEY,          -- base64 of 32 random bytes
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX attestation_nonces_expiry ON attestation_nonces (expires_at);

-- Every judgement of evidence, kept.
CREATE TABLE attestation_reports (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id     uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    subject        text NOT NULL,          -- 'evidence' (asked to judge), 'node:<id>', 'app:<id>'
    evidence_kind  text NOT NULL CHECK (evidence_kind IN ('sgx_dcap', 'maa')),
    evidence       bytea NOT NULL,
    mrenclave      text,
    mrsigner       text,
    isvprodid      integer,
    isvsvn         integer,
    debug          boolean,
    report_data    text,
    fmspc          text,
    tcb_status     text,
    advisory_ids   jsonb NOT NULL DEFAULT '[]',
    authentic      boolean NOT NULL,
    simulated      boolean NOT NULL DEFAULT false,
    verdict        text NOT NULL CHECK (verdict IN ('accepted', 'refused')),
    reasons        jsonb NOT NULL DEFAULT '[]',
    details        jsonb NOT NULL,          -- the whole verdict: checks, quote, PCK, collateral
    verified_at    timestamptz NOT NULL,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attestation_reports_account ON attestation_reports (account_id, created_at, id);
