// Module P, part F: the working-day calendar (GET /v1/calendar, PUT/DELETE /v1/calendar/{day};
// P2.2: deadlines count working days), with the holidays and the make-up workdays of 調休 that
// administrators record. The days used are in 2094 (1 October 2094 is a Friday), far from today.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { assertProblem, commonHeadersTest, freshDatabase, lit, pg, waitFor } from './lib/harness.mjs';
import { addSecondSupervisor, caseInProgress, createBusinessType } from './lib/cases.mjs';
import {
  BY_ROLE, DEPT, EMP, ROLES, assertFieldError, assertUnauthorized, call, client, loadFixtures, newSigningKey, ok,
  ownToken, startIdentityService,
} from './lib/identity.mjs';
import { customerKeys, startCustomerService } from './lib/customers.mjs';

const DB = 'tx_api_case_time';
const owner = (sql) => pg(sql, { db: DB, user: 'tianxing_owner' });
let key;
let svc;
const as = {};
const q = (sql) => pg(sql, { db: DB });
const del = (who, p) => call(svc, 'DELETE', p, { token: as[who].token });
const rows = (where) => Number(q(`SELECT count(*) FROM org.calendar_days WHERE ${where}`));

before(async () => {
  key = newSigningKey();
  // customers (needed by the cases whose queues are read below) need the encryption keys
  freshDatabase(DB);
  svc = await startCustomerService(DB, key, customerKeys());
  loadFixtures(DB);
  for (const r of ROLES) as[r] = client(svc, ownToken(key, BY_ROLE[r]));
});

