-- Jobs (0013_jobs.sql, docs/architecture.md "Jobs"): who may touch the queue, the claim (order,
-- kinds, leases), finish / fail with backoff / dead, release, the housekeeping kinds, and the
-- admin list. Time does not pass inside one transaction: a lease of 0 seconds and a backoff of 0
-- stand for "the lease ran out" and "the backoff is over". Two sessions racing for one job
-- (SKIP LOCKED) and periodic schedules: tests/api/jobs.test.mjs.
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(70);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

CREATE FUNCTION pg_temp.as_system() RETURNS void LANGUAGE sql AS $$
  SELECT set_config('tx.user_id', '', true), set_config('tx.roles', 'system', true),
         set_config('tx.department_id', '', true), set_config('tx.request_id', 'jobs:test', true) $$;
CREATE FUNCTION pg_temp.as_user(id text, roles text) RETURNS void LANGUAGE sql AS $$
  SELECT set_config('tx.user_id', id, true), set_config('tx.roles', roles, true),
         set_config('tx.department_id', '', true), set_config('tx.request_id', 'req-jobs', true) $$;
-- The kinds the "instance" of this test can run, with their settings.
CREATE FUNCTION pg_temp.kinds(lease int DEFAULT 300, backoff int DEFAULT 10, max_attempts int DEFAULT 3)
  RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('t.work', jsonb_build_object('lease_s', lease, 'backoff_s', backoff,
                                                         'backoff_max_s', 3600, 'max_attempts', max_attempts)) $$;
CREATE FUNCTION pg_temp.job(p_id uuid) RETURNS jobs.jobs LANGUAGE sql AS $$
  SELECT * FROM jobs.jobs WHERE id = p_id $$;
\ir lib/session.psql
CREATE TEMP TABLE claimed (name text PRIMARY KEY, job_id uuid, attempt int, run_id bigint);
CREATE FUNCTION pg_temp.run(p text) RETURNS bigint LANGUAGE sql AS $$ SELECT run_id FROM claimed WHERE name = p $$;
-- Claims one job as worker w into claimed(name); returns the job id (NULL when nothing was due).
CREATE FUNCTION pg_temp.claim(p_name text, p_kinds jsonb, p_worker text DEFAULT 'w1') RETURNS uuid
  LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  SELECT * INTO r FROM jobs.claim(p_worker, p_kinds);
  IF r.job_id IS NOT NULL THEN
    INSERT INTO claimed VALUES (p_name, r.job_id, r.attempt, r.run_id)
      ON CONFLICT (name) DO UPDATE SET job_id = EXCLUDED.job_id, attempt = EXCLUDED.attempt,
                                       run_id = EXCLUDED.run_id;
  END IF;
  RETURN r.job_id;
END $$;

-- Who may touch the queue ----------------------------------------------------------------------
SELECT throws_ok($$ INSERT INTO jobs.jobs (kind) VALUES ('t.work') $$, '42501', NULL,
  'the runtime role cannot insert jobs directly');
SELECT throws_ok($$ UPDATE jobs.jobs SET state = 'done' $$, '42501', NULL,
  'nor update them');
SELECT throws_ok($$ DELETE FROM jobs.runs $$, '42501', NULL, 'nor delete runs');
SELECT throws_ok($$ SELECT jobs.schedule_set('x', 't.work', interval '1 hour') $$, '42501', NULL,
  'schedules are set by the owner (migrations), not by the runtime role');
SELECT throws_ok($$ SELECT jobs.retry(gen_random_uuid()) $$, '42501', NULL,
  'retrying a dead job is for operators (owner connection)');
SELECT pg_temp.anon();
SELECT throws_ok($$ SELECT * FROM jobs.claim('w1', '{"t.work": {}}') $$, '42501', NULL,
  'claiming needs the claim role system');
SELECT pg_temp.as_user('20000000-0000-4000-8000-000000000001', 'admin');
SELECT throws_ok($$ SELECT * FROM jobs.claim('w1', '{"t.work": {}}') $$, '42501', NULL,
  '... which an administrator does not have');
SELECT is_empty($$ SELECT * FROM jobs.stats() $$, 'job statistics are for the scheduler only');

-- Enqueueing (module SQL, any caller) ---------------------------------------------------------
SELECT pg_temp.as_user('20000000-0000-4000-8000-000000000007', 'staff');
INSERT INTO ids VALUES
  ('old',    jobs.enqueue('t.work', now() - interval '1 hour', '{"n": 1}')),
  ('new',    jobs.enqueue('t.work', now() - interval '1 minute', '{"n": 2}')),
  ('later',  jobs.enqueue('t.work', now() + interval '1 hour')),
  ('other',  jobs.enqueue('t.other', now() - interval '2 hours')),
  ('keyed',  jobs.enqueue('t.keyed', now() + interval '1 day', '{}', NULL, 'case-42'));
