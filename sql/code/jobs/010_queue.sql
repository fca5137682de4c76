-- sql/code/jobs/010_queue.sql: the queue: schedules, enqueue and cancel, claims, runs, backoff,
-- leases, stats, and the kind jobs.purge.
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md). The tables are sql/migrations/0013_jobs.sql.

-- Row-level security: the runtime role reads, the scheduler (claim 'system') and administrators
-- (GET /v1/jobs). The owner's write policies are in the migration (0013).
DROP POLICY IF EXISTS schedules_read ON jobs.schedules;
CREATE POLICY schedules_read ON jobs.schedules FOR SELECT TO tianxing_app
  USING ((SELECT tx.has_role('admin')) OR (SELECT tx.has_role('system')));
DROP POLICY IF EXISTS jobs_read ON jobs.jobs;
CREATE POLICY jobs_read ON jobs.jobs FOR SELECT TO tianxing_app
  USING ((SELECT tx.has_role('admin')) OR (SELECT tx.has_role('system')));
DROP POLICY IF EXISTS runs_read ON jobs.runs;
CREATE POLICY runs_read ON jobs.runs FOR SELECT TO tianxing_app
  USING ((SELECT tx.has_role('admin')) OR (SELECT tx.has_role('system')));

-- 42501 unless the transaction acts as the scheduler.
CREATE OR REPLACE FUNCTION jobs.require_system() RETURNS void
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF NOT tx.has_role('system') THEN
    RAISE EXCEPTION 'only the job scheduler (claim role system) may do this' USING ERRCODE = '42501';
  END IF;
END
$$;

-- The first occurrence strictly after p_after of an interval (anchored) or calendar rule.
CREATE OR REPLACE FUNCTION jobs.next_occurrence(p_every interval, p_calendar text, p_time_zone text,
                                                p_anchor timestamptz, p_after timestamptz)
  RETURNS timestamptz
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_parts text[];
  v_local timestamp;
  v_time interval;
  v_day date;
  v_cand timestamp;
  v_dom int;
  v_n numeric;
