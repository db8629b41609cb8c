-- 0011_node_enrollment.sql: the nodes that enrolled with a join token and
-- attested, and what happened to each.  Rules: api/nodes.c.

CREATE TABLE nodes (
    id                uuid PRIMARY KEY,
    account_id        uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 253),
    state             text NOT NULL CHECK (state IN ('pending_approval', 'active',
                          'unreachable', 'attestation_failed', 'revoked', 'deactivated')),
    join_token_id     uuid REFERENCES node_tokens (id) ON DELETE SET NULL,
    labels            jsonb NOT NULL DEFAULT '{}',
    facts             jsonb NOT NULL DEFAULT '{}',
    agent_version     text NOT NULL DEFAULT '',
    public_key        text NOT NULL,              -- DER SubjectPublicKeyInfo, base64
    cert_serial       text NOT NULL,
    cert_pem          text NOT NULL,
    cert_expires_at   timestamptz NOT NULL,
    mrenclave         text,
    mrsigner          text,
    tcb_status        text,
    simulated         boolean NOT NULL DEFAULT false,
    attestation_count integer NOT NULL DEFAULT 1,
    last_report_id    uuid REFERENCES attestation_reports (id) ON DELETE SET NULL,
    last_attested_at  timestamptz NOT NULL DEFAULT now(),
    last_seen_at      timestamptz NOT NULL DEFAULT now(),
    version           integer NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX nodes_account ON nodes (account_id, created_at, id);

-- Every transition of a node, and its enrollment.
CREATE TABLE node_events (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    node_id     uuid NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    event       text NOT NULL,
    from_state  text,
    to_state    text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}',
    actor       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX node_events_node ON node_events (node_id, created_at, id);

-- How an account's nodes are kept: re-attestation and heartbeat timing.
CREATE TABLE node_policies (
    account_id          uuid PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    reattest_interval   integer NOT NULL CHECK (reattest_interval BETWEEN 60 AND 2592000),
    heartbeat_interval  integer NOT NULL CHECK (heartbeat_interval BETWEEN 5 AND 3600),
    heartbeat_timeout   integer NOT NULL CHECK (heartbeat_timeout BETWEEN 15 AND 86400),
    require_approval    boolean NOT NULL DEFAULT false,  -- a node_approval task first
    agent_mrenclaves    jsonb NOT NULL DEFAULT '[]',     -- the agent enclaves nodes may run
    agent_mrsigners     jsonb NOT NULL DEFAULT '[]',     -- (empty: any)
    version             integer NOT NULL DEFAULT 1,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (heartbeat_timeout >= 2 * heartbeat_interval)
);

-- A node's reports are found by their subject, "node:<id>".
CREATE INDEX attestation_reports_subject ON attestation_reports (account_id, subject);

-- A node can wait for its account's admins to approve it.
ALTER TABLE tasks DROP CONSTRAINT tasks_type_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_type_check
    CHECK (type IN ('build_approval', 'domain_approval', 'node_approval'));
