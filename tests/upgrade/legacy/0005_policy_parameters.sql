-- 0005 policy parameters: the numbers and lists the regulations leave to the company (review
-- periods, assessment weights and grade bands, risk thresholds, login lockout), as dated values
-- under four-eyes control: hr proposes (S1), an admin other than the proposer approves or rejects.
-- Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`.
--
-- The value of a parameter in force on date D is the approved value with the greatest
-- effective_from <= D (org.policy_value(name, D)). Approved values are never edited: a change is a
-- new value with a later effective_from.

CREATE TABLE org.policy_parameters (
  name        text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{1,63}$'),
  type        text NOT NULL CHECK (type IN ('integer', 'decimal', 'text', 'json')),
  description text NOT NULL CHECK (length(description) BETWEEN 1 AND 1000),
  unit        text CHECK (length(unit) BETWEEN 1 AND 50),
  clause      text CHECK (clause ~ '^[GCPQRS][0-9]{1,3}(\.[0-9]{1,3})?$'),
  version     int NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER policy_parameters_touch BEFORE UPDATE ON org.policy_parameters
  FOR EACH ROW EXECUTE FUNCTION org.touch();

CREATE TABLE org.policy_values (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name            text NOT NULL REFERENCES org.policy_parameters (name),
  value           jsonb NOT NULL,
  effective_from  date NOT NULL,
  status          text NOT NULL DEFAULT 'proposed'
                  CHECK (status IN ('proposed', 'approved', 'rejected')),
  reason          text CHECK (length(reason) BETWEEN 1 AND 2000),
  proposed_by     uuid REFERENCES org.employees (id),
  proposed_at     timestamptz NOT NULL DEFAULT now(),
  decided_by      uuid REFERENCES org.employees (id),
  decided_at      timestamptz,
  decision_reason text CHECK (length(decision_reason) BETWEEN 1 AND 2000),
  version         int NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'proposed') = (decided_at IS NULL)),
  -- four eyes: nobody decides their own proposal
  CHECK (decided_by IS DISTINCT FROM proposed_by OR decided_by IS NULL)
);
-- One approved value per parameter and date.
CREATE UNIQUE INDEX policy_values_one_approved ON org.policy_values (name, effective_from)
  WHERE status = 'approved';
CREATE INDEX policy_values_name_idx ON org.policy_values (name, effective_from DESC);
CREATE TRIGGER policy_values_touch BEFORE UPDATE ON org.policy_values
  FOR EACH ROW EXECUTE FUNCTION org.touch();

-- A value must have its parameter's type; a decided value never changes, and a decision changes
-- nothing but the decision.
CREATE FUNCTION org.policy_values_check() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
DECLARE
  v_type text;
  v_ok boolean;
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF OLD.status <> 'proposed' THEN
      RAISE EXCEPTION 'policy value % is % and cannot change', OLD.id, OLD.status
        USING ERRCODE = 'TXCON';
    END IF;
    IF (NEW.name, NEW.value, NEW.effective_from, NEW.reason, NEW.proposed_by, NEW.proposed_at)
       IS DISTINCT FROM
       (OLD.name, OLD.value, OLD.effective_from, OLD.reason, OLD.proposed_by, OLD.proposed_at) THEN
      RAISE EXCEPTION 'a proposal''s content cannot change; propose again' USING ERRCODE = 'TXCON';
    END IF;
    RETURN NEW;
  END IF;
  SELECT p.type INTO v_type FROM org.policy_parameters p WHERE p.name = NEW.name;
  IF NOT FOUND THEN
    RETURN NEW; -- the foreign key reports it
  END IF;
  v_ok := CASE v_type
            WHEN 'integer' THEN jsonb_typeof(NEW.value) = 'number'
                                AND NEW.value::text ~ '^-?[0-9]+$'
                                AND length(NEW.value::text) <= 18
            WHEN 'decimal' THEN jsonb_typeof(NEW.value) = 'number'
            WHEN 'text' THEN jsonb_typeof(NEW.value) = 'string'
            WHEN 'json' THEN jsonb_typeof(NEW.value) IN ('object', 'array')
          END;
  IF NOT v_ok THEN
    PERFORM api.fail('TXVAL', 'value',
                     format('must be %s (the type of %s)',
                            CASE v_type WHEN 'integer' THEN 'an integer'
                                        WHEN 'decimal' THEN 'a number'
                                        WHEN 'text' THEN 'a string'
                                        ELSE 'a JSON object or array' END,
                            NEW.name));
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER policy_values_check BEFORE INSERT OR UPDATE ON org.policy_values
  FOR EACH ROW EXECUTE FUNCTION org.policy_values_check();

SELECT audit.attach('org.policy_parameters');
SELECT audit.attach('org.policy_values');

-- Reference data: the parameters and their initial values, effective 2024-01-01 (the date the
-- regulations took effect). Inserted by the owner before row-level security is on.
INSERT INTO org.policy_parameters (name, type, description, unit, clause) VALUES
  ('customer_review_period_days', 'integer',
   'Customer information is reviewed and updated at least this often (C4.1).', 'days', 'C4.1'),
  ('customer_required_fields', 'json',
   'Customer fields that must be complete before a business contract is signed (C1.3).', NULL,
   'C1.3'),
  ('assessment_weights', 'json',
   'Weights of the assessment indicators: completion rate, satisfaction, accuracy, efficiency, '
   'teamwork (Q1); they sum to 1.', NULL, 'Q1'),
  ('assessment_grade_bands', 'json',
   'Annual grade (考核等級) by minimum score, highest first (Q2.2).', 'points', 'Q2.2'),
  ('risk_warning_thresholds', 'json',
   'Risk warning indicators and their thresholds (R3.2).', NULL, 'R3.2'),
  ('login_lock_threshold', 'integer',
   'Failed logins in a row after which an account is locked.', 'attempts', NULL),
  ('login_lock_seconds', 'integer', 'How long a locked account stays locked.', 'seconds', NULL);

INSERT INTO org.policy_values (name, value, effective_from, status, reason, decided_at) VALUES
  ('customer_review_period_days', '180', '2024-01-01', 'approved', 'initial value', now()),
  ('customer_required_fields', '["name", "company_name", "business_scope", "contacts", "credit_code"]',
   '2024-01-01', 'approved', 'initial value', now()),
  ('assessment_weights',
   '{"completion_rate": 0.3, "satisfaction": 0.25, "accuracy": 0.2, "efficiency": 0.15, "teamwork": 0.1}',
   '2024-01-01', 'approved', 'initial value', now()),
  ('assessment_grade_bands',
   '[{"grade": "A", "min": 90}, {"grade": "B", "min": 80}, {"grade": "C", "min": 70}, {"grade": "D", "min": 60}, {"grade": "E", "min": 0}]',
   '2024-01-01', 'approved', 'initial value', now()),
  ('risk_warning_thresholds', '{"credit_overdue_days": 30, "prepayment_ratio_min": 0.3}',
   '2024-01-01', 'approved', 'initial value', now()),
  ('login_lock_threshold', '5', '2024-01-01', 'approved', 'initial value', now()),
  ('login_lock_seconds', '900', '2024-01-01', 'approved', 'initial value', now());

-- Row-level security ------------------------------------------------------------------------
ALTER TABLE org.policy_parameters ENABLE ROW LEVEL SECURITY;
ALTER TABLE org.policy_parameters FORCE ROW LEVEL SECURITY;
ALTER TABLE org.policy_values ENABLE ROW LEVEL SECURITY;
ALTER TABLE org.policy_values FORCE ROW LEVEL SECURITY;

-- Definitions: every employee reads them; they change only by migration.
CREATE POLICY policy_parameters_read ON org.policy_parameters FOR SELECT
  USING ((SELECT tx.user_id()) IS NOT NULL);
-- Values: every employee reads approved values; hr and admin read proposals and rejections.
CREATE POLICY policy_values_read ON org.policy_values FOR SELECT
  USING ((SELECT tx.user_id()) IS NOT NULL
         AND (status = 'approved' OR (SELECT tx.has_role('hr')) OR (SELECT tx.has_role('admin'))));
-- hr proposes, as themselves, undecided.
CREATE POLICY policy_values_hr_propose ON org.policy_values FOR INSERT
  WITH CHECK ((SELECT tx.has_role('hr')) AND status = 'proposed'
              AND proposed_by = (SELECT tx.user_id())
              AND decided_by IS NULL AND decided_at IS NULL);
-- admin decides proposals of others, as themselves.
CREATE POLICY policy_values_admin_decide ON org.policy_values FOR UPDATE
  USING ((SELECT tx.has_role('admin')) AND status = 'proposed'
         AND proposed_by IS DISTINCT FROM (SELECT tx.user_id()))
  WITH CHECK ((SELECT tx.has_role('admin')) AND status IN ('approved', 'rejected')
              AND decided_by = (SELECT tx.user_id())
              AND proposed_by IS DISTINCT FROM (SELECT tx.user_id()));
-- auth.login_policy() (SECURITY DEFINER, owner) reads the lockout values before anyone is
-- authenticated (a login).
CREATE POLICY policy_parameters_definer_read ON org.policy_parameters FOR SELECT
  TO tianxing_owner USING (true);
CREATE POLICY policy_values_definer_read ON org.policy_values FOR SELECT TO tianxing_owner
  USING (status = 'approved');

REVOKE ALL ON org.policy_parameters, org.policy_values FROM PUBLIC;
GRANT SELECT ON org.policy_parameters TO tianxing_app;
GRANT SELECT, INSERT ON org.policy_values TO tianxing_app;
GRANT UPDATE (status, decided_by, decided_at, decision_reason) ON org.policy_values TO tianxing_app;

-- The value of a parameter in force on p_at (default today), as the caller may see it; NULL when
-- there is none. For the other modules' SQL (e.g. the C4.1 review period).
CREATE FUNCTION org.policy_value(p_name text, p_at date DEFAULT NULL) RETURNS jsonb
  LANGUAGE sql STABLE
  AS $$
  SELECT v.value FROM org.policy_values v
   WHERE v.name = p_name AND v.status = 'approved'
     AND v.effective_from <= coalesce(p_at, current_date)
   ORDER BY v.effective_from DESC
   LIMIT 1
$$;

-- The login lockout policy in force today, for the (anonymous) login: 5 attempts, 900 s when the
-- parameters have no approved value.
CREATE FUNCTION auth.login_policy()
  RETURNS TABLE (lock_threshold int, lock_seconds int)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((org.policy_value('login_lock_threshold'))::int, 5),
         coalesce((org.policy_value('login_lock_seconds'))::int, 900)
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA org FROM PUBLIC;
REVOKE ALL ON FUNCTION auth.login_policy() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION org.policy_value(text, date), auth.login_policy() TO tianxing_app;

-- API: policy parameters ---------------------------------------------------------------------

CREATE FUNCTION api.policy_value_json(v org.policy_values) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object('id', v.id, 'name', v.name, 'value', v.value,
                           'effective_from', v.effective_from, 'status', v.status,
                           'reason', v.reason, 'proposed_by', v.proposed_by,
                           'proposed_at', api.ts(v.proposed_at), 'decided_by', v.decided_by,
                           'decided_at', api.ts(v.decided_at),
                           'decision_reason', v.decision_reason, 'version', v.version)
$$;

-- A definition with the value in force on p_at (NULL value when none).
CREATE FUNCTION api.policy_parameter_json(p org.policy_parameters, p_at date) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object('name', p.name, 'type', p.type, 'description', p.description,
                           'unit', p.unit, 'clause', p.clause, 'at', coalesce(p_at, current_date),
                           'value', f.value, 'effective_from', f.effective_from,
                           'value_id', f.id, 'version', p.version)
    FROM (SELECT NULL) AS dummy
    LEFT JOIN LATERAL (
      SELECT v.id, v.value, v.effective_from FROM org.policy_values v
       WHERE v.name = p.name AND v.status = 'approved'
         AND v.effective_from <= coalesce(p_at, current_date)
       ORDER BY v.effective_from DESC LIMIT 1) f ON true
$$;

-- GET /v1/policy-parameters?at=: every parameter with its value in force (one page, by name).
CREATE FUNCTION api.policy_parameter_list(p_at date) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE v_out json;
BEGIN
  PERFORM api.require_user();
  SELECT json_build_object('items', coalesce(json_agg(api.policy_parameter_json(p, p_at)
                                                      ORDER BY p.name), '[]'::json),
                           'next_cursor', NULL)
    INTO v_out FROM org.policy_parameters p;
  RETURN v_out;
END
$$;

-- GET /v1/policy-parameters/{name}?at=: the definition, the value in force, and its history
-- (approved values; proposals and rejections too for hr and admin), newest first. NULL when there
-- is no such parameter.
CREATE FUNCTION api.policy_parameter_get(p_name text, p_at date) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE v_out json;
BEGIN
  PERFORM api.require_user();
  SELECT (api.policy_parameter_json(p, p_at)::jsonb
          || jsonb_build_object('history',
               (SELECT coalesce(jsonb_agg(api.policy_value_json(v)::jsonb
                                          ORDER BY v.effective_from DESC, v.proposed_at DESC),
                                '[]'::jsonb)
                  FROM org.policy_values v WHERE v.name = p.name)))::json
    INTO v_out
    FROM org.policy_parameters p WHERE p.name = p_name;
  RETURN v_out;
END
$$;

-- POST /v1/policy-parameters/{name}/proposals (hr): {value, effective_from, reason}. The value
-- must have the parameter's type; effective_from is today or later.
CREATE FUNCTION api.policy_propose(p_name text, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  v_from date;
  v_reason text;
  v org.policy_values;
BEGIN
  PERFORM api.require_role('hr');
  IF NOT EXISTS (SELECT FROM org.policy_parameters p WHERE p.name = p_name) THEN
    RAISE EXCEPTION 'no such policy parameter' USING ERRCODE = 'P0002';
  END IF;
  PERFORM api.body_keys(p_body, ARRAY['value', 'effective_from', 'reason']);
  IF NOT p_body ? 'value' OR jsonb_typeof(p_body -> 'value') = 'null' THEN
    PERFORM api.fail('TXVAL', 'value', 'is required');
  END IF;
  v_from := api.body_date(p_body, 'effective_from', true);
  IF v_from < current_date THEN
    PERFORM api.fail('TXVAL', 'effective_from', 'must not be in the past');
  END IF;
  v_reason := api.body_text(p_body, 'reason', true, 2000);
  INSERT INTO org.policy_values (name, value, effective_from, status, reason, proposed_by)
  VALUES (p_name, p_body -> 'value', v_from, 'proposed', v_reason, tx.user_id())
  RETURNING * INTO v;
  RETURN api.policy_value_json(v);
END
$$;

-- POST /v1/policy-proposals/{id}/approve|reject (admin, not the proposer: 42501). TXCON when the
-- proposal was decided already, when approving a value whose effective date has passed, or one
-- for a date that has an approved value; rejecting needs a reason.
CREATE FUNCTION api.policy_decide(p_id uuid, p_approve boolean, p_reason text) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  v_me uuid;
  v org.policy_values;
BEGIN
  PERFORM api.require_role('admin');
  v_me := tx.user_id();
  IF p_approve IS NULL THEN
    PERFORM api.fail('TXVAL', 'approve', 'is required');
  END IF;
  IF p_reason IS NOT NULL AND (btrim(p_reason) = '' OR length(p_reason) > 2000) THEN
    PERFORM api.fail('TXVAL', 'reason', 'must be 1 to 2000 characters');
  END IF;
  IF NOT p_approve AND p_reason IS NULL THEN
    PERFORM api.fail('TXVAL', 'reason', 'is required when rejecting');
  END IF;
  SELECT * INTO v FROM org.policy_values x WHERE x.id = p_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such proposal' USING ERRCODE = 'P0002';
  END IF;
  IF v.proposed_by = v_me THEN
    RAISE EXCEPTION 'a proposal is decided by another administrator than its proposer'
      USING ERRCODE = '42501';
  END IF;
  IF v.status <> 'proposed' THEN
    RAISE EXCEPTION 'the proposal is already %', v.status USING ERRCODE = 'TXCON';
  END IF;
  SELECT * INTO v FROM org.policy_values x WHERE x.id = p_id FOR UPDATE;
  IF v.status <> 'proposed' THEN
    RAISE EXCEPTION 'the proposal is already %', v.status USING ERRCODE = 'TXCON';
  END IF;
  IF p_approve THEN
    IF v.effective_from < current_date THEN
      RAISE EXCEPTION 'the proposal''s effective date % has passed: propose again',
        v.effective_from USING ERRCODE = 'TXCON';
    END IF;
    IF EXISTS (SELECT FROM org.policy_values x
                WHERE x.name = v.name AND x.effective_from = v.effective_from
                  AND x.status = 'approved') THEN
      RAISE EXCEPTION '% already has an approved value from %', v.name, v.effective_from
        USING ERRCODE = 'TXCON';
    END IF;
  END IF;
  UPDATE org.policy_values x
     SET status = CASE WHEN p_approve THEN 'approved' ELSE 'rejected' END,
         decided_by = v_me, decided_at = now(), decision_reason = p_reason
   WHERE x.id = p_id
  RETURNING * INTO v;
  RETURN api.policy_value_json(v);
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA api FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA api TO tianxing_app;
