--
-- wait: neon_wait() returns a job's terminal state, refuses what cannot work,
-- and raises on timeout.  The worker is paused: jobs only end when the test
-- ends them by hand, as the worker would.
--
\set SHOW_CONTEXT never
-- Job ids in this file start at 2001.
ALTER TABLE neon_platform.jobs ALTER COLUMN id RESTART WITH 2001;

-- NULL arguments.
SELECT neon_wait(NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_wait(1, NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE

-- A job that does not exist.
SELECT neon_wait(999999);
\echo sqlstate :LAST_ERROR_SQLSTATE

-- A job enqueued by the waiting transaction itself can never end while it waits.
BEGIN;
SELECT neon_provision('wait-a') AS job_a \gset
SELECT neon_wait(:job_a, '5 s');
\echo sqlstate :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT count(*) AS "wait-a" FROM neon_platform.tenants WHERE tenant = 'wait-a';

-- A queued job (the worker is paused) times out.
SELECT neon_provision('wait-a') AS job_a \gset
SELECT :job_a AS job_a;
SELECT neon_wait(:job_a, '200 ms');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- ... and so does a running one (as the worker claims it); the job itself is left alone.
UPDATE neon_platform.jobs SET state = 'running', attempts = 1, started_at = now(), updated_at = now()
 WHERE id = :job_a;
SELECT neon_wait(:job_a, '0.1 s');
SELECT state, attempts FROM neon_platform.jobs WHERE id = :job_a;
-- A zero timeout checks once.
SELECT neon_wait(:job_a, '0 s');

-- Jobs that ended (committed) return their state at once, whatever the timeout.
UPDATE neon_platform.jobs SET state = 'succeeded', step = NULL, mutation_sent_at = NULL, finished_at = now(),
                              result = '{"project_id": "proud-river-12345678"}'
 WHERE id = :job_a;
SELECT neon_wait(:job_a, '0 s');
SELECT neon_wait(:job_a);

-- A job that waits for the configuration (run_after = infinity, until the
-- next reload) is still queued: neon_wait() times out, the job is left alone.
SELECT neon_provision('wait-g') AS job_g \gset
UPDATE neon_platform.jobs
   SET run_after = 'infinity', last_error = 'neon_platform.free_org_id is not set'
 WHERE id = :job_g;
SELECT neon_wait(:job_g, '0.1 s');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT state, run_after, last_error FROM neon_platform.jobs WHERE id = :job_g;
SELECT kind, state, jobs, next_run_after FROM neon_platform.queue_summary
 WHERE state = 'queued' ORDER BY kind;

SELECT neon_provision('wait-b', 'pro') AS job_b \gset
UPDATE neon_platform.jobs SET state = 'failed', finished_at = now(), last_error = 'HTTP 422: bad request'
 WHERE id = :job_b;
SELECT neon_wait(:job_b, '10 s');

SELECT neon_provision('wait-c') AS job_c \gset
UPDATE neon_platform.jobs SET state = 'cancelled', finished_at = now() WHERE id = :job_c;
SELECT neon_wait(job => :job_c, timeout => '10 s');

-- A job this transaction itself finished is not waited for.
SELECT neon_provision('wait-d') AS job_d \gset
BEGIN;
UPDATE neon_platform.jobs SET state = 'succeeded', finished_at = now() WHERE id = :job_d;
SELECT neon_wait(:job_d, '10 s');
ROLLBACK;

-- A job another session ends while we wait: neon_wait() sees the commit.
CREATE EXTENSION dblink;
SELECT dblink_connect('finisher', 'dbname=contrib_regression');
SELECT dblink_send_query('finisher', format(
    $$UPDATE neon_platform.jobs SET state = 'succeeded', finished_at = now()
        FROM pg_sleep(0.5) WHERE id = %s$$, :job_d));
SELECT neon_wait(:job_d, '30 s');
SELECT * FROM dblink_get_result('finisher') AS r(status text);
SELECT dblink_disconnect('finisher');
DROP EXTENSION dblink;

-- Waiting needs READ COMMITTED: a snapshot would never see the job end.
SELECT neon_provision('wait-e') AS job_e \gset
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT neon_wait(:job_e, '5 s');
\echo sqlstate :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT neon_wait(:job_e, '5 s');
ROLLBACK;
-- ... but a job already ended is reported there too.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT neon_wait(:job_b, '5 s');
COMMIT;
-- In an explicit READ COMMITTED transaction it waits as usual.
BEGIN;
SELECT neon_wait(:job_e, '0.1 s');
ROLLBACK;

-- A job enqueued in a subtransaction of this transaction is not visible to
-- the worker either: refused at once, not after the timeout.
BEGIN;
SAVEPOINT s;
SELECT neon_provision('wait-f') AS job_f \gset
RELEASE s;
SELECT neon_wait(:job_f, '30 s');
\echo sqlstate :LAST_ERROR_SQLSTATE
ROLLBACK;

-- The jobs as the test left them.
SELECT id, tenant, state, last_error, result FROM neon_platform.jobs ORDER BY id;

-- Cleanup.
DELETE FROM neon_platform.jobs;
DELETE FROM neon_platform.tenants;
