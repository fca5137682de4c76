-- Module P, part D (sql/code/cases/050_review.sql, 060_delivery.sql, migration 0020): review
-- rounds (P3.1-P3.3), files, delivery and the customer's confirmation (P3.4), as the runtime
-- role. The walk of a case through review and delivery needs the api functions of parts B and C
-- (intake to submit-review): the last section needs part C on main (api.case_work_record_add,
-- api.case_submit_review); the section "Before parts B and C" proves what needs neither.
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(77);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');
\ir lib/session.psql

-- Definitions ------------------------------------------------------------------------------
SELECT is_empty($$ SELECT l FROM fsm.lint() l
                    WHERE l ~ 'reviewer_independent|delivery_recorded' $$,
  'the guards of pass, fail and deliver resolve to functions tianxing_app may run');
SELECT is(obj_description('cases.reviewer_independent(uuid)'::regprocedure, 'pg_proc') ~ 'P3.1', true,
  'reviewer_independent says what it requires (P3.1)');
SELECT is(obj_description('cases.delivery_recorded(uuid)'::regprocedure, 'pg_proc') ~ 'P3.4', true,
  'delivery_recorded says what it requires (P3.4)');
SELECT ok(NOT has_table_privilege('tianxing_app', t, 'INSERT,UPDATE,DELETE,TRUNCATE'),
          format('the runtime role writes %s only through the api functions', t))
  FROM unnest(ARRAY['cases.reviews', 'cases.review_verdicts', 'cases.files', 'cases.deliveries',
                    'cases.confirmation_links', 'cases.confirmations']) t;
SELECT ok(EXISTS (SELECT FROM pg_trigger WHERE tgrelid = t::regclass AND tgname = n AND tgenabled <> 'D'),
          format('%s has its rules trigger %s (every writer, the owner''s functions too)', t, n))
  FROM (VALUES ('cases.reviews', 'reviews_rules'), ('cases.review_verdicts', 'review_verdicts_rules'),
               ('cases.files', 'files_rules'), ('cases.deliveries', 'deliveries_rules'),
               ('cases.confirmation_links', 'confirmation_links_rules'),
               ('cases.confirmations', 'confirmations_rules')) x(t, n);

-- Policy parameters (0020): approved initial values, validated proposals ------------------------
SELECT pg_temp.be('hr', 'hr');
SELECT is(org.policy_value('cases_file_max_bytes'), '524288'::jsonb, 'cases_file_max_bytes starts at 512 KiB');
SELECT is(org.policy_value('confirmation_link_days'), '14'::jsonb, 'confirmation_link_days starts at 14');
SELECT throws_ok($$ SELECT api.policy_propose('cases_file_max_bytes', '{"value": 10, "effective_from": "2999-01-01", "reason": "r"}') $$,
  'TXVAL', NULL, 'a file cap under 1 KiB is refused');
SELECT throws_ok($$ SELECT api.policy_propose('cases_file_max_bytes', '{"value": 100000000, "effective_from": "2999-01-01", "reason": "r"}') $$,
  'TXVAL', NULL, 'a file cap no request could carry is refused');
SELECT throws_ok($$ SELECT api.policy_propose('confirmation_link_days', '{"value": 0, "effective_from": "2999-01-01", "reason": "r"}') $$,
  'TXVAL', NULL, 'a link living 0 days is refused');
SELECT lives_ok($$ SELECT api.policy_propose('confirmation_link_days', '{"value": 30, "effective_from": "2999-01-01", "reason": "r"}') $$,
  'a link of 30 days can be proposed');

-- Before parts B and C: unknown cases, tokens and callers ------------------------------------------
SELECT pg_temp.be('sup.a', 'staff,supervisor');
INSERT INTO ids VALUES ('nocase', '7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e');
SELECT is(cases.reviewer_independent(pg_temp.id('nocase')), false, 'no reviewer for a case that does not exist');
SELECT is(cases.delivery_recorded(pg_temp.id('nocase')), false, 'no delivery for a case that does not exist');
SELECT throws_ok($$ SELECT api.case_review_decide(pg_temp.id('nocase'), '{}') $$, 'P0002', 'no such case',
  'decide: an unknown case is not found');
