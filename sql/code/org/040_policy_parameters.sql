-- sql/code/org/040_policy_parameters.sql: policy parameters and their approved values.
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md).

-- The first way p_value breaks p_schema, as {where, what} (where: "value", "value[2]",
-- "value.teamwork"), or NULL when it fits. A subset of JSON Schema (2020-12) written here because
-- Debian packages no maintained validator for PostgreSQL, and the policy values live and are
-- checked in the database (propose and approve are SQL): type (integer, number, string, boolean,
-- array, object), minimum, maximum, minLength, maxLength, enum, minItems, maxItems, uniqueItems,
-- items, required, properties, additionalProperties (false only), and two keywords of ours:
-- "x-sum" (an object's values sum to this number) and "x-descending" (the named member of an
-- array's objects strictly decreases); for maps keyed by a code (kri_thresholds, R3.2) also
-- pattern (a POSIX regular expression, PostgreSQL's ~), maxProperties, propertyNames and
-- additionalProperties as a schema for the members `properties` does not name. A keyword outside
-- this list raises 22023, so a schema using one is found by the tests rather than silently
-- half-applied.
CREATE OR REPLACE FUNCTION org.json_schema_problem(p_schema jsonb, p_value jsonb,
                                                   p_where text DEFAULT 'value')
  RETURNS text[]
  LANGUAGE plpgsql IMMUTABLE
  AS $$
DECLARE
  k text;
  v_type text := jsonb_typeof(p_value);
  v_want text;
  v_fits boolean;
  v_problem text[];
  v_len int;
  v_prev numeric;
  v_cur numeric;
  v_member text := p_schema ->> 'x-descending';
  e jsonb;
  i int;
BEGIN
  FOR k IN SELECT jsonb_object_keys(p_schema) LOOP
    IF k NOT IN ('type', 'minimum', 'maximum', 'minLength', 'maxLength', 'enum', 'minItems',
                 'maxItems', 'uniqueItems', 'items', 'required', 'properties',
                 'additionalProperties', 'x-sum', 'x-descending', 'description', 'pattern',
                 'maxProperties', 'propertyNames') THEN
      RAISE EXCEPTION 'JSON Schema keyword % is not supported', k USING ERRCODE = '22023';
    END IF;
  END LOOP;
  IF p_schema ? 'additionalProperties' AND p_schema -> 'additionalProperties' <> 'false'
     AND jsonb_typeof(p_schema -> 'additionalProperties') <> 'object' THEN
    RAISE EXCEPTION 'additionalProperties supports false or a schema' USING ERRCODE = '22023';
  END IF;

  v_want := p_schema ->> 'type';
  v_fits := CASE v_want
              WHEN 'integer' THEN v_type = 'number' AND p_value::text ~ '^-?[0-9]+$'
              WHEN 'number' THEN v_type = 'number'
              WHEN 'string' THEN v_type = 'string'
              WHEN 'boolean' THEN v_type = 'boolean'
              WHEN 'array' THEN v_type = 'array'
              WHEN 'object' THEN v_type = 'object'
              ELSE false END;
  IF v_want IS NOT NULL AND NOT v_fits THEN
    RETURN ARRAY[p_where, 'must be ' || CASE v_want WHEN 'integer' THEN 'an integer'
                                                    WHEN 'array' THEN 'an array'
                                                    WHEN 'object' THEN 'an object'
                                                    ELSE 'a ' || v_want END];
  END IF;

  IF v_type = 'number' THEN
    IF p_value::text::numeric < (p_schema ->> 'minimum')::numeric THEN
      RETURN ARRAY[p_where, 'must be at least ' || (p_schema ->> 'minimum')];
    END IF;
    IF p_value::text::numeric > (p_schema ->> 'maximum')::numeric THEN
      RETURN ARRAY[p_where, 'must be at most ' || (p_schema ->> 'maximum')];
    END IF;
  END IF;

  IF v_type = 'string' THEN
    v_len := char_length(p_value #>> '{}');
    IF v_len < (p_schema ->> 'minLength')::int THEN
      RETURN ARRAY[p_where, format('must have at least %s characters', p_schema ->> 'minLength')];
    END IF;
    IF v_len > (p_schema ->> 'maxLength')::int THEN
      RETURN ARRAY[p_where, format('must have at most %s characters', p_schema ->> 'maxLength')];
    END IF;
    IF p_schema ? 'pattern' AND NOT (p_value #>> '{}') ~ (p_schema ->> 'pattern') THEN
      RETURN ARRAY[p_where, format('must match %s', p_schema ->> 'pattern')];
    END IF;
  END IF;

  IF p_schema ? 'enum' AND NOT (p_schema -> 'enum') @> jsonb_build_array(p_value) THEN
    RETURN ARRAY[p_where, format('must be one of %s',
                                 (SELECT string_agg(x #>> '{}', ', ')
                                    FROM jsonb_array_elements(p_schema -> 'enum') x))];
  END IF;

  IF v_type = 'array' THEN
    v_len := jsonb_array_length(p_value);
    IF v_len < (p_schema ->> 'minItems')::int THEN
      RETURN ARRAY[p_where, format('must have at least %s item(s)', p_schema ->> 'minItems')];
    END IF;
    IF v_len > (p_schema ->> 'maxItems')::int THEN
      RETURN ARRAY[p_where, format('must have at most %s items', p_schema ->> 'maxItems')];
    END IF;
    IF coalesce((p_schema ->> 'uniqueItems')::boolean, false)
       AND (SELECT count(DISTINCT x) FROM jsonb_array_elements(p_value) x) < v_len THEN
      RETURN ARRAY[p_where, 'must not hold an item twice'];
    END IF;
    IF p_schema ? 'items' THEN
      FOR e, i IN SELECT x, o - 1 FROM jsonb_array_elements(p_value) WITH ORDINALITY AS a(x, o) LOOP
        v_problem := org.json_schema_problem(p_schema -> 'items', e, format('%s[%s]', p_where, i));
        IF v_problem IS NOT NULL THEN
          RETURN v_problem;
        END IF;
      END LOOP;
    END IF;
    IF v_member IS NOT NULL THEN
      v_prev := NULL;
      FOR e, i IN SELECT x, o - 1 FROM jsonb_array_elements(p_value) WITH ORDINALITY AS a(x, o) LOOP
        v_cur := (e ->> v_member)::numeric;
        IF v_prev IS NOT NULL AND v_cur >= v_prev THEN
          RETURN ARRAY[format('%s[%s].%s', p_where, i, v_member),
                       'must be less than the one before (highest first)'];
        END IF;
        v_prev := v_cur;
      END LOOP;
    END IF;
  END IF;

  IF v_type = 'object' THEN
    FOR k IN SELECT x FROM jsonb_array_elements_text(coalesce(p_schema -> 'required', '[]')) x LOOP
      IF NOT p_value ? k THEN
        RETURN ARRAY[p_where || '.' || k, 'is required'];
      END IF;
    END LOOP;
    IF (SELECT count(*) FROM jsonb_object_keys(p_value)) > (p_schema ->> 'maxProperties')::int THEN
      RETURN ARRAY[p_where, format('must have at most %s members', p_schema ->> 'maxProperties')];
    END IF;
    FOR k, e IN SELECT m.key, m.value FROM jsonb_each(p_value) m ORDER BY m.key LOOP
      IF p_schema ? 'propertyNames' THEN
        v_problem := org.json_schema_problem(p_schema -> 'propertyNames', to_jsonb(k),
                                             p_where || '.' || k || ' (name)');
        IF v_problem IS NOT NULL THEN
          RETURN v_problem;
        END IF;
      END IF;
      IF coalesce(p_schema -> 'properties' ? k, false) THEN
        v_problem := org.json_schema_problem(p_schema -> 'properties' -> k, e, p_where || '.' || k);
        IF v_problem IS NOT NULL THEN
          RETURN v_problem;
        END IF;
      ELSIF jsonb_typeof(p_schema -> 'additionalProperties') = 'object' THEN
        v_problem := org.json_schema_problem(p_schema -> 'additionalProperties', e, p_where || '.' || k);
        IF v_problem IS NOT NULL THEN
          RETURN v_problem;
        END IF;
      ELSIF p_schema ? 'additionalProperties' THEN
        RETURN ARRAY[p_where || '.' || k,
                     format('is not a known member (known: %s)',
                            (SELECT string_agg(x, ', ' ORDER BY x)
                               FROM jsonb_object_keys(coalesce(p_schema -> 'properties', '{}')) x))];
      END IF;
    END LOOP;
    -- numeric arithmetic: 0.3 + 0.25 + 0.2 + 0.15 + 0.1 is exactly 1
    IF p_schema ? 'x-sum'
       AND (SELECT coalesce(sum(x::text::numeric) FILTER (WHERE jsonb_typeof(x) = 'number'), 0)
              FROM jsonb_each(p_value) AS m(key, x)) <> (p_schema ->> 'x-sum')::numeric THEN
      RETURN ARRAY[p_where, 'the values must sum to ' || (p_schema ->> 'x-sum')];
    END IF;
  END IF;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION org.json_schema_problem(jsonb,jsonb,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION org.json_schema_problem(jsonb,jsonb,text) TO tianxing_app;

-- A value must have its parameter's type and fit its schema, when proposed and again when
-- approved (a proposal made under an older schema is checked against the one in force); a decided
-- value never changes, and a decision changes nothing but the decision.
CREATE OR REPLACE FUNCTION org.policy_values_check() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
DECLARE
  v_type text;
  v_schema jsonb;
  v_ok boolean;
  v_problem text[];
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
    IF NEW.status <> 'approved' THEN
      RETURN NEW;
    END IF;
  END IF;
  SELECT p.type, p.schema INTO v_type, v_schema FROM org.policy_parameters p WHERE p.name = NEW.name;
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
  v_problem := org.json_schema_problem(v_schema, NEW.value);
  IF v_problem IS NOT NULL THEN
    PERFORM api.fail('TXVAL', v_problem[1], v_problem[2]);
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION org.policy_values_check() FROM PUBLIC;

-- 0011 the read path (issue 5, docs/performance.md): what every customer read calls, made cheap.
--
-- 1. Cached plans. A LANGUAGE sql function that PostgreSQL cannot inline (its body reads a table,
--    or holds a sub-select) is parsed and planned again each time a query calls it: profiled at
--    1 M customers, org.policy_value took 0.45 ms per call, twice per read, and cust.is_related,
--    cust.field_present and cust.pii_access added as much again. PL/pgSQL keeps the plans of its
--    statements for the life of the connection, and the service's connections are pooled. Same
--    signatures, same answers: only the language changes.
-- 2. The log of full-PII reads (C2.3) leaves the hash chain. Every audited row appends to one
--    chain under one advisory lock held until commit (0002), so logging a read there made every
--    full read of every customer wait for every other one, and for each other's commit. The log
--    stays what the regulation asks, who read whose data and when, written in the same
--    transaction as the read; it becomes append-only by itself (no UPDATE/DELETE/TRUNCATE grant,
--    and triggers that refuse them whoever asks), like the disclosure ledger of 0007. Changes to
--    business data stay chained.
CREATE OR REPLACE FUNCTION org.policy_value(p_name text, p_at date DEFAULT NULL) RETURNS jsonb
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  RETURN (SELECT v.value FROM org.policy_values v
           WHERE v.name = p_name AND v.status = 'approved'
             AND v.effective_from <= coalesce(p_at, current_date)
           ORDER BY v.effective_from DESC
           LIMIT 1);
END
$$;
REVOKE ALL ON FUNCTION org.policy_value(text,date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION org.policy_value(text,date) TO tianxing_app;

-- The login lockout policy in force today, for the (anonymous) login: 5 attempts, 900 s when the
-- parameters have no approved value.
CREATE OR REPLACE FUNCTION auth.login_policy()
  RETURNS TABLE (lock_threshold int, lock_seconds int)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((org.policy_value('login_lock_threshold'))::int, 5),
         coalesce((org.policy_value('login_lock_seconds'))::int, 900)
$$;
REVOKE ALL ON FUNCTION auth.login_policy() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth.login_policy() TO tianxing_app;

-- API: policy parameters ---------------------------------------------------------------------
CREATE OR REPLACE FUNCTION api.policy_value_json(v org.policy_values) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object('id', v.id, 'name', v.name, 'value', v.value,
                           'effective_from', v.effective_from, 'status', v.status,
                           'reason', v.reason, 'proposed_by', v.proposed_by,
                           'proposed_at', api.ts(v.proposed_at), 'decided_by', v.decided_by,
                           'decided_at', api.ts(v.decided_at),
                           'decision_reason', v.decision_reason, 'version', v.version)
$$;
REVOKE ALL ON FUNCTION api.policy_value_json(org.policy_values) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.policy_value_json(org.policy_values) TO tianxing_app;

-- A definition with the value in force on p_at (NULL value when none).
CREATE OR REPLACE FUNCTION api.policy_parameter_json(p org.policy_parameters, p_at date) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object('name', p.name, 'type', p.type, 'description', p.description,
                           'unit', p.unit, 'clause', p.clause, 'schema', p.schema,
                           'at', coalesce(p_at, current_date),
                           'value', f.value, 'effective_from', f.effective_from,
                           'value_id', f.id, 'version', p.version)
    FROM (SELECT NULL) AS dummy
    LEFT JOIN LATERAL (
      SELECT v.id, v.value, v.effective_from FROM org.policy_values v
       WHERE v.name = p.name AND v.status = 'approved'
         AND v.effective_from <= coalesce(p_at, current_date)
       ORDER BY v.effective_from DESC LIMIT 1) f ON true
$$;
REVOKE ALL ON FUNCTION api.policy_parameter_json(org.policy_parameters,date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.policy_parameter_json(org.policy_parameters,date) TO tianxing_app;

-- GET /v1/policy-parameters?at=: every parameter with its value in force (one page, by name).
CREATE OR REPLACE FUNCTION api.policy_parameter_list(p_at date) RETURNS json
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
REVOKE ALL ON FUNCTION api.policy_parameter_list(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.policy_parameter_list(date) TO tianxing_app;

-- GET /v1/policy-parameters/{name}?at=: the definition, the value in force, and its history
-- (approved values; proposals and rejections too for hr and admin), newest first. NULL when there
-- is no such parameter.
CREATE OR REPLACE FUNCTION api.policy_parameter_get(p_name text, p_at date) RETURNS json
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
REVOKE ALL ON FUNCTION api.policy_parameter_get(text,date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.policy_parameter_get(text,date) TO tianxing_app;

-- POST /v1/policy-parameters/{name}/proposals (hr): {value, effective_from, reason}. The value
-- must have the parameter's type and fit its schema (org.policy_values_check); effective_from is
-- today or later.
CREATE OR REPLACE FUNCTION api.policy_propose(p_name text, p_body jsonb) RETURNS json
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
REVOKE ALL ON FUNCTION api.policy_propose(text,jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.policy_propose(text,jsonb) TO tianxing_app;

-- POST /v1/policy-proposals/{id}/approve|reject (admin, not the proposer: 42501). TXCON when the
-- proposal was decided already, when approving a value whose effective date has passed, or one
-- for a date that has an approved value; rejecting needs a reason.
CREATE OR REPLACE FUNCTION api.policy_decide(p_id uuid, p_approve boolean, p_reason text) RETURNS json
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
REVOKE ALL ON FUNCTION api.policy_decide(uuid,boolean,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.policy_decide(uuid,boolean,text) TO tianxing_app;

CREATE OR REPLACE TRIGGER policy_values_check BEFORE INSERT OR UPDATE ON org.policy_values
  FOR EACH ROW EXECUTE FUNCTION org.policy_values_check();

-- Definitions: every employee reads them; they change only by migration.
DROP POLICY IF EXISTS policy_parameters_read ON org.policy_parameters;
CREATE POLICY policy_parameters_read ON org.policy_parameters FOR SELECT
  USING ((SELECT tx.user_id()) IS NOT NULL);

-- Values: every employee reads approved values; hr and admin read proposals and rejections.
DROP POLICY IF EXISTS policy_values_read ON org.policy_values;
CREATE POLICY policy_values_read ON org.policy_values FOR SELECT
  USING ((SELECT tx.user_id()) IS NOT NULL
         AND (status = 'approved' OR (SELECT tx.has_role('hr')) OR (SELECT tx.has_role('admin'))));

-- hr proposes, as themselves, undecided.
DROP POLICY IF EXISTS policy_values_hr_propose ON org.policy_values;
CREATE POLICY policy_values_hr_propose ON org.policy_values FOR INSERT
  WITH CHECK ((SELECT tx.has_role('hr')) AND status = 'proposed'
              AND proposed_by = (SELECT tx.user_id())
              AND decided_by IS NULL AND decided_at IS NULL);

-- admin decides proposals of others, as themselves.
DROP POLICY IF EXISTS policy_values_admin_decide ON org.policy_values;
CREATE POLICY policy_values_admin_decide ON org.policy_values FOR UPDATE
  USING ((SELECT tx.has_role('admin')) AND status = 'proposed'
         AND proposed_by IS DISTINCT FROM (SELECT tx.user_id()))
  WITH CHECK ((SELECT tx.has_role('admin')) AND status IN ('approved', 'rejected')
              AND decided_by = (SELECT tx.user_id())
              AND proposed_by IS DISTINCT FROM (SELECT tx.user_id()));

-- auth.login_policy() (SECURITY DEFINER, owner) reads the lockout values before anyone is
-- authenticated (a login).
DROP POLICY IF EXISTS policy_parameters_definer_read ON org.policy_parameters;
CREATE POLICY policy_parameters_definer_read ON org.policy_parameters FOR SELECT
  TO tianxing_owner USING (true);

DROP POLICY IF EXISTS policy_values_definer_read ON org.policy_values;
CREATE POLICY policy_values_definer_read ON org.policy_values FOR SELECT TO tianxing_owner
  USING (status = 'approved');
