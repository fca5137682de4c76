-- Module Q, part D (sql/code/assessment/060_outputs.sql): the use of results (Q4). Salary bases
-- (hr only, never overwritten), the arithmetic of the bonus and the promotion rule, training plans
-- (Q4 培訓與發展, R2.4) by hand and their moves, as the runtime role. Run by tests/sql/run as
-- tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(121);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');
\ir lib/session.psql

-- Definitions ------------------------------------------------------------------------------------
SELECT ok(NOT has_table_privilege('tianxing_app', t, 'INSERT,UPDATE,DELETE,TRUNCATE'),
          format('the runtime role writes %s only through the api functions', t))
  FROM unnest(ARRAY['assessment.salary_bases', 'assessment.training_plans']) t;
SELECT is((SELECT p.prosecdef FROM pg_proc p WHERE p.oid = f::regprocedure), false,
          format('%s runs as its caller', f))
  FROM unnest(ARRAY['api.salary_base_list(uuid,integer,text)', 'api.salary_base_add(jsonb)',
                    'api.bonus_list(uuid,integer,text)', 'api.promotion_candidates(uuid,integer,text)',
                    'api.training_plan_list(uuid,text,text,integer,text)', 'api.training_plan_get(uuid)',
                    'api.training_plan_create(jsonb)', 'api.training_propose(uuid)',
                    'api.training_move(uuid,text,jsonb)']) f;
SELECT ok(EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'assessment.salary_bases'::regclass
                     AND tgname = 'salary_bases_append_only' AND tgenabled <> 'D'),
          'salary_bases has its append-only trigger (every writer, the owner''s functions too)');

-- The arithmetic of the bonus (Q4 績效獎金) ----------------------------------------------------------
SELECT pg_temp.be('hr', 'hr');
SELECT is(assessment.bonus_amount(1.5, 40000.00), 60000.00, 'bonus = coefficient x base');
SELECT is(assessment.bonus_amount(1.2, 33333.33), 40000.00, '1.2 x 33333.33 = 39999.996 rounds to 40000.00');
SELECT is(assessment.bonus_amount(0.5, 12345.67), 6172.84, '0.5 x 12345.67 = 6172.835 rounds half up to 6172.84');
SELECT is(assessment.bonus_amount(0, 50000), 0.00, 'a coefficient of 0 gives 0');
SELECT is(assessment.bonus_amount(NULL, 50000), NULL, 'no coefficient, no bonus');
SELECT is(assessment.bonus_amount(1.5, NULL), NULL, 'no base, no bonus');
SELECT is(assessment.money_text(6172.835), '6172.84', 'money goes out as a decimal string, 2 decimals');
SELECT is(assessment.money_text(0), '0.00', 'zero is 0.00');
SELECT is(assessment.money_text(1234567890.5), '1234567890.50', 'ten digits and cents');
SELECT is(assessment.grade_coefficient(org.policy_value('assessment_bonus_coefficients'), 'A'), 1.5,
  'the coefficient of grade A in the initial parameter');
SELECT is(assessment.grade_coefficient(org.policy_value('assessment_bonus_coefficients'), 'E'), 0::numeric,
  'grade E has coefficient 0 (listed, not missing)');
SELECT is(assessment.grade_coefficient(org.policy_value('assessment_bonus_coefficients'), 'Z'), NULL,
  'a grade without a coefficient gives NULL');
SELECT is(assessment.grade_coefficient(org.policy_value('assessment_bonus_coefficients'), NULL), NULL,
  'no grade, no coefficient');

-- The promotion rule (Q4 晉升與調薪) ----------------------------------------------------------------
SELECT is(assessment.promotion_eligible('{"grades": ["A"], "min_months_assessed": 10}', 'A', 10), true,
  'grade A with 10 months assessed is a candidate');
SELECT is(assessment.promotion_eligible('{"grades": ["A"], "min_months_assessed": 10}', 'A', 9), false,
  'grade A with 9 months assessed is not');
SELECT is(assessment.promotion_eligible('{"grades": ["A"], "min_months_assessed": 10}', 'B', 12), false,
  'grade B is not in the rule''s grades');
SELECT is(assessment.promotion_eligible('{"grades": ["A", "B"], "min_months_assessed": 6}', 'B', 6), true,
  'a rule of several grades');
