-- Module R, part B: credit (R2.3 信用風險). Customer credit assessments (rating, limit, method,
-- validity), guarantees, receivables with due and paid dates per contract, credit incidents, the
-- customer's credit file, and the credit check that the contract gate of C1.3 grows:
--
--   A contract needs a current credit assessment of its customer (the latest assessed whose
--   validity covers the day), a rating that is not blocked by policy `credit_rating_policy`, and
--   the prepayment ratio the rating requires, or guarantees that cover the gap.
--
-- The gap of a contract is (required ratio - its prepayment ratio, none = 0) x its amount. It is
-- covered by the customer's guarantees in force that day in the contract's currency and not
-- released: first those given for that contract, then those given for any of the customer's
-- contracts (contract_id NULL), which are shared: what the customer's other open contracts'
-- gaps already use of them (beyond their own guarantees) is not available to a new one. So one
-- guarantee never covers the same money twice.
--
-- risk.credit_gate answers the errors (api.field_error objects) and is asked by
-- api.contract_create (one 422 with the completeness errors, sql/code/customers/010_customers.sql)
-- and by a BEFORE INSERT trigger on cust.contracts, so no writer records a contract past it.
--
-- Writers are SECURITY DEFINER (owner), called by SECURITY INVOKER api.* functions; each finds
-- the customer as the caller sees its credit file (risk.may_read_credit: 404 otherwise), then
-- checks the role, then writes. Who manages credit: risk officers and admin; receivables and
-- their payments also the staff who may change the customer (they run its contracts).

-- The company's date today (R2.3 "current": valid on this day).
CREATE OR REPLACE FUNCTION risk.credit_today() RETURNS date
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT (now() AT TIME ZONE org.company_time_zone(now()))::date $$;
REVOKE ALL ON FUNCTION risk.credit_today() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.credit_today() TO tianxing_app;

-- The rule of rating p_rating in policy credit_rating_policy on p_on: {rating, prepayment_ratio,
-- blocked?}, NULL when the policy does not know the rating.
CREATE OR REPLACE FUNCTION risk.rating_rule(p_rating text, p_on date) RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT r FROM jsonb_array_elements(org.policy_value('credit_rating_policy', p_on) -> 'ratings') r
   WHERE r ->> 'rating' = p_rating LIMIT 1
$$;
REVOKE ALL ON FUNCTION risk.rating_rule(text, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.rating_rule(text, date) TO tianxing_app;

-- The customer's current credit assessment on p_on (R2.3): the latest assessed (then the latest
-- recorded: seq, migration 0031) with assessed_on <= p_on <= valid_until; NULL fields when there
-- is none. SECURITY INVOKER: a caller sees what the policies let them see; the gate (owner)
-- sees every row.
CREATE OR REPLACE FUNCTION risk.current_credit(p_customer uuid, p_on date)
  RETURNS risk.credit_assessments
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT a.* FROM risk.credit_assessments a
   WHERE a.customer_id = p_customer AND a.assessed_on <= p_on AND a.valid_until >= p_on
   ORDER BY a.assessed_on DESC, a.seq DESC
   LIMIT 1
