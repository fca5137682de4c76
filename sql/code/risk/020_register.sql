-- Module R, part A: the risk register (R1.1-R1.3, R2.2): identification rounds, risks, their
-- assessments (history, never overwritten) and market research and trend records; the job
-- 'risk.rounds'. Responses (R2.1, R2.4) are in 030_responses.sql. Writers are SECURITY DEFINER
-- functions of schema risk that first find the row as the caller sees it (invisible: 404), then
-- check role and person, then write; api.* functions (SECURITY INVOKER) call them.

-- Helpers ---------------------------------------------------------------------------------------

-- The company's date today (R1.1 deadlines and due dates are calendar days of the company).
CREATE OR REPLACE FUNCTION risk.today() RETURNS date
  LANGUAGE sql STABLE
  AS $$ SELECT (now() AT TIME ZONE org.company_time_zone())::date $$;
REVOKE ALL ON FUNCTION risk.today() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.today() TO tianxing_app;

-- The qualitative level of likelihood l and impact i on the matrix in force (R1.2).
CREATE OR REPLACE FUNCTION risk.matrix_level(p_likelihood int, p_impact int) RETURNS text
  LANGUAGE sql STABLE
  AS $$ SELECT org.policy_value('risk_matrix') -> 'cells' -> (p_likelihood - 1) ->> (p_impact - 1) $$;
REVOKE ALL ON FUNCTION risk.matrix_level(int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.matrix_level(int, int) TO tianxing_app;

-- A keyset cursor that is a row id; 422 `cursor` otherwise.
CREATE OR REPLACE FUNCTION risk.cursor_uuid(p_cursor text) RETURNS uuid
  LANGUAGE plpgsql IMMUTABLE
  AS $$
BEGIN
  IF p_cursor IS NULL THEN
    RETURN NULL;
  END IF;
  IF p_cursor !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
  END IF;
  RETURN p_cursor::uuid;
END
$$;
REVOKE ALL ON FUNCTION risk.cursor_uuid(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.cursor_uuid(text) TO tianxing_app;

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

-- A money amount as a decimal string ("12000.00": exact, never a binary float), >= 0, at most
-- two decimals and 16 integer digits (numeric(18, 2)).
CREATE OR REPLACE FUNCTION risk.body_money(p_body jsonb, p_field text, p_required boolean)
  RETURNS numeric
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
  IF jsonb_typeof(v) <> 'string' OR (v #>> '{}') !~ '^[0-9]{1,16}(\.[0-9]{1,2})?$' THEN
    PERFORM api.fail('TXVAL', p_field, 'must be a decimal string with at most two decimals, e.g. "12000.00"');
  END IF;
  RETURN (v #>> '{}')::numeric;
END
$$;
REVOKE ALL ON FUNCTION risk.body_money(jsonb, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.body_money(jsonb, text, boolean) TO tianxing_app;

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
  VALUES (format('R-%s-%s', to_char(risk.today(), 'YYYY'), lpad(nextval('risk.risk_code_seq')::text, 4, '0')),
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
  IF NOT risk.may_read(p_risk) THEN
    RAISE EXCEPTION 'no such risk' USING ERRCODE = 'P0002';
  END IF;
  SELECT * INTO r FROM risk.risks x WHERE x.id = p_risk FOR UPDATE;
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
  v_exposure := risk.body_money(p_body, 'exposure', true);
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