SELECT throws_ok($$ SELECT api.case_reviews(pg_temp.id('nocase')) $$, 'P0002', 'no such case', 'reviews: not found');
SELECT throws_ok($$ SELECT api.case_file_add(pg_temp.id('nocase'), '{}') $$, 'P0002', 'no such case', 'add file: not found');
SELECT throws_ok($$ SELECT api.case_files(pg_temp.id('nocase'), NULL, NULL, NULL) $$, 'P0002', 'no such case', 'files: not found');
SELECT throws_ok($$ SELECT api.case_deliver(pg_temp.id('nocase'), '{}') $$, 'P0002', 'no such case', 'deliver: not found');
SELECT throws_ok($$ SELECT api.case_confirmation_link_create(pg_temp.id('nocase'), repeat('ab', 32)) $$, 'P0002',
  'no such case', 'link: not found');
SELECT throws_ok($$ SELECT api.case_confirmation_record(pg_temp.id('nocase'), '{}') $$, 'P0002', 'no such case',
  'record confirmation: not found');

-- The public side: no claims at all, as a request without a token
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', '', true), set_config('tx.department_id', '', true);
SELECT throws_ok($$ SELECT api.confirmation_view(repeat('ab', 32)) $$, 'P0002',
  'no such confirmation link, or it was used or has expired', 'an unknown token is not found');
SELECT throws_ok($$ SELECT api.confirmation_view('not hex') $$, 'P0002',
  'no such confirmation link, or it was used or has expired', 'a malformed hash: the same answer');
SELECT throws_ok($$ SELECT api.confirmation_answer(repeat('ab', 32), '{"outcome": "confirmed", "rating": 5}') $$,
  'P0002', 'no such confirmation link, or it was used or has expired', 'answering an unknown token: the same answer');
SELECT throws_ok($$ SELECT api.confirmation_answer(repeat('ab', 32), '{"outcome": "objected", "rating": 2}') $$,
  'TXVAL', NULL, 'a malformed answer (an objection without its comment) is 422 whatever the token: no oracle on it');
SELECT throws_ok($$ SELECT api.case_review_decide(pg_temp.id('nocase'), '{}') $$, 'TXAUT', NULL,
  'the staff functions need a signed-in employee');
SELECT is((SELECT count(*) FROM cases.confirmation_links)::int, 0, 'nobody reads the links'' table (token hashes)');

-- A case in progress through the api functions of parts A and B ---------------------------------
-- (a second supervisor of department A reviews: sup.a approves and works on the team)
SELECT pg_temp.be('admin', 'admin');
INSERT INTO org.employees (username, display_name, department_id, roles)
VALUES ('sup.a2', 'Supervisor A2', '10000000-0000-4000-8000-00000000000a', '{supervisor}');
INSERT INTO ids SELECT 'type', (api.business_type_create(jsonb_build_object(
  'code', 'review-audit', 'name', '年度審計',
  'milestones', jsonb_build_array(jsonb_build_object('code', 'fieldwork', 'name', '現場工作', 'standard_days', 3)),
  'checklist', jsonb_build_array(jsonb_build_object('code', 'accuracy', 'name', '準確性'),
                                 jsonb_build_object('code', 'compliance', 'name', '合規性'),
                                 jsonb_build_object('code', 'completeness', 'name', '完整性')),
  'documents', jsonb_build_array(jsonb_build_object('code', 'signed_contract', 'name', '簽字合同')))) ->> 'id')::uuid;
