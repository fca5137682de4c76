// Module Q, part A: the assessment periods (Q2.1 monthly, Q2.2 annual) through the API and the job
// kind 'assessment.periods' (src/modules/assessment/periods.c, sql/code/assessment/020_periods.sql).
// The figures themselves are proved by the hand calculation of sql/tests/assessment_indicators.sql;
// here: the routes, who may call them, their errors, and the job that opens the month before on
// the first working day of a month (in January also the year before), once.
//
// Dates: the job is run directly with a payload "today" of the test's choosing (as a catch-up run
// would be): the first working day after the month that holds today (so the current month is
// opened, whatever the day of the year), and two Januaries in the past (2025, 2026), whose
// Decembers and years nobody was employed in (the fixtures' spans begin when they are loaded).
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { assertProblem, commonHeadersTest, freshDatabase, lit, pg, waitFor } from './lib/harness.mjs';
import { addSecondSupervisor, caseInProgress, createBusinessType } from './lib/cases.mjs';
import {
  BY_ROLE, EMP, ROLES, assertFieldError, assertUnauthorized, call, client, loadFixtures, newSigningKey, ok, ownToken,
  startIdentityService,
} from './lib/identity.mjs';
import { customerKeys, startCustomerService } from './lib/customers.mjs';

const DB = 'tx_api_assessment_periods';
const owner = (sql) => pg(sql, { db: DB, user: 'tianxing_owner' });
const q = (sql) => pg(sql, { db: DB });
let key;
let svc;
const as = {};
const UNKNOWN = '7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e';

// The job's function under the scheduler's claims (no employee, role system), as the worker runs
// it; returns its JSON result.
const runJob = (payload) => JSON.parse(owner(`BEGIN;
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', 'system', true), set_config('tx.request_id', 'job:test', true);
SELECT assessment.periods_job(${lit(JSON.stringify(payload))}::jsonb);
COMMIT;`).split('\n').find((l) => l.startsWith('{')));

// The company's month today ('YYYY-MM'), and the first working day (org.is_workday) of the month
// after a 'YYYY-MM'.
const thisMonth = () => q(`SELECT to_char(now() AT TIME ZONE org.company_time_zone(), 'YYYY-MM')`);
const firstWorkdayAfter = (label) => q(`SELECT min(d::date)::text FROM generate_series(
  to_date(${lit(label)}, 'YYYY-MM') + interval '1 month', to_date(${lit(label)}, 'YYYY-MM') + interval '1 month 20 days',
  interval '1 day') d WHERE org.is_workday(d::date)`);
const periodId = (label) => q(`SELECT id FROM assessment.periods WHERE label = ${lit(label)}`);

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startCustomerService(DB, key, customerKeys());
  loadFixtures(DB);
  for (const r of ROLES) as[r] = client(svc, ownToken(key, BY_ROLE[r]));
  as.staffA1 = client(svc, ownToken(key, EMP.staffA1));
  as.supA = client(svc, ownToken(key, EMP.supA));
});

