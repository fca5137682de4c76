-- Module C meets module P (issue 11; sql/code/cases/095_customers.sql): a disposed or merged
-- customer gets no new case; a customer with an open case can be neither deactivated nor disposed
-- of; a merge moves the source's cases (and only a merge moves a case's customer); the customer's
-- history lists its cases. Run by tests/sql/run as tianxing_app.
-- The parts that need a case use part B's api.case_create once it is on main; until then this file
-- proves the definitions, the refusals that need no case, and that customers without cases are
-- deactivated, disposed of and merged as before.
BEGIN;
SELECT plan(62);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

\ir lib/session.psql
\ir lib/customers.psql
\ir lib/cases.psql
-- A complete customer n with one contact, owned by the caller.
CREATE FUNCTION pg_temp.case_customer_body(n int) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object(
    'id', pg_temp.c(n), 'name', '陳案' || n, 'company_name', '天星案件' || n || '有限公司',
    'business_scope', '報關代理', 'status', 'active',
    'address_enc', pg_temp.ct(40, 'caddr' || n),
    'credit_code_enc', pg_temp.ct(36, 'ccc' || n), 'credit_code_bidx', pg_temp.bi('ccc' || n),
    'verified', true,
    'contacts', jsonb_build_array(jsonb_build_object(
      'id', pg_temp.k(n), 'name', '林' || n, 'position', '經理',
      'phone_enc', pg_temp.ct(41, 'cph' || n), 'phone_bidx', pg_temp.bi('cph' || n),
      'email_enc', pg_temp.ct(50, 'cem' || n), 'email_bidx', pg_temp.bi('cem' || n))),
    'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', pg_temp.ct(60, 'cdek' || n))) $$;

-- What "open" means ---------------------------------------------------------------------------
SELECT is(ARRAY(SELECT s FROM (SELECT from_state AS s FROM fsm.transitions WHERE machine = 'case'
                               UNION SELECT to_state FROM fsm.transitions WHERE machine = 'case') x
                 WHERE NOT cases.is_open_status(s) ORDER BY s),
          ARRAY['archived', 'cancelled', 'out_of_scope', 'rejected'],
          'a case has ended when archived, cancelled, rejected or out of scope');
SELECT is(ARRAY(SELECT s FROM (SELECT from_state AS s FROM fsm.transitions WHERE machine = 'case'
                               UNION SELECT to_state FROM fsm.transitions WHERE machine = 'case') x
                 WHERE cases.is_open_status(s) ORDER BY s),
          ARRAY['approved', 'confirmed', 'delivered', 'in_progress', 'intake', 'passed', 'received',
                'rectifying', 'returned', 'submitted', 'under_review'],
          '... and open in every other state of the machine');

-- The rules are triggers, binding every writer -------------------------------------------------
SELECT trigger_is('cases', 'cases', 'customer_accepts_cases', 'cases', 'refuse_closed_customer',
  'a new case checks its customer (disposed or merged: refused)');
SELECT trigger_is('cust', 'customers', 'customers_open_cases', 'cases', 'refuse_closing_customer',
  'deactivating or disposing of a customer checks its open cases');
SELECT ok((SELECT tgtype & 2 = 2 AND tgtype & 4 = 4 FROM pg_trigger
            WHERE tgrelid = 'cases.cases'::regclass AND tgname = 'customer_accepts_cases'),
  'the case check runs BEFORE INSERT');
SELECT ok((SELECT tgtype & 2 = 2 AND tgtype & 16 = 16 FROM pg_trigger
            WHERE tgrelid = 'cust.customers'::regclass AND tgname = 'customers_open_cases'),
  'the customer check runs BEFORE UPDATE');
SELECT ok('customers_disposal' < 'customers_open_cases',
  'it fires after cust.customers_disposal, whose refusals come first');
SELECT ok((SELECT prosecdef FROM pg_proc WHERE oid = 'cases.refuse_closed_customer()'::regprocedure),
  'the case check reads the customer whoever inserts (SECURITY DEFINER)');
