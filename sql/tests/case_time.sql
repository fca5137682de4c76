-- Module P, part F (sql/code/cases/010_calendar.sql, migration 0021): the working-day calendar
-- (weekdays, weekends, holidays and the make-up workdays of 調休), org.is_workday,
-- org.add_workdays, org.workdays_between, cases.deadline_at (the policy value in force, the
-- company's time zone, the end of the due day), and the calendar API's refusals; then the
-- deadlines, the deadlines job and the queues (080_deadlines.sql, 090_queues.sql) across the
-- lives of cases driven through the api functions of parts B-E (request to archive).
-- The calendar used: a Golden Week in 2094 (1 October 2094 is a Friday, as in 2027), far enough
-- ahead that a policy value proposed for it is never in the past:
--   Sun 26 Sep  make-up workday        Fri 1 Oct  holiday     Sat 2, Sun 3 Oct  weekend
--   Mon 4 - Thu 7 Oct  holidays         Fri 8 Oct  weekday     Sat 9 Oct  make-up workday
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(210);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

\ir lib/session.psql

-- The policy parameters of 0021 ------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(org.policy_value('case_deadlines', '2024-01-01'),
  '{"reception_workdays": 1, "approval_workdays": 2, "escalation_response_workdays": 1,
    "review_feedback_workdays": 2, "archiving_workdays": 5}'::jsonb,
  'case_deadlines: the initial value, in force from 2024-01-01');
SELECT is(org.policy_value('company_time_zone', '2024-01-01'), '"Asia/Taipei"'::jsonb,
  'company_time_zone: Asia/Taipei from 2024-01-01');
SELECT is((SELECT array_agg(p.name ORDER BY p.name) FROM org.policy_parameters p
            WHERE p.name IN ('case_deadlines', 'company_time_zone')
              AND org.json_schema_problem(p.schema, org.policy_value(p.name)) IS NULL),
  ARRAY['case_deadlines', 'company_time_zone'], 'both values fit their schemas');
SELECT is(org.json_schema_problem((SELECT schema FROM org.policy_parameters WHERE name = 'case_deadlines'),
                                  '{"reception_workdays": 1, "approval_workdays": 2, "escalation_response_workdays": 1,
                                    "review_feedback_workdays": -1, "archiving_workdays": 5}'),
  ARRAY['value.review_feedback_workdays', 'must be at least 0'], 'case_deadlines: a negative number of days is refused');
SELECT is(org.json_schema_problem((SELECT schema FROM org.policy_parameters WHERE name = 'case_deadlines'),
                                  '{"reception_workdays": 1, "approval_workdays": 2, "escalation_response_workdays": 1,
                                    "review_feedback_workdays": 2}'),
  ARRAY['value.archiving_workdays', 'is required'], 'case_deadlines: every step is required');
SELECT is((org.json_schema_problem((SELECT schema FROM org.policy_parameters WHERE name = 'company_time_zone'),
                                   '"Mars/Olympus"'))[1],
  'value', 'company_time_zone: only the listed zones');

-- The calendar API: setting days ----------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ SELECT api.calendar_set('2094-10-01', '{"kind": "holiday", "name": "國慶日"}') $$,
  '42501', NULL, 'staff may not set a day');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT throws_ok($$ SELECT api.calendar_delete('2094-10-01') $$, '42501', NULL, 'a supervisor may not delete a day');
SELECT throws_ok($$ INSERT INTO org.calendar_days (day, kind, name) VALUES ('2094-10-01', 'holiday', 'x') $$,
  '42501', NULL, 'the runtime role does not write the calendar directly');

SELECT pg_temp.be('admin', 'admin');
SELECT is(api.calendar_set('2094-10-01', '{"kind": "holiday", "name": "國慶日"}')::jsonb,
  '{"day": "2094-10-01", "weekday": "fri", "workday": false, "reason": "holiday", "name": "國慶日", "version": 1}'::jsonb,
  'admin makes a Friday a holiday');
SELECT is((SELECT count(api.calendar_set(d::date::text, '{"kind": "holiday", "name": "國慶日連假"}'))
             FROM generate_series('2094-10-04'::date, '2094-10-07', interval '1 day') d),
  4::bigint, 'Monday to Thursday of the Golden Week are holidays');
SELECT is(api.calendar_set('2094-09-26', '{"kind": "workday", "name": "國慶日補行上班"}')::jsonb ->> 'reason',
  'make_up_workday', 'a Sunday becomes a make-up workday (調休)');
SELECT is(api.calendar_set('2094-10-09', '{"kind": "workday", "name": "補班"}')::jsonb,
  '{"day": "2094-10-09", "weekday": "sat", "workday": true, "reason": "make_up_workday", "name": "補班", "version": 1}'::jsonb,
  'a Saturday becomes a make-up workday');
SELECT is(api.calendar_set('2094-10-09', '{"kind": "workday", "name": "補班"}')::jsonb ->> 'version', '1',
  'setting the same again changes nothing (the version stays)');
SELECT is(api.calendar_set('2094-10-09', '{"kind": "workday", "name": "國慶日補行上班"}')::jsonb ->> 'version', '2',
  'renaming the day is a new version');
SELECT is((SELECT created_by FROM org.calendar_days WHERE day = '2094-10-09'),
  '20000000-0000-4000-8000-000000000001'::uuid, 'the row names who created it');

SELECT throws_ok($$ SELECT api.calendar_set('2094-10-02', '{"kind": "holiday", "name": "週六"}') $$,
  'TXVAL', 'kind: a weekend day is not a working day already: only a make-up workday may be set on it',
  'a holiday on a Saturday restates the default: refused');
SELECT throws_ok($$ SELECT api.calendar_set('2094-10-08', '{"kind": "workday", "name": "上班"}') $$,
  'TXVAL', 'kind: a weekday is a working day already: only a holiday may be set on it',
  'a workday on a weekday restates the default: refused');
SELECT throws_ok($$ SELECT api.calendar_set('2094-10-08', '{"kind": "day_off", "name": "x"}') $$,
  'TXVAL', 'kind: must be workday or holiday', 'an unknown kind');
SELECT throws_ok($$ SELECT api.calendar_set('2094-10-08', '{"kind": "holiday"}') $$,
  'TXVAL', 'name: is required', 'the name is required');
SELECT throws_ok($$ SELECT api.calendar_set('2094-10-08', '{"kind": "holiday", "name": "x", "note": "y"}') $$,
  'TXVAL', 'note: unknown field', 'an unknown member');
SELECT throws_ok($$ SELECT api.calendar_set('2094-02-30', '{"kind": "holiday", "name": "x"}') $$,
  'TXVAL', 'day: must be a date YYYY-MM-DD', 'a day that does not exist');
SELECT throws_ok($$ SELECT api.calendar_set('20941008', '{"kind": "holiday", "name": "x"}') $$,
  'TXVAL', 'day: must be a date YYYY-MM-DD', 'a malformed day');
