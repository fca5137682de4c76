-- Module P, part C: the work on a case (sql/code/cases/040_work.sql, migration 0019): work records
-- (P2.2, P2.4: only a current assignee, only in_progress or rectifying, append-only, corrections
-- as new records naming the record in force), escalations (P2.3: to the raiser's supervisor, else
-- a supervisor of the department; answered once by the addressee), submission for review (P3.1:
-- the guard cases.required_milestones_recorded names what is missing; round n opened). Run by
-- tests/sql/run as tianxing_app; the case is brought to in_progress through the api functions of
-- parts A and B. The owner role's side of the rules (append-only, the triggers' refusals for
-- every writer) is proven in tests/api/case_work.test.mjs, which can write as the owner.
BEGIN;
SELECT no_plan();

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');
\ir lib/session.psql
INSERT INTO ids VALUES ('cu', '4c000000-0000-4000-8000-0000000000c1');

-- Setup ----------------------------------------------------------------------------------------
-- The operating standard (P2.2) through the catalogue's function (part A): collect and draft are
-- required key milestones, extra is not.
SELECT pg_temp.be('admin', 'admin');
INSERT INTO ids SELECT 'type', (api.business_type_create('{
  "code": "cw-audit", "name": "審計 (work)",
  "milestones": [{"code": "collect", "name": "收集資料", "required": true, "standard_days": 2},
                 {"code": "draft", "name": "報表初稿", "required": true, "standard_days": 3},
                 {"code": "extra", "name": "附加說明", "required": false, "standard_days": 1}],
  "checklist": [{"code": "accuracy", "name": "準確性"}, {"code": "compliance", "name": "合規性"},
                {"code": "completeness", "name": "完整性"}]}')::jsonb ->> 'id')::uuid;
-- A second supervisor of department A approves (approver != preparer; the fixtures have one).
WITH e AS (INSERT INTO org.employees (username, display_name, department_id, roles)
           VALUES ('sup.a2', 'Supervisor A2', '10000000-0000-4000-8000-00000000000a', '{staff,supervisor}')
           RETURNING id)
INSERT INTO ids SELECT 'sup.a2', id FROM e;
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok(format($$ SELECT api.customer_create(%L) $$, jsonb_build_object(
  'id', pg_temp.id('cu'), 'name', '林志遠',
  'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', '\x01' || repeat('ab', 59)))),
  'setup: staff.a1 creates a customer');
-- The case through part B's functions: request, scope, intake form, submission, approval.
INSERT INTO ids SELECT 'case', (api.case_create(jsonb_build_object(
  'customer_id', pg_temp.id('cu'), 'raised_at', api.ts(now() - interval '1 hour'),
  'channel', 'visit', 'need', '年度審計'))::jsonb ->> 'id')::uuid;
SELECT lives_ok($$ SELECT api.case_assess(pg_temp.id('case'), jsonb_build_object('in_scope', true, 'business_type_id', pg_temp.id('type'))) $$,
  'setup: in scope');
SELECT lives_ok($$ SELECT api.case_intake(pg_temp.id('case'), (api.case_json(pg_temp.id('case')) ->> 'version')::int,
                                          '{"requirements": "審計三個月流水"}') $$, 'setup: intake form');
SELECT lives_ok($$ SELECT api.case_submit(pg_temp.id('case')) $$, 'setup: submitted');
SELECT pg_temp.be('sup.a2', 'staff,supervisor');
SELECT lives_ok($$ SELECT api.case_decide(pg_temp.id('case'), 'approve', '{}') $$, 'setup: approved by sup.a2');

-- Approved, not yet assigned: nobody records (P1.4: nothing before approval and assignment) -----
-- (the trigger's state rule is proven below, once there are assignees)
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ SELECT api.case_work_record_add(pg_temp.id('case'), '{"milestone_code": "collect", "content": "c", "result": "r", "started_at": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T01:00:00Z", "hours": 1}') $$,
  '42501', 'only a current assignee of the case records its work (P2.4)', 'approved, not assigned: nobody records');
SELECT throws_ok($$ SELECT api.case_submit_review(pg_temp.id('case'), '{}') $$, '42501', NULL, 'approved: nobody submits it for review');
SELECT throws_ok($$ SELECT api.case_escalation_raise(pg_temp.id('case'), '{"problem": "p"}') $$, '42501', NULL, 'approved: nobody assigned escalates');
SELECT throws_ok($$ INSERT INTO cases.work_records (case_id, milestone_id, content, result, started_at, finished_at, hours, author_id)
   SELECT pg_temp.id('case'), m.id, 'c', 'r', now(), now(), 1, pg_temp.emp('staff.a1') FROM cases.milestones m LIMIT 1 $$,
  '42501', NULL, 'the runtime role cannot insert records directly');
