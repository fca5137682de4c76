-- Module Q, part C: customer satisfaction questionnaires (Q3 客戶反饋;
-- sql/code/assessment/050_surveys.sql). Run by tests/sql/run as tianxing_app. Fixtures:
-- sql/tests/fixtures.sql.
--   * the rules are triggers (every writer), the runtime role writes nothing directly;
--   * questions and answers are checked (codes unique, kinds rating|text, ratings 1-5), the score
--     is the mean of (rating - 1) x 25;
--   * a case's confirmation (P3.4) creates its send when an after_confirmation questionnaire is
--     active; the one-time link answers once; the answer counts for the case's assignees;
--   * the job 'assessment.surveys': expiry, reminders, regular sends; only as the scheduler;
--   * who may do what (roles, row-level security).
BEGIN;
SELECT plan(91);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

\ir lib/session.psql
\ir lib/cases.psql

-- Structure ------------------------------------------------------------------------------------
SELECT is(
  (SELECT array_agg(g.tgname::text ORDER BY g.tgname) FROM pg_trigger g
    WHERE g.tgrelid IN ('assessment.surveys'::regclass, 'assessment.survey_versions'::regclass,
                        'assessment.survey_sends'::regclass, 'assessment.survey_answers'::regclass,
                        'assessment.survey_attributions'::regclass)
      AND g.tgname LIKE 'survey%'),
  ARRAY['survey_answers_rules', 'survey_attributions_rules', 'survey_sends_rules',
        'survey_versions_rules', 'surveys_rules'],
  'the rules of the survey tables are triggers (they bind every writer, the owner''s functions too)');
SELECT ok(EXISTS (SELECT FROM pg_trigger g WHERE g.tgrelid = 'cases.confirmations'::regclass
                    AND g.tgname = 'zz_survey_after_confirmation'),
  'a case''s confirmation has the trigger that creates its survey send (P3.4)');
SELECT is(
  (SELECT array_agg(p.proname::text ORDER BY p.proname) FROM pg_proc p
    WHERE p.pronamespace = 'api'::regnamespace AND p.proname LIKE 'survey%' AND p.prosecdef),
  NULL, 'every api.survey* function is SECURITY INVOKER');
SELECT ok((SELECT bool_and(p.prosecdef) FROM pg_proc p
            WHERE p.pronamespace = 'assessment'::regnamespace
              AND p.proname IN ('survey_create', 'survey_version_add', 'survey_send_create',
                                'survey_link_create', 'survey_view', 'survey_answer', 'surveys_job')),
  'the writers are SECURITY DEFINER');
SELECT ok(NOT has_function_privilege('tianxing_app', 'assessment.survey_attributees(uuid)', 'EXECUTE')
          AND NOT has_function_privilege('tianxing_app', 'assessment.live_send(text, boolean)', 'EXECUTE'),
  'the attribution and token look-ups are the owner''s only');

SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok($$ INSERT INTO assessment.surveys (code, title, purpose) VALUES ('x', 'x', 'regular') $$,
  '42501', NULL, 'the runtime role inserts no questionnaire directly');
SELECT throws_ok($$ UPDATE assessment.survey_sends SET answered_at = now() $$,
  '42501', NULL, 'nor updates a send');
SELECT throws_ok($$ DELETE FROM assessment.survey_answers $$, '42501', NULL, 'nor removes an answer');

-- Questions and answers ----------------------------------------------------------------------------
SELECT is(assessment.survey_questions('[{"code": "overall", "text": "整體滿意度如何？", "kind": "rating"},
                                        {"code": "advice", "text": "您的建議", "kind": "text", "required": false}]'),
  '[{"code": "overall", "text": "整體滿意度如何？", "kind": "rating", "required": true},
    {"code": "advice", "text": "您的建議", "kind": "text", "required": false}]'::jsonb,
  'questions are normalized: required defaults to true; Chinese text kept');
SELECT is(pg_temp.err($$ SELECT assessment.survey_questions('[{"code": "a", "text": "x", "kind": "rating"}, {"code": "a", "text": "y", "kind": "text"}]') $$) ->> 'column',
  'questions[1].code', 'a code used twice is refused, naming the second');