SELECT is((SELECT count(*) FROM org.calendar_days WHERE day IN ('2094-10-02', '2094-10-08', '2094-02-28')), 0::bigint,
  'nothing was written by the refused calls');

-- DELETE
SELECT is(api.calendar_set('2094-10-08', '{"kind": "holiday", "name": "彈性放假"}')::jsonb ->> 'workday', 'false',
  'a bridge day made a holiday');
SELECT is(api.calendar_delete('2094-10-08')::jsonb,
  '{"day": "2094-10-08", "weekday": "fri", "workday": true, "reason": "weekday", "name": null, "version": null}'::jsonb,
  'deleting it: the Friday is a working day again');
SELECT is(api.calendar_delete('2094-10-08')::jsonb, NULL, 'deleting a day without an exception: NULL (404)');

-- The calendar API: listing ---------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((api.calendar_list('2094-09-24', '2094-10-11')::jsonb - 'items'),
  '{"from": "2094-09-24", "to": "2094-10-11", "time_zone": "Asia/Taipei", "workdays": 9}'::jsonb,
  'staff read a range: 9 working days from 24 Sep to 11 Oct (24, 26-30 Sep, 8, 9, 11 Oct)');
SELECT is((SELECT string_agg(x ->> 'day' || ':' || (x ->> 'reason'), ' ')
             FROM json_array_elements(api.calendar_list('2094-09-30', '2094-10-04') -> 'items') x),
  '2094-09-30:weekday 2094-10-01:holiday 2094-10-02:weekend 2094-10-03:weekend 2094-10-04:holiday',
  'each day says why');
SELECT is(json_array_length(api.calendar_list('2094-01-01', '2094-12-31') -> 'items'), 365, 'a whole year');
SELECT throws_ok($$ SELECT api.calendar_list('2096-01-01', '2097-01-01') $$, 'TXVAL',
  'to: the range may cover at most 366 days', 'more than 366 days: refused');
SELECT throws_ok($$ SELECT api.calendar_list('2094-10-02', '2094-10-01') $$, 'TXVAL',
  'to: must not be before from', 'to before from: refused');
SELECT is(json_array_length(api.calendar_list(NULL, NULL) -> 'items'), 31, 'the default range: today and 30 days');
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', '', true);
SELECT throws_ok($$ SELECT api.calendar_list(NULL, NULL) $$, 'TXAUT', NULL, 'nobody signed in: refused');

-- Working days ----------------------------------------------------------------------------------
SELECT ok(org.is_workday('2094-09-26'), 'a make-up Sunday (調休) is a working day');
SELECT ok(org.is_workday('2094-10-09'), 'a make-up Saturday (調休) is a working day');
SELECT ok(NOT org.is_workday('2094-10-04'), 'a holiday Monday is not');
SELECT ok(org.is_workday('2094-09-27'), 'an ordinary Monday is');
SELECT ok(NOT org.is_workday('2094-10-02'), 'an ordinary Saturday is not');

SELECT is(org.add_workdays('2094-09-30', 0), '2094-09-30'::date, 'n = 0 on a working day: the day itself');
SELECT is(org.add_workdays('2094-10-01', 0), '2094-10-08'::date, 'n = 0 on a holiday: the next working day');
SELECT is(org.add_workdays('2094-09-30', 1), '2094-10-08'::date, 'across the Golden Week: Thursday + 1 = the Friday after');
SELECT is(org.add_workdays('2094-09-30', 2), '2094-10-09'::date, '+ 2 = the make-up Saturday');
SELECT is(org.add_workdays('2094-09-30', 3), '2094-10-11'::date, '+ 3 = the Monday');
SELECT is(org.add_workdays('2094-09-24', 1), '2094-09-26'::date, 'Friday + 1 = the make-up Sunday');
SELECT is(org.add_workdays('2094-10-02', 1), '2094-10-08'::date, 'from a weekend day inside the holidays');
SELECT throws_ok($$ SELECT org.add_workdays('2094-09-30', -1) $$, '22023', NULL, 'n < 0 is refused');
SELECT is(org.add_workdays('2094-09-30', NULL), NULL, 'NULL in, NULL out');
SELECT is(org.workdays_between('2094-01-01', org.add_workdays('2094-01-01', 400)), 400,
  'a long span (400 working days, more than one window) comes back as counted');
SELECT is(org.add_workdays('2094-01-01', org.workdays_between('2094-01-01', '2094-10-11')), '2094-10-11'::date,
  'add_workdays undoes workdays_between (to a working day)');

SELECT is(org.workdays_between('2094-09-30', '2094-10-11'), 3, 'working days in (30 Sep, 11 Oct]: 8, 9, 11 Oct');
SELECT is(org.workdays_between('2094-10-11', '2094-09-30'), -3, 'backwards: negative');
SELECT is(org.workdays_between('2094-10-04', '2094-10-04'), 0, 'the same day: 0');
SELECT is(org.workdays_between('2094-09-24', '2094-09-27'), 2, 'the make-up Sunday counts: 26 and 27 Sep');

-- Deadlines -------------------------------------------------------------------------------------
-- The end of the due working day in Asia/Taipei (UTC+8): the next day's 00:00 there.
SELECT is(cases.deadline_at('reception', '2094-09-30 10:00+08'), '2094-10-09 00:00+08'::timestamptz,
  'reception (1 working day) on the Thursday before the Golden Week: due at the end of 8 Oct');
SELECT is(cases.deadline_at('approval', '2094-09-30 10:00+08'), '2094-10-10 00:00+08'::timestamptz,
  'approval (2): the end of the make-up Saturday');
SELECT is(cases.deadline_at('archiving', '2094-09-30 10:00+08'), '2094-10-14 00:00+08'::timestamptz,
  'archiving (5): 8, 9, 11, 12, 13 Oct');
SELECT is(cases.deadline_at('reception', '2094-09-27 17:00+00'), '2094-09-30 00:00+08'::timestamptz,
  'the day is the company''s: 17:00 UTC on Monday is Tuesday 01:00 in Taipei, due at the end of Wednesday');
SELECT is(cases.due_after_workdays('2094-09-30 23:59+08', 0), '2094-10-01 00:00+08'::timestamptz,
  '0 working days on a working day: the end of that day');
SELECT throws_ok($$ SELECT cases.deadline_at('milestone', now()) $$, '22023', NULL,
  'milestones have their own standard durations');
SELECT throws_ok($$ SELECT cases.deadline_at('reception', '2023-06-01 10:00+08') $$, '22023', NULL,
  'no policy in force before 2024-01-01: an error, not a guess');

-- deadline_at picks the value in force at the start of the clock.
SELECT pg_temp.be('hr', 'hr');
INSERT INTO ids SELECT 'proposal', (api.policy_propose('case_deadlines', '{"value": {"reception_workdays": 3,
  "approval_workdays": 2, "escalation_response_workdays": 1, "review_feedback_workdays": 2, "archiving_workdays": 5},
  "effective_from": "2094-10-01", "reason": "Golden Week backlog"}') ->> 'id')::uuid;
