-- Module P, part B (P1.1-P2.1): a case from the customer's request to the start of work.
--   POST /v1/cases                      request (P1.1)                 api.case_create
--   POST /v1/cases/{id}/assess          scope assessment (P1.2)        api.case_assess
--   PUT  /v1/cases/{id}/intake          intake form (P1.3)             api.case_intake
--   POST /v1/cases/{id}/submit          to the supervisor (P1.4)       api.case_submit
--   POST /v1/cases/{id}/approve|reject|return   the decision (P1.4)    api.case_decide
--   POST /v1/cases/{id}/assignments     person or team, starts (P2.1)  api.case_assign
--   POST /v1/cases/{id}/cancel          the customer withdraws         api.case_cancel
--   GET  /v1/case-facts                 HR's facts, no free text       api.case_facts
--   GET  /v1/cases, /v1/cases/{id}, /v1/cases/{id}/transitions
-- Writes are cases.case_* functions, SECURITY DEFINER (owner; search_path pinned, names
-- qualified), called by api.case_* of the same name (api functions run as their caller, a rule
-- of the project checked by sql/tests/org.sql): each first finds the
-- case as the caller sees it (cases.may_read, else 404), checks the role and the person, then
-- writes; the state changes only by fsm.move. The rules also hold as triggers for every writer
-- (035_intake_rules.sql). Reads run as the caller, under the policies of 000_access.sql.
--
-- Who does what (decisions of part B, documented in contract/cases/paths.yaml):
--   * receive (P1.1): staff or supervisor with a department; the case belongs to that department.
--   * assess, fill in the intake form, submit (P1.2-P1.4): staff or supervisor "on the intake
--     side": the receiver, the preparer of the form, or a supervisor of the case's department.
--   * approve, reject, return (P1.4): a supervisor of the case's department who did not prepare
--     the intake form (approver != preparer, as the regulation says; the receiver may approve
--     the form somebody else prepared).
--   * assign (P2.1): only a supervisor of the case's department (the regulation gives the
--     arrangement of the work to the business supervisor; admin does not assign).

-- Guards of the machine `case` (named by fsm.transitions, migration 0018) -----------------------

