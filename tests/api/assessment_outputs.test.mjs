// Module Q, part D: the use of results (Q4 結果應用; sql/code/assessment/060_outputs.sql). Salary
// bases (HR only, never overwritten), the bonus list of a period and the promotion candidates of
// a year (HR only), training plans by hand, proposed from an assessment, and their moves
// (Q4 培訓與發展; R2.4). The service makes lists; people decide.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { assertProblem, commonHeadersTest, freshDatabase, lit, pg } from './lib/harness.mjs';
import { caseInProgress, createBusinessType } from './lib/cases.mjs';
import { customerKeys, startCustomerService } from './lib/customers.mjs';
import {
  EMP, assertFieldError, client, loadFixtures, newSigningKey, ok, ownToken,
} from './lib/identity.mjs';

const DB = 'tx_api_assessment_outputs';
const NO_ID = '00000000-0000-4000-8000-0000000000d0';

let key;
let svc;
const as = {};
const asEmp = (e) => client(svc, ownToken(key, e));
const count = (sql) => Number(pg(sql, { db: DB }));
// Today in the company's time zone (what the SQL functions call today for due dates).
const companyDay = (days = 0) => pg(
  `SELECT ((now() AT TIME ZONE 'Asia/Taipei')::date + ${Number(days)})::text`, { db: DB });

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startCustomerService(DB, key, customerKeys());
  loadFixtures(DB);
  Object.assign(as, {
    admin: asEmp(EMP.admin), hr: asEmp(EMP.hr), admin2: asEmp(EMP.admin2), auditor: asEmp(EMP.auditor),
    risk: asEmp(EMP.risk), supA: asEmp(EMP.supA), supB: asEmp(EMP.supB), a1: asEmp(EMP.staffA1),
    a2: asEmp(EMP.staffA2), b1: asEmp(EMP.staffB1),
  });
});

describe('salary bases (Q4 績效獎金): HR only, effective-dated, never overwritten', () => {
  let first;
  test('HR records bases; a later one is a new row; amounts are decimal strings', async () => {
    first = ok(await as.hr.post('/v1/salary-bases', {
      employee_id: EMP.staffA1.id, amount: '40000', effective_from: '2024-01-01', note: '到職薪資',
    }), 201);
    assert.equal(first.amount, '40000.00');
    assert.equal(first.currency, 'TWD');
    assert.equal(first.set_by, EMP.hr.id);
    const second = ok(await as.hr.post('/v1/salary-bases', {
      employee_id: EMP.staffA1.id, amount: '42000.50', currency: 'TWD', effective_from: '2025-07-01',
    }), 201);
    assert.equal(second.amount, '42000.50');
    const list = ok(await as.hr.get(`/v1/salary-bases?employee_id=${EMP.staffA1.id}`));
    assert.deepEqual(list.items.map((b) => b.effective_from), ['2024-01-01', '2025-07-01']);
    const page1 = ok(await as.hr.get('/v1/salary-bases?limit=1'));
    assert.equal(page1.items.length, 1);
    assert.equal(page1.next_cursor, first.id);
    const page2 = ok(await as.hr.get(`/v1/salary-bases?limit=1&cursor=${page1.next_cursor}`));
    assert.equal(page2.items[0].id, second.id);
  });

  test('the same employee and date again is 409 with existing_id; nothing is overwritten', async () => {
    const p = assertProblem(await as.hr.post('/v1/salary-bases', {
      employee_id: EMP.staffA1.id, amount: '1.00', effective_from: '2024-01-01',
    }), 409, 'conflict');
    assert.equal(p.existing_id, first.id);
    assert.equal(pg(`SELECT amount::text FROM assessment.salary_bases WHERE id = ${lit(first.id)}`, { db: DB }), '40000.00');
    assert.throws(() => pg(`UPDATE assessment.salary_bases SET amount = 1 WHERE id = ${lit(first.id)}`,
      { db: DB, user: 'tianxing_owner' }), /never overwritten/);
  });

  test('bad input is 422 naming the member, and writes nothing', async () => {
    const before = count('SELECT count(*) FROM assessment.salary_bases');
    const base = { employee_id: EMP.staffA2.id, amount: '100.00', effective_from: '2026-01-01' };
    assertFieldError(await as.hr.post('/v1/salary-bases', { ...base, amount: 100 }), 'amount');
    assertFieldError(await as.hr.post('/v1/salary-bases', { ...base, amount: '1.001' }), 'amount');
    assertFieldError(await as.hr.post('/v1/salary-bases', { ...base, amount: '-1' }), 'amount');
    assertFieldError(await as.hr.post('/v1/salary-bases', { ...base, currency: 'twd' }), 'currency');
    assertFieldError(await as.hr.post('/v1/salary-bases', { ...base, effective_from: '2026-02-30' }), 'effective_from');
    assertFieldError(await as.hr.post('/v1/salary-bases', { ...base, employee_id: NO_ID }), 'employee_id');
    assertFieldError(await as.hr.post('/v1/salary-bases', { ...base, bonus: '1' }), 'bonus');
    assertFieldError(await as.hr.get('/v1/salary-bases?cursor=nope'), 'cursor');
    assert.equal(count('SELECT count(*) FROM assessment.salary_bases'), before);
  });

  test('nobody but HR reads or writes them; HR not their own', async () => {
    for (const c of [as.admin, as.auditor, as.supA, as.a1, as.risk]) {
      assertProblem(await c.get('/v1/salary-bases'), 403, 'forbidden');
      assertProblem(await c.post('/v1/salary-bases', {
        employee_id: EMP.staffA2.id, amount: '1.00', effective_from: '2026-01-01',
      }), 403, 'forbidden');
    }
    assertProblem(await as.hr.post('/v1/salary-bases', {
      employee_id: EMP.hr.id, amount: '1.00', effective_from: '2026-01-01',
    }), 403, 'forbidden');
    // admin2 holds hr too: a second HR person reads the same rows
    assert.equal(ok(await as.admin2.get('/v1/salary-bases')).items.length, 2);
  });
});