SELECT pg_temp.be('admin', 'admin');
SELECT is(api.policy_decide(pg_temp.id('proposal'), true, NULL) ->> 'status', 'approved', 'a new value from 1 Oct 2094');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(cases.deadline_at('reception', '2094-09-30 10:00+08'), '2094-10-09 00:00+08'::timestamptz,
  'a clock started on 30 Sep keeps the value in force then (1 working day)');
SELECT is(cases.deadline_at('reception', '2094-10-08 10:00+08'), '2094-10-13 00:00+08'::timestamptz,
  'a clock started on 8 Oct takes the new value (3 working days: 9, 11, 12 Oct)');
SELECT is(cases.deadline_at('reception', '2094-09-30 17:00+00'), '2094-10-12 00:00+08'::timestamptz,
  '17:00 UTC on 30 Sep is 1 Oct in Taipei: the new value, from the holiday (8, 9, 11 Oct)');

-- The deadlines job has no signed-in employee: the functions still read the calendar and the policy.
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', 'system', true);
SELECT is(cases.deadline_at('approval', '2094-09-30 10:00+08'), '2094-10-10 00:00+08'::timestamptz,
  'without an employee (the job): the same answer');
SELECT ok(NOT org.is_workday('2094-10-04'), 'without an employee: the calendar is read');

-- Phase 2: deadlines, the deadlines job, the queues (sql/code/cases/080_deadlines.sql,
-- 090_queues.sql): the triggers are in place, who an escalation climbs to, who may run the job,
-- the queues' refusals; then cases driven through the api functions of parts B-E (below).
SELECT has_trigger('fsm', 'log', 'case_deadlines', 'every move of a case is seen by the deadlines (fsm.log)');
SELECT has_trigger('cases', 'cases', 'deadlines_on_receive', 'a received case opens its reception deadline (P1.1)');
SELECT has_trigger('cases', 'work_records', 'deadlines_on_work_record', 'a work record meets its milestone''s deadline (P2.2)');
SELECT has_trigger('cases', 'escalations', 'deadlines_on_escalation', 'an escalation has its deadline (P2.3)');
SELECT has_column('cases', 'deadlines', 'closed_at', 'a deadline may end closed (neither met nor missed)');

-- P2.3: one level up = the supervisor, else a supervisor of the department, else an admin.
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(cases.escalation_next_addressee('20000000-0000-4000-8000-000000000007'),
  '20000000-0000-4000-8000-000000000005'::uuid, 'staff.a1 climbs to their supervisor sup.a');
SELECT is(cases.escalation_next_addressee('20000000-0000-4000-8000-000000000005'),
  '20000000-0000-4000-8000-000000000001'::uuid,
  'sup.a has no supervisor and is department A''s only supervisor: an active admin (the first by username)');
SELECT is(cases.escalation_next_addressee('20000000-0000-4000-8000-000000000001'),
  '20000000-0000-4000-8000-000000000011'::uuid, 'an admin climbs to another admin, never to themselves');
SELECT is(cases.escalation_next_addressee('20000000-0000-4000-8000-000000000012'),
  '20000000-0000-4000-8000-000000000005'::uuid, 'staff.x (no department) climbs to their supervisor');
-- a second supervisor of department A, and sup.a's supervisor made inactive: the department's
-- other supervisor is next
SELECT pg_temp.be('admin', 'admin');
SELECT lives_ok($$ SELECT api.employee_create('{"username": "sup.a2", "display_name": "Supervisor A2",
  "department_id": "10000000-0000-4000-8000-00000000000a", "roles": ["supervisor"]}') $$,
  'a second supervisor for department A');
SELECT is(cases.escalation_next_addressee('20000000-0000-4000-8000-000000000005'),
  (SELECT id FROM org.employees WHERE username = 'sup.a2'),
  'sup.a with a second supervisor in the department: that supervisor before any admin');
SELECT is(cases.escalation_next_addressee('20000000-0000-4000-8000-000000000010'),
  '20000000-0000-4000-8000-000000000005'::uuid, 'the addressee''s own activity does not matter: their supervisor');
SELECT is(cases.escalation_next_addressee('20000000-0000-4000-8000-000000000005',
            ARRAY['20000000-0000-4000-8000-000000000007', '20000000-0000-4000-8000-000000000005']::uuid[]),
  (SELECT id FROM org.employees WHERE username = 'sup.a2'),
  'with the chain (raiser staff.a1, addressee sup.a) excluded: sup.a2');
SELECT is(cases.escalation_next_addressee((SELECT id FROM org.employees WHERE username = 'sup.a2'),
            ARRAY['20000000-0000-4000-8000-000000000007', '20000000-0000-4000-8000-000000000005',
                  (SELECT id FROM org.employees WHERE username = 'sup.a2')]::uuid[]),
  '20000000-0000-4000-8000-000000000001'::uuid,
  'from sup.a2, never back down to sup.a who had it before: up to an admin');
SELECT is(cases.escalation_next_addressee('20000000-0000-4000-8000-000000000011',
            ARRAY['20000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000011']::uuid[]),
  NULL, 'two admins had it: nobody is left above (it stays, overdue)');

-- The job: only the scheduler's identity; bad payloads refused.
SELECT pg_temp.be('admin', 'admin');
SELECT throws_ok($$ SELECT cases.deadlines_sweep(now(), 10) $$, '42501', NULL,
  'an admin may not run a pass of the deadlines job');
SELECT throws_ok($$ SELECT cases.deadlines_job('{}') $$, '42501', NULL,
  'nor the job''s function');
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', 'system', true);
SELECT throws_ok($$ SELECT cases.deadlines_job('{"batch": "many"}') $$, '22023', NULL,
  'the job refuses a batch that is not a number');
SELECT throws_ok($$ SELECT cases.deadlines_job('{"batch": 0}') $$, '22023', NULL,
  'the job refuses a batch of 0');
SELECT throws_ok($$ SELECT cases.deadlines_sweep(now(), 0) $$, '22023', NULL,
  'a pass needs a batch of at least 1');
SELECT is(cases.deadlines_sweep('2000-01-01', 10), '{"marked": 0, "climbed": 0}'::jsonb,
  'nothing was due in 2000: nothing marked');

-- Queues: who may ask, paging input.
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(api.queue_cases(NULL, NULL)::jsonb, '{"items": [], "next_cursor": null}'::jsonb,
  'a staff member with no case: an empty queue');
SELECT is(api.queue_overdue(NULL, NULL)::jsonb, '{"items": [], "next_cursor": null}'::jsonb,
  'nothing overdue');
SELECT is(api.queue_escalations(NULL, NULL)::jsonb, '{"items": [], "next_cursor": null}'::jsonb,
  'no escalation');