SELECT is(jobs.enqueue('t.keyed', now(), '{"again": true}', NULL, 'case-42'), pg_temp.id('keyed'),
  'enqueue with a dedupe key returns the existing job');
SELECT is_empty($$ SELECT FROM jobs.jobs $$, 'a staff member sees no jobs (row-level security)');
SELECT throws_ok($$ SELECT jobs.enqueue('Not A Kind') $$, '23514', NULL, 'a malformed kind is refused');
SELECT throws_ok($$ SELECT jobs.enqueue('t.work', now(), '[1]') $$, '23514', NULL, 'a payload must be an object');
SELECT ok(jobs.cancel('t.keyed', 'case-42'), 'cancel withdraws due one-off work by its key');
SELECT ok(NOT jobs.cancel('t.keyed', 'case-42'), '... once');

-- Claiming -------------------------------------------------------------------------------------
SELECT pg_temp.as_system();
SELECT is(pg_temp.claim('c-old', pg_temp.kinds()), pg_temp.id('old'), 'the job due longest comes first');
SELECT is(pg_temp.claim('c-new', pg_temp.kinds()), pg_temp.id('new'), 'then the next');
SELECT is(pg_temp.claim('c-none', pg_temp.kinds()), NULL, 'nothing else is due: future jobs and other kinds wait');
SELECT is((pg_temp.job(pg_temp.id('other'))).state, 'due', 'a kind this instance cannot run is left for another');
SELECT results_eq($$ SELECT state, attempts, locked_by, lease_until, run_id, started_at
                       FROM jobs.jobs WHERE id = pg_temp.id('old') $$,
  $$ SELECT 'running'::text, 1, 'w1'::text, now() + interval '300 seconds', pg_temp.run('c-old'), now() $$,
  'a claimed job is running, attempt 1, leased to its worker for the kind''s lease');
SELECT results_eq($$ SELECT job_id, attempt, worker, outcome, finished_at FROM jobs.runs WHERE id = pg_temp.run('c-old') $$,
  $$ SELECT pg_temp.id('old'), 1, 'w1'::text, 'running'::text, NULL::timestamptz $$,
  'the claim is recorded as a run');
SELECT throws_ok($$ SELECT * FROM jobs.claim('', '{}') $$, '22023', NULL, 'a worker name is required');
SELECT throws_ok($$ SELECT * FROM jobs.claim('w1', '[]') $$, '22023', NULL, 'kinds are an object');

-- Finishing ------------------------------------------------------------------------------------
SELECT throws_ok(format('SELECT jobs.begin_run(%L, %s)', pg_temp.id('old'), pg_temp.run('c-old') + 1000),
  'TXLSE', NULL, 'begin_run refuses a run that does not hold the claim');
SELECT lives_ok(format('SELECT jobs.begin_run(%L, %s)', pg_temp.id('old'), pg_temp.run('c-old')),
  'begin_run accepts the claim''s run');
SELECT is(tx.request_id(), 'job:' || pg_temp.id('old'), '... and names the job in the claims (audit trail)');
SELECT lives_ok(format('SELECT jobs.finish(%L, %s)', pg_temp.id('old'), pg_temp.run('c-old')), 'finish');
SELECT results_eq($$ SELECT state, finished_at, locked_by, lease_until FROM jobs.jobs WHERE id = pg_temp.id('old') $$,
  $$ SELECT 'done'::text, now(), NULL::text, NULL::timestamptz $$, 'a finished job is done and unleased');
SELECT is((SELECT outcome FROM jobs.runs WHERE id = pg_temp.run('c-old')), 'done', 'its run is done');
SELECT throws_ok(format('SELECT jobs.finish(%L, %s)', pg_temp.id('old'), pg_temp.run('c-old')),
  'TXLSE', NULL, 'finishing twice is refused (it would roll the second run''s work back)');

-- Failing: backoff, then dead -----------------------------------------------------------------
SELECT is(jobs.fail(pg_temp.id('new'), pg_temp.run('c-new'), 'boom', pg_temp.kinds(backoff => 10)), 'due',
  'a failed attempt with attempts left is due again');
SELECT ok((SELECT due_at BETWEEN now() + interval '10 seconds' AND now() + interval '12.5 seconds'
             FROM jobs.jobs WHERE id = pg_temp.id('new')),
  'after backoff_s * 2^0 (plus at most a quarter of jitter)');