describe('bonus list and promotion candidates: HR only, 404 for an unknown period', () => {
  test('roles and unknown ids', async () => {
    for (const p of ['bonus-list', 'promotion-candidates']) {
      assertProblem(await as.hr.get(`/v1/assessment-periods/${NO_ID}/${p}`), 404, 'not_found');
      assertProblem(await as.hr.get(`/v1/assessment-periods/not-a-uuid/${p}`), 404, 'not_found');
      for (const c of [as.auditor, as.supA, as.a1, as.admin]) {
        assertProblem(await c.get(`/v1/assessment-periods/${NO_ID}/${p}`), 403, 'forbidden');
      }
    }
  });
});

describe('training plans (Q4 培訓與發展; R2.4)', () => {
  let plan;
  test('the supervisor writes a plan for a report: agreed, with Location', async () => {
    const res = await as.supA.post('/v1/training-plans', {
      employee_id: EMP.staffA1.id, topic: '稅務申報實務', goal: '獨立完成營業稅申報', due_on: companyDay(60),
    });
    plan = ok(res, 201);
    assert.equal(res.headers.location, `/v1/training-plans/${plan.id}`);
    assert.equal(plan.status, 'agreed');
    assert.equal(plan.source, 'manual');
    assert.equal(plan.created_by, EMP.supA.id);
    assert.equal(ok(await as.a1.get(`/v1/training-plans/${plan.id}`)).topic, '稅務申報實務');
  });

  test('who may write one', async () => {
    const body = { employee_id: EMP.staffA1.id, topic: 't', goal: 'g', due_on: companyDay(10) };
    assertProblem(await as.a2.post('/v1/training-plans', body), 403, 'forbidden');
    assertProblem(await as.auditor.post('/v1/training-plans', body), 403, 'forbidden');
    assertProblem(await as.supB.post('/v1/training-plans', body), 403, 'forbidden');
    assertProblem(await as.supA.post('/v1/training-plans', { ...body, employee_id: EMP.supA.id }), 403, 'forbidden');
    const before = count('SELECT count(*) FROM assessment.training_plans');
    assertFieldError(await as.supA.post('/v1/training-plans', { ...body, due_on: companyDay(-1) }), 'due_on');
    assertFieldError(await as.supA.post('/v1/training-plans', { ...body, topic: undefined }), 'topic');
    assertFieldError(await as.supA.post('/v1/training-plans', { ...body, employee_id: EMP.gone.id }), 'employee_id');
    assertFieldError(await as.supA.post('/v1/training-plans', { ...body, extra: 1 }), 'extra');
    assert.equal(count('SELECT count(*) FROM assessment.training_plans'), before);
  });

  test('who sees it: the employee, their supervisor, HR, auditors; not colleagues', async () => {
    for (const c of [as.a1, as.supA, as.hr, as.auditor]) {
      assert.deepEqual(ok(await c.get('/v1/training-plans')).items.map((p) => p.id), [plan.id]);
    }
    for (const c of [as.a2, as.supB, as.risk]) {
      assert.deepEqual(ok(await c.get('/v1/training-plans')).items, []);
      assertProblem(await c.get(`/v1/training-plans/${plan.id}`), 404, 'not_found');
    }
    assertProblem(await as.hr.get(`/v1/training-plans/${NO_ID}`), 404, 'not_found');
    assert.equal(ok(await as.hr.get(`/v1/training-plans?employee_id=${EMP.staffA2.id}`)).items.length, 0);
    assert.equal(ok(await as.hr.get('/v1/training-plans?status=agreed&source=manual')).items.length, 1);
    assert.equal(ok(await as.hr.get('/v1/training-plans?status=completed')).items.length, 0);
    assertFieldError(await as.hr.get('/v1/training-plans?status=done'), 'status');
    assertFieldError(await as.hr.get('/v1/training-plans?source=x'), 'source');
    assertFieldError(await as.hr.get('/v1/training-plans?cursor=x'), 'cursor');
  });

  test('start, complete with evidence; wrong role, wrong person, wrong state', async () => {
    assertProblem(await as.a2.post(`/v1/training-plans/${plan.id}/start`, {}), 404, 'not_found');
    assertProblem(await as.auditor.post(`/v1/training-plans/${plan.id}/start`, {}), 403, 'forbidden');
    assertProblem(await as.a1.post(`/v1/training-plans/${plan.id}/complete`, { evidence: 'x' }), 403, 'forbidden');
    const agreeAgain = assertProblem(await as.supA.post(`/v1/training-plans/${plan.id}/agree`, {}), 409, 'invalid_transition');
    assert.equal(agreeAgain.state, 'agreed');
    assert.deepEqual(agreeAgain.allowed_actions, ['cancel', 'start']);
    const started = ok(await as.a1.post(`/v1/training-plans/${plan.id}/start`, { note: '已報名課程' }));
    assert.equal(started.status, 'in_progress');
    assertFieldError(await as.supA.post(`/v1/training-plans/${plan.id}/complete`, {}), 'evidence');
    assert.equal(pg(`SELECT status FROM assessment.training_plans WHERE id = ${lit(plan.id)}`, { db: DB }), 'in_progress');
    const done = ok(await as.supA.post(`/v1/training-plans/${plan.id}/complete`, {
      evidence: '結業證書 2026-0042', outcome: '已能獨立申報',
    }));
    assert.equal(done.status, 'completed');
    assert.equal(done.evidence, '結業證書 2026-0042');
    assert.ok(done.completed_at);
    assertProblem(await as.hr.post(`/v1/training-plans/${plan.id}/cancel`, { reason: 'r' }), 409, 'invalid_transition');
    assertProblem(await as.hr.post(`/v1/training-plans/${NO_ID}/cancel`, { reason: 'r' }), 404, 'not_found');
  });

  test('HR cancels a plan with a reason, kept as its outcome', async () => {
    const p = ok(await as.hr.post('/v1/training-plans', {
      employee_id: EMP.staffB1.id, topic: '客戶溝通', goal: '提升溝通技巧', due_on: companyDay(0),
    }), 201);
    assertFieldError(await as.hr.post(`/v1/training-plans/${p.id}/cancel`, {}), 'reason');
    const c = ok(await as.hr.post(`/v1/training-plans/${p.id}/cancel`, { reason: '已調離業務崗位' }));
    assert.equal(c.status, 'cancelled');
    assert.equal(c.outcome, '已調離業務崗位');
  });

  test('proposals: 404 for an unknown assessment, 403 for a role that never proposes', async () => {
    assertProblem(await as.hr.post(`/v1/assessments/${NO_ID}/training-proposals`), 404, 'not_found');
    assertProblem(await as.a1.post(`/v1/assessments/${NO_ID}/training-proposals`), 403, 'forbidden');
    assertProblem(await as.auditor.post(`/v1/assessments/${NO_ID}/training-proposals`), 403, 'forbidden');
  });
});