SELECT pg_temp.be('staff.a1', 'staff');
INSERT INTO ids VALUES ('cu', '4c000000-0000-4000-8000-0000000000d1');
SELECT lives_ok(format($$ SELECT api.customer_create(%L) $$, jsonb_build_object('id', pg_temp.id('cu'), 'name', '林志遠',
  'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', '\x01' || repeat('ab', 59)))), 'setup: staff.a1 creates a customer');
-- staff.a1 receives and prepares; sup.a approves and assigns staff.a1 (lead) and sup.a (member)
CREATE FUNCTION pg_temp.in_progress() RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE c uuid;
BEGIN
  PERFORM pg_temp.be('staff.a1', 'staff');
  c := (api.case_create(jsonb_build_object('customer_id', pg_temp.id('cu'), 'raised_at', api.ts(now() - interval '1 hour'),
                                           'channel', 'phone', 'need', '需要年度審計報告')) ->> 'id')::uuid;
  PERFORM api.case_assess(c, jsonb_build_object('in_scope', true, 'business_type_id', pg_temp.id('type')));
  PERFORM api.case_intake(c, (api.case_json(c) ->> 'version')::int, '{"requirements": "審計 2025 年度財務報表"}');
  PERFORM api.case_submit(c);
  PERFORM pg_temp.be('sup.a', 'staff,supervisor');
  PERFORM api.case_decide(c, 'approve', '{}');
  PERFORM api.case_assign(c, jsonb_build_object('lead', '20000000-0000-4000-8000-000000000007',
                                                'members', jsonb_build_array('20000000-0000-4000-8000-000000000005')));
  RETURN c;
END $$;
INSERT INTO ids VALUES ('c', pg_temp.in_progress());
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT is((SELECT status FROM cases.cases WHERE id = pg_temp.id('c')), 'in_progress', 'setup: a case in progress (parts A, B)');
SELECT throws_ok($$ SELECT api.case_review_decide(pg_temp.id('c'), '{}') $$, 'TXTRN', NULL,
  'a case in progress has no round to decide (409)');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok(format($$ SELECT api.case_file_add(%L, jsonb_build_object('name', 'x', 'purpose', 'evidence', 'media_type', 'text/plain',
                          'content', encode(decode(repeat('00', 100), 'hex'), 'base64'))) $$, pg_temp.id('c')),
  'TXVAL', NULL, 'base64 with line breaks is refused (standard base64 without them)');
SELECT throws_ok(format($$ SELECT api.case_file_add(%L, jsonb_build_object('name', 'big', 'purpose', 'evidence', 'media_type', 'text/plain',
                          'content', translate(encode(decode(repeat('00', 524289), 'hex'), 'base64'), E'\n', ''))) $$, pg_temp.id('c')),
  'TXBIG', NULL, 'a file over cases_file_max_bytes is refused (413)');
SELECT throws_ok(format($$ SELECT api.case_file_add(%L, '{"name": "x", "purpose": "document", "document_code": "nope", "location": "A-3"}') $$, pg_temp.id('c')),
  'TXVAL', 'document_code: is not a required document of the case''s business type', 'a document names a required document');
SELECT throws_ok(format($$ SELECT api.case_file_add(%L, '{"name": "x", "purpose": "evidence", "document_code": "signed_contract", "location": "A-3"}') $$, pg_temp.id('c')),
  'TXVAL', 'document_code: is required for a document and only for a document', 'document_code only for documents');
SELECT is((api.case_file_add(pg_temp.id('c'), '{"name": "簽字合同", "purpose": "document", "document_code": "signed_contract", "location": "檔案室 A-3"}') ->> 'medium'),
  'paper', 'a paper document, by its location (C2.2)');
INSERT INTO ids SELECT 'f', (api.case_file_add(pg_temp.id('c'), '{"name": "r.pdf", "purpose": "deliverable", "media_type": "application/pdf", "content": "aGVsbG8="}') ->> 'id')::uuid;
SELECT is((SELECT encode(sha256, 'hex') || ' ' || size FROM cases.files WHERE id = pg_temp.id('f')),
  '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824 5', 'size and SHA-256 computed by the database');