SELECT throws_ok($$ INSERT INTO cases.escalations (case_id, problem, raised_by, addressed_to, due_at)
   VALUES (pg_temp.id('case'), 'p', pg_temp.emp('staff.a1'), pg_temp.emp('sup.a'), now() + interval '1 day') $$,
  '42501', NULL, 'nor escalations');

-- P2.1: the assignment starts the work (part B): staff.a1 lead, staff.a2 member --------------------
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT is(api.case_assign(pg_temp.id('case'), jsonb_build_object('lead', pg_temp.emp('staff.a1'),
            'members', jsonb_build_array(pg_temp.emp('staff.a2'))))::jsonb ->> 'status',
  'in_progress', 'setup: assigned and started');

-- Work records (P2.2, P2.4) ------------------------------------------------------------------
-- RFC 3339 with microseconds: the case started at now() (this transaction's time), and a record
-- may not start before it.
CREATE FUNCTION pg_temp.ts(t timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;
-- A record of milestone p_code by the caller: started with the case, finished a minute later
-- (within the clock skew allowed).
CREATE FUNCTION pg_temp.rec(p_code text, p_extra jsonb DEFAULT '{}') RETURNS jsonb
  LANGUAGE sql AS $$
  SELECT api.case_work_record_add(pg_temp.id('case'),
           jsonb_build_object('milestone_code', p_code, 'content', '做了 ' || p_code, 'result', '完成',
                              'started_at', pg_temp.ts(now()),
                              'finished_at', pg_temp.ts(now() + interval '1 minute'), 'hours', 2.5) || p_extra)::jsonb $$;

SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT throws_ok($$ SELECT pg_temp.rec('collect') $$, '42501', 'only a current assignee of the case records its work (P2.4)',
  'P2.4: the department''s supervisor, not assigned, does not record');
SELECT pg_temp.be('staff.b1', 'staff');
SELECT throws_ok($$ SELECT pg_temp.rec('collect') $$, 'P0002', 'no such case', 'a stranger: 404');
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok($$ SELECT pg_temp.rec('collect') $$, 'P0002', 'no such case', 'hr sees no case: 404');

SELECT pg_temp.be('staff.a1', 'staff');
-- validation (nothing written)
SELECT throws_ok($$ SELECT pg_temp.rec('collect', '{"extra": 1}') $$, 'TXVAL', 'extra: unknown field', 'unknown member');
SELECT throws_ok($$ SELECT pg_temp.rec('nope') $$, 'TXVAL', NULL, 'a milestone of another standard');
SELECT throws_ok($$ SELECT pg_temp.rec('collect', '{"content": null}') $$, 'TXVAL', 'content: is required', 'content required');
SELECT throws_ok($$ SELECT pg_temp.rec('collect', '{"result": ""}') $$, 'TXVAL', 'result: must not be empty', 'result not empty');
SELECT throws_ok($$ SELECT pg_temp.rec('collect', '{"started_at": "2026-13-01T00:00:00Z"}') $$, 'TXVAL', 'started_at: must be an RFC 3339 timestamp with its offset, e.g. 2026-01-31T09:30:00Z', 'a date that is none');
SELECT throws_ok($$ SELECT pg_temp.rec('collect', '{"started_at": "2026-01-01 00:00:00"}') $$, 'TXVAL', 'started_at: must be an RFC 3339 timestamp with its offset, e.g. 2026-01-31T09:30:00Z', 'no offset');
SELECT throws_ok($$ SELECT pg_temp.rec('collect', jsonb_build_object('finished_at', pg_temp.ts(now() - interval '1 second'))) $$,
  'TXVAL', 'finished_at: must not be before started_at', 'finished before started');
SELECT throws_ok($$ SELECT pg_temp.rec('collect', jsonb_build_object('finished_at', pg_temp.ts(now() + interval '10 minutes'))) $$,
  'TXVAL', 'finished_at: must not be in the future (a record is written after the work)', 'finished in the future');
SELECT lives_ok($$ SELECT pg_temp.rec('extra', jsonb_build_object('finished_at', pg_temp.ts(now() + interval '4 minutes'))) $$,
  'a finishing time within the clock skew is accepted');
SELECT throws_ok($$ SELECT pg_temp.rec('collect', jsonb_build_object('started_at', pg_temp.ts(now() - interval '1 second'))) $$,
  'TXVAL', NULL, 'started before the case started');
SELECT throws_ok($$ SELECT pg_temp.rec('collect', '{"hours": 0}') $$, 'TXVAL', 'hours: must be more than 0 and at most 10000', 'hours 0');
SELECT throws_ok($$ SELECT pg_temp.rec('collect', '{"hours": 10000.5}') $$, 'TXVAL', 'hours: must be more than 0 and at most 10000', 'hours too many');
SELECT throws_ok($$ SELECT pg_temp.rec('collect', '{"hours": 1.234}') $$, 'TXVAL', 'hours: must have at most two decimals', 'hours: two decimals');
SELECT throws_ok($$ SELECT pg_temp.rec('collect', '{"hours": "2"}') $$, 'TXVAL', 'hours: must be a number', 'hours is a number');
SELECT throws_ok($$ SELECT pg_temp.rec('collect', '{"corrects_id": "x"}') $$, 'TXVAL', 'corrects_id: must be a UUID', 'corrects_id a UUID');
SELECT throws_ok($$ SELECT pg_temp.rec('collect', '{"corrects_id": "00000000-0000-4000-8000-000000000000"}') $$,
  'TXVAL', 'corrects_id: is not a work record of this case', 'corrects_id of no record');
SELECT is((SELECT count(*) FROM cases.work_records WHERE milestone_id IN (SELECT id FROM cases.milestones WHERE code = 'collect')), 0::bigint,
  'nothing written by refused requests');

-- the first record of a milestone
INSERT INTO ids SELECT 'r1', (pg_temp.rec('collect') ->> 'id')::uuid;
SELECT is((SELECT jsonb_build_object('code', j ->> 'milestone_code', 'in_force', j -> 'in_force', 'author', j ->> 'author_id', 'hours', j -> 'hours', 'corrects', j -> 'corrects_id')
             FROM (SELECT api.work_record_json(w)::jsonb j FROM cases.work_records w WHERE w.id = pg_temp.id('r1')) x),
  '{"code": "collect", "in_force": true, "author": "20000000-0000-4000-8000-000000000007", "hours": 2.50, "corrects": null}'::jsonb,
  'P2.4: the record, in force, by its author');
SELECT throws_ok($$ SELECT pg_temp.rec('collect') $$, 'TXCON', NULL, 'a second first record of a milestone: correct it instead');
SELECT throws_ok($$ SELECT pg_temp.rec('draft', jsonb_build_object('corrects_id', pg_temp.id('r1'))) $$,
  'TXVAL', 'corrects_id: is a record of another milestone', 'a correction of another milestone''s record');
-- a correction by the other assignee
SELECT pg_temp.be('staff.a2', 'staff');
INSERT INTO ids SELECT 'r2', (pg_temp.rec('collect', jsonb_build_object('corrects_id', pg_temp.id('r1'), 'result', '更正')) ->> 'id')::uuid;
SELECT results_eq($$ SELECT id, in_force, corrected_by FROM (SELECT (j ->> 'id')::uuid id, (j ->> 'in_force')::boolean in_force, (j ->> 'corrected_by_id')::uuid corrected_by, j ->> 'recorded_at' rat
                       FROM jsonb_array_elements(api.case_work_record_list(pg_temp.id('case'), NULL, NULL)::jsonb -> 'items') j
                      WHERE j ->> 'milestone_code' = 'collect') x ORDER BY in_force $$,
  $$ VALUES (pg_temp.id('r1'), false, pg_temp.id('r2')), (pg_temp.id('r2'), true, NULL::uuid) $$,
  'a correction is a new record; the list shows both, the corrected one marked');
SELECT throws_ok($$ SELECT pg_temp.rec('collect', jsonb_build_object('corrects_id', pg_temp.id('r1'))) $$, 'TXCON',
  'that record was corrected already: a correction names the record in force', 'a corrected record is not corrected twice');
-- append-only
SELECT throws_ok($$ UPDATE cases.work_records SET result = 'x' WHERE id = pg_temp.id('r1') $$, '42501', NULL, 'the runtime role updates no record');
SELECT throws_ok($$ DELETE FROM cases.work_records WHERE id = pg_temp.id('r1') $$, '42501', NULL, 'nor deletes one');
SELECT trigger_is('cases', 'work_records', 'work_records_append_only', 'cases', 'work_records_append_only', 'UPDATE/DELETE trigger for every writer');
SELECT trigger_is('cases', 'work_records', 'work_records_no_truncate', 'cases', 'work_records_append_only', 'TRUNCATE trigger');
SELECT trigger_is('cases', 'work_records', 'work_records_rules', 'cases', 'work_records_rules', 'the rules trigger');

-- paging
SELECT is(jsonb_array_length(api.case_work_record_list(pg_temp.id('case'), 1, NULL)::jsonb -> 'items'), 1, 'a page of one');
SELECT is(jsonb_array_length(api.case_work_record_list(pg_temp.id('case'), 2,
            api.case_work_record_list(pg_temp.id('case'), 1, NULL)::jsonb ->> 'next_cursor')::jsonb -> 'items'), 2, 'the rest');
SELECT throws_ok($$ SELECT api.case_work_record_list(pg_temp.id('case'), NULL, 'garbage') $$, 'TXVAL', 'cursor: is not a cursor of this list', 'bad cursor');
SELECT pg_temp.be('staff.b1', 'staff');
SELECT throws_ok($$ SELECT api.case_work_record_list(pg_temp.id('case'), NULL, NULL) $$, 'P0002', 'no such case', 'list: a stranger gets 404');
SELECT is_empty($$ SELECT id FROM cases.work_records $$, 'a stranger sees no record');
SELECT pg_temp.be('auditor', 'auditor');
SELECT is(jsonb_array_length(api.case_work_record_list(pg_temp.id('case'), NULL, NULL)::jsonb -> 'items'), 3, 'the auditor reads them');

-- Submission for review (P3.1): the guard names what is missing
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT throws_ok($$ SELECT api.case_submit_review(pg_temp.id('case'), '{}') $$, '42501', NULL, 'not an assignee: 403');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ SELECT api.case_submit_review(pg_temp.id('case'), '{}') $$, 'TXTRN',
  'submit_review is not possible: the guard cases.required_milestones_recorded refused (every required key milestone of the case''s business-type version has a work record in force (P2.4, P3.1)): missing draft',
  'P3.1: the guard refuses and names the missing milestone');
SELECT ok(NOT cases.required_milestones_recorded(pg_temp.id('case')), 'guard false');
SELECT is(cases.missing_milestones(pg_temp.id('case')), ARRAY['draft'], 'missing: draft (extra is optional)');
SELECT lives_ok($$ SELECT pg_temp.rec('draft') $$, 'draft recorded');
SELECT ok(cases.required_milestones_recorded(pg_temp.id('case')), 'guard true');
SELECT throws_ok($$ SELECT api.case_submit_review(pg_temp.id('case'), '{"rectification_note": "x"}') $$, 'TXVAL',
  'rectification_note: only a resubmission (the case is rectifying) carries a rectification note', 'no note in a first submission');
SELECT throws_ok($$ SELECT api.case_submit_review(pg_temp.id('case'), '{"x": 1}') $$, 'TXVAL', 'x: unknown field', 'unknown member');
SELECT is(api.case_submit_review(pg_temp.id('case'), '{}')::jsonb ->> 'status', 'under_review', 'P3.1: submitted for review');
SELECT results_eq($$ SELECT status, review_round FROM cases.cases WHERE id = pg_temp.id('case') $$,
  $$ VALUES ('under_review'::text, 1) $$, 'review round 1');
SELECT results_eq($$ SELECT round, submitted_by, rectification_note FROM cases.reviews WHERE case_id = pg_temp.id('case') $$,
  $$ VALUES (1, pg_temp.emp('staff.a1')::uuid, NULL::text) $$, 'round 1 opened for the reviewer');
SELECT throws_ok($$ SELECT pg_temp.rec('extra') $$, 'TXTRN', NULL, 'under review: nothing recorded');
SELECT throws_ok($$ SELECT api.case_submit_review(pg_temp.id('case'), '{}') $$, 'TXTRN', NULL, 'under review: no second submission');

-- Escalations (P2.3)
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT throws_ok($$ SELECT api.case_escalation_raise(pg_temp.id('case'), '{"problem": "p"}') $$, '42501', NULL, 'not an assignee: 403');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ SELECT api.case_escalation_raise(pg_temp.id('case'), '{}') $$, 'TXVAL', 'problem: is required', 'problem required');
INSERT INTO ids SELECT 'e1', (api.case_escalation_raise(pg_temp.id('case'), '{"problem": "憑證不符"}')::jsonb ->> 'id')::uuid;
SELECT results_eq($$ SELECT raised_by, addressed_to, level, status, due_at > raised_at FROM cases.escalations WHERE id = pg_temp.id('e1') $$,
  $$ VALUES (pg_temp.emp('staff.a1')::uuid, pg_temp.emp('sup.a')::uuid, 1, 'open'::text, true) $$,
  'P2.3: addressed to the raiser''s supervisor, due later');