SELECT is(assessment.promotion_eligible('{"grades": ["A"], "min_months_assessed": 0}', NULL, 12), false,
  'no grade is never a candidate');
SELECT is(assessment.promotion_eligible('{"grades": ["A"], "min_months_assessed": 10}', 'A', NULL), false,
  'months assessed unknown is not a candidate');

-- Salary bases: hr only, never overwritten ---------------------------------------------------------
SELECT pg_temp.be('hr', 'hr');
SELECT lives_ok($$ INSERT INTO ids SELECT 'base1', (api.salary_base_add(
  '{"employee_id": "20000000-0000-4000-8000-000000000007", "amount": "40000.00", "effective_from": "2024-01-01", "note": "到職"}') ->> 'id')::uuid $$,
  'hr records a salary base');
SELECT is(api.salary_base_add('{"employee_id": "20000000-0000-4000-8000-000000000007", "amount": "42000.5", "currency": "TWD", "effective_from": "2025-07-01"}')::jsonb
            - 'id' - 'set_at',
          '{"employee_id": "20000000-0000-4000-8000-000000000007", "amount": "42000.50", "currency": "TWD",
            "effective_from": "2025-07-01", "note": null, "set_by": "20000000-0000-4000-8000-000000000002"}'::jsonb,
  'a later base is a new row; the amount goes out as a decimal string');
SELECT is((pg_temp.err($$ SELECT api.salary_base_add('{"employee_id": "20000000-0000-4000-8000-000000000007", "amount": "1.00", "effective_from": "2024-01-01"}') $$)
           -> 'detail' ->> 'existing_id')::uuid, pg_temp.id('base1'),
  'a second base from the same date is a duplicate naming the first (never overwritten)');
SELECT is(pg_temp.err($$ SELECT api.salary_base_add('{"employee_id": "20000000-0000-4000-8000-000000000007", "amount": 40000, "effective_from": "2026-01-01"}') $$) ->> 'column',
  'amount', 'an amount that is a JSON number is refused (money is a decimal string)');
SELECT is(pg_temp.err($$ SELECT api.salary_base_add('{"employee_id": "20000000-0000-4000-8000-000000000007", "amount": "1.234", "effective_from": "2026-01-01"}') $$) ->> 'column',
  'amount', 'three decimals are refused');
SELECT is(pg_temp.err($$ SELECT api.salary_base_add('{"employee_id": "20000000-0000-4000-8000-000000000007", "amount": "-5", "effective_from": "2026-01-01"}') $$) ->> 'column',
  'amount', 'a negative amount is refused');
SELECT is(pg_temp.err($$ SELECT api.salary_base_add('{"employee_id": "20000000-0000-4000-8000-0000000000ff", "amount": "5", "effective_from": "2026-01-01"}') $$) ->> 'column',
  'employee_id', 'an unknown employee is refused');
SELECT is(pg_temp.err($$ SELECT api.salary_base_add('{"employee_id": "20000000-0000-4000-8000-000000000007", "amount": "5", "effective_from": "2026-02-30"}') $$) ->> 'column',
  'effective_from', 'a date that does not exist is refused');
SELECT is(pg_temp.err($$ SELECT api.salary_base_add('{"employee_id": "20000000-0000-4000-8000-000000000007", "amount": "5", "effective_from": "2026-01-01", "bonus": "1"}') $$) ->> 'column',
  'bonus', 'an unknown member is refused');
SELECT throws_ok($$ SELECT api.salary_base_add('{"employee_id": "20000000-0000-4000-8000-000000000002", "amount": "5", "effective_from": "2026-01-01"}') $$,
  '42501', NULL, 'hr does not record their own salary base');
SELECT is((SELECT count(*)::int FROM assessment.salary_bases), 2, 'the refusals wrote nothing');
SELECT is(json_array_length(api.salary_base_list(NULL, NULL, NULL) -> 'items'), 2, 'hr lists the bases');
SELECT is((api.salary_base_list(NULL, 1, NULL) ->> 'next_cursor')::uuid, pg_temp.id('base1'),
  'keyset: the first page of one ends at the oldest base of the employee');
SELECT is(api.salary_base_list(NULL, 1, pg_temp.id('base1')::text) -> 'items' -> 0 ->> 'effective_from',
  '2025-07-01', 'the next page goes on');
SELECT throws_ok($$ SELECT api.salary_base_list(NULL, NULL, 'nope') $$, 'TXVAL', 'cursor: is not a cursor of this list',
  'a malformed cursor is 422 cursor');