SELECT throws_ok(format($$ INSERT INTO cases.cases (customer_id, department_id, raised_at, received_by, channel, need)
                           VALUES (%L, '10000000-0000-4000-8000-000000000001', now(), %L, 'phone', 'x') $$,
                        pg_temp.c(1), pg_temp.emp('staff.a1')),
  '42501', NULL, 'the runtime role inserts no case itself (only part B''s api functions do)');

-- Customers without cases: deactivated, disposed of and merged as before ----------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.case_customer_body(1)) $$, 'customer 1');
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.case_customer_body(2)) $$, 'customer 2');
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.case_customer_body(3)) $$, 'customer 3');
SELECT is(cases.customer_open_cases(pg_temp.c(1)), '[]'::jsonb, 'customer 1 has no open case');
SELECT is(api.customer_history(pg_temp.c(1), NULL, NULL)::jsonb -> 'cases', '[]'::jsonb,
  'its history lists no case');
SELECT ok((api.customer_history(pg_temp.c(1), NULL, NULL)::jsonb ? 'cases')
          AND json_array_length(api.customer_history(pg_temp.c(1), NULL, NULL) -> 'items') > 0,
  'the history has its entries and the member cases');
SELECT is(api.customer_history(pg_temp.c(1), 1, NULL)::jsonb -> 'cases', '[]'::jsonb,
  'cases is on every page');
SELECT is(api.customer_deactivate(pg_temp.c(1)) ->> 'status', 'inactive',
  'a customer without cases is deactivated');
SELECT pg_temp.be('admin', 'admin');
SELECT is(api.customer_dispose(pg_temp.c(1)) ->> 'customer_id', pg_temp.c(1)::text,
  'and disposed of');

-- Only a merge moves a case's customer ----------------------------------------------------------
SELECT ok(NOT cases.customer_move_allowed(pg_temp.c(3), pg_temp.c(2)),
  'no move is allowed between customers that are not merged');
SELECT set_config('cases.customer_move', pg_temp.c(3)::text || '>' || pg_temp.c(2)::text, true);
SELECT ok(NOT cases.customer_move_allowed(pg_temp.c(3), pg_temp.c(2)),
  '... even when a session announces the move itself');
SELECT set_config('cases.customer_move', '', true);
SELECT throws_ok(format($$ SELECT cases.move_customer_cases(%L, %L) $$, pg_temp.c(3), pg_temp.c(2)),
  'TXCON', 'cases move to another customer only when their customer is merged into it',
  'the runtime role cannot move cases between customers that are not merged');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(api.customer_merge(pg_temp.c(2), pg_temp.c(3),
            jsonb_build_object('source_version', (SELECT version FROM cust.customers WHERE id = pg_temp.c(3)),
                               'target_version', (SELECT version FROM cust.customers WHERE id = pg_temp.c(2))))
          ->> 'id', pg_temp.c(2)::text,
  'customers without cases merge as before');
SELECT is((SELECT status FROM cust.customers WHERE id = pg_temp.c(3)), 'merged', 'customer 3 is merged into 2');
SELECT is(current_setting('cases.customer_move', true), '', 'the merge leaves no move announced behind it');
SELECT ok(NOT cases.customer_move_allowed(pg_temp.c(3), pg_temp.c(2)),
  'a merged pair without the announcement: no move');
SELECT set_config('cases.customer_move', pg_temp.c(3)::text || '>' || pg_temp.c(2)::text, true);
SELECT ok(cases.customer_move_allowed(pg_temp.c(3), pg_temp.c(2)),
  'the merged pair with the announcement: the one allowed move');
SELECT ok(NOT cases.customer_move_allowed(pg_temp.c(2), pg_temp.c(3)), '... in that direction only');
SELECT set_config('cases.customer_move', '', true);
SELECT is(cases.move_customer_cases(pg_temp.c(3), pg_temp.c(2)), 0,
  'moving the cases of a merged record again moves nothing (none left)');
SELECT is(api.customer_history(pg_temp.c(2), NULL, NULL)::jsonb -> 'cases', '[]'::jsonb,
  'the target''s history lists no case');