SELECT is(pg_temp.err($$ SELECT assessment.survey_questions('[{"code": "a", "text": "x", "kind": "choice"}]') $$) ->> 'column',
  'questions[0].kind', 'kinds are rating or text');
SELECT is(pg_temp.err($$ SELECT assessment.survey_questions('[{"code": "A b", "text": "x", "kind": "text"}]') $$) ->> 'column',
  'questions[0].code', 'a code is [a-z0-9_]');
SELECT is(pg_temp.err($$ SELECT assessment.survey_questions('[{"code": "a", "text": "", "kind": "text"}]') $$) ->> 'column',
  'questions[0].text', 'a question has a text');
SELECT is(pg_temp.err($$ SELECT assessment.survey_questions('[{"code": "a", "text": "x", "kind": "text", "weight": 2}]') $$) ->> 'column',
  'questions[0].weight', 'an unknown member is refused');
SELECT is(pg_temp.err($$ SELECT assessment.survey_questions('[]') $$) ->> 'column', 'questions',
  'a questionnaire asks something');
SELECT is(pg_temp.err($$ SELECT assessment.survey_questions('[{"code": "a", "text": "x", "kind": "text", "required": "yes"}]') $$) ->> 'column',
  'questions[0].required', 'required is a boolean');

CREATE TEMP TABLE qs AS SELECT assessment.survey_questions(
  '[{"code": "overall", "text": "整體滿意度", "kind": "rating"}, {"code": "speed", "text": "辦理速度", "kind": "rating", "required": false},
    {"code": "advice", "text": "建議", "kind": "text", "required": false}]') AS q;
SELECT is(assessment.survey_answer_score((SELECT q FROM qs), '{"overall": 5, "speed": 3}'), 75.00::numeric,
  'score = mean of (rating - 1) x 25: (100 + 50) / 2');
SELECT is(assessment.survey_answer_score((SELECT q FROM qs), '{"overall": 1, "advice": "好"}'), 0.00::numeric,
  'a rating of 1 is 0; texts do not count');
SELECT is(assessment.survey_answer_score((SELECT q FROM qs), '{"advice": "好"}'), NULL, 'no rating: no score');
SELECT is(pg_temp.err($$ SELECT assessment.survey_answer_check((SELECT q FROM qs), '{"speed": 4}') $$) ->> 'column',
  'answers.overall', 'a required question must be answered');
SELECT is(pg_temp.err($$ SELECT assessment.survey_answer_check((SELECT q FROM qs), '{"overall": 6}') $$) ->> 'column',
  'answers.overall', 'ratings are 1-5');
SELECT is(pg_temp.err($$ SELECT assessment.survey_answer_check((SELECT q FROM qs), '{"overall": 4.5}') $$) ->> 'column',
  'answers.overall', 'ratings are whole numbers');
SELECT is(pg_temp.err($$ SELECT assessment.survey_answer_check((SELECT q FROM qs), '{"overall": "5"}') $$) ->> 'column',
  'answers.overall', 'ratings are numbers');
SELECT is(pg_temp.err($$ SELECT assessment.survey_answer_check((SELECT q FROM qs), '{"overall": 5, "color": "red"}') $$) ->> 'column',
  'answers.color', 'an unknown code is refused');
SELECT is(pg_temp.err($$ SELECT assessment.survey_answer_check((SELECT q FROM qs), '{"overall": 5, "advice": 3}') $$) ->> 'column',
  'answers.advice', 'a text answer is a text');
SELECT is(pg_temp.err($$ SELECT assessment.survey_answer_check((SELECT q FROM qs), '{"overall": 5, "advice": "很好"}') $$), NULL,
  'a complete answer passes');

-- A confirmed case (lib/cases.psql): staff.a1 leads, staff.a2 is a member, the customer rated 4.

SELECT pg_temp.be('admin', 'admin');
INSERT INTO ids SELECT 'bt', (api.business_type_create(jsonb_build_object('code', 'SRV-AUD', 'name', '年度審計',
  'milestones', jsonb_build_array(jsonb_build_object('code', 'collect', 'name', '收集資料', 'standard_days', 3)),
  'checklist', jsonb_build_array(jsonb_build_object('code', 'accuracy', 'name', '準確性'),
                                 jsonb_build_object('code', 'compliance', 'name', '合規性'),
                                 jsonb_build_object('code', 'completeness', 'name', '完整性')))) ->> 'id')::uuid;