SELECT is(json_array_length(api.salary_base_list('20000000-0000-4000-8000-000000000008', NULL, NULL) -> 'items'), 0,
  'the employee filter');

SELECT pg_temp.be('admin', 'admin');
SELECT is((SELECT count(*)::int FROM assessment.salary_bases), 0, 'an administrator sees no salary base');
SELECT pg_temp.be('auditor', 'auditor');
SELECT is((SELECT count(*)::int FROM assessment.salary_bases), 0, 'an auditor sees no salary base');
SELECT throws_ok($$ SELECT api.salary_base_list(NULL, NULL, NULL) $$, '42501', NULL, 'an auditor may not list them');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((SELECT count(*)::int FROM assessment.salary_bases), 0, 'the employee does not see their own base');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT is((SELECT count(*)::int FROM assessment.salary_bases), 0, 'their supervisor does not see it');
SELECT throws_ok($$ SELECT api.salary_base_add('{"employee_id": "20000000-0000-4000-8000-000000000007", "amount": "5", "effective_from": "2026-01-01"}') $$,
  '42501', NULL, 'a supervisor may not record a base');
SELECT pg_temp.be('admin2', 'admin,hr');
SELECT is((SELECT count(*)::int FROM assessment.salary_bases), 2, 'a second hr person sees them');

-- Training plans by hand and their moves (Q4 培訓與發展; R2.4) ---------------------------------------
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT lives_ok($$ INSERT INTO ids SELECT 'tp1', (api.training_plan_create(format(
  '{"employee_id": "20000000-0000-4000-8000-000000000007", "topic": "稅務申報實務", "goal": "獨立完成營業稅申報", "due_on": "%s"}',
  current_date + 60)::jsonb) ->> 'id')::uuid $$, 'the supervisor writes a plan for a report');
SELECT is(api.training_plan_get(pg_temp.id('tp1')) ->> 'status', 'agreed', 'a plan written by a manager starts agreed');
SELECT is(api.training_plan_get(pg_temp.id('tp1')) ->> 'source', 'manual', 'its source is manual');
SELECT throws_ok($$ SELECT api.training_plan_create('{"employee_id": "20000000-0000-4000-8000-000000000009", "topic": "t", "goal": "g", "due_on": "2999-01-01"}') $$,
  '42501', NULL, 'not for someone else''s report');
SELECT throws_ok($$ SELECT api.training_plan_create('{"employee_id": "20000000-0000-4000-8000-000000000005", "topic": "t", "goal": "g", "due_on": "2999-01-01"}') $$,
  '42501', NULL, 'not for oneself');
SELECT is(pg_temp.err($$ SELECT api.training_plan_create('{"employee_id": "20000000-0000-4000-8000-000000000007", "topic": "t", "goal": "g", "due_on": "2001-01-01"}') $$) ->> 'column',
  'due_on', 'a due date in the past is refused');
SELECT is(pg_temp.err($$ SELECT api.training_plan_create('{"employee_id": "20000000-0000-4000-8000-000000000007", "goal": "g", "due_on": "2999-01-01"}') $$) ->> 'column',
  'topic', 'a topic is required');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ SELECT api.training_plan_create('{"employee_id": "20000000-0000-4000-8000-000000000008", "topic": "t", "goal": "g", "due_on": "2999-01-01"}') $$,
  '42501', NULL, 'staff do not write plans');
SELECT is(json_array_length(api.training_plan_list(NULL, NULL, NULL, NULL, NULL) -> 'items'), 1, 'the employee lists their plan');
SELECT pg_temp.be('staff.a2', 'staff');
SELECT is(json_array_length(api.training_plan_list(NULL, NULL, NULL, NULL, NULL) -> 'items'), 0, 'a colleague sees none');
SELECT throws_ok($$ SELECT api.training_plan_get(pg_temp.id('tp1')) $$, 'P0002', 'no such training plan',
  'a colleague''s plan is not found');
SELECT throws_ok($$ SELECT api.training_move(pg_temp.id('tp1'), 'start', '{}') $$, 'P0002', 'no such training plan',
  'nor can they start it');
SELECT pg_temp.be('sup.b', 'supervisor');
SELECT throws_ok($$ SELECT api.training_plan_get(pg_temp.id('tp1')) $$, 'P0002', 'no such training plan',
  'another department''s supervisor does not see it');
