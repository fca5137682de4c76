-- Module R, part E (sql/code/risk/080_plans.sql, 090_exercises.sql): emergency plans, versions,
-- drills, events and lessons (R4.1-R4.3) and the job's function risk.plans_job, as the runtime
-- role with claims set: who may read and write, the second person, the job scheduling and
-- flagging drills and lessons once, a revision citing a lesson and its diff.
-- Dates: derived from the company's date when the plan took effect (any day of the year).
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(71);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');
\ir lib/session.psql

-- Definitions ------------------------------------------------------------------------------
SELECT ok(NOT p.prosecdef, format('api.%s is SECURITY INVOKER', p.proname))
  FROM pg_proc p
 WHERE p.pronamespace = 'api'::regnamespace
   AND p.proname IN ('plan_json', 'plan_list', 'plan_get', 'plan_create', 'plan_revise',
                     'plan_version_json', 'plan_version_get', 'plan_version_update',
                     'plan_version_approve', 'plan_version_discard', 'plan_version_diff',
                     'exercise_json', 'plan_exercises', 'exercise_get', 'plan_event',
                     'exercise_hold', 'exercise_cancel', 'exercise_lesson', 'exercise_close_lessons')
 ORDER BY p.proname;
SELECT ok(p.prosecdef AND pg_get_userbyid(p.proowner) = 'tianxing_owner'
          AND p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'],
          format('risk.%s is SECURITY DEFINER, owned by tianxing_owner, search_path pinned', p.proname))
  FROM pg_proc p
 WHERE p.pronamespace = 'risk'::regnamespace
   AND p.proname IN ('plan_create', 'plan_revise', 'plan_version_update', 'plan_version_approve',
                     'plan_version_discard', 'plans_job', 'exercise_hold', 'plan_event',
                     'exercise_cancel', 'exercise_lesson', 'exercise_close_lessons')
 ORDER BY p.proname;
SELECT ok(NOT has_function_privilege('tianxing_app', 'risk.plan_steps_put(uuid, jsonb)', 'EXECUTE'),
  'the runtime role cannot replace a version''s steps behind the writers'' backs');
SELECT ok(NOT has_function_privilege('tianxing_app', 'risk.exercise_record(uuid, risk.plan_versions, jsonb, boolean)', 'EXECUTE'),
  'nor record a drill''s timings');
SELECT ok(NOT has_table_privilege('tianxing_app', 'risk.plan_versions', 'UPDATE')
          AND NOT has_table_privilege('tianxing_app', 'risk.exercises', 'INSERT'),
  'the runtime role only reads the tables');