SELECT pg_temp.be('staff.a2', 'staff');
INSERT INTO ids VALUES ('cu', '4c000000-0000-4000-8000-0000000000f1');
SELECT api.customer_create(jsonb_build_object('id', pg_temp.id('cu'), 'name', '陳美玲', 'company_name', '福州貿易有限公司',
  'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', '\x01' || repeat('cd', 59))));

-- Without an active questionnaire a confirmation sends nothing
INSERT INTO ids SELECT 'c0', pg_temp.confirmed_case('零號', ARRAY[pg_temp.emp('staff.a2')], 4);
SELECT is((SELECT count(*)::int FROM assessment.survey_sends WHERE case_id = pg_temp.id('c0')), 0,
  'no active after_confirmation questionnaire: the confirmation creates no send');
SELECT is(pg_temp.err(format($$ SELECT api.survey_send_create('{"case_id": "%s"}') $$, pg_temp.id('c0'))) ->> 'state',
  'TXCON', 'nor can staff send one: 409 naming the missing questionnaire');

-- Questionnaires: hr and admin write them ---------------------------------------------------------
SELECT throws_ok($$ SELECT api.survey_create('{"code": "x", "title": "x", "purpose": "regular", "questions": [{"code": "a", "text": "x", "kind": "rating"}]}') $$,
  '42501', NULL, 'staff write no questionnaire');
SELECT pg_temp.be('auditor', 'auditor');
SELECT throws_ok($$ SELECT api.survey_create('{"code": "x", "title": "x", "purpose": "regular", "questions": [{"code": "a", "text": "x", "kind": "rating"}]}') $$,
  '42501', NULL, 'nor auditors');
SELECT pg_temp.be('hr', 'hr');
INSERT INTO ids SELECT 'after', (api.survey_create('{"code": "after-case", "title": "結案滿意度調查", "purpose": "after_confirmation",
  "questions": [{"code": "overall", "text": "整體滿意度", "kind": "rating"}, {"code": "advice", "text": "建議", "kind": "text", "required": false}]}') ->> 'id')::uuid;
SELECT is((SELECT (active, current_version, purpose) FROM assessment.surveys WHERE id = pg_temp.id('after')),
  (true, 1, 'after_confirmation'::text), 'hr creates an active questionnaire, version 1');
SELECT is(pg_temp.err($$ SELECT api.survey_create('{"code": "after-case", "title": "x", "purpose": "regular", "questions": [{"code": "a", "text": "x", "kind": "rating"}]}') $$) ->> 'state',
  'TXDUP', 'a code is unique');
SELECT is(pg_temp.err($$ SELECT api.survey_create('{"code": "bad", "title": "x", "purpose": "sometimes", "questions": [{"code": "a", "text": "x", "kind": "rating"}]}') $$) ->> 'column',
  'purpose', 'purpose is after_confirmation or regular');
SELECT is(pg_temp.err($$ SELECT api.survey_create('{"code": "bad", "title": "x", "purpose": "regular", "questions": [{"code": "a", "text": "x", "kind": "stars"}]}') $$) ->> 'column',
  'questions[0].kind', 'the questions are checked');
SELECT is((SELECT count(*)::int FROM assessment.surveys WHERE code = 'bad'), 0, 'nothing is written on 422');
-- version 2 (the after_confirmation questionnaire asks about speed too)
SELECT is(api.survey_version_add(pg_temp.id('after'), '{"note": "加入速度", "questions": [{"code": "overall", "text": "整體滿意度", "kind": "rating"},
  {"code": "speed", "text": "辦理速度", "kind": "rating"}, {"code": "advice", "text": "建議", "kind": "text", "required": false}]}')::jsonb ->> 'current_version',
  '2', 'hr adds version 2, now current');
SELECT is(jsonb_array_length(api.survey_get(pg_temp.id('after'))::jsonb -> 'versions'), 2, 'both versions are kept');
SELECT throws_ok($$ SELECT api.survey_version_add('00000000-0000-4000-8000-000000000000', '{"questions": [{"code": "a", "text": "x", "kind": "rating"}]}') $$,
  'P0002', NULL, 'an unknown questionnaire is 404');