describe('the job kind assessment.periods (Q2.1, Q2.2)', () => {
  test('the schedule exists: daily at 01:00 company time', () => {
    assert.equal(q(`SELECT kind || ' ' || calendar FROM jobs.schedules WHERE name = 'assessment.periods'`),
      'assessment.periods daily 01:00');
  });

  test('on the first working day of a month it opens and computes the month before, once', async () => {
    // some work in the month, so that the month's assessments have facts (a case in progress)
    const supA2 = addSecondSupervisor(DB);
    const type = await createBusinessType(as.admin);
    await caseInProgress(svc, key, { typeId: type.id, supA2 });

    const month = thisMonth();
    const first = firstWorkdayAfter(month);
    const dayBefore = q(`SELECT (${lit(first)}::date - 1)::text`);
    assert.deepEqual(runJob({ today: dayBefore }).opened, [], 'the day before the first working day opens nothing');
    assert.equal(periodId(month), '', 'the month is not open before its first working day after');

    const r = runJob({ today: first });
    assert.equal(r.first_workday, true);
    assert.equal(r.opened[0], month, 'the month before the first working day is opened');
    const staff = Number(q(`SELECT count(*) FROM org.employees WHERE active AND 'staff' = ANY (roles)`));
    assert.ok(r.computed >= staff, `every active staff member is assessed (${r.computed} >= ${staff})`);

    const p = ok(await as.hr.get(`/v1/assessment-periods/${periodId(month)}`));
    assert.equal(p.kind, 'month');
    assert.equal(p.label, month);
    assert.equal(p.status, 'open');
    assert.equal(p.opened_by, null, 'opened by the job');
    assert.ok(p.computed_at);
    assert.equal(p.assessments.total, Number(q(`SELECT count(*) FROM assessment.assessments WHERE period_id = ${lit(p.id)}`)));
    assert.deepEqual(Object.keys(p.assessments.by_status), ['computed']);
    assert.deepEqual(p.allowed_actions, ['close']);
    assert.deepEqual(p.parameters.assessment_weights,
      { completion_rate: 0.3, satisfaction: 0.25, accuracy: 0.2, efficiency: 0.15, teamwork: 0.1 });
    assert.equal(p.parameters.company_time_zone, q(`SELECT org.company_time_zone()`));

    // idempotent: the same day again, a retried run, opens and computes nothing
    const hash = q(`SELECT string_agg(encode(evidence_hash, 'hex'), ',' ORDER BY employee_id) FROM assessment.assessments WHERE period_id = ${lit(p.id)}`);
    assert.deepEqual(runJob({ today: first }), { today: first, first_workday: true, opened: [], computed: 0 });
    assert.equal(q(`SELECT count(*) FROM assessment.periods WHERE label = ${lit(month)}`), '1');
    assert.equal(q(`SELECT string_agg(encode(evidence_hash, 'hex'), ',' ORDER BY employee_id) FROM assessment.assessments WHERE period_id = ${lit(p.id)}`), hash);
    // the next day is no longer the first working day
    assert.equal(runJob({ today: q(`SELECT (${lit(first)}::date + 1)::text`) }).first_workday, false);
  });

  test('in January it opens December and then the year', () => {
    const first = firstWorkdayAfter('2024-12');
    const r = runJob({ today: first });
    assert.deepEqual(r.opened, ['2024-12', '2024']);
    assert.equal(q(`SELECT string_agg(kind || ':' || starts_on || ':' || ends_on, ',' ORDER BY label) FROM assessment.periods WHERE label IN ('2024', '2024-12')`),
      'year:2024-01-01:2024-12-31,month:2024-12-01:2024-12-31');
  });

  test('the first working day follows the calendar: a holiday on the 1st moves it, a make-up workday brings it forward', async () => {
    // 1 September 2025 is a Monday; 1 November 2025 a Saturday
    ok(await as.admin.put('/v1/calendar/2025-09-01', { kind: 'holiday', name: '補假' }));
    assert.deepEqual(runJob({ today: '2025-09-01' }), { today: '2025-09-01', first_workday: false, opened: [], computed: 0 });
    const r = runJob({ today: '2025-09-02' });
    assert.equal(r.first_workday, true);
    assert.deepEqual(r.opened, ['2025-08']);
    ok(await as.admin.put('/v1/calendar/2025-11-01', { kind: 'workday', name: '補行上班' }));
    assert.deepEqual(runJob({ today: '2025-11-01' }).opened, ['2025-10'], 'a make-up Saturday is the first working day');
    assert.equal(runJob({ today: '2025-11-03' }).first_workday, false, 'and the Monday after is not');
  });

  test('a payload whose today is not a date fails the run', () => {
    assert.throws(() => runJob({ today: '2026-02-30' }), /today must be a date/);
    assert.throws(() => runJob({ today: 20260201 }), /today must be a date/);
  });

  test('an instance with jobs on runs it to done', async () => {
    const jobs = await startIdentityService(DB, key, { TIANXING_JOBS: 'on', TIANXING_JOB_POLL_MS: 100, TIANXING_ACCESS_LOG: 'false' });
    try {
      const today = firstWorkdayAfter('2025-12');
      const id = owner(`SELECT jobs.enqueue('assessment.periods', now(), ${lit(JSON.stringify({ today }))})`);
      const state = () => q(`SELECT state FROM jobs.jobs WHERE id = ${lit(id)}`);
      await waitFor(() => state() !== 'due' && state() !== 'running', { timeout: 20000, what: 'the job to finish' });
      assert.equal(state(), 'done');
      assert.equal(q(`SELECT string_agg(label || ':' || (opened_by IS NULL), ',' ORDER BY label) FROM assessment.periods WHERE label IN ('2025', '2025-12')`),
        '2025:true,2025-12:true', 'December and the year, opened by the job');
    } finally {
      await jobs.stop();
    }
  });
});

