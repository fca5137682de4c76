-- Module R, part E: drills (R4.2), real events and their lessons (R4.3), and the job 'risk.plans'.
--
-- A drill is scheduled by the job every plans.drill_every_months after the last drill held (or
-- after the plan's first version took effect), and flagged overdue (overdue_at) by the job when
-- not held by its due date. A risk officer holds it against the plan's effective version, with
-- when it started and ended, its findings and how long each step took against the step's target
-- (exercise_steps.met). A real event (應急處理) is recorded held, with the timings of the steps
-- that were taken. Either one owes its lessons (經驗教訓) by lessons_due_on, the end date (company
-- time) plus risk_schedules.lessons_due_days; the job flags lessons not closed by then
-- (lessons_overdue_at). A lesson is applied by a revision of the plan that cites it (080_plans.sql).
--
-- A cancelled drill does not discharge the duty: the next run of the job schedules the drill
-- again from the last one held, so it stays due (and overdue) until one is held.

-- The company's date of an instant: org.company_date (sql/code/cases/010_calendar.sql).

-- The job kind 'risk.plans' (schedule daily 02:30 company time, migration 0029; R4.2, R4.3).
-- Payload {"today": "YYYY-MM-DD"} for catch-up runs and tests (default: the company's date today).
-- 1. Every plan that has had an effective version and has no drill scheduled gets its next one,
--    due drill_every_months after the last drill held, or after its first version took effect.
-- 2. Drills scheduled and not held by their due date (due_on < today) are flagged overdue_at.
-- 3. Drills and events held whose lessons are not closed by lessons_due_on are flagged
--    lessons_overdue_at.
-- Idempotent: one scheduled drill per plan (exercises_scheduled_key), flags set once.
CREATE OR REPLACE FUNCTION risk.plans_job(p_payload jsonb) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_today date;
  v_scheduled int;
  v_overdue int;
  v_lessons int;
BEGIN
  IF p_payload IS NOT NULL AND p_payload ? 'today' THEN
    BEGIN
      IF jsonb_typeof(p_payload -> 'today') <> 'string'
         OR (p_payload ->> 'today') !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
        RAISE EXCEPTION USING ERRCODE = '22007';
      END IF;
      v_today := (p_payload ->> 'today')::date;
    EXCEPTION WHEN data_exception THEN
      RAISE EXCEPTION 'risk.plans: today must be a date YYYY-MM-DD' USING ERRCODE = '22023';
    END;
  ELSE
    v_today := org.company_date(now());
  END IF;

  INSERT INTO risk.exercises (plan_id, kind, status, due_on)
  SELECT p.id, 'drill', 'scheduled',
         (coalesce((SELECT org.company_date(max(x.ended_at)) FROM risk.exercises x
                     WHERE x.plan_id = p.id AND x.kind = 'drill' AND x.status IN ('held', 'lessons_closed')),
                   (SELECT org.company_date(min(v.effective_at)) FROM risk.plan_versions v
                     WHERE v.plan_id = p.id AND v.effective_at IS NOT NULL))
          + make_interval(months => p.drill_every_months))::date
    FROM risk.plans p
   WHERE EXISTS (SELECT FROM risk.plan_versions v WHERE v.plan_id = p.id AND v.status = 'effective')
     AND NOT EXISTS (SELECT FROM risk.exercises x
                      WHERE x.plan_id = p.id AND x.kind = 'drill' AND x.status = 'scheduled')
  ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS v_scheduled = ROW_COUNT;

  UPDATE risk.exercises x SET overdue_at = now(), updated_at = now()
   WHERE x.kind = 'drill' AND x.status = 'scheduled' AND x.due_on < v_today AND x.overdue_at IS NULL;
  GET DIAGNOSTICS v_overdue = ROW_COUNT;

  UPDATE risk.exercises x SET lessons_overdue_at = now(), updated_at = now()
   WHERE x.status = 'held' AND x.lessons_due_on < v_today AND x.lessons_overdue_at IS NULL;
  GET DIAGNOSTICS v_lessons = ROW_COUNT;

  RETURN jsonb_build_object('today', v_today, 'scheduled', v_scheduled,
                            'drills_overdue', v_overdue, 'lessons_overdue', v_lessons);
END
$$;
REVOKE ALL ON FUNCTION risk.plans_job(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.plans_job(jsonb) TO tianxing_app;

-- The exercise p_id as the caller sees it, or 404.
CREATE OR REPLACE FUNCTION risk.exercise_found(p_id uuid) RETURNS risk.exercises
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE x risk.exercises;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO x FROM risk.exercises e WHERE e.id = p_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such drill or event' USING ERRCODE = 'P0002';
  END IF;
  RETURN x;
END
$$;
REVOKE ALL ON FUNCTION risk.exercise_found(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.exercise_found(uuid) TO tianxing_app;

-- What a drill or event ran: the plan's effective version (409 when there is none).
CREATE OR REPLACE FUNCTION risk.exercise_version(p_plan uuid) RETURNS risk.plan_versions
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE v risk.plan_versions;
BEGIN
  SELECT * INTO v FROM risk.plan_versions x WHERE x.plan_id = p_plan AND x.status = 'effective';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'the plan has no effective version yet' USING ERRCODE = 'TXCON';
  END IF;
  RETURN v;
END
$$;
REVOKE ALL ON FUNCTION risk.exercise_version(uuid) FROM PUBLIC;

-- Writes the record of a drill or an event from the body {started_at, ended_at, findings,
-- scenario?, steps: [{step_id, took_minutes, note?}]}: checks it (422 naming the member), stores
-- the timings against each step's target and sets the columns. p_all: every step of the version
-- must be timed (a drill); an event times the steps that were taken. Returns lessons_due_on.
CREATE OR REPLACE FUNCTION risk.exercise_record(p_id uuid, v risk.plan_versions, p_body jsonb,
                                                p_all boolean) RETURNS date
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_started timestamptz;
  v_ended timestamptz;
  v_findings text;
  v_scenario text;
  v_steps jsonb := p_body -> 'steps';
  s jsonb;
  i int := 0;
  f text;
  v_step uuid;
  v_took jsonb;
  v_seen uuid[] := '{}';
  v_missing risk.plan_steps;
BEGIN
  PERFORM api.body_keys(p_body, ARRAY['started_at', 'ended_at', 'findings', 'scenario', 'steps']);
  v_started := api.body_timestamp(p_body, 'started_at', true);
  v_ended := api.body_timestamp(p_body, 'ended_at', true);
  IF v_ended < v_started THEN
    PERFORM api.fail('TXVAL', 'ended_at', 'is before started_at');
  END IF;
  IF v_ended > now() + interval '5 minutes' THEN
    PERFORM api.fail('TXVAL', 'ended_at', 'is in the future: record a drill or event once it has ended');
  END IF;
  v_findings := api.body_text(p_body, 'findings', true, 8000);
  v_scenario := api.body_text(p_body, 'scenario', false, 48);
  IF v_scenario IS NOT NULL
     AND NOT EXISTS (SELECT FROM jsonb_array_elements(v.scenarios) c WHERE c ->> 'code' = v_scenario) THEN
    PERFORM api.fail('TXVAL', 'scenario', 'is not a scenario code of the plan''s effective version');
  END IF;
  IF v_steps IS NULL OR jsonb_typeof(v_steps) = 'null' THEN
    v_steps := '[]';
  END IF;
  IF jsonb_typeof(v_steps) <> 'array' OR jsonb_array_length(v_steps) > 200 THEN
    PERFORM api.fail('TXVAL', 'steps', 'must be an array of step timings');
  END IF;
  DELETE FROM risk.exercise_steps t WHERE t.exercise_id = p_id;
  FOR s IN SELECT x FROM jsonb_array_elements(v_steps) x LOOP
    f := format('steps[%s]', i);
    IF jsonb_typeof(s) <> 'object' THEN
      PERFORM api.fail('TXVAL', f, 'must be an object {step_id, took_minutes, note?}');
    END IF;
    PERFORM api.body_keys(s, ARRAY['step_id', 'took_minutes', 'note']);
    v_step := api.body_uuid(s, 'step_id', true);
    IF NOT EXISTS (SELECT FROM risk.plan_steps p WHERE p.id = v_step AND p.version_id = v.id) THEN
      PERFORM api.fail('TXVAL', f || '.step_id', 'is not a step of the plan''s effective version');
    END IF;
    IF v_step = ANY (v_seen) THEN
      PERFORM api.fail('TXVAL', f || '.step_id', 'is timed twice');
    END IF;
    v_seen := v_seen || v_step;
    v_took := s -> 'took_minutes';
    IF v_took IS NULL OR jsonb_typeof(v_took) <> 'number' OR (v_took #>> '{}') !~ '^[0-9]{1,7}$'
       OR (v_took #>> '{}')::int > 1000000 THEN
      PERFORM api.fail('TXVAL', f || '.took_minutes', 'is a whole number of minutes, 0 to 1000000');
    END IF;
    INSERT INTO risk.exercise_steps (exercise_id, step_id, took_minutes, target_minutes, note)
    SELECT p_id, p.id, (v_took #>> '{}')::int, p.target_minutes, api.body_text(s, 'note', false, 2000)
      FROM risk.plan_steps p WHERE p.id = v_step;
    i := i + 1;
  END LOOP;
  IF p_all THEN
    SELECT * INTO v_missing FROM risk.plan_steps p
     WHERE p.version_id = v.id AND NOT p.id = ANY (v_seen) ORDER BY p.seq LIMIT 1;
    IF FOUND THEN
      PERFORM api.fail('TXVAL', 'steps', format('step %s (%s) has no timing: a drill times every step (R4.2)',
                                                v_missing.seq, left(v_missing.action, 60)));
    END IF;
  END IF;
  UPDATE risk.exercises x
     SET version_id = v.id, started_at = v_started, ended_at = v_ended, findings = v_findings,
         scenario = v_scenario, recorded_by = tx.user_id()
   WHERE x.id = p_id;
  RETURN org.company_date(v_ended)
         + (org.policy_value('risk_schedules', org.company_date(v_ended)) ->> 'lessons_due_days')::int;
END
$$;
REVOKE ALL ON FUNCTION risk.exercise_record(uuid, risk.plan_versions, jsonb, boolean) FROM PUBLIC;

-- POST /v1/exercises/{id}/hold (R4.2): a scheduled drill is held against the plan's effective
-- version; every step timed (guard risk.exercise_holdable).
CREATE OR REPLACE FUNCTION risk.exercise_hold(p_id uuid, p_body jsonb) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  x risk.exercises := risk.exercise_found(p_id);
  v_due date;
BEGIN
  PERFORM api.require_role('risk_officer', 'admin');
  PERFORM fsm.transition('exercise', x.status, 'hold');
  v_due := risk.exercise_record(p_id, risk.exercise_version(x.plan_id), p_body, true);
  PERFORM fsm.move('exercise', p_id, 'hold', NULL,
                   jsonb_build_object('lessons_due_on', v_due, 'updated_at', now(),
                                      'version', x.version + 1));
END
$$;
REVOKE ALL ON FUNCTION risk.exercise_hold(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.exercise_hold(uuid, jsonb) TO tianxing_app;

-- POST /v1/emergency-plans/{id}/events (R4.3): a real event handled by the plan, recorded held,
-- with the timings of the steps taken.
CREATE OR REPLACE FUNCTION risk.plan_event(p_plan uuid, p_body jsonb) RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  p risk.plans := risk.plan_found(p_plan);
  v risk.plan_versions;
  v_id uuid;
  v_due date;
BEGIN
  PERFORM api.require_role('risk_officer', 'admin');
  v := risk.exercise_version(p.id);
  -- the row first (its timings reference it), held at once: an event is recorded after the fact
  INSERT INTO risk.exercises (plan_id, version_id, kind, status, started_at, ended_at, findings,
                              recorded_by)
  VALUES (p.id, v.id, 'event', 'held', now(), now(), 'recording', tx.user_id())
  RETURNING id INTO v_id;
  v_due := risk.exercise_record(v_id, v, p_body, false);
  UPDATE risk.exercises x SET lessons_due_on = v_due WHERE x.id = v_id;
  RETURN v_id;
END
$$;
REVOKE ALL ON FUNCTION risk.plan_event(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.plan_event(uuid, jsonb) TO tianxing_app;

-- POST /v1/exercises/{id}/cancel: {reason}; a scheduled drill that will not be held as planned.
CREATE OR REPLACE FUNCTION risk.exercise_cancel(p_id uuid, p_body jsonb) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  x risk.exercises := risk.exercise_found(p_id);
  v_reason text;
BEGIN
  PERFORM api.require_role('risk_officer', 'admin');
  PERFORM fsm.transition('exercise', x.status, 'cancel');
  PERFORM api.body_keys(p_body, ARRAY['reason']);
  v_reason := api.body_text(p_body, 'reason', true, 2000);
  PERFORM fsm.move('exercise', p_id, 'cancel', v_reason,
                   jsonb_build_object('cancel_reason', v_reason, 'updated_at', now(),
                                      'version', x.version + 1));
END
$$;
REVOKE ALL ON FUNCTION risk.exercise_cancel(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.exercise_cancel(uuid, jsonb) TO tianxing_app;

-- POST /v1/exercises/{id}/lessons (R4.3): {lesson, recommendation?} of a held drill or event
-- (its lessons not closed yet: 409 otherwise).
CREATE OR REPLACE FUNCTION risk.exercise_lesson(p_id uuid, p_body jsonb) RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  x risk.exercises := risk.exercise_found(p_id);
  v_id uuid;
BEGIN
  PERFORM api.require_role('risk_officer', 'admin');
  IF x.status <> 'held' THEN
    PERFORM fsm.refuse('exercise', x.status,
                       format('lessons are written for a drill or event held and not closed: this one is %s', x.status));
  END IF;
  PERFORM api.body_keys(p_body, ARRAY['lesson', 'recommendation']);
  INSERT INTO risk.lessons (exercise_id, lesson, recommendation, author_id)
  VALUES (p_id, api.body_text(p_body, 'lesson', true, 4000),
          api.body_text(p_body, 'recommendation', false, 4000), tx.user_id())
  RETURNING id INTO v_id;
  UPDATE risk.exercises e SET updated_at = now(), version = e.version + 1 WHERE e.id = p_id;
  RETURN v_id;
END
$$;
REVOKE ALL ON FUNCTION risk.exercise_lesson(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.exercise_lesson(uuid, jsonb) TO tianxing_app;

-- POST /v1/exercises/{id}/close-lessons (R4.3): {reason?}; the lessons are written up (guard
-- risk.exercise_lessons_written: at least one).
CREATE OR REPLACE FUNCTION risk.exercise_close_lessons(p_id uuid, p_body jsonb) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  x risk.exercises := risk.exercise_found(p_id);
  v_reason text;
BEGIN
  PERFORM api.require_role('risk_officer', 'admin');
  PERFORM api.body_keys(p_body, ARRAY['reason']);
  v_reason := api.body_text(p_body, 'reason', false, 2000);
  PERFORM fsm.move('exercise', p_id, 'close_lessons', v_reason,
                   jsonb_build_object('lessons_done_at', now(), 'updated_at', now(),
                                      'version', x.version + 1));
END
$$;
REVOKE ALL ON FUNCTION risk.exercise_close_lessons(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.exercise_close_lessons(uuid, jsonb) TO tianxing_app;

-- The API (SECURITY INVOKER) -----------------------------------------------------------------

-- A drill or event: its schedule and flags, the version it ran, each step's timing against its
-- target (met or not), findings and lessons, and what the caller may do now.
CREATE OR REPLACE FUNCTION api.exercise_json(p_id uuid) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
    'id', x.id, 'plan_id', x.plan_id, 'kind', x.kind, 'status', x.status,
    'version_id', x.version_id,
    'version_number', (SELECT v.number FROM risk.plan_versions v WHERE v.id = x.version_id),
    'scenario', x.scenario, 'due_on', x.due_on,
    'overdue', x.overdue_at IS NOT NULL, 'overdue_at', api.ts(x.overdue_at),
    'started_at', api.ts(x.started_at), 'ended_at', api.ts(x.ended_at), 'findings', x.findings,
    'steps', coalesce((SELECT json_agg(json_build_object(
                                 'step_id', s.id, 'seq', s.seq, 'action', s.action,
                                 'responsible_role', s.responsible_role,
                                 'responsible_id', s.responsible_id,
                                 'target_minutes', t.target_minutes, 'took_minutes', t.took_minutes,
                                 'met', t.met, 'note', t.note) ORDER BY s.seq)
                         FROM risk.exercise_steps t JOIN risk.plan_steps s ON s.id = t.step_id
                        WHERE t.exercise_id = x.id), '[]'),
    'steps_met', (SELECT count(*) FILTER (WHERE t.met) FROM risk.exercise_steps t WHERE t.exercise_id = x.id),
    'steps_missed', (SELECT count(*) FILTER (WHERE NOT t.met) FROM risk.exercise_steps t WHERE t.exercise_id = x.id),
    'lessons', coalesce((SELECT json_agg(json_build_object(
                                   'id', l.id, 'lesson', l.lesson, 'recommendation', l.recommendation,
                                   'author_id', l.author_id, 'at', api.ts(l.at),
                                   'applied_in_id', l.applied_in_id) ORDER BY l.at, l.id)
                           FROM risk.lessons l WHERE l.exercise_id = x.id), '[]'),
    'lessons_due_on', x.lessons_due_on, 'lessons_done_at', api.ts(x.lessons_done_at),
    'lessons_overdue', x.lessons_overdue_at IS NOT NULL,
    'lessons_overdue_at', api.ts(x.lessons_overdue_at),
    'cancel_reason', x.cancel_reason, 'recorded_by', x.recorded_by,
    'allowed_actions', to_json(fsm.allowed_actions('exercise', x.status)),
    'version', x.version, 'created_at', api.ts(x.created_at), 'updated_at', api.ts(x.updated_at))
    FROM risk.exercises x WHERE x.id = p_id
$$;
REVOKE ALL ON FUNCTION api.exercise_json(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.exercise_json(uuid) TO tianxing_app;

-- GET /v1/emergency-plans/{id}/exercises?kind=&status=&limit=&cursor= : the plan's drills and
-- events, newest first; keyset, the cursor is the last item's id.
CREATE OR REPLACE FUNCTION api.plan_exercises(p_plan uuid, p_kind text, p_status text, p_limit int,
                                              p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  c risk.exercises;
  v_out json;
BEGIN
  PERFORM risk.plan_found(p_plan);
  IF p_kind IS NOT NULL AND p_kind NOT IN ('drill', 'event') THEN
    PERFORM api.fail('TXVAL', 'kind', 'is drill or event');
  END IF;
  IF p_status IS NOT NULL AND p_status NOT IN ('scheduled', 'held', 'cancelled', 'lessons_closed') THEN
    PERFORM api.fail('TXVAL', 'status', 'is scheduled, held, cancelled or lessons_closed');
  END IF;
  IF p_cursor IS NOT NULL THEN
    IF p_cursor !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
    SELECT * INTO c FROM risk.exercises x WHERE x.id = p_cursor::uuid AND x.plan_id = p_plan;
    IF NOT FOUND THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
  END IF;
  SELECT json_build_object(
           'items', coalesce(json_agg(api.exercise_json(y.id) ORDER BY y.created_at DESC, y.id DESC)
                               FILTER (WHERE y.rn <= v_limit), '[]'),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN (array_agg(y.id) FILTER (WHERE y.rn = v_limit))[1]::text END)
    INTO v_out
    FROM (SELECT x.id, x.created_at, row_number() OVER (ORDER BY x.created_at DESC, x.id DESC) AS rn
            FROM risk.exercises x
           WHERE x.plan_id = p_plan
             AND (p_kind IS NULL OR x.kind = p_kind)
             AND (p_status IS NULL OR x.status = p_status)
             AND (p_cursor IS NULL OR (x.created_at, x.id) < (c.created_at, c.id))
           ORDER BY x.created_at DESC, x.id DESC
           LIMIT v_limit + 1) y;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.plan_exercises(uuid, text, text, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.plan_exercises(uuid, text, text, int, text) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.exercise_get(p_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  PERFORM risk.exercise_found(p_id);
  RETURN api.exercise_json(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.exercise_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.exercise_get(uuid) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.plan_event(p_plan uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE v uuid;
BEGIN
  -- two statements: the JSON is read after the write, and so sees it
  v := risk.plan_event(p_plan, p_body);
  RETURN api.exercise_json(v);
END
$$;
REVOKE ALL ON FUNCTION api.plan_event(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.plan_event(uuid, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.exercise_hold(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM risk.exercise_hold(p_id, p_body);
  RETURN api.exercise_json(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.exercise_hold(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.exercise_hold(uuid, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.exercise_cancel(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM risk.exercise_cancel(p_id, p_body);
  RETURN api.exercise_json(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.exercise_cancel(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.exercise_cancel(uuid, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.exercise_lesson(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM risk.exercise_lesson(p_id, p_body);
  RETURN api.exercise_json(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.exercise_lesson(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.exercise_lesson(uuid, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.exercise_close_lessons(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM risk.exercise_close_lessons(p_id, p_body);
  RETURN api.exercise_json(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.exercise_close_lessons(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.exercise_close_lessons(uuid, jsonb) TO tianxing_app;