describe('the working-day calendar (P2.2)', () => {
  test('admin records a Golden Week: holidays on weekdays, make-up workdays (調休) on weekends', async () => {
    const fri = ok(await as.admin.put('/v1/calendar/2094-10-01', { kind: 'holiday', name: '國慶日' }));
    assert.deepEqual(fri, { day: '2094-10-01', weekday: 'fri', workday: false, reason: 'holiday', name: '國慶日', version: 1 });
    for (const d of ['04', '05', '06', '07']) {
      ok(await as.admin.put(`/v1/calendar/2094-10-${d}`, { kind: 'holiday', name: '國慶日連假' }));
    }
    const sat = await as.admin.put('/v1/calendar/2094-10-09', { kind: 'workday', name: '補行上班' });
    assert.deepEqual(ok(sat), { day: '2094-10-09', weekday: 'sat', workday: true, reason: 'make_up_workday', name: '補行上班', version: 1 });
    assert.equal(sat.headers.etag, '"1"');
    // the same again changes nothing; a new name is a new version
    assert.equal(ok(await as.admin.put('/v1/calendar/2094-10-09', { kind: 'workday', name: '補行上班' })).version, 1);
    assert.equal(ok(await as.admin.put('/v1/calendar/2094-10-09', { kind: 'workday', name: '國慶日補行上班' })).version, 2);
    assert.equal(rows(`day BETWEEN '2094-10-01' AND '2094-10-09'`), 6);
  });

  test('every employee reads a range, each day with whether it is worked and why', async () => {
    for (const role of ROLES) {
      const r = ok(await as[role].get('/v1/calendar?from=2094-09-30&to=2094-10-11'));
      assert.equal(r.from, '2094-09-30');
      assert.equal(r.to, '2094-10-11');
      assert.equal(r.time_zone, 'Asia/Taipei');
      assert.equal(r.items.length, 12);
      // 30 Sep, 8 Oct, the make-up Saturday 9 Oct, 11 Oct
      assert.equal(r.workdays, 4);
      assert.deepEqual(r.items.filter((d) => d.workday).map((d) => d.day), ['2094-09-30', '2094-10-08', '2094-10-09', '2094-10-11']);
      assert.deepEqual(r.items.slice(0, 4).map((d) => `${d.weekday}:${d.reason}`),
        ['thu:weekday', 'fri:holiday', 'sat:weekend', 'sun:weekend']);
      assert.equal(r.items[9].name, '國慶日補行上班');
    }
    const dflt = ok(await as.staff.get('/v1/calendar'));
    assert.equal(dflt.items.length, 31, 'default: today and the next 30 days');
    assert.equal(dflt.from, q(`SELECT (now() AT TIME ZONE 'Asia/Taipei')::date::text`));
  });

  test('a range beyond 366 days, reversed or malformed: 422 naming the parameter', async () => {
    assert.equal(ok(await as.staff.get('/v1/calendar?from=2096-01-01&to=2096-12-31')).items.length, 366, 'a leap year is allowed');
    assertFieldError(await as.staff.get('/v1/calendar?from=2094-01-01&to=2095-01-02'), 'to');
    assertFieldError(await as.staff.get('/v1/calendar?from=2094-10-02&to=2094-10-01'), 'to');
    assertFieldError(await as.staff.get('/v1/calendar?from=2094-13-01'), 'from');
    assertFieldError(await as.staff.get('/v1/calendar?to=tomorrow'), 'to');
    assertFieldError(await as.staff.get('/v1/calendar?from=2094-10-01&year=2094'), 'year');
  });

  test('a row restating the default, a bad kind, name or day: 422 and nothing written', async () => {
    const before = rows('true');
    assertFieldError(await as.admin.put('/v1/calendar/2094-10-02', { kind: 'holiday', name: '週六' }), 'kind');
    assertFieldError(await as.admin.put('/v1/calendar/2094-10-08', { kind: 'workday', name: '週五' }), 'kind');
    assertFieldError(await as.admin.put('/v1/calendar/2094-10-08', { kind: 'rest', name: 'x' }), 'kind');
    assertFieldError(await as.admin.put('/v1/calendar/2094-10-08', { kind: 'holiday' }), 'name');
    assertFieldError(await as.admin.put('/v1/calendar/2094-10-08', { kind: 'holiday', name: '' }), 'name');
    assertFieldError(await as.admin.put('/v1/calendar/2094-10-08', { kind: 'holiday', name: 'x'.repeat(101) }), 'name');
    assertFieldError(await as.admin.put('/v1/calendar/2094-10-08', { kind: 'holiday', name: 'x', note: 'y' }), 'note');
    assertFieldError(await as.admin.put('/v1/calendar/2094-02-30', { kind: 'holiday', name: 'x' }), 'day');
    assertFieldError(await as.admin.put('/v1/calendar/tomorrow', { kind: 'holiday', name: 'x' }), 'day');
    assertProblem(await as.admin.put('/v1/calendar/2094-10-08', [1]), 400, 'bad_request');
    assert.equal(rows('true'), before);
  });

  test('only admin writes: 403 for every other role, 401 without a token', async () => {
    for (const role of ROLES.filter((r) => r !== 'admin')) {
      assertProblem(await as[role].put('/v1/calendar/2094-10-08', { kind: 'holiday', name: 'x' }), 403, 'forbidden');
      assertProblem(await del(role, '/v1/calendar/2094-10-01'), 403, 'forbidden');
    }
    assertUnauthorized(await call(svc, 'GET', '/v1/calendar'), { invalid: false });
    assertUnauthorized(await call(svc, 'PUT', '/v1/calendar/2094-10-08', { body: { kind: 'holiday', name: 'x' } }), { invalid: false });
    assert.equal(rows(`day = '2094-10-08'`), 0);
    assert.equal(rows(`day = '2094-10-01'`), 1);
  });

  test('DELETE puts the day back to the default; a day without an exception is 404', async () => {
    ok(await as.admin.put('/v1/calendar/2094-10-08', { kind: 'holiday', name: '彈性放假' }));
    const r = await del('admin', '/v1/calendar/2094-10-08');
    assert.deepEqual(ok(r), { day: '2094-10-08', weekday: 'fri', workday: true, reason: 'weekday', name: null, version: null });
    assert.equal(rows(`day = '2094-10-08'`), 0);
    assertProblem(await del('admin', '/v1/calendar/2094-10-08'), 404, 'not_found');
    assertFieldError(await del('admin', '/v1/calendar/2094-10-32'), 'day');
  });

  test('the audit trail records who changed the calendar', () => {
    const n = Number(q(`SELECT count(*) FROM audit.log WHERE table_name = 'org.calendar_days'`));
    assert.ok(n >= 9, `audited writes: ${n}`);
  });
});

