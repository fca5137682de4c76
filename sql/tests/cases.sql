-- Module P, part B (P1.1-P2.1): a case from the request to the start of work, as the runtime
-- role: the api.case_* functions (sql/code/cases/030_cases.sql) with every refusal, the guards of
-- the machine `case`, row-level security of the case, and that tianxing_app cannot write the
-- tables directly (the rules' triggers, sql/code/cases/035_intake_rules.sql, are proven as the
-- owner in tests/api/cases.test.mjs, which can write behind the functions' back).
-- Fixtures: sql/tests/fixtures.sql (employees); the business types: lib/cases_catalogue.psql
-- (through part A's API, in this file's transaction).
BEGIN;
SELECT plan(132);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

\ir lib/session.psql
\ir lib/cases_catalogue.psql
\ir lib/cases.psql
CREATE FUNCTION pg_temp.case_version(c uuid) RETURNS int LANGUAGE sql STABLE AS $$
  SELECT (api.case_json(c) ->> 'version')::int $$;
INSERT INTO ids VALUES
  ('cu.a1', '4c000000-0000-4000-8000-000000000001'), ('cu.b1', '4c000000-0000-4000-8000-000000000002');

-- Setup: a second supervisor of department A (approver != preparer needs two), customers -------
SELECT pg_temp.be('admin', 'admin');
INSERT INTO org.employees (username, display_name, department_id, roles)
VALUES ('sup.a2', 'Supervisor A2', '10000000-0000-4000-8000-00000000000a', '{staff,supervisor}');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok(format($$ SELECT api.customer_create(%L) $$, jsonb_build_object(
  'id', pg_temp.id('cu.a1'), 'name', '林志遠', 'company_name', '閩江貿易有限公司',
  'business_scope', '進出口貿易', 'tags', jsonb_build_array('貿易'), 'source', '轉介',
  'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', '\x01' || repeat('ab', 59)))),
  'setup: staff.a1 creates a customer');
SELECT pg_temp.be('staff.b1', 'staff');
SELECT lives_ok(format($$ SELECT api.customer_create(%L) $$, jsonb_build_object(
  'id', pg_temp.id('cu.b1'), 'name', '陳美玲',
  'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', '\x01' || repeat('cd', 59)))),
  'setup: staff.b1 creates a customer');

-- Guards exist as the machine names them, with a comment for the client --------------------
SELECT ok(obj_description('cases.intake_complete(uuid)'::regprocedure, 'pg_proc') IS NOT NULL, 'intake_complete is commented');
SELECT ok(obj_description('cases.approver_independent(uuid)'::regprocedure, 'pg_proc') IS NOT NULL, 'approver_independent is commented');
SELECT ok(obj_description('cases.has_assignment(uuid)'::regprocedure, 'pg_proc') IS NOT NULL, 'has_assignment is commented');

-- P1.1 the request --------------------------------------------------------------------------------
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok(format($$ SELECT api.case_create(%L) $$, pg_temp.req(pg_temp.id('cu.a1'))), '42501', NULL,
  'hr does not receive requests');
SELECT pg_temp.be('staff.x', 'staff');
SELECT is(pg_temp.err(format($$ SELECT api.case_create(%L) $$, pg_temp.req(pg_temp.id('cu.a1')))) ->> 'state', 'TXDEN',
  'staff without a department cannot receive a request (403)');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok(format($$ SELECT api.case_create(%L) $$, pg_temp.req(pg_temp.id('cu.b1'))), 'TXVAL',
  'customer_id: no such customer', 'a customer the caller may not see is no such customer');
SELECT throws_ok(format($$ SELECT api.case_create(%L) $$, pg_temp.req('4c000000-0000-4000-8000-0000000000ff')), 'TXVAL',
  'customer_id: no such customer', 'an unknown customer');
SELECT throws_ok(format($$ SELECT api.case_create(%L) $$, pg_temp.req(pg_temp.id('cu.a1')) || '{"channel": "fax"}'), 'TXVAL',
  NULL, 'an unknown channel');
SELECT throws_ok(format($$ SELECT api.case_create(%L) $$, pg_temp.req(pg_temp.id('cu.a1')) - 'need'), 'TXVAL',
  'need: is required', 'the need is required (P1.1: recorded in detail)');
SELECT throws_ok(format($$ SELECT api.case_create(%L) $$, pg_temp.req(pg_temp.id('cu.a1')) || jsonb_build_object('raised_at', api.ts(now() + interval '1 day'))),
  'TXVAL', 'raised_at: must not be in the future', 'raised_at in the future');
