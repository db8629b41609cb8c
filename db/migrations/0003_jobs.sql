-- 0003_jobs.sql: the job queue and the workers that serve it.
-- How jobs are claimed, leased, retried and handed back: workers/queue.c.

CREATE TABLE jobs (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id        uuid REFERENCES accounts (id) ON DELETE CASCADE,
    kind              text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.-]{0,63}$'),
    target            text,
    params            jsonb NOT NULL DEFAULT '{}',
    state             text NOT NULL DEFAULT 'queued'
                      CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    attempts          integer NOT NULL DEFAULT 0,
    max_attempts      integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 100),
    run_after         timestamptz NOT NULL DEFAULT now(),
    lease_owner       uuid,
    lease_expires_at  timestamptz,
    cancel_requested  boolean NOT NULL DEFAULT false,
    progress          integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    phase             text,
    result            jsonb,
    error             text,
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_ready ON jobs (run_after, created_at) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_account ON jobs (account_id, created_at, id);
CREATE TRIGGER jobs_touch BEFORE UPDATE ON jobs
    FOR EACH ROW EXECUTE FUNCTION cl_touch_updated_at();

-- Each attempt, with the worker that ran it and how it ended.
CREATE TABLE job_attempts (
    job_id       uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt      integer NOT NULL,
    worker_id    uuid,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    outcome      text CHECK (outcome IN ('succeeded', 'failed', 'canceled', 'lease_expired',
                                         'handed_back')),
    error        text,
    PRIMARY KEY (job_id, attempt)
);

-- What a job reported as it ran: progress, phase changes and log lines.
CREATE TABLE job_events (
    seq       bigserial PRIMARY KEY,
    job_id    uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at        timestamptz NOT NULL DEFAULT now(),
    type      text NOT NULL CHECK (type IN ('progress', 'phase', 'log', 'state')),
    message   text,
    progress  integer
);
CREATE INDEX job_events_job ON job_events (job_id, seq);

CREATE TABLE workers (
    id            uuid PRIMARY KEY,
    name          text NOT NULL,
    hostname      text NOT NULL,
    pid           integer NOT NULL,
    kinds         text[] NOT NULL,
    slots         integer NOT NULL,
    state         text NOT NULL CHECK (state IN ('running', 'draining', 'stopped')),
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workers_heartbeat ON workers (heartbeat_at);