// The personal queues (sql/code/cases/090_queues.sql). Their content per person needs cases,
// created and moved by parts B-D's routes; here: who may ask, the empty pages, paging input.
describe('GET /v1/me/queues/... (P1.4, P2.1-P2.3, P3.1)', () => {
  const QUEUES = {
    cases: ['staff', 'supervisor'],
    approvals: ['supervisor'],
    reviews: ['supervisor'],
    overdue: ['staff', 'supervisor'],
    escalations: ['staff', 'supervisor', 'admin'],
  };

  test('each queue answers its roles with a page, every other role 403, no token 401', async () => {
    for (const [name, roles] of Object.entries(QUEUES)) {
      for (const role of ROLES) {
        const r = await as[role].get(`/v1/me/queues/${name}`);
        if (roles.includes(role)) assert.deepEqual(ok(r), { items: [], next_cursor: null }, `${name} as ${role}`);
        else assertProblem(r, 403, 'forbidden');
      }
      assertUnauthorized(await call(svc, 'GET', `/v1/me/queues/${name}`), { invalid: false });
    }
  });

  test('a malformed limit or cursor is 422 naming it', async () => {
    for (const name of Object.keys(QUEUES)) {
      assertFieldError(await as.supervisor.get(`/v1/me/queues/${name}?limit=0`), 'limit');
      assertFieldError(await as.supervisor.get(`/v1/me/queues/${name}?limit=201`), 'limit');
      assertFieldError(await as.supervisor.get(`/v1/me/queues/${name}?cursor=abc`), 'cursor');
    }
  });
});

// The deadlines job (src/modules/cases/deadlines.c): an instance with TIANXING_JOBS on runs the
// kind 'cases.deadlines' under the scheduler's identity; the schedule of 0021 exists.
describe('the job kind cases.deadlines (P2.2, P2.3)', () => {
  test('the schedule exists, every 5 minutes', () => {
    assert.equal(q(`SELECT every FROM jobs.schedules WHERE name = 'cases.deadlines'`), '00:05:00');
  });

  test('an instance with jobs on runs it to done', async () => {
    const jobs = await startIdentityService(DB, key, { TIANXING_JOBS: 'on', TIANXING_JOB_POLL_MS: 100, TIANXING_ACCESS_LOG: 'false' });
    try {
      const id = owner(`SELECT jobs.enqueue('cases.deadlines', now(), '{"batch": 50}')`);
      await waitFor(() => q(`SELECT state FROM jobs.jobs WHERE id = ${lit(id)}`) !== 'due'
        && q(`SELECT state FROM jobs.jobs WHERE id = ${lit(id)}`) !== 'running', { timeout: 20000, what: 'the job to finish' });
      assert.equal(q(`SELECT state FROM jobs.jobs WHERE id = ${lit(id)}`), 'done');
      assert.equal(q(`SELECT count(*) FROM jobs.runs r WHERE r.job_id = ${lit(id)} AND r.outcome = 'done'`), '1');
    } finally {
      await jobs.stop();
    }
  });
});

// The job's pass, run directly at an instant of the test's choosing (cases.deadlines_sweep under
// the scheduler's claims): no waiting. `at` is an SQL expression.
const sweep = (at) => JSON.parse(owner(`BEGIN;
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', 'system', true), set_config('tx.request_id', 'job:test', true);
SELECT cases.deadlines_sweep(${at}, 100);
COMMIT;`).split('\n').find((l) => l.startsWith('{')));