SELECT throws_ok(format($$ SELECT api.case_create(%L) $$, pg_temp.req(pg_temp.id('cu.a1')) || '{"raised_at": "yesterday"}'),
  'TXVAL', NULL, 'raised_at must be a timestamp');
SELECT throws_ok(format($$ SELECT api.case_create(%L) $$, pg_temp.req(pg_temp.id('cu.a1')) || '{"received_by": "20000000-0000-4000-8000-000000000008"}'),
  'TXVAL', 'received_by: unknown field', 'the receiver is the caller, not a field');
SELECT is_empty('SELECT 1 FROM cases.cases', 'no refused request left a case');

INSERT INTO ids SELECT 'c1', (api.case_create(pg_temp.req(pg_temp.id('cu.a1'))) ->> 'id')::uuid;
SELECT results_eq($$ SELECT status, received_by, department_id, customer_id, channel, version FROM cases.cases WHERE id = pg_temp.id('c1') $$,
  $$ VALUES ('received'::text, pg_temp.emp('staff.a1'), '10000000-0000-4000-8000-00000000000a'::uuid, pg_temp.id('cu.a1'), 'phone'::text, 1) $$,
  'received by the caller, in the caller''s department, as received');
SELECT is((api.case_json(pg_temp.id('c1')) -> 'allowed_actions')::jsonb, '["assess_in_scope", "assess_out_of_scope", "cancel"]'::jsonb,
  'allowed_actions from received for staff');

-- The runtime role cannot write the tables itself ----------------------------------------------
SELECT throws_ok($$ INSERT INTO cases.cases (customer_id, department_id, raised_at, received_by, channel, need)
                    VALUES ('4c000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-00000000000a', now(),
                            '20000000-0000-4000-8000-000000000007', 'phone', 'x') $$, '42501', NULL,
  'tianxing_app cannot INSERT a case directly (no grant)');
SELECT throws_ok($$ UPDATE cases.cases SET need = 'x' $$, '42501', NULL, 'tianxing_app cannot UPDATE a case directly');
SELECT throws_ok($$ DELETE FROM cases.cases $$, '42501', NULL, 'tianxing_app cannot DELETE a case');
SELECT throws_ok(format($$ INSERT INTO cases.approvals (case_id, decision, decided_by) VALUES (%L, 'approve', %L) $$,
                        pg_temp.id('c1'), pg_temp.emp('sup.a')), '42501', NULL, 'tianxing_app cannot INSERT an approval');
SELECT throws_ok(format($$ INSERT INTO cases.assignments (case_id, employee_id, role, starts_on, assigned_by) VALUES (%L, %L, 'lead', current_date, %L) $$,
                        pg_temp.id('c1'), pg_temp.emp('staff.a1'), pg_temp.emp('sup.a')), '42501', NULL, 'tianxing_app cannot INSERT an assignment');
SELECT throws_ok(format($$ SELECT fsm.move('case', %L, 'assess_out_of_scope', 'x') $$, pg_temp.id('c1')), '42501', NULL,
  'tianxing_app cannot move a case itself (fsm.move runs as the caller)');

-- Who sees the case -------------------------------------------------------------------------------
SELECT pg_temp.be('staff.a2', 'staff');
SELECT is(api.case_json(pg_temp.id('c1'))::jsonb, NULL, 'staff.a2 (same department, not involved) does not see it');
SELECT throws_ok(format($$ SELECT api.case_assess(%L, '{"in_scope": false, "reason": "x"}') $$, pg_temp.id('c1')), 'P0002', 'no such case',
  'staff.a2 cannot assess it (404)');
SELECT pg_temp.be('sup.b', 'supervisor');
SELECT is(api.case_json(pg_temp.id('c1'))::jsonb, NULL, 'the supervisor of another department does not see it');
SELECT pg_temp.be('hr', 'hr');
SELECT is_empty('SELECT 1 FROM cases.cases', 'hr reads no case rows');
SELECT pg_temp.be('auditor', 'auditor');
SELECT isnt(api.case_json(pg_temp.id('c1'))::jsonb, NULL, 'the auditor sees it');
SELECT throws_ok(format($$ SELECT api.case_assess(%L, '{"in_scope": false, "reason": "x"}') $$, pg_temp.id('c1')), '42501', NULL,
  'the auditor cannot act on it');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT isnt(api.case_json(pg_temp.id('c1'))::jsonb, NULL, 'the supervisor of its department sees it');