SELECT pg_temp.be('admin', 'admin');
INSERT INTO ids SELECT 'regular', (api.survey_create('{"code": "quarterly", "title": "季度客戶滿意度", "purpose": "regular",
  "questions": [{"code": "overall", "text": "本季服務滿意度", "kind": "rating"}]}') ->> 'id')::uuid;
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok(format($$ SELECT api.survey_version_add(%L, '{"questions": [{"code": "a", "text": "x", "kind": "rating"}]}') $$, pg_temp.id('regular')),
  '42501', NULL, 'staff add no version');
SELECT is(jsonb_array_length(api.survey_list(NULL, true, NULL, NULL)::jsonb -> 'items'), 2, 'staff read the active questionnaires');

-- P3.4: the confirmation creates the send ----------------------------------------------------------
INSERT INTO ids SELECT 'c1', pg_temp.confirmed_case('一號', ARRAY[pg_temp.emp('staff.a2')], 4);
CREATE TEMP TABLE s1 AS SELECT * FROM assessment.survey_sends WHERE case_id = pg_temp.id('c1');
INSERT INTO ids SELECT 's1', id FROM s1;
SELECT is((SELECT count(*)::int FROM s1), 1, 'the confirmation of c1 created its send');
SELECT is((SELECT (reason, customer_id, created_by IS NULL, token_hash IS NULL) FROM s1),
  ('after_confirmation'::text, pg_temp.id('cu'), true, true),
  'after_confirmation, to the case''s customer, by the service, no link yet');
SELECT is((SELECT v.version FROM s1 JOIN assessment.survey_versions v ON v.id = s1.survey_version_id), 2,
  'with the current version of the active questionnaire');
SELECT is((SELECT expires_at - sent_at FROM s1), interval '30 days', 'valid survey_schedule.link_days');
SELECT is(pg_temp.err(format($$ SELECT api.survey_send_create('{"case_id": "%s"}') $$, pg_temp.id('c1'))) -> 'detail' ->> 'existing_id',
  pg_temp.id('s1')::text, 'one send per case: TXDUP naming it');
SELECT is(api.survey_send_create(jsonb_build_object('case_id', pg_temp.id('c0')))::jsonb ->> 'status', 'open',
  'staff of c0 send its survey now that a questionnaire is active');

-- Who sees the sends
SELECT is(jsonb_array_length(api.survey_send_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::jsonb -> 'items'), 2,
  'staff.a1 sees the sends of the cases they work on');
SELECT pg_temp.be('staff.b1', 'staff');
SELECT is(jsonb_array_length(api.survey_send_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::jsonb -> 'items'), 0,
  'staff of department B see none');
SELECT throws_ok(format($$ SELECT api.survey_link_create(%L, repeat('ab', 32)) $$, pg_temp.id('s1')), 'P0002', NULL,
  'nor mint its link: 404');
SELECT throws_ok(format($$ SELECT api.survey_send_create('{"case_id": "%s"}') $$, pg_temp.id('c1')), 'P0002', NULL,
  'nor send for a case they may not read: 404');
SELECT pg_temp.be('hr', 'hr');
SELECT is(jsonb_array_length(api.survey_send_list(NULL, 'after_confirmation', NULL, NULL, NULL, NULL, NULL, NULL, NULL)::jsonb -> 'items'), 2,
  'hr sees every send');
SELECT is(pg_temp.err($$ SELECT api.survey_send_list(NULL, NULL, 'lost', NULL, NULL, NULL, NULL, NULL, NULL) $$) ->> 'column',
  'status', 'a bad status filter is 422');
SELECT is(pg_temp.err($$ SELECT api.survey_send_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'abc') $$) ->> 'column',
  'cursor', 'a bad cursor is 422');

-- The link and the answer ------------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok(format($$ SELECT api.survey_link_create(%L, encode(sha256('tok-1'), 'hex')) $$, pg_temp.id('s1')),
  'a staff member of the case mints the link');
SELECT lives_ok(format($$ SELECT api.survey_link_create(%L, encode(sha256('tok-2'), 'hex')) $$, pg_temp.id('s1')),
  'minting again replaces it');