-- With cases (part B's api.case_create; a business type made through part A's API) ------------
SELECT pg_temp.be('admin', 'admin');
INSERT INTO ids SELECT 'type', (api.business_type_create(jsonb_build_object(
  'code', 'cc-tax', 'name', '稅務申報 CC', 'milestones', jsonb_build_array(jsonb_build_object(
    'code', 'declare', 'name', '申報', 'required', true, 'standard_days', 2)),
  'checklist', jsonb_build_array(jsonb_build_object('code', 'accuracy', 'name', '準確性'),
                                 jsonb_build_object('code', 'compliance', 'name', '合規性'),
                                 jsonb_build_object('code', 'completeness', 'name', '完整性')))) ->> 'id')::uuid;
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.case_customer_body(4)) $$, 'customer 4');
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.case_customer_body(5)) $$, 'customer 5');
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.case_customer_body(6)) $$, 'customer 6');
INSERT INTO ids SELECT 'k4', (api.case_create(pg_temp.req(pg_temp.c(4))) ->> 'id')::uuid;
SELECT is(cases.customer_open_cases(pg_temp.c(4)),
          jsonb_build_array(jsonb_build_object('id', pg_temp.id('k4'), 'status', 'received')),
          'a received case is open');
SELECT is(pg_temp.err(format($$ SELECT api.customer_deactivate(%L) $$, pg_temp.c(4))) - 'column',
          jsonb_build_object('state', 'TXCON',
            'message', 'the customer has 1 open case(s): it cannot be deactivated until they end (archived, cancelled, rejected or out of scope)',
            'detail', jsonb_build_object('open_cases', jsonb_build_array(
                        jsonb_build_object('id', pg_temp.id('k4'), 'status', 'received')))),
          'deactivation refused while a case is open, naming it');
SELECT throws_ok(format($$ SELECT api.customer_update(%L, (SELECT version FROM cust.customers WHERE id = %L), '{"status": "inactive"}') $$,
                        pg_temp.c(4), pg_temp.c(4)),
  'TXCON', NULL, 'and by an update of the status alike');
SELECT is((SELECT status FROM cust.customers WHERE id = pg_temp.c(4)), 'active', 'the customer stays active');

-- The case is assessed and its form filled in: the snapshot is taken. Then customer 4 is merged
-- into 5: the case follows, its snapshot unchanged.
SELECT lives_ok(format($$ SELECT api.case_assess(%L, jsonb_build_object('in_scope', true, 'business_type_id', %L::uuid)) $$,
                       pg_temp.id('k4'), pg_temp.id('type')), 'the case is assessed in scope');
SELECT lives_ok(format($$ SELECT api.case_intake(%L, (SELECT version FROM cases.cases WHERE id = %L), '{"requirements": "2025 年度企業所得稅匯算清繳"}') $$,
                       pg_temp.id('k4'), pg_temp.id('k4')), 'its intake form is filled in');
CREATE TEMP TABLE before_merge AS SELECT customer_snapshot, version FROM cases.cases WHERE id = pg_temp.id('k4');
SELECT ok((SELECT customer_snapshot IS NOT NULL FROM before_merge), 'the form took a snapshot of customer 4');
SELECT is((api.customer_merge(pg_temp.c(5), pg_temp.c(4),
            jsonb_build_object('source_version', (SELECT version FROM cust.customers WHERE id = pg_temp.c(4)),
                               'target_version', (SELECT version FROM cust.customers WHERE id = pg_temp.c(5))))
           ->> 'id')::uuid, pg_temp.c(5), 'customer 4 (with an open case) is merged into 5');
SELECT results_eq(format($$ SELECT customer_id, customer_snapshot, version FROM cases.cases WHERE id = %L $$, pg_temp.id('k4')),
                  format($$ SELECT %L::uuid, customer_snapshot, version + 1 FROM before_merge $$, pg_temp.c(5)),
                  'the case moved to customer 5, its snapshot as it was, its version one up');
SELECT is((SELECT data FROM cases.events WHERE case_id = pg_temp.id('k4') AND type = 'customer.merged'),
          jsonb_build_object('from', pg_temp.c(4), 'to', pg_temp.c(5)), 'the move is an event of the case');