SELECT pg_temp.be('risk', 'risk_officer');
SELECT is(json_array_length(api.training_plan_list(NULL, NULL, NULL, NULL, NULL) -> 'items'), 0,
  'the risk officer sees only plans of a risk (R2.4)');
SELECT pg_temp.be('auditor', 'auditor');
SELECT is(json_array_length(api.training_plan_list(NULL, 'agreed', 'manual', NULL, NULL) -> 'items'), 1,
  'the auditor reads every plan; status and source filter');
SELECT is(json_array_length(api.training_plan_list(NULL, 'completed', NULL, NULL, NULL) -> 'items'), 0,
  'the status filter');
SELECT is(pg_temp.err($$ SELECT api.training_plan_list(NULL, 'done', NULL, NULL, NULL) $$) ->> 'column', 'status',
  'an unknown status is 422 status');
SELECT throws_ok($$ SELECT api.training_move(pg_temp.id('tp1'), 'cancel', '{"reason": "x"}') $$, '42501', NULL,
  'the auditor reads, never moves');

SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ SELECT api.training_move(pg_temp.id('tp1'), 'complete', '{"evidence": "e"}') $$, '42501', NULL,
  'the employee does not complete their own plan');
SELECT is(api.training_move(pg_temp.id('tp1'), 'start', '{}') ->> 'status', 'in_progress', 'the employee starts it');
SELECT is(pg_temp.err($$ SELECT api.training_move(pg_temp.id('tp1'), 'start', '{}') $$) -> 'detail' -> 'allowed_actions',
  '[]'::jsonb, 'started twice: 409 with the actions the employee has (none)');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT is(pg_temp.err($$ SELECT api.training_move(pg_temp.id('tp1'), 'complete', '{}') $$) ->> 'column', 'evidence',
  'completing needs the evidence');
SELECT is(pg_temp.err($$ SELECT api.training_move(pg_temp.id('tp1'), 'agree', '{}') $$) ->> 'state', 'TXTRN',
  'agreeing a plan in progress is refused');
SELECT is(api.training_move(pg_temp.id('tp1'), 'complete', '{"evidence": "結業證書 2026-0042", "outcome": "已能獨立申報"}')::jsonb
            - 'id' - 'created_at' - 'updated_at' - 'completed_at' - 'due_on' - 'version' - 'goal' - 'topic',
          '{"employee_id": "20000000-0000-4000-8000-000000000007", "status": "completed", "source": "manual",
            "indicator": null, "assessment_id": null, "risk_id": null, "evidence": "結業證書 2026-0042",
            "outcome": "已能獨立申報", "created_by": "20000000-0000-4000-8000-000000000005",
            "allowed_actions": []}'::jsonb,
  'the supervisor completes it with the evidence');
SELECT is(pg_temp.err($$ SELECT api.training_move(pg_temp.id('tp1'), 'cancel', '{"reason": "r"}') $$) ->> 'state', 'TXTRN',
  'a completed plan cannot be cancelled');
SELECT pg_temp.be('hr', 'hr');
SELECT lives_ok($$ INSERT INTO ids SELECT 'tp2', (api.training_plan_create(format(
  '{"employee_id": "20000000-0000-4000-8000-000000000008", "topic": "客戶溝通", "goal": "g", "due_on": "%s"}',
  (now() AT TIME ZONE 'Asia/Taipei')::date)::jsonb) ->> 'id')::uuid $$, 'hr writes a plan for anyone (due today is allowed)');
SELECT is(pg_temp.err($$ SELECT api.training_move(pg_temp.id('tp2'), 'cancel', '{}') $$) ->> 'column', 'reason',
  'cancelling needs a reason');
SELECT is(api.training_move(pg_temp.id('tp2'), 'cancel', '{"reason": "已調離業務崗位"}') ->> 'outcome', '已調離業務崗位',
  'hr cancels it with the reason, kept as its outcome');
SELECT is(fsm.history('training_plan', pg_temp.id('tp2'), NULL, NULL) -> 'items' -> 0 ->> 'reason', '已調離業務崗位',
  'and in the transition log');