CREATE TEMP TABLE q2 AS SELECT v.questions FROM assessment.survey_versions v
 WHERE v.survey_id = pg_temp.id('after') AND v.version = 2;
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', '', true);
SELECT throws_ok($$ SELECT api.survey_answer_view(encode(sha256('tok-1'), 'hex')) $$, 'P0002', NULL,
  'the replaced token opens nothing');
SELECT is(api.survey_answer_view(encode(sha256('tok-2'), 'hex'))::jsonb - 'expires_at',
  jsonb_build_object('title', '結案滿意度調查', 'reason', 'after_confirmation', 'business_type', '年度審計',
                     'questions', (SELECT questions FROM q2)),
  'the public view: title, reason, business type, questions; nothing about the customer or staff');
SELECT is(pg_temp.err($$ SELECT api.survey_answer_submit(encode(sha256('tok-2'), 'hex'), '{"answers": {"overall": 5}}') $$) ->> 'column',
  'answers.speed', 'a required question unanswered: 422');
SELECT is(pg_temp.err($$ SELECT api.survey_answer_submit(encode(sha256('tok-2'), 'hex'), '{"answers": {"overall": 0, "speed": 3}}') $$) ->> 'column',
  'answers.overall', 'a rating out of 1-5: 422');
SELECT pg_temp.be('hr', 'hr');
SELECT is((SELECT count(*)::int FROM assessment.survey_sends WHERE id = pg_temp.id('s1') AND answered_at IS NULL)
          + (SELECT count(*)::int FROM assessment.survey_answers), 1,
  'nothing written: the send is still open, no answer');
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', '', true);
SELECT lives_ok($$ SELECT api.survey_answer_submit(encode(sha256('tok-2'), 'hex'), '{"answers": {"overall": 5, "speed": 2, "advice": "報告很清楚"}}') $$,
  'the customer answers');
SELECT throws_ok($$ SELECT api.survey_answer_submit(encode(sha256('tok-2'), 'hex'), '{"answers": {"overall": 5, "speed": 5}}') $$,
  'P0002', NULL, 'once: the used token is 404');
SELECT throws_ok($$ SELECT api.survey_answer_view(encode(sha256('tok-2'), 'hex')) $$, 'P0002', NULL, 'and shows nothing');
SELECT pg_temp.be('hr', 'hr');
SELECT is((SELECT score FROM assessment.survey_answers WHERE send_id = pg_temp.id('s1')), 62.50::numeric,
  'score = ((5-1)x25 + (2-1)x25) / 2');
SELECT is((SELECT array_agg(employee_id ORDER BY employee_id) FROM assessment.survey_attributions t
            JOIN assessment.survey_answers a ON a.id = t.answer_id WHERE a.send_id = pg_temp.id('s1')),
  ARRAY[pg_temp.emp('staff.a1'), pg_temp.emp('staff.a2')], 'attributed to the case''s assignees (lead and member)');
SELECT is((SELECT DISTINCT t.case_id FROM assessment.survey_attributions t
            JOIN assessment.survey_answers a ON a.id = t.answer_id WHERE a.send_id = pg_temp.id('s1')),
  pg_temp.id('c1'), 'with the case');
SELECT is(api.survey_send_list(NULL, NULL, 'answered', NULL, NULL, NULL, NULL, NULL, NULL)::jsonb #>> '{items,0,score}', '62.50',
  'the list shows it answered, with its score (hr)');
SELECT pg_temp.be('staff.a2', 'staff');
SELECT is((SELECT count(*)::int FROM assessment.survey_answers), 1, 'staff.a2 sees the answer counted for them');
SELECT pg_temp.be('sup.b', 'supervisor');
SELECT is((SELECT count(*)::int FROM assessment.survey_answers), 0, 'a supervisor of another department does not');
SELECT throws_ok(format($$ SELECT api.survey_link_create(%L, repeat('ab', 32)) $$, pg_temp.id('s1')), 'P0002', NULL,
  'nor mints its link');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(pg_temp.err(format($$ SELECT api.survey_link_create(%L, repeat('ab', 32)) $$, pg_temp.id('s1'))) ->> 'state',
  'TXCON', 'an answered send gets no new link: 409');

-- The job: regular sends, reminders, expiry ------------------------------------------------------
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok($$ SELECT assessment.surveys_job('{}') $$, '42501', NULL, 'only the scheduler runs the job');
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', 'system', true),
       set_config('tx.request_id', 'job:test', true);