-- A plan, written by the risk officer ----------------------------------------------------------
SELECT pg_temp.be('risk', 'risk_officer');
INSERT INTO ids SELECT 'plan', (api.plan_create('{
  "code": "pgtap-outage", "title": "Outage", "category": "operational", "drill_every_months": 3,
  "scenarios": [{"code": "db-down", "description": "The database is down"}],
  "procedure": "Assess.\nFall back.\nRestore.",
  "steps": [{"action": "Open the bridge", "responsible_role": "risk_officer", "target_minutes": 10},
            {"action": "Fall back to paper", "responsible_role": "supervisor", "target_minutes": 30}]}') ->> 'id')::uuid;
INSERT INTO ids SELECT 'v1', id FROM risk.plan_versions WHERE plan_id = pg_temp.id('plan');
SELECT is((SELECT status FROM risk.plan_versions WHERE id = pg_temp.id('v1')), 'draft', 'the first version is a draft');
SELECT is((SELECT count(*)::int FROM risk.plan_steps WHERE version_id = pg_temp.id('v1')), 2, 'with its two steps');
SELECT is((pg_temp.err($$ SELECT api.plan_create('{"code": "x", "title": "x", "category": "operational",
  "drill_every_months": 3, "scenarios": [{"code": "a", "description": "a"}], "procedure": "p",
  "steps": [{"action": "a", "responsible_role": "risk_officer", "responsible_id": "20000000-0000-4000-8000-000000000005", "target_minutes": 1}]}') $$)) ->> 'column',
  'steps[0].responsible_role', 'a step with both a role and a person: 422 naming it (R4.1: one responsible)');

SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((SELECT count(*)::int FROM risk.plans WHERE id = pg_temp.id('plan')), 1, 'staff read the plans (R4.1: each knows their part)');
SELECT is((pg_temp.err($$ SELECT api.plan_create('{}') $$)) ->> 'state', '42501', 'staff may not write one');
SELECT pg_temp.anon();
SELECT is((SELECT count(*)::int FROM risk.plans), 0, 'nobody signed in reads nothing');

-- The second person ------------------------------------------------------------------------------
SELECT pg_temp.be('risk', 'risk_officer');
SELECT is((pg_temp.err(format('SELECT api.plan_version_approve(%L, ''{}'')', pg_temp.id('v1')))) ->> 'state', '42501',
  'the drafter may not approve the version');
SELECT is((pg_temp.err(format('SELECT risk.plan_revise(%L, ''{"change_note": "x"}'')', pg_temp.id('plan')))) ->> 'state', 'TXCON',
  'no revision before a version is in force');
SELECT pg_temp.be('admin', 'admin');
SELECT is(api.plan_version_approve(pg_temp.id('v1'), '{}') ->> 'status', 'effective', 'admin, a second person, approves it');
SELECT is((SELECT approved_by FROM risk.plan_versions WHERE id = pg_temp.id('v1')), pg_temp.emp('admin'), 'approved_by is the approver');
SELECT is((SELECT action FROM fsm.log WHERE entity_id = pg_temp.id('v1') ORDER BY at DESC LIMIT 1), 'approve', 'the move is logged');

-- The job: schedules, flags overdue once ----------------------------------------------------------
CREATE TEMP TABLE d AS
SELECT org.company_date(effective_at) AS eff,
       (org.company_date(effective_at) + interval '3 months')::date AS due
  FROM risk.plan_versions WHERE id = pg_temp.id('v1');
SELECT is((risk.plans_job(jsonb_build_object('today', (SELECT eff FROM d))) ->> 'scheduled')::int, 1,
  'the job schedules the first drill');
SELECT is((SELECT due_on FROM risk.exercises WHERE plan_id = pg_temp.id('plan')), (SELECT due FROM d),
  'due drill_every_months after the version took effect (R4.2)');
SELECT is((risk.plans_job(jsonb_build_object('today', (SELECT eff FROM d))) ->> 'scheduled')::int, 0,
  'once (one scheduled drill per plan)');
SELECT is((risk.plans_job(jsonb_build_object('today', (SELECT due FROM d))) ->> 'drills_overdue')::int, 0,
  'not overdue on its due date');
SELECT is((risk.plans_job(jsonb_build_object('today', (SELECT due + 1 FROM d))) ->> 'drills_overdue')::int, 1,
  'overdue the day after, flagged by the job');
SELECT is((risk.plans_job(jsonb_build_object('today', (SELECT due + 5 FROM d))) ->> 'drills_overdue')::int, 0,
  'flagged once');
INSERT INTO ids SELECT 'drill', id FROM risk.exercises WHERE plan_id = pg_temp.id('plan');
SELECT ok((api.plan_get(pg_temp.id('plan')) -> 'drills' ->> 'overdue')::boolean, 'the plan shows its drill overdue');
SELECT is((pg_temp.err($$ SELECT risk.plans_job('{"today": "2026-13-01"}') $$)) ->> 'state', '22023',
  'a today that is not a date fails the run');

-- Holding the drill -------------------------------------------------------------------------------
SELECT pg_temp.be('risk', 'risk_officer');
INSERT INTO ids SELECT 's' || seq, id FROM risk.plan_steps WHERE version_id = pg_temp.id('v1');
SELECT is((pg_temp.err(format('SELECT api.exercise_hold(%L, %L)', pg_temp.id('drill'),
  jsonb_build_object('started_at', api.ts(now() - interval '2 hours'), 'ended_at', api.ts(now() - interval '1 hour'),
                     'findings', 'f', 'steps', jsonb_build_array(jsonb_build_object('step_id', pg_temp.id('s1'), 'took_minutes', 5)))))) ->> 'column',
  'steps', 'a drill times every step (R4.2)');
SELECT is((SELECT count(*)::int FROM risk.exercise_steps WHERE exercise_id = pg_temp.id('drill')), 0, 'and nothing was written');
SELECT is(api.exercise_hold(pg_temp.id('drill'),
  jsonb_build_object('started_at', api.ts(now() - interval '2 hours'), 'ended_at', api.ts(now() - interval '1 hour'),
                     'findings', 'Paper forms missing.', 'scenario', 'db-down',
                     'steps', jsonb_build_array(jsonb_build_object('step_id', pg_temp.id('s1'), 'took_minutes', 5),
                                                jsonb_build_object('step_id', pg_temp.id('s2'), 'took_minutes', 40)))) ->> 'status',
  'held', 'held with every step timed');
SELECT is((SELECT array_agg(met ORDER BY target_minutes) FROM risk.exercise_steps WHERE exercise_id = pg_temp.id('drill')),
  ARRAY[true, false], 'each timing against its target');
SELECT is((SELECT lessons_due_on FROM risk.exercises WHERE id = pg_temp.id('drill')),
  org.company_date(now() - interval '1 hour') + (org.policy_value('risk_schedules') ->> 'lessons_due_days')::int,
  'lessons due risk_schedules.lessons_due_days after it ended (R4.3)');
SELECT is((pg_temp.err(format('SELECT api.exercise_close_lessons(%L, ''{}'')', pg_temp.id('drill')))) -> 'detail' ->> 'guard',
  'risk.exercise_lessons_written', 'no closing before a lesson is written');
SELECT is((risk.plans_job(jsonb_build_object('today', (SELECT lessons_due_on + 1 FROM risk.exercises WHERE id = pg_temp.id('drill')))) ->> 'lessons_overdue')::int,
  1, 'lessons not written by their due date are flagged by the job');
SELECT is((SELECT count(*)::int FROM risk.exercises WHERE plan_id = pg_temp.id('plan') AND status = 'scheduled'), 1,
  'and the next drill is scheduled');
SELECT lives_ok(format('SELECT api.exercise_lesson(%L, %L)', pg_temp.id('drill'),
  '{"lesson": "The paper forms were locked away.", "recommendation": "Keep them at reception; 20 minutes."}'),
  'a lesson is written');
INSERT INTO ids SELECT 'lesson', id FROM risk.lessons WHERE exercise_id = pg_temp.id('drill');

-- A revision citing the lesson, its diff, its approval ------------------------------------------------
INSERT INTO ids SELECT 'v2', (api.plan_revise(pg_temp.id('plan'), jsonb_build_object(
  'change_note', 'Forms at reception; the fallback gets 20 minutes.',
  'lesson_ids', jsonb_build_array(pg_temp.id('lesson')),
  'steps', '[{"action": "Open the bridge", "responsible_role": "risk_officer", "target_minutes": 10},
             {"action": "Fall back to paper", "responsible_role": "supervisor", "target_minutes": 20}]'::jsonb)) ->> 'id')::uuid;
SELECT is((SELECT based_on_id FROM risk.plan_versions WHERE id = pg_temp.id('v2')), pg_temp.id('v1'), 'the revision is based on the version in force');
SELECT is((pg_temp.err(format('SELECT risk.plan_revise(%L, ''{"change_note": "again"}'')', pg_temp.id('plan')))) ->> 'state', 'TXDUP',
  'one draft at a time');
SELECT is(api.plan_version_diff(pg_temp.id('v2'), NULL) -> 'steps' -> 'changed' -> 0 -> 'old' ->> 'target_minutes', '30', 'the diff shows the old target');
SELECT is(api.plan_version_diff(pg_temp.id('v2'), NULL) -> 'steps' -> 'changed' -> 0 -> 'new' ->> 'target_minutes', '20', 'and the new one');
SELECT is(api.plan_version_diff(pg_temp.id('v2'), NULL) -> 'lessons' -> 0 ->> 'id', pg_temp.id('lesson')::text, 'and the lesson it applies');
SELECT is((pg_temp.err(format('SELECT api.plan_version_diff(%L, NULL)', pg_temp.id('v1')))) ->> 'column', 'against',
  'a first version has nothing to be compared with by default');
SELECT pg_temp.be('admin', 'admin');
SELECT is(api.plan_version_approve(pg_temp.id('v2'), '{}') ->> 'status', 'effective', 'the revision takes effect');
SELECT is((SELECT status FROM risk.plan_versions WHERE id = pg_temp.id('v1')), 'superseded', 'the old version is superseded');
SELECT is((SELECT applied_in_id FROM risk.lessons WHERE id = pg_temp.id('lesson')), pg_temp.id('v2'), 'the lesson is applied in it (R4.3)');

SELECT * FROM finish();
ROLLBACK;