-- P1.2 scope assessment ----------------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok(format($$ SELECT api.case_assess(%L, %L) $$, pg_temp.id('c1'), jsonb_build_object('in_scope', true, 'business_type_id', pg_temp.id('outside'))),
  'TXVAL', NULL, 'a business type out of the company''s scope is refused');
SELECT throws_ok(format($$ SELECT api.case_assess(%L, %L) $$, pg_temp.id('c1'), jsonb_build_object('in_scope', true, 'business_type_id', pg_temp.id('retired'))),
  'TXVAL', NULL, 'an inactive business type is refused');
SELECT throws_ok(format($$ SELECT api.case_assess(%L, %L) $$, pg_temp.id('c1'), '{"in_scope": true}'),
  'TXVAL', 'business_type_id: is required', 'in scope needs a business type');
SELECT throws_ok(format($$ SELECT api.case_assess(%L, %L) $$, pg_temp.id('c1'), '{"in_scope": "yes"}'),
  'TXVAL', 'in_scope: must be true or false', 'in_scope is a boolean');
SELECT throws_ok(format($$ SELECT api.case_assess(%L, %L) $$, pg_temp.id('c1'), '{"in_scope": false}'),
  'TXVAL', 'reason: is required', 'out of scope needs a reason');
SELECT is((SELECT status FROM cases.cases WHERE id = pg_temp.id('c1')), 'received', 'refused assessments changed nothing');
SELECT is(api.case_assess(pg_temp.id('c1'), jsonb_build_object('in_scope', true, 'business_type_id', pg_temp.id('audit'))) ->> 'status', 'intake',
  'in scope: the case goes to intake');
SELECT results_eq($$ SELECT in_scope, business_type_id, type_version_id, scope_by FROM cases.cases WHERE id = pg_temp.id('c1') $$,
  $$ VALUES (true, pg_temp.id('audit'), pg_temp.id('audit.v2'), pg_temp.emp('staff.a1')) $$,
  'the type''s current version (2) is fixed on the case');
SELECT throws_ok(format($$ SELECT api.case_assess(%L, '{"in_scope": false, "reason": "x"}') $$, pg_temp.id('c1')), 'TXTRN', NULL,
  'a case is assessed once');

-- P1.3 the intake form ----------------------------------------------------------------------------
SELECT throws_ok(format($$ SELECT api.case_submit(%L) $$, pg_temp.id('c1')), 'TXTRN', NULL,
  'submit before the intake form: the guard intake_complete refuses');
SELECT is(pg_temp.err(format($$ SELECT api.case_submit(%L) $$, pg_temp.id('c1'))) -> 'detail' ->> 'guard', 'cases.intake_complete',
  'the refusal names the guard');
SELECT throws_ok(format($$ SELECT api.case_intake(%L, NULL, '{"requirements": "x"}') $$, pg_temp.id('c1')), 'TXVAL',
  'version: the expected version (If-Match) is required', 'the intake form needs If-Match');
SELECT throws_ok(format($$ SELECT api.case_intake(%L, 99, '{"requirements": "x"}') $$, pg_temp.id('c1')), 'TXPRE', NULL,
  'a stale version is refused');
SELECT throws_ok(format($$ SELECT api.case_intake(%L, %s, '{"expected_on": "2030-01-01"}') $$, pg_temp.id('c1'), pg_temp.case_version(pg_temp.id('c1'))),
  'TXVAL', 'requirements: is required', 'requirements are required');
SELECT throws_ok(format($$ SELECT api.case_intake(%L, %s, '{"requirements": "x", "expected_on": "2000-01-01"}') $$, pg_temp.id('c1'), pg_temp.case_version(pg_temp.id('c1'))),
  'TXVAL', 'expected_on: must not be in the past', 'expected_on not in the past');
SELECT throws_ok(format($$ SELECT api.case_intake(%L, %s, %L) $$, pg_temp.id('c1'), pg_temp.case_version(pg_temp.id('c1')),
                        jsonb_build_object('requirements', 'x', 'business_type_id', pg_temp.id('outside'))),
  'TXVAL', NULL, 'the form''s business type is in scope too');
SELECT is((SELECT prepared_by FROM cases.cases WHERE id = pg_temp.id('c1')), NULL, 'refused forms wrote nothing');
SELECT is(api.case_intake(pg_temp.id('c1'), pg_temp.case_version(pg_temp.id('c1')),
                          '{"requirements": "2025 年度財務報表審計,出具審計報告。", "expected_on": "2030-03-31"}') -> 'intake' ->> 'prepared_by',
  pg_temp.emp('staff.a1')::text, 'the intake form is prepared by the caller');