SELECT throws_ok($$ SELECT api.escalation_resolve(pg_temp.id('e1'), '{"solution": "s"}') $$, '42501', NULL, 'the raiser does not resolve it');
SELECT throws_ok($$ UPDATE cases.escalations SET status = 'resolved' WHERE id = pg_temp.id('e1') $$, '42501', NULL, 'the runtime role changes no escalation');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT throws_ok($$ SELECT api.escalation_resolve(pg_temp.id('e1'), '{}') $$, 'TXVAL', 'solution: is required', 'solution required');
SELECT is(api.escalation_resolve(pg_temp.id('e1'), '{"solution": "以流水為准"}')::jsonb - 'resolved_at' - 'raised_at' - 'due_at' - 'id' - 'case_id',
  '{"problem": "憑證不符", "raised_by": "20000000-0000-4000-8000-000000000007", "addressed_to": "20000000-0000-4000-8000-000000000005",
    "level": 1, "climbed_from": null, "climbed_to": null, "status": "resolved", "solution": "以流水為准",
    "resolved_by": "20000000-0000-4000-8000-000000000005"}'::jsonb, 'P2.3: resolved by the addressee');
SELECT throws_ok($$ SELECT api.escalation_resolve(pg_temp.id('e1'), '{"solution": "again"}') $$, 'TXCON', 'the escalation is resolved already', 'resolved once');
SELECT pg_temp.be('staff.b1', 'staff');
SELECT is(api.escalation_get(pg_temp.id('e1'))::text, NULL, 'a stranger does not see it');
SELECT throws_ok($$ SELECT api.escalation_resolve(pg_temp.id('e1'), '{"solution": "s"}') $$, 'P0002', 'no such escalation', 'nor resolves it: 404');
SELECT pg_temp.be('auditor', 'auditor');
SELECT is(jsonb_array_length(api.case_escalation_list(pg_temp.id('case'), NULL, NULL)::jsonb -> 'items'), 1, 'the auditor lists the case''s escalations');
-- Whom a problem goes to: the raiser's supervisor, else the department's supervisor other than
-- the raiser, the first by username (sup.a has no supervisor; sup.a2 is the other one of A).
SELECT is(cases.escalation_addressee(pg_temp.id('case'), pg_temp.emp('staff.a2')), pg_temp.emp('sup.a'), 'staff.a2 -> sup.a');
SELECT is(cases.escalation_addressee(pg_temp.id('case'), pg_temp.emp('sup.a')), pg_temp.emp('sup.a2'), 'sup.a -> sup.a2 (no supervisor of their own)');
SELECT is(cases.escalation_addressee(pg_temp.id('case'), pg_temp.emp('sup.a2')), pg_temp.emp('sup.a'), 'sup.a2 -> sup.a');

