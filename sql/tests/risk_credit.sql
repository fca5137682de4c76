-- Module R, part B: credit (R2.3; sql/code/risk/040_credit.sql, docs/credit.md). The credit gate
-- (risk.credit_gate) and its rules: a current assessment (the latest assessed that is valid
-- today), a rating the policy knows and does not block, the prepayment the rating requires or
-- guarantees in force covering the gap, never counted twice; the trigger that holds the gate for
-- a direct INSERT into cust.contracts; who reads which credit rows (row-level security); the
-- writers' refusals (404 before 403, TXCON for a second release or payment).
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(45);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

\ir lib/session.psql
\ir lib/customers.psql
\ir lib/risk_credit.psql
-- A complete, verified customer n owned by the caller (only credit can stop its contracts).
CREATE FUNCTION pg_temp.credit_customer_body(n int) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object(
    'id', pg_temp.c(n), 'name', '陳信用' || n, 'company_name', '信用貿易' || n || '有限公司',
    'business_scope', '進出口貿易', 'status', 'active', 'verified', true,
    'address_enc', pg_temp.ct(40, 'addr' || n),
    'credit_code_enc', pg_temp.ct(36, 'cc' || n), 'credit_code_bidx', pg_temp.bi('cc' || n),
    'contacts', jsonb_build_array(jsonb_build_object(
      'id', pg_temp.k(n), 'name', '李四' || n, 'position', '經理',
      'phone_enc', pg_temp.ct(41, 'ph' || n), 'phone_bidx', pg_temp.bi('ph' || n))),
    'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', pg_temp.ct(60, 'dek' || n))) $$;
-- A contract of customer n as the caller: amount and prepayment ratio.
CREATE FUNCTION pg_temp.credit_contract(n int, amount text, ratio numeric) RETURNS uuid LANGUAGE sql AS $$
  SELECT (api.contract_create(pg_temp.c(n), jsonb_build_object('amount', amount, 'currency', 'CNY',
            'prepayment_ratio', ratio, 'signed_on', current_date)) ->> 'id')::uuid $$;
-- A guarantee of customer n in force today (as the caller), for one contract or shared.
CREATE FUNCTION pg_temp.credit_guarantee(n int, amount text, contract uuid DEFAULT NULL) RETURNS uuid LANGUAGE sql AS $$
  SELECT (api.guarantee_create(pg_temp.c(n), jsonb_strip_nulls(jsonb_build_object(
            'type', 'deposit', 'guarantor', '保證人' || n, 'amount', amount, 'currency', 'CNY',
            'valid_from', risk.credit_today() - 1, 'valid_until', risk.credit_today() + 90,
            'document_sha256', encode(sha256(convert_to(amount || n || coalesce(contract::text, ''), 'UTF8')), 'hex'),
            'contract_id', contract))) ->> 'id')::uuid $$;
-- The codes of a gate's answer.
CREATE FUNCTION pg_temp.credit_codes(j jsonb) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(array_agg((e ->> 'field') || ':' || (e ->> 'code') ORDER BY i), '{}')
    FROM jsonb_array_elements(j) WITH ORDINALITY AS x(e, i) $$;
CREATE FUNCTION pg_temp.credit_gate(n int, amount numeric, ratio numeric) RETURNS text[] LANGUAGE sql STABLE AS $$
  SELECT pg_temp.credit_codes(risk.credit_gate(pg_temp.c(n), amount, 'CNY', ratio, risk.credit_today())) $$;

-- Customers: 1 of staff.a1 (department A), 2 of staff.b1 (department B).
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.credit_customer_body(1)) $$, 'customer 1 (staff.a1)');
SELECT pg_temp.be('staff.b1', 'staff');
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.credit_customer_body(2)) $$, 'customer 2 (staff.b1)');

-- How the functions run -----------------------------------------------------------------------
SELECT ok((SELECT bool_and(p.prosecdef) FROM pg_proc p
            WHERE p.pronamespace = 'risk'::regnamespace
              AND p.proname IN ('credit_gate', 'credit_assess', 'guarantee_give', 'guarantee_release',
                                'receivable_add', 'receivable_pay', 'credit_incident_record')),
  'the gate and the writers are SECURITY DEFINER');