SELECT pg_temp.be('staff.a2', 'staff');
SELECT throws_ok(format($$ SELECT api.case_file_add(%L, '{"name": "x", "purpose": "evidence", "location": "A-3"}') $$, pg_temp.id('c')),
  'P0002', 'no such case', 'staff not on the case do not see it');
SELECT pg_temp.be('sup.a2', 'supervisor');
SELECT is((api.case_files(pg_temp.id('c'), 'deliverable', NULL, NULL) -> 'items' -> 0 ->> 'name'), 'r.pdf',
  'the department''s supervisors see the files; purpose filters');
SELECT is(json_array_length(api.case_files(pg_temp.id('c'), NULL, 1, NULL) -> 'items'), 1, 'pages of one');
SELECT throws_ok(format($$ SELECT api.case_files(%L, NULL, 1, 'nope') $$, pg_temp.id('c')), 'TXVAL', 'cursor: is not a cursor of this list', 'a bad cursor');
SELECT throws_ok(format($$ SELECT api.case_deliver(%L, '{"method": "email", "file_ids": ["7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e"]}') $$, pg_temp.id('c')),
  'TXTRN', NULL, 'no delivery before a passed review (P3.4)');

-- Review and delivery (needs part C: work records, submit-review) ----------------------------------
CREATE FUNCTION pg_temp.resubmit(c uuid, note text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_temp.be('staff.a1', 'staff');
  PERFORM api.case_submit_review(c, jsonb_build_object('rectification_note', note));
END $$;
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok(format($$ SELECT api.case_work_record_add(%L, jsonb_build_object('milestone_code', 'fieldwork',
  'content', '現場審計', 'result', '完成', 'started_at', api.ts(now() + interval '1 second'),
  'finished_at', api.ts(now() + interval '2 seconds'), 'hours', 6)) $$, pg_temp.id('c')),
  'setup: the required milestone is recorded (part C)');
SELECT lives_ok(format($$ SELECT api.case_submit_review(%L, '{}') $$, pg_temp.id('c')), 'setup: submitted for review, round 1 (part C)');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(cases.reviewer_independent(pg_temp.id('c')), false, 'staff are no reviewers');
SELECT throws_ok($$ SELECT api.case_review_decide(pg_temp.id('c'), '{}') $$, '42501', NULL, 'staff cannot decide a round');
SELECT pg_temp.be('sup.b', 'supervisor');
SELECT throws_ok($$ SELECT api.case_review_decide(pg_temp.id('c'), '{}') $$, 'P0002', 'no such case', 'another department''s supervisor does not see it');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT is(cases.reviewer_independent(pg_temp.id('c')), false, 'a team member is no reviewer (team membership included)');
SELECT throws_ok($$ SELECT api.case_review_decide(pg_temp.id('c'), '{"verdicts": []}') $$, 'TXDEN', NULL, 'sup.a, on the team, is refused (P3.1)');
SELECT pg_temp.be('sup.a2', 'supervisor');
SELECT is(cases.reviewer_independent(pg_temp.id('c')), true, 'sup.a2 worked on nothing: eligible');
SELECT throws_ok($$ SELECT api.case_review_decide(pg_temp.id('c'), '{"verdicts": [{"criterion": "accuracy", "verdict": "pass"}]}') $$,
  'TXVAL', 'verdicts: every criterion needs a verdict; missing: compliance, completeness', 'every criterion (P3.2)');
SELECT throws_ok($$ SELECT api.case_review_decide(pg_temp.id('c'), '{"verdicts": [{"criterion": "accuracy", "verdict": "pass"}, {"criterion": "accuracy", "verdict": "pass"}]}') $$,
  'TXVAL', 'verdicts[1].criterion: accuracy has a verdict already: one per criterion', 'each criterion once');
SELECT throws_ok($$ SELECT api.case_review_decide(pg_temp.id('c'), '{"verdicts": [{"criterion": "accuracy", "verdict": "fail"}, {"criterion": "compliance", "verdict": "pass"}, {"criterion": "completeness", "verdict": "pass"}], "comment": "c"}') $$,
  'TXVAL', 'verdicts[0].comment: is required for a failed criterion: say what is wrong (P3.3)', 'a failed criterion says why');
SELECT throws_ok($$ SELECT api.case_review_decide(pg_temp.id('c'), '{"verdicts": [{"criterion": "accuracy", "verdict": "fail", "comment": "x"}, {"criterion": "compliance", "verdict": "pass"}, {"criterion": "completeness", "verdict": "pass"}]}') $$,
  'TXVAL', 'comment: is required when the review fails: say what to rectify (P3.3)', 'a failed round says what to rectify');
SELECT is((SELECT count(*)::int FROM cases.review_verdicts v JOIN cases.reviews r ON r.id = v.review_id WHERE r.case_id = pg_temp.id('c')), 0,
  'a refused decision leaves no verdict');
SELECT is(api.case_review_decide(pg_temp.id('c'), '{"verdicts": [{"criterion": "accuracy", "verdict": "fail", "comment": "x"}, {"criterion": "compliance", "verdict": "pass"}, {"criterion": "completeness", "verdict": "pass"}], "comment": "fix"}')::jsonb ->> 'case_status',
  'rectifying', 'any fail: rectifying (P3.3)');
SELECT throws_ok($$ SELECT api.case_review_decide(pg_temp.id('c'), '{"verdicts": []}') $$, 'TXTRN', NULL, 'no open round: 409');
SELECT pg_temp.resubmit(pg_temp.id('c'), 'fixed');
SELECT pg_temp.be('sup.a2', 'supervisor');
SELECT is(api.case_review_decide(pg_temp.id('c'), '{"verdicts": [{"criterion": "accuracy", "verdict": "pass"}, {"criterion": "compliance", "verdict": "pass"}, {"criterion": "completeness", "verdict": "pass"}]}')::jsonb ->> 'case_status',
  'passed', 'all pass: passed');
SELECT is(cases.delivery_recorded(pg_temp.id('c')), false, 'no delivery yet');

-- Delivery
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ SELECT api.case_deliver(pg_temp.id('c'), '{"method": "email", "file_ids": ["7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e"]}') $$,
  'TXVAL', 'file_ids: must be deliverables of this case', 'deliverables of this case only');