SELECT results_eq($$ SELECT customer_snapshot - 'taken_at' FROM cases.cases WHERE id = pg_temp.id('c1') $$,
  $$ SELECT jsonb_build_object('id', pg_temp.id('cu.a1'), 'name', '林志遠', 'company_name', '閩江貿易有限公司',
                               'business_scope', '進出口貿易', 'status', 'prospect', 'tags', jsonb_build_array('貿易'),
                               'source', '轉介') $$,
  'the customer snapshot holds the non-PII fields only');
SELECT is((SELECT type_version_id FROM cases.cases WHERE id = pg_temp.id('c1')), pg_temp.id('audit.v2'), 'the case keeps its type version');

-- P1.4 submit, decide ----------------------------------------------------------------------------
SELECT is(api.case_submit(pg_temp.id('c1')) ->> 'status', 'submitted', 'the form is submitted');
SELECT throws_ok(format($$ SELECT api.case_intake(%L, %s, '{"requirements": "y"}') $$, pg_temp.id('c1'), pg_temp.case_version(pg_temp.id('c1'))),
  'TXTRN', NULL, 'a submitted form cannot be edited');
SELECT throws_ok(format($$ SELECT api.case_decide(%L, 'approve', '{}') $$, pg_temp.id('c1')), '42501', NULL,
  'staff cannot approve');
SELECT pg_temp.be('sup.b', 'supervisor');
SELECT throws_ok(format($$ SELECT api.case_decide(%L, 'approve', '{}') $$, pg_temp.id('c1')), 'P0002', NULL,
  'the supervisor of another department cannot see it to approve');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT throws_ok(format($$ SELECT api.case_decide(%L, 'return', '{}') $$, pg_temp.id('c1')), 'TXVAL', 'reason: is required',
  'a return needs a reason');
SELECT throws_ok(format($$ SELECT api.case_assign(%L, %L) $$, pg_temp.id('c1'), jsonb_build_object('lead', pg_temp.emp('staff.a2'))),
  'TXTRN', NULL, 'nothing is assigned before approval');
SELECT is_empty($$ SELECT 1 FROM cases.approvals $$, 'refusals recorded no decision');
SELECT is(api.case_decide(pg_temp.id('c1'), 'return', '{"reason": "請補充報告用途"}') ->> 'status', 'returned', 'the supervisor returns it');
-- returned: the supervisor completes the form himself and submits it
SELECT is(api.case_intake(pg_temp.id('c1'), pg_temp.case_version(pg_temp.id('c1')),
                          '{"requirements": "2025 年度財務報表審計,用於銀行貸款。"}') -> 'intake' ->> 'prepared_by',
  pg_temp.emp('sup.a')::text, 'a returned form is edited; the editor becomes its preparer');
SELECT is(api.case_submit(pg_temp.id('c1')) ->> 'status', 'submitted', 'and submitted again');
SELECT throws_ok(format($$ SELECT api.case_decide(%L, 'approve', '{}') $$, pg_temp.id('c1')), 'TXDEN', NULL,
  'the preparer cannot approve (approver != preparer)');
SELECT is(cases.approver_independent(pg_temp.id('c1')), false, 'approver_independent is false for the preparer');
SELECT pg_temp.be('sup.a2', 'staff,supervisor');
SELECT is(cases.approver_independent(pg_temp.id('c1')), true, 'approver_independent is true for the other supervisor');
SELECT is(api.case_decide(pg_temp.id('c1'), 'approve', '{"comment": "同意"}') ->> 'status', 'approved', 'the other supervisor approves');
SELECT results_eq($$ SELECT decision, comment, decided_by FROM cases.approvals WHERE case_id = pg_temp.id('c1') ORDER BY decision DESC $$,
  $$ VALUES ('return'::text, '請補充報告用途'::text, pg_temp.emp('sup.a')), ('approve', '同意', pg_temp.emp('sup.a2')) $$,
  'each decision is a row of cases.approvals (one transaction here: same time, so by decision)');
SELECT is((SELECT approved_by FROM cases.cases WHERE id = pg_temp.id('c1')), pg_temp.emp('sup.a2'), 'approved_by is set');

-- P2.1 assignment -------------------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok(format($$ SELECT api.case_assign(%L, %L) $$, pg_temp.id('c1'), jsonb_build_object('lead', pg_temp.emp('staff.a2'))),
  '42501', NULL, 'staff cannot assign');