SELECT throws_ok($$ SELECT api.queue_approvals(NULL, NULL) $$, '42501', NULL,
  'staff have no approval queue (P1.4: supervisors approve)');
SELECT throws_ok($$ SELECT api.queue_reviews(NULL, NULL) $$, '42501', NULL,
  'staff have no review queue (P3.1: supervisors review)');
SELECT throws_ok($$ SELECT api.queue_cases(NULL, 'not-a-cursor') $$, 'TXVAL', NULL,
  'a malformed cursor is 422');
SELECT throws_ok($$ SELECT api.queue_overdue(0, NULL) $$, 'TXVAL', NULL, 'a limit of 0 is 422');
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok($$ SELECT api.queue_cases(NULL, NULL) $$, '42501', NULL, 'HR has no case queue');
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT is(api.queue_approvals(NULL, NULL)::jsonb, '{"items": [], "next_cursor": null}'::jsonb,
  'a supervisor: nothing submitted in the department yet');
SELECT is((SELECT row(x.rank, x.at, x.id)::text
             FROM cases.queue_cursor_parse(cases.queue_cursor(1, '2094-10-08 10:00:00.123456+08',
                                                               '20000000-0000-4000-8000-000000000007')) x),
  row(1, '2094-10-08 10:00:00.123456+08'::timestamptz, '20000000-0000-4000-8000-000000000007'::uuid)::text,
  'a cursor gives back its rank, instant (to the microsecond) and id');

-- A case's deadlines from its request to its start, driven through part B's api functions; the
-- rest of a case's life (work, escalations, review, delivery, archive) is the second case below.
CREATE FUNCTION pg_temp.dl(p_case uuid, p_kind text) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_agg(jsonb_build_object('owner', d.owner_id, 'dept', d.department_id,
                                      'due', d.due_at, 'met', d.met_at IS NOT NULL,
                                      'closed', d.closed_at IS NOT NULL,
                                      'overdue', d.overdue_at IS NOT NULL) ORDER BY d.due_at)
    FROM cases.deadlines d WHERE d.case_id = p_case AND d.kind = p_kind $$;