// A case through part B's routes: its deadlines and who sees it in which queue; the job's pass at
// an instant 30 days ahead.
describe('deadlines and queues across a case (P1.1, P1.4, P2.1, P2.2)', () => {
  const who = (e) => client(svc, ownToken(key, e));
  const ids = (page) => page.items.map((i) => i.case_id);

  test('reception, approval, milestones: opened, in the right queues, met, marked overdue by the job', async () => {
    const a1 = who(EMP.staffA1);
    const a2 = who(EMP.staffA2);
    const supA = who(EMP.supA);
    const supB = who(EMP.supB);
    const type = ok(await supA.post('/v1/business-types', {
      code: 'T-TIME', name: '年度審計',
      milestones: [{ code: 'collect', name: '收集資料', standard_days: 3 }, { code: 'report', name: '出具報告', standard_days: 2 }],
      checklist: [{ code: 'accuracy', name: '準確性' }, { code: 'compliance', name: '合規性' }, { code: 'completeness', name: '完整性' }],
    }), 201);
    const cu = ok(await a1.post('/v1/customers', { name: '黃志明', company_name: '星河會計事務所' }), 201);
    const c = ok(await a1.post('/v1/cases', {
      customer_id: cu.id, raised_at: new Date(Date.now() - 3600e3).toISOString(), channel: 'phone', need: '年度審計',
    }), 201);
    const dl = (kind) => q(`SELECT string_agg(concat_ws(':', coalesce(owner_id::text, 'dept'), (met_at IS NOT NULL)::text, (closed_at IS NOT NULL)::text, (overdue_at IS NOT NULL)::text), ',' ORDER BY due_at)
      FROM cases.deadlines WHERE case_id = ${lit(c.id)} AND kind = ${lit(kind)}`);
    assert.equal(dl('reception'), `${EMP.staffA1.id}:false:false:false`, 'P1.1: the receiver\'s reception deadline');

    const i = ok(await a1.post(`/v1/cases/${c.id}/assess`, { in_scope: true, business_type_id: type.id }));
    assert.equal(dl('reception'), `${EMP.staffA1.id}:true:false:false`, 'met by the assessment');
    ok(await a1.put(`/v1/cases/${c.id}/intake`, { requirements: '年度審計' }, { headers: { 'If-Match': `"${i.version}"` } }));
    ok(await a1.post(`/v1/cases/${c.id}/submit`));
    assert.equal(dl('approval'), 'dept:false:false:false', 'P1.4: the department\'s approval deadline');

    const ap = ok(await supA.get('/v1/me/queues/approvals'));
    assert.deepEqual(ids(ap), [c.id]);
    assert.equal(ap.items[0].customer_name, '黃志明');
    assert.deepEqual(ap.items[0].business_type, { code: 'T-TIME', name: '年度審計' });
    assert.ok(ap.items[0].due_at);
    assert.deepEqual(ids(ok(await supB.get('/v1/me/queues/approvals'))), [], 'not another department\'s');

    assert.deepEqual(sweep(`now() + interval '30 days'`), { marked: 1, climbed: 0 });
    assert.deepEqual(sweep(`now() + interval '30 days'`), { marked: 0, climbed: 0 }, 'idempotent');
    const od = ok(await supA.get('/v1/me/queues/overdue'));
    assert.deepEqual(od.items.map((x) => [x.case_id, x.kind]), [[c.id, 'approval']]);
    assert.deepEqual(ok(await a2.get('/v1/me/queues/overdue')).items, []);
    assert.equal(q(`SELECT count(*) FROM cases.events WHERE case_id = ${lit(c.id)} AND type = 'deadline.overdue'`), '1');

    ok(await supA.post(`/v1/cases/${c.id}/approve`, {}));
    assert.equal(dl('approval'), 'dept:true:false:true', 'met (late: it stays marked)');
    assert.deepEqual(ok(await supA.get('/v1/me/queues/approvals')).items, []);
    ok(await supA.post(`/v1/cases/${c.id}/assignments`, { lead: EMP.staffA1.id, members: [EMP.staffA2.id] }));
    assert.equal(dl('milestone'), `${EMP.staffA1.id}:false:false:false,${EMP.staffA1.id}:false:false:false`,
      'P2.2: a deadline per milestone, for the lead');
    const mine = ok(await a1.get('/v1/me/queues/cases'));
    assert.deepEqual(mine.items.map((x) => [x.case_id, x.role, x.status]), [[c.id, 'lead', 'in_progress']]);
    assert.ok(mine.items[0].next_due_at);
    assert.deepEqual(ok(await a2.get('/v1/me/queues/cases')).items.map((x) => x.role), ['member']);
    assert.deepEqual(ok(await who(EMP.staffB1).get('/v1/me/queues/cases')).items, []);

    assert.deepEqual(sweep(`now() + interval '60 days'`), { marked: 2, climbed: 0 });
    const p1 = ok(await a1.get('/v1/me/queues/overdue?limit=1'));
    assert.deepEqual(p1.items.map((x) => [x.kind, x.subject_name]), [['milestone', '收集資料']]);
    const p2 = ok(await a1.get(`/v1/me/queues/overdue?limit=1&cursor=${encodeURIComponent(p1.next_cursor)}`));
    assert.deepEqual(p2.items.map((x) => [x.kind, x.subject_name]), [['milestone', '出具報告']]);
    assert.equal(p2.next_cursor, null);
  });
});

