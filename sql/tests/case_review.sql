-- Module P, part D (sql/code/cases/050_review.sql, 060_delivery.sql, migration 0022): review
-- rounds (P3.1-P3.3), files, delivery and the customer's confirmation (P3.4), as the runtime
-- role. The walk of a case through review and delivery needs the api functions of parts B and C
-- (intake to submit-review); the section "Before parts B and C" proves what does not.
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(36);

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

-- Policy parameters (0022): approved initial values, validated proposals ------------------------
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
SELECT throws_ok($$ SELECT api.case_review_decide(pg_temp.id('nocase'), '{}') $$, 'TXAUT', NULL,
  'the staff functions need a signed-in employee');
SELECT is((SELECT count(*) FROM cases.confirmation_links)::int, 0, 'nobody reads the links'' table (token hashes)');

SELECT * FROM finish();
ROLLBACK;