INSERT INTO ids VALUES ('cu.t', '4c000000-0000-4000-8000-0000000000f1');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok(format($$ SELECT api.customer_create(%L) $$, jsonb_build_object(
  'id', pg_temp.id('cu.t'), 'name', '黃志明', 'company_name', '星河會計事務所',
  'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', '\x01' || repeat('ef', 59)))),
  'setup: staff.a1 creates a customer');
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT lives_ok($$ INSERT INTO ids SELECT 'type', (api.business_type_create('{"code": "T-TIME", "name": "年度審計",
  "milestones": [{"code": "collect", "name": "收集資料", "standard_days": 3},
                 {"code": "report", "name": "出具報告", "standard_days": 2, "required": false}],
  "checklist": [{"code": "accuracy", "name": "準確性"}, {"code": "compliance", "name": "合規性"},
                {"code": "completeness", "name": "完整性"}]}') ->> 'id')::uuid $$,
  'setup: a business type with two milestones (3 and 2 working days)');

-- P1.1 reception
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok(format($$ INSERT INTO ids SELECT 'c', (api.case_create(%L) ->> 'id')::uuid $$,
  jsonb_build_object('customer_id', pg_temp.id('cu.t'), 'raised_at', api.ts(now() - interval '1 hour'),
                     'channel', 'phone', 'need', '年度審計')), 'staff.a1 receives a request');
SELECT is(pg_temp.dl(pg_temp.id('c'), 'reception'),
  jsonb_build_array(jsonb_build_object('owner', '20000000-0000-4000-8000-000000000007', 'dept', NULL,
     'due', cases.deadline_at('reception', (SELECT received_at FROM cases.cases WHERE id = pg_temp.id('c'))),
     'met', false, 'closed', false, 'overdue', false)),
  'P1.1: a reception deadline for the receiver, reception_workdays after the reception');
SELECT lives_ok(format($$ SELECT api.case_assess(%L, %L) $$, pg_temp.id('c'),
  jsonb_build_object('in_scope', true, 'business_type_id', pg_temp.id('type'))), 'assessed in scope');
SELECT is(pg_temp.dl(pg_temp.id('c'), 'reception') -> 0 ->> 'met', 'true', 'the assessment meets the reception deadline');
SELECT is((SELECT data ->> 'on_time' FROM cases.events WHERE case_id = pg_temp.id('c') AND type = 'deadline.met'),
  'true', 'an event says it was met on time');

-- P1.4 approval
SELECT lives_ok(format($$ SELECT api.case_intake(%L, %s, '{"requirements": "審計 2094 年度報表"}') $$, pg_temp.id('c'),
  (api.case_json(pg_temp.id('c')) ->> 'version')::int),
  'the intake form');
SELECT lives_ok(format($$ SELECT api.case_submit(%L) $$, pg_temp.id('c')), 'submitted');
SELECT is(pg_temp.dl(pg_temp.id('c'), 'approval'),
  jsonb_build_array(jsonb_build_object('owner', NULL, 'dept', '10000000-0000-4000-8000-00000000000a',
     'due', cases.deadline_at('approval', now()), 'met', false, 'closed', false, 'overdue', false)),
  'P1.4: an approval deadline for department A''s supervisors');
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT is((SELECT jsonb_agg(i ->> 'case_id') FROM json_array_elements(api.queue_approvals(NULL, NULL) -> 'items') i),
  jsonb_build_array(pg_temp.id('c')), 'the case is in sup.a''s approval queue');
SELECT is((api.queue_approvals(NULL, NULL) -> 'items' -> 0 ->> 'customer_name'), '黃志明', 'with the customer''s name');
SELECT pg_temp.be('sup.b', 'supervisor');
SELECT is(api.queue_approvals(NULL, NULL)::jsonb -> 'items', '[]'::jsonb, 'not in another department''s queue');

-- The job, at an instant after the approval's due date: marked once, with an event.
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', 'system', true);
SELECT is(cases.deadlines_sweep(now() + interval '30 days', 100), '{"marked": 1, "climbed": 0}'::jsonb,
  'the job marks the overdue approval');
SELECT is(cases.deadlines_sweep(now() + interval '31 days', 100), '{"marked": 0, "climbed": 0}'::jsonb,
  'a second pass marks nothing again (idempotent)');
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT is((SELECT overdue_at FROM cases.deadlines WHERE case_id = pg_temp.id('c') AND kind = 'approval'),
  now() + interval '30 days', 'overdue_at is the instant it was found, not recomputed');
SELECT is((SELECT data ->> 'kind' FROM cases.events WHERE case_id = pg_temp.id('c') AND type = 'deadline.overdue'),
  'approval', 'event deadline.overdue with its kind');
SELECT is((SELECT jsonb_agg(i ->> 'kind') FROM json_array_elements(api.queue_overdue(NULL, NULL) -> 'items') i),
  '["approval"]'::jsonb, 'a supervisor''s overdue queue has the department''s overdue approval');
SELECT pg_temp.be('staff.a2', 'staff');
SELECT is(api.queue_overdue(NULL, NULL)::jsonb -> 'items', '[]'::jsonb, 'not a staff member''s');

-- approve, assign: P2.2 milestone deadlines, cumulative
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT lives_ok(format($$ SELECT api.case_decide(%L, 'approve', '{}') $$, pg_temp.id('c')), 'approved');
SELECT is(pg_temp.dl(pg_temp.id('c'), 'approval') -> 0 ->> 'met', 'true', 'the decision meets the approval deadline');
SELECT is((SELECT data ->> 'on_time' FROM cases.events WHERE case_id = pg_temp.id('c') AND type = 'deadline.met'
            AND data ->> 'kind' = 'approval'), 'false',
  'met late: the job had marked it overdue (the mark decides, whatever the instants of this test say)');
SELECT is((SELECT overdue_at FROM cases.deadlines WHERE case_id = pg_temp.id('c') AND kind = 'approval'),
  now() + interval '30 days', 'met late, the overdue mark stays');
SELECT lives_ok(format($$ SELECT api.case_assign(%L, %L) $$, pg_temp.id('c'),
  jsonb_build_object('lead', '20000000-0000-4000-8000-000000000007', 'members', jsonb_build_array('20000000-0000-4000-8000-000000000008'))),
  'assigned (lead staff.a1, member staff.a2): started');
SELECT is(pg_temp.dl(pg_temp.id('c'), 'milestone'),
  jsonb_build_array(
    jsonb_build_object('owner', '20000000-0000-4000-8000-000000000007', 'dept', NULL,
                       'due', cases.due_after_workdays(now(), 3), 'met', false, 'closed', false, 'overdue', false),
    jsonb_build_object('owner', '20000000-0000-4000-8000-000000000007', 'dept', NULL,
                       'due', cases.due_after_workdays(now(), 5), 'met', false, 'closed', false, 'overdue', false)),
  'P2.2: one deadline per milestone for the lead, at 3 and 3 + 2 working days from the start');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((SELECT jsonb_agg(jsonb_build_object('case', i ->> 'case_id', 'role', i ->> 'role'))
             FROM json_array_elements(api.queue_cases(NULL, NULL) -> 'items') i),
  jsonb_build_array(jsonb_build_object('case', pg_temp.id('c'), 'role', 'lead')), 'in the lead''s case queue');
SELECT pg_temp.be('staff.a2', 'staff');
SELECT is((SELECT jsonb_agg(i ->> 'role') FROM json_array_elements(api.queue_cases(NULL, NULL) -> 'items') i),
  '["member"]'::jsonb, 'in the member''s case queue');
SELECT pg_temp.be('staff.b1', 'staff');
SELECT is(api.queue_cases(NULL, NULL)::jsonb -> 'items', '[]'::jsonb, 'not in anyone else''s');
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', 'system', true);
SELECT is(cases.deadlines_sweep(now() + interval '60 days', 1), '{"marked": 1, "climbed": 0}'::jsonb,
  'a pass takes at most its batch');
SELECT is(cases.deadlines_sweep(now() + interval '60 days', 10), '{"marked": 1, "climbed": 0}'::jsonb,
  'the next pass takes the rest');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((SELECT jsonb_agg(i ->> 'subject_name') FROM json_array_elements(api.queue_overdue(1, NULL) -> 'items') i),
  '["收集資料"]'::jsonb, 'the lead''s overdue queue, one per page: the first milestone');
SELECT is((SELECT jsonb_agg(i ->> 'subject_name') FROM json_array_elements(
            api.queue_overdue(1, api.queue_overdue(1, NULL) ->> 'next_cursor') -> 'items') i),
  '["出具報告"]'::jsonb, 'the next page: the second');
SELECT is(api.queue_overdue(1, api.queue_overdue(1, NULL) ->> 'next_cursor') ->> 'next_cursor', NULL,
  'the last page has no next cursor');

-- The customer withdraws: every open deadline closes (neither met nor missed; overdue marks stay).
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT lives_ok(format($$ SELECT api.case_cancel(%L, '{"reason": "客戶撤回委託"}') $$, pg_temp.id('c')),
  'the case is cancelled');
SELECT is(((pg_temp.dl(pg_temp.id('c'), 'milestone') -> 0) - 'owner') - 'due',
  '{"dept": null, "met": false, "closed": true, "overdue": true}'::jsonb,
  'cancelled: the milestone deadlines are closed, not met; the overdue mark stays');
SELECT is((SELECT count(*)::int FROM cases.deadlines WHERE case_id = pg_temp.id('c') AND met_at IS NULL AND closed_at IS NULL),
  0, 'nothing of a cancelled case stays open');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(api.queue_overdue(NULL, NULL)::jsonb -> 'items', '[]'::jsonb, 'it leaves the lead''s overdue queue');
SELECT is(api.queue_cases(NULL, NULL)::jsonb -> 'items', '[]'::jsonb, 'and the case queue');

-- A request out of scope: the assessment meets the reception deadline; nothing stays open.
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok(format($$ INSERT INTO ids SELECT 'c.out', (api.case_create(%L) ->> 'id')::uuid $$,
  jsonb_build_object('customer_id', pg_temp.id('cu.t'), 'raised_at', api.ts(now() - interval '1 hour'),
                     'channel', 'email', 'need', '購買設備')), 'a second request');
SELECT lives_ok(format($$ SELECT api.case_assess(%L, '{"in_scope": false, "reason": "設備銷售不在業務範圍"}') $$,
  pg_temp.id('c.out')), 'assessed out of scope');
SELECT is((SELECT string_agg(d.kind || ':' || (d.met_at IS NOT NULL) || ':' || (d.closed_at IS NOT NULL), ',')
             FROM cases.deadlines d WHERE d.case_id = pg_temp.id('c.out')),
  'reception:true:false', 'out of scope: the reception deadline met, nothing open');

-- A case's whole life through the api functions of parts B-E ---------------------------------
-- staff.a1 receives and prepares it, sup.a approves and assigns it (lead staff.a1, member sup.a);
-- sup.a records the first milestone in time, staff.a1 the second after the job marked it
-- overdue; the third (optional) is left out; staff.a1 escalates a problem nobody answers until
-- it climbed two levels; sup.a2 (in neither the team nor the records) reviews: fail, then pass;
-- the deliverable is delivered and confirmed; an open escalation holds the archive back.
-- Every instant the job runs at is a deadline's own due instant, read from the table.
CREATE FUNCTION pg_temp.deadline(p_case uuid, p_kind text, p_subject uuid DEFAULT NULL)
  RETURNS cases.deadlines LANGUAGE sql STABLE AS $$
  SELECT * FROM cases.deadlines d WHERE d.case_id = p_case AND d.kind = p_kind
     AND (p_subject IS NULL OR d.subject_id = p_subject)
   ORDER BY d.starts_at DESC, d.id LIMIT 1 $$;
CREATE FUNCTION pg_temp.state(d cases.deadlines) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT concat_ws(' ', CASE WHEN d.met_at IS NOT NULL THEN 'met' WHEN d.closed_at IS NOT NULL THEN 'closed' ELSE 'open' END,
                   CASE WHEN d.overdue_at IS NOT NULL THEN 'overdue' END) $$;
CREATE FUNCTION pg_temp.met_event(p_deadline uuid) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT e.data FROM cases.events e WHERE e.type = 'deadline.met' AND e.data ->> 'deadline_id' = p_deadline::text $$;
CREATE FUNCTION pg_temp.sweep(p_at timestamptz) RETURNS jsonb LANGUAGE sql AS $$
  SELECT cases.deadlines_sweep(p_at, 100)
    FROM (SELECT set_config('tx.user_id', '', true), set_config('tx.roles', 'system', true)) s $$;
CREATE FUNCTION pg_temp.milestone(p_code text) RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT m.id FROM cases.milestones m JOIN cases.cases c ON c.type_version_id = m.type_version_id
   WHERE c.id = pg_temp.id('life') AND m.code = p_code $$;
CREATE FUNCTION pg_temp.record(p_code text) RETURNS json LANGUAGE sql AS $$
  SELECT api.case_work_record_add(pg_temp.id('life'), jsonb_build_object('milestone_code', p_code,
           'content', '工作內容 ' || p_code, 'result', '完成', 'started_at', api.ts(now() + interval '1 millisecond'),
           'finished_at', api.ts(now() + interval '1 millisecond'), 'hours', 1.5)) $$;

SELECT pg_temp.be('admin', 'admin');
INSERT INTO ids SELECT 'sup.a2', id FROM org.employees WHERE username = 'sup.a2';
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT lives_ok($$ INSERT INTO ids SELECT 'type.life', (api.business_type_create('{"code": "T-LIFE", "name": "稅務簽證",
  "milestones": [{"code": "collect", "name": "收集資料", "standard_days": 3},
                 {"code": "draft", "name": "編制底稿", "standard_days": 2},
                 {"code": "extra", "name": "延伸查核", "standard_days": 1, "required": false}],
  "checklist": [{"code": "accuracy", "name": "準確性"}, {"code": "compliance", "name": "合規性"},
                {"code": "completeness", "name": "完整性"}],
  "documents": [{"code": "report", "name": "簽證報告"}]}') ->> 'id')::uuid $$,
  'setup: a type with two required milestones (3, 2 days), an optional one (1 day) and a required document');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok(format($$ INSERT INTO ids SELECT 'life', (api.case_create(%L) ->> 'id')::uuid $$,
  jsonb_build_object('customer_id', pg_temp.id('cu.t'), 'raised_at', api.ts(now() - interval '1 hour'),
                     'channel', 'visit', 'need', '稅務簽證')), 'setup: staff.a1 receives a request');
SELECT lives_ok(format($$ SELECT api.case_assess(%L, %L) $$, pg_temp.id('life'),
  jsonb_build_object('in_scope', true, 'business_type_id', pg_temp.id('type.life'))), 'setup: assessed in scope');
SELECT lives_ok(format($$ SELECT api.case_intake(%L, %s, '{"requirements": "2094 年度稅務簽證"}') $$, pg_temp.id('life'),
  (api.case_json(pg_temp.id('life')) ->> 'version')::int), 'setup: the intake form');
SELECT lives_ok(format($$ SELECT api.case_submit(%L) $$, pg_temp.id('life')), 'setup: submitted');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT lives_ok(format($$ SELECT api.case_decide(%L, 'approve', '{}') $$, pg_temp.id('life')), 'setup: sup.a approves');
SELECT lives_ok(format($$ SELECT api.case_assign(%L, %L) $$, pg_temp.id('life'),
  jsonb_build_object('lead', '20000000-0000-4000-8000-000000000007', 'members', jsonb_build_array('20000000-0000-4000-8000-000000000005'))),
  'setup: assigned to staff.a1 (lead) and sup.a (member): started');

-- P2.2 milestones: met in time, met late
SELECT is((SELECT string_agg(pg_temp.state(d), ',' ORDER BY d.due_at) FROM cases.deadlines d
            WHERE d.case_id = pg_temp.id('life') AND d.kind = 'milestone'), 'open,open,open',
  'three milestone deadlines open');
SELECT lives_ok($$ SELECT pg_temp.record('collect') $$, 'sup.a (member) records the first milestone');
SELECT is(pg_temp.state(pg_temp.deadline(pg_temp.id('life'), 'milestone', pg_temp.milestone('collect'))), 'met',
  'its deadline is met by the record');
SELECT is(pg_temp.met_event((pg_temp.deadline(pg_temp.id('life'), 'milestone', pg_temp.milestone('collect'))).id)
            - 'deadline_id' - 'due_at' - 'subject_id',
  '{"kind": "milestone", "on_time": true, "overdue_at": null}'::jsonb, 'event deadline.met: on time');
SELECT is(pg_temp.sweep((pg_temp.deadline(pg_temp.id('life'), 'milestone', pg_temp.milestone('draft'))).due_at),
  '{"marked": 1, "climbed": 0}'::jsonb, 'the job, at the second milestone''s due instant, marks it overdue');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((SELECT jsonb_agg(i ->> 'subject_name') FROM json_array_elements(api.queue_overdue(NULL, NULL) -> 'items') i),
  '["編制底稿"]'::jsonb, 'in the lead''s overdue queue');
SELECT lives_ok($$ SELECT pg_temp.record('draft') $$, 'staff.a1 records it, late');
SELECT is(pg_temp.state(pg_temp.deadline(pg_temp.id('life'), 'milestone', pg_temp.milestone('draft'))), 'met overdue',
  'met late: the overdue mark stays');
SELECT is(pg_temp.met_event((pg_temp.deadline(pg_temp.id('life'), 'milestone', pg_temp.milestone('draft'))).id) ->> 'on_time',
  'false', 'event deadline.met: late (on_time false)');
SELECT is(api.queue_overdue(NULL, NULL)::jsonb -> 'items', '[]'::jsonb, 'it leaves the overdue queue');

-- P2.3 an escalation nobody answers climbs two levels: sup.a -> sup.a2 -> an admin
SELECT lives_ok(format($$ INSERT INTO ids SELECT 'e1', (api.case_escalation_raise(%L, '{"problem": "客戶遲遲不提供憑證"}') ->> 'id')::uuid $$,
  pg_temp.id('life')), 'staff.a1 escalates a problem');
SELECT is((SELECT row(addressed_to, level, due_at)::text FROM cases.escalations WHERE id = pg_temp.id('e1')),
  row('20000000-0000-4000-8000-000000000005'::uuid, 1, cases.deadline_at('escalation', now()))::text,
  'to staff.a1''s supervisor sup.a, level 1, due after escalation_response_workdays');
SELECT is((SELECT row(owner_id, due_at)::text FROM cases.deadlines WHERE kind = 'escalation' AND subject_id = pg_temp.id('e1')),
  (SELECT row(addressed_to, due_at)::text FROM cases.escalations WHERE id = pg_temp.id('e1')),
  'its deadline: the addressee''s, due with it');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT is((SELECT jsonb_agg(i ->> 'escalation_id') FROM json_array_elements(api.queue_escalations(NULL, NULL) -> 'items') i),
  jsonb_build_array(pg_temp.id('e1')), 'in sup.a''s escalation queue');
SELECT is(pg_temp.sweep((SELECT due_at FROM cases.escalations WHERE id = pg_temp.id('e1'))),
  '{"marked": 1, "climbed": 1}'::jsonb, 'the job at its due instant: marked and climbed');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
INSERT INTO ids SELECT 'e2', id FROM cases.escalations WHERE climbed_from = pg_temp.id('e1');
SELECT is((SELECT row(status)::text FROM cases.escalations WHERE id = pg_temp.id('e1')), '(climbed)', 'level 1 climbed');
SELECT is((SELECT row(addressed_to, level, status, raised_by, problem)::text FROM cases.escalations WHERE id = pg_temp.id('e2')),
  row(pg_temp.id('sup.a2'), 2, 'open', '20000000-0000-4000-8000-000000000007'::uuid, '客戶遲遲不提供憑證')::text,
  'level 2: sup.a2 (sup.a has no supervisor: the department''s other supervisor), same raiser and problem');
SELECT is(pg_temp.state(pg_temp.deadline(pg_temp.id('life'), 'escalation', pg_temp.id('e1'))), 'closed overdue',
  'level 1''s deadline: closed (not met), overdue');
SELECT is(pg_temp.sweep((SELECT due_at FROM cases.escalations WHERE id = pg_temp.id('e2'))),
  '{"marked": 1, "climbed": 1}'::jsonb, 'unanswered again: the job climbs it once more');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
INSERT INTO ids SELECT 'e3', id FROM cases.escalations WHERE climbed_from = pg_temp.id('e2');
SELECT is((SELECT row(addressed_to, level, status)::text FROM cases.escalations WHERE id = pg_temp.id('e3')),
  row('20000000-0000-4000-8000-000000000001'::uuid, 3, 'open')::text,
  'level 3: an admin (not back down to sup.a, who had it at level 1)');
SELECT is((SELECT string_agg(data ->> 'level' || ':' || (data ->> 'to_addressee'), ',' ORDER BY data ->> 'level')
             FROM cases.events WHERE case_id = pg_temp.id('life') AND type = 'escalation.climbed'),
  '2:' || pg_temp.id('sup.a2') || ',3:20000000-0000-4000-8000-000000000001', 'an event escalation.climbed per climb');
SELECT is(pg_temp.state(pg_temp.deadline(pg_temp.id('life'), 'escalation', pg_temp.id('e3'))), 'open',
  'level 3 has its own open deadline');
SELECT is(api.queue_escalations(NULL, NULL)::jsonb -> 'items', '[]'::jsonb, 'it left sup.a''s queue');
SELECT throws_ok(format($$ SELECT api.escalation_resolve(%L, '{"solution": "x"}') $$, pg_temp.id('e1')), 'TXCON', NULL,
  'sup.a can no longer answer level 1: it climbed (409)');
SELECT throws_ok(format($$ SELECT api.escalation_resolve(%L, '{"solution": "x"}') $$, pg_temp.id('e3')), '42501', NULL,
  'nor level 3: not addressed to sup.a (403)');
SELECT pg_temp.be('sup.a2', 'supervisor');
SELECT throws_ok(format($$ SELECT api.escalation_resolve(%L, '{"solution": "x"}') $$, pg_temp.id('e2')), 'TXCON', NULL,
  'sup.a2 can no longer answer level 2');
SELECT pg_temp.be('admin', 'admin');
SELECT is((SELECT jsonb_agg(i ->> 'level') FROM json_array_elements(api.queue_escalations(NULL, NULL) -> 'items') i),
  '["3"]'::jsonb, 'level 3 is in the admin''s escalation queue');
SELECT is(api.escalation_resolve(pg_temp.id('e3'), '{"solution": "由行政協調客戶"}')::jsonb ->> 'status', 'resolved',
  'the admin answers it');
SELECT is(pg_temp.state(pg_temp.deadline(pg_temp.id('life'), 'escalation', pg_temp.id('e3'))), 'met',
  'its deadline is met');

-- P3.3 submission for review: the optional milestone is closed, the review feedback clock starts
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok(format($$ SELECT api.case_submit_review(%L, '{}') $$, pg_temp.id('life')), 'staff.a1 submits for review');
SELECT is(pg_temp.state(pg_temp.deadline(pg_temp.id('life'), 'milestone', pg_temp.milestone('extra'))), 'closed',
  'the optional milestone left out: its deadline closed, neither met nor missed');
SELECT is((SELECT row(owner_id, department_id, due_at, met_at, closed_at)::text FROM cases.deadlines
            WHERE case_id = pg_temp.id('life') AND kind = 'review_feedback'),
  row(NULL::uuid, '10000000-0000-4000-8000-00000000000a'::uuid, cases.deadline_at('review_feedback', now()), NULL::timestamptz, NULL::timestamptz)::text,
  'a review_feedback deadline for department A''s supervisors');
-- P3.1 the reviews queue: an independent supervisor only
SELECT pg_temp.be('sup.a2', 'supervisor');
SELECT is((SELECT jsonb_agg(jsonb_build_object('case', i ->> 'case_id', 'round', i ->> 'review_round'))
             FROM json_array_elements(api.queue_reviews(NULL, NULL) -> 'items') i),
  jsonb_build_array(jsonb_build_object('case', pg_temp.id('life'), 'round', '1')),
  'in sup.a2''s review queue (neither assignee nor author), round 1');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT is(api.queue_reviews(NULL, NULL)::jsonb -> 'items', '[]'::jsonb,
  'not in sup.a''s: a member of the team and the author of a record');
SELECT throws_ok(format($$ SELECT api.case_review_decide(%L, '{"verdicts": []}') $$, pg_temp.id('life')), 'TXDEN', NULL,
  'and sup.a may indeed not decide it (the queue and the guard agree)');
SELECT pg_temp.be('sup.b', 'supervisor');
SELECT is(api.queue_reviews(NULL, NULL)::jsonb -> 'items', '[]'::jsonb, 'nor in another department''s');
SELECT pg_temp.be('sup.a2', 'supervisor');
SELECT is(api.case_review_decide(pg_temp.id('life'), '{"verdicts": [{"criterion": "accuracy", "verdict": "fail", "comment": "金額不符"},
  {"criterion": "compliance", "verdict": "pass"}, {"criterion": "completeness", "verdict": "pass"}], "comment": "請更正金額"}')::jsonb ->> 'case_status',
  'rectifying', 'sup.a2 fails round 1');
SELECT is(pg_temp.state(pg_temp.deadline(pg_temp.id('life'), 'review_feedback')), 'met', 'the failed review meets the feedback deadline');
SELECT is(pg_temp.met_event((pg_temp.deadline(pg_temp.id('life'), 'review_feedback')).id) ->> 'on_time', 'true', 'on time');
SELECT is(api.queue_reviews(NULL, NULL)::jsonb -> 'items', '[]'::jsonb, 'rectifying: out of the review queue');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok(format($$ SELECT api.case_submit_review(%L, '{"rectification_note": "已更正金額"}') $$, pg_temp.id('life')),
  'resubmitted with a rectification note');
SELECT is((SELECT string_agg(pg_temp.state(d), ',' ORDER BY d.met_at IS NULL, d.id) FROM cases.deadlines d
            WHERE d.case_id = pg_temp.id('life') AND d.kind = 'review_feedback'), 'met,open',
  'the resubmission opens a second review_feedback deadline');
SELECT pg_temp.be('sup.a2', 'supervisor');
SELECT is((SELECT jsonb_agg(i ->> 'review_round') FROM json_array_elements(api.queue_reviews(NULL, NULL) -> 'items') i),
  '["2"]'::jsonb, 'round 2 in sup.a2''s review queue');
SELECT is(api.case_review_decide(pg_temp.id('life'), '{"verdicts": [{"criterion": "accuracy", "verdict": "pass"},
  {"criterion": "compliance", "verdict": "pass"}, {"criterion": "completeness", "verdict": "pass"}]}')::jsonb ->> 'case_status',
  'passed', 'sup.a2 passes round 2');