-- A cancelled case withdraws its open escalations (nobody answers them; their deadlines close) ---
SELECT pg_temp.be('staff.a1', 'staff');
INSERT INTO ids SELECT 'e2', (api.case_escalation_raise(pg_temp.id('case'), '{"problem": "客戶撤回前的問題"}')::jsonb ->> 'id')::uuid;
SELECT lives_ok($$ SELECT api.case_cancel(pg_temp.id('case'), '{"reason": "客戶撤回"}') $$, 'an assignee cancels the case');
SELECT results_eq($$ SELECT id, status FROM cases.escalations WHERE case_id = pg_temp.id('case') ORDER BY status $$,
  $$ VALUES (pg_temp.id('e1'), 'resolved'::text), (pg_temp.id('e2'), 'withdrawn'::text) $$,
  'P2.3: the open escalation is withdrawn with its case; the answered one stays resolved');
SELECT results_eq($$ SELECT met_at IS NULL, closed_at IS NOT NULL FROM cases.deadlines
                     WHERE kind = 'escalation' AND subject_id = pg_temp.id('e2') $$,
  $$ VALUES (true, true) $$, 'its deadline is closed, not met');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT throws_ok($$ SELECT api.escalation_resolve(pg_temp.id('e2'), '{"solution": "s"}') $$, 'TXCON', 'the escalation was withdrawn with its cancelled case',
  'a withdrawn escalation is not answered');

SELECT * FROM finish();
ROLLBACK;
