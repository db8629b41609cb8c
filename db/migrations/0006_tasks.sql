-- 0006_tasks.sql: approvals.  A task asks the account's admins to approve
-- something (a build, a domain); the account's policy sets how many
-- distinct admins must approve (the quorum).  Rules: api/tasks.c.

CREATE TABLE approval_policies (
    account_id  uuid PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    quorum      integer NOT NULL DEFAULT 1 CHECK (quorum BETWEEN 1 AND 10),
    version     integer NOT NULL DEFAULT 1,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tasks (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id    uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    type          text NOT NULL CHECK (type IN ('build_approval', 'domain_approval')),
    state         text NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'approved', 'denied', 'expired')),
    target        text NOT NULL,
    details       jsonb NOT NULL DEFAULT '{}',
    requested_by  text NOT NULL,
    quorum        integer NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL DEFAULT now() + interval '7 days',
    decided_at    timestamptz
);
CREATE INDEX tasks_account ON tasks (account_id, created_at, id);
CREATE INDEX tasks_pending ON tasks (account_id, target) WHERE state = 'pending';

CREATE TABLE task_decisions (
    task_id   uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    actor     text NOT NULL,
    decision  text NOT NULL CHECK (decision IN ('approve', 'deny')),
    comment   text NOT NULL DEFAULT '',
    at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, actor)
);

-- the domains an app may use are the approved ones among allowed_domains
ALTER TABLE apps ADD COLUMN approved_domains jsonb NOT NULL DEFAULT '[]';