SELECT pg_temp.be('sup.a2', 'staff,supervisor');
SELECT throws_ok(format($$ SELECT api.case_assign(%L, %L) $$, pg_temp.id('c1'), jsonb_build_object('lead', pg_temp.emp('gone'))),
  'TXVAL', 'lead: must be an active employee with the role staff', 'an inactive lead is refused');
SELECT throws_ok(format($$ SELECT api.case_assign(%L, %L) $$, pg_temp.id('c1'), jsonb_build_object('lead', pg_temp.emp('staff.a2'), 'members', jsonb_build_array('20000000-0000-4000-8000-000000000002'))),
  'TXVAL', 'members[0]: must be an active employee with the role staff', 'a member without the role staff is refused');
SELECT throws_ok(format($$ SELECT api.case_assign(%L, %L) $$, pg_temp.id('c1'), jsonb_build_object('lead', pg_temp.emp('staff.a2'), 'members', jsonb_build_array(pg_temp.emp('staff.a2')))),
  'TXVAL', NULL, 'the lead is not also a member');
SELECT throws_ok(format($$ SELECT api.case_assign(%L, %L) $$, pg_temp.id('c1'), jsonb_build_object('lead', pg_temp.emp('staff.a2'), 'starts_on', '2030-01-10', 'ends_on', '2030-01-01')),
  'TXVAL', 'ends_on: must not be before starts_on', 'ends_on after starts_on');
SELECT is_empty($$ SELECT 1 FROM cases.assignments $$, 'refused assignments wrote nothing');
SELECT is(api.case_assign(pg_temp.id('c1'), jsonb_build_object('lead', pg_temp.emp('staff.a2'), 'members', jsonb_build_array(pg_temp.emp('staff.a1')))) ->> 'status',
  'in_progress', 'the assignment starts the work');
SELECT results_eq($$ SELECT employee_id, role, assigned_by FROM cases.assignments WHERE case_id = pg_temp.id('c1') AND ended_at IS NULL ORDER BY role $$,
  $$ VALUES (pg_temp.emp('staff.a2'), 'lead'::text, pg_temp.emp('sup.a2')), (pg_temp.emp('staff.a1'), 'member', pg_temp.emp('sup.a2')) $$,
  'a lead and a member');
SELECT isnt((SELECT started_at FROM cases.cases WHERE id = pg_temp.id('c1')), NULL, 'started_at is set');
SELECT is(cases.has_assignment(pg_temp.id('c1')), true, 'has_assignment');
CREATE TEMP TABLE reassigned AS SELECT api.case_assign(pg_temp.id('c1'), jsonb_build_object('lead', pg_temp.emp('staff.a1'))) AS j;
SELECT is((SELECT j -> 'assignments' FROM reassigned)::jsonb,
  (SELECT jsonb_agg(x) FROM (SELECT a.id, a.employee_id, a.role, a.starts_on, a.ends_on, a.assigned_by, api.ts(a.assigned_at) AS assigned_at
                               FROM cases.assignments a WHERE a.case_id = pg_temp.id('c1') AND a.ended_at IS NULL) x),
  're-assignment in progress: the current arrangement is the new one');
SELECT is((SELECT count(*)::int FROM cases.assignments WHERE case_id = pg_temp.id('c1') AND ended_at IS NOT NULL), 2,
  'the earlier rows ended, kept');
SELECT pg_temp.be('staff.a2', 'staff');
SELECT isnt(api.case_json(pg_temp.id('c1'))::jsonb, NULL, 'a former assignee still sees the case');

-- Out of scope, reject --------------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
INSERT INTO ids SELECT 'c2', (api.case_create(pg_temp.req(pg_temp.id('cu.a1'), '想買一台影印機')) ->> 'id')::uuid;
SELECT is(api.case_assess(pg_temp.id('c2'), '{"in_scope": false, "reason": "本公司不銷售設備"}') ->> 'status', 'out_of_scope',
  'out of scope: terminal');
SELECT results_eq($$ SELECT in_scope, scope_reason, closed_reason, business_type_id FROM cases.cases WHERE id = pg_temp.id('c2') $$,
  $$ VALUES (false, '本公司不銷售設備'::text, '本公司不銷售設備'::text, NULL::uuid) $$, 'with its reason');