SELECT is(api.case_deliver(pg_temp.id('c'), format('{"method": "email", "file_ids": ["%s"]}', pg_temp.id('f'))::jsonb)::jsonb ->> 'case_status',
  'delivered', 'delivered (P3.4)');
SELECT is(cases.delivery_recorded(pg_temp.id('c')), true, 'a delivery after the pass');

-- The link
SELECT lives_ok(format($$ SELECT api.case_confirmation_link_create(%L, encode(sha256('token-1'::bytea), 'hex')) $$, pg_temp.id('c')), 'a link');
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', '', true), set_config('tx.department_id', '', true);
SELECT is(api.confirmation_view(encode(sha256('token-1'::bytea), 'hex'))::jsonb ->> 'case_reference', pg_temp.id('c')::text, 'the customer sees the delivery');
SELECT is(api.confirmation_answer(encode(sha256('token-1'::bytea), 'hex'), '{"outcome": "objected", "rating": 2, "comment": "wrong"}')::jsonb ->> 'outcome',
  'objected', 'the customer objects');
SELECT throws_ok($$ SELECT api.confirmation_view(encode(sha256('token-1'::bytea), 'hex')) $$, 'P0002', NULL, 'used once');
SELECT is(current_setting('tx.roles', true), '', 'the customer role does not outlive the answer');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((SELECT status FROM cases.cases WHERE id = pg_temp.id('c')), 'rectifying', 'an objection reopens rectification');

SELECT * FROM finish();
ROLLBACK;