SELECT is((SELECT string_agg(pg_temp.state(d), ',') FROM cases.deadlines d
            WHERE d.case_id = pg_temp.id('life') AND d.kind = 'review_feedback'), 'met,met', 'met by the pass');

-- P3.4, P4.1 delivery and confirmation: the archiving clock starts
SELECT pg_temp.be('staff.a1', 'staff');
INSERT INTO ids SELECT 'deliverable', (api.case_file_add(pg_temp.id('life'), jsonb_build_object('name', '簽證報告.pdf',
  'media_type', 'application/pdf', 'purpose', 'deliverable', 'content', encode(convert_to('報告', 'UTF8'), 'base64'))) ->> 'id')::uuid;
SELECT lives_ok(format($$ SELECT api.case_deliver(%L, %L) $$, pg_temp.id('life'),
  jsonb_build_object('method', 'email', 'file_ids', jsonb_build_array(pg_temp.id('deliverable')))), 'delivered');
SELECT lives_ok(format($$ SELECT api.case_confirmation_record(%L, '{"outcome": "confirmed", "rating": 5, "evidence": "電話確認"}') $$,
  pg_temp.id('life')), 'the customer''s confirmation recorded');
SELECT is((SELECT status FROM cases.cases WHERE id = pg_temp.id('life')), 'confirmed', 'confirmed');
SELECT is((SELECT row(owner_id, due_at, pg_temp.state(d))::text FROM cases.deadlines d
            WHERE case_id = pg_temp.id('life') AND kind = 'archiving'),
  row('20000000-0000-4000-8000-000000000007'::uuid, cases.deadline_at('archiving', now()), 'open')::text,
  'P4.1: an archiving deadline for the lead, archiving_workdays after the confirmation');