// A month computed by part A's job function (the job 'assessment.periods' run as the scheduler
// would, on the first working day after this month). Part B's workflow is not on main yet: no
// assessment can be published, so the bonus list is empty and every assessment pending.
describe('a computed month: lists and training proposals', () => {
  let periodId;
  let a1Assessment;
  // The job as the scheduler runs it on the first working day after the month `label`.
  const runJobAfter = (label) => JSON.parse(pg(`SELECT assessment.periods_job(jsonb_build_object('today',
      (SELECT min(d::date) FROM generate_series(to_date(${lit(label)}, 'YYYY-MM') + interval '1 month',
         to_date(${lit(label)}, 'YYYY-MM') + interval '1 month 20 days', interval '1 day') d
        WHERE org.is_workday(d::date))))`, { db: DB }));
  before(async () => {
    // A real case through module P's routes: staff.a1 leads it, in progress, nothing passed. In
    // the month its milestones fall due (this month or the next), staff.a1's completion rate is
    // 0 (under the threshold 60): the proposals have at least that plan.
    const type = await createBusinessType(as.admin, { code: 'qd-outputs' });
    const { case: c } = await caseInProgress(svc, key, { typeId: type.id });
    const dueLabel = pg(`SELECT to_char(max(due_at) AT TIME ZONE 'Asia/Taipei', 'YYYY-MM') FROM cases.deadlines
                          WHERE case_id = ${lit(c.id)} AND kind = 'milestone'`, { db: DB });
    const label = pg(`SELECT to_char(now() AT TIME ZONE 'Asia/Taipei', 'YYYY-MM')`, { db: DB });
    const job = runJobAfter(label);
    // (in December the same run opens the year too)
    assert.equal(job.opened[0], label, JSON.stringify(job));
    if (dueLabel !== label) assert.equal(runJobAfter(dueLabel).opened[0], dueLabel);
    periodId = pg(`SELECT id FROM assessment.periods WHERE label = ${lit(label)}`, { db: DB });
    a1Assessment = pg(`SELECT a.id FROM assessment.assessments a JOIN assessment.periods p ON p.id = a.period_id
                        WHERE p.label = ${lit(dueLabel)} AND a.employee_id = ${lit(EMP.staffA1.id)}`, { db: DB });
    assert.match(a1Assessment, /^[0-9a-f-]{36}$/);
    assert.equal(pg(`SELECT figure::text FROM assessment.indicator_values WHERE assessment_id = ${lit(a1Assessment)}
                      AND indicator = 'completion_rate'`, { db: DB }), '0.00');
  });

  test('bonus list: nothing published yet, every live assessment pending', async () => {
    const l = ok(await as.hr.get(`/v1/assessment-periods/${periodId}/bonus-list`));
    assert.deepEqual(l.items, []);
    assert.equal(l.next_cursor, null);
    assert.equal(l.pending, count(`SELECT count(*) FROM assessment.assessments WHERE period_id = ${lit(periodId)}`));
    assert.ok(l.pending > 0);
    assert.equal(l.period.id, periodId);
    assert.equal(l.period.kind, 'month');
    assert.deepEqual(l.coefficients.map((c) => c.grade), ['A', 'B', 'C', 'D', 'E']);
    assertFieldError(await as.hr.get(`/v1/assessment-periods/${periodId}/bonus-list?cursor=x`), 'cursor');
    assertFieldError(await as.hr.get(`/v1/assessment-periods/${periodId}/bonus-list?limit=0`), 'limit');
    assertProblem(await as.supA.get(`/v1/assessment-periods/${periodId}/bonus-list`), 403, 'forbidden');
    // HR's spreadsheet: the same list as CSV (UTF-8 with BOM, the header row; no line yet)
    const csv = await as.hr.get(`/v1/assessment-periods/${periodId}/bonus-list`, { headers: { Accept: 'text/csv' } });
    assert.equal(csv.status, 200, csv.text);
    assert.match(csv.headers['content-type'], /^text\/csv/);
    assert.equal(csv.text, '\ufeffEmployee ID,Employee,Department ID,Assessment ID,Status,Grade,Composite,'
      + 'Coefficient,Salary base,Base from,Bonus,Currency,Reason\r\n');
    assertProblem(await as.hr.get(`/v1/assessment-periods/${periodId}/bonus-list`,
      { headers: { Accept: 'image/png' } }), 406, 'not_acceptable');
  });

  test('promotion candidates come from a year: a month is 409; a year shows its rule', async () => {
    assertProblem(await as.hr.get(`/v1/assessment-periods/${periodId}/promotion-candidates`), 409, 'conflict');
    // last year, opened by the job's January run (nobody was employed then: no assessment)
    const year = String(Number(pg(`SELECT extract(year FROM now() AT TIME ZONE 'Asia/Taipei')::int`, { db: DB })) - 1);
    pg(`SELECT assessment.periods_job(jsonb_build_object('today',
      (SELECT min(d::date) FROM generate_series(make_date(${Number(year) + 1}, 1, 1), make_date(${Number(year) + 1}, 1, 20),
         interval '1 day') d WHERE org.is_workday(d::date))))`, { db: DB });
    const yearId = pg(`SELECT id FROM assessment.periods WHERE label = ${lit(year)}`, { db: DB });
    const c = ok(await as.hr.get(`/v1/assessment-periods/${yearId}/promotion-candidates`));
    assert.deepEqual(c.rule, { grades: ['A'], min_months_assessed: 10 });
    assert.equal(c.period.kind, 'year');
    assert.deepEqual(c.items, []);
    const csv = await as.hr.get(`/v1/assessment-periods/${yearId}/promotion-candidates`, { headers: { Accept: 'text/csv' } });
    assert.equal(csv.status, 200, csv.text);
    assert.match(csv.text, /^\ufeffEmployee ID,Employee,Department ID,Assessment ID,Status,Grade,Composite,Months assessed,Monthly mean,Supervisor score\r\n$/);
    assertFieldError(await as.hr.get(`/v1/assessment-periods/${yearId}/promotion-candidates?cursor=x`), 'cursor');
    assertProblem(await as.auditor.get(`/v1/assessment-periods/${yearId}/promotion-candidates`), 403, 'forbidden');
  });

  test('training proposals: evaluator or HR, idempotent', async () => {
    const url = `/v1/assessments/${a1Assessment}/training-proposals`;
    assertProblem(await as.a1.post(url), 403, 'forbidden');
    assertProblem(await as.supB.post(url), 404, 'not_found');
    assertProblem(await as.hr.post('/v1/assessments/not-a-uuid/training-proposals'), 404, 'not_found');
    // indicators under their thresholds, from the stored figures (no self-assessment yet)
    const expected = count(`SELECT count(*) FROM assessment.indicator_values v
      JOIN assessment.assessments a ON a.id = v.assessment_id JOIN assessment.periods p ON p.id = a.period_id
      WHERE v.assessment_id = ${lit(a1Assessment)}
        AND v.figure < (p.parameters -> 'assessment_training_thresholds' ->> v.indicator)::numeric`);
    assert.ok(expected >= 1, 'completion rate 0 is under its threshold');
    const first = ok(await as.supA.post(url));
    assert.equal(first.assessment_id, a1Assessment);
    assert.equal(first.created, expected);
    const completion = first.items.find((p) => p.indicator === 'completion_rate');
    assert.equal(completion.topic, '業務完成率 completion rate');
    assert.match(completion.goal, /from 0\.00 to at least 60 /);
    const ends = pg(`SELECT p.ends_on FROM assessment.periods p JOIN assessment.assessments a ON a.period_id = p.id
                      WHERE a.id = ${lit(a1Assessment)}`, { db: DB });
    // the last day of the third month after the period's month (or 30 days ahead if that passed)
    assert.equal(completion.due_on, pg(`SELECT greatest((date_trunc('month', ${lit(ends)}::date) + interval '4 months'
      - interval '1 day')::date, (now() AT TIME ZONE 'Asia/Taipei')::date + 30)::text`, { db: DB }));
    // the plan goes on like any other: the supervisor agrees it, the employee starts it
    assert.equal(ok(await as.supA.post(`/v1/training-plans/${completion.id}/agree`, {})).status, 'agreed');
    assert.equal(ok(await as.a1.post(`/v1/training-plans/${completion.id}/start`, {})).status, 'in_progress');
    assert.equal(first.thresholds.teamwork, 50);
    for (const p of first.items) {
      assert.equal(p.status, 'proposed');
      assert.equal(p.source, 'indicator');
      assert.equal(p.created_by, null);
    }
    const again = ok(await as.hr.post(url));
    assert.equal(again.created, 0);
    assert.deepEqual(again.items.map((p) => p.id), first.items.map((p) => p.id));
    assert.equal(again.items.find((p) => p.id === completion.id).status, 'in_progress');
    assert.equal(count(`SELECT count(*) FROM assessment.training_plans WHERE assessment_id = ${lit(a1Assessment)}`), expected);
  });
});

commonHeadersTest();