-- One line of the bonus list on rows built here (assessment.bonus_item): the base in force at the
-- period's end, the reasons, the arithmetic. staff.a1's bases: 2024-01-01 40000.00,
-- 2025-07-01 42000.50, and (added now) 2099-01-01 99999.00, not in force for any period below.
SELECT pg_temp.be('hr', 'hr');
SELECT lives_ok($$ SELECT api.salary_base_add('{"employee_id": "20000000-0000-4000-8000-000000000007", "amount": "99999", "effective_from": "2099-01-01"}') $$,
  'setup: a base from 2099');
CREATE FUNCTION pg_temp.per(ends text) RETURNS assessment.periods LANGUAGE sql STABLE AS $$
  SELECT jsonb_populate_record(NULL::assessment.periods, jsonb_build_object(
    'id', '5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d', 'kind', 'month', 'label', left(ends, 7),
    'starts_on', left(ends, 8) || '01', 'ends_on', ends,
    'parameters', jsonb_build_object('assessment_bonus_coefficients',
                                     '[{"grade": "A", "coefficient": 1.5}, {"grade": "B", "coefficient": 1.2}]'::jsonb))) $$;
CREATE FUNCTION pg_temp.asm(emp text, grade text) RETURNS assessment.assessments LANGUAGE sql STABLE AS $$
  SELECT jsonb_populate_record(NULL::assessment.assessments, jsonb_build_object(
    'id', '6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d9e', 'employee_id', pg_temp.emp(emp), 'revision', 1,
    'status', 'published', 'grade', grade, 'composite', 80)) $$;
SELECT is(assessment.bonus_item(pg_temp.asm('staff.a1', 'B'), pg_temp.per('2026-11-30'))::jsonb
            - 'employee_id' - 'assessment_id' - 'department_id' - 'revision' - 'status' - 'composite' - 'employee_name',
          jsonb_build_object('grade', 'B', 'coefficient', 1.2,
            'salary_base', jsonb_build_object('id', (SELECT id FROM assessment.salary_bases WHERE employee_id = pg_temp.emp('staff.a1') AND effective_from = '2025-07-01'),
                                              'amount', '42000.50', 'currency', 'TWD', 'effective_from', '2025-07-01'),
            'bonus', '50400.60', 'currency', 'TWD', 'reason', NULL),
  'grade B in 2026-11: 1.2 x the base in force on 2026-11-30 (42000.50 from 2025-07-01) = 50400.60');
SELECT is(assessment.bonus_item(pg_temp.asm('staff.a1', 'A'), pg_temp.per('2025-06-30')) ->> 'bonus', '60000.00',
  'grade A in 2025-06: 1.5 x the base then in force (40000.00 from 2024-01-01)');
SELECT is(assessment.bonus_item(pg_temp.asm('staff.a1', 'A'), pg_temp.per('2025-07-31')) ->> 'bonus', '63000.75',
  'a base from the first day of the month is in force at its end: 1.5 x 42000.50 = 63000.75');
SELECT is((SELECT jsonb_build_object('bonus', j -> 'bonus', 'reason', j -> 'reason', 'salary_base', j -> 'salary_base')
             FROM (SELECT assessment.bonus_item(pg_temp.asm('staff.a1', 'A'), pg_temp.per('2023-12-31'))::jsonb j) x),
          '{"bonus": null, "reason": "no_salary_base", "salary_base": null}'::jsonb,
  'before any base: listed with bonus null and the reason no_salary_base');
SELECT is(assessment.bonus_item(pg_temp.asm('staff.a1', NULL), pg_temp.per('2026-11-30')) ->> 'reason', 'no_grade',
  'without a grade: reason no_grade (not dropped)');
SELECT is(assessment.bonus_item(pg_temp.asm('staff.a1', 'C'), pg_temp.per('2026-11-30')) ->> 'reason', 'no_coefficient',
  'a grade the period''s coefficients do not list: reason no_coefficient');
SELECT is(assessment.bonus_item(pg_temp.asm('staff.a2', 'A'), pg_temp.per('2026-11-30')) ->> 'reason', 'no_salary_base',
  'an employee without any base: reason no_salary_base');
SELECT pg_temp.be('auditor', 'auditor');
SELECT is((assessment.bonus_item(pg_temp.asm('staff.a1', 'B'), pg_temp.per('2026-11-30')) -> 'salary_base')::jsonb, 'null'::jsonb,
  'the base is read as the caller may: an auditor gets none');

