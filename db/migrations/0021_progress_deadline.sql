-- 0021_progress_deadline.sql: how long a deployment's rollout may make no
-- progress before Kubernetes (and the deploy job) call it failed, the
-- Deployment's progressDeadlineSeconds.  Large enclaves start slowly: every
-- EPC page is added and measured before the app runs, so a team can allow
-- more than Kubernetes' 600 seconds.
ALTER TABLE deployments
    ADD COLUMN progress_deadline integer NOT NULL DEFAULT 600
        CHECK (progress_deadline BETWEEN 60 AND 86400);