$$;
REVOKE ALL ON FUNCTION risk.current_credit(uuid, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.current_credit(uuid, date) TO tianxing_app;

-- Guarantees in force on p_on (given, not released, valid that day).
CREATE OR REPLACE FUNCTION risk.guarantee_in_force(g risk.guarantees, p_on date) RETURNS boolean
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT g.released_at IS NULL AND g.valid_from <= p_on AND g.valid_until >= p_on $$;
REVOKE ALL ON FUNCTION risk.guarantee_in_force(risk.guarantees, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.guarantee_in_force(risk.guarantees, date) TO tianxing_app;

-- The prepayment gap of an amount at a ratio under a required ratio, in money (2 decimals).
CREATE OR REPLACE FUNCTION risk.prepayment_gap(p_amount numeric, p_ratio numeric, p_required numeric)
  RETURNS numeric
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT round(greatest(coalesce(p_required, 0) - coalesce(p_ratio, 0), 0) * p_amount, 2) $$;
REVOKE ALL ON FUNCTION risk.prepayment_gap(numeric, numeric, numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.prepayment_gap(numeric, numeric, numeric) TO tianxing_app;

-- The shared guarantees (contract_id NULL) of a customer in a currency still free on p_on: in
-- force, less what the customer's open contracts' gaps (at p_required) need beyond their own
-- guarantees. p_except: a contract not to count (none when recording a new one).
CREATE OR REPLACE FUNCTION risk.guarantee_available(p_customer uuid, p_currency text, p_on date,
                                                    p_required numeric, p_except uuid DEFAULT NULL)
  RETURNS numeric
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((SELECT sum(g.amount) FROM risk.guarantees g
                    WHERE g.customer_id = p_customer AND g.contract_id IS NULL
                      AND g.currency = p_currency AND risk.guarantee_in_force(g, p_on)), 0)
         - coalesce((SELECT sum(greatest(risk.prepayment_gap(k.amount, k.prepayment_ratio, p_required)
                                         - coalesce((SELECT sum(g.amount) FROM risk.guarantees g
                                                      WHERE g.contract_id = k.id AND g.currency = k.currency
                                                        AND risk.guarantee_in_force(g, p_on)), 0), 0))
                       FROM cust.contracts k
                      WHERE k.customer_id = p_customer AND k.status = 'open' AND k.currency = p_currency
                        AND k.id IS DISTINCT FROM p_except), 0)
$$;
REVOKE ALL ON FUNCTION risk.guarantee_available(uuid, text, date, numeric, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.guarantee_available(uuid, text, date, numeric, uuid) TO tianxing_app;

-- The credit gate of a contract (R2.3, growing the C1.3 gate): a JSON array of api.field_error
-- objects naming what is missing, [] when the contract may be recorded. SECURITY DEFINER: it
-- reads the whole credit file whoever records the contract (the staff who sign contracts need not
-- see every guarantee; they learn only what is missing).
CREATE OR REPLACE FUNCTION risk.credit_gate(p_customer uuid, p_amount numeric, p_currency text,
                                            p_ratio numeric, p_on date)
  RETURNS jsonb
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  a risk.credit_assessments;
  v_rule jsonb;
  v_required numeric;
  v_gap numeric;
  v_available numeric;
BEGIN
  a := risk.current_credit(p_customer, p_on);
  IF a.id IS NULL THEN
    RETURN jsonb_build_array(api.field_error('credit_assessment', 'missing',
      format('the customer has no credit assessment valid on %s (R2.3)', p_on)));
  END IF;
  v_rule := risk.rating_rule(a.rating, p_on);
  IF v_rule IS NULL THEN
    RETURN jsonb_build_array(api.field_error('credit_assessment', 'unknown_rating',
      format('rating %s is not in policy credit_rating_policy: assess the customer again', a.rating)));
  END IF;
  IF coalesce((v_rule ->> 'blocked')::boolean, false) THEN
    RETURN jsonb_build_array(api.field_error('credit_assessment', 'blocked',
      format('rating %s allows no new contract (credit_rating_policy)', a.rating)));
  END IF;
  v_required := (v_rule ->> 'prepayment_ratio')::numeric;
  v_gap := risk.prepayment_gap(p_amount, p_ratio, v_required);
  IF v_gap = 0 THEN
    RETURN '[]'::jsonb;
  END IF;
  v_available := greatest(risk.guarantee_available(p_customer, p_currency, p_on, v_required), 0);
  IF v_available >= v_gap THEN
    RETURN '[]'::jsonb;
  END IF;
  RETURN jsonb_build_array(api.field_error('prepayment_ratio', 'below_required',
    format('rating %s requires a prepayment ratio of at least %s, or a guarantee covering %s %s '
           '(guarantees available: %s %s)', a.rating, v_required, v_gap, p_currency,
           to_char(v_available, 'FM9999999999999990.00'), p_currency)));
END
$$;
REVOKE ALL ON FUNCTION risk.credit_gate(uuid, numeric, text, numeric, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.credit_gate(uuid, numeric, text, numeric, date) TO tianxing_app;

-- Every writer of cust.contracts passes the gate (R2.3): the API asks first to answer every error
-- at once; this trigger holds for any other writer.
CREATE OR REPLACE FUNCTION risk.contracts_credit_gate() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
DECLARE v_errors jsonb;
BEGIN
  v_errors := risk.credit_gate(NEW.customer_id, NEW.amount, NEW.currency, NEW.prepayment_ratio,
                               risk.credit_today());
  IF jsonb_array_length(v_errors) > 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'TXINC',
      MESSAGE = 'the customer''s credit does not allow this contract (R2.3): '
                || array_to_string(ARRAY(SELECT e ->> 'field' FROM jsonb_array_elements(v_errors) e), ', '),
      DETAIL = jsonb_build_object('errors', v_errors)::text;
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION risk.contracts_credit_gate() FROM PUBLIC;
CREATE OR REPLACE TRIGGER credit_gate BEFORE INSERT ON cust.contracts
  FOR EACH ROW EXECUTE FUNCTION risk.contracts_credit_gate();

CREATE OR REPLACE FUNCTION risk.credit_currency(p_body jsonb, p_field text, p_required boolean)
  RETURNS text
  LANGUAGE plpgsql IMMUTABLE
  AS $$
DECLARE v text := api.body_text(p_body, p_field, p_required, 3);
BEGIN
  IF v IS NOT NULL AND v !~ '^[A-Z]{3}$' THEN
    PERFORM api.fail('TXVAL', p_field, 'must be three capital letters (ISO 4217)');
  END IF;
  RETURN v;
END
$$;
REVOKE ALL ON FUNCTION risk.credit_currency(jsonb, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.credit_currency(jsonb, text, boolean) TO tianxing_app;

-- The customer whose credit file the caller may read (404 'no such customer' otherwise), for
-- the writers and the reads of this file.
CREATE OR REPLACE FUNCTION risk.credit_customer(p_customer uuid) RETURNS uuid
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  PERFORM api.require_user();
  IF p_customer IS NULL OR NOT EXISTS (SELECT FROM cust.customers c WHERE c.id = p_customer)
     OR NOT risk.may_read_credit(p_customer) THEN
    RAISE EXCEPTION 'no such customer' USING ERRCODE = 'P0002';
  END IF;
  RETURN p_customer;
END
$$;
REVOKE ALL ON FUNCTION risk.credit_customer(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.credit_customer(uuid) TO tianxing_app;

-- JSON ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION risk.credit_assessment_json(a risk.credit_assessments) RETURNS jsonb
  LANGUAGE sql STABLE
  AS $$
  SELECT jsonb_build_object('id', a.id, 'customer_id', a.customer_id, 'rating', a.rating,
           'score', a.score, 'limit_amount', a.limit_amount::text, 'currency', a.currency,
           'method', a.method, 'note', a.note, 'assessed_on', a.assessed_on,
           'valid_until', a.valid_until, 'assessor_id', a.assessor_id, 'at', api.ts(a.at))
$$;
REVOKE ALL ON FUNCTION risk.credit_assessment_json(risk.credit_assessments) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.credit_assessment_json(risk.credit_assessments) TO tianxing_app;

CREATE OR REPLACE FUNCTION risk.guarantee_json(g risk.guarantees) RETURNS jsonb
  LANGUAGE sql STABLE
  AS $$
  SELECT jsonb_build_object('id', g.id, 'customer_id', g.customer_id, 'contract_id', g.contract_id,
           'type', g.type, 'guarantor', g.guarantor, 'amount', g.amount::text,
           'currency', g.currency, 'valid_from', g.valid_from, 'valid_until', g.valid_until,
           'document_sha256', encode(g.document_sha256, 'hex'),
           'in_force', risk.guarantee_in_force(g, risk.credit_today()),
           'released_at', api.ts(g.released_at), 'release_reason', g.release_reason,
           'created_by', g.created_by, 'version', g.version,
           'created_at', api.ts(g.created_at), 'updated_at', api.ts(g.updated_at))
$$;
REVOKE ALL ON FUNCTION risk.guarantee_json(risk.guarantees) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.guarantee_json(risk.guarantees) TO tianxing_app;

-- A receivable; overdue_days: days past due while unpaid (or paid late: how late), counted in
-- the company's days; overdue: unpaid longer than risk_warning_thresholds.credit_overdue_days.
CREATE OR REPLACE FUNCTION risk.receivable_json(r risk.receivables) RETURNS jsonb
  LANGUAGE sql STABLE
  AS $$
  SELECT jsonb_build_object('id', r.id, 'contract_id', r.contract_id, 'customer_id', r.customer_id,
           'kind', r.kind, 'amount', r.amount::text, 'currency', r.currency, 'due_on', r.due_on,
           'paid_on', r.paid_on, 'paid_amount', r.paid_amount::text,
           'days_late', greatest(coalesce(r.paid_on, t.today) - r.due_on, 0),
           'overdue', r.paid_on IS NULL
                      AND t.today - r.due_on > coalesce((org.policy_value('risk_warning_thresholds', t.today)
                                                         ->> 'credit_overdue_days')::int, 0),
           'created_by', r.created_by, 'version', r.version,
           'created_at', api.ts(r.created_at), 'updated_at', api.ts(r.updated_at))
    FROM (SELECT risk.credit_today() AS today) t
$$;
REVOKE ALL ON FUNCTION risk.receivable_json(risk.receivables) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.receivable_json(risk.receivables) TO tianxing_app;

CREATE OR REPLACE FUNCTION risk.credit_incident_json(i risk.credit_incidents) RETURNS jsonb
  LANGUAGE sql STABLE
  AS $$
  SELECT jsonb_build_object('id', i.id, 'customer_id', i.customer_id, 'contract_id', i.contract_id,
           'kind', i.kind, 'occurred_on', i.occurred_on, 'amount', i.amount::text,
           'currency', i.currency, 'description', i.description, 'recorded_by', i.recorded_by,
           'at', api.ts(i.at))
$$;
REVOKE ALL ON FUNCTION risk.credit_incident_json(risk.credit_incidents) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.credit_incident_json(risk.credit_incidents) TO tianxing_app;

-- Writers ------------------------------------------------------------------------------------------
-- POST /v1/customers/{id}/credit/assessments (risk_officer, admin; R2.3): {rating, score?,
-- limit_amount, currency, method, note?, assessed_on? (default today, not in the future),
-- valid_until? (default assessed_on + credit_rating_policy.valid_months)}. The rating must be one
-- of the policy's. Append-only: a new assessment replaces the current one, the history stays.
CREATE OR REPLACE FUNCTION risk.credit_assess(p_customer uuid, p_body jsonb)
  RETURNS risk.credit_assessments
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_today date := risk.credit_today();
  v_rating text;
  v_score int;
  v_raw text;
  v_assessed date;
  v_until date;
  a risk.credit_assessments;
BEGIN
  PERFORM risk.credit_customer(p_customer);
  PERFORM api.require_role('risk_officer', 'admin');
  PERFORM api.body_keys(p_body, ARRAY['rating', 'score', 'limit_amount', 'currency', 'method',
                                      'note', 'assessed_on', 'valid_until']);
  v_rating := api.body_text(p_body, 'rating', true, 5);
  IF risk.rating_rule(v_rating, v_today) IS NULL THEN
    PERFORM api.fail('TXVAL', 'rating', format('must be one of the ratings of credit_rating_policy (%s)',
      (SELECT string_agg(r ->> 'rating', ', ')
         FROM jsonb_array_elements(org.policy_value('credit_rating_policy', v_today) -> 'ratings') r)));
  END IF;
  IF p_body ? 'score' AND jsonb_typeof(p_body -> 'score') <> 'null' THEN
    v_raw := CASE WHEN jsonb_typeof(p_body -> 'score') = 'number' THEN p_body ->> 'score' END;
    IF v_raw IS NULL OR v_raw !~ '^[0-9]{1,4}$' THEN
      PERFORM api.fail('TXVAL', 'score', 'must be a whole number from 0 to 1000');
    END IF;
    IF v_raw::int > 1000 THEN
      PERFORM api.fail('TXVAL', 'score', 'must be a whole number from 0 to 1000');
    END IF;
    v_score := v_raw::int;
  END IF;
  v_assessed := coalesce(api.body_date(p_body, 'assessed_on', false), v_today);
  IF v_assessed > v_today THEN
    PERFORM api.fail('TXVAL', 'assessed_on', 'must not be in the future');
  END IF;
  v_until := coalesce(api.body_date(p_body, 'valid_until', false),
                      (v_assessed + make_interval(months =>
                         (org.policy_value('credit_rating_policy', v_today) ->> 'valid_months')::int))::date);
  IF v_until < v_assessed THEN
    PERFORM api.fail('TXVAL', 'valid_until', 'must not be before assessed_on');
  END IF;
  INSERT INTO risk.credit_assessments (customer_id, rating, score, limit_amount, currency, method,
                                       note, assessed_on, valid_until, assessor_id)
  VALUES (p_customer, v_rating, v_score,
          api.body_money(p_body, 'limit_amount', true),
          risk.credit_currency(p_body, 'currency', true),
          api.body_text(p_body, 'method', true, 2000), api.body_text(p_body, 'note', false, 4000),
          v_assessed, v_until, tx.user_id())
  RETURNING * INTO a;
  RETURN a;
END
$$;
REVOKE ALL ON FUNCTION risk.credit_assess(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.credit_assess(uuid, jsonb) TO tianxing_app;

-- A contract of the customer (the guarantee's, the incident's), 422 naming the member when it is
-- not one of the customer's contracts.
CREATE OR REPLACE FUNCTION risk.credit_contract_of(p_customer uuid, p_contract uuid, p_field text)
  RETURNS cust.contracts
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE k cust.contracts;
BEGIN
  SELECT * INTO k FROM cust.contracts x WHERE x.id = p_contract AND x.customer_id = p_customer;
  IF NOT FOUND THEN
    PERFORM api.fail('TXVAL', p_field, 'must be a contract of this customer');
  END IF;
  RETURN k;
END
$$;
REVOKE ALL ON FUNCTION risk.credit_contract_of(uuid, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.credit_contract_of(uuid, uuid, text) TO tianxing_app;

-- POST /v1/customers/{id}/credit/guarantees (risk_officer, admin; R2.3 擔保): {type, guarantor,
-- amount, currency, valid_from, valid_until, document_sha256 (64 hex), contract_id?}.
CREATE OR REPLACE FUNCTION risk.guarantee_give(p_customer uuid, p_body jsonb) RETURNS risk.guarantees
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_type text;
  v_from date;
  v_until date;
  v_hash text;
  v_contract uuid;
  v_currency text;
  v_amount numeric;
  g risk.guarantees;
BEGIN
  PERFORM risk.credit_customer(p_customer);
  PERFORM api.require_role('risk_officer', 'admin');
  PERFORM api.body_keys(p_body, ARRAY['type', 'guarantor', 'amount', 'currency', 'valid_from',
                                      'valid_until', 'document_sha256', 'contract_id']);
  v_type := api.body_text(p_body, 'type', true, 32);
  IF v_type NOT IN ('bank_guarantee', 'letter_of_credit', 'deposit', 'collateral', 'personal',
                    'corporate', 'other') THEN
    PERFORM api.fail('TXVAL', 'type', 'must be bank_guarantee, letter_of_credit, deposit, collateral, personal, corporate or other');
  END IF;
  v_currency := risk.credit_currency(p_body, 'currency', true);
  v_from := api.body_date(p_body, 'valid_from', true);
  v_until := api.body_date(p_body, 'valid_until', true);
  IF v_until < v_from THEN
    PERFORM api.fail('TXVAL', 'valid_until', 'must not be before valid_from');
  END IF;
  v_hash := api.body_text(p_body, 'document_sha256', true, 64);
  IF v_hash !~ '^[0-9a-f]{64}$' THEN
    PERFORM api.fail('TXVAL', 'document_sha256', 'must be the SHA-256 of the document: 64 lower-case hex digits');
  END IF;
  v_amount := api.body_money(p_body, 'amount', true);
  IF v_amount <= 0 THEN
    PERFORM api.fail('TXVAL', 'amount', 'must be greater than 0');
  END IF;
  v_contract := api.body_uuid(p_body, 'contract_id', false);
  IF v_contract IS NOT NULL
     AND (risk.credit_contract_of(p_customer, v_contract, 'contract_id')).currency <> v_currency THEN
    PERFORM api.fail('TXVAL', 'currency', 'must be the contract''s currency');
  END IF;
  INSERT INTO risk.guarantees (customer_id, contract_id, type, guarantor, amount, currency,
                               valid_from, valid_until, document_sha256, created_by)
  VALUES (p_customer, v_contract, v_type, api.body_text(p_body, 'guarantor', true, 200),
          v_amount, v_currency, v_from, v_until, decode(v_hash, 'hex'), tx.user_id())
  RETURNING * INTO g;
  RETURN g;
END
$$;
REVOKE ALL ON FUNCTION risk.guarantee_give(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.guarantee_give(uuid, jsonb) TO tianxing_app;

-- POST /v1/guarantees/{id}/release (risk_officer, admin): {reason}. Once; the row stays.
CREATE OR REPLACE FUNCTION risk.guarantee_release(p_id uuid, p_body jsonb) RETURNS risk.guarantees
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE g risk.guarantees;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO g FROM risk.guarantees x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND OR NOT risk.may_read_credit(g.customer_id) THEN
    RAISE EXCEPTION 'no such guarantee' USING ERRCODE = 'P0002';
  END IF;
  PERFORM api.require_role('risk_officer', 'admin');
  PERFORM api.body_keys(p_body, ARRAY['reason']);
  IF g.released_at IS NOT NULL THEN
    RAISE EXCEPTION 'the guarantee was released already' USING ERRCODE = 'TXCON';
  END IF;
  UPDATE risk.guarantees x
     SET released_at = now(), release_reason = api.body_text(p_body, 'reason', true, 2000),
         version = x.version + 1, updated_at = now()
   WHERE x.id = p_id RETURNING * INTO g;
  RETURN g;
END
$$;
REVOKE ALL ON FUNCTION risk.guarantee_release(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.guarantee_release(uuid, jsonb) TO tianxing_app;

-- The contract p_id as the caller sees it (404 'no such contract' otherwise), for receivables:
-- risk officers and admin, and whoever may change its customer (owner, team, supervisor).
CREATE OR REPLACE FUNCTION risk.receivable_contract(p_id uuid, p_write boolean) RETURNS cust.contracts
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  k cust.contracts;
  c cust.customers;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO k FROM cust.contracts x WHERE x.id = p_id;
  IF NOT FOUND OR NOT risk.may_read_credit(k.customer_id) THEN
    RAISE EXCEPTION 'no such contract' USING ERRCODE = 'P0002';
  END IF;
  SELECT * INTO c FROM cust.customers x WHERE x.id = k.customer_id;
  IF p_write AND NOT (risk.is_manager() OR cust.is_related(c.owner_id, c.department_id, c.id)) THEN
    RAISE EXCEPTION 'only a risk officer, an administrator or the staff of the customer may record receivables and payments'
      USING ERRCODE = '42501';
  END IF;
  RETURN k;
END
$$;
REVOKE ALL ON FUNCTION risk.receivable_contract(uuid, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.receivable_contract(uuid, boolean) TO tianxing_app;

-- POST /v1/contracts/{id}/receivables: {kind? (prepayment, instalment, final; default
-- instalment), amount, due_on}; in the contract's currency; the contract must be open; the
-- receivables together may not exceed the contract's amount.
CREATE OR REPLACE FUNCTION risk.receivable_add(p_contract uuid, p_body jsonb) RETURNS risk.receivables
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  k cust.contracts;
  v_kind text;
  v_amount numeric;
  r risk.receivables;
BEGIN
  k := risk.receivable_contract(p_contract, true);
  PERFORM api.body_keys(p_body, ARRAY['kind', 'amount', 'due_on']);
  v_kind := coalesce(api.body_text(p_body, 'kind', false, 16), 'instalment');
  IF v_kind NOT IN ('prepayment', 'instalment', 'final') THEN
    PERFORM api.fail('TXVAL', 'kind', 'must be prepayment, instalment or final');
  END IF;
  v_amount := api.body_money(p_body, 'amount', true);
  IF v_amount <= 0 THEN
    PERFORM api.fail('TXVAL', 'amount', 'must be greater than 0');
  END IF;
  IF k.status <> 'open' THEN
    RAISE EXCEPTION 'the contract is closed' USING ERRCODE = 'TXCON';
  END IF;
  PERFORM 1 FROM cust.contracts x WHERE x.id = k.id FOR UPDATE;
  IF v_amount + coalesce((SELECT sum(x.amount) FROM risk.receivables x WHERE x.contract_id = k.id), 0) > k.amount THEN
    PERFORM api.fail('TXVAL', 'amount', format('the receivables of the contract would exceed its amount %s', k.amount));
  END IF;
  INSERT INTO risk.receivables (contract_id, customer_id, kind, amount, currency, due_on, created_by)
  VALUES (k.id, k.customer_id, v_kind, v_amount, k.currency, api.body_date(p_body, 'due_on', true),
          tx.user_id())
  RETURNING * INTO r;
  RETURN r;
END
$$;
REVOKE ALL ON FUNCTION risk.receivable_add(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.receivable_add(uuid, jsonb) TO tianxing_app;

-- POST /v1/receivables/{id}/payment: {paid_on (not in the future), paid_amount}. Once.
CREATE OR REPLACE FUNCTION risk.receivable_pay(p_id uuid, p_body jsonb) RETURNS risk.receivables
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  r risk.receivables;
  v_on date;
  v_amount numeric;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO r FROM risk.receivables x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND OR NOT risk.may_read_credit(r.customer_id) THEN
    RAISE EXCEPTION 'no such receivable' USING ERRCODE = 'P0002';
  END IF;
  PERFORM risk.receivable_contract(r.contract_id, true);
  PERFORM api.body_keys(p_body, ARRAY['paid_on', 'paid_amount']);
  v_on := api.body_date(p_body, 'paid_on', true);
  IF v_on > risk.credit_today() THEN
    PERFORM api.fail('TXVAL', 'paid_on', 'must not be in the future');
  END IF;
  v_amount := api.body_money(p_body, 'paid_amount', true);
  IF v_amount <= 0 THEN
    PERFORM api.fail('TXVAL', 'paid_amount', 'must be greater than 0');
  END IF;
  IF r.paid_on IS NOT NULL THEN
    RAISE EXCEPTION 'the receivable was paid already' USING ERRCODE = 'TXCON';
  END IF;
  UPDATE risk.receivables x SET paid_on = v_on, paid_amount = v_amount, version = x.version + 1,
                                updated_at = now()
   WHERE x.id = p_id RETURNING * INTO r;
  RETURN r;
END
$$;
REVOKE ALL ON FUNCTION risk.receivable_pay(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.receivable_pay(uuid, jsonb) TO tianxing_app;

-- POST /v1/customers/{id}/credit/incidents (risk_officer, admin): {kind, occurred_on (not in the
-- future), description, amount? with currency, contract_id?}. Append-only.
CREATE OR REPLACE FUNCTION risk.credit_incident_record(p_customer uuid, p_body jsonb)
  RETURNS risk.credit_incidents
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_kind text;
  v_on date;
  v_amount numeric;
  v_currency text;
  v_contract uuid;
  i risk.credit_incidents;
BEGIN
  PERFORM risk.credit_customer(p_customer);
  PERFORM api.require_role('risk_officer', 'admin');
  PERFORM api.body_keys(p_body, ARRAY['kind', 'occurred_on', 'description', 'amount', 'currency',
                                      'contract_id']);
  v_kind := api.body_text(p_body, 'kind', true, 16);
  IF v_kind NOT IN ('late_payment', 'default', 'dispute', 'write_off', 'other') THEN
    PERFORM api.fail('TXVAL', 'kind', 'must be late_payment, default, dispute, write_off or other');
  END IF;
  v_on := api.body_date(p_body, 'occurred_on', true);
  IF v_on > risk.credit_today() THEN
    PERFORM api.fail('TXVAL', 'occurred_on', 'must not be in the future');
  END IF;
  v_amount := api.body_money(p_body, 'amount', false);
  v_currency := risk.credit_currency(p_body, 'currency', false);
  IF (v_amount IS NULL) <> (v_currency IS NULL) THEN
    PERFORM api.fail('TXVAL', CASE WHEN v_amount IS NULL THEN 'amount' ELSE 'currency' END,
                     'amount and currency go together');
  END IF;
  IF v_amount <= 0 THEN
    PERFORM api.fail('TXVAL', 'amount', 'must be greater than 0');
  END IF;
  v_contract := api.body_uuid(p_body, 'contract_id', false);
  IF v_contract IS NOT NULL THEN
    PERFORM risk.credit_contract_of(p_customer, v_contract, 'contract_id');
  END IF;
  INSERT INTO risk.credit_incidents (customer_id, contract_id, kind, occurred_on, amount, currency,
                                     description, recorded_by)
  VALUES (p_customer, v_contract, v_kind, v_on, v_amount, v_currency,
          api.body_text(p_body, 'description', true, 4000), tx.user_id())
  RETURNING * INTO i;
  RETURN i;
END
$$;
REVOKE ALL ON FUNCTION risk.credit_incident_record(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.credit_incident_record(uuid, jsonb) TO tianxing_app;

-- The API (SECURITY INVOKER, like every api function: sql/tests/org.sql) --------------------------
-- GET /v1/customers/{id}/credit: the customer's credit file (R2.3): the current assessment, the
-- prepayment its rating requires, the assessments (newest first), guarantees, contracts with
-- their receivables, incidents. No customer PII: the customer is named by its id only (the risk
-- officer reads the file without the customer's personal data).
CREATE OR REPLACE FUNCTION api.credit_file(p_customer uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_today date := risk.credit_today();
  a risk.credit_assessments;
  v_rule jsonb;
BEGIN
  PERFORM risk.credit_customer(p_customer);
  a := risk.current_credit(p_customer, v_today);
  v_rule := CASE WHEN a.id IS NOT NULL THEN risk.rating_rule(a.rating, v_today) END;
  RETURN json_build_object(
    'customer_id', p_customer,
    'on', v_today,
    'current', CASE WHEN a.id IS NOT NULL THEN risk.credit_assessment_json(a) END,
    'required_prepayment_ratio', (v_rule ->> 'prepayment_ratio')::numeric,
    'blocked', coalesce((v_rule ->> 'blocked')::boolean, false),
    'assessments', coalesce((SELECT jsonb_agg(risk.credit_assessment_json(x)
                                              ORDER BY x.assessed_on DESC, x.seq DESC)
                               FROM risk.credit_assessments x WHERE x.customer_id = p_customer), '[]'),
    'guarantees', coalesce((SELECT jsonb_agg(risk.guarantee_json(g) ORDER BY g.valid_until DESC, g.id)
                              FROM risk.guarantees g WHERE g.customer_id = p_customer), '[]'),
    'contracts', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                    'id', k.id, 'amount', k.amount::text, 'currency', k.currency,
                                    'prepayment_ratio', k.prepayment_ratio, 'signed_on', k.signed_on,
                                    'status', k.status,
                                    'receivables', coalesce((SELECT jsonb_agg(risk.receivable_json(r) ORDER BY r.due_on, r.id)
                                                               FROM risk.receivables r WHERE r.contract_id = k.id), '[]'))
                                  ORDER BY k.signed_on DESC, k.id)
                             FROM cust.contracts k WHERE k.customer_id = p_customer), '[]'),
    'incidents', coalesce((SELECT jsonb_agg(risk.credit_incident_json(i) ORDER BY i.occurred_on DESC, i.at DESC, i.id)
                             FROM risk.credit_incidents i WHERE i.customer_id = p_customer), '[]'));
END
$$;
REVOKE ALL ON FUNCTION api.credit_file(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.credit_file(uuid) TO tianxing_app;

-- GET /v1/customers/{id}/credit/assessments: the history, newest first ({items}: a customer's
-- assessments are few; not paged).
CREATE OR REPLACE FUNCTION api.credit_assessment_list(p_customer uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  PERFORM risk.credit_customer(p_customer);
  RETURN json_build_object('items', coalesce((SELECT jsonb_agg(risk.credit_assessment_json(x)
                                                              ORDER BY x.assessed_on DESC, x.seq DESC)
                                                FROM risk.credit_assessments x WHERE x.customer_id = p_customer), '[]'));
END
$$;
REVOKE ALL ON FUNCTION api.credit_assessment_list(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.credit_assessment_list(uuid) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.credit_assessment_create(p_customer uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$ BEGIN RETURN risk.credit_assessment_json(risk.credit_assess(p_customer, p_body)); END $$;
REVOKE ALL ON FUNCTION api.credit_assessment_create(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.credit_assessment_create(uuid, jsonb) TO tianxing_app;

-- GET /v1/customers/{id}/credit/guarantees: every guarantee, latest expiry first ({items}).
CREATE OR REPLACE FUNCTION api.guarantee_list(p_customer uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  PERFORM risk.credit_customer(p_customer);
  RETURN json_build_object('items', coalesce((SELECT jsonb_agg(risk.guarantee_json(g) ORDER BY g.valid_until DESC, g.id)
                                                FROM risk.guarantees g WHERE g.customer_id = p_customer), '[]'));
END
$$;
REVOKE ALL ON FUNCTION api.guarantee_list(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.guarantee_list(uuid) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.guarantee_create(p_customer uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$ BEGIN RETURN risk.guarantee_json(risk.guarantee_give(p_customer, p_body)); END $$;
REVOKE ALL ON FUNCTION api.guarantee_create(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.guarantee_create(uuid, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.guarantee_release(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$ BEGIN RETURN risk.guarantee_json(risk.guarantee_release(p_id, p_body)); END $$;
REVOKE ALL ON FUNCTION api.guarantee_release(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.guarantee_release(uuid, jsonb) TO tianxing_app;

-- GET /v1/contracts/{id}/receivables: by due date ({items}).
CREATE OR REPLACE FUNCTION api.receivable_list(p_contract uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  PERFORM risk.receivable_contract(p_contract, false);
  RETURN json_build_object('items', coalesce((SELECT jsonb_agg(risk.receivable_json(r) ORDER BY r.due_on, r.id)
                                                FROM risk.receivables r WHERE r.contract_id = p_contract), '[]'));
END
$$;
REVOKE ALL ON FUNCTION api.receivable_list(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.receivable_list(uuid) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.receivable_create(p_contract uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$ BEGIN RETURN risk.receivable_json(risk.receivable_add(p_contract, p_body)); END $$;
REVOKE ALL ON FUNCTION api.receivable_create(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.receivable_create(uuid, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.receivable_payment(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$ BEGIN RETURN risk.receivable_json(risk.receivable_pay(p_id, p_body)); END $$;
REVOKE ALL ON FUNCTION api.receivable_payment(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.receivable_payment(uuid, jsonb) TO tianxing_app;

-- GET /v1/customers/{id}/credit/incidents: newest first ({items}).
CREATE OR REPLACE FUNCTION api.credit_incident_list(p_customer uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  PERFORM risk.credit_customer(p_customer);
  RETURN json_build_object('items', coalesce((SELECT jsonb_agg(risk.credit_incident_json(i) ORDER BY i.occurred_on DESC, i.at DESC, i.id)
                                                FROM risk.credit_incidents i WHERE i.customer_id = p_customer), '[]'));
END
$$;
REVOKE ALL ON FUNCTION api.credit_incident_list(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.credit_incident_list(uuid) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.credit_incident_create(p_customer uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$ BEGIN RETURN risk.credit_incident_json(risk.credit_incident_record(p_customer, p_body)); END $$;
REVOKE ALL ON FUNCTION api.credit_incident_create(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.credit_incident_create(uuid, jsonb) TO tianxing_app;
