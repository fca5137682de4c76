-- Module Q, part B (sql/code/assessment/040_workflow.sql, migration 0024): the workflow of an
-- assessment (Q2.1, Q2.2, Q3) as the runtime role: who sees which assessment, each step with its
-- refusals (the role 42501, the person = a guard TXTRN naming it, the state TXTRN with
-- allowed_actions, a stale version TXPRE, a bad body TXVAL with nothing written), the rules that
-- bind every writer (a published revision is immutable, also for the owner's functions), and a
-- correction as a new revision decided by a second person.
-- The month assessed is the one that holds today (opened by part A's job function with the first
-- working day after it as "today"), so the file passes on any day; no facts are needed: the
-- indicators are marked and the composite is the teamwork figure.
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(149);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');
\ir lib/session.psql
\ir lib/periods.psql

-- Definitions ------------------------------------------------------------------------------
SELECT ok(NOT p.prosecdef, format('api.%s is SECURITY INVOKER', p.proname))
  FROM pg_proc p
 WHERE p.pronamespace = 'api'::regnamespace
   AND p.proname IN ('assessment_json', 'assessment_get', 'assessment_list', 'assessment_transitions',
                     'assessment_self_assess', 'assessment_evaluate', 'assessment_check',
                     'assessment_return', 'assessment_publish', 'assessment_acknowledge',
                     'assessment_appeal', 'assessment_appeal_decide', 'assessment_correction_propose',
                     'assessment_correction_approve', 'assessment_correction_reject');
SELECT ok(p.prosecdef AND pg_get_userbyid(p.proowner) = 'tianxing_owner'
          AND p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'],
          format('assessment.%s is SECURITY DEFINER, owned by tianxing_owner, search_path pinned', p.proname))
  FROM pg_proc p
 WHERE p.pronamespace = 'assessment'::regnamespace
   AND p.proname IN ('self_assess', 'evaluate', 'check_step', 'return_step', 'publish', 'acknowledge',
                     'appeal', 'appeal_decide', 'propose_correction', 'approve_correction',
                     'reject_correction');
SELECT ok(EXISTS (SELECT FROM pg_trigger WHERE tgrelid = t::regclass AND tgname = n AND tgenabled <> 'D'),
          format('%s has its rules trigger %s (every writer, the owner''s functions too)', t, n))
  FROM (VALUES ('assessment.assessments', 'a_rules'), ('assessment.assessments', 'b_touch'),
               ('assessment.indicator_values', 'indicator_values_rules')) x(t, n);
SELECT is_empty($$ SELECT l FROM fsm.lint() l WHERE l ~ '^assessment:' $$,
  'the assessment machine''s definitions resolve');

-- The month of today, opened and computed by part A's job function --------------------------
CREATE TEMP TABLE m AS
SELECT to_char(now() AT TIME ZONE org.company_time_zone(), 'YYYY-MM') AS label;
SELECT pg_temp.be('hr', 'hr');
SELECT is(assessment.periods_job(jsonb_build_object('today', pg_temp.first_workday_after(m.label))) -> 'opened' -> 0,
          to_jsonb(m.label), 'setup: the job opens today''s month') FROM m;
INSERT INTO ids SELECT 'p', p.id FROM assessment.periods p, m WHERE p.label = m.label;
INSERT INTO ids SELECT 'a1', a.id FROM assessment.assessments a WHERE a.period_id = pg_temp.id('p') AND a.employee_id = pg_temp.emp('staff.a1');
INSERT INTO ids SELECT 'a2', a.id FROM assessment.assessments a WHERE a.period_id = pg_temp.id('p') AND a.employee_id = pg_temp.emp('staff.a2');
INSERT INTO ids SELECT 'b1', a.id FROM assessment.assessments a WHERE a.period_id = pg_temp.id('p') AND a.employee_id = pg_temp.emp('staff.b1');
INSERT INTO ids SELECT 'supa', a.id FROM assessment.assessments a WHERE a.period_id = pg_temp.id('p') AND a.employee_id = pg_temp.emp('sup.a');
SELECT is((SELECT count(*)::int FROM ids WHERE name IN ('a1', 'a2', 'b1', 'supa')), 4,
  'setup: staff.a1, staff.a2, staff.b1 and sup.a (staff too) are assessed');
-- v(name): the row version the caller would send as If-Match (read as the owner's view through hr)
CREATE FUNCTION pg_temp.v(p text) RETURNS int LANGUAGE sql STABLE AS $$
  SELECT version FROM assessment.assessments WHERE id = pg_temp.id(p) $$;
CREATE FUNCTION pg_temp.st(p text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT status FROM assessment.assessments WHERE id = pg_temp.id(p) $$;
INSERT INTO ids VALUES ('none', '7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e');

-- Who sees what (READINGS.md Q) -------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((SELECT array_agg(DISTINCT i ->> 'employee_id') FROM json_array_elements(api.assessment_list(200, NULL, pg_temp.id('p'), NULL, NULL, NULL) -> 'items') i),
  ARRAY[pg_temp.emp('staff.a1')::text], 'staff see their own assessments only');
SELECT throws_ok($$ SELECT api.assessment_get(pg_temp.id('a2')) $$, 'P0002', 'no such assessment',
  'another employee''s assessment does not exist for staff');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT ok((SELECT array_agg(i ->> 'employee_id') FROM json_array_elements(api.assessment_list(200, NULL, pg_temp.id('p'), NULL, NULL, NULL) -> 'items') i)
          @> ARRAY[pg_temp.emp('staff.a1')::text, pg_temp.emp('staff.a2')::text, pg_temp.emp('sup.a')::text],
  'a supervisor sees their reports'' and their own');
SELECT is((SELECT count(*)::int FROM json_array_elements(api.assessment_list(200, NULL, pg_temp.id('p'), NULL, NULL, NULL) -> 'items') i
            WHERE i ->> 'employee_id' = pg_temp.emp('staff.b1')::text), 0, 'not another department''s');
SELECT pg_temp.be('hr', 'hr');
SELECT ok((SELECT count(*) FROM json_array_elements(api.assessment_list(200, NULL, pg_temp.id('p'), NULL, NULL, NULL) -> 'items')) >= 4,
  'hr sees everyone''s');
SELECT is((SELECT count(*)::int FROM json_array_elements(api.assessment_list(200, NULL, pg_temp.id('p'), pg_temp.emp('staff.b1'), NULL, NULL) -> 'items')), 1,
  'filter employee_id');
SELECT is((SELECT count(*)::int FROM json_array_elements(api.assessment_list(200, NULL, pg_temp.id('p'), NULL, '10000000-0000-4000-8000-00000000000b', NULL) -> 'items')), 1,
  'filter department_id (B: staff.b1)');
SELECT is((SELECT count(*)::int FROM json_array_elements(api.assessment_list(200, NULL, pg_temp.id('p'), NULL, NULL, 'published') -> 'items')), 0,
  'filter status');
SELECT throws_ok($$ SELECT api.assessment_list(NULL, NULL, NULL, NULL, NULL, 'nonsense') $$, 'TXVAL', 'status: is not a state of an assessment',
  'an unknown status is 422');
SELECT throws_ok($$ SELECT api.assessment_list(NULL, 'garbage', NULL, NULL, NULL, NULL) $$, 'TXVAL', 'cursor: is not a cursor of this list',
  'a malformed cursor is 422');
-- keyset: pages of one, every assessment once
CREATE TEMP TABLE pages (n int, items json, next text);
DO $$
DECLARE c text; j json; i int := 0;
BEGIN
  LOOP
    j := api.assessment_list(1, c, pg_temp.id('p'), NULL, NULL, NULL);
    i := i + 1;
    INSERT INTO pages VALUES (i, j -> 'items', j ->> 'next_cursor');
    c := j ->> 'next_cursor';
    EXIT WHEN c IS NULL OR i > 50;
  END LOOP;
END $$;
SELECT is((SELECT count(DISTINCT x ->> 'id')::int FROM pages, json_array_elements(items) x),
          (SELECT count(*)::int FROM assessment.assessments WHERE period_id = pg_temp.id('p')),
  'paging by one walks every assessment once');
SELECT pg_temp.be('auditor', 'auditor');
SELECT is((api.assessment_get(pg_temp.id('a1')) ->> 'id')::uuid, pg_temp.id('a1'), 'auditors read every assessment');
SELECT is((api.assessment_get(pg_temp.id('a1')) -> 'allowed_actions')::jsonb, '[]'::jsonb, '... and may do nothing with it');
SELECT pg_temp.be('admin', 'admin');
SELECT throws_ok($$ SELECT api.assessment_list(NULL, NULL, NULL, NULL, NULL, NULL) $$, '42501', NULL,
  'administrators read no one''s assessment');
SELECT throws_ok($$ SELECT api.assessment_get(pg_temp.id('a1')) $$, 'P0002', 'no such assessment', '... not even by id');

-- The document --------------------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(json_array_length(api.assessment_get(pg_temp.id('a1')) -> 'indicators'), 5, 'the document holds the five indicators of Q1');
SELECT is((SELECT array_agg(i ->> 'indicator') FROM json_array_elements(api.assessment_get(pg_temp.id('a1')) -> 'indicators') i),
  ARRAY['completion_rate', 'satisfaction', 'accuracy', 'efficiency', 'teamwork'], '... in the order of Q1');
SELECT is((SELECT i ->> 'marked' FROM json_array_elements(api.assessment_get(pg_temp.id('a1')) -> 'indicators') i WHERE i ->> 'indicator' = 'teamwork'),
  'not_rated', 'teamwork is not rated before the evaluation');
SELECT is((api.assessment_get(pg_temp.id('a1')) -> 'allowed_actions')::jsonb, '["self_assess"]'::jsonb, 'the employee may assess themselves');
SELECT is(api.assessment_get(pg_temp.id('a1')) ->> 'status', 'computed', 'a new assessment is computed');

-- Self-assessment (Q3 自我評估) -------------------------------------------------------------------
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok(format($$ SELECT api.assessment_self_assess(%L, %L, '{"went_well": "x", "shortcomings": "y"}') $$, pg_temp.id('a1'), pg_temp.v('a1')),
  '42501', NULL, 'hr does not self-assess (role)');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT is(pg_temp.err(format($$ SELECT api.assessment_self_assess(%L, %L, '{"went_well": "x", "shortcomings": "y"}') $$, pg_temp.id('a1'), pg_temp.v('a1'))) #>> '{detail,guard}',
  'assessment.is_assessee', 'the supervisor cannot self-assess for the employee (guard is_assessee, 409)');
SELECT pg_temp.be('staff.a2', 'staff');
SELECT throws_ok(format($$ SELECT api.assessment_self_assess(%L, 1, '{"went_well": "x", "shortcomings": "y"}') $$, pg_temp.id('a1')),
  'P0002', 'no such assessment', 'another employee''s assessment is not found');
SELECT throws_ok($$ SELECT api.assessment_self_assess(pg_temp.id('none'), 1, '{}') $$, 'P0002', 'no such assessment', 'an unknown id is not found');
SELECT is(assessment.actions_for(pg_temp.id('a1')), '{}'::text[], 'no actions are told about an assessment one may not read');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok(format($$ SELECT api.assessment_self_assess(%L, %L, '{"went_well": "x", "shortcomings": "y"}') $$, pg_temp.id('a1'), pg_temp.v('a1') - 1 + 100),
  'TXPRE', NULL, 'a stale version is 412');
SELECT throws_ok(format($$ SELECT api.assessment_self_assess(%L, NULL, '{"went_well": "x", "shortcomings": "y"}') $$, pg_temp.id('a1')),
  'TXVAL', NULL, 'the version is required');
SELECT throws_ok(format($$ SELECT api.assessment_self_assess(%L, %L, '{"went_well": "x"}') $$, pg_temp.id('a1'), pg_temp.v('a1')),
  'TXVAL', 'shortcomings: is required', 'shortcomings are required');
SELECT throws_ok(format($$ SELECT api.assessment_self_assess(%L, %L, '{"went_well": "x", "shortcomings": "y", "self_score": 100.5}') $$, pg_temp.id('a1'), pg_temp.v('a1')),
  'TXVAL', 'self_score: must be between 0 and 100', 'a self-score over 100 is refused');
SELECT throws_ok(format($$ SELECT api.assessment_self_assess(%L, %L, '{"went_well": "x", "shortcomings": "y", "self_score": 80.123}') $$, pg_temp.id('a1'), pg_temp.v('a1')),
  'TXVAL', 'self_score: must have at most two decimals', 'a self-score has two decimals at most');
SELECT throws_ok(format($$ SELECT api.assessment_self_assess(%L, %L, '{"went_well": "x", "shortcomings": "y", "mood": 1}') $$, pg_temp.id('a1'), pg_temp.v('a1')),
  'TXVAL', 'mood: unknown field', 'unknown members are refused');
SELECT is(pg_temp.st('a1'), 'computed', '... and nothing was written');
SELECT is(api.assessment_self_assess(pg_temp.id('a1'), pg_temp.v('a1'),
            '{"went_well": "按時完成審計底稿", "shortcomings": "溝通不足", "self_score": 82.5}') -> 'self_assessment' ->> 'went_well',
  '按時完成審計底稿', 'the employee assesses themselves');
SELECT is(pg_temp.st('a1'), 'self_assessed', '... self_assessed');
SELECT is((pg_temp.err(format($$ SELECT api.assessment_self_assess(%L, %L, '{"went_well": "x", "shortcomings": "y"}') $$, pg_temp.id('a1'), pg_temp.v('a1'))) ->> 'state'),
  'TXTRN', 'once only (409)');
SELECT is((pg_temp.err(format($$ SELECT api.assessment_self_assess(%L, %L, '{"went_well": "x", "shortcomings": "y"}') $$, pg_temp.id('a1'), pg_temp.v('a1'))) #> '{detail,allowed_actions}'),
  '[]'::jsonb, '... with allowed_actions (none for the employee now)');

-- Supervisor evaluation (Q3 上級評價) ---------------------------------------------------------------
SELECT pg_temp.be('sup.b', 'supervisor');
SELECT throws_ok(format($$ SELECT api.assessment_evaluate(%L, %L, '{"teamwork_rating": 4}') $$, pg_temp.id('a1'), pg_temp.v('a1')),
  'P0002', 'no such assessment', 'another department''s supervisor does not find it');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok(format($$ SELECT api.assessment_evaluate(%L, %L, '{"teamwork_rating": 5}') $$, pg_temp.id('a1'), pg_temp.v('a1')),
  '42501', NULL, 'staff do not evaluate (role)');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT is(pg_temp.err(format($$ SELECT api.assessment_evaluate(%L, %L, '{"teamwork_rating": 4}') $$, pg_temp.id('a2'), pg_temp.v('a2'))) #>> '{detail,guard}',
  'assessment.evaluator_without_self', 'no evaluation before the self-assessment of an employee still here (guard)');
SELECT is(pg_temp.err(format($$ SELECT api.assessment_evaluate(%L, %L, '{"teamwork_rating": 4}') $$, pg_temp.id('supa'), pg_temp.v('supa'))) ->> 'state',
  'TXTRN', 'a supervisor does not evaluate themselves');
SELECT throws_ok(format($$ SELECT api.assessment_evaluate(%L, %L, '{"teamwork_rating": 6}') $$, pg_temp.id('a1'), pg_temp.v('a1')),
  'TXVAL', 'teamwork_rating: must be between 1 and 5', 'a rating is 1-5');
SELECT throws_ok(format($$ SELECT api.assessment_evaluate(%L, %L, '{"teamwork_rating": 3.5}') $$, pg_temp.id('a1'), pg_temp.v('a1')),
  'TXVAL', 'teamwork_rating: must be a whole number', 'a rating is a whole number');
SELECT throws_ok(format($$ SELECT api.assessment_evaluate(%L, %L, '{"supervisor_score": 80}') $$, pg_temp.id('a1'), pg_temp.v('a1')),
  'TXVAL', 'supervisor_score: unknown field', 'a month takes no supervisor score (that is the year''s)');
SELECT throws_ok(format($$ SELECT api.assessment_evaluate(%L, %L, '{"comment": "ok"}') $$, pg_temp.id('a1'), pg_temp.v('a1')),
  'TXVAL', 'teamwork_rating: is required', 'a month needs the teamwork rating');
SELECT is(pg_temp.st('a1'), 'self_assessed', '... nothing written');
SELECT lives_ok(format($$ SELECT api.assessment_evaluate(%L, %L, '{"teamwork_rating": 4, "comment": "配合良好"}') $$, pg_temp.id('a1'), pg_temp.v('a1')),
  'the supervisor evaluates');
SELECT is(pg_temp.st('a1'), 'evaluated', '... evaluated');
SELECT is((SELECT figure FROM assessment.indicator_values WHERE assessment_id = pg_temp.id('a1') AND indicator = 'teamwork'),
  75.00::numeric, 'the teamwork indicator is (4 - 1) x 25 = 75 (part A''s score)');
SELECT is((SELECT composite FROM assessment.assessments WHERE id = pg_temp.id('a1')), 75.00::numeric,
  'without facts the composite is the teamwork figure (marked indicators'' weights spread)');
SELECT isnt((SELECT evidence_hash FROM assessment.assessments WHERE id = pg_temp.id('a1')), NULL, '... with its evidence hash');

-- An employee who has left is evaluated without a self-assessment (guard evaluator_without_self)
INSERT INTO ids SELECT 'x', a.id FROM assessment.assessments a WHERE a.period_id = pg_temp.id('p') AND a.employee_id = pg_temp.emp('staff.x');
SELECT pg_temp.be('admin', 'admin');
SELECT lives_ok(format($$ SELECT api.employee_set_active(%L, false) $$, pg_temp.emp('staff.x')), 'setup: staff.x leaves');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT is(api.assessment_evaluate(pg_temp.id('x'), pg_temp.v('x'), '{"teamwork_rating": 3}') ->> 'status', 'evaluated',
  'the supervisor evaluates a leaver''s assessment without the self-assessment they can no longer make');

-- HR check or return ---------------------------------------------------------------------------
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT throws_ok(format($$ SELECT api.assessment_check(%L, %L, '{}') $$, pg_temp.id('a1'), pg_temp.v('a1')), '42501', NULL,
  'a supervisor does not check (role)');
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok(format($$ SELECT api.assessment_publish(%L, %L) $$, pg_temp.id('a1'), pg_temp.v('a1')), 'TXTRN', NULL,
  'not published before the check (409)');
SELECT is(pg_temp.err(format($$ SELECT api.assessment_publish(%L, %L) $$, pg_temp.id('a1'), pg_temp.v('a1'))) #> '{detail,allowed_actions}',
  '["check", "return"]'::jsonb, '... allowed_actions says what HR may do');
SELECT throws_ok(format($$ SELECT api.assessment_return(%L, %L, '{}') $$, pg_temp.id('a1'), pg_temp.v('a1')), 'TXVAL', 'reason: is required',
  'a return needs its reason');
SELECT lives_ok(format($$ SELECT api.assessment_return(%L, %L, '{"reason": "評分依據不足，請補充"}') $$, pg_temp.id('a1'), pg_temp.v('a1')),
  'HR returns it to the supervisor');
SELECT is(pg_temp.st('a1'), 'self_assessed', '... self_assessed again');
SELECT is((api.assessment_transitions(pg_temp.id('a1'), NULL, NULL) -> 'items' -> -1 ->> 'reason'), '評分依據不足，請補充',
  'the return''s reason is in the transitions');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT lives_ok(format($$ SELECT api.assessment_evaluate(%L, %L, '{"teamwork_rating": 5}') $$, pg_temp.id('a1'), pg_temp.v('a1')),
  'the supervisor evaluates again');
SELECT is((SELECT figure FROM assessment.indicator_values WHERE assessment_id = pg_temp.id('a1') AND indicator = 'teamwork'),
  100.00::numeric, '... the new rating replaces the old (teamwork 100)');
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok(format($$ SELECT api.assessment_check(%L, %L, '{"note": 5}') $$, pg_temp.id('a1'), pg_temp.v('a1')), 'TXVAL', 'note: must be a string',
  'a note is text');
SELECT throws_ok(format($$ SELECT api.assessment_check(%L, %L, '{}') $$, pg_temp.id('a1'), pg_temp.v('a1') - 1), 'TXPRE', NULL,
  'HR checks the version they read (412 when it changed)');
SELECT is(api.assessment_check(pg_temp.id('a1'), pg_temp.v('a1'), '{"note": "已核對"}') -> 'check' ->> 'note', '已核對', 'HR checks it');
SELECT is(api.assessment_publish(pg_temp.id('a1'), pg_temp.v('a1')) ->> 'status', 'published', 'HR publishes it');

-- A published revision is immutable (trigger, every writer) -----------------------------------
CREATE TEMP TABLE frozen AS
SELECT a.composite, a.grade, a.evidence_hash, a.teamwork_rating, a.went_well,
       (SELECT jsonb_agg(to_jsonb(i) ORDER BY i.indicator) FROM assessment.indicator_values i WHERE i.assessment_id = a.id) AS ind
  FROM assessment.assessments a WHERE a.id = pg_temp.id('a1');
SELECT throws_ok(format($$ SELECT assessment.score(%L) $$, pg_temp.id('a1')), 'TXCON', NULL,
  'the owner''s own scoring function cannot rewrite a published revision''s indicators');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT throws_ok(format($$ SELECT api.assessment_evaluate(%L, %L, '{"teamwork_rating": 1}') $$, pg_temp.id('a1'), pg_temp.v('a1')), 'TXTRN', NULL,
  'no new evaluation of a published assessment (409)');
SELECT throws_ok(format($$ UPDATE assessment.assessments SET composite = 1 WHERE id = %L $$, pg_temp.id('a1')), '42501', NULL,
  'the runtime role writes no assessment row itself');
SELECT pg_temp.be('hr', 'hr');
SELECT is((SELECT row(a.composite, a.grade, a.evidence_hash, a.teamwork_rating, a.went_well)::text FROM assessment.assessments a WHERE a.id = pg_temp.id('a1')),
          (SELECT row(f.composite, f.grade, f.evidence_hash, f.teamwork_rating, f.went_well)::text FROM frozen f),
  'the published figures and steps are as they were');

-- The employee's answer -----------------------------------------------------------------------
SELECT throws_ok(format($$ SELECT api.assessment_acknowledge(%L) $$, pg_temp.id('a1')), '42501', NULL, 'HR does not acknowledge for the employee (role)');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT is(pg_temp.err(format($$ SELECT api.assessment_acknowledge(%L) $$, pg_temp.id('a1'))) #>> '{detail,guard}', 'assessment.is_assessee',
  'nor does the supervisor (guard)');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((api.assessment_get(pg_temp.id('a1')) -> 'allowed_actions')::jsonb, '["acknowledge", "appeal"]'::jsonb, 'the employee may acknowledge or appeal');
SELECT throws_ok(format($$ SELECT api.assessment_appeal(%L, '{"reason": ""}') $$, pg_temp.id('a1')), 'TXVAL', 'reason: must not be empty',
  'an appeal needs its reason');
SELECT is(api.assessment_appeal(pg_temp.id('a1'), '{"reason": "團隊協作評分與實際不符"}') ->> 'status', 'appealed', 'the employee appeals');
SELECT throws_ok(format($$ SELECT api.assessment_acknowledge(%L) $$, pg_temp.id('a1')), 'TXTRN', NULL, 'an appealed result is not acknowledged (409)');
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok(format($$ SELECT api.assessment_appeal_decide(%L, %L, '{"decision": "maybe", "reason": "r"}') $$, pg_temp.id('a1'), pg_temp.v('a1')),
  'TXVAL', 'decision: must be dismiss or uphold', 'a decision is dismiss or uphold');
SELECT throws_ok(format($$ SELECT api.assessment_appeal_decide(%L, %L, '{"decision": "uphold"}') $$, pg_temp.id('a1'), pg_temp.v('a1')),
  'TXVAL', 'reason: is required', '... with its reason');
SELECT is(pg_temp.st('a1'), 'appealed', '... nothing written');
SELECT is(api.assessment_appeal_decide(pg_temp.id('a1'), pg_temp.v('a1'), '{"decision": "uphold", "reason": "評分有誤，應予更正"}') -> 'appeal' ->> 'decision',
  'upheld', 'HR upholds the appeal');
SELECT throws_ok(format($$ SELECT api.assessment_appeal_decide(%L, %L, '{"decision": "dismiss", "reason": "r"}') $$, pg_temp.id('a1'), pg_temp.v('a1')),
  'TXTRN', NULL, 'an appeal is decided once');
SELECT is((SELECT row(a.composite, a.grade, a.evidence_hash, a.teamwork_rating, a.went_well)::text FROM assessment.assessments a WHERE a.id = pg_temp.id('a1')),
          (SELECT row(f.composite, f.grade, f.evidence_hash, f.teamwork_rating, f.went_well)::text FROM frozen f),
  'the answer moved the status only');
SELECT is((SELECT jsonb_agg(to_jsonb(i) ORDER BY i.indicator) FROM assessment.indicator_values i WHERE i.assessment_id = pg_temp.id('a1')),
          (SELECT ind FROM frozen), '... and the indicator rows are unchanged');

-- A correction: revision 2, approved by a second person --------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok(format($$ SELECT api.assessment_correction_propose(%L, %L, '{"reason": "r", "teamwork_rating": 3}') $$, pg_temp.id('a1'), pg_temp.v('a1')),
  '42501', NULL, 'staff do not correct (role)');
SELECT pg_temp.be('hr', 'hr');
SELECT is(pg_temp.err(format($$ SELECT api.assessment_correction_propose(%L, %L, '{"reason": "r", "teamwork_rating": 3}') $$, pg_temp.id('a2'), pg_temp.v('a2'))) ->> 'state',
  'TXTRN', 'only a published revision is corrected (409)');
SELECT throws_ok(format($$ SELECT api.assessment_correction_propose(%L, %L, '{"reason": "r"}') $$, pg_temp.id('a1'), pg_temp.v('a1')),
  'TXVAL', NULL, 'a correction names what it changes');
SELECT throws_ok(format($$ SELECT api.assessment_correction_propose(%L, %L, '{"reason": "r", "teamwork_rating": 0}') $$, pg_temp.id('a1'), pg_temp.v('a1')),
  'TXVAL', 'teamwork_rating: must be between 1 and 5', 'a corrected rating is 1-5');
SELECT throws_ok(format($$ SELECT api.assessment_correction_propose(%L, %L, '{"reason": "r", "recompute": "yes"}') $$, pg_temp.id('a1'), pg_temp.v('a1')),
  'TXVAL', 'recompute: must be true or false', 'recompute is a boolean');
SELECT is((SELECT count(*)::int FROM assessment.assessments WHERE period_id = pg_temp.id('p') AND employee_id = pg_temp.emp('staff.a1')), 1,
  '... nothing written');
INSERT INTO ids SELECT 'a1r2', (api.assessment_correction_propose(pg_temp.id('a1'), pg_temp.v('a1'),
  '{"reason": "申訴成立：團隊協作評分更正", "teamwork_rating": 3}') ->> 'id')::uuid;
SELECT is((SELECT row(revision, status, corrects_id, teamwork_rating, composite)::text FROM assessment.assessments WHERE id = pg_temp.id('a1r2')),
          row(2, 'proposed', pg_temp.id('a1'), 3, 50.00::numeric(5,2))::text,
  'HR proposes revision 2 with the corrected rating: teamwork (3 - 1) x 25 = 50, the composite follows');
SELECT is((SELECT figure FROM assessment.indicator_values WHERE assessment_id = pg_temp.id('a1r2') AND indicator = 'teamwork'), 50.00::numeric,
  '... its own indicator rows');
SELECT is(pg_temp.st('a1'), 'appeal_upheld', 'the old revision stays as it was while the correction waits');
SELECT is((pg_temp.err(format($$ SELECT api.assessment_correction_propose(%L, %L, '{"reason": "again", "teamwork_rating": 2}') $$, pg_temp.id('a1'), pg_temp.v('a1'))) ->> 'state'),
  'TXDUP', 'one correction waits at a time (409)');
SELECT is((pg_temp.err(format($$ SELECT api.assessment_correction_propose(%L, %L, '{"reason": "again", "teamwork_rating": 2}') $$, pg_temp.id('a1'), pg_temp.v('a1'))) #>> '{detail,existing_id}'),
  pg_temp.id('a1r2')::text, '... naming it');
SELECT is(pg_temp.err(format($$ SELECT api.assessment_correction_approve(%L, %L) $$, pg_temp.id('a1r2'), pg_temp.v('a1r2'))) #>> '{detail,guard}',
  'assessment.second_person', 'the proposer does not approve their own correction (guard second_person)');
SELECT is(pg_temp.err(format($$ SELECT api.assessment_correction_reject(%L, %L, '{"reason": "r"}') $$, pg_temp.id('a1r2'), pg_temp.v('a1r2'))) #>> '{detail,guard}',
  'assessment.second_person', '... nor reject it');
SELECT pg_temp.be('admin2', 'admin,hr');
SELECT throws_ok(format($$ SELECT api.assessment_correction_approve(%L, %L) $$, pg_temp.id('a1r2'), pg_temp.v('a1r2') + 1), 'TXPRE', NULL,
  'the second person approves the version they read');
SELECT is(api.assessment_correction_approve(pg_temp.id('a1r2'), pg_temp.v('a1r2')) ->> 'status', 'published',
  'a second HR person approves: revision 2 is published');
SELECT is(pg_temp.st('a1'), 'superseded', '... and revision 1 is superseded');
SELECT is((api.assessment_get(pg_temp.id('a1')) ->> 'superseded_by')::uuid, pg_temp.id('a1r2'), '... by revision 2');
SELECT is((SELECT jsonb_agg(to_jsonb(i) ORDER BY i.indicator) FROM assessment.indicator_values i WHERE i.assessment_id = pg_temp.id('a1')),
          (SELECT ind FROM frozen), 'revision 1 keeps its figures');
SELECT is((SELECT action FROM fsm.log WHERE entity_id = pg_temp.id('a1') ORDER BY id DESC LIMIT 1), 'supersede',
  'the supersession is a move of the old revision (internal, logged)');
-- a second correction, rejected
SELECT pg_temp.be('hr', 'hr');
INSERT INTO ids SELECT 'a1r3', (api.assessment_correction_propose(pg_temp.id('a1r2'), pg_temp.v('a1r2'),
  '{"reason": "重新計算", "recompute": true}') ->> 'id')::uuid;
SELECT is((SELECT row(revision, status, (correction_changes ->> 'recompute'))::text FROM assessment.assessments WHERE id = pg_temp.id('a1r3')),
          row(3, 'proposed', 'true')::text, 'a recomputing correction is revision 3');
SELECT pg_temp.be('admin2', 'admin,hr');
SELECT throws_ok(format($$ SELECT api.assessment_correction_reject(%L, %L, '{}') $$, pg_temp.id('a1r3'), pg_temp.v('a1r3')), 'TXVAL', 'reason: is required',
  'a rejection needs its reason');
SELECT is(api.assessment_correction_reject(pg_temp.id('a1r3'), pg_temp.v('a1r3'), '{"reason": "事實未變"}') -> 'correction' ->> 'decision_reason',
  '事實未變', 'the second person rejects it with a reason');
SELECT is(pg_temp.st('a1r2'), 'published', 'revision 2 stays published');
SELECT throws_ok(format($$ SELECT api.assessment_correction_approve(%L, %L) $$, pg_temp.id('a1r3'), pg_temp.v('a1r3')), 'TXTRN', NULL,
  'a rejected correction is not approved afterwards (409)');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(api.assessment_acknowledge(pg_temp.id('a1r2')) ->> 'status', 'acknowledged', 'the employee acknowledges the corrected result');
SELECT is((SELECT array_agg(action ORDER BY id) FROM fsm.log WHERE entity_id = pg_temp.id('a1')),
  ARRAY['self_assess', 'evaluate', 'return', 'evaluate', 'check', 'publish', 'appeal', 'uphold_appeal', 'supersede'],
  'revision 1''s transitions: the whole walk');
SELECT is(json_array_length(api.assessment_transitions(pg_temp.id('a1'), NULL, NULL) -> 'items'), 9, 'the employee reads them');
SELECT pg_temp.be('staff.a2', 'staff');
SELECT throws_ok($$ SELECT api.assessment_transitions(pg_temp.id('a1'), NULL, NULL) $$, 'P0002', 'no such assessment',
  'another employee does not');

-- The year (Q2.2): a supervisor score, not a teamwork rating ---------------------------------
SELECT pg_temp.be('hr', 'hr');
-- (in December the first call above opened the year already, with the month)
SELECT assessment.periods_job(jsonb_build_object('today', pg_temp.first_workday_after(
         to_char(now() AT TIME ZONE org.company_time_zone(), 'YYYY') || '-12')));
SELECT is((SELECT kind FROM assessment.periods WHERE label = to_char(now() AT TIME ZONE org.company_time_zone(), 'YYYY')),
  'year', 'setup: the job opens the year on the first working day of January');
INSERT INTO ids SELECT 'y1', a.id FROM assessment.assessments a JOIN assessment.periods p ON p.id = a.period_id
 WHERE p.kind = 'year' AND p.label = to_char(now() AT TIME ZONE org.company_time_zone(), 'YYYY') AND a.employee_id = pg_temp.emp('staff.a1');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok(format($$ SELECT api.assessment_self_assess(%L, %L, '{"went_well": "全年穩定", "shortcomings": "效率待提升"}') $$, pg_temp.id('y1'), pg_temp.v('y1')),
  'the employee assesses their year');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT throws_ok(format($$ SELECT api.assessment_evaluate(%L, %L, '{"teamwork_rating": 4}') $$, pg_temp.id('y1'), pg_temp.v('y1')),
  'TXVAL', 'teamwork_rating: unknown field', 'a year takes no teamwork rating');
SELECT throws_ok(format($$ SELECT api.assessment_evaluate(%L, %L, '{"supervisor_score": 100.01}') $$, pg_temp.id('y1'), pg_temp.v('y1')),
  'TXVAL', 'supervisor_score: must be between 0 and 100', 'a supervisor score is 0-100');
SELECT is(api.assessment_evaluate(pg_temp.id('y1'), pg_temp.v('y1'), '{"supervisor_score": 88.5}') -> 'evaluation' ->> 'supervisor_score',
  '88.50', 'the supervisor scores the year');
SELECT isnt((SELECT composite FROM assessment.assessments WHERE id = pg_temp.id('y1')), NULL,
  '... and the annual composite is computed (part A)');

SELECT * FROM finish();
ROLLBACK;
