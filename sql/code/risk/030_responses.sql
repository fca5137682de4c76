-- Module R, part A: risk responses (R2.1) and operational measures (R2.4). A response is avoid,
-- reduce, transfer or accept, with an owner, a due date, a status and an effectiveness review;
-- accepting needs a second person's approval (it starts proposed); a level at or above
-- risk_response_rules.required_from_level must have one (the risk's treat and close guards,
-- 010_guards.sql; response_missing in its JSON; the job flags the overdue ones). R2.4: an
-- operational measure links the business-type revision (procedure and control change) and the
-- training plan (Q4) it consists of; a training plan is made for a risk here.

CREATE OR REPLACE TRIGGER responses_touch BEFORE UPDATE ON risk.responses
  FOR EACH ROW EXECUTE FUNCTION org.touch();

-- Every writer: a response's links are the risk's (R2.4): a training plan made for another risk
-- is not this one's measure.
CREATE OR REPLACE FUNCTION risk.responses_check() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF NEW.training_plan_id IS NOT NULL AND NOT EXISTS (
       SELECT FROM assessment.training_plans t
        WHERE t.id = NEW.training_plan_id AND t.risk_id = NEW.risk_id) THEN
    RAISE EXCEPTION 'a response''s training plan is one made for its risk (R2.4)' USING ERRCODE = 'TXCON';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION risk.responses_check() FROM PUBLIC;
CREATE OR REPLACE TRIGGER responses_check BEFORE INSERT OR UPDATE ON risk.responses
  FOR EACH ROW EXECUTE FUNCTION risk.responses_check();

CREATE OR REPLACE FUNCTION api.risk_response_json(s risk.responses) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
           'id', s.id, 'risk_id', s.risk_id, 'strategy', s.strategy, 'description', s.description,
           'owner_id', s.owner_id, 'due_on', to_char(s.due_on, 'YYYY-MM-DD'), 'status', s.status,
           'business_type_version_id', s.business_type_version_id,
           'training_plan_id', s.training_plan_id,
           'proposed_by', s.proposed_by, 'approved_by', s.approved_by,
           'approved_at', api.ts(s.approved_at), 'done_at', api.ts(s.done_at),
           'done_note', s.done_note, 'effectiveness', s.effectiveness,
           'effectiveness_note', s.effectiveness_note, 'reviewed_by', s.reviewed_by,
           'reviewed_at', api.ts(s.reviewed_at), 'cancel_reason', s.cancel_reason,
           'overdue_at', api.ts(s.overdue_at),
           'overdue', s.status IN ('proposed', 'planned', 'in_progress') AND s.due_on < org.company_date(),
           'allowed_actions', fsm.allowed_actions('risk_response', s.status),
           'version', s.version, 'created_at', api.ts(s.created_at), 'updated_at', api.ts(s.updated_at))
$$;
REVOKE ALL ON FUNCTION api.risk_response_json(risk.responses) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_response_json(risk.responses) TO tianxing_app;