-- An open escalation holds the archive back (archived, it could never be answered: P4.2)
SELECT lives_ok(format($$ INSERT INTO ids SELECT 'e4', (api.case_escalation_raise(%L, '{"problem": "客戶要求修改已確認報告"}') ->> 'id')::uuid $$,
  pg_temp.id('life')), 'staff.a1 escalates a problem after the confirmation');
SELECT is(cases.archive_complete(pg_temp.id('life')), false, 'the archive guard refuses');
SELECT throws_ok(format($$ SELECT api.case_archive(%L) $$, pg_temp.id('life')), 'TXTRN',
  format('archive is not possible: the guard cases.archive_complete refused (missing documents: report; open escalations: %s)', pg_temp.id('e4')),
  '409 naming the missing document and the open escalation');
SELECT lives_ok(format($$ SELECT api.case_file_add(%L, '{"name": "報告正本", "purpose": "document", "document_code": "report", "location": "檔案室 B-01"}') $$,
  pg_temp.id('life')), 'the document filed (on paper)');
SELECT throws_ok(format($$ SELECT api.case_archive(%L) $$, pg_temp.id('life')), 'TXTRN',
  format('archive is not possible: the guard cases.archive_complete refused (open escalations: %s)', pg_temp.id('e4')),
  'still 409: the open escalation');
