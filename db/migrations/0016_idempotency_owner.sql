-- 0016_idempotency_owner.sql: who serves a reserved Idempotency-Key, and
-- whether its change has committed, so that a retry through another
-- replica after the first one died neither waits forever nor does the work
-- twice.  Rules: daemon/idempotency.c.

ALTER TABLE idempotency_keys
    ADD COLUMN owner_pid    integer,        -- the serving connection's backend
    ADD COLUMN owner_start  timestamptz,    -- and when it started (pids recur)
    ADD COLUMN committed    boolean NOT NULL DEFAULT false;  -- set with the change