SELECT is(api.customer_history(pg_temp.c(5), NULL, NULL)::jsonb -> 'cases',
          jsonb_build_array(jsonb_build_object('id', pg_temp.id('k4'), 'customer_id', pg_temp.c(5), 'status', 'intake',
            'business_type', jsonb_build_object('id', pg_temp.id('type'), 'code', 'cc-tax', 'name', '稅務申報 CC'),
            'received_at', (SELECT api.ts(received_at) FROM cases.cases WHERE id = pg_temp.id('k4')))),
          'the target''s history lists the case with its type');
SELECT is(api.customer_history(pg_temp.c(4), NULL, NULL)::jsonb -> 'cases', '[]'::jsonb,
  'the merged record''s history lists none (it has none left)');
SELECT is(pg_temp.err(format($$ SELECT api.case_create(pg_temp.req(%L)) $$, pg_temp.c(4))) ->> 'state', 'TXCON',
  'no new case for the merged record');
SELECT throws_ok(format($$ SELECT api.customer_deactivate(%L) $$, pg_temp.c(5)), 'TXCON', NULL,
  'the target now has the open case: no deactivation');
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT is(json_array_length(api.customer_history(pg_temp.c(5), NULL, NULL) -> 'cases'), 1,
  'the department''s supervisor sees the case in the history');
SELECT pg_temp.be('auditor', 'auditor');
SELECT is(json_array_length(api.customer_history(pg_temp.c(5), NULL, NULL) -> 'cases'), 1, 'so does an auditor');

-- Disposal: an inactive customer with a new case (a returning customer) is not disposed of; once
-- the case has ended, it is; then no new case.
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(api.customer_deactivate(pg_temp.c(6)) ->> 'status', 'inactive', 'customer 6 is deactivated (no case)');
INSERT INTO ids SELECT 'k6', (api.case_create(pg_temp.req(pg_temp.c(6))) ->> 'id')::uuid;
SELECT pg_temp.be('admin', 'admin');
SELECT is(pg_temp.err(format($$ SELECT api.customer_dispose(%L) $$, pg_temp.c(6))) -> 'detail',
          jsonb_build_object('open_cases', jsonb_build_array(jsonb_build_object('id', pg_temp.id('k6'), 'status', 'received'))),
          'disposal refused while a case is open, naming it');
SELECT is((SELECT count(*)::int FROM cust.data_keys WHERE customer_id = pg_temp.c(6)), 1, 'nothing destroyed');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(api.case_assess(pg_temp.id('k6'), '{"in_scope": false, "reason": "不屬於經營範圍"}') ->> 'status', 'out_of_scope',
  'the case ends (out of scope)');
SELECT is(cases.customer_open_cases(pg_temp.c(6)), '[]'::jsonb, 'an out-of-scope case is not open');
SELECT pg_temp.be('admin', 'admin');
SELECT is(api.customer_dispose(pg_temp.c(6)) ->> 'customer_id', pg_temp.c(6)::text, 'now customer 6 is disposed of');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(pg_temp.err(format($$ SELECT api.case_create(pg_temp.req(%L)) $$, pg_temp.c(6))) ->> 'state', 'TXCON',
  'no new case for a disposed customer');

-- The history's cases are never cut silently: 100 of them, and `more` when there are others.
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.case_customer_body(7)) $$, 'customer 7');
SELECT is((cases.customer_cases_json(pg_temp.c(7))::jsonb), '{"items": [], "more": false}'::jsonb, 'no case: none, no more');
SELECT lives_ok($$ SELECT api.case_create(pg_temp.req(pg_temp.c(7))) FROM generate_series(1, 100) $$, '100 cases');
SELECT results_eq($$ SELECT jsonb_array_length(j -> 'items'), j -> 'more' FROM (SELECT cases.customer_cases_json(pg_temp.c(7))::jsonb j) x $$,
  $$ VALUES (100, 'false'::jsonb) $$, '100 cases: all of them, no more');
SELECT lives_ok($$ SELECT api.case_create(pg_temp.req(pg_temp.c(7))) $$, 'the 101st case');
SELECT results_eq($$ SELECT jsonb_array_length(j -> 'items'), j -> 'more' FROM (SELECT cases.customer_cases_json(pg_temp.c(7))::jsonb j) x $$,
  $$ VALUES (100, 'true'::jsonb) $$, '101 cases: the first 100 and more: true');

SELECT * FROM finish();
ROLLBACK;