SELECT is(assessment.surveys_job('{}') - 'today', '{"expired": 0, "revoked": 0, "reminded": 0, "sent": 1}'::jsonb,
  'today: the customer with cases in the last every_months months gets the regular questionnaire');
SELECT is(assessment.surveys_job('{}') - 'today', '{"expired": 0, "revoked": 0, "reminded": 0, "sent": 0}'::jsonb,
  'a second run the same day changes nothing');
SELECT is(pg_temp.err($$ SELECT assessment.surveys_job('{"today": "next monday"}') $$) ->> 'state', '22023',
  'today is YYYY-MM-DD');

-- Regular sends by hr
SELECT pg_temp.be('hr', 'hr');
SELECT is((SELECT (reason, case_id IS NULL, created_by IS NULL) FROM assessment.survey_sends WHERE reason = 'regular'),
  ('regular'::text, true, true), 'a regular send, about no case, by the service');
SELECT is(api.survey_send_create(jsonb_build_object('customer_id', pg_temp.id('cu')))::jsonb ->> 'reason', 'regular',
  'hr sends the regular questionnaire now');
SELECT throws_ok($$ SELECT api.survey_send_create('{"customer_id": "00000000-0000-4000-8000-000000000000"}') $$, 'P0002', NULL,
  'to an unknown customer: 404');
SELECT is(pg_temp.err($$ SELECT api.survey_send_create('{}') $$) ->> 'column', 'case_id', 'a case or a customer');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok(format($$ SELECT api.survey_send_create('{"customer_id": "%s"}') $$, pg_temp.id('cu')), '42501', NULL,
  'staff send no regular questionnaire');

SELECT set_config('tx.user_id', '', true), set_config('tx.roles', 'system', true),
       set_config('tx.request_id', 'job:test', true);
SELECT is(assessment.surveys_job(jsonb_build_object('today', ((now() AT TIME ZONE 'Asia/Taipei')::date + 8)::text)) - 'today',
  '{"expired": 0, "revoked": 0, "reminded": 3, "sent": 0}'::jsonb,
  'eight days on: the three open sends are reminded (reminder_after_days 7)');
SELECT is(assessment.surveys_job(jsonb_build_object('today', ((now() AT TIME ZONE 'Asia/Taipei')::date + 8)::text)) - 'today',
  '{"expired": 0, "revoked": 0, "reminded": 0, "sent": 0}'::jsonb, 'the same day again changes nothing');
SELECT is(assessment.surveys_job(jsonb_build_object('today', ((now() AT TIME ZONE 'Asia/Taipei')::date + 16)::text)) ->> 'reminded',
  '3', 'a week after the reminder, the second');
SELECT is(assessment.surveys_job(jsonb_build_object('today', ((now() AT TIME ZONE 'Asia/Taipei')::date + 24)::text)) ->> 'reminded',
  '0', 'max_reminders is 2');
SELECT is(assessment.surveys_job(jsonb_build_object('today', ((now() AT TIME ZONE 'Asia/Taipei')::date + 31)::text)) - 'today',
  '{"expired": 3, "revoked": 0, "reminded": 0, "sent": 0}'::jsonb, 'after 30 days the open sends expire');
SELECT pg_temp.be('hr', 'hr');
SELECT is((SELECT count(*)::int FROM assessment.survey_sends WHERE expired_at IS NOT NULL AND expired_at >= expires_at), 3,
  'expiry recorded, not before each send''s expires_at');
SELECT is(jsonb_array_length(api.survey_send_list(NULL, NULL, 'expired', NULL, NULL, NULL, NULL, NULL, NULL)::jsonb -> 'items'), 3,
  'the list shows them expired');

-- Response rates: the refusals (periods are part A's; the API test reads a real one)
SELECT is(pg_temp.err($$ SELECT api.survey_response_rates(NULL) $$) ->> 'column', 'period_id', 'period_id is required');
SELECT throws_ok($$ SELECT api.survey_response_rates('00000000-0000-4000-8000-000000000000') $$, 'P0002', NULL,
  'an unknown period is 404');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ SELECT api.survey_response_rates('00000000-0000-4000-8000-000000000000') $$, '42501', NULL,
  'staff read no response rates');

SELECT * FROM finish();
ROLLBACK;
