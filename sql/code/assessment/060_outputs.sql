-- sql/code/assessment/060_outputs.sql: module Q, part D, the use of results (Q4 結果應用; R2.4
-- for training). One current definition per object; `tianxingd migrate` re-applies this file
-- when it changes (sql/code/ORDER, docs/architecture.md).
--
-- The service makes lists that people act on and decides nothing (Q4, READINGS.md "Use"):
--   salary bases      HR's effective-dated table (never overwritten: a change is a new row);
--   bonus list        per period: grade -> coefficient (the period's parameters) x the base in
--                     force at the period's end (績效獎金);
--   promotion list    per year: the rule of the period's parameters (晉升與調薪);
--   training plans    proposed for an indicator under its threshold or for the shortcomings the
--                     employee named, or written by hand; agreed, started, completed with
--                     evidence or cancelled with a reason (培訓與發展; R2.4 uses the same rows).
-- docs/assessment-outputs.md explains the derivations (rounding, due dates, topics).
--
-- As everywhere in module Q: api.* functions run as the caller (SECURITY INVOKER); writers are
-- SECURITY DEFINER functions of schema assessment that first find the row as the caller sees it
-- (404), then check role and person (403), state (409), body (422), then write.

-- Pure rules (testable alone) ---------------------------------------------------------------------

-- Money goes out as a decimal string with two decimals ("45000.00"): a JSON number would lose
-- cents in clients that read it as a binary float.
CREATE OR REPLACE FUNCTION assessment.money_text(p numeric) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT to_char(round(p, 2), 'FM9999999999990.00') $$;
REVOKE ALL ON FUNCTION assessment.money_text(numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.money_text(numeric) TO tianxing_app;

-- Q4 績效獎金: bonus = coefficient x base, rounded to 2 decimals, half away from zero (numeric
-- round); NULL when either is missing.
CREATE OR REPLACE FUNCTION assessment.bonus_amount(p_coefficient numeric, p_base numeric)
  RETURNS numeric
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT round(p_coefficient * p_base, 2) $$;
REVOKE ALL ON FUNCTION assessment.bonus_amount(numeric, numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.bonus_amount(numeric, numeric) TO tianxing_app;

-- The coefficient of a grade in assessment_bonus_coefficients ([{grade, coefficient}, ...]);
-- NULL when the grade is not listed.
CREATE OR REPLACE FUNCTION assessment.grade_coefficient(p_coefficients jsonb, p_grade text)
  RETURNS numeric
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$
  SELECT (c ->> 'coefficient')::numeric
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p_coefficients) = 'array'
                                   THEN p_coefficients ELSE '[]' END) c
   WHERE c ->> 'grade' = p_grade
   LIMIT 1
$$;
REVOKE ALL ON FUNCTION assessment.grade_coefficient(jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.grade_coefficient(jsonb, text) TO tianxing_app;

-- Q4 晉升與調薪: assessment_promotion_rule {grades, min_months_assessed}: the annual grade is
-- one of grades and at least min_months_assessed months were assessed in the year.
CREATE OR REPLACE FUNCTION assessment.promotion_eligible(p_rule jsonb, p_grade text, p_months int)
  RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$
  SELECT coalesce(p_grade IN (SELECT jsonb_array_elements_text(p_rule -> 'grades'))
                  AND p_months >= (p_rule ->> 'min_months_assessed')::int, false)
$$;
REVOKE ALL ON FUNCTION assessment.promotion_eligible(jsonb, text, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.promotion_eligible(jsonb, text, int) TO tianxing_app;

-- The states of a live assessment that has been published: the lists of Q4 use only these (a
-- result not yet published is not a result; a superseded revision is history).
CREATE OR REPLACE FUNCTION assessment.published_states() RETURNS text[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT ARRAY['published', 'acknowledged', 'appealed', 'appeal_dismissed', 'appeal_upheld'] $$;
REVOKE ALL ON FUNCTION assessment.published_states() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.published_states() TO tianxing_app;

-- A period as the caller sees it (every signed-in employee reads periods); P0002 otherwise.
CREATE OR REPLACE FUNCTION assessment.output_period(p_id uuid) RETURNS assessment.periods
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE p assessment.periods;
BEGIN
  SELECT * INTO p FROM assessment.periods x WHERE x.id = p_id;
  IF p.id IS NULL THEN
    RAISE EXCEPTION 'no such assessment period' USING ERRCODE = 'P0002';
  END IF;
  RETURN p;
END
$$;
REVOKE ALL ON FUNCTION assessment.output_period(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.output_period(uuid) TO tianxing_app;

-- Keyset cursors are api.cursor_uuid (sql/code/kit/030_paging.sql).
DROP FUNCTION IF EXISTS assessment.cursor_uuid(text);

-- Salary bases (HR only; never overwritten) ---------------------------------------------------

-- Every writer, the owner's functions included: a base is a fact with a date; a change is a
-- new row with a later effective_from, so a bonus list of an old period stays reproducible.
CREATE OR REPLACE FUNCTION assessment.salary_bases_append_only() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  RAISE EXCEPTION 'a salary base is never overwritten or removed: add a row with a later effective_from (Q4)'
    USING ERRCODE = 'TXCON';
END
$$;
REVOKE ALL ON FUNCTION assessment.salary_bases_append_only() FROM PUBLIC;
CREATE OR REPLACE TRIGGER salary_bases_append_only BEFORE UPDATE OR DELETE ON assessment.salary_bases
  FOR EACH ROW EXECUTE FUNCTION assessment.salary_bases_append_only();
CREATE OR REPLACE TRIGGER salary_bases_no_truncate BEFORE TRUNCATE ON assessment.salary_bases
  FOR EACH STATEMENT EXECUTE FUNCTION assessment.salary_bases_append_only();

CREATE OR REPLACE FUNCTION api.salary_base_json(b assessment.salary_bases) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
           'id', b.id, 'employee_id', b.employee_id, 'amount', assessment.money_text(b.amount),
           'currency', b.currency, 'effective_from', to_char(b.effective_from, 'YYYY-MM-DD'),
           'note', b.note, 'set_by', b.set_by, 'set_at', api.ts(b.set_at))
$$;
REVOKE ALL ON FUNCTION api.salary_base_json(assessment.salary_bases) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.salary_base_json(assessment.salary_bases) TO tianxing_app;

-- GET /v1/salary-bases (hr; Q4): every row, by employee then effective_from (history included);
-- employee_id filters. Keyset: the cursor is the last row's id.
CREATE OR REPLACE FUNCTION api.salary_base_list(p_employee uuid, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int;
  v_cursor uuid;
  k_emp uuid;
  k_from date;
  k_id uuid;
  v_out json;
BEGIN
  PERFORM api.require_role('hr');
  v_limit := api.page_limit(p_limit);
  v_cursor := api.cursor_uuid(p_cursor);
  IF v_cursor IS NOT NULL THEN
    SELECT b.employee_id, b.effective_from, b.id INTO k_emp, k_from, k_id
      FROM assessment.salary_bases b WHERE b.id = v_cursor;
    IF k_id IS NULL THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
  END IF;
  WITH page AS (
    SELECT b, b.id, row_number() OVER (ORDER BY b.employee_id, b.effective_from, b.id) AS rn
      FROM assessment.salary_bases b
     WHERE (p_employee IS NULL OR b.employee_id = p_employee)
       AND (v_cursor IS NULL
            OR (b.employee_id, b.effective_from, b.id) > (k_emp, k_from, k_id))
     ORDER BY b.employee_id, b.effective_from, b.id
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.salary_base_json(p.b) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN min(p.id::text) FILTER (WHERE p.rn = v_limit) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.salary_base_list(uuid, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.salary_base_list(uuid, integer, text) TO tianxing_app;

-- POST /v1/salary-bases (hr; Q4): {employee_id, amount: "45000.00", currency?, effective_from,
-- note?}. The amount is a decimal string (at most 10 digits before the point, 2 after); HR does
-- not record their own base (nobody sets their own pay). A second row for the same employee and
-- date is 409 with existing_id: rows are never overwritten.
CREATE OR REPLACE FUNCTION assessment.salary_base_add(p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_me uuid := api.require_user();
  v_emp uuid;
  v_amount_j jsonb;
  v_amount numeric;
  v_currency text;
  v_from date;
  v_note text;
  v_existing uuid;
  b assessment.salary_bases;
BEGIN
  PERFORM api.require_role('hr');
  PERFORM api.body_keys(p_body, ARRAY['employee_id', 'amount', 'currency', 'effective_from', 'note']);
  v_emp := api.body_uuid(p_body, 'employee_id', true);
  IF NOT EXISTS (SELECT FROM org.employees e WHERE e.id = v_emp) THEN
    PERFORM api.fail('TXVAL', 'employee_id', 'is not an employee');
  END IF;
  IF v_emp = v_me THEN
    RAISE EXCEPTION 'nobody records their own salary base (Q4)' USING ERRCODE = '42501';
  END IF;
  v_amount_j := p_body -> 'amount';
  IF v_amount_j IS NULL OR jsonb_typeof(v_amount_j) = 'null' THEN
    PERFORM api.fail('TXVAL', 'amount', 'is required');
  END IF;
  IF jsonb_typeof(v_amount_j) <> 'string' OR (v_amount_j #>> '{}') !~ '^[0-9]{1,10}(\.[0-9]{1,2})?$' THEN
    PERFORM api.fail('TXVAL', 'amount',
                     'must be a decimal string such as "45000.00" (at most 10 digits, 2 decimals)');
  END IF;
  v_amount := (v_amount_j #>> '{}')::numeric;
  v_currency := coalesce(api.body_text(p_body, 'currency', false, 3), 'TWD');
  IF v_currency !~ '^[A-Z]{3}$' THEN
    PERFORM api.fail('TXVAL', 'currency', 'must be an ISO 4217 code such as TWD');
  END IF;
  v_from := api.body_date(p_body, 'effective_from', true);
  v_note := api.body_text(p_body, 'note', false, 2000);

  SELECT x.id INTO v_existing FROM assessment.salary_bases x
   WHERE x.employee_id = v_emp AND x.effective_from = v_from;
  IF v_existing IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'TXDUP',
      MESSAGE = 'the employee has a salary base from that date already: a base is never overwritten, add one with a later effective_from',
      DETAIL = json_build_object('existing_id', v_existing,
                                 'errors', json_build_array(api.field_error('effective_from', 'duplicate',
                                                            'a base from this date exists')))::text;
  END IF;
  INSERT INTO assessment.salary_bases (employee_id, amount, currency, effective_from, note, set_by)
  VALUES (v_emp, v_amount, v_currency, v_from, v_note, v_me)
  RETURNING * INTO b;
  RETURN api.salary_base_json(b);
END
$$;
REVOKE ALL ON FUNCTION assessment.salary_base_add(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.salary_base_add(jsonb) TO tianxing_app;
CREATE OR REPLACE FUNCTION api.salary_base_add(p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT assessment.salary_base_add(p_body) $$;
REVOKE ALL ON FUNCTION api.salary_base_add(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.salary_base_add(jsonb) TO tianxing_app;

-- The bonus list (Q4 績效獎金) -------------------------------------------------------------------

-- One employee's line of the bonus list of period p (Q4 績效獎金), from their assessment a: the
-- grade, its coefficient (p's parameters -> assessment_bonus_coefficients, read when the period
-- opened), the salary base in force at p's end (the row with the latest effective_from <=
-- ends_on, as the caller may read it: hr), bonus = round(coefficient x base, 2) as a decimal
-- string in the base's currency. Nobody is dropped: without a grade, a coefficient for the grade
-- or a base, bonus is null and reason says which (no_grade, no_coefficient, no_salary_base, the
-- first that applies). A function of the two rows so that pgTAP can prove it on rows built in
-- the test.
CREATE OR REPLACE FUNCTION assessment.bonus_item(a assessment.assessments, p assessment.periods)
  RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
           'employee_id', a.employee_id, 'employee_name', e.display_name,
           'department_id', a.department_id, 'assessment_id', a.id, 'revision', a.revision,
           'status', a.status, 'grade', a.grade, 'composite', a.composite,
           'coefficient', c.coefficient,
           'salary_base', CASE WHEN sb.id IS NOT NULL THEN json_build_object(
                            'id', sb.id, 'amount', assessment.money_text(sb.amount),
                            'currency', sb.currency,
                            'effective_from', to_char(sb.effective_from, 'YYYY-MM-DD')) END,
           'bonus', assessment.money_text(assessment.bonus_amount(c.coefficient, sb.amount)),
           'currency', CASE WHEN c.coefficient IS NOT NULL THEN sb.currency END,
           'reason', CASE WHEN a.grade IS NULL THEN 'no_grade'
                          WHEN c.coefficient IS NULL THEN 'no_coefficient'
                          WHEN sb.id IS NULL THEN 'no_salary_base' END)
    FROM (SELECT assessment.grade_coefficient(p.parameters -> 'assessment_bonus_coefficients',
                                              a.grade) AS coefficient) c
    LEFT JOIN org.employees e ON e.id = a.employee_id
    LEFT JOIN LATERAL (SELECT b.* FROM assessment.salary_bases b
                        WHERE b.employee_id = a.employee_id AND b.effective_from <= p.ends_on
                        ORDER BY b.effective_from DESC LIMIT 1) sb ON true
$$;
REVOKE ALL ON FUNCTION assessment.bonus_item(assessment.assessments, assessment.periods) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.bonus_item(assessment.assessments, assessment.periods) TO tianxing_app;

-- GET /v1/assessment-periods/{id}/bonus-list (hr). One item (assessment.bonus_item) per employee
-- with a live assessment of the period published or later, by employee id. `pending` counts the
-- live assessments not yet published (the list is final when it is 0). Keyset by employee id:
-- the cursor is the last item's employee_id (one live assessment per employee and period).
CREATE OR REPLACE FUNCTION api.bonus_list(p_period uuid, p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  p assessment.periods;
  v_limit int;
  v_cursor uuid;
  v_items json;
  v_next text;
  v_pending int;
BEGIN
  PERFORM api.require_role('hr');
  p := assessment.output_period(p_period);
  v_limit := api.page_limit(p_limit);
  v_cursor := api.cursor_uuid(p_cursor);
  WITH rows AS (
    SELECT a, a.employee_id, row_number() OVER (ORDER BY a.employee_id) AS rn
      FROM assessment.assessments a
     WHERE a.period_id = p.id AND a.status = ANY (assessment.published_states())
       AND (v_cursor IS NULL OR a.employee_id > v_cursor)
     ORDER BY a.employee_id
     LIMIT v_limit + 1)
  SELECT coalesce(json_agg(assessment.bonus_item(r.a, p) ORDER BY r.rn)
                    FILTER (WHERE r.rn <= v_limit), '[]'::json),
         CASE WHEN count(*) > v_limit THEN min(r.employee_id::text) FILTER (WHERE r.rn = v_limit) END
    INTO v_items, v_next FROM rows r;
  SELECT count(*) INTO v_pending FROM assessment.assessments a
   WHERE a.period_id = p.id AND a.status NOT IN ('superseded', 'rejected')
     AND NOT a.status = ANY (assessment.published_states());
  RETURN json_build_object(
    'period', json_build_object('id', p.id, 'label', p.label, 'kind', p.kind,
                                'ends_on', to_char(p.ends_on, 'YYYY-MM-DD')),
    'coefficients', coalesce(p.parameters -> 'assessment_bonus_coefficients', '[]'::jsonb),
    'pending', v_pending, 'items', v_items, 'next_cursor', v_next);
END
$$;
REVOKE ALL ON FUNCTION api.bonus_list(uuid, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.bonus_list(uuid, integer, text) TO tianxing_app;

-- Promotion and salary candidates (Q4 晉升與調薪) --------------------------------------------------

-- GET /v1/assessment-periods/{id}/promotion-candidates (hr): a year period only (409 for a
-- month: the rule is about the annual grade, Q2.2). The employees whose live annual assessment is
-- published or later and passes the period's assessment_promotion_rule, each with the evidence:
-- grade, composite, months assessed, the monthly mean and the supervisor's score. Keyset by
-- employee id.
CREATE OR REPLACE FUNCTION api.promotion_candidates(p_period uuid, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  p assessment.periods;
  v_limit int;
  v_cursor uuid;
  v_rule jsonb;
  v_items json;
  v_next text;
BEGIN
  PERFORM api.require_role('hr');
  p := assessment.output_period(p_period);
  IF p.kind <> 'year' THEN
    RAISE EXCEPTION USING ERRCODE = 'TXCON',
      MESSAGE = format('promotion and salary candidates come from a year''s assessment (Q2.2, Q4); %s is a month',
                       p.label);
  END IF;
  v_limit := api.page_limit(p_limit);
  v_cursor := api.cursor_uuid(p_cursor);
  v_rule := p.parameters -> 'assessment_promotion_rule';
  WITH rows AS (
    SELECT a.*, e.display_name, row_number() OVER (ORDER BY a.employee_id) AS rn
      FROM assessment.assessments a
      JOIN org.employees e ON e.id = a.employee_id
     WHERE a.period_id = p.id AND a.status = ANY (assessment.published_states())
       AND assessment.promotion_eligible(v_rule, a.grade, a.months_assessed)
       AND (v_cursor IS NULL OR a.employee_id > v_cursor)
     ORDER BY a.employee_id
     LIMIT v_limit + 1)
  SELECT coalesce(json_agg(json_build_object(
             'employee_id', r.employee_id, 'employee_name', r.display_name,
             'department_id', r.department_id, 'assessment_id', r.id, 'revision', r.revision,
             'status', r.status, 'grade', r.grade, 'composite', r.composite,
             'months_assessed', r.months_assessed, 'monthly_mean', r.monthly_mean,
             'supervisor_score', r.supervisor_score)
           ORDER BY r.rn) FILTER (WHERE r.rn <= v_limit), '[]'::json),
         CASE WHEN count(*) > v_limit THEN min(r.employee_id::text) FILTER (WHERE r.rn = v_limit) END
    INTO v_items, v_next FROM rows r;
  RETURN json_build_object(
    'period', json_build_object('id', p.id, 'label', p.label, 'kind', p.kind,
                                'ends_on', to_char(p.ends_on, 'YYYY-MM-DD')),
    'rule', v_rule, 'items', v_items, 'next_cursor', v_next);
END
$$;
REVOKE ALL ON FUNCTION api.promotion_candidates(uuid, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.promotion_candidates(uuid, integer, text) TO tianxing_app;

-- Training plans (Q4 培訓與發展; R2.4) ----------------------------------------------------------

CREATE OR REPLACE TRIGGER training_plans_touch BEFORE UPDATE ON assessment.training_plans
  FOR EACH ROW EXECUTE FUNCTION org.touch();

-- The caller may read the plan (the policy training_plans_read, asked by the owner's writers,
-- which see every row): false for an unknown id.
CREATE OR REPLACE FUNCTION assessment.training_may_read(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce(
           (SELECT tx.has_role('hr') OR tx.has_role('auditor')
                   OR p.employee_id = tx.user_id() OR assessment.is_report(p.employee_id)
                   OR (tx.has_role('risk_officer') AND (p.source = 'risk' OR p.risk_id IS NOT NULL))
              FROM assessment.training_plans p WHERE p.id = p_id),
           false)
$$;
REVOKE ALL ON FUNCTION assessment.training_may_read(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.training_may_read(uuid) TO tianxing_app;

-- The indicators' names (Q1) for topics people read.
CREATE OR REPLACE FUNCTION assessment.indicator_title(p_indicator text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$
  SELECT CASE p_indicator
           WHEN 'completion_rate' THEN '業務完成率 completion rate'
           WHEN 'satisfaction' THEN '客戶滿意度 customer satisfaction'
           WHEN 'accuracy' THEN '業務準確率 accuracy'
           WHEN 'efficiency' THEN '工作效率 efficiency'
           WHEN 'teamwork' THEN '團隊協作 teamwork' END
$$;
REVOKE ALL ON FUNCTION assessment.indicator_title(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.indicator_title(text) TO tianxing_app;

-- The due date of a proposal: the last day of the third month after the period's month of end
-- (a quarter to improve; 2026-11 -> 2027-02-28, the year 2026 -> 2027-03-31), or 30 days from
-- today in the company's time zone when that has already passed (a late proposal).
CREATE OR REPLACE FUNCTION assessment.training_due_on(p_ends_on date) RETURNS date
  LANGUAGE sql STABLE
  AS $$
  SELECT greatest((date_trunc('month', p_ends_on) + interval '4 months' - interval '1 day')::date,
                  (now() AT TIME ZONE org.company_time_zone())::date + 30)
$$;
REVOKE ALL ON FUNCTION assessment.training_due_on(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.training_due_on(date) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.training_plan_json(t assessment.training_plans) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
           'id', t.id, 'employee_id', t.employee_id, 'status', t.status, 'source', t.source,
           'indicator', t.indicator, 'assessment_id', t.assessment_id, 'risk_id', t.risk_id,
           'topic', t.topic, 'goal', t.goal, 'due_on', to_char(t.due_on, 'YYYY-MM-DD'),
           'evidence', t.evidence, 'outcome', t.outcome, 'created_by', t.created_by,
           'completed_at', api.ts(t.completed_at),
           'allowed_actions', fsm.allowed_actions('training_plan', t.status),
           'version', t.version, 'created_at', api.ts(t.created_at),
           'updated_at', api.ts(t.updated_at))
$$;
REVOKE ALL ON FUNCTION api.training_plan_json(assessment.training_plans) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.training_plan_json(assessment.training_plans) TO tianxing_app;

-- GET /v1/training-plans: the plans the caller may read (the policy: the employee, their
-- supervisor, hr, auditor; the risk officer those of a risk), oldest first; filters employee_id,
-- status, source. Keyset: the cursor is the last plan's id.
CREATE OR REPLACE FUNCTION api.training_plan_list(p_employee uuid, p_status text, p_source text,
                                                  p_limit int, p_cursor text)
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
  IF p_status IS NOT NULL AND NOT p_status IN ('proposed', 'agreed', 'in_progress', 'completed', 'cancelled') THEN
    PERFORM api.fail('TXVAL', 'status', 'must be one of proposed, agreed, in_progress, completed, cancelled');
  END IF;
  IF p_source IS NOT NULL AND NOT p_source IN ('indicator', 'shortcoming', 'manual', 'risk') THEN
    PERFORM api.fail('TXVAL', 'source', 'must be one of indicator, shortcoming, manual, risk');
  END IF;
  v_cursor := api.cursor_uuid(p_cursor);
  IF v_cursor IS NOT NULL THEN
    SELECT t.created_at, t.id INTO k_at, k_id FROM assessment.training_plans t WHERE t.id = v_cursor;
    IF k_id IS NULL THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
  END IF;
  WITH page AS (
    SELECT t, t.id, row_number() OVER (ORDER BY t.created_at, t.id) AS rn
      FROM assessment.training_plans t
     WHERE (p_employee IS NULL OR t.employee_id = p_employee)
       AND (p_status IS NULL OR t.status = p_status)
       AND (p_source IS NULL OR t.source = p_source)
       AND (v_cursor IS NULL OR (t.created_at, t.id) > (k_at, k_id))
     ORDER BY t.created_at, t.id
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.training_plan_json(p.t) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN min(p.id::text) FILTER (WHERE p.rn = v_limit) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.training_plan_list(uuid, text, text, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.training_plan_list(uuid, text, text, integer, text) TO tianxing_app;

-- GET /v1/training-plans/{id}: 404 for an unknown plan or one the caller may not read.
CREATE OR REPLACE FUNCTION api.training_plan_get(p_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE t assessment.training_plans;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO t FROM assessment.training_plans x WHERE x.id = p_id;
  IF t.id IS NULL THEN
    RAISE EXCEPTION 'no such training plan' USING ERRCODE = 'P0002';
  END IF;
  RETURN api.training_plan_json(t);
END
$$;
REVOKE ALL ON FUNCTION api.training_plan_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.training_plan_get(uuid) TO tianxing_app;

-- POST /v1/training-plans (hr, or the employee's supervisor; Q4, R2.4): a plan written by hand,
-- {employee_id, topic, goal, due_on}. Its author is a manager (the person who would agree it),
-- so it starts agreed; nobody writes their own plan. due_on is today or later (company time).
CREATE OR REPLACE FUNCTION assessment.training_plan_create(p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_me uuid := api.require_user();
  v_emp uuid;
  v_topic text;
  v_goal text;
  v_due date;
  t assessment.training_plans;
BEGIN
  PERFORM api.require_role('hr', 'supervisor');
  PERFORM api.body_keys(p_body, ARRAY['employee_id', 'topic', 'goal', 'due_on']);
  v_emp := api.body_uuid(p_body, 'employee_id', true);
  IF NOT EXISTS (SELECT FROM org.employees e WHERE e.id = v_emp AND e.active) THEN
    PERFORM api.fail('TXVAL', 'employee_id', 'is not an active employee');
  END IF;
  IF v_emp = v_me OR NOT (tx.has_role('hr') OR assessment.is_report(v_emp)) THEN
    RAISE EXCEPTION 'a training plan is written by HR or the employee''s supervisor, not the employee (Q4)'
      USING ERRCODE = '42501';
  END IF;
  v_topic := api.body_text(p_body, 'topic', true, 200);
  v_goal := api.body_text(p_body, 'goal', true, 2000);
  v_due := api.body_date(p_body, 'due_on', true);
  IF v_due < (now() AT TIME ZONE org.company_time_zone())::date THEN
    PERFORM api.fail('TXVAL', 'due_on', 'must not be in the past');
  END IF;
  INSERT INTO assessment.training_plans (employee_id, status, source, topic, goal, due_on, created_by)
  VALUES (v_emp, 'agreed', 'manual', v_topic, v_goal, v_due, v_me)
  RETURNING * INTO t;
  RETURN api.training_plan_json(t);
END
$$;
REVOKE ALL ON FUNCTION assessment.training_plan_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.training_plan_create(jsonb) TO tianxing_app;
CREATE OR REPLACE FUNCTION api.training_plan_create(p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT assessment.training_plan_create(p_body) $$;
REVOKE ALL ON FUNCTION api.training_plan_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.training_plan_create(jsonb) TO tianxing_app;

-- POST /v1/assessments/{id}/training-proposals (hr, or the assessment's evaluator; Q4 培訓與發展).
-- Proposes one plan per indicator whose figure is under its threshold (the period's parameters ->
-- assessment_training_thresholds; a marked indicator has no figure and proposes nothing), and one
-- for the shortcomings the employee named in the self-assessment. Idempotent: the unique index
-- training_plans_proposal_key finds a proposal made before (whatever became of it), so asking
-- again after the evaluation adds only what is new (teamwork). Derived: topic = the indicator's
-- name (or "self-assessment shortcomings"), goal = "raise from figure to threshold" (or the
-- shortcomings quoted), due_on = assessment.training_due_on(period end); status proposed,
-- created_by NULL (the service proposes; the audit trail names who asked). Refused (409) for a
-- revision that is not live or a correction still proposed. Answers the assessment's proposals
-- (new and earlier) and how many were created now.
CREATE OR REPLACE FUNCTION assessment.training_propose(p_assessment uuid) RETURNS json
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_me uuid := api.require_user();
  a assessment.assessments;
  p assessment.periods;
  v_thr jsonb;
  v_due date;
  v_created int := 0;
  n int;
BEGIN
  IF NOT assessment.may_read(p_assessment) THEN
    RAISE EXCEPTION 'no such assessment' USING ERRCODE = 'P0002';
  END IF;
  PERFORM api.require_role('hr', 'supervisor');
  SELECT * INTO a FROM assessment.assessments x WHERE x.id = p_assessment FOR UPDATE;
  IF NOT ((tx.has_role('hr') AND a.employee_id <> v_me) OR assessment.is_evaluator(a.id)) THEN
    RAISE EXCEPTION 'training is proposed by HR or the assessment''s evaluator, not the employee (Q4)'
      USING ERRCODE = '42501';
  END IF;
  IF a.status IN ('superseded', 'rejected', 'proposed') THEN
    PERFORM fsm.refuse('assessment', a.status,
                       format('training is proposed from a live assessment; this revision is %s', a.status));
  END IF;
  SELECT * INTO p FROM assessment.periods x WHERE x.id = a.period_id;
  v_thr := coalesce(p.parameters -> 'assessment_training_thresholds', '{}'::jsonb);
  v_due := assessment.training_due_on(p.ends_on);

  INSERT INTO assessment.training_plans (employee_id, status, source, indicator, assessment_id,
                                         topic, goal, due_on)
  SELECT a.employee_id, 'proposed', 'indicator', v.indicator, a.id,
         assessment.indicator_title(v.indicator),
         format('Raise %s from %s to at least %s (the threshold of period %s).',
                assessment.indicator_title(v.indicator), v.figure, v_thr ->> v.indicator, p.label),
         v_due
    FROM assessment.indicator_values v
   WHERE v.assessment_id = a.id AND v.figure IS NOT NULL AND v_thr ? v.indicator
     AND v.figure < (v_thr ->> v.indicator)::numeric
   ORDER BY v.indicator
  ON CONFLICT (assessment_id, source, coalesce(indicator, ''))
     WHERE source IN ('indicator', 'shortcoming') DO NOTHING;
  GET DIAGNOSTICS n = ROW_COUNT;
  v_created := v_created + n;

  IF a.shortcomings IS NOT NULL THEN
    INSERT INTO assessment.training_plans (employee_id, status, source, assessment_id, topic, goal,
                                           due_on)
    VALUES (a.employee_id, 'proposed', 'shortcoming', a.id,
            '自評不足 shortcomings named in the self-assessment',
            left(format('Work on the shortcomings named in the self-assessment of %s: %s',
                        p.label, a.shortcomings), 2000),
            v_due)
    ON CONFLICT (assessment_id, source, coalesce(indicator, ''))
       WHERE source IN ('indicator', 'shortcoming') DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    v_created := v_created + n;
  END IF;

  RETURN json_build_object(
    'assessment_id', a.id, 'thresholds', v_thr, 'created', v_created,
    'items', (SELECT coalesce(json_agg(api.training_plan_json(t)
                                       ORDER BY t.source, t.indicator NULLS LAST, t.id), '[]'::json)
                FROM assessment.training_plans t
               WHERE t.assessment_id = a.id AND t.source IN ('indicator', 'shortcoming')));
END
$$;
REVOKE ALL ON FUNCTION assessment.training_propose(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.training_propose(uuid) TO tianxing_app;
CREATE OR REPLACE FUNCTION api.training_propose(p_assessment uuid) RETURNS json
  LANGUAGE sql
  AS $$ SELECT assessment.training_propose(p_assessment) $$;
REVOKE ALL ON FUNCTION api.training_propose(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.training_propose(uuid) TO tianxing_app;

-- POST /v1/training-plans/{id}/agree|start|complete|cancel (machine training_plan, migration
-- 0022; guards in 010_guards.sql). complete takes {evidence, outcome?}: the evidence is recorded
-- first (the guard training_completed reads it from the row), then the plan moves; cancel takes
-- {reason}, kept as the plan's outcome and in the transition log; agree and start take {} (an
-- optional note for the log). Order: 404 (as the caller sees it), 403 (role), 409 (state or
-- person, with allowed_actions), 422 (body).
CREATE OR REPLACE FUNCTION assessment.training_move(p_id uuid, p_action text, p_body jsonb)
  RETURNS json
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  t assessment.training_plans;
  v_tr fsm.transitions;
  v_evidence text;
  v_outcome text;
  v_reason text;
BEGIN
  PERFORM api.require_user();
  IF NOT assessment.training_may_read(p_id) THEN
    RAISE EXCEPTION 'no such training plan' USING ERRCODE = 'P0002';
  END IF;
  SELECT * INTO t FROM assessment.training_plans x WHERE x.id = p_id FOR UPDATE;
  v_tr := fsm.transition('training_plan', t.status, p_action);  -- 42501 role, 409 state
  IF p_action = 'complete' THEN
    -- the person first (the guard would also ask for the evidence, which comes with this call)
    IF NOT assessment.training_manager(p_id) THEN
      PERFORM fsm.refuse('training_plan', t.status,
                         'complete is not possible: the guard assessment.training_manager refused ('
                         || obj_description('assessment.training_manager(uuid)'::regprocedure, 'pg_proc') || ')',
                         'assessment.training_manager');
    END IF;
    PERFORM api.body_keys(p_body, ARRAY['evidence', 'outcome']);
    v_evidence := api.body_text(p_body, 'evidence', true, 4000);
    v_outcome := api.body_text(p_body, 'outcome', false, 2000);
    UPDATE assessment.training_plans SET evidence = v_evidence, outcome = v_outcome WHERE id = p_id;
    PERFORM fsm.move('training_plan', p_id, 'complete', NULL,
                     jsonb_build_object('completed_at', now()));
  ELSE
    PERFORM fsm.check_guard(v_tr, p_id);
    IF p_action = 'cancel' THEN
      PERFORM api.body_keys(p_body, ARRAY['reason']);
      v_reason := api.body_text(p_body, 'reason', true, 2000);
      PERFORM fsm.move('training_plan', p_id, 'cancel', v_reason,
                       jsonb_build_object('outcome', v_reason));
    ELSE
      PERFORM api.body_keys(p_body, ARRAY['note']);
      PERFORM fsm.move('training_plan', p_id, p_action, api.body_text(p_body, 'note', false, 1000));
    END IF;
  END IF;
  SELECT * INTO t FROM assessment.training_plans x WHERE x.id = p_id;
  RETURN api.training_plan_json(t);
END
$$;
REVOKE ALL ON FUNCTION assessment.training_move(uuid, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.training_move(uuid, text, jsonb) TO tianxing_app;
CREATE OR REPLACE FUNCTION api.training_move(p_id uuid, p_action text, p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT assessment.training_move(p_id, p_action, p_body) $$;
REVOKE ALL ON FUNCTION api.training_move(uuid, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.training_move(uuid, text, jsonb) TO tianxing_app;
