-- Module R, part E: emergency plans and their versions (R4.1, R4.3).
--
-- A plan (risk.plans) is an identity: code, title, category, owner, how often it is drilled. Its
-- content lives in versions (risk.plan_versions): the scenarios it is for, the procedure, and the
-- steps (risk.plan_steps) with the responsible role or person and a time target (R4.1 應急處理
-- 流程和責任分工). A version is drafted, approved by a second person (never its drafter) and then
-- effective; the version it replaces is superseded in the same transaction (machine
-- 'plan_version', migration 0029). A revision (R4.3) is a new draft based on the effective
-- version, saying what changed (change_note) and citing the lessons it applies; when it takes
-- effect those lessons are marked applied in it. GET /v1/plan-versions/{id}/diff shows two
-- versions side by side: scenarios, procedure lines, steps added, removed and changed.
--
-- Everyone signed in reads plans (policy plans_read, 000_access.sql: each must know their part);
-- risk officers and admin write them, through the SECURITY DEFINER writers below.

-- Body checks ------------------------------------------------------------------------------------

-- The scenarios of a version (R4.1): 1 to 50 objects {code, description, trigger?}, codes unique.
-- Returns them normalised (only these members). 422 naming the offending member.
CREATE OR REPLACE FUNCTION risk.plan_scenarios(p jsonb) RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_out jsonb := '[]';
  s jsonb;
  i int := 0;
  v_code text;
  v_codes text[] := '{}';
  f text;
BEGIN
  IF p IS NULL OR jsonb_typeof(p) <> 'array' THEN
    PERFORM api.fail('TXVAL', 'scenarios', 'must be an array of scenarios');
  END IF;
  IF jsonb_array_length(p) NOT BETWEEN 1 AND 50 THEN
    PERFORM api.fail('TXVAL', 'scenarios', 'must hold 1 to 50 scenarios');
  END IF;
  FOR s IN SELECT x FROM jsonb_array_elements(p) x LOOP
    f := format('scenarios[%s]', i);
    IF jsonb_typeof(s) <> 'object' THEN
      PERFORM api.fail('TXVAL', f, 'must be an object {code, description, trigger?}');
    END IF;
    PERFORM api.body_keys(s, ARRAY['code', 'description', 'trigger']);
    v_code := api.body_text(s, 'code', true, 48);
    IF v_code !~ '^[a-z0-9][a-z0-9_-]{0,47}$' THEN
      PERFORM api.fail('TXVAL', f || '.code', 'is lower-case letters, digits, _ and -');
    END IF;
    IF v_code = ANY (v_codes) THEN
      PERFORM api.fail('TXVAL', f || '.code', 'appears twice');
    END IF;
    v_codes := v_codes || v_code;
    v_out := v_out || jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
               'code', v_code,
               'description', api.body_text(s, 'description', true, 2000),
               'trigger', api.body_text(s, 'trigger', false, 2000))));
    i := i + 1;
  END LOOP;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION risk.plan_scenarios(jsonb) FROM PUBLIC;

-- The steps of a version (R4.1): 1 to 200 objects {action, responsible_role | responsible_id,
-- target_minutes}, in order (seq is the position, from 1). Checked and returned normalised; 422
-- naming the offending member (steps[i].member).
CREATE OR REPLACE FUNCTION risk.plan_steps_checked(p jsonb) RETURNS jsonb
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_out jsonb := '[]';
  s jsonb;
  i int := 0;
  f text;
  v_role text;
  v_person uuid;
  v_target jsonb;