SELECT is((api.case_json(pg_temp.id('c2')) -> 'allowed_actions')::jsonb, '[]'::jsonb, 'nothing is allowed any more');
INSERT INTO ids SELECT 'c3', (api.case_create(pg_temp.req(pg_temp.id('cu.a1'), '稅務申報')) ->> 'id')::uuid;
SELECT lives_ok(format($$ SELECT api.case_assess(%L, %L) $$, pg_temp.id('c3'), jsonb_build_object('in_scope', true, 'business_type_id', pg_temp.id('tax'))), 'c3 in scope');
SELECT lives_ok(format($$ SELECT api.case_intake(%L, %s, %L) $$, pg_temp.id('c3'), pg_temp.case_version(pg_temp.id('c3')),
                       jsonb_build_object('requirements', '季度申報', 'business_type_id', pg_temp.id('audit'))), 'c3 intake with another type');
SELECT is((SELECT type_version_id FROM cases.cases WHERE id = pg_temp.id('c3')), pg_temp.id('audit.v2'), 'another type takes its current version');
SELECT lives_ok(format($$ SELECT api.case_submit(%L) $$, pg_temp.id('c3')), 'c3 submitted');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT is(api.case_decide(pg_temp.id('c3'), 'reject', '{"reason": "客戶資料不足"}') ->> 'status', 'rejected', 'rejected: terminal');
SELECT is((SELECT closed_reason FROM cases.cases WHERE id = pg_temp.id('c3')), '客戶資料不足', 'with its reason');

-- Lists, history --------------------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((SELECT array_agg(x ->> 'id' ORDER BY x ->> 'id') FROM json_array_elements(api.case_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL) -> 'items') x),
  (SELECT array_agg(x ORDER BY x) FROM unnest(ARRAY[pg_temp.id('c1')::text, pg_temp.id('c2')::text, pg_temp.id('c3')::text]) x), 'staff.a1 lists the cases received');
-- an item is a summary, not the case document (GET /v1/cases/{id})
SELECT is((SELECT array_agg(k ORDER BY k) FROM json_array_elements(api.case_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL) -> 'items') x,
                                              json_object_keys(x) k WHERE x ->> 'id' = pg_temp.id('c1')::text),
  ARRAY['assignee_ids', 'business_type', 'customer_id', 'customer_name', 'department_id', 'expected_on', 'id',
        'next_due_at', 'received_at', 'status', 'updated_at', 'version'], 'a list item holds the summary fields only');
SELECT is((SELECT jsonb_build_object('status', x ->> 'status', 'name', x ->> 'customer_name', 'type', x -> 'business_type' ->> 'code',
                                     'assignees', x -> 'assignee_ids', 'version', (x ->> 'version')::int)
             FROM json_array_elements(api.case_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL) -> 'items') x
            WHERE x ->> 'id' = pg_temp.id('c1')::text),
          (SELECT jsonb_build_object('status', c.status, 'name', c.customer_snapshot ->> 'name', 'type', t.code,
                                     'assignees', (SELECT jsonb_agg(a.employee_id ORDER BY a.employee_id) FROM cases.assignments a
                                                    WHERE a.case_id = c.id AND a.ended_at IS NULL),
                                     'version', c.version)
             FROM cases.cases c JOIN cases.business_types t ON t.id = c.business_type_id WHERE c.id = pg_temp.id('c1')),
  'the summary of c1: status, the intake snapshot''s name, type, current assignees, version');
SELECT is(json_array_length(api.case_list('rejected', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL) -> 'items'), 1, 'filter by status');
SELECT is(json_array_length(api.case_list(NULL, NULL, NULL, pg_temp.emp('staff.a1'), NULL, NULL, NULL, NULL, NULL) -> 'items'), 1, 'filter by assignee');
SELECT is(json_array_length(api.case_list(NULL, NULL, pg_temp.id('tax'), NULL, NULL, NULL, NULL, NULL, NULL) -> 'items'), 0, 'filter by business type');
SELECT is(json_array_length(api.case_list(NULL, NULL, NULL, NULL, NULL, now() + interval '1 hour', NULL, NULL, NULL) -> 'items'), 0, 'filter by reception time');
SELECT throws_ok($$ SELECT api.case_list('nonsense', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL) $$, 'TXVAL', 'status: is not a state of a case', 'an unknown status');
SELECT throws_ok($$ SELECT api.case_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'x') $$, 'TXVAL', 'cursor: is not a cursor of this list', 'a malformed cursor');
SELECT is((SELECT array_agg(x ->> 'id') FROM (
             SELECT json_array_elements(api.case_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, 2, NULL) -> 'items') x
             UNION ALL
             SELECT json_array_elements(api.case_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, 2,
                      api.case_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, 2, NULL) ->> 'next_cursor') -> 'items')) s),
  (SELECT array_agg(x ->> 'id') FROM json_array_elements(api.case_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL) -> 'items') x),
  'two pages of two make the whole list, in order');
