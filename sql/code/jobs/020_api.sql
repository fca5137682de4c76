-- sql/code/jobs/020_api.sql: GET /v1/jobs and GET /v1/jobs/{id} (administrators).
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md). The tables are sql/migrations/0013_jobs.sql.

CREATE OR REPLACE FUNCTION api.job_json(j jobs.jobs) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object('id', j.id, 'kind', j.kind, 'state', j.state, 'due_at', api.ts(j.due_at),
                           'attempts', j.attempts, 'max_attempts', j.max_attempts,
                           'last_error', j.last_error, 'payload', j.payload,
                           'schedule', j.schedule_name, 'scheduled_for', api.ts(j.scheduled_for),
                           'dedupe_key', j.dedupe_key, 'locked_by', j.locked_by,
                           'lease_until', api.ts(j.lease_until), 'created_at', api.ts(j.created_at),
                           'started_at', api.ts(j.started_at), 'finished_at', api.ts(j.finished_at))
$$;

-- Newest first; keyset on the creation order: the cursor is the seq of the last job of a page.
CREATE OR REPLACE FUNCTION api.job_list(p_state text, p_kind text, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int;
  v_before bigint;
  v_out json;
BEGIN
  PERFORM api.require_role('admin');
  v_limit := api.page_limit(p_limit);
  IF p_state IS NOT NULL AND p_state NOT IN ('due', 'running', 'done', 'dead') THEN
    PERFORM api.fail('TXVAL', 'state', 'must be one of due, running, done, dead');
  END IF;
  IF p_cursor IS NOT NULL THEN
    IF p_cursor !~ '^[0-9]{1,18}$' THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
    v_before := p_cursor::bigint;
  END IF;
  WITH page AS (
    SELECT j, j.seq, row_number() OVER (ORDER BY j.seq DESC) AS rn
      FROM jobs.jobs j
     WHERE (p_state IS NULL OR j.state = p_state)
       AND (p_kind IS NULL OR j.kind = p_kind)
       AND (v_before IS NULL OR j.seq < v_before)
     ORDER BY j.seq DESC
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.job_json(p.j) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN (min(p.seq) FILTER (WHERE p.rn <= v_limit))::text END)
    INTO v_out
    FROM page p;
  RETURN v_out;
END
$$;

-- One job with its runs (oldest first); NULL when there is no such job (404).
CREATE OR REPLACE FUNCTION api.job_get(p_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE v_out json;
BEGIN
  PERFORM api.require_role('admin');
  SELECT (api.job_json(j)::jsonb || jsonb_build_object('runs', coalesce(
           (SELECT jsonb_agg(jsonb_build_object('id', r.id, 'attempt', r.attempt, 'worker', r.worker,
                                                'started_at', api.ts(r.started_at),
                                                'finished_at', api.ts(r.finished_at),
                                                'outcome', r.outcome, 'error', r.error)
                             ORDER BY r.id)
              FROM jobs.runs r WHERE r.job_id = j.id), '[]'::jsonb)))::json
    INTO v_out
    FROM jobs.jobs j WHERE j.id = p_id;
  RETURN v_out;
END
$$;

REVOKE ALL ON FUNCTION api.job_json(jobs.jobs), api.job_list(text, text, int, text), api.job_get(uuid)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.job_json(jobs.jobs), api.job_list(text, text, int, text), api.job_get(uuid)
  TO tianxing_app;
