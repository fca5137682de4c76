// Module R, part E: emergency plans (R4.1), drills (R4.2), real events and lessons (R4.3) through
// the API (src/modules/risk/plans.c, sql/code/risk/080_plans.sql, 090_exercises.sql) and the job
// kind 'risk.plans'. The Done-when: a drill overdue is flagged by the job; a lesson leads
// to a plan revision whose diff shows the change.
//
// Dates: the job is run directly with a payload "today" of the test's choosing (as a catch-up run
// would be), derived at run time from the company's date when the plan took effect: its first
// drill is due drill_every_months later; the day after that, the drill is overdue.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { assertProblem, commonHeadersTest, freshDatabase, lit, pg, waitFor } from './lib/harness.mjs';
import {
  EMP, assertFieldError, assertUnauthorized, call, client, loadFixtures, newSigningKey, ok, ownToken,
  startIdentityService,
} from './lib/identity.mjs';

const DB = 'tx_api_risk_plans';
const owner = (sql) => pg(sql, { db: DB, user: 'tianxing_owner' });
const q = (sql) => pg(sql, { db: DB });
let svc;
let key;
const as = {};
const UNKNOWN = '7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e';

// The job's function under the scheduler's claims (no employee, role system), as the worker runs
// it; returns its JSON result.
const runJob = (payload) => JSON.parse(owner(`BEGIN;
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', 'system', true), set_config('tx.request_id', 'job:test', true);
SELECT risk.plans_job(${lit(JSON.stringify(payload))}::jsonb);
COMMIT;`).split('\n').find((l) => l.startsWith('{')));
const day = (d, n) => q(`SELECT (${lit(d)}::date + ${Number(n)})::text`);
const count = (table) => Number(q(`SELECT count(*) FROM risk.${table}`));

const STEPS = [
  { action: 'Declare the incident and open the bridge', responsible_role: 'risk_officer', target_minutes: 10 },
  { action: 'Switch case intake to the paper fallback', responsible_id: EMP.supA.id, target_minutes: 30 },
  { action: 'Tell the customers with open deliveries', responsible_role: 'supervisor', target_minutes: 60 },
];
const PLAN = {
  code: 'system-outage',
  title: 'Case system outage',
  category: 'operational',
  drill_every_months: 6,
  scenarios: [
    { code: 'db-down', description: 'The database is unreachable', trigger: 'health check fails 3 times' },
    { code: 'network', description: 'The office network is down' },
  ],
  procedure: 'Assess the outage.\nSwitch to the fallback.\nRestore and reconcile.',
  steps: STEPS,
};

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startIdentityService(DB, key);
  loadFixtures(DB);
  for (const [k, e] of Object.entries(EMP)) as[k] = client(svc, ownToken(key, e));
});

