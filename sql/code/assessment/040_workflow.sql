-- Module Q, part B: the workflow of an assessment (Q2.1 monthly, Q2.2 annual; READINGS.md, Q,
-- "Monthly"): computed -> self-assessment (Q3 自我評估) -> supervisor evaluation (Q3 上級評價)
-- -> HR check (or return) -> published (immutable) -> acknowledged or appealed; HR decides an
-- appeal with a reason; a correction is a new revision with a reason, approved or rejected by a
-- second person, whose approval publishes it and supersedes the revision it corrects.
--
-- How it writes (as module P, sql/code/assessment/000_access.sql): each route's api.* function
-- runs as its caller and calls a SECURITY DEFINER writer assessment.* that first finds the
-- assessment as the caller sees it (assessment.may_read: otherwise 404), then lets the state
-- machine judge the role (403), the state (409 invalid_transition with allowed_actions) and the
-- person (the guards of 010_guards.sql: 409 naming the guard), then checks the row version
-- (If-Match: 412) and the body (422, nothing written), then moves with fsm.move. The figures are
-- part A's (assessment.score writes the teamwork indicator, composite, grade and evidence hash
-- once the rating or score is set).
--
-- Rules for every writer, the owner's functions included, are triggers at the end of this file:
-- a published revision is immutable (figures, indicator rows, the steps' contents and the hash;
-- only its status moves on and the employee's answer is recorded once), an evaluation fits its
-- period (teamwork rating for a month, supervisor score for a year).

-- The states of a revision that has been published or decided: frozen (Q2.1 "published
-- (immutable)"). 'superseded' and 'rejected' are history, frozen as well.
CREATE OR REPLACE FUNCTION assessment.is_frozen(p_status text) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT p_status IN ('published', 'acknowledged', 'appealed', 'appeal_dismissed', 'appeal_upheld',
                      'superseded', 'rejected')
$$;
REVOKE ALL ON FUNCTION assessment.is_frozen(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.is_frozen(text) TO tianxing_app;

-- The states from which a published revision may be corrected (the moves 'supersede' of 0022).
CREATE OR REPLACE FUNCTION assessment.is_correctable(p_status text) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT p_status IN ('published', 'acknowledged', 'appealed', 'appeal_dismissed', 'appeal_upheld')
$$;
REVOKE ALL ON FUNCTION assessment.is_correctable(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.is_correctable(text) TO tianxing_app;

-- The document --------------------------------------------------------------------------------

-- What the caller may do with the assessment now: the moves of its state their roles allow whose
-- guard admits them (so a client shows only buttons that work), plus 'correct' for HR on a
-- published revision with no correction waiting. Guards are called by the name the catalog
-- gives (fsm.guard_proc), never as text of a row.
CREATE OR REPLACE FUNCTION assessment.actions_for(p_id uuid) RETURNS text[]
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  a assessment.assessments;
  t fsm.transitions;
  v_out text[] := '{}';
  v_call text;
  v_ok boolean;
BEGIN
  -- nothing for an assessment the caller may not read (no hint that the id exists)
  IF NOT assessment.may_read(p_id) THEN
    RETURN v_out;
  END IF;
  SELECT * INTO a FROM assessment.assessments x WHERE x.id = p_id;
  FOR t IN SELECT * FROM fsm.transitions x
            WHERE x.machine = 'assessment' AND x.from_state = a.status AND NOT x.internal
              AND x.roles && tx.roles()
            ORDER BY x.action LOOP
    v_ok := true;
    IF t.guard IS NOT NULL THEN
      SELECT format('SELECT %I.%I($1)', n.nspname, p.proname) INTO v_call
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE p.oid = fsm.guard_proc(t.guard);
      EXECUTE v_call INTO v_ok USING p_id;
    END IF;
    IF v_ok IS TRUE AND NOT t.action = ANY (v_out) THEN
      v_out := v_out || t.action;
    END IF;
  END LOOP;
  IF tx.has_role('hr') AND assessment.is_correctable(a.status) AND a.employee_id <> tx.user_id()
     AND NOT EXISTS (SELECT FROM assessment.assessments p
                      WHERE p.period_id = a.period_id AND p.employee_id = a.employee_id
                        AND p.status = 'proposed') THEN
    v_out := v_out || 'correct'::text;
  END IF;
  RETURN ARRAY(SELECT x FROM unnest(v_out) x ORDER BY x);
END
$$;
REVOKE ALL ON FUNCTION assessment.actions_for(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.actions_for(uuid) TO tianxing_app;

-- The full document of an assessment (GET /v1/assessments/{id} and every step's answer): the
-- period, the person, the five indicators (Q1) each with figure, numerator, denominator, mark,
-- formula version and evidence; the composite and grade (Q2.1; for a year the mean of the
-- months, Q2.2); every step; the answer; the correction; what the caller may do. Runs as its
-- caller (row-level security decides what it finds: NULL for an assessment the caller may not
-- read). Scores are numbers with two decimals.
CREATE OR REPLACE FUNCTION api.assessment_json(p_id uuid) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
    'id', a.id,
    'period_id', a.period_id,
    'period_label', p.label,
    'period_kind', p.kind,
    'employee_id', a.employee_id,
    'employee_name', e.display_name,
    'department_id', a.department_id,
    'supervisor_id', a.supervisor_id,
    'employed_from', to_char(a.employed_from, 'YYYY-MM-DD'),
    'employed_to', to_char(a.employed_to, 'YYYY-MM-DD'),
    'revision', a.revision,
    'status', a.status,
    'formula_version', a.formula_version,
    'computed_at', api.ts(a.computed_at),
    'evidence_hash', encode(a.evidence_hash, 'hex'),
    'months_assessed', a.months_assessed,
    'monthly_mean', a.monthly_mean,
    'composite', a.composite,
    'grade', a.grade,
    'indicators', coalesce((
      SELECT json_agg(json_build_object(
               'indicator', i.indicator, 'figure', i.figure, 'numerator', i.numerator,
               'denominator', i.denominator, 'marked', i.marked,
               'formula_version', i.formula_version, 'evidence', i.evidence)
             ORDER BY array_position(ARRAY['completion_rate', 'satisfaction', 'accuracy',
                                           'efficiency', 'teamwork'], i.indicator))
        FROM assessment.indicator_values i WHERE i.assessment_id = a.id), '[]'::json),
    'self_assessment', CASE WHEN a.self_assessed_at IS NOT NULL THEN json_build_object(
      'went_well', a.went_well, 'shortcomings', a.shortcomings, 'self_score', a.self_score,
      'at', api.ts(a.self_assessed_at)) END,
    'evaluation', CASE WHEN a.evaluated_at IS NOT NULL THEN json_build_object(
      'teamwork_rating', a.teamwork_rating, 'supervisor_score', a.supervisor_score,
      'comment', a.supervisor_comment, 'by', a.evaluated_by, 'at', api.ts(a.evaluated_at)) END,
    'check', CASE WHEN a.checked_at IS NOT NULL THEN json_build_object(
      'note', a.check_note, 'by', a.checked_by, 'at', api.ts(a.checked_at)) END,
    'publication', CASE WHEN a.published_at IS NOT NULL THEN json_build_object(
      'by', a.published_by, 'at', api.ts(a.published_at)) END,
    'acknowledged_at', api.ts(a.acknowledged_at),
    'appeal', CASE WHEN a.appealed_at IS NOT NULL THEN json_build_object(
      'reason', a.appeal_reason, 'at', api.ts(a.appealed_at), 'decision', a.appeal_decision,
      'decision_reason', a.appeal_decision_reason, 'decided_by', a.appeal_decided_by,
      'decided_at', api.ts(a.appeal_decided_at)) END,
    'correction', CASE WHEN a.corrects_id IS NOT NULL THEN json_build_object(
      'corrects_id', a.corrects_id, 'reason', a.correction_reason,
      'changes', a.correction_changes, 'proposed_by', a.proposed_by,
      'decided_by', a.decided_by, 'decided_at', api.ts(a.decided_at),
      'decision_reason', a.decision_reason) END,
    'superseded_by', (SELECT c.id FROM assessment.assessments c
                       WHERE c.corrects_id = a.id AND c.status <> 'rejected'
                         AND c.status <> 'proposed'),
    'allowed_actions', to_json(assessment.actions_for(a.id)),
    'version', a.version,
    'created_at', api.ts(a.created_at),
    'updated_at', api.ts(a.updated_at))
    FROM assessment.assessments a
    JOIN assessment.periods p ON p.id = a.period_id
    LEFT JOIN org.employees e ON e.id = a.employee_id
   WHERE a.id = p_id
$$;
REVOKE ALL ON FUNCTION api.assessment_json(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.assessment_json(uuid) TO tianxing_app;

-- GET /v1/assessments/{id}: 404 for an assessment the caller may not read.
CREATE OR REPLACE FUNCTION api.assessment_get(p_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE v json;
BEGIN
  PERFORM api.require_user();
  v := api.assessment_json(p_id);
  IF v IS NULL THEN
    RAISE EXCEPTION 'no such assessment' USING ERRCODE = 'P0002';
  END IF;
  RETURN v;
END
$$;
REVOKE ALL ON FUNCTION api.assessment_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.assessment_get(uuid) TO tianxing_app;

-- GET /v1/assessments: the assessments the caller may read (staff their own, supervisors their
-- reports' and those they evaluate, hr all, auditors read: the policy of 000_access.sql), every
-- revision, newest first. Filters: period_id, employee_id, department_id, status (one of the
-- machine's states, else 422). Keyset on (created_at, id), which never change; the cursor is
-- "<microseconds since 1970>_<id>" of the last item.
CREATE OR REPLACE FUNCTION api.assessment_list(p_limit int, p_cursor text, p_period_id uuid,
                                               p_employee_id uuid, p_department_id uuid,
                                               p_status text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_ts timestamptz;
  v_id uuid;
  v_out json;
BEGIN
  PERFORM api.require_role('staff', 'supervisor', 'hr', 'auditor');
  IF p_cursor IS NOT NULL THEN
    IF p_cursor !~ '^-?[0-9]{1,18}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
    v_ts := timestamptz '1970-01-01 00:00:00+00'
            + split_part(p_cursor, '_', 1)::bigint * interval '1 microsecond';
    v_id := split_part(p_cursor, '_', 2)::uuid;
  END IF;
  IF p_status IS NOT NULL AND NOT EXISTS (
       SELECT FROM fsm.transitions t
        WHERE t.machine = 'assessment' AND p_status IN (t.from_state, t.to_state)) THEN
    PERFORM api.fail('TXVAL', 'status', 'is not a state of an assessment');
  END IF;
  WITH page AS (
    SELECT a.id, a.created_at, row_number() OVER (ORDER BY a.created_at DESC, a.id DESC) AS rn
      FROM assessment.assessments a
     WHERE (p_period_id IS NULL OR a.period_id = p_period_id)
       AND (p_employee_id IS NULL OR a.employee_id = p_employee_id)
       AND (p_department_id IS NULL OR a.department_id = p_department_id)
       AND (p_status IS NULL OR a.status = p_status)
       AND (v_ts IS NULL OR (a.created_at, a.id) < (v_ts, v_id))
     ORDER BY a.created_at DESC, a.id DESC
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(json_build_object(
                      'id', a.id, 'period_id', a.period_id, 'period_label', p.label,
                      'period_kind', p.kind, 'employee_id', a.employee_id,
                      'employee_name', e.display_name, 'department_id', a.department_id,
                      'supervisor_id', a.supervisor_id, 'revision', a.revision,
                      'status', a.status, 'composite', a.composite, 'grade', a.grade,
                      'monthly_mean', a.monthly_mean, 'published_at', api.ts(a.published_at),
                      'version', a.version, 'created_at', api.ts(a.created_at),
                      'updated_at', api.ts(a.updated_at))
                    ORDER BY pg.rn) FILTER (WHERE pg.rn <= v_limit), '[]'::json),
           'next_cursor', (SELECT (extract(epoch FROM q.created_at - timestamptz '1970-01-01 00:00:00+00')
                                   * 1000000)::bigint || '_' || q.id
                             FROM page q WHERE q.rn = v_limit
                              AND EXISTS (SELECT FROM page r WHERE r.rn > v_limit)))
    INTO v_out
    FROM page pg
    JOIN assessment.assessments a ON a.id = pg.id
    JOIN assessment.periods p ON p.id = a.period_id
    LEFT JOIN org.employees e ON e.id = a.employee_id;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.assessment_list(int, text, uuid, uuid, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.assessment_list(int, text, uuid, uuid, uuid, text) TO tianxing_app;

-- GET /v1/assessments/{id}/transitions: the moves, oldest first (who, when, why: a return's or
-- rejection's reason), for whoever may read the assessment.
CREATE OR REPLACE FUNCTION api.assessment_transitions(p_id uuid, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  PERFORM api.require_user();
  IF NOT assessment.may_read(p_id) THEN
    RAISE EXCEPTION 'no such assessment' USING ERRCODE = 'P0002';
  END IF;
  RETURN fsm.history('assessment', p_id, p_limit, p_cursor);
END
$$;
REVOKE ALL ON FUNCTION api.assessment_transitions(uuid, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.assessment_transitions(uuid, int, text) TO tianxing_app;

-- Writers' helpers ------------------------------------------------------------------------------

-- The assessment for a step: 404 unless the caller may read it (before any role, state or person
-- check: an assessment one may not see does not exist for them), then the state machine's
-- judgement of p_action (403 role, 409 state or guard), then the row version when the route
-- takes If-Match (p_check_version). Returns the row.
CREATE OR REPLACE FUNCTION assessment.for_step(p_id uuid, p_action text, p_version int,
                                               p_check_version boolean)
  RETURNS assessment.assessments
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE a assessment.assessments;
BEGIN
  PERFORM api.require_user();
  IF p_id IS NULL OR NOT assessment.may_read(p_id) THEN
    RAISE EXCEPTION 'no such assessment' USING ERRCODE = 'P0002';
  END IF;
  SELECT * INTO a FROM assessment.assessments x WHERE x.id = p_id;
  IF p_action IS NOT NULL THEN
    PERFORM fsm.check('assessment', p_id, p_action);
  END IF;
  IF p_check_version THEN
    PERFORM api.check_version(p_version, a.version);
  END IF;
  RETURN a;
END
$$;
REVOKE ALL ON FUNCTION assessment.for_step(uuid, text, int, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.for_step(uuid, text, int, boolean) TO tianxing_app;

-- A score member: a JSON number within [p_min, p_max], an integer when p_integer, otherwise at
-- most two decimals (as stored). NULL when absent (TXVAL when required).
CREATE OR REPLACE FUNCTION assessment.body_score(p_body jsonb, p_field text, p_required boolean,
                                                 p_min numeric, p_max numeric, p_integer boolean)
  RETURNS numeric
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v jsonb := p_body -> p_field;
  n numeric;
BEGIN
  IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
    IF p_required THEN
      PERFORM api.fail('TXVAL', p_field, 'is required');
    END IF;
    RETURN NULL;
  END IF;
  IF jsonb_typeof(v) <> 'number' THEN
    PERFORM api.fail('TXVAL', p_field, 'must be a number');
  END IF;
  n := (v #>> '{}')::numeric;
  IF n < p_min OR n > p_max THEN
    PERFORM api.fail('TXVAL', p_field, format('must be between %s and %s', p_min, p_max));
  END IF;
  IF p_integer AND n <> trunc(n) THEN
    PERFORM api.fail('TXVAL', p_field, 'must be a whole number');
  END IF;
  IF n <> round(n, 2) THEN
    PERFORM api.fail('TXVAL', p_field, 'must have at most two decimals');
  END IF;
  RETURN n;
END
$$;
REVOKE ALL ON FUNCTION assessment.body_score(jsonb, text, boolean, numeric, numeric, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.body_score(jsonb, text, boolean, numeric, numeric, boolean) TO tianxing_app;

-- The steps (Q2.1) ------------------------------------------------------------------------------

-- POST /v1/assessments/{id}/self-assessment (If-Match): {went_well, shortcomings, self_score?}
-- by the assessed employee (guard is_assessee) while 'computed' (Q3 自我評估: 經驗 and 不足).
-- If-Match: the figures of a 'computed' assessment may be recomputed (part A) while the
-- employee reads them; they assess what they saw.
CREATE OR REPLACE FUNCTION assessment.self_assess(p_id uuid, p_version int, p_body jsonb) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  a assessment.assessments := assessment.for_step(p_id, 'self_assess', p_version, true);
  v_well text;
  v_short text;
  v_score numeric;
BEGIN
  PERFORM api.body_keys(p_body, ARRAY['went_well', 'shortcomings', 'self_score']);
  v_well := api.body_text(p_body, 'went_well', true, 4000);
  v_short := api.body_text(p_body, 'shortcomings', true, 4000);
  v_score := assessment.body_score(p_body, 'self_score', false, 0, 100, false);
  PERFORM fsm.move('assessment', a.id, 'self_assess', NULL,
                   jsonb_build_object('went_well', v_well, 'shortcomings', v_short,
                                      'self_score', v_score, 'self_assessed_at', now()));
  RETURN api.assessment_json(a.id);
END
$$;
REVOKE ALL ON FUNCTION assessment.self_assess(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.self_assess(uuid, int, jsonb) TO tianxing_app;
CREATE OR REPLACE FUNCTION api.assessment_self_assess(p_id uuid, p_version int, p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT assessment.self_assess(p_id, p_version, p_body) $$;
REVOKE ALL ON FUNCTION api.assessment_self_assess(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.assessment_self_assess(uuid, int, jsonb) TO tianxing_app;

-- POST /v1/assessments/{id}/evaluation (If-Match): the supervisor's evaluation (Q3 上級評價) by
-- the evaluator (guard is_evaluator; without a self-assessment only for an employee who has
-- left: evaluator_without_self). A month: {teamwork_rating 1-5, comment?} (Q1 團隊協作); a year:
-- {supervisor_score 0-100, comment?} (Q2.2). Then part A's assessment.score writes the teamwork
-- indicator (month) or the annual combination (year), the composite, grade and evidence hash.
-- Also after HR returned it (self_assessed again): the new evaluation replaces the old.
CREATE OR REPLACE FUNCTION assessment.evaluate(p_id uuid, p_version int, p_body jsonb) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  a assessment.assessments := assessment.for_step(p_id, 'evaluate', p_version, true);
  v_kind text := (SELECT p.kind FROM assessment.periods p WHERE p.id = a.period_id);
  v_rating numeric;
  v_score numeric;
  v_comment text;
BEGIN
  PERFORM api.body_keys(p_body, CASE v_kind WHEN 'month' THEN ARRAY['teamwork_rating', 'comment']
                                            ELSE ARRAY['supervisor_score', 'comment'] END);
  IF v_kind = 'month' THEN
    v_rating := assessment.body_score(p_body, 'teamwork_rating', true, 1, 5, true);
  ELSE
    v_score := assessment.body_score(p_body, 'supervisor_score', true, 0, 100, false);
  END IF;
  v_comment := api.body_text(p_body, 'comment', false, 4000);
  PERFORM fsm.move('assessment', a.id, 'evaluate', NULL,
                   jsonb_build_object('teamwork_rating', v_rating::int, 'supervisor_score', v_score,
                                      'supervisor_comment', v_comment,
                                      'evaluated_by', tx.user_id(), 'evaluated_at', now()));
  PERFORM assessment.score(a.id);
  RETURN api.assessment_json(a.id);
END
$$;
REVOKE ALL ON FUNCTION assessment.evaluate(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.evaluate(uuid, int, jsonb) TO tianxing_app;
CREATE OR REPLACE FUNCTION api.assessment_evaluate(p_id uuid, p_version int, p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT assessment.evaluate(p_id, p_version, p_body) $$;
REVOKE ALL ON FUNCTION api.assessment_evaluate(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.assessment_evaluate(uuid, int, jsonb) TO tianxing_app;

-- POST /v1/assessments/{id}/check (If-Match): HR checks an evaluated assessment, with an
-- optional note (Q2.1 HR check), never their own (guard not_own). If-Match: HR checks the
-- evaluation they read, not one made since.
CREATE OR REPLACE FUNCTION assessment.check_step(p_id uuid, p_version int, p_body jsonb) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  a assessment.assessments := assessment.for_step(p_id, 'check', p_version, true);
  v_note text;
BEGIN
  PERFORM api.body_keys(coalesce(p_body, '{}'), ARRAY['note']);
  v_note := api.body_text(coalesce(p_body, '{}'), 'note', false, 4000);
  PERFORM fsm.move('assessment', a.id, 'check', v_note,
                   jsonb_build_object('check_note', v_note, 'checked_by', tx.user_id(),
                                      'checked_at', now()));
  RETURN api.assessment_json(a.id);
END
$$;
REVOKE ALL ON FUNCTION assessment.check_step(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.check_step(uuid, int, jsonb) TO tianxing_app;
CREATE OR REPLACE FUNCTION api.assessment_check(p_id uuid, p_version int, p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT assessment.check_step(p_id, p_version, p_body) $$;
REVOKE ALL ON FUNCTION api.assessment_check(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.assessment_check(uuid, int, jsonb) TO tianxing_app;

-- POST /v1/assessments/{id}/return (If-Match): HR sends an evaluated assessment back to the
-- supervisor with a reason (required; kept in the transition log): it is self_assessed again and
-- waits for a new evaluation.
CREATE OR REPLACE FUNCTION assessment.return_step(p_id uuid, p_version int, p_body jsonb) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  a assessment.assessments := assessment.for_step(p_id, 'return', p_version, true);
  v_reason text;
BEGIN
  PERFORM api.body_keys(p_body, ARRAY['reason']);
  v_reason := api.body_text(p_body, 'reason', true, 4000);
  PERFORM fsm.move('assessment', a.id, 'return', v_reason, NULL);
  RETURN api.assessment_json(a.id);
END
$$;
REVOKE ALL ON FUNCTION assessment.return_step(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.return_step(uuid, int, jsonb) TO tianxing_app;
CREATE OR REPLACE FUNCTION api.assessment_return(p_id uuid, p_version int, p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT assessment.return_step(p_id, p_version, p_body) $$;
REVOKE ALL ON FUNCTION api.assessment_return(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.assessment_return(uuid, int, jsonb) TO tianxing_app;

-- POST /v1/assessments/{id}/publish (If-Match): HR publishes a checked assessment (Q2.1); from
-- now on it is immutable (trigger below).
CREATE OR REPLACE FUNCTION assessment.publish(p_id uuid, p_version int) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE a assessment.assessments := assessment.for_step(p_id, 'publish', p_version, true);
BEGIN
  PERFORM fsm.move('assessment', a.id, 'publish', NULL,
                   jsonb_build_object('published_by', tx.user_id(), 'published_at', now()));
  RETURN api.assessment_json(a.id);
END
$$;
REVOKE ALL ON FUNCTION assessment.publish(uuid, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.publish(uuid, int) TO tianxing_app;
CREATE OR REPLACE FUNCTION api.assessment_publish(p_id uuid, p_version int) RETURNS json
  LANGUAGE sql
  AS $$ SELECT assessment.publish(p_id, p_version) $$;
REVOKE ALL ON FUNCTION api.assessment_publish(uuid, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.assessment_publish(uuid, int) TO tianxing_app;

-- POST /v1/assessments/{id}/acknowledge: the employee acknowledges the published result (no
-- If-Match: a published revision's content cannot change under them).
CREATE OR REPLACE FUNCTION assessment.acknowledge(p_id uuid) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE a assessment.assessments := assessment.for_step(p_id, 'acknowledge', NULL, false);
BEGIN
  PERFORM fsm.move('assessment', a.id, 'acknowledge', NULL,
                   jsonb_build_object('acknowledged_at', now()));
  RETURN api.assessment_json(a.id);
END
$$;
REVOKE ALL ON FUNCTION assessment.acknowledge(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.acknowledge(uuid) TO tianxing_app;
CREATE OR REPLACE FUNCTION api.assessment_acknowledge(p_id uuid) RETURNS json
  LANGUAGE sql
  AS $$ SELECT assessment.acknowledge(p_id) $$;
REVOKE ALL ON FUNCTION api.assessment_acknowledge(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.assessment_acknowledge(uuid) TO tianxing_app;

-- POST /v1/assessments/{id}/appeal: {reason} by the employee against the published result.
CREATE OR REPLACE FUNCTION assessment.appeal(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  a assessment.assessments := assessment.for_step(p_id, 'appeal', NULL, false);
  v_reason text;
BEGIN
  PERFORM api.body_keys(p_body, ARRAY['reason']);
  v_reason := api.body_text(p_body, 'reason', true, 4000);
  PERFORM fsm.move('assessment', a.id, 'appeal', v_reason,
                   jsonb_build_object('appeal_reason', v_reason, 'appealed_at', now()));
  RETURN api.assessment_json(a.id);
END
$$;
REVOKE ALL ON FUNCTION assessment.appeal(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.appeal(uuid, jsonb) TO tianxing_app;
CREATE OR REPLACE FUNCTION api.assessment_appeal(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT assessment.appeal(p_id, p_body) $$;
REVOKE ALL ON FUNCTION api.assessment_appeal(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.assessment_appeal(uuid, jsonb) TO tianxing_app;

-- POST /v1/assessments/{id}/appeal-decision (If-Match): {decision: dismiss | uphold, reason} by
-- HR (never on their own assessment). An upheld appeal is put right by a correction (below).
CREATE OR REPLACE FUNCTION assessment.appeal_decide(p_id uuid, p_version int, p_body jsonb) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_decision text;
  v_reason text;
  v_action text;
  a assessment.assessments;
BEGIN
  -- which move is asked for decides what the state machine judges; an unknown decision is a bad
  -- body, but only for someone who may see the assessment (404 first)
  PERFORM api.require_user();
  IF p_id IS NULL OR NOT assessment.may_read(p_id) THEN
    RAISE EXCEPTION 'no such assessment' USING ERRCODE = 'P0002';
  END IF;
  PERFORM api.body_keys(p_body, ARRAY['decision', 'reason']);
  v_decision := api.body_text(p_body, 'decision', true, 20);
  IF v_decision NOT IN ('dismiss', 'uphold') THEN
    PERFORM api.fail('TXVAL', 'decision', 'must be dismiss or uphold');
  END IF;
  v_action := v_decision || '_appeal';
  a := assessment.for_step(p_id, v_action, p_version, true);
  v_reason := api.body_text(p_body, 'reason', true, 4000);
  PERFORM fsm.move('assessment', a.id, v_action, v_reason,
                   jsonb_build_object('appeal_decision', CASE v_decision WHEN 'dismiss' THEN 'dismissed'
                                                                          ELSE 'upheld' END,
                                      'appeal_decision_reason', v_reason,
                                      'appeal_decided_by', tx.user_id(), 'appeal_decided_at', now()));
  RETURN api.assessment_json(a.id);
END
$$;
REVOKE ALL ON FUNCTION assessment.appeal_decide(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.appeal_decide(uuid, int, jsonb) TO tianxing_app;
CREATE OR REPLACE FUNCTION api.assessment_appeal_decide(p_id uuid, p_version int, p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT assessment.appeal_decide(p_id, p_version, p_body) $$;
REVOKE ALL ON FUNCTION api.assessment_appeal_decide(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.assessment_appeal_decide(uuid, int, jsonb) TO tianxing_app;

-- Corrections (Q2.1: "a correction is a new version with a reason, approved by a second person")

-- POST /v1/assessments/{id}/corrections (If-Match of the revision corrected): HR proposes
-- revision n+1 of a published (or later) revision: {reason, teamwork_rating? (month),
-- supervisor_score? (year), recompute?}. The new revision starts as a copy of the old one (its
-- figures, indicator rows and steps), takes the corrected rating or score, recomputes the
-- figures from today's facts when asked (part A's assessment.compute_assessment, which ends
-- with assessment.score), else assessment.score alone writes the teamwork indicator,
-- composite, grade and hash. It waits as 'proposed' for a second person; the old revision stays
-- published meanwhile. 201 with the new revision. Never one's own assessment (403); one
-- proposal at a time (409 conflict naming it).
CREATE OR REPLACE FUNCTION assessment.propose_correction(p_id uuid, p_version int, p_body jsonb)
  RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  a assessment.assessments := assessment.for_step(p_id, NULL, p_version, false);
  v_kind text := (SELECT p.kind FROM assessment.periods p WHERE p.id = a.period_id);
  v_reason text;
  v_rating numeric;
  v_score numeric;
  v_recompute boolean;
  v_changes jsonb := '{}';
  v_pending uuid;
  v_new uuid;
BEGIN
  PERFORM api.require_role('hr');
  -- two proposals at once take turns here (the second then finds the first waiting)
  SELECT * INTO a FROM assessment.assessments x WHERE x.id = a.id FOR UPDATE;
  IF NOT assessment.is_correctable(a.status) THEN
    PERFORM fsm.refuse('assessment', a.status,
                       format('correct is not possible: a correction is a new revision of a published assessment; this one is %s',
                              a.status));
  END IF;
  IF a.employee_id = tx.user_id() THEN
    RAISE EXCEPTION 'HR corrects other people''s assessments, never their own' USING ERRCODE = 'TXDEN';
  END IF;
  SELECT x.id INTO v_pending FROM assessment.assessments x
   WHERE x.period_id = a.period_id AND x.employee_id = a.employee_id AND x.status = 'proposed';
  IF v_pending IS NOT NULL THEN
    RAISE EXCEPTION 'a correction of this assessment awaits its decision' USING ERRCODE = 'TXDUP',
      DETAIL = jsonb_build_object('existing_id', v_pending)::text;
  END IF;
  PERFORM api.check_version(p_version, a.version);
  PERFORM api.body_keys(p_body, CASE v_kind WHEN 'month' THEN ARRAY['reason', 'teamwork_rating', 'recompute']
                                            ELSE ARRAY['reason', 'supervisor_score', 'recompute'] END);
  v_reason := api.body_text(p_body, 'reason', true, 4000);
  IF v_kind = 'month' THEN
    v_rating := assessment.body_score(p_body, 'teamwork_rating', false, 1, 5, true);
  ELSE
    v_score := assessment.body_score(p_body, 'supervisor_score', false, 0, 100, false);
  END IF;
  IF p_body ? 'recompute' AND jsonb_typeof(p_body -> 'recompute') <> 'boolean' THEN
    PERFORM api.fail('TXVAL', 'recompute', 'must be true or false');
  END IF;
  v_recompute := coalesce((p_body ->> 'recompute')::boolean, false);
  IF v_rating IS NULL AND v_score IS NULL AND NOT v_recompute THEN
    PERFORM api.fail('TXVAL', 'body', CASE v_kind WHEN 'month'
      THEN 'names nothing to correct: give teamwork_rating or recompute: true'
      ELSE 'names nothing to correct: give supervisor_score or recompute: true' END);
  END IF;
  IF v_rating IS NOT NULL THEN
    v_changes := v_changes || jsonb_build_object('teamwork_rating', jsonb_build_object(
                   'from', a.teamwork_rating, 'to', v_rating::int));
  END IF;
  IF v_score IS NOT NULL THEN
    v_changes := v_changes || jsonb_build_object('supervisor_score', jsonb_build_object(
                   'from', a.supervisor_score, 'to', v_score));
  END IF;
  v_changes := v_changes || jsonb_build_object('recompute', v_recompute);

  INSERT INTO assessment.assessments (
    period_id, employee_id, revision, status, department_id, supervisor_id, employed_from,
    employed_to, formula_version, computed_at, evidence_hash, months_assessed, monthly_mean,
    composite, grade, went_well, shortcomings, self_score, self_assessed_at, teamwork_rating,
    supervisor_score, supervisor_comment, evaluated_by, evaluated_at, check_note, checked_by,
    checked_at, corrects_id, correction_reason, correction_changes, proposed_by)
  SELECT a.period_id, a.employee_id,
         (SELECT max(x.revision) + 1 FROM assessment.assessments x
           WHERE x.period_id = a.period_id AND x.employee_id = a.employee_id),
         'proposed', a.department_id, a.supervisor_id, a.employed_from, a.employed_to,
         a.formula_version, a.computed_at, a.evidence_hash, a.months_assessed, a.monthly_mean,
         a.composite, a.grade, a.went_well, a.shortcomings, a.self_score, a.self_assessed_at,
         coalesce(v_rating::int, a.teamwork_rating), coalesce(v_score, a.supervisor_score),
         a.supervisor_comment, a.evaluated_by, a.evaluated_at, a.check_note, a.checked_by,
         a.checked_at, a.id, v_reason, v_changes, tx.user_id()
  RETURNING id INTO v_new;
  INSERT INTO assessment.indicator_values (assessment_id, indicator, figure, numerator, denominator,
                                           marked, formula_version, evidence)
  SELECT v_new, i.indicator, i.figure, i.numerator, i.denominator, i.marked, i.formula_version,
         i.evidence
    FROM assessment.indicator_values i WHERE i.assessment_id = a.id;
  IF v_recompute THEN
    PERFORM assessment.compute_assessment(v_new);
  ELSE
    PERFORM assessment.score(v_new);
  END IF;
  RETURN api.assessment_json(v_new);
END
$$;
REVOKE ALL ON FUNCTION assessment.propose_correction(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.propose_correction(uuid, int, jsonb) TO tianxing_app;
CREATE OR REPLACE FUNCTION api.assessment_correction_propose(p_id uuid, p_version int, p_body jsonb)
  RETURNS json
  LANGUAGE sql
  AS $$ SELECT assessment.propose_correction(p_id, p_version, p_body) $$;
REVOKE ALL ON FUNCTION api.assessment_correction_propose(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.assessment_correction_propose(uuid, int, jsonb) TO tianxing_app;

-- POST /v1/assessments/{id}/approve (If-Match of the proposed revision): a second person (guard
-- second_person: neither the proposer nor the assessed employee) approves a correction: the
-- revision it corrects is superseded (internal move), then this one is published.
CREATE OR REPLACE FUNCTION assessment.approve_correction(p_id uuid, p_version int) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE a assessment.assessments := assessment.for_step(p_id, 'approve', p_version, true);
BEGIN
  -- the old revision leaves the live set first (one live revision per employee and period)
  PERFORM fsm.move('assessment', a.corrects_id, 'supersede',
                   format('corrected by revision %s: %s', a.revision, a.correction_reason), NULL);
  PERFORM fsm.move('assessment', a.id, 'approve', NULL,
                   jsonb_build_object('decided_by', tx.user_id(), 'decided_at', now(),
                                      'published_by', tx.user_id(), 'published_at', now()));
  RETURN api.assessment_json(a.id);
END
$$;
REVOKE ALL ON FUNCTION assessment.approve_correction(uuid, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.approve_correction(uuid, int) TO tianxing_app;
CREATE OR REPLACE FUNCTION api.assessment_correction_approve(p_id uuid, p_version int) RETURNS json
  LANGUAGE sql
  AS $$ SELECT assessment.approve_correction(p_id, p_version) $$;
REVOKE ALL ON FUNCTION api.assessment_correction_approve(uuid, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.assessment_correction_approve(uuid, int) TO tianxing_app;

-- POST /v1/assessments/{id}/reject (If-Match): {reason}; the second person rejects a correction;
-- the revision it corrects stays as it was.
CREATE OR REPLACE FUNCTION assessment.reject_correction(p_id uuid, p_version int, p_body jsonb)
  RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  a assessment.assessments := assessment.for_step(p_id, 'reject', p_version, true);
  v_reason text;
BEGIN
  PERFORM api.body_keys(p_body, ARRAY['reason']);
  v_reason := api.body_text(p_body, 'reason', true, 4000);
  PERFORM fsm.move('assessment', a.id, 'reject', v_reason,
                   jsonb_build_object('decided_by', tx.user_id(), 'decided_at', now(),
                                      'decision_reason', v_reason));
  RETURN api.assessment_json(a.id);
END
$$;
REVOKE ALL ON FUNCTION assessment.reject_correction(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.reject_correction(uuid, int, jsonb) TO tianxing_app;
CREATE OR REPLACE FUNCTION api.assessment_correction_reject(p_id uuid, p_version int, p_body jsonb)
  RETURNS json
  LANGUAGE sql
  AS $$ SELECT assessment.reject_correction(p_id, p_version, p_body) $$;
REVOKE ALL ON FUNCTION api.assessment_correction_reject(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.assessment_correction_reject(uuid, int, jsonb) TO tianxing_app;

-- Rules for every writer (triggers) -----------------------------------------------------------

-- The row version (If-Match, ETag) and updated_at follow every change; created_at never changes
-- (the list's keyset).
CREATE OR REPLACE FUNCTION assessment.assessments_touch() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.version := 1;
    NEW.created_at := now();
    NEW.updated_at := NEW.created_at;
    RETURN NEW;
  END IF;
  NEW.version := OLD.version + 1;
  NEW.created_at := OLD.created_at;
  NEW.updated_at := greatest(now(), OLD.updated_at);
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION assessment.assessments_touch() FROM PUBLIC;
CREATE OR REPLACE TRIGGER b_touch BEFORE INSERT OR UPDATE ON assessment.assessments
  FOR EACH ROW EXECUTE FUNCTION assessment.assessments_touch();

-- Q2.1: a published revision is immutable. Of a frozen row (assessment.is_frozen) only the
-- status moves on (the state machine says where), and the employee's answer is recorded, each
-- member once: acknowledged_at, the appeal and HR's decision of it. Its figures, the steps'
-- contents, the correction's record and the hash never change, and it is never deleted. An
-- evaluation fits its period: a teamwork rating for a month (Q1 團隊協作), a supervisor score for
-- a year (Q2.2). TXCON (409) for any writer, the owner's functions included.
CREATE OR REPLACE FUNCTION assessment.assessments_rules() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_moving constant text[] := ARRAY['status', 'version', 'updated_at'];
  v_answer constant text[] := ARRAY['acknowledged_at', 'appeal_reason', 'appealed_at',
                                    'appeal_decision', 'appeal_decision_reason',
                                    'appeal_decided_by', 'appeal_decided_at'];
  v_old jsonb;
  v_new jsonb;
  v_kind text;
  k text;
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF assessment.is_frozen(OLD.status) THEN
      RAISE EXCEPTION 'a published assessment is immutable (Q2.1): it cannot be deleted'
        USING ERRCODE = 'TXCON';
    END IF;
    RETURN OLD;
  END IF;
  IF TG_OP = 'UPDATE' AND assessment.is_frozen(OLD.status) THEN
    v_old := to_jsonb(OLD) - v_moving - v_answer;
    v_new := to_jsonb(NEW) - v_moving - v_answer;
    IF v_old IS DISTINCT FROM v_new THEN
      SELECT string_agg(o.key, ', ' ORDER BY o.key) INTO k
        FROM jsonb_each(v_old) o WHERE o.value IS DISTINCT FROM v_new -> o.key;
      RAISE EXCEPTION 'a published assessment is immutable (Q2.1): % cannot change; a correction is a new revision', k
        USING ERRCODE = 'TXCON';
    END IF;
    FOREACH k IN ARRAY v_answer LOOP
      IF to_jsonb(OLD) -> k <> 'null'::jsonb AND (to_jsonb(OLD) -> k) IS DISTINCT FROM (to_jsonb(NEW) -> k) THEN
        RAISE EXCEPTION 'a published assessment is immutable (Q2.1): its % is recorded once', k
          USING ERRCODE = 'TXCON';
      END IF;
    END LOOP;
    RETURN NEW;
  END IF;
  IF NEW.teamwork_rating IS NOT NULL OR NEW.supervisor_score IS NOT NULL THEN
    SELECT p.kind INTO v_kind FROM assessment.periods p WHERE p.id = NEW.period_id;
    IF v_kind = 'month' AND NEW.supervisor_score IS NOT NULL THEN
      RAISE EXCEPTION 'a monthly assessment has a teamwork rating, not a supervisor score (Q2.2)'
        USING ERRCODE = 'TXCON';
    END IF;
    IF v_kind = 'year' AND NEW.teamwork_rating IS NOT NULL THEN
      RAISE EXCEPTION 'an annual assessment has a supervisor score, not a teamwork rating (Q1)'
        USING ERRCODE = 'TXCON';
    END IF;
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION assessment.assessments_rules() FROM PUBLIC;
CREATE OR REPLACE TRIGGER a_rules BEFORE INSERT OR UPDATE OR DELETE ON assessment.assessments
  FOR EACH ROW EXECUTE FUNCTION assessment.assessments_rules();

-- The indicator rows of a published revision are as immutable as the revision (Q2.1): no row is
-- added, changed or removed once its assessment is frozen, whoever writes.
CREATE OR REPLACE FUNCTION assessment.indicator_values_rules() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE v_status text;
BEGIN
  SELECT a.status INTO v_status FROM assessment.assessments a
   WHERE a.id = CASE TG_OP WHEN 'DELETE' THEN OLD.assessment_id ELSE NEW.assessment_id END;
  IF assessment.is_frozen(v_status) THEN
    RAISE EXCEPTION 'a published assessment is immutable (Q2.1): its indicators cannot change; a correction is a new revision'
      USING ERRCODE = 'TXCON';
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.assessment_id <> OLD.assessment_id THEN
    SELECT a.status INTO v_status FROM assessment.assessments a WHERE a.id = OLD.assessment_id;
    IF assessment.is_frozen(v_status) THEN
      RAISE EXCEPTION 'a published assessment is immutable (Q2.1): its indicators cannot change'
        USING ERRCODE = 'TXCON';
    END IF;
  END IF;
  RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
REVOKE ALL ON FUNCTION assessment.indicator_values_rules() FROM PUBLIC;
CREATE OR REPLACE TRIGGER indicator_values_rules BEFORE INSERT OR UPDATE OR DELETE
  ON assessment.indicator_values
  FOR EACH ROW EXECUTE FUNCTION assessment.indicator_values_rules();