BEGIN
  IF p IS NULL OR jsonb_typeof(p) <> 'array' THEN
    PERFORM api.fail('TXVAL', 'steps', 'must be an array of steps');
  END IF;
  IF jsonb_array_length(p) NOT BETWEEN 1 AND 200 THEN
    PERFORM api.fail('TXVAL', 'steps', 'must hold 1 to 200 steps');
  END IF;
  FOR s IN SELECT x FROM jsonb_array_elements(p) x LOOP
    f := format('steps[%s]', i);
    IF jsonb_typeof(s) <> 'object' THEN
      PERFORM api.fail('TXVAL', f, 'must be an object {action, responsible_role or responsible_id, target_minutes}');
    END IF;
    PERFORM api.body_keys(s, ARRAY['action', 'responsible_role', 'responsible_id', 'target_minutes']);
    v_role := api.body_text(s, 'responsible_role', false, 20);
    v_person := api.body_uuid(s, 'responsible_id', false);
    -- R4.1 責任分工: each step has one responsible, a role or a person.
    IF (v_role IS NULL) = (v_person IS NULL) THEN
      PERFORM api.fail('TXVAL', f || '.responsible_role', 'give either responsible_role or responsible_id');
    END IF;
    IF v_role IS NOT NULL
       AND v_role NOT IN ('staff', 'supervisor', 'hr', 'risk_officer', 'auditor', 'admin') THEN
      PERFORM api.fail('TXVAL', f || '.responsible_role', 'is not a role');
    END IF;
    IF v_person IS NOT NULL
       AND NOT EXISTS (SELECT FROM org.employees e WHERE e.id = v_person AND e.active) THEN
      PERFORM api.fail('TXVAL', f || '.responsible_id', 'is not an active employee');
    END IF;
    v_target := s -> 'target_minutes';
    IF v_target IS NULL OR jsonb_typeof(v_target) <> 'number'
       OR (v_target #>> '{}') !~ '^[0-9]{1,6}$'
       OR (v_target #>> '{}')::int NOT BETWEEN 1 AND 100000 THEN
      PERFORM api.fail('TXVAL', f || '.target_minutes', 'is a whole number of minutes, 1 to 100000');
    END IF;
    v_out := v_out || jsonb_build_array(jsonb_build_object(
               'seq', i + 1,
               'action', api.body_text(s, 'action', true, 2000),
               'responsible_role', v_role, 'responsible_id', v_person,
               'target_minutes', (v_target #>> '{}')::int));
    i := i + 1;
  END LOOP;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION risk.plan_steps_checked(jsonb) FROM PUBLIC;

-- Replaces the steps of a draft by p_steps (checked by risk.plan_steps_checked).
CREATE OR REPLACE FUNCTION risk.plan_steps_put(p_version uuid, p_steps jsonb) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  DELETE FROM risk.plan_steps s WHERE s.version_id = p_version;
  INSERT INTO risk.plan_steps (version_id, seq, action, responsible_role, responsible_id, target_minutes)
  SELECT p_version, (x ->> 'seq')::int, x ->> 'action', x ->> 'responsible_role',
         (x ->> 'responsible_id')::uuid, (x ->> 'target_minutes')::int
    FROM jsonb_array_elements(p_steps) x;
END
$$;
REVOKE ALL ON FUNCTION risk.plan_steps_put(uuid, jsonb) FROM PUBLIC;

-- The lessons a revision applies (R4.3): an array of lesson ids, each a lesson of a drill or an
-- event of this plan not yet applied by an effective version nor cited by another draft.
CREATE OR REPLACE FUNCTION risk.plan_lessons_put(p_version uuid, p_lessons jsonb) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_plan uuid := (SELECT v.plan_id FROM risk.plan_versions v WHERE v.id = p_version);
  x jsonb;
  i int := 0;
  v_id uuid;
BEGIN
  IF jsonb_typeof(p_lessons) <> 'array' OR jsonb_array_length(p_lessons) > 100 THEN
    PERFORM api.fail('TXVAL', 'lesson_ids', 'must be an array of at most 100 lesson ids');
  END IF;
  DELETE FROM risk.plan_version_lessons l WHERE l.version_id = p_version;
  FOR x IN SELECT e FROM jsonb_array_elements(p_lessons) e LOOP
    v_id := api.body_uuid(jsonb_build_object(format('lesson_ids[%s]', i), x),
                          format('lesson_ids[%s]', i), true);
    IF NOT EXISTS (SELECT FROM risk.lessons l JOIN risk.exercises e ON e.id = l.exercise_id
                    WHERE l.id = v_id AND e.plan_id = v_plan) THEN
      PERFORM api.fail('TXVAL', format('lesson_ids[%s]', i), 'is not a lesson of this plan');
    END IF;
    IF EXISTS (SELECT FROM risk.lessons l WHERE l.id = v_id AND l.applied_in_id IS NOT NULL) THEN
      PERFORM api.fail('TXVAL', format('lesson_ids[%s]', i), 'is applied already by an effective version');
    END IF;
    IF EXISTS (SELECT FROM risk.plan_version_lessons pl
                 JOIN risk.plan_versions v ON v.id = pl.version_id
                WHERE pl.lesson_id = v_id AND v.status = 'draft' AND v.id <> p_version) THEN
      PERFORM api.fail('TXVAL', format('lesson_ids[%s]', i), 'is cited by another draft');
    END IF;
    INSERT INTO risk.plan_version_lessons (version_id, lesson_id) VALUES (p_version, v_id)
      ON CONFLICT DO NOTHING;
    i := i + 1;
  END LOOP;
END
$$;
REVOKE ALL ON FUNCTION risk.plan_lessons_put(uuid, jsonb) FROM PUBLIC;

-- The plan p_id as the caller sees it, or 404.
CREATE OR REPLACE FUNCTION risk.plan_found(p_id uuid) RETURNS risk.plans
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE p risk.plans;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO p FROM risk.plans x WHERE x.id = p_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such emergency plan' USING ERRCODE = 'P0002';
  END IF;
  RETURN p;
END
$$;
REVOKE ALL ON FUNCTION risk.plan_found(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.plan_found(uuid) TO tianxing_app;

CREATE OR REPLACE FUNCTION risk.plan_version_found(p_id uuid) RETURNS risk.plan_versions
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE v risk.plan_versions;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO v FROM risk.plan_versions x WHERE x.id = p_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such plan version' USING ERRCODE = 'P0002';
  END IF;
  RETURN v;
END
$$;
REVOKE ALL ON FUNCTION risk.plan_version_found(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.plan_version_found(uuid) TO tianxing_app;

-- Writers (SECURITY DEFINER; risk officers and admin) -------------------------------------------

-- POST /v1/emergency-plans (R4.1): {code, title, category, drill_every_months, owner_id?,
-- scenarios, procedure, steps}. Creates the plan and its first version, a draft (a second person
-- approves it). A code in use: 409 conflict with existing_id.
CREATE OR REPLACE FUNCTION risk.plan_create(p_body jsonb) RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_code text;
  v_category text;
  v_every jsonb;
  v_owner uuid;
  v_scenarios jsonb;
  v_steps jsonb;
  v_procedure text;
  v_title text;
  v_existing uuid;
  v_plan uuid;
  v_version uuid;
BEGIN
  PERFORM api.require_role('risk_officer', 'admin');
  PERFORM api.body_keys(p_body, ARRAY['code', 'title', 'category', 'drill_every_months', 'owner_id',
                                      'scenarios', 'procedure', 'steps']);
  v_code := api.body_text(p_body, 'code', true, 48);
  IF v_code !~ '^[a-z0-9][a-z0-9_-]{0,47}$' THEN
    PERFORM api.fail('TXVAL', 'code', 'is lower-case letters, digits, _ and - (at most 48)');
  END IF;
  v_title := api.body_text(p_body, 'title', true, 200);
  v_category := api.body_text(p_body, 'category', true, 20);
  IF v_category NOT IN ('market', 'credit', 'operational', 'other') THEN
    PERFORM api.fail('TXVAL', 'category', 'is market, credit, operational or other');
  END IF;
  v_every := p_body -> 'drill_every_months';
  IF v_every IS NULL OR jsonb_typeof(v_every) <> 'number' OR (v_every #>> '{}') !~ '^[0-9]{1,2}$'
     OR (v_every #>> '{}')::int NOT BETWEEN 1 AND 36 THEN
    PERFORM api.fail('TXVAL', 'drill_every_months', 'is a whole number of months, 1 to 36 (R4.2)');
  END IF;
  v_owner := coalesce(api.body_uuid(p_body, 'owner_id', false), tx.user_id());
  IF NOT EXISTS (SELECT FROM org.employees e WHERE e.id = v_owner AND e.active) THEN
    PERFORM api.fail('TXVAL', 'owner_id', 'is not an active employee');
  END IF;
  v_scenarios := risk.plan_scenarios(p_body -> 'scenarios');
  v_procedure := api.body_text(p_body, 'procedure', true, 20000);
  v_steps := risk.plan_steps_checked(p_body -> 'steps');
  SELECT p.id INTO v_existing FROM risk.plans p WHERE p.code = v_code;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'TXDUP',
      MESSAGE = format('the emergency plan %s exists already', v_code),
      DETAIL = jsonb_build_object('existing_id', v_existing,
                 'errors', jsonb_build_array(api.field_error('code', 'duplicate',
                                                             'a plan with this code exists')))::text;
  END IF;
  INSERT INTO risk.plans (code, title, category, drill_every_months, owner_id, created_by)
  VALUES (v_code, v_title, v_category, (v_every #>> '{}')::int, v_owner, tx.user_id())
  RETURNING id INTO v_plan;
  INSERT INTO risk.plan_versions (plan_id, number, status, scenarios, procedure, drafted_by)
  VALUES (v_plan, 1, 'draft', v_scenarios, v_procedure, tx.user_id())
  RETURNING id INTO v_version;
  PERFORM risk.plan_steps_put(v_version, v_steps);
  RETURN v_plan;
END
$$;
REVOKE ALL ON FUNCTION risk.plan_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.plan_create(jsonb) TO tianxing_app;

-- POST /v1/emergency-plans/{id}/versions (R4.3): a revision, {change_note, lesson_ids?,
-- scenarios?, procedure?, steps?}: a new draft based on the effective version; what the body
-- leaves out is copied from it. 409 conflict when the plan has no effective version yet (change
-- its first draft instead) or has a draft already (existing_id).
CREATE OR REPLACE FUNCTION risk.plan_revise(p_plan uuid, p_body jsonb) RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  p risk.plans := risk.plan_found(p_plan);
  e risk.plan_versions;
  v_draft uuid;
  v_id uuid;
  v_scenarios jsonb;
  v_steps jsonb;
BEGIN
  PERFORM api.require_role('risk_officer', 'admin');
  PERFORM api.body_keys(p_body, ARRAY['change_note', 'lesson_ids', 'scenarios', 'procedure', 'steps']);
  SELECT * INTO e FROM risk.plan_versions v WHERE v.plan_id = p.id AND v.status = 'effective';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'the plan has no effective version to revise: change and approve its draft'
      USING ERRCODE = 'TXCON';
  END IF;
  SELECT v.id INTO v_draft FROM risk.plan_versions v WHERE v.plan_id = p.id AND v.status = 'draft';
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'TXDUP',
      MESSAGE = 'the plan has a draft already: change it, or discard it first',
      DETAIL = jsonb_build_object('existing_id', v_draft)::text;
  END IF;
  v_scenarios := CASE WHEN p_body ? 'scenarios' THEN risk.plan_scenarios(p_body -> 'scenarios')
                      ELSE e.scenarios END;
  v_steps := CASE WHEN p_body ? 'steps' THEN risk.plan_steps_checked(p_body -> 'steps') END;
  INSERT INTO risk.plan_versions (plan_id, number, status, based_on_id, scenarios, procedure,
                                  change_note, drafted_by)
  VALUES (p.id, (SELECT max(v.number) + 1 FROM risk.plan_versions v WHERE v.plan_id = p.id),
          'draft', e.id, v_scenarios,
          coalesce(api.body_text(p_body, 'procedure', false, 20000), e.procedure),
          api.body_text(p_body, 'change_note', true, 4000), tx.user_id())
  RETURNING id INTO v_id;
  IF v_steps IS NULL THEN
    INSERT INTO risk.plan_steps (version_id, seq, action, responsible_role, responsible_id, target_minutes)
    SELECT v_id, s.seq, s.action, s.responsible_role, s.responsible_id, s.target_minutes
      FROM risk.plan_steps s WHERE s.version_id = e.id;
  ELSE
    PERFORM risk.plan_steps_put(v_id, v_steps);
  END IF;
  PERFORM risk.plan_lessons_put(v_id, coalesce(p_body -> 'lesson_ids', '[]'));
  RETURN v_id;
END
$$;
REVOKE ALL ON FUNCTION risk.plan_revise(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.plan_revise(uuid, jsonb) TO tianxing_app;

-- PATCH /v1/plan-versions/{id} (If-Match): a draft's scenarios, procedure, steps, change note or
-- lessons. Any other state: 409 invalid_transition (a version in force is never edited: revise).
-- The last writer of a draft becomes its drafter (drafted_by), so that the second person who
-- approves it is someone who did not write what takes effect (R4.1).
CREATE OR REPLACE FUNCTION risk.plan_version_update(p_id uuid, p_version int, p_body jsonb)
  RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v risk.plan_versions := risk.plan_version_found(p_id);
BEGIN
  PERFORM api.require_role('risk_officer', 'admin');
  IF v.status <> 'draft' THEN
    PERFORM fsm.refuse('plan_version', v.status,
                       format('only a draft is changed: this version is %s (revise the plan instead)', v.status));
  END IF;
  PERFORM api.check_version(p_version, v.version);
  PERFORM api.body_keys(p_body, ARRAY['change_note', 'lesson_ids', 'scenarios', 'procedure', 'steps']);
  IF v.number = 1 AND (p_body ? 'change_note' OR p_body ? 'lesson_ids') THEN
    PERFORM api.fail('TXVAL', CASE WHEN p_body ? 'change_note' THEN 'change_note' ELSE 'lesson_ids' END,
                     'a first version revises nothing');
  END IF;
  UPDATE risk.plan_versions x
     SET scenarios = CASE WHEN p_body ? 'scenarios' THEN risk.plan_scenarios(p_body -> 'scenarios')
                          ELSE x.scenarios END,
         procedure = CASE WHEN p_body ? 'procedure' THEN api.body_text(p_body, 'procedure', true, 20000)
                          ELSE x.procedure END,
         change_note = CASE WHEN p_body ? 'change_note' THEN api.body_text(p_body, 'change_note', true, 4000)
                            ELSE x.change_note END,
         drafted_by = tx.user_id(), version = x.version + 1, updated_at = now()
   WHERE x.id = p_id;
  IF p_body ? 'steps' THEN
    PERFORM risk.plan_steps_put(p_id, risk.plan_steps_checked(p_body -> 'steps'));
  END IF;
  IF p_body ? 'lesson_ids' THEN
    PERFORM risk.plan_lessons_put(p_id, p_body -> 'lesson_ids');
  END IF;
END
$$;
REVOKE ALL ON FUNCTION risk.plan_version_update(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.plan_version_update(uuid, int, jsonb) TO tianxing_app;

-- POST /v1/plan-versions/{id}/approve (R4.1, R4.3): {reason?}. A second person (a risk officer or
-- admin who did not draft it: 403 otherwise) makes the draft effective; the version in force is
-- superseded in the same transaction; the lessons it cites are marked applied in it.
CREATE OR REPLACE FUNCTION risk.plan_version_approve(p_id uuid, p_body jsonb) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v risk.plan_versions := risk.plan_version_found(p_id);
  v_old uuid;
  v_reason text;
BEGIN
  PERFORM api.require_role('risk_officer', 'admin');
  PERFORM api.body_keys(p_body, ARRAY['reason']);
  v_reason := api.body_text(p_body, 'reason', false, 2000);
  PERFORM fsm.transition('plan_version', v.status, 'approve');
  IF v.drafted_by = tx.user_id() THEN
    RAISE EXCEPTION 'a second person approves a plan version: you drafted this one'
      USING ERRCODE = '42501';
  END IF;
  SELECT x.id INTO v_old FROM risk.plan_versions x
   WHERE x.plan_id = v.plan_id AND x.status = 'effective' FOR UPDATE;
  IF v_old IS NOT NULL THEN
    PERFORM fsm.move('plan_version', v_old, 'supersede',
                     format('superseded by version %s', v.number),
                     jsonb_build_object('superseded_at', now()));
  END IF;
  UPDATE risk.plan_versions x SET approved_by = tx.user_id() WHERE x.id = p_id;
  PERFORM fsm.move('plan_version', p_id, 'approve', v_reason,
                   jsonb_build_object('effective_at', now(), 'updated_at', now(),
                                      'version', v.version + 1));
  UPDATE risk.lessons l SET applied_in_id = p_id
    FROM risk.plan_version_lessons pl
   WHERE pl.version_id = p_id AND pl.lesson_id = l.id;
  UPDATE risk.plans p SET updated_at = now() WHERE p.id = v.plan_id;
END
$$;
REVOKE ALL ON FUNCTION risk.plan_version_approve(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.plan_version_approve(uuid, jsonb) TO tianxing_app;

-- POST /v1/plan-versions/{id}/discard: {reason?}; a draft that will not take effect. The lessons
-- it cited are free to be cited again.
CREATE OR REPLACE FUNCTION risk.plan_version_discard(p_id uuid, p_body jsonb) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v risk.plan_versions := risk.plan_version_found(p_id);
  v_reason text;
BEGIN
  PERFORM api.require_role('risk_officer', 'admin');
  PERFORM api.body_keys(p_body, ARRAY['reason']);
  v_reason := api.body_text(p_body, 'reason', false, 2000);
  PERFORM fsm.move('plan_version', p_id, 'discard', v_reason,
                   jsonb_build_object('updated_at', now(), 'version', v.version + 1));
END
$$;
REVOKE ALL ON FUNCTION risk.plan_version_discard(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.plan_version_discard(uuid, jsonb) TO tianxing_app;

-- The API (SECURITY INVOKER: the caller reads under the policies) ------------------------------

CREATE OR REPLACE FUNCTION api.plan_step_json(s risk.plan_steps) RETURNS jsonb
  LANGUAGE sql STABLE
  AS $$
  SELECT jsonb_build_object('id', s.id, 'seq', s.seq, 'action', s.action,
                            'responsible_role', s.responsible_role,
                            'responsible_id', s.responsible_id,
                            'target_minutes', s.target_minutes)
$$;
REVOKE ALL ON FUNCTION api.plan_step_json(risk.plan_steps) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.plan_step_json(risk.plan_steps) TO tianxing_app;

-- A version: its content, steps in order, the lessons it cites (R4.3) and what the caller may do.
CREATE OR REPLACE FUNCTION api.plan_version_json(p_id uuid) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
    'id', v.id, 'plan_id', v.plan_id, 'number', v.number, 'status', v.status,
    'based_on_id', v.based_on_id, 'scenarios', v.scenarios, 'procedure', v.procedure,
    'change_note', v.change_note,
    'steps', coalesce((SELECT jsonb_agg(api.plan_step_json(s) ORDER BY s.seq)
                         FROM risk.plan_steps s WHERE s.version_id = v.id), '[]'),
    'lessons', coalesce((SELECT jsonb_agg(jsonb_build_object('id', l.id, 'exercise_id', l.exercise_id,
                                                             'lesson', l.lesson,
                                                             'recommendation', l.recommendation)
                                          ORDER BY l.at, l.id)
                           FROM risk.plan_version_lessons pl JOIN risk.lessons l ON l.id = pl.lesson_id
                          WHERE pl.version_id = v.id), '[]'),
    'drafted_by', v.drafted_by, 'approved_by', v.approved_by,
    'effective_at', api.ts(v.effective_at), 'superseded_at', api.ts(v.superseded_at),
    'allowed_actions', to_json(fsm.allowed_actions('plan_version', v.status)),
    'version', v.version, 'created_at', api.ts(v.created_at), 'updated_at', api.ts(v.updated_at))
    FROM risk.plan_versions v WHERE v.id = p_id
$$;
REVOKE ALL ON FUNCTION api.plan_version_json(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.plan_version_json(uuid) TO tianxing_app;

-- A plan: the effective version in full, the draft's id, every version in brief, and its drills
-- (R4.2): the next one scheduled by the job, whether it is overdue, the last one held; lessons of
-- its drills and events not applied by a version yet (R4.3).
CREATE OR REPLACE FUNCTION api.plan_json(p_id uuid) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
    'id', p.id, 'code', p.code, 'title', p.title, 'category', p.category,
    'drill_every_months', p.drill_every_months, 'owner_id', p.owner_id, 'created_by', p.created_by,
    'effective_version', (SELECT api.plan_version_json(v.id) FROM risk.plan_versions v
                           WHERE v.plan_id = p.id AND v.status = 'effective'),
    'draft_version_id', (SELECT v.id FROM risk.plan_versions v
                          WHERE v.plan_id = p.id AND v.status = 'draft'),
    'versions', (SELECT json_agg(json_build_object('id', v.id, 'number', v.number, 'status', v.status,
                                                   'effective_at', api.ts(v.effective_at),
                                                   'superseded_at', api.ts(v.superseded_at))
                                 ORDER BY v.number)
                   FROM risk.plan_versions v WHERE v.plan_id = p.id),
    'drills', (SELECT json_build_object(
                 'next_id', n.id, 'next_due_on', n.due_on,
                 'overdue', n.overdue_at IS NOT NULL, 'overdue_at', api.ts(n.overdue_at),
                 'last_held_at', (SELECT api.ts(max(x.ended_at)) FROM risk.exercises x
                                   WHERE x.plan_id = p.id AND x.kind = 'drill'
                                     AND x.status IN ('held', 'lessons_closed')))
                 FROM (SELECT NULL) dummy
                 LEFT JOIN risk.exercises n ON n.plan_id = p.id AND n.kind = 'drill'
                                           AND n.status = 'scheduled'),
    'lessons_pending', (SELECT count(*) FROM risk.lessons l JOIN risk.exercises x ON x.id = l.exercise_id
                         WHERE x.plan_id = p.id AND l.applied_in_id IS NULL),
    'version', p.version, 'created_at', api.ts(p.created_at), 'updated_at', api.ts(p.updated_at))
    FROM risk.plans p WHERE p.id = p_id
$$;
REVOKE ALL ON FUNCTION api.plan_json(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.plan_json(uuid) TO tianxing_app;

-- GET /v1/emergency-plans?category=&limit=&cursor= (everyone signed in): by code; keyset, the
-- cursor is the last item's code.
CREATE OR REPLACE FUNCTION api.plan_list(p_category text, p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_out json;
BEGIN
  PERFORM api.require_user();
  IF p_category IS NOT NULL AND p_category NOT IN ('market', 'credit', 'operational', 'other') THEN
    PERFORM api.fail('TXVAL', 'category', 'is market, credit, operational or other');
  END IF;
  IF p_cursor IS NOT NULL AND p_cursor !~ '^[a-z0-9][a-z0-9_-]{0,47}$' THEN
    PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
  END IF;
  SELECT json_build_object(
           'items', coalesce(json_agg(api.plan_json(x.id) ORDER BY x.code) FILTER (WHERE x.rn <= v_limit), '[]'),
           'next_cursor', CASE WHEN count(*) > v_limit THEN max(x.code) FILTER (WHERE x.rn = v_limit) END)
    INTO v_out
    FROM (SELECT p.id, p.code, row_number() OVER (ORDER BY p.code) AS rn
            FROM risk.plans p
           WHERE (p_category IS NULL OR p.category = p_category)
             AND (p_cursor IS NULL OR p.code > p_cursor)
           ORDER BY p.code
           LIMIT v_limit + 1) x;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.plan_list(text, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.plan_list(text, int, text) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.plan_get(p_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  PERFORM risk.plan_found(p_id);
  RETURN api.plan_json(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.plan_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.plan_get(uuid) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.plan_create(p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE v uuid;
BEGIN
  -- two statements: the JSON is read after the write, and so sees it
  v := risk.plan_create(p_body);
  RETURN api.plan_json(v);
END
$$;
REVOKE ALL ON FUNCTION api.plan_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.plan_create(jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.plan_revise(p_plan uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE v uuid;
BEGIN
  -- two statements: the JSON is read after the write, and so sees it
  v := risk.plan_revise(p_plan, p_body);
  RETURN api.plan_version_json(v);
END
$$;
REVOKE ALL ON FUNCTION api.plan_revise(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.plan_revise(uuid, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.plan_version_get(p_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  PERFORM risk.plan_version_found(p_id);
  RETURN api.plan_version_json(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.plan_version_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.plan_version_get(uuid) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.plan_version_update(p_id uuid, p_version int, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM risk.plan_version_update(p_id, p_version, p_body);
  RETURN api.plan_version_json(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.plan_version_update(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.plan_version_update(uuid, int, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.plan_version_approve(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM risk.plan_version_approve(p_id, p_body);
  RETURN api.plan_version_json(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.plan_version_approve(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.plan_version_approve(uuid, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.plan_version_discard(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM risk.plan_version_discard(p_id, p_body);
  RETURN api.plan_version_json(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.plan_version_discard(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.plan_version_discard(uuid, jsonb) TO tianxing_app;

-- The diff (R4.3: what a revision changed, readable) ------------------------------------------
-- Steps are matched first by their action text (a step kept, perhaps moved, retimed or handed to
-- someone else), then what is left by position (a step whose wording changed); the rest were
-- added or removed. Scenarios are matched by code. The procedure is compared line by line: the
-- lines only the old version has (removed) and only the new one has (added), in order.
CREATE OR REPLACE FUNCTION api.plan_version_diff(p_id uuid, p_against uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  n risk.plan_versions := risk.plan_version_found(p_id);
  o risk.plan_versions;
  v_against uuid := coalesce(p_against, n.based_on_id);
  v_steps jsonb;
BEGIN
  IF v_against IS NULL THEN
    PERFORM api.fail('TXVAL', 'against', 'is required: this version is based on no other');
  END IF;
  SELECT * INTO o FROM risk.plan_versions x WHERE x.id = v_against;
  IF NOT FOUND OR o.plan_id <> n.plan_id THEN
    PERFORM api.fail('TXVAL', 'against', 'is not a version of the same plan');
  END IF;
  -- old and new steps; a pairing by action text, then by seq among those left
  WITH os AS (SELECT * FROM risk.plan_steps s WHERE s.version_id = o.id),
       ns AS (SELECT * FROM risk.plan_steps s WHERE s.version_id = n.id),
       by_text AS (
         SELECT a.id AS old_id, b.id AS new_id
           FROM (SELECT os.*, row_number() OVER (PARTITION BY os.action ORDER BY os.seq) AS k FROM os) a
           JOIN (SELECT ns.*, row_number() OVER (PARTITION BY ns.action ORDER BY ns.seq) AS k FROM ns) b
             ON a.action = b.action AND a.k = b.k),
       by_seq AS (
         SELECT a.id AS old_id, b.id AS new_id
           FROM os a JOIN ns b ON a.seq = b.seq
          WHERE a.id NOT IN (SELECT old_id FROM by_text) AND b.id NOT IN (SELECT new_id FROM by_text)),
       pairs AS (SELECT * FROM by_text UNION ALL SELECT * FROM by_seq),
       changed AS (
         SELECT a.seq AS old_seq, b.seq AS new_seq, api.plan_step_json(a) AS old, api.plan_step_json(b) AS new,
                array_remove(ARRAY[
                  CASE WHEN a.seq <> b.seq THEN 'seq' END,
                  CASE WHEN a.action <> b.action THEN 'action' END,
                  CASE WHEN a.responsible_role IS DISTINCT FROM b.responsible_role THEN 'responsible_role' END,
                  CASE WHEN a.responsible_id IS DISTINCT FROM b.responsible_id THEN 'responsible_id' END,
                  CASE WHEN a.target_minutes <> b.target_minutes THEN 'target_minutes' END], NULL) AS fields
           FROM pairs p JOIN os a ON a.id = p.old_id JOIN ns b ON b.id = p.new_id)
  SELECT jsonb_build_object(
           'added', coalesce((SELECT jsonb_agg(api.plan_step_json(b) ORDER BY b.seq) FROM ns b
                               WHERE b.id NOT IN (SELECT new_id FROM pairs)), '[]'),
           'removed', coalesce((SELECT jsonb_agg(api.plan_step_json(a) ORDER BY a.seq) FROM os a
                                 WHERE a.id NOT IN (SELECT old_id FROM pairs)), '[]'),
           'changed', coalesce((SELECT jsonb_agg(jsonb_build_object('old', c.old, 'new', c.new,
                                                                    'fields', to_jsonb(c.fields))
                                                 ORDER BY c.new_seq)
                                  FROM changed c WHERE cardinality(c.fields) > 0), '[]'),
           'unchanged', (SELECT count(*) FROM changed c WHERE cardinality(c.fields) = 0))
    INTO v_steps;
  RETURN json_build_object(
    'plan_id', n.plan_id,
    'from', json_build_object('id', o.id, 'number', o.number, 'status', o.status),
    'to', json_build_object('id', n.id, 'number', n.number, 'status', n.status,
                            'change_note', n.change_note),
    'scenarios', json_build_object(
      'added', coalesce((SELECT jsonb_agg(b ORDER BY b ->> 'code') FROM jsonb_array_elements(n.scenarios) b
                          WHERE NOT EXISTS (SELECT FROM jsonb_array_elements(o.scenarios) a
                                             WHERE a ->> 'code' = b ->> 'code')), '[]'),
      'removed', coalesce((SELECT jsonb_agg(a ORDER BY a ->> 'code') FROM jsonb_array_elements(o.scenarios) a
                            WHERE NOT EXISTS (SELECT FROM jsonb_array_elements(n.scenarios) b
                                               WHERE a ->> 'code' = b ->> 'code')), '[]'),
      'changed', coalesce((SELECT jsonb_agg(jsonb_build_object('code', a ->> 'code', 'old', a, 'new', b)
                                            ORDER BY a ->> 'code')
                             FROM jsonb_array_elements(o.scenarios) a
                             JOIN jsonb_array_elements(n.scenarios) b ON a ->> 'code' = b ->> 'code'
                            WHERE a <> b), '[]')),
    'procedure', json_build_object(
      'changed', o.procedure <> n.procedure,
      'removed_lines', coalesce((SELECT jsonb_agg(l.t ORDER BY l.i)
                                   FROM unnest(string_to_array(o.procedure, E'\n')) WITH ORDINALITY l(t, i)
                                  WHERE NOT l.t = ANY (string_to_array(n.procedure, E'\n'))), '[]'),
      'added_lines', coalesce((SELECT jsonb_agg(l.t ORDER BY l.i)
                                 FROM unnest(string_to_array(n.procedure, E'\n')) WITH ORDINALITY l(t, i)
                                WHERE NOT l.t = ANY (string_to_array(o.procedure, E'\n'))), '[]')),
    'steps', v_steps,
    'lessons', (api.plan_version_json(n.id) -> 'lessons'));
END
$$;
REVOKE ALL ON FUNCTION api.plan_version_diff(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.plan_version_diff(uuid, uuid) TO tianxing_app;