BEGIN
  IF p_every IS NOT NULL THEN
    IF p_after < p_anchor THEN
      RETURN p_anchor;
    END IF;
    v_n := floor(extract(epoch FROM p_after - p_anchor) / extract(epoch FROM p_every)) + 1;
    RETURN p_anchor + p_every * v_n;
  END IF;
  v_parts := string_to_array(p_calendar, ' ');
  v_local := p_after AT TIME ZONE p_time_zone;
  v_time := v_parts[array_length(v_parts, 1)]::time - time '00:00';
  v_day := v_local::date;
  CASE v_parts[1]
  WHEN 'daily' THEN
    v_cand := v_day + v_time;
    IF v_cand <= v_local THEN v_cand := v_cand + interval '1 day'; END IF;
  WHEN 'weekly' THEN
    v_dom := array_position(ARRAY['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], v_parts[2]);
    v_cand := v_day + ((v_dom - extract(isodow FROM v_day)::int + 7) % 7) + v_time;
    IF v_cand <= v_local THEN v_cand := v_cand + interval '7 days'; END IF;
  WHEN 'monthly' THEN
    FOR i IN 0..1 LOOP
      v_day := (date_trunc('month', v_local) + make_interval(months => i))::date;
      v_dom := CASE WHEN v_parts[2] = 'last' THEN 31 ELSE v_parts[2]::int END;
      v_dom := least(v_dom, extract(day FROM (v_day + interval '1 month' - interval '1 day'))::int);
      v_cand := v_day + (v_dom - 1) + v_time;
      EXIT WHEN v_cand > v_local;
    END LOOP;
  ELSE
    RAISE EXCEPTION 'unknown calendar rule %', p_calendar USING ERRCODE = '22023';
  END CASE;
  RETURN v_cand AT TIME ZONE p_time_zone;
END
$$;

-- Creates or changes a periodic schedule (migrations and operators, as the owner). Unchanged
-- timing keeps next_due_at; changed timing starts from the next occurrence after now. Due jobs
-- of the old timing that have not started are dropped, so a change never doubles a period.
CREATE OR REPLACE FUNCTION jobs.schedule_set(p_name text, p_kind text, p_every interval,
                                             p_calendar text DEFAULT NULL, p_time_zone text DEFAULT 'UTC',
                                             p_payload jsonb DEFAULT '{}', p_max_attempts int DEFAULT NULL,
                                             p_enabled boolean DEFAULT true)
  RETURNS timestamptz
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_old jobs.schedules%ROWTYPE;
  v_exists boolean;
  v_anchor timestamptz := date_trunc('day', now());
  v_next timestamptz;
BEGIN
  PERFORM now() AT TIME ZONE p_time_zone; -- 22023 for an unknown zone, before anything is written
  SELECT * INTO v_old FROM jobs.schedules s WHERE s.name = p_name FOR UPDATE;
  v_exists := FOUND;
  IF v_exists AND v_old.every IS NOT DISTINCT FROM p_every AND v_old.calendar IS NOT DISTINCT FROM p_calendar
     AND v_old.time_zone = p_time_zone AND v_old.kind = p_kind THEN
    UPDATE jobs.schedules s SET payload = coalesce(p_payload, '{}'), max_attempts = p_max_attempts,
                                enabled = p_enabled, updated_at = now()
     WHERE s.name = p_name;
    RETURN v_old.next_due_at;
  END IF;
  v_next := jobs.next_occurrence(p_every, p_calendar, p_time_zone, v_anchor, now());
  IF v_exists THEN
    DELETE FROM jobs.jobs j WHERE j.schedule_name = p_name AND j.state = 'due' AND j.attempts = 0;
    UPDATE jobs.schedules s
       SET kind = p_kind, every = p_every, calendar = p_calendar, time_zone = p_time_zone,
           anchor = v_anchor, payload = coalesce(p_payload, '{}'), max_attempts = p_max_attempts,
           enabled = p_enabled, next_due_at = v_next, updated_at = now()
     WHERE s.name = p_name;
  ELSE
    INSERT INTO jobs.schedules (name, kind, payload, every, calendar, time_zone, anchor,
                                max_attempts, enabled, next_due_at)
    VALUES (p_name, p_kind, coalesce(p_payload, '{}'), p_every, p_calendar, p_time_zone, v_anchor,
            p_max_attempts, p_enabled, v_next);
  END IF;
  RETURN v_next;
END
$$;

-- One-off work, e.g. a deadline (P) or a follow-up: callable from any module's SQL in the
-- request's own transaction (it commits with the change that made it due, or not at all).
-- With a dedupe key, enqueueing the same (kind, key) again returns the existing job's id.
CREATE OR REPLACE FUNCTION jobs.enqueue(p_kind text, p_due_at timestamptz DEFAULT now(),
                                        p_payload jsonb DEFAULT '{}', p_max_attempts int DEFAULT NULL,
                                        p_dedupe_key text DEFAULT NULL)
  RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE v_id uuid;
BEGIN
  INSERT INTO jobs.jobs (kind, due_at, payload, max_attempts, dedupe_key)
  VALUES (p_kind, coalesce(p_due_at, now()), coalesce(p_payload, '{}'), p_max_attempts, p_dedupe_key)
  ON CONFLICT (kind, dedupe_key) DO NOTHING
  RETURNING id INTO v_id;
  IF v_id IS NULL THEN
    SELECT j.id INTO STRICT v_id FROM jobs.jobs j WHERE j.kind = p_kind AND j.dedupe_key = p_dedupe_key;
  END IF;
  RETURN v_id;
END
$$;

-- Withdraws one-off work that has not started (e.g. a case closed before its deadline): true when
-- a due job was removed.
CREATE OR REPLACE FUNCTION jobs.cancel(p_kind text, p_dedupe_key text) RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  DELETE FROM jobs.jobs j WHERE j.kind = p_kind AND j.dedupe_key = p_dedupe_key AND j.state = 'due';
  RETURN FOUND;
END
$$;

-- The claim (one short transaction of the scheduler). p_kinds: the kinds this instance can run
-- and their settings, {"kind": {"lease_s": 300, "max_attempts": 5, ...}}.
--   1. due schedules of those kinds become jobs (SKIP LOCKED: one instance per schedule; the
--      unique (schedule_name, scheduled_for) is the backstop), and advance past now: missed
--      occurrences (the service was down) make one job, not one per missed period;
--   2. a running job whose lease ran out (its worker died or hung) is reclaimed, or dead when it
--      has no attempts left;
--   3. else the job due longest.
-- Returns zero or one row; the job is then 'running' under a new run (the fencing token).
CREATE OR REPLACE FUNCTION jobs.claim(p_worker text, p_kinds jsonb)
  RETURNS TABLE (job_id uuid, kind text, payload jsonb, attempt int, run_id bigint,
                 lease_until timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
#variable_conflict use_column
DECLARE
  v_kinds text[];
  s jobs.schedules%ROWTYPE;
  j jobs.jobs%ROWTYPE;
  v_found boolean := false;
  v_run bigint;
  v_lease int;
BEGIN
  PERFORM jobs.require_system();
  IF p_worker IS NULL OR p_worker !~ '^[\x21-\x7e]{1,200}$' THEN
    RAISE EXCEPTION 'p_worker must be 1..200 visible ASCII characters' USING ERRCODE = '22023';
  END IF;
  IF p_kinds IS NULL OR jsonb_typeof(p_kinds) <> 'object' THEN
    RAISE EXCEPTION 'p_kinds must be an object of kind settings' USING ERRCODE = '22023';
  END IF;
  v_kinds := ARRAY(SELECT jsonb_object_keys(p_kinds));

  FOR s IN SELECT * FROM jobs.schedules sc
            WHERE sc.enabled AND sc.next_due_at <= now() AND sc.kind = ANY (v_kinds)
            ORDER BY sc.next_due_at LIMIT 10
            FOR UPDATE SKIP LOCKED LOOP
    INSERT INTO jobs.jobs (kind, payload, due_at, max_attempts, schedule_name, scheduled_for)
    VALUES (s.kind, s.payload, s.next_due_at, s.max_attempts, s.name, s.next_due_at)
    ON CONFLICT (schedule_name, scheduled_for) DO NOTHING;
    UPDATE jobs.schedules sc
       SET next_due_at = jobs.next_occurrence(s.every, s.calendar, s.time_zone, s.anchor,
                                              greatest(now(), s.next_due_at)),
           last_enqueued_at = now()
     WHERE sc.name = s.name;
  END LOOP;

  LOOP
    SELECT * INTO j FROM jobs.jobs x
     WHERE x.state = 'running' AND x.lease_until <= now() AND x.kind = ANY (v_kinds)
     ORDER BY x.lease_until LIMIT 1
     FOR UPDATE SKIP LOCKED;
    EXIT WHEN NOT FOUND;
    UPDATE jobs.runs r SET finished_at = now(), outcome = 'lost', error = 'the lease expired'
     WHERE r.id = j.run_id AND r.outcome = 'running';
    IF j.attempts >= coalesce(j.max_attempts, (p_kinds -> j.kind ->> 'max_attempts')::int, 5) THEN
      UPDATE jobs.jobs x
         SET state = 'dead', finished_at = now(), locked_by = NULL, lease_until = NULL,
             last_error = 'the lease expired on the last attempt (the worker died or hung)'
       WHERE x.id = j.id;
      CONTINUE;
    END IF;
    v_found := true;
    EXIT;
  END LOOP;

  IF NOT v_found THEN
    SELECT * INTO j FROM jobs.jobs x
     WHERE x.state = 'due' AND x.due_at <= now() AND x.kind = ANY (v_kinds)
     ORDER BY x.due_at LIMIT 1
     FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
      RETURN;
    END IF;
  END IF;

  INSERT INTO jobs.runs (job_id, attempt, worker) VALUES (j.id, j.attempts + 1, p_worker)
  RETURNING id INTO v_run;
  v_lease := coalesce((p_kinds -> j.kind ->> 'lease_s')::int, 300);
  UPDATE jobs.jobs x
     SET state = 'running', attempts = j.attempts + 1, run_id = v_run, locked_by = p_worker,
         lease_until = now() + make_interval(secs => v_lease), started_at = now(), finished_at = NULL
   WHERE x.id = j.id;
  RETURN QUERY SELECT j.id, j.kind, j.payload, j.attempts + 1, v_run,
                      now() + make_interval(secs => v_lease);
END
$$;

-- First statement of a job's own transaction: the claim must still be this run's (else TXLSE:
-- the lease ran out and another instance took the job). The row lock it takes keeps any other
-- instance from reclaiming the job while this transaction runs, whatever the lease says.
CREATE OR REPLACE FUNCTION jobs.begin_run(p_job uuid, p_run bigint) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  PERFORM jobs.require_system();
  PERFORM FROM jobs.jobs j WHERE j.id = p_job AND j.run_id = p_run AND j.state = 'running'
     FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'job % is no longer claimed by run %', p_job, p_run USING ERRCODE = 'TXLSE';
  END IF;
  PERFORM set_config('tx.request_id', 'job:' || p_job, true);
END
$$;

-- Last statement of a job's own transaction: done. The handler's work and this commit together.
CREATE OR REPLACE FUNCTION jobs.finish(p_job uuid, p_run bigint) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  PERFORM jobs.require_system();
  UPDATE jobs.jobs j SET state = 'done', finished_at = now(), locked_by = NULL, lease_until = NULL,
                         last_error = NULL
   WHERE j.id = p_job AND j.run_id = p_run AND j.state = 'running';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'job % is no longer claimed by run %', p_job, p_run USING ERRCODE = 'TXLSE';
  END IF;
  UPDATE jobs.runs r SET finished_at = now(), outcome = 'done' WHERE r.id = p_run;
END
$$;

-- After a failed attempt (in a transaction of its own, the attempt's having rolled back): due
-- again after an exponential backoff, backoff_s * 2^(attempt-1) plus up to a quarter of jitter,
-- at most backoff_max_s; or dead when the attempts are used up. Returns the new state, NULL when
-- the claim was no longer this run's.
CREATE OR REPLACE FUNCTION jobs.fail(p_job uuid, p_run bigint, p_error text, p_kinds jsonb)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  j jobs.jobs%ROWTYPE;
  v_error text := left(coalesce(p_error, 'failed'), 2000);
  v_base numeric;
  v_cap numeric;
  v_state text;
BEGIN
  PERFORM jobs.require_system();
  SELECT * INTO j FROM jobs.jobs x WHERE x.id = p_job AND x.run_id = p_run AND x.state = 'running'
     FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  v_base := coalesce((p_kinds -> j.kind ->> 'backoff_s')::numeric, 30);
  v_cap := coalesce((p_kinds -> j.kind ->> 'backoff_max_s')::numeric, 3600);
  v_state := CASE WHEN j.attempts >= coalesce(j.max_attempts, (p_kinds -> j.kind ->> 'max_attempts')::int, 5)
                  THEN 'dead' ELSE 'due' END;
  UPDATE jobs.jobs x
     SET state = v_state, last_error = v_error, locked_by = NULL, lease_until = NULL,
         finished_at = CASE WHEN v_state = 'dead' THEN now() END,
         due_at = CASE WHEN v_state = 'due'
                       THEN now() + make_interval(secs => least(v_base * power(2, least(j.attempts - 1, 30))
                                                                * (1 + random() / 4), v_cap))
                       ELSE x.due_at END
   WHERE x.id = p_job;
  UPDATE jobs.runs r SET finished_at = now(), outcome = 'failed', error = v_error WHERE r.id = p_run;
  RETURN v_state;
END
$$;

-- Shutdown: a claim this instance will not carry out goes back unchanged (the attempt does not
-- count), for another instance to take at once. false when it was no longer this run's.
CREATE OR REPLACE FUNCTION jobs.release(p_job uuid, p_run bigint) RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  PERFORM jobs.require_system();
  UPDATE jobs.jobs j SET state = 'due', attempts = j.attempts - 1, locked_by = NULL, lease_until = NULL
   WHERE j.id = p_job AND j.run_id = p_run AND j.state = 'running';
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  UPDATE jobs.runs r SET finished_at = now(), outcome = 'released', error = 'the instance shut down'
   WHERE r.id = p_run;
  RETURN true;
END
$$;

-- The queue for /metrics: jobs due now, running, dead, and how late the oldest due job is.
CREATE OR REPLACE FUNCTION jobs.stats()
  RETURNS TABLE (due bigint, running bigint, dead bigint, lag_seconds double precision)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT (SELECT count(*) FROM jobs.jobs j WHERE j.state = 'due' AND j.due_at <= now()),
         (SELECT count(*) FROM jobs.jobs j WHERE j.state = 'running'),
         (SELECT count(*) FROM jobs.jobs j WHERE j.state = 'dead'),
         coalesce((SELECT extract(epoch FROM now() - min(j.due_at))::double precision
                     FROM jobs.jobs j WHERE j.state = 'due' AND j.due_at <= now()), 0)
   WHERE tx.has_role('system')
$$;

-- Operators (`tianxingd jobs retry ID`, owner connection): a dead job gets its attempts back.
CREATE OR REPLACE FUNCTION jobs.retry(p_job uuid) RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  UPDATE jobs.jobs j SET state = 'due', attempts = 0, due_at = now(), finished_at = NULL
   WHERE j.id = p_job AND j.state = 'dead';
  RETURN FOUND;
END
$$;

-- Kind jobs.purge: finished jobs (and their runs) older than payload.keep_days (default 30) go,
-- at most payload.batch (default 5000) per run. Dead jobs stay until an operator looks at them.
CREATE OR REPLACE FUNCTION jobs.purge(p_payload jsonb) RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_keep int := coalesce((p_payload ->> 'keep_days')::int, 30);
  v_batch int := coalesce((p_payload ->> 'batch')::int, 5000);
  v_n int;
BEGIN
  PERFORM jobs.require_system();
  DELETE FROM jobs.jobs j
   WHERE j.id IN (SELECT x.id FROM jobs.jobs x
                   WHERE x.state = 'done' AND x.finished_at < now() - make_interval(days => v_keep)
                   ORDER BY x.finished_at LIMIT v_batch);
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END
$$;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA jobs FROM PUBLIC;
-- The scheduler's functions, and enqueue/cancel for module SQL that runs as the runtime role.
-- schedule_set and retry stay with the owner (migrations, operators).
GRANT EXECUTE ON FUNCTION jobs.require_system(), jobs.next_occurrence(interval, text, text, timestamptz, timestamptz),
  jobs.enqueue(text, timestamptz, jsonb, int, text), jobs.cancel(text, text),
  jobs.claim(text, jsonb), jobs.begin_run(uuid, bigint), jobs.finish(uuid, bigint),
  jobs.fail(uuid, bigint, text, jsonb), jobs.release(uuid, bigint), jobs.stats(), jobs.purge(jsonb)
  TO tianxing_app;