describe('emergency plans and versions (R4.1)', () => {
  const s = {};

  test('a risk officer writes a plan: its first version is a draft with scenarios and steps', async () => {
    const res = await as.risk.post('/v1/emergency-plans', PLAN);
    const p = ok(res, 201);
    assert.equal(res.headers.location, `/v1/emergency-plans/${p.id}`);
    assert.equal(res.headers.etag, '"1"');
    assert.equal(p.code, 'system-outage');
    assert.equal(p.owner_id, EMP.risk.id, 'the owner defaults to the author');
    assert.equal(p.effective_version, null, 'nothing is in force before approval');
    assert.equal(p.versions.length, 1);
    assert.equal(p.versions[0].status, 'draft');
    assert.equal(p.drills.next_due_on, null, 'no drill before the plan is in force');
    s.plan = p.id;
    s.v1 = p.draft_version_id;
    const v = ok(await as.staffA1.get(`/v1/plan-versions/${s.v1}`));
    assert.equal(v.number, 1);
    assert.deepEqual(v.steps.map((x) => [x.seq, x.target_minutes]), [[1, 10], [2, 30], [3, 60]]);
    assert.equal(v.steps[1].responsible_id, EMP.supA.id);
    assert.equal(v.steps[0].responsible_role, 'risk_officer');
    assert.deepEqual(v.scenarios[1], { code: 'network', description: 'The office network is down' });
    assert.deepEqual(v.allowed_actions, [], 'staff may do nothing with it');
    s.steps1 = v.steps;
  });

  test('who may write: staff, supervisors, hr and auditors are refused (403); no token: 401', async () => {
    for (const k of ['staffA1', 'supA', 'hr', 'auditor']) {
      assertProblem(await as[k].post('/v1/emergency-plans', { ...PLAN, code: `x-${k.toLowerCase()}` }), 403, 'forbidden');
    }
    assertUnauthorized(await call(svc, 'GET', '/v1/emergency-plans'), { invalid: false });
    assert.equal(count('plans'), 1);
  });

  test('bad input is 422 naming the member, and writes nothing', async () => {
    const before = [count('plans'), count('plan_versions'), count('plan_steps')];
    const bad = [
      [{ ...PLAN, code: 'Bad Code' }, 'code'],
      [{ ...PLAN, code: 'x1', category: 'weather' }, 'category'],
      [{ ...PLAN, code: 'x2', drill_every_months: 0 }, 'drill_every_months'],
      [{ ...PLAN, code: 'x3', scenarios: [] }, 'scenarios'],
      [{ ...PLAN, code: 'x4', scenarios: [PLAN.scenarios[0], PLAN.scenarios[0]] }, 'scenarios[1].code'],
      [{ ...PLAN, code: 'x5', steps: [{ ...STEPS[0], responsible_id: EMP.supA.id }] }, 'steps[0].responsible_role'],
      [{ ...PLAN, code: 'x6', steps: [STEPS[0], { ...STEPS[1], target_minutes: 0 }] }, 'steps[1].target_minutes'],
      [{ ...PLAN, code: 'x7', steps: [{ ...STEPS[1], responsible_id: EMP.gone.id }] }, 'steps[0].responsible_id'],
      [{ ...PLAN, code: 'x8', colour: 'red' }, 'colour'],
    ];
    for (const [body, field] of bad) assertFieldError(await as.risk.post('/v1/emergency-plans', body), field);
    assert.deepEqual([count('plans'), count('plan_versions'), count('plan_steps')], before);
  });

  test('a code in use: 409 conflict with existing_id', async () => {
    const p = assertProblem(await as.admin.post('/v1/emergency-plans', PLAN), 409, 'conflict');
    assert.equal(p.existing_id, s.plan);
  });

  test('unknown ids: 404', async () => {
    assertProblem(await as.risk.get(`/v1/emergency-plans/${UNKNOWN}`), 404, 'not_found');
    assertProblem(await as.risk.get(`/v1/plan-versions/${UNKNOWN}`), 404, 'not_found');
    assertProblem(await as.admin.post(`/v1/plan-versions/${UNKNOWN}/approve`, {}), 404, 'not_found');
    assertProblem(await as.risk.get(`/v1/exercises/${UNKNOWN}`), 404, 'not_found');
  });

  test('a draft is changed with If-Match; the drafter may not approve it (a second person does)', async () => {
    const v = ok(await as.risk.get(`/v1/plan-versions/${s.v1}`));
    assertProblem(await as.risk.patch(`/v1/plan-versions/${s.v1}`, { procedure: 'x' }, { headers: { 'If-Match': '"99"' } }),
      412, 'precondition_failed');
    assertFieldError(await as.risk.patch(`/v1/plan-versions/${s.v1}`, { change_note: 'first' },
      { headers: { 'If-Match': `"${v.version}"` } }), 'change_note');
    const res = await as.risk.patch(`/v1/plan-versions/${s.v1}`, { procedure: PLAN.procedure + '\nReport to the board.' },
      { headers: { 'If-Match': `"${v.version}"` } });
    const u = ok(res);
    assert.equal(u.version, v.version + 1);
    assert.equal(res.headers.etag, `"${v.version + 1}"`);
    assert.match(u.procedure, /Report to the board\.$/);
    s.steps1 = u.steps;
    assertProblem(await as.risk.post(`/v1/plan-versions/${s.v1}/approve`, {}), 403, 'forbidden');
    assertProblem(await as.staffA1.post(`/v1/plan-versions/${s.v1}/approve`, {}), 403, 'forbidden');
    assert.equal(q(`SELECT status FROM risk.plan_versions WHERE id = ${lit(s.v1)}`), 'draft');
  });

  test('admin approves: the version is effective, the plan shows it', async () => {
    const v = ok(await as.admin.post(`/v1/plan-versions/${s.v1}/approve`, { reason: 'reviewed with IT' }));
    assert.equal(v.status, 'effective');
    assert.equal(v.approved_by, EMP.admin.id);
    assert.ok(v.effective_at);
    const p = ok(await as.staffA1.get(`/v1/emergency-plans/${s.plan}`));
    assert.equal(p.effective_version.id, s.v1);
    assert.equal(p.draft_version_id, null);
    s.effectiveOn = q(`SELECT org.company_date(effective_at)::text FROM risk.plan_versions WHERE id = ${lit(s.v1)}`);
  });

  test('an effective version is not approved again nor edited: 409 invalid_transition', async () => {
    const p = assertProblem(await as.admin.post(`/v1/plan-versions/${s.v1}/approve`, {}), 409, 'invalid_transition');
    assert.equal(p.state, 'effective');
    assert.deepEqual(p.allowed_actions, []);
    const e = assertProblem(await as.risk.patch(`/v1/plan-versions/${s.v1}`, { procedure: 'x' }, { headers: { 'If-Match': '"3"' } }),
      409, 'invalid_transition');
    assert.equal(e.state, 'effective');
    assertProblem(await as.admin.post(`/v1/plan-versions/${s.v1}/discard`, {}), 409, 'invalid_transition');
  });

  test('the list: everyone signed in, by code, keyset, filters checked', async () => {
    ok(await as.admin.post('/v1/emergency-plans', { ...PLAN, code: 'credit-default', category: 'credit', title: 'A large customer defaults' }), 201);
    const one = ok(await as.staffB1.get('/v1/emergency-plans?limit=1'));
    assert.deepEqual(one.items.map((x) => x.code), ['credit-default']);
    assert.equal(one.next_cursor, 'credit-default');
    const two = ok(await as.staffB1.get(`/v1/emergency-plans?limit=1&cursor=${one.next_cursor}`));
    assert.deepEqual(two.items.map((x) => x.code), ['system-outage']);
    assert.equal(two.next_cursor, null);
    assert.deepEqual(ok(await as.auditor.get('/v1/emergency-plans?category=credit')).items.map((x) => x.code), ['credit-default']);
    assertFieldError(await as.auditor.get('/v1/emergency-plans?category=weather'), 'category');
    assertFieldError(await as.auditor.get('/v1/emergency-plans?cursor=%20x'), 'cursor');
  });

  describe('drills (R4.2): the job schedules them and flags one overdue', () => {
    test('the schedule exists: daily at 02:30 company time', () => {
      assert.equal(q(`SELECT kind || ' ' || calendar FROM jobs.schedules WHERE name = 'risk.plans'`), 'risk.plans daily 02:30');
    });

    test('the job schedules the first drill drill_every_months after the plan took effect', () => {
      s.due = q(`SELECT (${lit(s.effectiveOn)}::date + interval '6 months')::date::text`);
      const r = runJob({ today: s.effectiveOn });
      assert.deepEqual(r, { today: s.effectiveOn, scheduled: 1, drills_overdue: 0, lessons_overdue: 0 },
        'only the plan in force gets one (the other has only a draft)');
      assert.deepEqual(runJob({ today: s.effectiveOn }), { today: s.effectiveOn, scheduled: 0, drills_overdue: 0, lessons_overdue: 0 },
        'idempotent');
      assert.equal(q(`SELECT due_on::text FROM risk.exercises WHERE plan_id = ${lit(s.plan)}`), s.due);
    });

    test('on its due date it is not overdue yet; the day after, the job flags it, once', async () => {
      assert.equal(runJob({ today: s.due }).drills_overdue, 0);
      let p = ok(await as.staffA1.get(`/v1/emergency-plans/${s.plan}`));
      assert.equal(p.drills.next_due_on, s.due);
      assert.equal(p.drills.overdue, false);
      const r = runJob({ today: day(s.due, 1) });
      assert.equal(r.drills_overdue, 1);
      assert.equal(runJob({ today: day(s.due, 2) }).drills_overdue, 0, 'flagged once');
      p = ok(await as.staffA1.get(`/v1/emergency-plans/${s.plan}`));
      assert.equal(p.drills.overdue, true);
      assert.ok(p.drills.overdue_at);
      s.drill = p.drills.next_id;
      const list = ok(await as.auditor.get(`/v1/emergency-plans/${s.plan}/exercises?kind=drill`));
      assert.equal(list.items.length, 1);
      assert.equal(list.items[0].id, s.drill);
      assert.equal(list.items[0].overdue, true);
      assert.equal(list.items[0].status, 'scheduled');
      assert.deepEqual(ok(await as.risk.get(`/v1/exercises/${s.drill}`)).allowed_actions, ['cancel', 'hold']);
    });

    test('a payload whose today is not a date fails the run', () => {
      assert.throws(() => runJob({ today: '2026-02-30' }), /today must be a date/);
      assert.throws(() => runJob({ today: 20260201 }), /today must be a date/);
    });

    test('holding a drill: every step timed (422 otherwise), staff refused; timings against targets', async () => {
      const started = new Date(Date.now() - 3 * 3600e3).toISOString();
      const ended = new Date(Date.now() - 3600e3).toISOString();
      const timings = [
        { step_id: s.steps1[0].id, took_minutes: 8 },
        { step_id: s.steps1[1].id, took_minutes: 45, note: 'the paper forms were in the archive' },
        { step_id: s.steps1[2].id, took_minutes: 50 },
      ];
      const body = { started_at: started, ended_at: ended, findings: 'Fallback forms were hard to find.', scenario: 'db-down', steps: timings };
      assertProblem(await as.staffA1.post(`/v1/exercises/${s.drill}/hold`, body), 403, 'forbidden');
      assertFieldError(await as.risk.post(`/v1/exercises/${s.drill}/hold`, { ...body, steps: timings.slice(0, 2) }), 'steps');
      assertFieldError(await as.risk.post(`/v1/exercises/${s.drill}/hold`, { ...body, scenario: 'flood' }), 'scenario');
      assertFieldError(await as.risk.post(`/v1/exercises/${s.drill}/hold`, { ...body, ended_at: new Date(Date.now() - 4 * 3600e3).toISOString() }), 'ended_at');
      assertFieldError(await as.risk.post(`/v1/exercises/${s.drill}/hold`, { ...body, steps: [...timings, timings[0]] }), 'steps[3].step_id');
      assert.equal(q(`SELECT status || ' ' || (SELECT count(*) FROM risk.exercise_steps WHERE exercise_id = x.id) FROM risk.exercises x WHERE id = ${lit(s.drill)}`),
        'scheduled 0', 'nothing written');
      const x = ok(await as.risk.post(`/v1/exercises/${s.drill}/hold`, body));
      assert.equal(x.status, 'held');
      assert.equal(x.version_id, s.v1);
      assert.deepEqual(x.steps.map((t) => [t.seq, t.target_minutes, t.took_minutes, t.met]), [[1, 10, 8, true], [2, 30, 45, false], [3, 60, 50, true]]);
      assert.equal(x.steps_met, 2);
      assert.equal(x.steps_missed, 1);
      const endDay = q(`SELECT org.company_date(${lit(ended)}::timestamptz)::text`);
      assert.equal(x.lessons_due_on, day(endDay, 14), 'lessons are due risk_schedules.lessons_due_days after it ended');
      s.lessonsDue = x.lessons_due_on;
      const again = assertProblem(await as.risk.post(`/v1/exercises/${s.drill}/hold`, body), 409, 'invalid_transition');
      assert.deepEqual(again.allowed_actions, ['close_lessons']);
    });

    test('the lessons not written by their due date are flagged by the job', async () => {
      assert.equal(runJob({ today: s.lessonsDue }).lessons_overdue, 0);
      const r = runJob({ today: day(s.lessonsDue, 1) });
      assert.equal(r.lessons_overdue, 1);
      assert.equal(r.scheduled, 0, 'the next drill was scheduled by an earlier run');
      const x = ok(await as.risk.get(`/v1/exercises/${s.drill}`));
      assert.equal(x.lessons_overdue, true);
      const next = ok(await as.risk.get(`/v1/emergency-plans/${s.plan}`)).drills;
      assert.equal(next.overdue, false);
      assert.ok(next.last_held_at);
      const heldOn = q(`SELECT org.company_date(ended_at)::text FROM risk.exercises WHERE id = ${lit(s.drill)}`);
      assert.equal(next.next_due_on, q(`SELECT (${lit(heldOn)}::date + interval '6 months')::date::text`),
        'the next drill is due drill_every_months after the one held');
      assert.notEqual(next.next_id, s.drill);
    });

    test('closing lessons needs one written (409 naming the guard); a lesson is written and closed', async () => {
      const g = assertProblem(await as.risk.post(`/v1/exercises/${s.drill}/close-lessons`, {}), 409, 'invalid_transition');
      assert.equal(g.guard, 'risk.exercise_lessons_written');
      assertFieldError(await as.risk.post(`/v1/exercises/${s.drill}/lessons`, { recommendation: 'x' }), 'lesson');
      assertProblem(await as.supA.post(`/v1/exercises/${s.drill}/lessons`, { lesson: 'x' }), 403, 'forbidden');
      const x = ok(await as.risk.post(`/v1/exercises/${s.drill}/lessons`, {
        lesson: 'Switching intake to paper took 45 minutes against 30: the forms are stored in the archive room.',
        recommendation: 'Keep a fallback kit at reception and give the step 15 minutes.',
      }), 201);
      assert.equal(x.lessons.length, 1);
      s.lesson = x.lessons[0].id;
      assert.equal(x.lessons[0].applied_in_id, null);
      const c = ok(await as.risk.post(`/v1/exercises/${s.drill}/close-lessons`, { reason: 'written up' }));
      assert.equal(c.status, 'lessons_closed');
      assert.ok(c.lessons_done_at);
      assertProblem(await as.risk.post(`/v1/exercises/${s.drill}/lessons`, { lesson: 'late' }), 409, 'invalid_transition');
      assert.equal(ok(await as.staffA1.get(`/v1/emergency-plans/${s.plan}`)).lessons_pending, 1);
    });

    test('a scheduled drill is cancelled with a reason; the job schedules it again from the last one held', async () => {
      const next = ok(await as.risk.get(`/v1/emergency-plans/${s.plan}`)).drills;
      assertFieldError(await as.risk.post(`/v1/exercises/${next.next_id}/cancel`, {}), 'reason');
      const c = ok(await as.risk.post(`/v1/exercises/${next.next_id}/cancel`, { reason: 'office move that week' }));
      assert.equal(c.status, 'cancelled');
      assert.equal(c.cancel_reason, 'office move that week');
      assert.equal(runJob({ today: s.effectiveOn }).scheduled, 1);
      const again = ok(await as.risk.get(`/v1/emergency-plans/${s.plan}`)).drills;
      assert.equal(again.next_due_on, next.next_due_on, 'the duty stays');
      assert.notEqual(again.next_id, next.next_id);
    });

    test('an instance with jobs on runs the kind risk.plans to done (the worker flags the drill)', async () => {
      const next = ok(await as.risk.get(`/v1/emergency-plans/${s.plan}`)).drills;
      assert.equal(next.overdue, false);
      const jobs = await startIdentityService(DB, key, { TIANXING_JOBS: 'on', TIANXING_JOB_POLL_MS: 100, TIANXING_ACCESS_LOG: 'false' });
      try {
        const id = owner(`SELECT jobs.enqueue('risk.plans', now(), ${lit(JSON.stringify({ today: day(next.next_due_on, 1) }))})`);
        const state = () => q(`SELECT state FROM jobs.jobs WHERE id = ${lit(id)}`);
        await waitFor(() => state() !== 'due' && state() !== 'running', { timeout: 20000, what: 'the job to finish' });
        assert.equal(state(), 'done');
      } finally {
        await jobs.stop();
      }
      assert.equal(ok(await as.risk.get(`/v1/exercises/${next.next_id}`)).overdue, true);
    });
  });

  describe('a lesson leads to a revision whose diff shows the change (R4.3)', () => {
    test('a revision: a new draft based on the effective version, citing the lesson', async () => {
      const steps = [
        STEPS[0],
        { action: 'Hand out the fallback kit kept at reception', responsible_role: 'staff', target_minutes: 5 },
        { ...STEPS[1], target_minutes: 15 },
      ];
      const body = {
        change_note: 'Drill findings: the fallback kit moves to reception; switching intake gets 15 minutes.',
        lesson_ids: [s.lesson],
        procedure: 'Assess the outage.\nTake the fallback kit from reception.\nSwitch to the fallback.\nRestore and reconcile.\nReport to the board.',
        steps,
      };
      assertProblem(await as.staffA1.post(`/v1/emergency-plans/${s.plan}/versions`, body), 403, 'forbidden');
      assertFieldError(await as.risk.post(`/v1/emergency-plans/${s.plan}/versions`, { ...body, change_note: undefined }), 'change_note');
      assertFieldError(await as.risk.post(`/v1/emergency-plans/${s.plan}/versions`, { ...body, lesson_ids: [UNKNOWN] }), 'lesson_ids[0]');
      assert.equal(count('plan_versions'), 2, 'nothing written');
      const res = await as.risk.post(`/v1/emergency-plans/${s.plan}/versions`, body);
      const v = ok(res, 201);
      assert.equal(res.headers.location, `/v1/plan-versions/${v.id}`);
      assert.equal(v.status, 'draft');
      assert.equal(v.number, 2);
      assert.equal(v.based_on_id, s.v1);
      assert.deepEqual(v.lessons.map((l) => l.id), [s.lesson]);
      assert.deepEqual(v.scenarios, PLAN.scenarios.map((x) => ({ ...x })), 'what the body leaves out is copied');
      s.v2 = v.id;
      const dup = assertProblem(await as.risk.post(`/v1/emergency-plans/${s.plan}/versions`, body), 409, 'conflict');
      assert.equal(dup.existing_id, s.v2);
    });

    test('the revision stays a draft to change: its lessons and note with If-Match', async () => {
      const v = ok(await as.risk.get(`/v1/plan-versions/${s.v2}`));
      const without = ok(await as.admin.patch(`/v1/plan-versions/${s.v2}`, { lesson_ids: [] }, { headers: { 'If-Match': `"${v.version}"` } }));
      assert.deepEqual(without.lessons, []);
      assertFieldError(await as.admin.patch(`/v1/plan-versions/${s.v2}`, { lesson_ids: ['nope'] }, { headers: { 'If-Match': `"${without.version}"` } }),
        'lesson_ids[0]');
      assert.equal(without.drafted_by, EMP.admin.id, 'the last writer of a draft is its drafter');
      assertProblem(await as.admin.post(`/v1/plan-versions/${s.v2}/approve`, {}), 403, 'forbidden');
      const back = ok(await as.risk.patch(`/v1/plan-versions/${s.v2}`, { lesson_ids: [s.lesson] }, { headers: { 'If-Match': `"${without.version}"` } }));
      assert.deepEqual(back.lessons.map((l) => l.id), [s.lesson]);
      assert.equal(back.drafted_by, EMP.risk.id);
    });

    test('the diff shows the steps added, removed and changed with old and new, the procedure lines and the lesson', async () => {
      const d = ok(await as.staffA1.get(`/v1/plan-versions/${s.v2}/diff?against=${s.v1}`));
      assert.equal(d.from.number, 1);
      assert.equal(d.to.number, 2);
      assert.match(d.to.change_note, /fallback kit/);
      assert.equal(d.steps.changed.length, 1);
      assert.deepEqual(d.steps.changed[0].fields, ['seq', 'target_minutes'], 'moved down one and given 15 minutes');
      assert.deepEqual([d.steps.changed[0].old.seq, d.steps.changed[0].new.seq], [2, 3]);
      assert.equal(d.steps.changed[0].old.target_minutes, 30);
      assert.equal(d.steps.changed[0].new.target_minutes, 15);
      assert.equal(d.steps.changed[0].new.action, STEPS[1].action);
      assert.deepEqual(d.steps.added.map((x) => x.action), ['Hand out the fallback kit kept at reception']);
      assert.deepEqual(d.steps.removed.map((x) => x.action), [STEPS[2].action]);
      assert.equal(d.steps.unchanged, 1);
      assert.equal(d.procedure.changed, true);
      assert.deepEqual(d.procedure.added_lines, ['Take the fallback kit from reception.']);
      assert.deepEqual(d.procedure.removed_lines, []);
      assert.deepEqual(d.scenarios, { added: [], removed: [], changed: [] });
      assert.deepEqual(d.lessons.map((l) => l.id), [s.lesson]);
      assert.deepEqual(ok(await as.staffA1.get(`/v1/plan-versions/${s.v2}/diff`)), d, 'against defaults to the version it is based on');
      const back = ok(await as.staffA1.get(`/v1/plan-versions/${s.v1}/diff?against=${s.v2}`));
      assert.deepEqual(back.steps.removed.map((x) => x.action), ['Hand out the fallback kit kept at reception']);
      assertFieldError(await as.staffA1.get(`/v1/plan-versions/${s.v1}/diff`), 'against');
      const other = ok(await as.risk.get('/v1/emergency-plans?category=credit')).items[0].draft_version_id;
      assertFieldError(await as.staffA1.get(`/v1/plan-versions/${s.v2}/diff?against=${other}`), 'against');
    });

    test('approved by a second person: version 1 is superseded, the lesson applied in version 2', async () => {
      const v = ok(await as.admin.post(`/v1/plan-versions/${s.v2}/approve`, {}));
      assert.equal(v.status, 'effective');
      const old = ok(await as.risk.get(`/v1/plan-versions/${s.v1}`));
      assert.equal(old.status, 'superseded');
      assert.ok(old.superseded_at);
      const p = ok(await as.staffA1.get(`/v1/emergency-plans/${s.plan}`));
      assert.equal(p.effective_version.id, s.v2);
      assert.deepEqual(p.versions.map((x) => [x.number, x.status]), [[1, 'superseded'], [2, 'effective']]);
      assert.equal(p.lessons_pending, 0);
      assert.equal(ok(await as.risk.get(`/v1/exercises/${s.drill}`)).lessons[0].applied_in_id, s.v2);
      const h = JSON.parse(q(`SELECT json_agg(json_build_object('a', action, 'to', to_state) ORDER BY at)::text
                                FROM fsm.log WHERE entity_id IN (${lit(s.v1)}, ${lit(s.v2)})`));
      assert.deepEqual(h.slice(-2), [{ a: 'supersede', to: 'superseded' }, { a: 'approve', to: 'effective' }]);
    });

    test('a discarded draft frees its lessons; a plan without an effective version has no revision (409)', async () => {
      const credit = ok(await as.risk.get('/v1/emergency-plans?category=credit')).items[0];
      assertProblem(await as.risk.post(`/v1/emergency-plans/${credit.id}/versions`, { change_note: 'x' }), 409, 'conflict');
      const d = ok(await as.risk.post(`/v1/plan-versions/${credit.draft_version_id}/discard`, { reason: 'merged into another plan' }));
      assert.equal(d.status, 'discarded');
    });
  });

  describe('real events (R4.3)', () => {
    test('an event is recorded held against the effective version, with the steps taken', async () => {
      const v2 = ok(await as.risk.get(`/v1/plan-versions/${s.v2}`));
      const body = {
        started_at: new Date(Date.now() - 2 * 3600e3).toISOString(),
        ended_at: new Date(Date.now() - 3600e3).toISOString(),
        findings: 'The database failed over by itself after 40 minutes.',
        scenario: 'db-down',
        steps: [{ step_id: v2.steps[0].id, took_minutes: 12 }],
      };
      assertProblem(await as.supA.post(`/v1/emergency-plans/${s.plan}/events`, body), 403, 'forbidden');
      assertFieldError(await as.risk.post(`/v1/emergency-plans/${s.plan}/events`, { ...body, steps: [{ step_id: s.steps1[2].id, took_minutes: 1 }] }),
        'steps[0].step_id');
      assertProblem(await as.risk.post(`/v1/emergency-plans/${UNKNOWN}/events`, body), 404, 'not_found');
      const n = count('exercises');
      const res = await as.risk.post(`/v1/emergency-plans/${s.plan}/events`, body);
      const e = ok(res, 201);
      assert.equal(res.headers.location, `/v1/exercises/${e.id}`);
      assert.equal(e.kind, 'event');
      assert.equal(e.status, 'held');
      assert.equal(e.version_number, 2);
      assert.equal(e.due_on, null);
      assert.deepEqual(e.steps.map((t) => [t.seq, t.took_minutes, t.met]), [[1, 12, false]]);
      assert.ok(e.lessons_due_on);
      assert.equal(count('exercises'), n + 1);
      const list = ok(await as.staffA1.get(`/v1/emergency-plans/${s.plan}/exercises?limit=1`));
      assert.equal(list.items[0].id, e.id, 'newest first');
      const rest = ok(await as.staffA1.get(`/v1/emergency-plans/${s.plan}/exercises?cursor=${list.next_cursor}`));
      assert.ok(rest.items.length >= 2);
      assert.ok(!rest.items.some((x) => x.id === e.id));
      assertFieldError(await as.staffA1.get(`/v1/emergency-plans/${s.plan}/exercises?kind=fire`), 'kind');
      assertFieldError(await as.staffA1.get(`/v1/emergency-plans/${s.plan}/exercises?cursor=nope`), 'cursor');
    });
  });
});

commonHeadersTest();