// The rest of a case's life through parts C and D's routes (P2.2, P2.3, P3.1, P3.3): a milestone
// met late, an escalation nobody answers climbing two levels, the reviews queue of an independent
// supervisor. The job runs at the due instants read from the deadlines.
describe('milestones met late, an escalation climbing two levels, the reviews queue', () => {
  const who = (e) => client(svc, ownToken(key, e));
  const dueOf = (sql) => `(SELECT due_at FROM cases.deadlines WHERE ${sql})`;

  test('through the routes, with the job at the deadlines\' own instants', async () => {
    const supA2 = addSecondSupervisor(DB);
    const admin = who(EMP.admin);
    const a1 = who(EMP.staffA1);
    const supA = who(EMP.supA);
    const s2 = who(supA2);
    const type = await createBusinessType(admin, { code: 'T-CLIMB' });
    // lead staff.a1, member sup.a: sup.a is on the team (and writes a record), so not a reviewer
    const { case: c } = await caseInProgress(svc, key, { typeId: type.id, supA2, members: [EMP.supA] });
    const milestone = (code) => `case_id = ${lit(c.id)} AND kind = 'milestone' AND subject_id =
      (SELECT id FROM cases.milestones WHERE type_version_id = ${lit(type.current_version_id)} AND code = ${lit(code)})`;
    const state = (where) => q(`SELECT concat_ws(' ', CASE WHEN met_at IS NOT NULL THEN 'met' WHEN closed_at IS NOT NULL THEN 'closed' ELSE 'open' END,
      CASE WHEN overdue_at IS NOT NULL THEN 'overdue' END) FROM cases.deadlines WHERE ${where}`);
    const onTime = (where) => q(`SELECT e.data ->> 'on_time' FROM cases.events e
      WHERE e.type = 'deadline.met' AND e.data ->> 'deadline_id' = (SELECT id::text FROM cases.deadlines WHERE ${where})`);
    const record = (cl, code) => cl.post(`/v1/cases/${c.id}/work-records`, {
      milestone_code: code, content: `工作 ${code}`, result: '完成', hours: 2,
      started_at: new Date().toISOString(), finished_at: new Date().toISOString(),
    });

    // P2.2: in time, then late
    ok(await record(supA, 'gather'), 201);
    assert.equal(state(milestone('gather')), 'met');
    assert.equal(onTime(milestone('gather')), 'true');
    assert.deepEqual(sweep(dueOf(milestone('prepare'))), { marked: 1, climbed: 0 });
    // (the case of the describe above is staff.a1's too, its milestones overdue since)
    const mineOverdue = async () => ok(await a1.get('/v1/me/queues/overdue')).items.filter((i) => i.case_id === c.id);
    assert.deepEqual((await mineOverdue()).map((i) => [i.kind, i.subject_name]), [['milestone', '編制底稿']]);
    ok(await record(a1, 'prepare'), 201);
    assert.equal(state(milestone('prepare')), 'met overdue', 'met late: the overdue mark stays');
    assert.equal(onTime(milestone('prepare')), 'false', 'deadline.met says late');
    assert.deepEqual(await mineOverdue(), [], 'met: out of the overdue queue');

    // P2.3: raised to sup.a, climbs to sup.a2, then to an admin
    const e1 = ok(await a1.post(`/v1/cases/${c.id}/escalations`, { problem: '客戶遲遲不提供憑證' }), 201);
    assert.equal(e1.addressed_to, EMP.supA.id);
    assert.deepEqual(ok(await supA.get('/v1/me/queues/escalations')).items.map((i) => i.escalation_id), [e1.id]);
    assert.deepEqual(sweep(`(SELECT due_at FROM cases.escalations WHERE id = ${lit(e1.id)})`), { marked: 1, climbed: 1 });
    const e1b = ok(await supA.get(`/v1/escalations/${e1.id}`));
    assert.equal(e1b.status, 'climbed');
    const e2 = ok(await s2.get(`/v1/escalations/${e1b.climbed_to}`));
    assert.deepEqual([e2.addressed_to, e2.level, e2.climbed_from, e2.status, e2.raised_by],
      [supA2.id, 2, e1.id, 'open', EMP.staffA1.id]);
    assert.deepEqual(ok(await supA.get('/v1/me/queues/escalations')).items, []);
    assert.deepEqual(ok(await s2.get('/v1/me/queues/escalations')).items.map((i) => [i.escalation_id, i.level]), [[e2.id, 2]]);
    assert.deepEqual(sweep(`(SELECT due_at FROM cases.escalations WHERE id = ${lit(e2.id)})`), { marked: 1, climbed: 1 });
    const e2b = ok(await s2.get(`/v1/escalations/${e2.id}`));
    assert.equal(e2b.status, 'climbed');
    const e3 = ok(await admin.get(`/v1/escalations/${e2b.climbed_to}`));
    assert.deepEqual([e3.addressed_to, e3.level, e3.climbed_from, e3.status], [EMP.admin.id, 3, e2.id, 'open'],
      'level 3: an admin, not back down to sup.a');
    assert.equal(state(`kind = 'escalation' AND subject_id = ${lit(e1.id)}`), 'closed overdue');
    assert.equal(state(`kind = 'escalation' AND subject_id = ${lit(e3.id)}`), 'open');
    // the old addressees cannot answer; the new one can
    assertProblem(await supA.post(`/v1/escalations/${e1.id}/resolve`, { solution: 'x' }), 409, 'conflict');
    assertProblem(await supA.post(`/v1/escalations/${e3.id}/resolve`, { solution: 'x' }), 403, 'forbidden');
    assertProblem(await s2.post(`/v1/escalations/${e2.id}/resolve`, { solution: 'x' }), 409, 'conflict');
    assert.deepEqual(ok(await admin.get('/v1/me/queues/escalations')).items.map((i) => i.escalation_id), [e3.id]);
    const done = ok(await admin.post(`/v1/escalations/${e3.id}/resolve`, { solution: '由行政協調客戶' }));
    assert.deepEqual([done.status, done.resolved_by], ['resolved', EMP.admin.id]);
    assert.equal(state(`kind = 'escalation' AND subject_id = ${lit(e3.id)}`), 'met');

    // P3.3, P3.1: submitted; the optional milestone closed; only the independent supervisor's queue
    ok(await a1.post(`/v1/cases/${c.id}/submit-review`, {}));
    assert.equal(state(milestone('followup')), 'closed');
    assert.equal(state(`case_id = ${lit(c.id)} AND kind = 'review_feedback'`), 'open');
    const rq = ok(await s2.get('/v1/me/queues/reviews'));
    assert.deepEqual(rq.items.map((i) => [i.case_id, i.review_round]), [[c.id, 1]]);
    assert.ok(rq.items[0].due_at);
    assert.deepEqual(ok(await supA.get('/v1/me/queues/reviews')).items, [], 'not the team member and author');
    assert.deepEqual(ok(await who(EMP.supB).get('/v1/me/queues/reviews')).items, [], 'not another department');
    assertProblem(await a1.get('/v1/me/queues/reviews'), 403, 'forbidden');
    const verdicts = type.standard.checklist.map((k) => ({ criterion: k.code, verdict: 'pass' }));
    assert.equal(ok(await s2.post(`/v1/cases/${c.id}/reviews`, { verdicts })).case_status, 'passed');
    assert.equal(state(`case_id = ${lit(c.id)} AND kind = 'review_feedback'`), 'met');
    assert.deepEqual(ok(await s2.get('/v1/me/queues/reviews')).items, []);
  });
});

commonHeadersTest();