-- A month computed by part A's functions (the job 'assessment.periods'). Nothing is published yet:
-- the list is empty and everything pending (part B's workflow publishes one below).
SELECT pg_temp.be('hr', 'hr');
CREATE TEMP TABLE m AS SELECT to_char(now() AT TIME ZONE 'Asia/Taipei', 'YYYY-MM') AS label;
SELECT is(assessment.periods_job(jsonb_build_object('today',
            (SELECT min(d::date) FROM generate_series(to_date(m.label, 'YYYY-MM') + interval '1 month',
                                                      to_date(m.label, 'YYYY-MM') + interval '1 month 20 days', interval '1 day') d
              WHERE org.is_workday(d::date)))) -> 'opened' -> 0,
          to_jsonb(m.label), 'setup: the job opens and computes this month') FROM m;
INSERT INTO ids SELECT 'pm', p.id FROM assessment.periods p, m WHERE p.label = m.label;
INSERT INTO ids SELECT 'a1m', a.id FROM assessment.assessments a
 WHERE a.period_id = pg_temp.id('pm') AND a.employee_id = pg_temp.emp('staff.a1');
SELECT ok(pg_temp.id('a1m') IS NOT NULL, 'setup: staff.a1 is assessed in the month');
SELECT is(api.bonus_list(pg_temp.id('pm'), NULL, NULL)::jsonb - 'period' - 'pending',
          jsonb_build_object('coefficients', org.policy_value('assessment_bonus_coefficients'),
                             'items', '[]'::jsonb, 'next_cursor', NULL),
  'nothing published: no item; the coefficients are the period''s');
SELECT is((api.bonus_list(pg_temp.id('pm'), NULL, NULL) ->> 'pending')::int,
          (SELECT count(*)::int FROM assessment.assessments WHERE period_id = pg_temp.id('pm')),
  'pending counts the live assessments not yet published');
SELECT throws_ok($$ SELECT api.bonus_list(pg_temp.id('pm'), NULL, 'x') $$, 'TXVAL', 'cursor: is not a cursor of this list',
  'a malformed cursor is 422 cursor');
SELECT throws_ok($$ SELECT api.bonus_list(pg_temp.id('pm'), 0, NULL) $$, 'TXVAL', NULL, 'a limit of 0 is 422');
SELECT throws_ok($$ SELECT api.bonus_list('00000000-0000-4000-8000-0000000000d0', NULL, NULL) $$, 'P0002',
  'no such assessment period', 'an unknown period is not found');
SELECT throws_ok($$ SELECT api.promotion_candidates(pg_temp.id('pm'), NULL, NULL) $$, 'TXCON', NULL,
  'a month has no promotion candidates (the rule is about the year, 409)');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT throws_ok($$ SELECT api.bonus_list(pg_temp.id('pm'), NULL, NULL) $$, '42501', NULL, 'a supervisor may not read the bonus list');
SELECT throws_ok($$ SELECT api.promotion_candidates(pg_temp.id('pm'), NULL, NULL) $$, '42501', NULL, 'nor the candidates');

-- Training proposals from the computed assessment (not yet self-assessed: indicator plans only; no
-- facts in this file, so the expectation is computed from the stored figures).
CREATE TEMP TABLE expect AS
SELECT count(*)::int AS n FROM assessment.indicator_values v, assessment.periods p
 WHERE v.assessment_id = pg_temp.id('a1m') AND p.id = pg_temp.id('pm')
   AND v.figure < (p.parameters -> 'assessment_training_thresholds' ->> v.indicator)::numeric;
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ SELECT api.training_propose(pg_temp.id('a1m')) $$, '42501', NULL, 'the employee does not propose their own training');
SELECT pg_temp.be('sup.b', 'supervisor');
SELECT throws_ok($$ SELECT api.training_propose(pg_temp.id('a1m')) $$, 'P0002', 'no such assessment',
  'another department''s supervisor does not see the assessment');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT is((api.training_propose(pg_temp.id('a1m')) ->> 'created')::int, e.n,
  'the evaluator proposes one plan per indicator under its threshold') FROM expect e;
SELECT is((api.training_propose(pg_temp.id('a1m')) ->> 'created')::int, 0, 'asking again creates nothing (idempotent)');
SELECT is(json_array_length(api.training_propose(pg_temp.id('a1m')) -> 'items'), e.n, 'and answers the same proposals')
  FROM expect e;