SELECT results_eq($$ SELECT last_error, attempts, locked_by FROM jobs.jobs WHERE id = pg_temp.id('new') $$,
  $$ VALUES ('boom'::text, 1, NULL::text) $$, 'the error is kept, the attempt counted, the claim gone');
SELECT results_eq($$ SELECT outcome, error FROM jobs.runs WHERE id = pg_temp.run('c-new') $$,
  $$ VALUES ('failed'::text, 'boom'::text) $$, 'the run failed with the error');
SELECT is(pg_temp.claim('c-none', pg_temp.kinds()), NULL, 'a job in backoff is not claimed');
SELECT is(jobs.fail(pg_temp.id('new'), pg_temp.run('c-new'), 'again', pg_temp.kinds()), NULL,
  'failing a run that no longer holds the claim changes nothing');

INSERT INTO ids VALUES ('twice', jobs.enqueue('t.work', now() - interval '1 second'));
SELECT is(pg_temp.claim('c-twice', pg_temp.kinds(backoff => 0, max_attempts => 2)), pg_temp.id('twice'), 'claim (1)');
SELECT is(jobs.fail(pg_temp.id('twice'), pg_temp.run('c-twice'), 'e1', pg_temp.kinds(backoff => 0, max_attempts => 2)),
  'due', 'first failure of two allowed: due');
SELECT is(pg_temp.claim('c-twice', pg_temp.kinds(backoff => 0, max_attempts => 2)), pg_temp.id('twice'),
  'claim (2): the backoff of 0 s is over');
SELECT is((SELECT attempt FROM claimed WHERE name = 'c-twice'), 2, 'attempt 2');
SELECT is(jobs.fail(pg_temp.id('twice'), pg_temp.run('c-twice'), 'e2', pg_temp.kinds(backoff => 0, max_attempts => 2)),
  'dead', 'the kind''s max_attempts reached: dead');
SELECT results_eq($$ SELECT state, finished_at, last_error FROM jobs.jobs WHERE id = pg_temp.id('twice') $$,
  $$ SELECT 'dead'::text, now(), 'e2'::text $$, 'a dead job keeps its last error');
SELECT is(pg_temp.claim('c-none', pg_temp.kinds(backoff => 0, max_attempts => 2)), NULL, 'a dead job is never claimed');

INSERT INTO ids VALUES ('once', jobs.enqueue('t.work', now() - interval '1 second', '{}', 1));
SELECT is(pg_temp.claim('c-once', pg_temp.kinds(backoff => 0)), pg_temp.id('once'), 'claim a job with max_attempts 1');
SELECT is(jobs.fail(pg_temp.id('once'), pg_temp.run('c-once'), 'no', pg_temp.kinds(backoff => 0)), 'dead',
  'the job''s own max_attempts wins over the kind''s');

-- Leases -----------------------------------------------------------------------------------
INSERT INTO ids VALUES ('leased', jobs.enqueue('t.work', now() - interval '1 second'));
SELECT is(pg_temp.claim('c-leased', pg_temp.kinds(lease => 0, max_attempts => 2), 'w-dies'), pg_temp.id('leased'),
  'claim with a lease that runs out at once');
SELECT is(pg_temp.claim('c-leased2', pg_temp.kinds(lease => 0, max_attempts => 2), 'w2'), pg_temp.id('leased'),
  'a job whose lease ran out is reclaimed by another worker');
SELECT results_eq($$ SELECT attempt, worker FROM jobs.runs WHERE job_id = pg_temp.id('leased') ORDER BY id $$,
  $$ VALUES (1, 'w-dies'::text), (2, 'w2'::text) $$, 'as attempt 2');
SELECT is((SELECT outcome FROM jobs.runs WHERE id = pg_temp.run('c-leased')), 'lost', 'the first run is lost');
SELECT throws_ok(format('SELECT jobs.finish(%L, %s)', pg_temp.id('leased'), pg_temp.run('c-leased')),
  'TXLSE', NULL, 'the dead worker''s run can no longer finish (fencing by run)');
SELECT is(pg_temp.claim('c-none', pg_temp.kinds(lease => 0, max_attempts => 2)), NULL,
  'when the lease runs out on the last attempt, the job is not claimed again ...');
SELECT results_eq($$ SELECT state, locked_by FROM jobs.jobs WHERE id = pg_temp.id('leased') $$,
  $$ VALUES ('dead'::text, NULL::text) $$, '... it is dead');