CREATE OR REPLACE FUNCTION cases.intake_complete(p_case uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((SELECT c.requirements IS NOT NULL AND c.business_type_id IS NOT NULL
                          AND c.type_version_id IS NOT NULL AND c.customer_snapshot IS NOT NULL
                     FROM cases.cases c WHERE c.id = p_case), false)
$$;
COMMENT ON FUNCTION cases.intake_complete(uuid) IS
  'the intake form is filled in first (PUT /v1/cases/{id}/intake: requirements, business type; the customer snapshot is taken then)';
REVOKE ALL ON FUNCTION cases.intake_complete(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.intake_complete(uuid) TO tianxing_app;

CREATE OR REPLACE FUNCTION cases.approver_independent(p_case uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((SELECT tx.has_role('supervisor')
                          AND e.active AND 'supervisor' = ANY (e.roles)
                          AND e.department_id = c.department_id
                          AND e.id IS DISTINCT FROM c.prepared_by
                     FROM cases.cases c, org.employees e
                    WHERE c.id = p_case AND e.id = tx.user_id()), false)
$$;
COMMENT ON FUNCTION cases.approver_independent(uuid) IS
  'the approver is a supervisor of the case''s department who did not prepare its intake form (P1.4)';
REVOKE ALL ON FUNCTION cases.approver_independent(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.approver_independent(uuid) TO tianxing_app;

CREATE OR REPLACE FUNCTION cases.has_assignment(p_case uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT EXISTS (SELECT FROM cases.assignments a
                  WHERE a.case_id = p_case AND a.ended_at IS NULL AND a.role = 'lead')
$$;
COMMENT ON FUNCTION cases.has_assignment(uuid) IS
  'the work is assigned first, with a lead (POST /v1/cases/{id}/assignments)';
REVOKE ALL ON FUNCTION cases.has_assignment(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.has_assignment(uuid) TO tianxing_app;

-- Helpers ----------------------------------------------------------------------------------------

-- The case p_id as the caller sees it, locked for the change the caller's function makes; 404
-- (P0002) when it does not exist or the caller may not see it (cases.may_read runs with the
-- caller's claims). Called from the SECURITY DEFINER api functions below.
CREATE OR REPLACE FUNCTION cases.find(p_id uuid) RETURNS cases.cases
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE c cases.cases;
BEGIN
  IF p_id IS NULL OR NOT cases.may_read(p_id) THEN
    RAISE EXCEPTION 'no such case' USING ERRCODE = 'P0002';
  END IF;
  SELECT * INTO c FROM cases.cases x WHERE x.id = p_id FOR UPDATE;
  RETURN c;
END
$$;
REVOKE ALL ON FUNCTION cases.find(uuid) FROM PUBLIC;

-- The caller is on the intake side of case c (P1.2-P1.4): its receiver, the preparer of its form,
-- or a supervisor of its department. TXDEN (403 with this message) otherwise.
CREATE OR REPLACE FUNCTION cases.require_intake_side(c cases.cases, p_step text) RETURNS void
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF NOT (tx.user_id() = c.received_by OR tx.user_id() IS NOT DISTINCT FROM c.prepared_by
          OR (tx.has_role('supervisor') AND tx.department_id() = c.department_id)) THEN
    RAISE EXCEPTION '%: only the receiver of the request, the preparer of the intake form or a supervisor of the case''s department may do this', p_step
      USING ERRCODE = 'TXDEN';
  END IF;
END
$$;
REVOKE ALL ON FUNCTION cases.require_intake_side(cases.cases, text) FROM PUBLIC;

-- The caller is an active supervisor of case c's department (P1.4, P2.1). TXDEN otherwise.
CREATE OR REPLACE FUNCTION cases.require_department_supervisor(c cases.cases, p_step text)
  RETURNS void
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF NOT (tx.has_role('supervisor') AND EXISTS (
            SELECT FROM org.employees e
             WHERE e.id = tx.user_id() AND e.active AND 'supervisor' = ANY (e.roles)
               AND e.department_id = c.department_id)) THEN
    RAISE EXCEPTION '%: only a supervisor of the case''s department may do this', p_step
      USING ERRCODE = 'TXDEN';
  END IF;
END
$$;
REVOKE ALL ON FUNCTION cases.require_department_supervisor(cases.cases, text) FROM PUBLIC;

-- (Timestamp members: api.body_timestamp, sql/code/kit/020_body.sql.)

-- (Boolean members: api.body_bool, sql/code/kit/020_body.sql; the copy that was here went there.)
DROP FUNCTION IF EXISTS cases.body_bool(jsonb, text, boolean);

-- The current version of a business type a case may be filed under (P1.2: active, in scope);
-- TXVAL naming p_field otherwise.
CREATE OR REPLACE FUNCTION cases.current_type_version(p_type uuid, p_field text) RETURNS uuid
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE v uuid;
BEGIN
  IF NOT EXISTS (SELECT FROM cases.business_types t WHERE t.id = p_type) THEN
    PERFORM api.fail('TXVAL', p_field, 'no such business type');
  END IF;
  SELECT v2.id INTO v
    FROM cases.business_types t
    JOIN cases.business_type_versions v2
      ON v2.business_type_id = t.id AND v2.version = t.current_version
   WHERE t.id = p_type AND t.active AND t.in_scope;
  IF v IS NULL THEN
    PERFORM api.fail('TXVAL', p_field,
                     'the business type is not active, not within the company''s scope, or has no current version');
  END IF;
  RETURN v;
END
$$;
REVOKE ALL ON FUNCTION cases.current_type_version(uuid, text) FROM PUBLIC;

-- The customer's non-PII fields at this moment (P1.3: the form keeps what the customer was, so
-- the archive stays stable). No address, credit code or contacts.
CREATE OR REPLACE FUNCTION cases.customer_snapshot(p_customer uuid) RETURNS jsonb
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT jsonb_build_object('id', c.id, 'name', c.name, 'company_name', c.company_name,
                            'business_scope', c.business_scope, 'status', c.status,
                            'tags', to_jsonb(c.tags), 'source', c.source,
                            'taken_at', api.ts(now()))
    FROM cust.customers c WHERE c.id = p_customer
$$;
REVOKE ALL ON FUNCTION cases.customer_snapshot(uuid) FROM PUBLIC;

-- The document of a case -------------------------------------------------------------------------

-- GET /v1/cases/{id} and the answer of every action on a case (other parts return it too). Runs
-- as its caller: NULL when the caller may not see the case (404). allowed_actions: the moves the
-- machine `case` offers from the current state to the caller's roles (guards and the person are
-- checked when the action is asked for).
CREATE OR REPLACE FUNCTION api.case_json(p_id uuid) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
           'id', c.id,
           'status', c.status,
           'customer_id', c.customer_id,
           'department_id', c.department_id,
           'request', json_build_object(
              'customer_id', c.customer_id, 'raised_at', api.ts(c.raised_at),
              'received_by', c.received_by, 'received_at', api.ts(c.received_at),
              'channel', c.channel, 'need', c.need),
           'scope', CASE WHEN c.in_scope IS NOT NULL THEN json_build_object(
              'in_scope', c.in_scope, 'reason', c.scope_reason,
              'assessed_by', c.scope_by, 'assessed_at', api.ts(c.scope_at)) END,
           'business_type_id', c.business_type_id,
           'type_version_id', c.type_version_id,
           'business_type', (SELECT json_build_object('id', t.id, 'code', t.code, 'name', t.name,
                                                      'version', v.version)
                               FROM cases.business_types t
                               JOIN cases.business_type_versions v ON v.id = c.type_version_id
                              WHERE t.id = c.business_type_id),
           'intake', CASE WHEN c.prepared_by IS NOT NULL THEN json_build_object(
              'requirements', c.requirements, 'expected_on', c.expected_on,
              'customer_snapshot', c.customer_snapshot,
              'prepared_by', c.prepared_by, 'prepared_at', api.ts(c.prepared_at)) END,
           'submitted_at', api.ts(c.submitted_at),
           'approved_by', c.approved_by,
           'approved_at', api.ts(c.approved_at),
           'approvals', (SELECT coalesce(json_agg(json_build_object(
                                   'id', a.id, 'decision', a.decision, 'comment', a.comment,
                                   'decided_by', a.decided_by, 'decided_at', api.ts(a.decided_at))
                                 ORDER BY a.decided_at, a.id), '[]'::json)
                           FROM cases.approvals a WHERE a.case_id = c.id),
           'assignments', (SELECT coalesce(json_agg(json_build_object(
                                     'id', a.id, 'employee_id', a.employee_id, 'role', a.role,
                                     'starts_on', a.starts_on, 'ends_on', a.ends_on,
                                     'assigned_by', a.assigned_by,
                                     'assigned_at', api.ts(a.assigned_at))
                                   ORDER BY a.role, a.assigned_at, a.employee_id), '[]'::json)
                             FROM cases.assignments a
                            WHERE a.case_id = c.id AND a.ended_at IS NULL),
           'started_at', api.ts(c.started_at),
           'review_round', c.review_round,
           'passed_at', api.ts(c.passed_at),
           'delivered_at', api.ts(c.delivered_at),
           'confirmed_at', api.ts(c.confirmed_at),
           'closed_reason', c.closed_reason,
           'closed_at', api.ts(c.closed_at),
           'archived_at', api.ts(c.archived_at),
           'allowed_actions', to_json(fsm.allowed_actions('case', c.status)),
           'created_at', api.ts(c.created_at),
           'updated_at', api.ts(c.updated_at),
           'version', c.version)
    FROM cases.cases c WHERE c.id = p_id
$$;
REVOKE ALL ON FUNCTION api.case_json(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_json(uuid) TO tianxing_app;

-- GET /v1/cases/{id} (whoever may see the case).
CREATE OR REPLACE FUNCTION api.case_get(p_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  PERFORM api.require_user();
  RETURN api.case_json(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.case_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_get(uuid) TO tianxing_app;

-- P1.1 the request ---------------------------------------------------------------------------------

-- POST /v1/cases (staff, supervisor): {customer_id, raised_at, channel, need}. The customer is an
-- existing one the caller may see (a new prospect is created first with POST /v1/customers, C1.1),
-- neither disposed of nor merged (409, errors[0].code customer_disposed / customer_merged, whose
-- message names the customer it was merged into). The receiver is the caller, the department the caller's (403 without one).
CREATE OR REPLACE FUNCTION cases.case_create(p_body jsonb) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_me uuid;
  v_dept uuid;
  v_customer uuid;
  v_raised timestamptz;
  v_channel text;
  v_need text;
  cu cust.customers;
  v_id uuid;
BEGIN
  PERFORM api.require_role('staff', 'supervisor');
  v_me := tx.user_id();
  SELECT e.department_id INTO v_dept FROM org.employees e WHERE e.id = v_me AND e.active;
  IF v_dept IS NULL THEN
    RAISE EXCEPTION 'P1.1: only an employee of a department receives requests; you belong to none (ask an administrator to set your department)'
      USING ERRCODE = 'TXDEN';
  END IF;
  PERFORM api.body_keys(p_body, ARRAY['customer_id', 'raised_at', 'channel', 'need']);
  v_customer := api.body_uuid(p_body, 'customer_id', true);
  v_raised := api.body_timestamp(p_body, 'raised_at', true);
  IF v_raised > now() + interval '5 minutes' THEN
    PERFORM api.fail('TXVAL', 'raised_at', 'must not be in the future');
  END IF;
  v_channel := api.body_text(p_body, 'channel', true, 20);
  IF v_channel NOT IN ('visit', 'phone', 'email', 'message', 'meeting', 'other') THEN
    PERFORM api.fail('TXVAL', 'channel', 'must be one of visit, phone, email, message, meeting, other');
  END IF;
  v_need := api.body_text(p_body, 'need', true, 4000);

  -- The customer as the caller sees it (the read policy of cust.customers for staff and
  -- supervisors, spelt as cust.is_related): an invisible one is "no such customer".
  SELECT * INTO cu FROM cust.customers c WHERE c.id = v_customer FOR SHARE;
  IF NOT FOUND OR NOT cust.is_related(cu.owner_id, cu.department_id, cu.id) THEN
    PERFORM api.fail('TXVAL', 'customer_id', 'no such customer');
  END IF;
  IF cu.status = 'disposed' THEN
    RAISE EXCEPTION 'the customer''s information was disposed of: no new case for it'
      USING ERRCODE = 'TXCON',
            DETAIL = jsonb_build_object('errors', jsonb_build_array(api.field_error(
              'customer_id', 'customer_disposed', 'the customer was disposed of')))::text;
  END IF;
  IF cu.status = 'merged' THEN
    RAISE EXCEPTION 'the customer was merged into another: open the case for that one'
      USING ERRCODE = 'TXCON',
            DETAIL = jsonb_build_object('errors', jsonb_build_array(api.field_error(
              'customer_id', 'customer_merged', 'the customer was merged into ' || cu.merged_into)))::text;
  END IF;

  INSERT INTO cases.cases (customer_id, department_id, raised_at, received_by, channel, need,
                           search_bigrams)
  VALUES (v_customer, v_dept, v_raised, v_me, v_channel, v_need,
          cust.bigrams(v_need))
  RETURNING id INTO v_id;
  RETURN api.case_json(v_id);
END
$$;
REVOKE ALL ON FUNCTION cases.case_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.case_create(jsonb) TO tianxing_app;
-- The route's function: api functions run as their caller (sql/tests/org.sql); the write is
-- the SECURITY DEFINER function above.
CREATE OR REPLACE FUNCTION api.case_create(p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT cases.case_create(p_body) $$;
REVOKE ALL ON FUNCTION api.case_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_create(jsonb) TO tianxing_app;

-- P1.2 scope assessment --------------------------------------------------------------------------

-- POST /v1/cases/{id}/assess: {in_scope: true, business_type_id, reason?} moves the case to intake
-- with the type's current version fixed (the case keeps it); {in_scope: false, reason} closes it
-- as out_of_scope (terminal).
CREATE OR REPLACE FUNCTION cases.case_assess(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  c cases.cases;
  v_in boolean;
  v_type uuid;
  v_version uuid;
  v_reason text;
BEGIN
  PERFORM api.require_role('staff', 'supervisor');
  c := cases.find(p_id);
  PERFORM cases.require_intake_side(c, 'P1.2');
  PERFORM api.body_keys(p_body, ARRAY['in_scope', 'business_type_id', 'reason']);
  v_in := api.body_bool(p_body, 'in_scope', true);
  PERFORM fsm.check('case', c.id, CASE WHEN v_in THEN 'assess_in_scope' ELSE 'assess_out_of_scope' END);
  v_reason := api.body_text(p_body, 'reason', NOT v_in, 2000);
  IF v_in THEN
    v_type := api.body_uuid(p_body, 'business_type_id', true);
    v_version := cases.current_type_version(v_type, 'business_type_id');
    PERFORM fsm.move('case', c.id, 'assess_in_scope', v_reason,
                     jsonb_build_object('in_scope', true, 'scope_reason', v_reason,
                                        'scope_by', tx.user_id(), 'scope_at', now(),
                                        'business_type_id', v_type,
                                        'type_version_id', v_version));
  ELSE
    IF p_body ? 'business_type_id' AND jsonb_typeof(p_body -> 'business_type_id') <> 'null' THEN
      PERFORM api.fail('TXVAL', 'business_type_id', 'a request out of scope has no business type');
    END IF;
    PERFORM fsm.move('case', c.id, 'assess_out_of_scope', v_reason,
                     jsonb_build_object('in_scope', false, 'scope_reason', v_reason,
                                        'scope_by', tx.user_id(), 'scope_at', now(),
                                        'closed_reason', v_reason, 'closed_at', now()));
  END IF;
  RETURN api.case_json(c.id);
END
$$;
REVOKE ALL ON FUNCTION cases.case_assess(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.case_assess(uuid, jsonb) TO tianxing_app;
-- The route's function: api functions run as their caller (sql/tests/org.sql); the write is
-- the SECURITY DEFINER function above.
CREATE OR REPLACE FUNCTION api.case_assess(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT cases.case_assess(p_id, p_body) $$;
REVOKE ALL ON FUNCTION api.case_assess(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_assess(uuid, jsonb) TO tianxing_app;

-- P1.3 the intake form ---------------------------------------------------------------------------

-- PUT /v1/cases/{id}/intake (If-Match): {requirements, expected_on?, business_type_id?}. The whole
-- form each time; a different business type takes that type's current version. The customer's
-- non-PII fields are copied as they are now; the caller becomes the preparer. Only while the case
-- is in intake or returned (409 invalid_transition otherwise).
CREATE OR REPLACE FUNCTION cases.case_intake(p_id uuid, p_version int, p_body jsonb) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  c cases.cases;
  v_type uuid;
  v_version uuid;
  v_req text;
  v_expected date;
BEGIN
  PERFORM api.require_role('staff', 'supervisor');
  c := cases.find(p_id);
  PERFORM cases.require_intake_side(c, 'P1.3');
  IF c.status NOT IN ('intake', 'returned') THEN
    PERFORM fsm.refuse('case', c.status,
                       format('the intake form is filled in while the case is in intake or returned; it is %s',
                              c.status));
  END IF;
  PERFORM api.check_version(p_version, c.version);
  PERFORM api.body_keys(p_body, ARRAY['requirements', 'expected_on', 'business_type_id']);
  v_req := api.body_text(p_body, 'requirements', true, 8000);
  v_expected := api.body_date(p_body, 'expected_on', false);
  IF v_expected < current_date THEN
    PERFORM api.fail('TXVAL', 'expected_on', 'must not be in the past');
  END IF;
  v_type := coalesce(api.body_uuid(p_body, 'business_type_id', false), c.business_type_id);
  IF v_type IS DISTINCT FROM c.business_type_id THEN
    v_version := cases.current_type_version(v_type, 'business_type_id');
  ELSE
    v_version := c.type_version_id; -- the case keeps the version it was assessed under
  END IF;
  UPDATE cases.cases x
     SET requirements = v_req, expected_on = v_expected, business_type_id = v_type,
         type_version_id = v_version, customer_snapshot = cases.customer_snapshot(x.customer_id),
         prepared_by = tx.user_id(), prepared_at = now()
   WHERE x.id = c.id;
  RETURN api.case_json(c.id);
END
$$;
REVOKE ALL ON FUNCTION cases.case_intake(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.case_intake(uuid, int, jsonb) TO tianxing_app;
-- The route's function: api functions run as their caller (sql/tests/org.sql); the write is
-- the SECURITY DEFINER function above.
CREATE OR REPLACE FUNCTION api.case_intake(p_id uuid, p_version int, p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT cases.case_intake(p_id, p_version, p_body) $$;
REVOKE ALL ON FUNCTION api.case_intake(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_intake(uuid, int, jsonb) TO tianxing_app;

-- P1.4 submission and the supervisor's decision -------------------------------------------------

-- POST /v1/cases/{id}/submit: the intake form goes to the supervisor (guard intake_complete).
CREATE OR REPLACE FUNCTION cases.case_submit(p_id uuid) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE c cases.cases;
BEGIN
  PERFORM api.require_role('staff', 'supervisor');
  c := cases.find(p_id);
  PERFORM cases.require_intake_side(c, 'P1.4');
  PERFORM fsm.move('case', c.id, 'submit', NULL, jsonb_build_object('submitted_at', now()));
  RETURN api.case_json(c.id);
END
$$;
REVOKE ALL ON FUNCTION cases.case_submit(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.case_submit(uuid) TO tianxing_app;
-- The route's function: api functions run as their caller (sql/tests/org.sql); the write is
-- the SECURITY DEFINER function above.
CREATE OR REPLACE FUNCTION api.case_submit(p_id uuid) RETURNS json
  LANGUAGE sql
  AS $$ SELECT cases.case_submit(p_id) $$;
REVOKE ALL ON FUNCTION api.case_submit(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_submit(uuid) TO tianxing_app;

-- POST /v1/cases/{id}/approve {comment?} | reject {reason} | return {reason} (supervisor of the
-- case's department, not the preparer). Each decision is a row of cases.approvals (its comment
-- the reason), then the move; reject is terminal (closed_reason), return sends the form back.
CREATE OR REPLACE FUNCTION cases.case_decide(p_id uuid, p_action text, p_body jsonb) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  c cases.cases;
  v_text text;
  v_set jsonb;
BEGIN
  IF p_action NOT IN ('approve', 'reject', 'return') THEN
    RAISE EXCEPTION 'case_decide: no decision %', p_action USING ERRCODE = '42704';
  END IF;
  PERFORM api.require_role('supervisor');
  c := cases.find(p_id);
  PERFORM cases.require_department_supervisor(c, 'P1.4');
  IF tx.user_id() = c.prepared_by THEN
    RAISE EXCEPTION 'P1.4: you prepared this intake form; another supervisor decides on it (approver != preparer)'
      USING ERRCODE = 'TXDEN';
  END IF;
  PERFORM fsm.check('case', c.id, p_action);
  IF p_action = 'approve' THEN
    PERFORM api.body_keys(p_body, ARRAY['comment']);
    v_text := api.body_text(p_body, 'comment', false, 2000);
    v_set := jsonb_build_object('approved_by', tx.user_id(), 'approved_at', now());
  ELSE
    PERFORM api.body_keys(p_body, ARRAY['reason']);
    v_text := api.body_text(p_body, 'reason', true, 2000);
    v_set := CASE WHEN p_action = 'reject'
                  THEN jsonb_build_object('closed_reason', v_text, 'closed_at', now()) END;
  END IF;
  INSERT INTO cases.approvals (case_id, decision, comment, decided_by)
  VALUES (c.id, p_action, v_text, tx.user_id());
  PERFORM fsm.move('case', c.id, p_action, v_text, v_set);
  RETURN api.case_json(c.id);
END
$$;
REVOKE ALL ON FUNCTION cases.case_decide(uuid, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.case_decide(uuid, text, jsonb) TO tianxing_app;
-- The route's function: api functions run as their caller (sql/tests/org.sql); the write is
-- the SECURITY DEFINER function above.
CREATE OR REPLACE FUNCTION api.case_decide(p_id uuid, p_action text, p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT cases.case_decide(p_id, p_action, p_body) $$;
REVOKE ALL ON FUNCTION api.case_decide(uuid, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_decide(uuid, text, jsonb) TO tianxing_app;

-- POST /v1/cases/{id}/cancel {reason}: the customer withdraws (P1.1-P3.4: a case is closed with
-- its reason, never deleted). From every open state before delivery (fsm.transitions of 0018:
-- received .. passed; 409 invalid_transition otherwise). Who: staff or supervisor on the intake
-- side (receiver, preparer, a supervisor of the case's department) or a current assignee (the
-- people the customer talks to); anyone else who sees the case is refused with 403.
CREATE OR REPLACE FUNCTION cases.case_cancel(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  c cases.cases;
  v_reason text;
BEGIN
  PERFORM api.require_role('staff', 'supervisor');
  c := cases.find(p_id);
  IF NOT cases.work_assignee(c.id, tx.user_id()) THEN
    PERFORM cases.require_intake_side(c, 'cancel');
  END IF;
  PERFORM fsm.check('case', c.id, 'cancel');
  PERFORM api.body_keys(p_body, ARRAY['reason']);
  v_reason := api.body_text(p_body, 'reason', true, 2000);
  PERFORM fsm.move('case', c.id, 'cancel', v_reason,
                   jsonb_build_object('closed_reason', v_reason, 'closed_at', now()));
  -- P2.3: a problem of a withdrawn request is answered by nobody; left open it would sit in the
  -- addressee's queue forever (its deadline closed by the move above, 080_deadlines.sql)
  UPDATE cases.escalations e SET status = 'withdrawn' WHERE e.case_id = c.id AND e.status = 'open';
  RETURN api.case_json(c.id);
END
$$;
REVOKE ALL ON FUNCTION cases.case_cancel(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.case_cancel(uuid, jsonb) TO tianxing_app;
-- The route's function: api functions run as their caller (sql/tests/org.sql); the write is
-- the SECURITY DEFINER function above.
CREATE OR REPLACE FUNCTION api.case_cancel(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT cases.case_cancel(p_id, p_body) $$;
REVOKE ALL ON FUNCTION api.case_cancel(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_cancel(uuid, jsonb) TO tianxing_app;

-- P2.1 assignment --------------------------------------------------------------------------------

-- POST /v1/cases/{id}/assignments (supervisor of the case's department): {lead, members?,
-- starts_on?, ends_on?}. One person (the lead alone) or a team. On an approved case it starts the
-- work (move start, guard has_assignment); on a case in progress it replaces the arrangement
-- (the current rows end, new rows begin). Assignees are active employees with the role staff.
CREATE OR REPLACE FUNCTION cases.case_assign(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  c cases.cases;
  v_lead uuid;
  v_members uuid[] := '{}';
  v_m jsonb;
  v_i int := 0;
  v_id uuid;
  v_starts date;
  v_ends date;
BEGIN
  PERFORM api.require_role('supervisor');
  c := cases.find(p_id);
  PERFORM cases.require_department_supervisor(c, 'P2.1');
  IF c.status = 'approved' THEN
    PERFORM fsm.transition('case', c.status, 'start');
  ELSIF c.status <> 'in_progress' THEN
    PERFORM fsm.refuse('case', c.status,
                       format('work is assigned once the case is approved (or re-assigned while in progress); it is %s',
                              c.status));
  END IF;
  PERFORM api.body_keys(p_body, ARRAY['lead', 'members', 'starts_on', 'ends_on']);
  v_lead := api.body_uuid(p_body, 'lead', true);
  IF NOT EXISTS (SELECT FROM org.employees e
                  WHERE e.id = v_lead AND e.active AND 'staff' = ANY (e.roles)) THEN
    PERFORM api.fail('TXVAL', 'lead', 'must be an active employee with the role staff');
  END IF;
  IF p_body ? 'members' AND jsonb_typeof(p_body -> 'members') <> 'null' THEN
    IF jsonb_typeof(p_body -> 'members') <> 'array' THEN
      PERFORM api.fail('TXVAL', 'members', 'must be an array of employee ids');
    END IF;
    IF jsonb_array_length(p_body -> 'members') > 50 THEN
      PERFORM api.fail('TXVAL', 'members', 'at most 50 members');
    END IF;
    FOR v_m IN SELECT e FROM jsonb_array_elements(p_body -> 'members') e LOOP
      v_id := api.body_uuid(jsonb_build_object(format('members[%s]', v_i), v_m),
                            format('members[%s]', v_i), true);
      IF v_id = v_lead OR v_id = ANY (v_members) THEN
        PERFORM api.fail('TXVAL', format('members[%s]', v_i), 'is named twice (lead and members are distinct people)');
      END IF;
      IF NOT EXISTS (SELECT FROM org.employees e
                      WHERE e.id = v_id AND e.active AND 'staff' = ANY (e.roles)) THEN
        PERFORM api.fail('TXVAL', format('members[%s]', v_i),
                         'must be an active employee with the role staff');
      END IF;
      v_members := v_members || v_id;
      v_i := v_i + 1;
    END LOOP;
  END IF;
  v_starts := coalesce(api.body_date(p_body, 'starts_on', false), current_date);
  v_ends := api.body_date(p_body, 'ends_on', false);
  IF v_ends < v_starts THEN
    PERFORM api.fail('TXVAL', 'ends_on', 'must not be before starts_on');
  END IF;

  UPDATE cases.assignments a SET ended_at = now()
   WHERE a.case_id = c.id AND a.ended_at IS NULL;
  INSERT INTO cases.assignments (case_id, employee_id, role, starts_on, ends_on, assigned_by)
  SELECT c.id, x.emp, x.role, v_starts, v_ends, tx.user_id()
    FROM (SELECT v_lead AS emp, 'lead' AS role
          UNION ALL SELECT m, 'member' FROM unnest(v_members) m) x;
  IF c.status = 'approved' THEN
    PERFORM fsm.move('case', c.id, 'start', NULL, jsonb_build_object('started_at', now()));
  END IF;
  RETURN api.case_json(c.id);
END
$$;
REVOKE ALL ON FUNCTION cases.case_assign(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.case_assign(uuid, jsonb) TO tianxing_app;
-- The route's function: api functions run as their caller (sql/tests/org.sql); the write is
-- the SECURITY DEFINER function above.
CREATE OR REPLACE FUNCTION api.case_assign(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT cases.case_assign(p_id, p_body) $$;
REVOKE ALL ON FUNCTION api.case_assign(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_assign(uuid, jsonb) TO tianxing_app;

-- Lists --------------------------------------------------------------------------------------------

-- GET /v1/cases: the cases the caller may see (row-level security), newest change first, keyset
-- paged on (updated_at, id); the cursor is "<microseconds since 1970>_<id>" of the last item.
-- Filters: status, customer_id, business_type_id, assigned_to (a current assignee),
-- department_id, received_from / received_to (received_at, from inclusive, to exclusive).
-- An item is a summary (contract: CaseSummary), not the case document: GET /v1/cases/{id} gives
-- that. The document per item (api.case_json: approvals, assignments, allowed actions, ...) cost
-- ~6 ms each, ~450 ms a page of 50 at 100 000 cases (docs/performance.md); the summary is built
-- in the page's own query: the case row, its type (one index probe), and per case of the page
-- one call of cases.case_list_parts: the customer's name (the intake snapshot's, P1.3, non-PII;
-- before intake the customer row's plain-text name, as the queues show it), the current
-- assignees' ids and the soonest open deadline (indexes assignments_current_key,
-- deadlines_case_open_idx).
-- The parts of a list item that hang off the case (the caller already sees the case: it came
-- through the cases policy). Read as the owner with ONE visibility check per case
-- (cases.may_read), instead of the policies of cases.assignments and cases.deadlines checking
-- every row of them and a second owner's lookup for the customer's name: a third of the cost of
-- a page. A case the caller may not see gives nothing.
CREATE OR REPLACE FUNCTION cases.case_list_parts(p_case uuid, OUT customer_name text,
                                                 OUT assignee_ids json, OUT next_due_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce(c.customer_snapshot ->> 'name',
                  (SELECT cu.name FROM cust.customers cu WHERE cu.id = c.customer_id)),
         (SELECT coalesce(json_agg(a.employee_id ORDER BY a.employee_id), '[]'::json)
            FROM cases.assignments a WHERE a.case_id = c.id AND a.ended_at IS NULL),
         (SELECT min(d.due_at) FROM cases.deadlines d
           WHERE d.case_id = c.id AND d.met_at IS NULL AND d.closed_at IS NULL)
    FROM cases.cases c WHERE c.id = p_case AND cases.may_read(p_case)
$$;
REVOKE ALL ON FUNCTION cases.case_list_parts(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.case_list_parts(uuid) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.case_list(p_status text, p_customer uuid, p_type uuid,
                                         p_assigned_to uuid, p_department uuid,
                                         p_from timestamptz, p_to timestamptz,
                                         p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_ts timestamptz;
  v_id uuid;
  v_out json;
BEGIN
  PERFORM api.require_user();
  IF p_status IS NOT NULL AND NOT EXISTS (
       SELECT FROM fsm.transitions t
        WHERE t.machine = 'case' AND (t.from_state = p_status OR t.to_state = p_status)) THEN
    PERFORM api.fail('TXVAL', 'status', 'is not a state of a case');
  END IF;
  IF p_cursor IS NOT NULL THEN
    IF p_cursor !~ '^-?[0-9]{1,18}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
    v_ts := timestamptz '1970-01-01 00:00:00+00'
            + split_part(p_cursor, '_', 1)::bigint * interval '1 microsecond';
    v_id := split_part(p_cursor, '_', 2)::uuid;
  END IF;
  WITH page AS (
    SELECT c.id, c.status, c.customer_id, c.department_id, c.business_type_id, c.received_at, c.expected_on, c.updated_at,
           c.version, row_number() OVER (ORDER BY c.updated_at DESC, c.id DESC) AS rn
      FROM cases.cases c
     WHERE (p_status IS NULL OR c.status = p_status)
       AND (p_customer IS NULL OR c.customer_id = p_customer)
       AND (p_type IS NULL OR c.business_type_id = p_type)
       AND (p_department IS NULL OR c.department_id = p_department)
       AND (p_from IS NULL OR c.received_at >= p_from)
       AND (p_to IS NULL OR c.received_at < p_to)
       AND (p_assigned_to IS NULL OR EXISTS (
              SELECT FROM cases.assignments a
               WHERE a.case_id = c.id AND a.employee_id = p_assigned_to AND a.ended_at IS NULL))
       AND (v_ts IS NULL OR (c.updated_at, c.id) < (v_ts, v_id))
     ORDER BY c.updated_at DESC, c.id DESC
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(json_build_object(
                       'id', p.id,
                       'status', p.status,
                       'customer_id', p.customer_id,
                       'customer_name', x.customer_name,
                       'department_id', p.department_id,
                       'business_type', CASE WHEN t.id IS NOT NULL THEN
                                          json_build_object('id', t.id, 'code', t.code, 'name', t.name) END,
                       'assignee_ids', x.assignee_ids,
                       'received_at', api.ts(p.received_at),
                       'expected_on', p.expected_on,
                       'next_due_at', api.ts(x.next_due_at),
                       'updated_at', api.ts(p.updated_at),
                       'version', p.version) ORDER BY p.rn)
                       FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit THEN
                            (SELECT (extract(epoch FROM q.updated_at - timestamptz '1970-01-01 00:00:00+00') * 1000000)::bigint
                                    || '_' || q.id
                               FROM page q WHERE q.rn = v_limit) END)
    INTO v_out
    FROM page p
         -- in FROM: one call per case (a composite in the select list would be called per field)
         LEFT JOIN LATERAL cases.case_list_parts(p.id) x ON true
         LEFT JOIN cases.business_types t ON t.id = p.business_type_id;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.case_list(text, uuid, uuid, uuid, uuid, timestamptz, timestamptz, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_list(text, uuid, uuid, uuid, uuid, timestamptz, timestamptz, int, text) TO tianxing_app;

-- GET /v1/cases/{id}/transitions: the case's moves, oldest first (fsm.log: who, when, why).
CREATE OR REPLACE FUNCTION api.case_transitions(p_id uuid, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  PERFORM api.require_user();
  IF NOT EXISTS (SELECT FROM cases.cases c WHERE c.id = p_id) THEN
    RAISE EXCEPTION 'no such case' USING ERRCODE = 'P0002';
  END IF;
  RETURN fsm.history('case', p_id, p_limit, p_cursor);
END
$$;
REVOKE ALL ON FUNCTION api.case_transitions(uuid, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_transitions(uuid, int, text) TO tianxing_app;

-- HR's view of the cases (quality assessment): the facts, not the free text ------------------------

-- GET /v1/case-facts (hr, admin): HR does not read cases (cases.may_read has no hr clause: the
-- need, the requirements, the comments and the customer's snapshot are the business's), but the
-- quality assessment needs to know who did what, when, and how many review rounds it took. This
-- SECURITY DEFINER function returns only those facts for EVERY case: ids, state, dates,
-- department, business type, receiver, preparer, approver, current assignees, review rounds
-- (count of cases.reviews), approval decisions count; no need, requirements, reasons, comments,
-- snapshot or customer name. Filters: received_from (inclusive) / received_to (exclusive) on
-- received_at, status, department_id, employee_id (received, prepared, approved or currently
-- assigned). Keyset paged on (received_at, id), oldest first; the cursor is
-- "<microseconds since 1970>_<id>".
CREATE OR REPLACE FUNCTION cases.case_facts(p_from timestamptz, p_to timestamptz, p_status text,
                                            p_department uuid, p_employee uuid, p_limit int,
                                            p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_ts timestamptz;
  v_id uuid;
  v_out json;
BEGIN
  PERFORM api.require_role('hr', 'admin');
  IF p_status IS NOT NULL AND NOT EXISTS (
       SELECT FROM fsm.transitions t
        WHERE t.machine = 'case' AND (t.from_state = p_status OR t.to_state = p_status)) THEN
    PERFORM api.fail('TXVAL', 'status', 'is not a state of a case');
  END IF;
  IF p_from IS NOT NULL AND p_to IS NOT NULL AND p_to <= p_from THEN
    PERFORM api.fail('TXVAL', 'received_to', 'must be after received_from');
  END IF;
  IF p_cursor IS NOT NULL THEN
    IF p_cursor !~ '^-?[0-9]{1,18}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
    v_ts := timestamptz '1970-01-01 00:00:00+00'
            + split_part(p_cursor, '_', 1)::bigint * interval '1 microsecond';
    v_id := split_part(p_cursor, '_', 2)::uuid;
  END IF;
  WITH page AS (
    SELECT c.*, row_number() OVER (ORDER BY c.received_at, c.id) AS rn
      FROM cases.cases c
     WHERE (p_status IS NULL OR c.status = p_status)
       AND (p_department IS NULL OR c.department_id = p_department)
       AND (p_from IS NULL OR c.received_at >= p_from)
       AND (p_to IS NULL OR c.received_at < p_to)
       AND (p_employee IS NULL OR p_employee IN (c.received_by, c.prepared_by, c.approved_by)
            OR EXISTS (SELECT FROM cases.assignments a
                        WHERE a.case_id = c.id AND a.employee_id = p_employee
                          AND a.ended_at IS NULL))
       AND (v_ts IS NULL OR (c.received_at, c.id) > (v_ts, v_id))
     ORDER BY c.received_at, c.id
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(json_build_object(
               'id', p.id, 'status', p.status, 'department_id', p.department_id,
               'customer_id', p.customer_id,
               'business_type_id', p.business_type_id, 'type_version_id', p.type_version_id,
               'business_type_code', (SELECT t.code FROM cases.business_types t
                                       WHERE t.id = p.business_type_id),
               'raised_at', api.ts(p.raised_at), 'received_at', api.ts(p.received_at),
               'received_by', p.received_by, 'channel', p.channel, 'in_scope', p.in_scope,
               'prepared_by', p.prepared_by, 'prepared_at', api.ts(p.prepared_at),
               'submitted_at', api.ts(p.submitted_at),
               'approved_by', p.approved_by, 'approved_at', api.ts(p.approved_at),
               'decisions', (SELECT count(*) FROM cases.approvals a WHERE a.case_id = p.id),
               'assignees', (SELECT coalesce(json_agg(json_build_object(
                                       'employee_id', a.employee_id, 'role', a.role,
                                       'starts_on', a.starts_on)
                                     ORDER BY a.role, a.employee_id), '[]'::json)
                               FROM cases.assignments a
                              WHERE a.case_id = p.id AND a.ended_at IS NULL),
               'started_at', api.ts(p.started_at),
               'review_rounds', (SELECT count(*) FROM cases.reviews r WHERE r.case_id = p.id),
               'passed_at', api.ts(p.passed_at), 'delivered_at', api.ts(p.delivered_at),
               'confirmed_at', api.ts(p.confirmed_at), 'closed_at', api.ts(p.closed_at),
               'archived_at', api.ts(p.archived_at))
             ORDER BY p.rn) FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit THEN
                            (SELECT (extract(epoch FROM q.received_at - timestamptz '1970-01-01 00:00:00+00') * 1000000)::bigint
                                    || '_' || q.id
                               FROM page q WHERE q.rn = v_limit) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION cases.case_facts(timestamptz, timestamptz, text, uuid, uuid, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.case_facts(timestamptz, timestamptz, text, uuid, uuid, int, text) TO tianxing_app;
-- The route's function (runs as its caller; the read of every case is the definer's above).
CREATE OR REPLACE FUNCTION api.case_facts(p_from timestamptz, p_to timestamptz, p_status text,
                                          p_department uuid, p_employee uuid, p_limit int,
                                          p_cursor text)
  RETURNS json
  LANGUAGE sql STABLE
  AS $$ SELECT cases.case_facts(p_from, p_to, p_status, p_department, p_employee, p_limit, p_cursor) $$;
REVOKE ALL ON FUNCTION api.case_facts(timestamptz, timestamptz, text, uuid, uuid, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_facts(timestamptz, timestamptz, text, uuid, uuid, int, text) TO tianxing_app;