SELECT is((SELECT count(*)::int FROM assessment.training_plans
            WHERE assessment_id = pg_temp.id('a1m') AND status = 'proposed' AND created_by IS NULL), e.n,
  'the proposals are proposed, by the service') FROM expect e;
SELECT pg_temp.be('hr', 'hr');
SELECT is((api.training_propose(pg_temp.id('a1m')) ->> 'created')::int, 0, 'HR asking too creates nothing more');

-- With part B's workflow: staff.a1's month goes through self-assessment (naming shortcomings),
-- the supervisor's evaluation (teamwork rating 1: figure 0, under the threshold 50), HR's check
-- and publication; then the bonus list has its line and the proposals the two new plans.
CREATE FUNCTION pg_temp.ver(p uuid) RETURNS int LANGUAGE sql STABLE AS $$
  SELECT version FROM assessment.assessments WHERE id = p $$;
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok($$ SELECT api.assessment_self_assess(pg_temp.id('a1m'), pg_temp.ver(pg_temp.id('a1m')),
  '{"went_well": "準時交付", "shortcomings": "稅法更新掌握不足"}') $$, 'setup: staff.a1 assesses themselves (part B)');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT lives_ok($$ SELECT api.assessment_evaluate(pg_temp.id('a1m'), pg_temp.ver(pg_temp.id('a1m')),
  '{"teamwork_rating": 1, "comment": "需加強協作"}') $$, 'setup: sup.a evaluates (teamwork 1)');
SELECT pg_temp.be('hr', 'hr');
SELECT lives_ok($$ SELECT api.assessment_check(pg_temp.id('a1m'), pg_temp.ver(pg_temp.id('a1m')), '{}') $$, 'setup: HR checks');
SELECT lives_ok($$ SELECT api.assessment_publish(pg_temp.id('a1m'), pg_temp.ver(pg_temp.id('a1m'))) $$, 'setup: HR publishes');
SELECT is((SELECT count(*)::int FROM json_array_elements(api.bonus_list(pg_temp.id('pm'), NULL, NULL) -> 'items') i
            WHERE i ->> 'employee_id' = pg_temp.emp('staff.a1')::text), 1, 'the published assessment has its line');
SELECT is((SELECT i::jsonb - 'employee_name' - 'department_id' - 'salary_base' - 'composite' - 'coefficient' - 'bonus' - 'currency' - 'reason'
             FROM json_array_elements(api.bonus_list(pg_temp.id('pm'), NULL, NULL) -> 'items') i
            WHERE i ->> 'employee_id' = pg_temp.emp('staff.a1')::text),
          jsonb_build_object('employee_id', pg_temp.emp('staff.a1'), 'assessment_id', pg_temp.id('a1m'), 'revision', 1,
                             'status', 'published', 'grade', (SELECT grade FROM assessment.assessments WHERE id = pg_temp.id('a1m'))),
  'its assessment, revision, state and grade');
SELECT is((SELECT i ->> 'bonus' FROM json_array_elements(api.bonus_list(pg_temp.id('pm'), NULL, NULL) -> 'items') i
            WHERE i ->> 'employee_id' = pg_temp.emp('staff.a1')::text),
          assessment.money_text(round(assessment.grade_coefficient(org.policy_value('assessment_bonus_coefficients'),
                                      (SELECT grade FROM assessment.assessments WHERE id = pg_temp.id('a1m'))) * 42000.50, 2)),
  'bonus = the grade''s coefficient x 42000.50 (the base in force at the month''s end, not the one of 2099)');
SELECT is((api.bonus_list(pg_temp.id('pm'), NULL, NULL) ->> 'pending')::int,
          (SELECT count(*)::int - 1 FROM assessment.assessments WHERE period_id = pg_temp.id('pm')), 'one fewer pending');
SELECT is((api.training_propose(pg_temp.id('a1m')) ->> 'created')::int, 2,
  'after the evaluation: the teamwork plan (0 < 50) and the shortcomings plan are new');
SELECT is((SELECT goal FROM assessment.training_plans WHERE assessment_id = pg_temp.id('a1m') AND source = 'shortcoming'),
          format('Work on the shortcomings named in the self-assessment of %s: 稅法更新掌握不足', (SELECT label FROM m)),
  'the shortcomings plan quotes them');
SELECT is((api.training_propose(pg_temp.id('a1m')) ->> 'created')::int, 0, 'and asking again creates nothing');

SELECT * FROM finish();
ROLLBACK;