-- Release at shutdown -------------------------------------------------------------------------
INSERT INTO ids VALUES ('released', jobs.enqueue('t.work', now() - interval '1 second'));
SELECT is(pg_temp.claim('c-rel', pg_temp.kinds()), pg_temp.id('released'), 'claim');
SELECT ok(jobs.release(pg_temp.id('released'), pg_temp.run('c-rel')), 'release');
SELECT results_eq($$ SELECT state, attempts, locked_by FROM jobs.jobs WHERE id = pg_temp.id('released') $$,
  $$ VALUES ('due'::text, 0, NULL::text) $$, 'a released job is due at once and the attempt does not count');
SELECT is((SELECT outcome FROM jobs.runs WHERE id = pg_temp.run('c-rel')), 'released', 'its run says released');

-- Housekeeping kinds ---------------------------------------------------------------------------
SELECT pg_temp.as_user('20000000-0000-4000-8000-000000000007', 'staff');
INSERT INTO tx_meta.idempotency (employee_id, key, route, request_hash, status, created_at) VALUES
  ('20000000-0000-4000-8000-000000000007', 'k-old', 'POST /v1/x', repeat('a', 64), 201, now() - interval '25 hours'),
  ('20000000-0000-4000-8000-000000000007', 'k-new', 'POST /v1/x', repeat('b', 64), 201, now() - interval '23 hours');
SELECT throws_ok($$ SELECT jobs.idempotency_purge('{}') $$, '42501', NULL, 'purging needs the scheduler');
SELECT pg_temp.as_system();
SELECT is(jobs.idempotency_purge('{}'), 1, 'idempotency.purge deletes the record older than 24 hours');
SELECT pg_temp.as_user('20000000-0000-4000-8000-000000000007', 'staff');
SELECT is(ARRAY(SELECT key FROM tx_meta.idempotency ORDER BY key), ARRAY['k-new'], '... and keeps the live one');
SELECT pg_temp.as_system();
SELECT is(auth.refresh_tokens_purge('{}'), 1,
  'auth.refresh_tokens.purge deletes the family expired in 2020 and keeps the live one');
SELECT is(auth.refresh_tokens_purge('{}'), 0, '... once');

-- The admin list -------------------------------------------------------------------------------
SELECT pg_temp.as_user('20000000-0000-4000-8000-000000000007', 'staff');
SELECT throws_ok($$ SELECT api.job_list(NULL, NULL, NULL, NULL) $$, '42501', NULL, 'staff may not list jobs');
SELECT pg_temp.as_user('20000000-0000-4000-8000-000000000001', 'admin');
SELECT is((SELECT json_array_length(api.job_list('dead', 't.work', NULL, NULL) -> 'items')), 3,
  'admin lists the dead jobs of a kind');
SELECT is((api.job_list(NULL, 't.work', 2, NULL) ->> 'next_cursor') IS NOT NULL, true, 'a full page has a cursor');
SELECT is((SELECT array_agg(x ->> 'id' ORDER BY o)
             FROM json_array_elements(api.job_list(NULL, 't.work', 2, api.job_list(NULL, 't.work', 2, NULL) ->> 'next_cursor') -> 'items')
                  WITH ORDINALITY AS a(x, o)),
          (SELECT array_agg(id::text ORDER BY seq DESC) FROM (SELECT id, seq FROM jobs.jobs WHERE kind = 't.work'
                                                              ORDER BY seq DESC OFFSET 2 LIMIT 2) s),
  'the next page continues after the cursor, newest first');
SELECT throws_ok($$ SELECT api.job_list('lost', NULL, NULL, NULL) $$, 'TXVAL', 'state: must be one of due, running, done, dead',
  'an unknown state names the parameter');
SELECT throws_ok($$ SELECT api.job_list(NULL, NULL, NULL, 'abc') $$, 'TXVAL', 'cursor: is not a cursor of this list',
  'a malformed cursor names the parameter');
SELECT is((SELECT json_array_length(api.job_get(pg_temp.id('leased')) -> 'runs')), 2, 'a job comes with its runs');
SELECT ok(api.job_get(gen_random_uuid()) IS NULL, 'an unknown job is NULL (404)');
SELECT pg_temp.as_user('20000000-0000-4000-8000-000000000004', 'auditor');
SELECT ok((SELECT count(*) > 0 FROM audit.log WHERE table_name = 'jobs.jobs' AND actor_roles = '{system}'
             AND request_id = 'job:' || pg_temp.id('old')),
  'the scheduler''s writes are in the audit trail as the role system, under the job''s id');

SELECT * FROM finish();
ROLLBACK;