-- GET /v1/risks/{id}/responses: the risk's responses the caller may read, oldest first.
CREATE OR REPLACE FUNCTION api.risk_responses(p_risk uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  PERFORM api.require_user();
  IF NOT EXISTS (SELECT FROM risk.risks r WHERE r.id = p_risk) THEN
    RAISE EXCEPTION 'no such risk' USING ERRCODE = 'P0002';
  END IF;
  RETURN json_build_object(
    'items', (SELECT coalesce(json_agg(api.risk_response_json(s) ORDER BY s.created_at, s.id), '[]'::json)
                FROM risk.responses s WHERE s.risk_id = p_risk));
END
$$;
REVOKE ALL ON FUNCTION api.risk_responses(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_responses(uuid) TO tianxing_app;

-- GET /v1/risk-responses/{id}: its owner, and whoever reads its risk.
CREATE OR REPLACE FUNCTION api.risk_response_get(p_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE s risk.responses;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO s FROM risk.responses x WHERE x.id = p_id;
  IF s.id IS NULL THEN
    RAISE EXCEPTION 'no such risk response' USING ERRCODE = 'P0002';
  END IF;
  RETURN api.risk_response_json(s);
END
$$;
REVOKE ALL ON FUNCTION api.risk_response_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_response_get(uuid) TO tianxing_app;

-- POST /v1/risks/{id}/responses (R2.1): a manager of the risk (risk officer, admin, its
-- department's supervisor) plans a response to an assessed (or treated) risk: {strategy (avoid,
-- reduce, transfer, accept), description, owner_id? (default the caller; an active employee),
-- due_on? (default today + risk_response_rules.due_days; not in the past),
-- business_type_version_id?, training_plan_id? (R2.4: a plan made for this risk)}. Accepting
-- starts proposed (a second person approves it); the others start planned.
CREATE OR REPLACE FUNCTION risk.response_add(p_risk uuid, p_body jsonb) RETURNS risk.responses
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_me uuid := api.require_user();
  r risk.risks;
  s risk.responses;
BEGIN
  r := risk.risk_for_write(p_risk);
  IF NOT risk.manages_risk(p_risk) THEN
    RAISE EXCEPTION 'a response is planned by a risk officer, admin or the risk''s department''s supervisor (R2.1)'
      USING ERRCODE = '42501';
  END IF;
  IF r.status NOT IN ('assessed', 'treated') THEN
    PERFORM fsm.refuse('risk', r.status,
                       format('a response is planned for an assessed risk; this one is %s (R1.2, R2.1)', r.status));
  END IF;
  PERFORM api.body_keys(p_body, ARRAY['strategy', 'description', 'owner_id', 'due_on',
                                      'business_type_version_id', 'training_plan_id']);
  s.strategy := risk.body_enum(p_body, 'strategy', true, ARRAY['avoid', 'reduce', 'transfer', 'accept']);
  s.description := api.body_text(p_body, 'description', true, 4000);
  s.owner_id := coalesce(api.body_uuid(p_body, 'owner_id', false), v_me);
  IF NOT EXISTS (SELECT FROM org.employees e WHERE e.id = s.owner_id AND e.active) THEN
    PERFORM api.fail('TXVAL', 'owner_id', 'is not an active employee');
  END IF;
  s.due_on := coalesce(api.body_date(p_body, 'due_on', false),
                       org.company_date() + (org.policy_value('risk_response_rules') ->> 'due_days')::int);
  IF s.due_on < org.company_date() THEN
    PERFORM api.fail('TXVAL', 'due_on', 'must not be in the past');
  END IF;
  s.business_type_version_id := api.body_uuid(p_body, 'business_type_version_id', false);
  IF s.business_type_version_id IS NOT NULL AND NOT EXISTS (
       SELECT FROM cases.business_type_versions v WHERE v.id = s.business_type_version_id) THEN
    PERFORM api.fail('TXVAL', 'business_type_version_id', 'is not a business type version');
  END IF;
  s.training_plan_id := api.body_uuid(p_body, 'training_plan_id', false);
  IF s.training_plan_id IS NOT NULL AND NOT EXISTS (
       SELECT FROM assessment.training_plans t WHERE t.id = s.training_plan_id AND t.risk_id = p_risk) THEN
    PERFORM api.fail('TXVAL', 'training_plan_id', 'is not a training plan made for this risk (R2.4)');
  END IF;
  INSERT INTO risk.responses (risk_id, strategy, description, owner_id, due_on, status,
                              business_type_version_id, training_plan_id, proposed_by)
  VALUES (p_risk, s.strategy, s.description, s.owner_id, s.due_on,
          CASE WHEN s.strategy = 'accept' THEN 'proposed' ELSE 'planned' END,
          s.business_type_version_id, s.training_plan_id, v_me)
  RETURNING * INTO s;
  RETURN s;
END
$$;
REVOKE ALL ON FUNCTION risk.response_add(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.response_add(uuid, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.risk_response_create(p_risk uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE s risk.responses := risk.response_add(p_risk, p_body);
BEGIN
  RETURN api.risk_response_get(s.id);
END
$$;
REVOKE ALL ON FUNCTION api.risk_response_create(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_response_create(uuid, jsonb) TO tianxing_app;

-- POST /v1/risk-responses/{id}/approve|start|complete|review|cancel (machine risk_response,
-- migration 0029; guards in 010_guards.sql). What the guard needs is recorded on the row first,
-- then the response moves (guards read the row before the move; a refusal rolls both back):
-- approve {note?}: approved_by = the caller, not the proposer (R2.1 accepting needs a second
-- person); start {note?}: its owner or the risk's manager; complete {note}: what was done;
-- review {effectiveness (effective, partly_effective, ineffective), note?}: a manager of the
-- risk other than the owner; cancel {reason}. Order: 404, 403 (role), 409 (state, guard), 422.
CREATE OR REPLACE FUNCTION risk.response_move(p_id uuid, p_action text, p_body jsonb) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_me uuid := api.require_user();
  s risk.responses;
  v_tr fsm.transitions;
  v_text text;
  v_eff text;
BEGIN
  SELECT * INTO s FROM risk.responses x WHERE x.id = p_id FOR UPDATE;
  IF s.id IS NULL OR NOT (s.owner_id = v_me OR risk.may_read(s.risk_id)) THEN
    RAISE EXCEPTION 'no such risk response' USING ERRCODE = 'P0002';
  END IF;
  v_tr := fsm.transition('risk_response', s.status, p_action);  -- 42501 role, 409 state
  IF p_action = 'approve' THEN
    IF s.proposed_by = v_me THEN  -- the CHECK would say it less clearly
      PERFORM fsm.refuse('risk_response', s.status,
                         'approve is not possible: the guard risk.response_second_person refused ('
                         || obj_description('risk.response_second_person(uuid)'::regprocedure, 'pg_proc') || ')',
                         'risk.response_second_person');
    END IF;
    PERFORM api.body_keys(p_body, ARRAY['note']);
    v_text := api.body_text(p_body, 'note', false, 1000);
    UPDATE risk.responses x SET approved_by = v_me, approved_at = now() WHERE x.id = p_id;
    PERFORM fsm.move('risk_response', p_id, 'approve', v_text);
  ELSIF p_action = 'start' THEN
    PERFORM fsm.check_guard(v_tr, p_id);
    PERFORM api.body_keys(p_body, ARRAY['note']);
    PERFORM fsm.move('risk_response', p_id, 'start', api.body_text(p_body, 'note', false, 1000));
  ELSIF p_action = 'complete' THEN
    IF NOT (s.owner_id = v_me OR risk.manages_risk(s.risk_id)) THEN
      PERFORM fsm.refuse('risk_response', s.status,
                         'complete is not possible: the guard risk.response_completable refused ('
                         || obj_description('risk.response_completable(uuid)'::regprocedure, 'pg_proc') || ')',
                         'risk.response_completable');
    END IF;
    PERFORM api.body_keys(p_body, ARRAY['note']);
    v_text := api.body_text(p_body, 'note', true, 4000);
    UPDATE risk.responses x SET done_note = v_text WHERE x.id = p_id;
    PERFORM fsm.move('risk_response', p_id, 'complete', NULL, jsonb_build_object('done_at', now()));
  ELSIF p_action = 'review' THEN
    IF s.owner_id = v_me OR NOT risk.manages_risk(s.risk_id) THEN
      PERFORM fsm.refuse('risk_response', s.status,
                         'review is not possible: the guard risk.response_reviewable refused ('
                         || obj_description('risk.response_reviewable(uuid)'::regprocedure, 'pg_proc') || ')',
                         'risk.response_reviewable');
    END IF;
    PERFORM api.body_keys(p_body, ARRAY['effectiveness', 'note']);
    v_eff := risk.body_enum(p_body, 'effectiveness', true,
                            ARRAY['effective', 'partly_effective', 'ineffective']);
    v_text := api.body_text(p_body, 'note', false, 4000);
    UPDATE risk.responses x
       SET effectiveness = v_eff, effectiveness_note = v_text, reviewed_by = v_me, reviewed_at = now()
     WHERE x.id = p_id;
    PERFORM fsm.move('risk_response', p_id, 'review', v_text);
  ELSE  -- cancel
    IF NOT risk.manages_risk(s.risk_id) THEN
      PERFORM fsm.refuse('risk_response', s.status,
                         'cancel is not possible: the guard risk.response_manager refused ('
                         || obj_description('risk.response_manager(uuid)'::regprocedure, 'pg_proc') || ')',
                         'risk.response_manager');
    END IF;
    PERFORM api.body_keys(p_body, ARRAY['reason']);
    v_text := api.body_text(p_body, 'reason', true, 2000);
    UPDATE risk.responses x SET cancel_reason = v_text WHERE x.id = p_id;
    PERFORM fsm.move('risk_response', p_id, 'cancel', v_text);
  END IF;
END
$$;
REVOKE ALL ON FUNCTION risk.response_move(uuid, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.response_move(uuid, text, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.risk_response_move(p_id uuid, p_action text, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM risk.response_move(p_id, p_action, p_body);
  RETURN api.risk_response_get(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.risk_response_move(uuid, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_response_move(uuid, text, jsonb) TO tianxing_app;

-- POST /v1/risks/{id}/training-plans (R2.4 提高員工風險意識和操作技能): a training plan made
-- for the risk (assessment.training_plans, source 'risk', risk_id), {employee_id, topic, goal,
-- due_on}. By a manager of the risk; a supervisor for their own reports (who else would agree
-- it, Q4). Written by a manager, it starts agreed. A response then cites it (training_plan_id).
CREATE OR REPLACE FUNCTION risk.training_plan_for(p_risk uuid, p_body jsonb) RETURNS assessment.training_plans
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_me uuid := api.require_user();
  t assessment.training_plans;
BEGIN
  IF NOT risk.may_read(p_risk) THEN
    RAISE EXCEPTION 'no such risk' USING ERRCODE = 'P0002';
  END IF;
  IF NOT risk.manages_risk(p_risk) THEN
    RAISE EXCEPTION 'a training plan for a risk is made by a manager of the risk (R2.4)' USING ERRCODE = '42501';
  END IF;
  PERFORM api.body_keys(p_body, ARRAY['employee_id', 'topic', 'goal', 'due_on']);
  t.employee_id := api.body_uuid(p_body, 'employee_id', true);
  IF NOT EXISTS (SELECT FROM org.employees e WHERE e.id = t.employee_id AND e.active) THEN
    PERFORM api.fail('TXVAL', 'employee_id', 'is not an active employee');
  END IF;
  IF t.employee_id = v_me THEN
    PERFORM api.fail('TXVAL', 'employee_id', 'nobody writes their own training plan (Q4)');
  END IF;
  IF NOT risk.is_manager() AND NOT assessment.is_report(t.employee_id) THEN
    RAISE EXCEPTION 'a supervisor makes training plans for their own reports (Q4)' USING ERRCODE = '42501';
  END IF;
  t.topic := api.body_text(p_body, 'topic', true, 200);
  t.goal := api.body_text(p_body, 'goal', true, 2000);
  t.due_on := api.body_date(p_body, 'due_on', true);
  IF t.due_on < org.company_date() THEN
    PERFORM api.fail('TXVAL', 'due_on', 'must not be in the past');
  END IF;
  INSERT INTO assessment.training_plans (employee_id, status, source, risk_id, topic, goal, due_on, created_by)
  VALUES (t.employee_id, 'agreed', 'risk', p_risk, t.topic, t.goal, t.due_on, v_me)
  RETURNING * INTO t;
  RETURN t;
END
$$;
REVOKE ALL ON FUNCTION risk.training_plan_for(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.training_plan_for(uuid, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.risk_training_plan_create(p_risk uuid, p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT api.training_plan_json(risk.training_plan_for(p_risk, p_body)) $$;
REVOKE ALL ON FUNCTION api.risk_training_plan_create(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_training_plan_create(uuid, jsonb) TO tianxing_app;