SELECT is((SELECT array_agg(x ->> 'action' ORDER BY (x ->> 'id')::bigint) FROM json_array_elements(api.case_transitions(pg_temp.id('c1'), NULL, NULL) -> 'items') x),
  ARRAY['assess_in_scope', 'submit', 'return', 'submit', 'approve', 'start'], 'the history of c1');
SELECT pg_temp.be('staff.b1', 'staff');
SELECT throws_ok(format($$ SELECT api.case_transitions(%L, NULL, NULL) $$, pg_temp.id('c1')), 'P0002', NULL, 'history of an invisible case: 404');
SELECT is(json_array_length(api.case_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL) -> 'items'), 0, 'staff.b1 lists nothing');
SELECT is((SELECT row(p.*)::text FROM cases.case_list_parts(pg_temp.id('c1')) p), '(,,)',
  'the list''s owner lookup gives nothing of a case the caller may not see');

-- Cancel: the customer withdraws, from every open state before delivery --------------------------
SELECT pg_temp.be('staff.a1', 'staff');
INSERT INTO ids SELECT 'c4', (api.case_create(pg_temp.req(pg_temp.id('cu.a1'), '客戶撤回的需要')) ->> 'id')::uuid;
SELECT pg_temp.be('staff.b1', 'staff');
SELECT throws_ok(format($$ SELECT api.case_cancel(%L, '{"reason": "x"}') $$, pg_temp.id('c4')), 'P0002', NULL,
  'cancel a case one may not see: 404');
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok(format($$ SELECT api.case_cancel(%L, '{"reason": "x"}') $$, pg_temp.id('c4')), '42501', NULL,
  'hr does not cancel');
SELECT pg_temp.be('sup.b', 'supervisor');
SELECT is(pg_temp.err(format($$ SELECT api.case_cancel(%L, '{"reason": "x"}') $$, pg_temp.id('c4'))) ->> 'state', 'P0002',
  'a supervisor of another department does not see it');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok(format($$ SELECT api.case_cancel(%L, '{}') $$, pg_temp.id('c4')), 'TXVAL', 'reason: is required',
  'the reason is required');
SELECT throws_ok(format($$ SELECT api.case_cancel(%L, '{"reason": "x", "note": 1}') $$, pg_temp.id('c4')), 'TXVAL', NULL,
  'unknown members are refused');
SELECT is((SELECT status FROM cases.cases WHERE id = pg_temp.id('c4')), 'received', 'refusals changed nothing');
SELECT is(api.case_cancel(pg_temp.id('c4'), '{"reason": "客戶另找他家"}') ->> 'status', 'cancelled', 'the receiver cancels a received case');
SELECT results_eq($$ SELECT closed_reason, closed_at IS NOT NULL FROM cases.cases WHERE id = pg_temp.id('c4') $$,
  $$ VALUES ('客戶另找他家'::text, true) $$, 'closed with its reason and time');
SELECT throws_ok(format($$ SELECT api.case_cancel(%L, '{"reason": "x"}') $$, pg_temp.id('c4')), 'TXTRN', NULL,
  'a cancelled case cannot be cancelled again');
SELECT throws_ok(format($$ SELECT api.case_cancel(%L, '{"reason": "x"}') $$, pg_temp.id('c2')), 'TXTRN', NULL,
  'an out-of-scope case cannot be cancelled');
-- in progress: the current lead (staff.a1 since the re-assignment) cancels
SELECT is(api.case_cancel(pg_temp.id('c1'), '{"reason": "客戶撤回委託"}') ->> 'status', 'cancelled',
  'a case in progress is cancelled by its lead');
SELECT is((SELECT array_agg(x ->> 'action' ORDER BY (x ->> 'id')::bigint) FROM json_array_elements(api.case_transitions(pg_temp.id('c1'), NULL, NULL) -> 'items') x),
  ARRAY['assess_in_scope', 'submit', 'return', 'submit', 'approve', 'start', 'cancel'], 'the cancel is in the history');