SELECT ok((SELECT bool_and(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp']) FROM pg_proc p
            WHERE p.pronamespace = 'risk'::regnamespace AND p.prosecdef
              AND p.proname IN ('credit_gate', 'credit_assess', 'guarantee_give', 'guarantee_release',
                                'receivable_add', 'receivable_pay', 'credit_incident_record', 'credit_customer')),
  '... with their search_path pinned');
SELECT ok(NOT (SELECT bool_or(p.prosecdef) FROM pg_proc p
                WHERE p.pronamespace = 'api'::regnamespace
                  AND p.proname IN ('credit_file', 'credit_assessment_create', 'guarantee_create',
                                    'receivable_create', 'credit_incident_create')),
  'the api functions are SECURITY INVOKER');

-- The gate --------------------------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(pg_temp.credit_gate(1, 1000, 0), ARRAY['credit_assessment:missing'], 'no assessment: credit_assessment missing');
SELECT is((SELECT pg_temp.err($$ SELECT pg_temp.credit_contract(1, '1000.00', 0) $$) - 'column'),
  jsonb_build_object('state', 'TXINC',
    'message', 'the customer''s credit does not allow this contract (R2.3): credit_assessment',
    'detail', jsonb_build_object('errors', risk.credit_gate(pg_temp.c(1), 1000, 'CNY', 0, risk.credit_today()))),
  'contract_create: TXINC with the gate''s errors');
SELECT throws_ok($$ INSERT INTO cust.contracts (customer_id, amount, currency, prepayment_ratio, signed_on, created_by)
                    VALUES (pg_temp.c(1), 1000, 'CNY', 1, current_date, pg_temp.emp('staff.a1')) $$,
  'TXINC', 'the customer''s credit does not allow this contract (R2.3): credit_assessment',
  'a direct INSERT into cust.contracts meets the same gate (the trigger)');

SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ SELECT pg_temp.credit_rate(pg_temp.c(1), 'A') $$, '42501', NULL, 'staff do not assess credit');
SELECT throws_ok($$ SELECT pg_temp.credit_rate(pg_temp.c(2), 'A') $$, 'P0002', 'no such customer',
  'a customer whose credit file the caller may not read: 404 before the role');
SELECT pg_temp.be('risk', 'risk_officer');
INSERT INTO ids VALUES ('c1', pg_temp.credit_rate(pg_temp.c(1), 'C'));
SELECT is((risk.current_credit(pg_temp.c(1), risk.credit_today())).id, pg_temp.id('c1'), 'the assessment is current');
-- recorded later but assessed earlier: not the current one
SELECT lives_ok($$ SELECT api.credit_assessment_create(pg_temp.c(1), jsonb_build_object('rating', 'A', 'limit_amount', '1.00',
                     'currency', 'CNY', 'method', 'old review', 'assessed_on', risk.credit_today() - 30)) $$, 'an older assessment recorded after');
SELECT is((risk.current_credit(pg_temp.c(1), risk.credit_today())).rating, 'C', 'the latest assessed stays current');
SELECT is((risk.current_credit(pg_temp.c(1), risk.credit_today() - 10)).rating, 'A', 'ten days ago only the older one was');
SELECT is((SELECT valid_until FROM risk.credit_assessments WHERE id = pg_temp.id('c1')),
  (risk.credit_today() + interval '12 months')::date, 'valid for credit_rating_policy.valid_months by default');

SELECT is(pg_temp.credit_gate(1, 1000, 0.5), '{}'::text[], 'rating C: 50 % prepayment passes');
SELECT is(pg_temp.credit_gate(1, 1000, 0.2), ARRAY['prepayment_ratio:below_required'], '... 20 % does not');
SELECT is(risk.credit_gate(pg_temp.c(1), 1000, 'CNY', 0.2, risk.credit_today()) -> 0 ->> 'message',
  'rating C requires a prepayment ratio of at least 0.5, or a guarantee covering 300.00 CNY (guarantees available: 0.00 CNY)',
  'the message says the gap');
SELECT is(pg_temp.credit_gate(1, 1000, NULL), ARRAY['prepayment_ratio:below_required'], 'no ratio is no prepayment');

-- Guarantees: shared ones in force cover a gap once
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ SELECT pg_temp.credit_guarantee(1, '300.00') $$, '42501', NULL, 'staff do not record guarantees');
SELECT pg_temp.be('admin', 'admin');
INSERT INTO ids VALUES ('g300', pg_temp.credit_guarantee(1, '300.00'));
SELECT is(pg_temp.credit_gate(1, 1000, 0.2), '{}'::text[], 'a shared guarantee of 300.00 covers the gap of 300.00');
SELECT is(pg_temp.credit_gate(1, 1001, 0.2), ARRAY['prepayment_ratio:below_required'], '... not a cent more');
SELECT pg_temp.be('staff.a1', 'staff');
INSERT INTO ids VALUES ('k1', pg_temp.credit_contract(1, '1000.00', 0.2));
SELECT isnt(pg_temp.id('k1'), NULL, 'the contract is recorded');
SELECT is(risk.guarantee_available(pg_temp.c(1), 'CNY', risk.credit_today(), 0.5), 0.00,
  'its gap uses the shared guarantee');
