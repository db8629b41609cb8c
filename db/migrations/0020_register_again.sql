-- 0020_register_again.sql: a SIGSTRUCT whose registration was denied or
-- deprecated can be registered again for the app, with a corrected
-- runtime_config (an Occlum instance directory, an EDP .sgxs), and goes
-- through approval anew.  One live registration per SIGSTRUCT and app still.
DROP INDEX builds_registered;
CREATE UNIQUE INDEX builds_registered ON builds (app_id, mrenclave, mrsigner)
    WHERE origin = 'registered' AND state NOT IN ('rejected', 'deprecated');
