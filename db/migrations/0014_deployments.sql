-- 0014_deployments.sql: approved builds running on clusters.  Rules:
-- api/deployments.c; the work: workers/deploy/deploy.c.

CREATE TABLE deployments (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id         uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- an app or cluster with live deployments is not deleted (api/apps.c,
    -- api/clusters.c say 409); deleted deployments go with them
    app_id             uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    build_id           uuid NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    previous_build_id  uuid REFERENCES builds (id) ON DELETE SET NULL,
    cluster_id         uuid NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    name               text NOT NULL CHECK (name ~ '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'),
    namespace          text NOT NULL CHECK (namespace ~ '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'),
    replicas           integer NOT NULL CHECK (replicas BETWEEN 0 AND 100),
    ports              jsonb NOT NULL DEFAULT '[]',
    state              text NOT NULL CHECK (state IN ('deploying', 'available', 'failed',
                                                      'deleting', 'deleted')),
    status             jsonb NOT NULL DEFAULT '{}',   -- the last rollout, as the worker saw it
    job_id             uuid,
    created_by         text NOT NULL,
    version            integer NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deployments_account ON deployments (account_id, created_at, id);
CREATE UNIQUE INDEX deployments_place ON deployments (cluster_id, namespace, name)
    WHERE state <> 'deleted';