SELECT is(pg_temp.credit_gate(1, 1000, 0.2), ARRAY['prepayment_ratio:below_required'], 'a second such contract is refused');
SELECT pg_temp.be('risk', 'risk_officer');
SELECT lives_ok($$ SELECT pg_temp.credit_guarantee(1, '300.00', pg_temp.id('k1')) $$, 'a guarantee for the first contract itself');
SELECT is(risk.guarantee_available(pg_temp.c(1), 'CNY', risk.credit_today(), 0.5), 300.00,
  '... frees the shared one');
SELECT is(pg_temp.credit_gate(1, 1000, 0.2), '{}'::text[], '... which covers the second contract');
SELECT lives_ok($$ SELECT api.guarantee_release(pg_temp.id('g300'), '{"reason": "returned"}') $$, 'the shared guarantee is released');
SELECT throws_ok($$ SELECT api.guarantee_release(pg_temp.id('g300'), '{"reason": "again"}') $$, 'TXCON',
  'the guarantee was released already', 'released once');
SELECT is(pg_temp.credit_gate(1, 1000, 0.2), ARRAY['prepayment_ratio:below_required'], 'a released guarantee counts for nothing');

-- A rating the policy no longer knows (credit_rating_policy is a validated policy parameter)
SELECT pg_temp.be('hr', 'hr');
CREATE TEMP TABLE credit_prop AS SELECT (api.policy_propose('credit_rating_policy', jsonb_build_object(
  'value', '{"ratings": [{"rating": "A", "prepayment_ratio": 0}, {"rating": "D", "prepayment_ratio": 1, "blocked": true}],
             "valid_months": 6, "expiring_within_days": 30}'::jsonb,
  'effective_from', risk.credit_today(), 'reason', 'test')) ->> 'id')::uuid AS id;
SELECT pg_temp.be('admin', 'admin');
SELECT lives_ok($$ SELECT api.policy_decide((SELECT id FROM credit_prop), true, NULL) $$, 'a new credit_rating_policy without C');
SELECT is(pg_temp.credit_gate(1, 1000, 1), ARRAY['credit_assessment:unknown_rating'], 'rating C is unknown now');
SELECT throws_ok($$ SELECT pg_temp.credit_rate(pg_temp.c(1), 'C') $$, 'TXVAL', NULL, 'and can no longer be given');
-- assessed the same day and in the same transaction as C (one now()): recorded later, it is current
SELECT lives_ok($$ SELECT pg_temp.credit_rate(pg_temp.c(1), 'D') $$, 'rating D');
SELECT is(pg_temp.credit_gate(1, 1000, 1), ARRAY['credit_assessment:blocked'], 'D blocks every contract');

-- Who reads which credit rows -------------------------------------------------------------------
CREATE FUNCTION pg_temp.credit_rows() RETURNS int LANGUAGE sql STABLE AS $$
  SELECT ((SELECT count(*) FROM risk.credit_assessments WHERE customer_id = pg_temp.c(1))
          + (SELECT count(*) FROM risk.guarantees WHERE customer_id = pg_temp.c(1)))::int $$;
SELECT pg_temp.be('auditor', 'auditor');
SELECT is(pg_temp.credit_rows(), 5, 'the auditor reads customer 1''s assessments and guarantees');
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT is(pg_temp.credit_rows(), 5, 'so does the supervisor of its department');
SELECT pg_temp.be('staff.b1', 'staff');
SELECT is(pg_temp.credit_rows(), 0, 'staff of another department read none');
SELECT pg_temp.be('hr', 'hr');
SELECT is(pg_temp.credit_rows(), 0, 'nor does hr');

-- Receivables -------------------------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
INSERT INTO ids VALUES ('r1', (api.receivable_create(pg_temp.id('k1'),
  jsonb_build_object('amount', '200.00', 'due_on', risk.credit_today() - 31)) ->> 'id')::uuid);
SELECT is((SELECT (j ->> 'overdue')::boolean FROM (SELECT api.receivable_list(pg_temp.id('k1')) -> 'items' -> 0 AS j) x), true,
  'unpaid 31 days after due, credit_overdue_days 30: overdue');
SELECT lives_ok($$ SELECT api.receivable_payment(pg_temp.id('r1'), jsonb_build_object('paid_on', risk.credit_today(), 'paid_amount', '200.00')) $$,
  'paid');
SELECT throws_ok($$ SELECT api.receivable_payment(pg_temp.id('r1'), jsonb_build_object('paid_on', risk.credit_today(), 'paid_amount', '200.00')) $$,
  'TXCON', 'the receivable was paid already', 'paid once');
SELECT pg_temp.be('staff.b1', 'staff');
SELECT throws_ok($$ SELECT api.receivable_create(pg_temp.id('k1'), '{"amount": "1.00", "due_on": "2030-01-01"}') $$,
  'P0002', 'no such contract', 'a contract whose customer''s credit the caller may not read: 404');

SELECT * FROM finish();
ROLLBACK;
