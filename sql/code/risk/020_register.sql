-- Module R, part A: the risk register (R1.1-R1.3, R2.2): identification rounds, risks, their
-- assessments (history, never overwritten) and market research and trend records; the job
-- 'risk.rounds'. Responses (R2.1, R2.4) are in 030_responses.sql. Writers are SECURITY DEFINER
-- functions of schema risk that first find the row as the caller sees it (invisible: 404), then
-- check role and person, then write; api.* functions (SECURITY INVOKER) call them.

-- Helpers ---------------------------------------------------------------------------------------

-- The qualitative level of likelihood l and impact i on the matrix in force (R1.2).
CREATE OR REPLACE FUNCTION risk.matrix_level(p_likelihood int, p_impact int) RETURNS text
  LANGUAGE sql STABLE
  AS $$ SELECT org.policy_value('risk_matrix') -> 'cells' -> (p_likelihood - 1) ->> (p_impact - 1) $$;
REVOKE ALL ON FUNCTION risk.matrix_level(int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.matrix_level(int, int) TO tianxing_app;

-- A JSON integer member between p_min and p_max (NULL when absent and optional).
CREATE OR REPLACE FUNCTION risk.body_int(p_body jsonb, p_field text, p_required boolean,
                                         p_min int, p_max int) RETURNS int
  LANGUAGE plpgsql IMMUTABLE
  AS $$
DECLARE v jsonb := p_body -> p_field;
BEGIN
  IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
    IF p_required THEN
      PERFORM api.fail('TXVAL', p_field, 'is required');
    END IF;
    RETURN NULL;
  END IF;
  IF jsonb_typeof(v) <> 'number' OR (v #>> '{}') !~ '^-?[0-9]+$'
     OR (v #>> '{}')::numeric NOT BETWEEN p_min AND p_max THEN
    PERFORM api.fail('TXVAL', p_field, format('must be an integer from %s to %s', p_min, p_max));
  END IF;
  RETURN (v #>> '{}')::int;
END
$$;
REVOKE ALL ON FUNCTION risk.body_int(jsonb, text, boolean, int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.body_int(jsonb, text, boolean, int, int) TO tianxing_app;

-- A member that must be one of p_values.
CREATE OR REPLACE FUNCTION risk.body_enum(p_body jsonb, p_field text, p_required boolean,
                                          p_values text[]) RETURNS text
  LANGUAGE plpgsql IMMUTABLE
  AS $$
DECLARE v text := api.body_text(p_body, p_field, p_required, 100);
BEGIN
  IF v IS NOT NULL AND NOT v = ANY (p_values) THEN
    PERFORM api.fail('TXVAL', p_field, 'must be one of ' || array_to_string(p_values, ', '));
  END IF;
  RETURN v;
END
$$;
REVOKE ALL ON FUNCTION risk.body_enum(jsonb, text, boolean, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.body_enum(jsonb, text, boolean, text[]) TO tianxing_app;

-- The caller may see the customer p_id: the roles that read every customer, or a related
-- employee (the policy customers_read; asked by writers, which run as the owner).
CREATE OR REPLACE FUNCTION risk.may_see_customer(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((SELECT tx.has_role('admin') OR tx.has_role('auditor') OR tx.has_role('hr')
                          OR tx.has_role('risk_officer')
                          OR cust.is_related(c.owner_id, c.department_id, c.id)
                     FROM cust.customers c WHERE c.id = p_id), false)
$$;
REVOKE ALL ON FUNCTION risk.may_see_customer(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.may_see_customer(uuid) TO tianxing_app;

-- Rows keep their version and updated_at (If-Match).
CREATE OR REPLACE TRIGGER risks_touch BEFORE UPDATE ON risk.risks
  FOR EACH ROW EXECUTE FUNCTION org.touch();
CREATE OR REPLACE TRIGGER rounds_touch BEFORE UPDATE ON risk.rounds
  FOR EACH ROW EXECUTE FUNCTION org.touch();

-- Assessments keep the risk's level (R1.2) --------------------------------------------------
-- Every writer: an inherent assessment sets the risk's likelihood, impact, level; a residual
-- one its residual level; both its assessed_at. The level is the matrix's, whatever the writer
-- said (a row never contradicts the policy in force when it was written), and a residual
-- assessment needs an inherent one first.
CREATE OR REPLACE FUNCTION risk.assessments_check() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  NEW.level := risk.matrix_level(NEW.likelihood, NEW.impact);
  IF NEW.level IS NULL THEN
    RAISE EXCEPTION 'the policy risk_matrix has no level for likelihood % and impact %',
      NEW.likelihood, NEW.impact USING ERRCODE = 'TXCON';
  END IF;
  IF NEW.kind = 'residual' AND NOT EXISTS (SELECT FROM risk.assessments a
                                            WHERE a.risk_id = NEW.risk_id AND a.kind = 'inherent') THEN
    RAISE EXCEPTION 'a residual assessment follows an inherent one (R1.2, R2.1)' USING ERRCODE = 'TXCON';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION risk.assessments_check() FROM PUBLIC;
CREATE OR REPLACE TRIGGER assessments_check BEFORE INSERT ON risk.assessments
  FOR EACH ROW EXECUTE FUNCTION risk.assessments_check();

CREATE OR REPLACE FUNCTION risk.assessments_keep_level() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF NEW.kind = 'inherent' THEN
    UPDATE risk.risks r
       SET likelihood = NEW.likelihood, impact = NEW.impact, level = NEW.level,
           assessed_at = NEW.assessed_at
     WHERE r.id = NEW.risk_id;
  ELSE
    UPDATE risk.risks r SET residual_level = NEW.level, assessed_at = NEW.assessed_at
     WHERE r.id = NEW.risk_id;
  END IF;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION risk.assessments_keep_level() FROM PUBLIC;
CREATE OR REPLACE TRIGGER assessments_keep_level AFTER INSERT ON risk.assessments
  FOR EACH ROW EXECUTE FUNCTION risk.assessments_keep_level();

-- What a risk must still have (R2.1): a level at or above risk_response_rules.required_from_level
-- needs a response in place (planned or further). SECURITY DEFINER: the caller may not read every
-- response of a risk it reads.
CREATE OR REPLACE FUNCTION risk.response_missing(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT risk.needs_response(p_id)
         AND NOT EXISTS (SELECT FROM risk.responses s
                          WHERE s.risk_id = p_id AND s.status IN ('planned', 'in_progress', 'done', 'reviewed'))
$$;
REVOKE ALL ON FUNCTION risk.response_missing(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.response_missing(uuid) TO tianxing_app;

-- JSON ------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION api.risk_row_json(r risk.risks) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
           'id', r.id, 'code', r.code, 'category', r.category, 'title', r.title,
           'description', r.description, 'cause', r.cause,
           'customer_id', r.customer_id, 'case_id', r.case_id,
           'business_type_id', r.business_type_id, 'department_id', r.department_id,
           'round_id', r.round_id, 'warning_id', r.warning_id,
           'owner_id', r.owner_id, 'reported_by', r.reported_by, 'status', r.status,
           'likelihood', r.likelihood, 'impact', r.impact, 'level', r.level,
           'residual_level', r.residual_level, 'assessed_at', api.ts(r.assessed_at),
           'closed_reason', r.closed_reason,
           'response_required', risk.needs_response(r.id),
           'response_missing', risk.response_missing(r.id),
           'allowed_actions', fsm.allowed_actions('risk', r.status),
           'version', r.version, 'created_at', api.ts(r.created_at),
           'updated_at', api.ts(r.updated_at))
$$;
REVOKE ALL ON FUNCTION api.risk_row_json(risk.risks) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_row_json(risk.risks) TO tianxing_app;

-- The risk as the caller sees it (P0002 when it may not).
CREATE OR REPLACE FUNCTION api.risk_json(p_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE r risk.risks;
BEGIN
  SELECT * INTO r FROM risk.risks x WHERE x.id = p_id;
  IF r.id IS NULL THEN
    RAISE EXCEPTION 'no such risk' USING ERRCODE = 'P0002';
  END IF;
  RETURN api.risk_row_json(r);
END
$$;
REVOKE ALL ON FUNCTION api.risk_json(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_json(uuid) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.risk_assessment_json(a risk.assessments) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
           'id', a.id, 'risk_id', a.risk_id, 'kind', a.kind, 'likelihood', a.likelihood,
           'impact', a.impact, 'level', a.level, 'exposure', to_char(a.exposure, 'FM9999999999999990.00'),
           'currency', a.currency, 'probability', trim_scale(a.probability),
           'expected_loss', to_char(a.expected_loss, 'FM9999999999999990.00'),
           'method', a.method, 'note', a.note, 'assessed_by', a.assessed_by,
           'assessed_at', api.ts(a.assessed_at))
$$;
REVOKE ALL ON FUNCTION api.risk_assessment_json(risk.assessments) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_assessment_json(risk.assessments) TO tianxing_app;

-- Reporting a risk (R1.1, R1.3) ---------------------------------------------------------------
-- risk.report: any signed-in staff, supervisor, risk officer or admin reports a risk (R1.1:
-- everyone identifies risks), {category, title, description, cause?, customer_id?, case_id?,
-- business_type_id?, department_id?, owner_id?, round_id?}. Links must be visible to the caller
-- (a link is not a way to learn that a customer or case exists). The department defaults to the
-- reporter's; the owner to the reporter. A staff member owns what they report (or names no
-- owner); a supervisor may name someone of their department; risk officers and admin anyone
-- active. The round, when named, is open. p_warning: the warning whose handling raised it
-- (R3.3, called by the warnings' writer). Code R-YYYY-NNNN (company year, sequence).
CREATE OR REPLACE FUNCTION risk.report(p_body jsonb, p_warning uuid DEFAULT NULL) RETURNS risk.risks
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_me uuid := api.require_user();
  v_category text;
  v_title text;
  v_description text;
  v_cause text;
  v_customer uuid;
  v_case uuid;
  v_type uuid;
  v_department uuid;
  v_owner uuid;
  v_round uuid;
  v_owner_dept uuid;
  r risk.risks;
BEGIN
  PERFORM api.require_role('staff', 'supervisor', 'risk_officer', 'admin');
  PERFORM api.body_keys(p_body, ARRAY['category', 'title', 'description', 'cause', 'customer_id',
                                      'case_id', 'business_type_id', 'department_id', 'owner_id',
                                      'round_id']);
  v_category := risk.body_enum(p_body, 'category', true, ARRAY['market', 'credit', 'operational', 'other']);
  v_title := api.body_text(p_body, 'title', true, 200);
  v_description := api.body_text(p_body, 'description', true, 4000);
  v_cause := api.body_text(p_body, 'cause', false, 4000);
  v_customer := api.body_uuid(p_body, 'customer_id', false);
  v_case := api.body_uuid(p_body, 'case_id', false);
  v_type := api.body_uuid(p_body, 'business_type_id', false);
  v_department := api.body_uuid(p_body, 'department_id', false);
  v_owner := api.body_uuid(p_body, 'owner_id', false);
  v_round := api.body_uuid(p_body, 'round_id', false);
  IF v_customer IS NOT NULL AND NOT risk.may_see_customer(v_customer) THEN
    PERFORM api.fail('TXVAL', 'customer_id', 'is not a customer the caller may see');
  END IF;
  IF v_case IS NOT NULL AND NOT cases.may_read(v_case) THEN
    PERFORM api.fail('TXVAL', 'case_id', 'is not a case the caller may see');
  END IF;
  -- The function is granted to the runtime role: a warning is cited only by someone who may
  -- handle it (R3.3), never attached to any risk by whoever reports one.
  IF p_warning IS NOT NULL AND NOT (risk.is_manager() OR tx.has_role('supervisor')) THEN
    RAISE EXCEPTION 'only a risk officer, admin or supervisor raises a risk from a warning'
      USING ERRCODE = '42501';
  END IF;
  IF p_warning IS NOT NULL AND NOT EXISTS (SELECT FROM risk.warnings w
                                            WHERE w.id = p_warning AND w.status <> 'closed') THEN
    PERFORM api.fail('TXVAL', 'warning_id', 'is not an open warning');
  END IF;
  IF v_type IS NOT NULL AND NOT EXISTS (SELECT FROM cases.business_types b WHERE b.id = v_type) THEN
    PERFORM api.fail('TXVAL', 'business_type_id', 'is not a business type');
  END IF;
  IF v_department IS NOT NULL AND NOT EXISTS (SELECT FROM org.departments d WHERE d.id = v_department) THEN
    PERFORM api.fail('TXVAL', 'department_id', 'is not a department');
  END IF;
  IF v_round IS NOT NULL AND NOT EXISTS (SELECT FROM risk.rounds o WHERE o.id = v_round AND o.status = 'open') THEN
    PERFORM api.fail('TXVAL', 'round_id', 'is not an open identification round');
  END IF;
  v_department := coalesce(v_department, tx.department_id());
  v_owner := coalesce(v_owner, v_me);
  SELECT e.department_id INTO v_owner_dept FROM org.employees e WHERE e.id = v_owner AND e.active;
  IF NOT FOUND THEN
    PERFORM api.fail('TXVAL', 'owner_id', 'is not an active employee');
  END IF;
  IF v_owner <> v_me AND NOT risk.is_manager()
     AND NOT (tx.has_role('supervisor') AND v_owner_dept = tx.department_id()) THEN
    RAISE EXCEPTION 'a risk''s owner other than its reporter is named by a risk officer or the department''s supervisor'
      USING ERRCODE = '42501';
  END IF;
  INSERT INTO risk.risks (code, category, title, description, cause, customer_id, case_id,
                          business_type_id, department_id, round_id, warning_id, owner_id,
                          reported_by, status)
  VALUES (format('R-%s-%s', to_char(org.company_date(), 'YYYY'), lpad(nextval('risk.risk_code_seq')::text, 4, '0')),
          v_category, v_title, v_description, v_cause, v_customer, v_case, v_type, v_department,
          v_round, p_warning, v_owner, v_me, 'identified')
  RETURNING * INTO r;
  RETURN r;
END
$$;
REVOKE ALL ON FUNCTION risk.report(jsonb, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.report(jsonb, uuid) TO tianxing_app;

-- POST /v1/risks
-- (plpgsql: api.risk_json is STABLE and would not see the row inserted by its own statement)
CREATE OR REPLACE FUNCTION api.risk_create(p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE r risk.risks := risk.report(p_body);
BEGIN
  RETURN api.risk_json(r.id);
END
$$;
REVOKE ALL ON FUNCTION api.risk_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_create(jsonb) TO tianxing_app;

-- The risk p_id as a writer starts with it: 404 when the caller may not read it (before any
-- role, person or state check), else the row, locked until the end of the transaction.
CREATE OR REPLACE FUNCTION risk.risk_for_write(p_id uuid) RETURNS risk.risks
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE r risk.risks;
BEGIN
  IF NOT risk.may_read(p_id) THEN
    RAISE EXCEPTION 'no such risk' USING ERRCODE = 'P0002';
  END IF;
  SELECT * INTO r FROM risk.risks x WHERE x.id = p_id FOR UPDATE;
  RETURN r;
END
$$;
REVOKE ALL ON FUNCTION risk.risk_for_write(uuid) FROM PUBLIC;

-- Assessing a risk (R1.2) ---------------------------------------------------------------------
-- risk.assess: a manager of the risk (risk officer, admin, the department's supervisor) records
-- both halves at once: qualitative {likelihood, impact} (1-5; the level is the matrix's) and
-- quantitative {exposure (decimal string), currency, probability (0-1)} with the method; the
-- expected loss is exposure x probability. kind 'inherent' (default) or 'residual' (after the
-- responses, R2.1: needs an inherent one and a response in place). The first inherent
-- assessment moves the risk identified -> assessed. A dismissed or closed risk is not assessed.
CREATE OR REPLACE FUNCTION risk.assess(p_risk uuid, p_body jsonb) RETURNS risk.assessments
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_me uuid := api.require_user();
  r risk.risks;
  v_kind text;
  v_l int;
  v_i int;
  v_exposure numeric;
  v_currency text;
  v_prob numeric;
  v_method text;
  v_note text;
  a risk.assessments;
BEGIN
  r := risk.risk_for_write(p_risk);
  IF NOT risk.manages_risk(p_risk) THEN
    RAISE EXCEPTION 'a risk is assessed by a risk officer, admin or its department''s supervisor (R1.2)'
      USING ERRCODE = '42501';
  END IF;
  IF r.status IN ('dismissed', 'closed') THEN
    PERFORM fsm.refuse('risk', r.status, format('a %s risk is not assessed (reopen it first)', r.status));
  END IF;
  PERFORM api.body_keys(p_body, ARRAY['kind', 'likelihood', 'impact', 'exposure', 'currency',
                                      'probability', 'method', 'note']);
  v_kind := coalesce(risk.body_enum(p_body, 'kind', false, ARRAY['inherent', 'residual']), 'inherent');
  v_l := risk.body_int(p_body, 'likelihood', true, 1, 5);
  v_i := risk.body_int(p_body, 'impact', true, 1, 5);
  v_exposure := api.body_money(p_body, 'exposure', true);
  v_currency := api.body_text(p_body, 'currency', true, 3);
  IF v_currency !~ '^[A-Z]{3}$' THEN
    PERFORM api.fail('TXVAL', 'currency', 'must be an ISO 4217 code such as TWD');
  END IF;
  IF p_body -> 'probability' IS NULL OR jsonb_typeof(p_body -> 'probability') <> 'number' THEN
    PERFORM api.fail('TXVAL', 'probability', 'is required: a number from 0 to 1');
  END IF;
  v_prob := (p_body ->> 'probability')::numeric;
  IF v_prob < 0 OR v_prob > 1 OR v_prob <> round(v_prob, 4) THEN
    PERFORM api.fail('TXVAL', 'probability', 'must be a number from 0 to 1 with at most 4 decimals');
  END IF;
  v_method := api.body_text(p_body, 'method', true, 2000);
  v_note := api.body_text(p_body, 'note', false, 4000);
  IF v_kind = 'residual' THEN
    IF r.level IS NULL THEN
      PERFORM api.fail('TXVAL', 'kind', 'a residual assessment follows an inherent one');
    END IF;
    IF NOT EXISTS (SELECT FROM risk.responses s
                    WHERE s.risk_id = p_risk AND s.status IN ('planned', 'in_progress', 'done', 'reviewed')) THEN
      PERFORM api.fail('TXVAL', 'kind', 'a residual assessment is the level after a response: plan one first (R2.1)');
    END IF;
  END IF;
  INSERT INTO risk.assessments (risk_id, kind, likelihood, impact, level, exposure, currency,
                                probability, method, note, assessed_by, assessed_at)
  VALUES (p_risk, v_kind, v_l, v_i, risk.matrix_level(v_l, v_i), v_exposure, v_currency, v_prob,
          v_method, v_note, v_me, clock_timestamp())  -- the history's order, even within one transaction
  RETURNING * INTO a;
  IF r.status = 'identified' AND v_kind = 'inherent' THEN
    PERFORM fsm.move('risk', p_risk, 'assess', 'first assessment');
  END IF;
  RETURN a;
END
$$;
REVOKE ALL ON FUNCTION risk.assess(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.assess(uuid, jsonb) TO tianxing_app;

-- POST /v1/risks/{id}/assessments
CREATE OR REPLACE FUNCTION api.risk_assess(p_risk uuid, p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT api.risk_assessment_json(risk.assess(p_risk, p_body)) $$;
REVOKE ALL ON FUNCTION api.risk_assess(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_assess(uuid, jsonb) TO tianxing_app;

-- GET /v1/risks/{id}/assessments: the history, newest first (R1.2: never overwritten), with the
-- risk's current levels.
CREATE OR REPLACE FUNCTION api.risk_assessments(p_risk uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE r risk.risks;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO r FROM risk.risks x WHERE x.id = p_risk;
  IF r.id IS NULL THEN
    RAISE EXCEPTION 'no such risk' USING ERRCODE = 'P0002';
  END IF;
  RETURN json_build_object(
    'risk_id', r.id, 'level', r.level, 'residual_level', r.residual_level,
    'items', (SELECT coalesce(json_agg(api.risk_assessment_json(a) ORDER BY a.assessed_at DESC, a.id), '[]'::json)
                FROM risk.assessments a WHERE a.risk_id = p_risk));
END
$$;
REVOKE ALL ON FUNCTION api.risk_assessments(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_assessments(uuid) TO tianxing_app;

-- The register: list, document, changes, moves ------------------------------------------------
-- GET /v1/risks: the risks the caller may read (the policy risks_read), newest first; filters
-- category, status, level, owner_id, department_id, customer_id, case_id, round_id. Keyset: the
-- cursor is the last risk's id.
CREATE OR REPLACE FUNCTION api.risk_list(p_category text, p_status text, p_level text,
                                         p_owner uuid, p_department uuid, p_customer uuid,
                                         p_case uuid, p_round uuid, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int;
  v_cursor uuid;
  k_at timestamptz;
  k_id uuid;
  v_out json;
BEGIN
  PERFORM api.require_user();
  v_limit := api.page_limit(p_limit);
  IF p_category IS NOT NULL AND NOT p_category IN ('market', 'credit', 'operational', 'other') THEN
    PERFORM api.fail('TXVAL', 'category', 'must be one of market, credit, operational, other');
  END IF;
  IF p_status IS NOT NULL AND NOT p_status IN ('identified', 'assessed', 'treated', 'closed', 'dismissed') THEN
    PERFORM api.fail('TXVAL', 'status', 'must be one of identified, assessed, treated, closed, dismissed');
  END IF;
  IF p_level IS NOT NULL AND risk.level_rank(p_level) IS NULL THEN
    PERFORM api.fail('TXVAL', 'level', 'must be one of low, medium, high, critical');
  END IF;
  v_cursor := api.cursor_uuid(p_cursor);
  IF v_cursor IS NOT NULL THEN
    SELECT r.created_at, r.id INTO k_at, k_id FROM risk.risks r WHERE r.id = v_cursor;
    IF k_id IS NULL THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
  END IF;
  WITH page AS (
    SELECT r, r.id, row_number() OVER (ORDER BY r.created_at DESC, r.id DESC) AS rn
      FROM risk.risks r
     WHERE (p_category IS NULL OR r.category = p_category)
       AND (p_status IS NULL OR r.status = p_status)
       AND (p_level IS NULL OR r.level = p_level)
       AND (p_owner IS NULL OR r.owner_id = p_owner)
       AND (p_department IS NULL OR r.department_id = p_department)
       AND (p_customer IS NULL OR r.customer_id = p_customer)
       AND (p_case IS NULL OR r.case_id = p_case)
       AND (p_round IS NULL OR r.round_id = p_round)
       AND (v_cursor IS NULL OR (r.created_at, r.id) < (k_at, k_id))
     ORDER BY r.created_at DESC, r.id DESC
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.risk_row_json(p.r) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN min(p.id::text) FILTER (WHERE p.rn = v_limit) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.risk_list(text, text, text, uuid, uuid, uuid, uuid, uuid, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_list(text, text, text, uuid, uuid, uuid, uuid, uuid, int, text) TO tianxing_app;

-- GET /v1/risks/{id}
CREATE OR REPLACE FUNCTION api.risk_get(p_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  PERFORM api.require_user();
  RETURN api.risk_json(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.risk_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_get(uuid) TO tianxing_app;

-- PATCH /v1/risks/{id} (If-Match): what the risk is and touches (R1.3). A manager of the risk
-- changes any member, the owner included; its reporter may still correct the text and links
-- while it is only identified. A dismissed or closed risk is reopened first (409). Links as in
-- risk.report: visible to the caller.
CREATE OR REPLACE FUNCTION risk.risk_update(p_id uuid, p_version int, p_body jsonb) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_me uuid := api.require_user();
  r risk.risks;
  v_manager boolean;
  v_owner_dept uuid;
BEGIN
  r := risk.risk_for_write(p_id);
  v_manager := risk.manages_risk(p_id);
  IF NOT v_manager AND NOT (r.reported_by = v_me AND r.status = 'identified') THEN
    RAISE EXCEPTION 'a risk is changed by a risk officer, admin or its department''s supervisor (its reporter only until it is assessed)'
      USING ERRCODE = '42501';
  END IF;
  IF r.status IN ('dismissed', 'closed') THEN
    PERFORM fsm.refuse('risk', r.status, format('a %s risk is not changed (reopen it first)', r.status));
  END IF;
  PERFORM api.check_version(p_version, r.version);
  PERFORM api.body_keys(p_body, ARRAY['category', 'title', 'description', 'cause', 'customer_id',
                                      'case_id', 'business_type_id', 'department_id', 'owner_id']);
  IF p_body ? 'category' THEN
    r.category := risk.body_enum(p_body, 'category', true, ARRAY['market', 'credit', 'operational', 'other']);
  END IF;
  IF p_body ? 'title' THEN r.title := api.body_text(p_body, 'title', true, 200); END IF;
  IF p_body ? 'description' THEN r.description := api.body_text(p_body, 'description', true, 4000); END IF;
  IF p_body ? 'cause' THEN r.cause := api.body_text(p_body, 'cause', false, 4000); END IF;
  IF p_body ? 'customer_id' THEN
    r.customer_id := api.body_uuid(p_body, 'customer_id', false);
    IF r.customer_id IS NOT NULL AND NOT risk.may_see_customer(r.customer_id) THEN
      PERFORM api.fail('TXVAL', 'customer_id', 'is not a customer the caller may see');
    END IF;
  END IF;
  IF p_body ? 'case_id' THEN
    r.case_id := api.body_uuid(p_body, 'case_id', false);
    IF r.case_id IS NOT NULL AND NOT cases.may_read(r.case_id) THEN
      PERFORM api.fail('TXVAL', 'case_id', 'is not a case the caller may see');
    END IF;
  END IF;
  IF p_body ? 'business_type_id' THEN
    r.business_type_id := api.body_uuid(p_body, 'business_type_id', false);
    IF r.business_type_id IS NOT NULL
       AND NOT EXISTS (SELECT FROM cases.business_types b WHERE b.id = r.business_type_id) THEN
      PERFORM api.fail('TXVAL', 'business_type_id', 'is not a business type');
    END IF;
  END IF;
  IF p_body ? 'department_id' THEN
    IF NOT v_manager THEN
      PERFORM api.fail('TXVAL', 'department_id', 'is changed by a manager of the risk');
    END IF;
    r.department_id := api.body_uuid(p_body, 'department_id', false);
    IF r.department_id IS NOT NULL
       AND NOT EXISTS (SELECT FROM org.departments d WHERE d.id = r.department_id) THEN
      PERFORM api.fail('TXVAL', 'department_id', 'is not a department');
    END IF;
    -- a supervisor keeps the risk in their department (moving it out is the risk officers')
    IF NOT risk.is_manager() AND r.department_id IS DISTINCT FROM tx.department_id() THEN
      PERFORM api.fail('TXVAL', 'department_id', 'a supervisor keeps the risk in their own department');
    END IF;
  END IF;
  IF p_body ? 'owner_id' THEN
    r.owner_id := api.body_uuid(p_body, 'owner_id', true);
    SELECT e.department_id INTO v_owner_dept FROM org.employees e WHERE e.id = r.owner_id AND e.active;
    IF NOT FOUND THEN
      PERFORM api.fail('TXVAL', 'owner_id', 'is not an active employee');
    END IF;
    IF NOT v_manager THEN
      PERFORM api.fail('TXVAL', 'owner_id', 'is changed by a manager of the risk');
    END IF;
    -- as in risk.report: a supervisor names someone of their department
    IF NOT risk.is_manager() AND v_owner_dept IS DISTINCT FROM tx.department_id() THEN
      PERFORM api.fail('TXVAL', 'owner_id', 'a supervisor names an owner of their own department');
    END IF;
  END IF;
  UPDATE risk.risks x
     SET category = r.category, title = r.title, description = r.description, cause = r.cause,
         customer_id = r.customer_id, case_id = r.case_id, business_type_id = r.business_type_id,
         department_id = r.department_id, owner_id = r.owner_id
   WHERE x.id = p_id;
END
$$;
REVOKE ALL ON FUNCTION risk.risk_update(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.risk_update(uuid, int, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.risk_update(p_id uuid, p_version int, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM risk.risk_update(p_id, p_version, p_body);
  RETURN api.risk_json(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.risk_update(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_update(uuid, int, jsonb) TO tianxing_app;

-- POST /v1/risks/{id}/dismiss|treat|close|reopen (machine risk, migration 0029; guards in
-- 010_guards.sql). dismiss {reason}: a report that is not a risk (kept as closed_reason); treat
-- {note?}: every response the level needs is in place (R2.1); close {reason}: every response
-- reviewed or cancelled, and one reviewed when the level needs it (R2.1); reopen {reason}: the
-- closing reason is cleared, the log keeps it. The reason is recorded before the move (the
-- guard reads it from the row). Order: 404, 403 (role), 409 (state, guard), 422 (body).
CREATE OR REPLACE FUNCTION risk.risk_move(p_id uuid, p_action text, p_body jsonb) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  r risk.risks;
  v_tr fsm.transitions;
  v_reason text;
BEGIN
  PERFORM api.require_user();
  r := risk.risk_for_write(p_id);
  v_tr := fsm.transition('risk', r.status, p_action);  -- 42501 role, 409 state
  IF p_action = 'treat' AND NOT risk.manages_risk(p_id) THEN
    RAISE EXCEPTION 'a risk is treated by a risk officer, admin or its department''s supervisor (R2.1)'
      USING ERRCODE = '42501';
  END IF;
  IF p_action = 'treat' THEN
    PERFORM fsm.check_guard(v_tr, p_id);
    PERFORM api.body_keys(p_body, ARRAY['note']);
    PERFORM fsm.move('risk', p_id, 'treat', api.body_text(p_body, 'note', false, 1000));
  ELSIF p_action = 'close' THEN
    PERFORM api.body_keys(p_body, ARRAY['reason']);
    v_reason := api.body_text(p_body, 'reason', true, 2000);
    UPDATE risk.risks x SET closed_reason = v_reason WHERE x.id = p_id;
    PERFORM fsm.move('risk', p_id, 'close', v_reason);
  ELSIF p_action = 'dismiss' THEN
    PERFORM api.body_keys(p_body, ARRAY['reason']);
    v_reason := api.body_text(p_body, 'reason', true, 2000);
    PERFORM fsm.move('risk', p_id, 'dismiss', v_reason, jsonb_build_object('closed_reason', v_reason));
  ELSE  -- reopen
    PERFORM api.body_keys(p_body, ARRAY['reason']);
    v_reason := api.body_text(p_body, 'reason', true, 2000);
    PERFORM fsm.move('risk', p_id, p_action, v_reason, '{"closed_reason": null}');
  END IF;
END
$$;
REVOKE ALL ON FUNCTION risk.risk_move(uuid, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.risk_move(uuid, text, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.risk_move(p_id uuid, p_action text, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM risk.risk_move(p_id, p_action, p_body);
  RETURN api.risk_json(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.risk_move(uuid, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_move(uuid, text, jsonb) TO tianxing_app;

-- GET /v1/risks/{id}/transitions: its moves, oldest first (fsm.log).
CREATE OR REPLACE FUNCTION api.risk_transitions(p_id uuid, p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  PERFORM api.require_user();
  IF NOT EXISTS (SELECT FROM risk.risks r WHERE r.id = p_id) THEN
    RAISE EXCEPTION 'no such risk' USING ERRCODE = 'P0002';
  END IF;
  RETURN fsm.history('risk', p_id, p_limit, p_cursor);
END
$$;
REVOKE ALL ON FUNCTION api.risk_transitions(uuid, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_transitions(uuid, int, text) TO tianxing_app;

-- Identification rounds (R1.1 定期) -------------------------------------------------------------
CREATE OR REPLACE FUNCTION api.risk_round_json(o risk.rounds) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
           'id', o.id, 'kind', o.kind, 'label', o.label, 'scope', o.scope,
           'opens_on', to_char(o.opens_on, 'YYYY-MM-DD'), 'due_on', to_char(o.due_on, 'YYYY-MM-DD'),
           'status', o.status, 'summary', o.summary, 'overdue_at', api.ts(o.overdue_at),
           'overdue', o.status = 'open' AND o.due_on < org.company_date(),
           'risks', (SELECT count(*) FROM risk.risks r WHERE r.round_id = o.id),
           'opened_by', o.opened_by, 'completed_by', o.completed_by,
           'completed_at', api.ts(o.completed_at),
           'allowed_actions', fsm.allowed_actions('risk_round', o.status),
           'version', o.version, 'created_at', api.ts(o.created_at), 'updated_at', api.ts(o.updated_at))
$$;
REVOKE ALL ON FUNCTION api.risk_round_json(risk.rounds) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_round_json(risk.rounds) TO tianxing_app;

-- GET /v1/risk-rounds: every signed-in employee (they report into open rounds), newest first;
-- filters status, kind, overdue (true: open rounds flagged by the job). Keyset on id.
CREATE OR REPLACE FUNCTION api.risk_round_list(p_status text, p_kind text, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int;
  v_cursor uuid;
  k_on date;
  k_id uuid;
  v_out json;
BEGIN
  PERFORM api.require_user();
  v_limit := api.page_limit(p_limit);
  IF p_status IS NOT NULL AND NOT p_status IN ('open', 'completed', 'cancelled') THEN
    PERFORM api.fail('TXVAL', 'status', 'must be one of open, completed, cancelled');
  END IF;
  IF p_kind IS NOT NULL AND NOT p_kind IN ('regular', 'ad_hoc') THEN
    PERFORM api.fail('TXVAL', 'kind', 'must be one of regular, ad_hoc');
  END IF;
  v_cursor := api.cursor_uuid(p_cursor);
  IF v_cursor IS NOT NULL THEN
    SELECT o.opens_on, o.id INTO k_on, k_id FROM risk.rounds o WHERE o.id = v_cursor;
    IF k_id IS NULL THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
  END IF;
  WITH page AS (
    SELECT o, o.id, row_number() OVER (ORDER BY o.opens_on DESC, o.id DESC) AS rn
      FROM risk.rounds o
     WHERE (p_status IS NULL OR o.status = p_status)
       AND (p_kind IS NULL OR o.kind = p_kind)
       AND (v_cursor IS NULL OR (o.opens_on, o.id) < (k_on, k_id))
     ORDER BY o.opens_on DESC, o.id DESC
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.risk_round_json(p.o) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN min(p.id::text) FILTER (WHERE p.rn = v_limit) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.risk_round_list(text, text, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_round_list(text, text, int, text) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.risk_round_get(p_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE o risk.rounds;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO o FROM risk.rounds x WHERE x.id = p_id;
  IF o.id IS NULL THEN
    RAISE EXCEPTION 'no such risk round' USING ERRCODE = 'P0002';
  END IF;
  RETURN api.risk_round_json(o);
END
$$;
REVOKE ALL ON FUNCTION api.risk_round_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_round_get(uuid) TO tianxing_app;

-- POST /v1/risk-rounds (risk_officer, admin): an ad hoc round {label, scope?, opens_on?
-- (default today), due_on}; regular rounds are the job's. A label is unique (409 TXDUP with
-- existing_id).
CREATE OR REPLACE FUNCTION risk.round_open(p_body jsonb) RETURNS risk.rounds
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_me uuid := api.require_user();
  v_label text;
  v_scope text;
  v_opens date;
  v_due date;
  v_existing uuid;
  o risk.rounds;
BEGIN
  PERFORM api.require_role('risk_officer', 'admin');
  PERFORM api.body_keys(p_body, ARRAY['label', 'scope', 'opens_on', 'due_on']);
  v_label := api.body_text(p_body, 'label', true, 40);
  v_scope := api.body_text(p_body, 'scope', false, 2000);
  v_opens := coalesce(api.body_date(p_body, 'opens_on', false), org.company_date());
  v_due := api.body_date(p_body, 'due_on', true);
  IF v_opens < org.company_date() THEN
    PERFORM api.fail('TXVAL', 'opens_on', 'must not be in the past');
  END IF;
  IF v_due < v_opens THEN
    PERFORM api.fail('TXVAL', 'due_on', 'must not be before opens_on');
  END IF;
  SELECT x.id INTO v_existing FROM risk.rounds x WHERE x.label = v_label;
  IF v_existing IS NOT NULL THEN
    RAISE EXCEPTION 'a round with this label exists'
      USING ERRCODE = 'TXDUP', DETAIL = jsonb_build_object('existing_id', v_existing)::text;
  END IF;
  INSERT INTO risk.rounds (kind, label, scope, opens_on, due_on, status, opened_by)
  VALUES ('ad_hoc', v_label, v_scope, v_opens, v_due, 'open', v_me)
  RETURNING * INTO o;
  RETURN o;
END
$$;
REVOKE ALL ON FUNCTION risk.round_open(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.round_open(jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.risk_round_create(p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE o risk.rounds := risk.round_open(p_body);
BEGIN
  RETURN api.risk_round_json(o);
END
$$;
REVOKE ALL ON FUNCTION api.risk_round_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_round_create(jsonb) TO tianxing_app;

-- POST /v1/risk-rounds/{id}/complete {summary} | cancel {reason} (an ad hoc round only).
CREATE OR REPLACE FUNCTION risk.round_move(p_id uuid, p_action text, p_body jsonb) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  o risk.rounds;
  v_tr fsm.transitions;
  v_text text;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO o FROM risk.rounds x WHERE x.id = p_id FOR UPDATE;
  IF o.id IS NULL THEN
    RAISE EXCEPTION 'no such risk round' USING ERRCODE = 'P0002';
  END IF;
  v_tr := fsm.transition('risk_round', o.status, p_action);
  IF p_action = 'complete' THEN
    PERFORM api.body_keys(p_body, ARRAY['summary']);
    v_text := api.body_text(p_body, 'summary', true, 4000);
    UPDATE risk.rounds x SET summary = v_text WHERE x.id = p_id;
    PERFORM fsm.move('risk_round', p_id, 'complete', NULL,
                     jsonb_build_object('completed_by', tx.user_id(), 'completed_at', now()));
  ELSE
    PERFORM fsm.check_guard(v_tr, p_id);
    PERFORM api.body_keys(p_body, ARRAY['reason']);
    v_text := api.body_text(p_body, 'reason', true, 2000);
    PERFORM fsm.move('risk_round', p_id, 'cancel', v_text);
  END IF;
END
$$;
REVOKE ALL ON FUNCTION risk.round_move(uuid, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.round_move(uuid, text, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.risk_round_move(p_id uuid, p_action text, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM risk.round_move(p_id, p_action, p_body);
  RETURN api.risk_round_get(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.risk_round_move(uuid, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_round_move(uuid, text, jsonb) TO tianxing_app;

-- The job 'risk.rounds' (schedule daily 02:00 company time, migration 0029). R1.1 定期: opens a
-- regular round when risk_schedules.identification_every_months have passed since the last
-- regular one opened (or there is none), due identification_grace_days later; flags open rounds
-- past their due date (overdue_at) and responses not done by their due date (R2.1; overdue_at).
-- Idempotent: one regular round per opening day (index rounds_regular_key), a flag is set once.
-- Payload {"today": "YYYY-MM-DD"} for catch-up runs and tests. Runs without a signed-in employee.
CREATE OR REPLACE FUNCTION risk.rounds_job(p_payload jsonb) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_today date;
  v_sched jsonb := org.policy_value('risk_schedules');
  v_last date;
  v_opened uuid;
  v_rounds int;
  v_responses int;
BEGIN
  IF p_payload IS NOT NULL AND p_payload ? 'today' THEN
    BEGIN
      IF jsonb_typeof(p_payload -> 'today') <> 'string'
         OR (p_payload ->> 'today') !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
        RAISE EXCEPTION USING ERRCODE = '22007';
      END IF;
      v_today := (p_payload ->> 'today')::date;
    EXCEPTION WHEN data_exception THEN
      RAISE EXCEPTION 'risk.rounds: today must be a date YYYY-MM-DD' USING ERRCODE = '22023';
    END;
  ELSE
    v_today := org.company_date();
  END IF;
  SELECT max(o.opens_on) INTO v_last FROM risk.rounds o WHERE o.kind = 'regular' AND o.opens_on <= v_today;
  IF v_last IS NULL
     OR (v_last + make_interval(months => (v_sched ->> 'identification_every_months')::int))::date <= v_today THEN
    INSERT INTO risk.rounds (kind, label, scope, opens_on, due_on, status)
    VALUES ('regular', 'regular ' || to_char(v_today, 'YYYY-MM-DD'),
            'regular identification of risks (R1.1)', v_today,
            v_today + (v_sched ->> 'identification_grace_days')::int, 'open')
    ON CONFLICT DO NOTHING
    RETURNING id INTO v_opened;
  END IF;
  UPDATE risk.rounds o SET overdue_at = now()
   WHERE o.status = 'open' AND o.due_on < v_today AND o.overdue_at IS NULL;
  GET DIAGNOSTICS v_rounds = ROW_COUNT;
  UPDATE risk.responses s SET overdue_at = now()
   WHERE s.status IN ('proposed', 'planned', 'in_progress') AND s.due_on < v_today AND s.overdue_at IS NULL;
  GET DIAGNOSTICS v_responses = ROW_COUNT;
  RETURN jsonb_build_object('today', v_today, 'opened', v_opened, 'rounds_overdue', v_rounds,
                            'responses_overdue', v_responses);
END
$$;
REVOKE ALL ON FUNCTION risk.rounds_job(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.rounds_job(jsonb) TO tianxing_app;

-- Market research and trend analysis (R2.2) ---------------------------------------------------
CREATE OR REPLACE FUNCTION api.market_record_json(m risk.market_records) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
           'id', m.id, 'kind', m.kind, 'title', m.title, 'summary', m.summary,
           'findings', m.findings, 'preparation', m.preparation, 'source', m.source,
           'covers_from', to_char(m.covers_from, 'YYYY-MM-DD'), 'covers_to', to_char(m.covers_to, 'YYYY-MM-DD'),
           -- the linked risks the caller may read (the policy market_record_risks_read)
           'risk_ids', (SELECT coalesce(json_agg(l.risk_id ORDER BY l.risk_id), '[]'::json)
                          FROM risk.market_record_risks l WHERE l.record_id = m.id),
           'author_id', m.author_id, 'at', api.ts(m.at))
$$;
REVOKE ALL ON FUNCTION api.market_record_json(risk.market_records) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.market_record_json(risk.market_records) TO tianxing_app;

-- GET /v1/market-records: newest first; filters kind, risk_id. Keyset on id.
CREATE OR REPLACE FUNCTION api.market_record_list(p_kind text, p_risk uuid, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int;
  v_cursor uuid;
  k_at timestamptz;
  k_id uuid;
  v_out json;
BEGIN
  PERFORM api.require_user();
  v_limit := api.page_limit(p_limit);
  IF p_kind IS NOT NULL AND NOT p_kind IN ('research', 'trend') THEN
    PERFORM api.fail('TXVAL', 'kind', 'must be one of research, trend');
  END IF;
  v_cursor := api.cursor_uuid(p_cursor);
  IF v_cursor IS NOT NULL THEN
    SELECT m.at, m.id INTO k_at, k_id FROM risk.market_records m WHERE m.id = v_cursor;
    IF k_id IS NULL THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
  END IF;
  WITH page AS (
    SELECT m, m.id, row_number() OVER (ORDER BY m.at DESC, m.id DESC) AS rn
      FROM risk.market_records m
     WHERE (p_kind IS NULL OR m.kind = p_kind)
       AND (p_risk IS NULL OR EXISTS (SELECT FROM risk.market_record_risks l
                                       WHERE l.record_id = m.id AND l.risk_id = p_risk))
       AND (v_cursor IS NULL OR (m.at, m.id) < (k_at, k_id))
     ORDER BY m.at DESC, m.id DESC
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.market_record_json(p.m) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN min(p.id::text) FILTER (WHERE p.rn = v_limit) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.market_record_list(text, uuid, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.market_record_list(text, uuid, int, text) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.market_record_get(p_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE m risk.market_records;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO m FROM risk.market_records x WHERE x.id = p_id;
  IF m.id IS NULL THEN
    RAISE EXCEPTION 'no such market record' USING ERRCODE = 'P0002';
  END IF;
  RETURN api.market_record_json(m);
END
$$;
REVOKE ALL ON FUNCTION api.market_record_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.market_record_get(uuid) TO tianxing_app;

-- POST /v1/market-records (risk_officer, admin, supervisor; R2.2 市場調研和趨勢分析): {kind
-- (research | trend), title, summary, findings?, preparation? (what it prepares for:
-- 提前做好應對準備), source?, covers_from?, covers_to?, risk_ids? (risks the caller may read)}.
-- Append-only: a later finding is a new record.
CREATE OR REPLACE FUNCTION risk.market_record_add(p_body jsonb) RETURNS risk.market_records
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_me uuid := api.require_user();
  v_risks uuid[] := '{}';
  v_elem jsonb;
  m risk.market_records;
BEGIN
  PERFORM api.require_role('risk_officer', 'admin', 'supervisor');
  PERFORM api.body_keys(p_body, ARRAY['kind', 'title', 'summary', 'findings', 'preparation',
                                      'source', 'covers_from', 'covers_to', 'risk_ids']);
  m.kind := risk.body_enum(p_body, 'kind', true, ARRAY['research', 'trend']);
  m.title := api.body_text(p_body, 'title', true, 200);
  m.summary := api.body_text(p_body, 'summary', true, 8000);
  m.findings := api.body_text(p_body, 'findings', false, 8000);
  m.preparation := api.body_text(p_body, 'preparation', false, 4000);
  m.source := api.body_text(p_body, 'source', false, 500);
  m.covers_from := api.body_date(p_body, 'covers_from', false);
  m.covers_to := api.body_date(p_body, 'covers_to', false);
  IF m.covers_to < m.covers_from THEN
    PERFORM api.fail('TXVAL', 'covers_to', 'must not be before covers_from');
  END IF;
  IF p_body ? 'risk_ids' AND jsonb_typeof(p_body -> 'risk_ids') <> 'null' THEN
    IF jsonb_typeof(p_body -> 'risk_ids') <> 'array' OR jsonb_array_length(p_body -> 'risk_ids') > 100 THEN
      PERFORM api.fail('TXVAL', 'risk_ids', 'must be an array of at most 100 risk ids');
    END IF;
    FOR v_elem IN SELECT e FROM jsonb_array_elements(p_body -> 'risk_ids') e LOOP
      IF jsonb_typeof(v_elem) <> 'string'
         OR (v_elem #>> '{}') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
         OR NOT risk.may_read((v_elem #>> '{}')::uuid) THEN
        PERFORM api.fail('TXVAL', 'risk_ids', 'must name risks the caller may read');
      END IF;
      v_risks := v_risks || (v_elem #>> '{}')::uuid;
    END LOOP;
  END IF;
  INSERT INTO risk.market_records (kind, title, summary, findings, preparation, source,
                                   covers_from, covers_to, author_id)
  VALUES (m.kind, m.title, m.summary, m.findings, m.preparation, m.source, m.covers_from,
          m.covers_to, v_me)
  RETURNING * INTO m;
  INSERT INTO risk.market_record_risks (record_id, risk_id)
  SELECT DISTINCT m.id, x FROM unnest(v_risks) x;
  RETURN m;
END
$$;
REVOKE ALL ON FUNCTION risk.market_record_add(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.market_record_add(jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.market_record_create(p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE m risk.market_records := risk.market_record_add(p_body);
BEGIN
  RETURN api.market_record_get(m.id);
END
$$;
REVOKE ALL ON FUNCTION api.market_record_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.market_record_create(jsonb) TO tianxing_app;