-- HR: the facts, not the free text ------------------------------------------------------------
SELECT pg_temp.be('hr', 'hr');
SELECT is_empty($$ SELECT 1 FROM cases.cases $$, 'hr reads no row of cases.cases');
SELECT is_empty($$ SELECT 1 FROM cases.approvals $$, 'nor of cases.approvals');
CREATE TEMP TABLE facts AS SELECT api.case_facts(NULL, NULL, NULL, NULL, NULL, NULL, NULL)::jsonb AS j;
SELECT is((SELECT jsonb_array_length(j -> 'items') FROM facts), 4, 'hr reads the facts of every case');
SELECT is((SELECT array_agg(x ->> 'id' ORDER BY x ->> 'id') FROM facts, jsonb_array_elements(j -> 'items') x),
  (SELECT array_agg(x ORDER BY x) FROM unnest(ARRAY[pg_temp.id('c1')::text, pg_temp.id('c2')::text, pg_temp.id('c3')::text, pg_temp.id('c4')::text]) x),
  'the four cases');
SELECT ok((SELECT bool_and(NOT (x ?| ARRAY['need', 'requirements', 'closed_reason', 'scope_reason', 'customer_snapshot', 'approvals', 'request', 'intake']))
             FROM facts, jsonb_array_elements(j -> 'items') x), 'no free-text member');
SELECT ok((SELECT j::text NOT LIKE '%審計報告%' AND j::text NOT LIKE '%客戶撤回委託%' AND j::text NOT LIKE '%請補充報告用途%' FROM facts),
  'no need, reason or comment anywhere in the answer');
SELECT results_eq($$ SELECT x ->> 'status', x ->> 'business_type_code', (x ->> 'decisions')::int, (x ->> 'review_rounds')::int,
                            x ->> 'approved_by', x ->> 'prepared_by'
                       FROM facts, jsonb_array_elements(j -> 'items') x WHERE x ->> 'id' = pg_temp.id('c1')::text $$,
  $$ VALUES ('cancelled'::text, 'fx-audit'::text, 2, 0, pg_temp.emp('sup.a2')::text, pg_temp.emp('sup.a')::text) $$,
  'c1: state, type, decisions, review rounds, people');
SELECT is((SELECT jsonb_array_length(x -> 'assignees') FROM facts, jsonb_array_elements(j -> 'items') x WHERE x ->> 'id' = pg_temp.id('c1')::text),
  1, 'the current assignees');
SELECT is(json_array_length(api.case_facts(NULL, NULL, 'cancelled', NULL, NULL, NULL, NULL) -> 'items'), 2, 'filter by status');
SELECT is(json_array_length(api.case_facts(NULL, NULL, NULL, NULL, pg_temp.emp('sup.a2'), NULL, NULL) -> 'items'), 1, 'filter by employee');
SELECT is(json_array_length(api.case_facts(now() + interval '1 hour', NULL, NULL, NULL, NULL, NULL, NULL) -> 'items'), 0, 'filter by period');
SELECT is((SELECT array_agg(x ->> 'id') FROM (
             SELECT json_array_elements(api.case_facts(NULL, NULL, NULL, NULL, NULL, 3, NULL) -> 'items') x
             UNION ALL
             SELECT json_array_elements(api.case_facts(NULL, NULL, NULL, NULL, NULL, 3,
                      api.case_facts(NULL, NULL, NULL, NULL, NULL, 3, NULL) ->> 'next_cursor') -> 'items')) s),
  (SELECT array_agg(x ->> 'id') FROM facts, jsonb_array_elements(j -> 'items') x), 'two pages make the whole list, in order');
SELECT throws_ok($$ SELECT api.case_facts(now(), now() - interval '1 day', NULL, NULL, NULL, NULL, NULL) $$, 'TXVAL',
  'received_to: must be after received_from', 'an empty period is refused');
SELECT throws_ok($$ SELECT api.case_facts(NULL, NULL, NULL, NULL, NULL, NULL, 'x') $$, 'TXVAL', 'cursor: is not a cursor of this list', 'a malformed cursor');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ SELECT api.case_facts(NULL, NULL, NULL, NULL, NULL, NULL, NULL) $$, '42501', NULL, 'staff do not read the facts');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT throws_ok($$ SELECT api.case_facts(NULL, NULL, NULL, NULL, NULL, NULL, NULL) $$, '42501', NULL, 'nor do supervisors');
SELECT pg_temp.be('admin', 'admin');
SELECT is(json_array_length(api.case_facts(NULL, NULL, NULL, NULL, NULL, NULL, NULL) -> 'items'), 4, 'admin reads them');

SELECT * FROM finish();
ROLLBACK;
