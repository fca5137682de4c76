-- 0013 jobs: work that runs at a time, not on a request (issue 9, item 5; docs/architecture.md,
-- "Jobs"). Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`.
--
--   jobs.schedules  periodic work: a kind, an interval or a calendar rule, the next occurrence
--   jobs.jobs       one row per piece of work: kind, due time, payload, attempts, state
--                   due -> running -> done, or back to due (retry with backoff), or dead
--   jobs.runs       one row per claim (attempt): which worker, when, how it ended
--
-- The scheduler inside `tianxingd serve` (src/jobs/) claims due jobs with FOR UPDATE SKIP LOCKED
-- in a short transaction, so N instances against one database run each job once. It connects as
-- tianxing_app with the claim roles = 'system' (no employee can hold that role: org.employees'
-- CHECK, and tokens only keep the roles an employee holds). Every change goes through the
-- SECURITY DEFINER functions of sql/code/jobs, which check that claim; tianxing_app may only read
-- the tables (admins through GET /v1/jobs).
--
-- This file is the schema (tables, indexes, grants), the audit triggers, the owner's write
-- policies and the housekeeping schedules (rows). The functions, the read policies and the API
-- functions are in sql/code/jobs/ (applied after all migrations); the housekeeping kinds' SQL
-- sits with the data it removes (sql/code/kit/040_idempotency.sql, sql/code/org/020_auth.sql).

CREATE SCHEMA jobs;
REVOKE ALL ON SCHEMA jobs FROM PUBLIC;
GRANT USAGE ON SCHEMA jobs TO tianxing_app;

-- Periodic work. Exactly one of `every` (a fixed interval from `anchor`: occurrences are
-- anchor + k * every, the same instants whichever instance computes them) and `calendar`
-- (a wall-clock rule in time_zone):
--   daily HH:MM | weekly mon..sun HH:MM | monthly 1..31 HH:MM | monthly last HH:MM
-- (a day past the month's end means its last day). next_due_at is the next occurrence not yet
-- turned into a job; the claim that turns it into one advances it in the same transaction.
CREATE TABLE jobs.schedules (
  name          text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]*([.-][a-z0-9_]+)*$' AND length(name) <= 100),
  kind          text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$' AND length(kind) <= 100),
  payload       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
  every         interval CHECK (every >= interval '1 second'
                                AND date_part('month', every) = 0 AND date_part('year', every) = 0),
  calendar      text CHECK (calendar ~ ('^(daily|weekly (mon|tue|wed|thu|fri|sat|sun)'
                                        '|monthly ([1-9]|[12][0-9]|3[01]|last)) ([01][0-9]|2[0-3]):[0-5][0-9]$')),
  time_zone     text NOT NULL DEFAULT 'UTC',
  anchor        timestamptz NOT NULL DEFAULT date_trunc('day', now()),
  max_attempts  int CHECK (max_attempts BETWEEN 1 AND 100),
  enabled       boolean NOT NULL DEFAULT true,
  next_due_at   timestamptz NOT NULL,
  last_enqueued_at timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((every IS NULL) <> (calendar IS NULL))
);
CREATE INDEX schedules_due_idx ON jobs.schedules (next_due_at) WHERE enabled;

CREATE TABLE jobs.jobs (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq           bigint GENERATED ALWAYS AS IDENTITY UNIQUE, -- creation order: the list's keyset
  kind          text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$' AND length(kind) <= 100),
  payload       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
  state         text NOT NULL DEFAULT 'due' CHECK (state IN ('due', 'running', 'done', 'dead')),
  due_at        timestamptz NOT NULL DEFAULT now(),
  attempts      int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  max_attempts  int CHECK (max_attempts BETWEEN 1 AND 100), -- NULL: the kind's default
  last_error    text CHECK (length(last_error) <= 2000),
  schedule_name text REFERENCES jobs.schedules (name) ON DELETE SET NULL,
  scheduled_for timestamptz,  -- the occurrence of schedule_name this job is
  dedupe_key    text CHECK (length(dedupe_key) BETWEEN 1 AND 200),
  run_id        bigint,       -- the current (running) or last claim: the fencing token
  locked_by     text,
  lease_until   timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  started_at    timestamptz,
  finished_at   timestamptz,
  -- A periodic occurrence exists once, whoever materializes it.
  UNIQUE (schedule_name, scheduled_for),
  -- One-off work enqueued twice with the same key (e.g. one deadline per case) is one job.
  UNIQUE (kind, dedupe_key),
  CHECK ((schedule_name IS NULL) OR (scheduled_for IS NOT NULL)),
  CHECK ((state = 'running') = (lease_until IS NOT NULL AND locked_by IS NOT NULL))
);
CREATE INDEX jobs_due_idx ON jobs.jobs (due_at) WHERE state = 'due';
CREATE INDEX jobs_lease_idx ON jobs.jobs (lease_until) WHERE state = 'running';
CREATE INDEX jobs_dead_idx ON jobs.jobs (seq) WHERE state = 'dead';
CREATE INDEX jobs_done_idx ON jobs.jobs (finished_at) WHERE state = 'done';
CREATE INDEX jobs_kind_idx ON jobs.jobs (kind, seq);

CREATE TABLE jobs.runs (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id      uuid NOT NULL REFERENCES jobs.jobs (id) ON DELETE CASCADE,
  attempt     int NOT NULL CHECK (attempt >= 1),
  worker      text NOT NULL CHECK (length(worker) BETWEEN 1 AND 200),
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  outcome     text NOT NULL DEFAULT 'running'
              CHECK (outcome IN ('running', 'done', 'failed', 'lost', 'released')),
  error       text CHECK (length(error) <= 2000),
  CHECK ((outcome = 'running') = (finished_at IS NULL))
);
CREATE INDEX runs_job_idx ON jobs.runs (job_id, id);

ALTER TABLE jobs.schedules ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs.schedules FORCE ROW LEVEL SECURITY;
ALTER TABLE jobs.jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs.jobs FORCE ROW LEVEL SECURITY;
ALTER TABLE jobs.runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs.runs FORCE ROW LEVEL SECURITY;

REVOKE ALL ON ALL TABLES IN SCHEMA jobs FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA jobs FROM PUBLIC;
GRANT SELECT ON jobs.schedules, jobs.jobs, jobs.runs TO tianxing_app;

-- Every write to the three tables is in the audit trail, with the job as the request id
-- ("job:<id>") and the role "system" as the actor.
SELECT audit.attach('jobs.schedules');
SELECT audit.attach('jobs.jobs');
SELECT audit.attach('jobs.runs');

-- The SECURITY DEFINER functions of sql/code/jobs (owner) do every write. These policies live
-- here, not in sql/code (applied after all migrations), because this migration and later ones
-- write schedules and jobs as the owner under forced row-level security. The runtime role's read
-- policies are in sql/code/jobs/010_queue.sql.
CREATE POLICY schedules_definer ON jobs.schedules FOR ALL TO tianxing_owner USING (true) WITH CHECK (true);
CREATE POLICY jobs_definer ON jobs.jobs FOR ALL TO tianxing_owner USING (true) WITH CHECK (true);
CREATE POLICY runs_definer ON jobs.runs FOR ALL TO tianxing_owner USING (true) WITH CHECK (true);

-- The housekeeping schedules (their kinds are registered by src/modules/jobs), as rows: the
-- schedule functions are code, applied after the migrations. next_due_at is the first occurrence
-- after now, as jobs.schedule_set computes it: for an interval, anchor + k * every with the
-- anchor at the start of the day; for the calendar rule, the next 03:30 in Taipei. An operator
-- changes them later with jobs.schedule_set.
INSERT INTO jobs.schedules (name, kind, every, anchor, next_due_at)
SELECT s.name, s.name, interval '1 hour', a.anchor,
       a.anchor + interval '1 hour' * (floor(extract(epoch FROM now() - a.anchor) / 3600) + 1)
  FROM (VALUES ('idempotency.purge'), ('auth.refresh_tokens.purge')) AS s (name),
       (SELECT date_trunc('day', now()) AS anchor) a;
INSERT INTO jobs.schedules (name, kind, calendar, time_zone, anchor, next_due_at)
SELECT 'jobs.purge', 'jobs.purge', 'daily 03:30', 'Asia/Taipei', date_trunc('day', now()),
       (CASE WHEN c.at > c.local THEN c.at ELSE c.at + interval '1 day' END) AT TIME ZONE 'Asia/Taipei'
  FROM (SELECT now() AT TIME ZONE 'Asia/Taipei' AS local,
               (now() AT TIME ZONE 'Asia/Taipei')::date + time '03:30' AS at) c;