SELECT is((SELECT count(*)::int FROM cases.archives WHERE case_id = pg_temp.id('life')), 0, 'nothing archived');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT lives_ok(format($$ SELECT api.escalation_resolve(%L, '{"solution": "報告不再修改"}') $$, pg_temp.id('e4')),
  'sup.a answers it');

-- P4.1 archived: the archiving deadline met in the archive's transaction, nothing left open
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok(format($$ INSERT INTO ids SELECT 'archived', (api.case_archive(%L) ->> 'case_id')::uuid $$, pg_temp.id('life')),
  'staff.a1 archives the case');
SELECT is(pg_temp.state(pg_temp.deadline(pg_temp.id('life'), 'archiving')), 'met',
  'the archiving deadline is met by the move, before the archive row made the case immutable');
SELECT is((SELECT met_at FROM cases.deadlines WHERE case_id = pg_temp.id('life') AND kind = 'archiving'),
  (SELECT archived_at FROM cases.archives WHERE case_id = pg_temp.id('life')), 'at the archiving instant');
SELECT is(pg_temp.met_event((pg_temp.deadline(pg_temp.id('life'), 'archiving')).id) ->> 'on_time', 'true', 'on time');
SELECT is((SELECT count(*)::int FROM cases.deadlines WHERE case_id = pg_temp.id('life') AND met_at IS NULL AND closed_at IS NULL),
  0, 'no deadline of the archived case is open');
SELECT is((SELECT string_agg(x, ',' ORDER BY x) FROM (SELECT d.kind || ':' || pg_temp.state(d) AS x
             FROM cases.deadlines d WHERE d.case_id = pg_temp.id('life')) y),
  'approval:met,archiving:met,escalation:closed overdue,escalation:closed overdue,escalation:met,escalation:met,'
  || 'milestone:closed,milestone:met,milestone:met overdue,reception:met,review_feedback:met,review_feedback:met',
  'every deadline of the case''s life, with how it ended');
SELECT is(pg_temp.sweep(now() + interval '400 days') - 'climbed', '{"marked": 0}'::jsonb,
  'the job, a year later, finds nothing of it to mark');

SELECT * FROM finish();
ROLLBACK;