describe('the period routes (Q2.1, Q2.2)', () => {
  test('every signed-in employee lists and reads the periods; anonymous callers do not', async () => {
    for (const role of ROLES) {
      const page = ok(await as[role].get('/v1/assessment-periods'));
      assert.ok(page.items.length >= 4, role);
      assert.equal(page.items[0].label, thisMonth(), 'newest first');
      ok(await as[role].get(`/v1/assessment-periods/${page.items[0].id}`));
    }
    assertUnauthorized(await call(svc, 'GET', '/v1/assessment-periods'), { invalid: false });
  });

  test('each caller counts the assessments they may see', async () => {
    const id = periodId(thisMonth());
    const mine = ok(await as.staffA1.get(`/v1/assessment-periods/${id}`));
    assert.deepEqual(mine.assessments, { total: 1, by_status: { computed: 1 } }, 'staff: their own');
    assert.deepEqual(mine.allowed_actions, [], 'staff may not close');
    const all = ok(await as.hr.get(`/v1/assessment-periods/${id}`));
    assert.ok(all.assessments.total > 1, 'hr: everyone');
    const reports = ok(await as.supA.get(`/v1/assessment-periods/${id}`));
    assert.ok(reports.assessments.total > 1 && reports.assessments.total < all.assessments.total,
      'sup.a: their own and their reports\'');
  });

  test('lists filter and page; bad filters and cursors are 422', async () => {
    const years = ok(await as.staff.get('/v1/assessment-periods?kind=year'));
    assert.deepEqual([...new Set(years.items.map((p) => p.kind))], ['year']);
    assert.deepEqual(years.items.map((p) => p.label).filter((l) => l <= '2025'), ['2025', '2024']);
    const months = ok(await as.staff.get('/v1/assessment-periods?kind=month&limit=100'));
    assert.deepEqual(months.items.map((p) => p.label).filter((l) => l <= '2025-12'),
      ['2025-12', '2025-10', '2025-08', '2024-12'], 'months newest first');
    const one = ok(await as.staff.get('/v1/assessment-periods?limit=1'));
    assert.equal(one.items.length, 1);
    assert.equal(one.next_cursor, one.items[0].label);
    const next = ok(await as.staff.get(`/v1/assessment-periods?limit=1&cursor=${one.next_cursor}`));
    assert.notEqual(next.items[0].label, one.items[0].label);
    assert.deepEqual(ok(await as.staff.get('/v1/assessment-periods?status=closed')).items, []);
    assertFieldError(await as.staff.get('/v1/assessment-periods?kind=week'), 'kind');
    assertFieldError(await as.staff.get('/v1/assessment-periods?status=done'), 'status');
    assertFieldError(await as.staff.get('/v1/assessment-periods?cursor=abc'), 'cursor');
  });

  test('an unknown or malformed id is 404', async () => {
    assertProblem(await as.hr.get(`/v1/assessment-periods/${UNKNOWN}`), 404, 'not_found');
    assertProblem(await as.hr.get('/v1/assessment-periods/2026-11'), 404, 'not_found');
    assertProblem(await as.hr.post(`/v1/assessment-periods/${UNKNOWN}/compute`), 404, 'not_found');
    assertProblem(await as.hr.post(`/v1/assessment-periods/${UNKNOWN}/close`, {}), 404, 'not_found');
    assertProblem(await as.hr.get(`/v1/assessment-periods/${UNKNOWN}/transitions`), 404, 'not_found');
  });

  test('hr opens a period that has ended: 201, then 409 the second time', async () => {
    const res = await as.hr.post('/v1/assessment-periods', { label: '2025-06' });
    const p = ok(res, 201);
    assert.equal(res.headers.location, `/v1/assessment-periods/${p.id}`);
    assert.equal(res.headers.etag, '"1"');
    assert.equal(p.label, '2025-06');
    assert.equal(p.kind, 'month');
    assert.equal(p.starts_on, '2025-06-01');
    assert.equal(p.ends_on, '2025-06-30');
    assert.equal(p.opened_by, EMP.hr.id);
    assert.equal(p.status, 'open');
    assert.deepEqual(p.assessments, { total: 0, by_status: {} }, 'nobody was employed in June 2025');
    const again = assertProblem(await as.hr.post('/v1/assessment-periods', { label: '2025-06' }), 409, 'conflict');
    assert.equal(again.existing_id, p.id);
  });

  test('opening: wrong role 403, bad input 422 naming label, nothing written', async () => {
    const before = q('SELECT count(*) FROM assessment.periods');
    for (const role of ['staff', 'supervisor', 'auditor', 'admin', 'risk_officer']) {
      assertProblem(await as[role].post('/v1/assessment-periods', { label: '2025-07' }), 403, 'forbidden');
    }
    assertFieldError(await as.hr.post('/v1/assessment-periods', { label: '2025-13' }), 'label');
    assertFieldError(await as.hr.post('/v1/assessment-periods', { label: q(`SELECT to_char(now() + interval '2 months', 'YYYY-MM')`) }), 'label');
    assertFieldError(await as.hr.post('/v1/assessment-periods', { label: q(`SELECT to_char(now() + interval '1 year', 'YYYY')`) }), 'label');
    assertFieldError(await as.hr.post('/v1/assessment-periods', {}), 'label');
    assertProblem(await as.hr.post('/v1/assessment-periods', { label: '2025-07', extra: 1 }), 422, 'validation_failed');
    assert.equal(q('SELECT count(*) FROM assessment.periods'), before, 'nothing written');
  });

  test('hr recomputes an open period; others may not', async () => {
    const id = periodId(thisMonth());
    for (const role of ['staff', 'supervisor', 'auditor', 'admin']) {
      assertProblem(await as[role].post(`/v1/assessment-periods/${id}/compute`), 403, 'forbidden');
    }
    const hash = q(`SELECT string_agg(encode(evidence_hash, 'hex'), ',' ORDER BY employee_id) FROM assessment.assessments WHERE period_id = ${lit(id)}`);
    const r = ok(await as.hr.post(`/v1/assessment-periods/${id}/compute`));
    assert.equal(r.computed, r.assessments.total, 'every assessment is still computed: all recomputed');
    assert.equal(q(`SELECT string_agg(encode(evidence_hash, 'hex'), ',' ORDER BY employee_id) FROM assessment.assessments WHERE period_id = ${lit(id)}`),
      hash, 'the same facts: the same evidence hashes');
  });

  test('closing: 409 while assessments are on their way, 200 once complete, then 409; transitions', async () => {
    const id = periodId(thisMonth());
    for (const role of ['staff', 'supervisor', 'auditor', 'admin']) {
      assertProblem(await as[role].post(`/v1/assessment-periods/${id}/close`, {}), 403, 'forbidden');
    }
    assertProblem(await as.hr.post(`/v1/assessment-periods/${id}/close`, {}), 409, 'invalid_transition',
      { members: { allowed_actions: ['close'] } });
    assert.equal(q(`SELECT status FROM assessment.periods WHERE id = ${lit(id)}`), 'open');
    assertProblem(await as.hr.post(`/v1/assessment-periods/${id}/close`, { reason: '' }), 422, 'validation_failed');
    assertProblem(await as.hr.post(`/v1/assessment-periods/${id}/close`, { note: 'x' }), 422, 'validation_failed');

    const june = periodId('2025-06');
    const closed = ok(await as.hr.post(`/v1/assessment-periods/${june}/close`, { reason: '六月考核完成' }));
    assert.equal(closed.status, 'closed');
    assert.ok(closed.closed_at);
    assert.deepEqual(closed.allowed_actions, []);
    assertProblem(await as.hr.post(`/v1/assessment-periods/${june}/close`, {}), 409, 'invalid_transition',
      { members: { allowed_actions: [] } });
    assertProblem(await as.hr.post(`/v1/assessment-periods/${june}/compute`), 409, 'invalid_transition');

    const t = ok(await as.staff.get(`/v1/assessment-periods/${june}/transitions`));
    assert.equal(t.items.length, 1);
    assert.equal(t.items[0].action, 'close');
    assert.equal(t.items[0].from_state, 'open');
    assert.equal(t.items[0].to_state, 'closed');
    assert.equal(t.items[0].actor_id, EMP.hr.id);
    assert.equal(t.items[0].reason, '六月考核完成');
    assert.deepEqual(ok(await as.hr.get('/v1/assessment-periods?status=closed')).items.map((p) => p.label), ['2025-06']);
  });

  commonHeadersTest();
});
