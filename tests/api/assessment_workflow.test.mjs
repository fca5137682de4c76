// Module Q, part B: the workflow of an assessment (Q2.1, Q2.2, Q3) over HTTP. A team case of
// staff.a1 (lead) and staff.a2 (member) is brought in progress through module P's real routes;
// the month that holds today is opened and computed by part A's job function (as the scheduler
// runs it, with the first working day after the month as "today"); then the whole walk:
// self-assessment, supervisor evaluation, HR return and check, publication, appeal, HR's
// decision, a correction proposed by HR and approved by a second HR person, the employee's
// acknowledgement of the corrected revision, the transitions. Every refusal on the way: wrong
// role 403, wrong person (a guard) 409 naming it, wrong state 409 with allowed_actions, bad input
// 422 with nothing written, a stale or missing If-Match 412/428, invisible or unknown 404.
// Every response is validated against the contract by contract_responses.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { assertProblem, freshDatabase, pg } from './lib/harness.mjs';
import { customerKeys, startCustomerService } from './lib/customers.mjs';
import { caseInProgress, createBusinessType } from './lib/cases.mjs';
import {
  DEPT, EMP, assertFieldError, client, commonHeadersTestExceptJwks, loadFixtures, newSigningKey, ok, ownToken,
} from './lib/identity.mjs';

const DB = 'tx_api_assessment_workflow';
const NOID = '7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e';
let key;
let svc;
const as = {};
let periodId;
let a1; // staff.a1's assessment (revision 1)
let a2; // staff.a2's
let r2; // the correction (revision 2)

const im = (v) => ({ headers: { 'If-Match': `"${v}"` } });
/** The assessment as hr reads it now (its version for If-Match). */
const read = async (id) => ok(await as.hr.get(`/v1/assessments/${id}`));

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startCustomerService(DB, key, customerKeys());
  loadFixtures(DB);
  const c = (e, roles) => client(svc, ownToken(key, e, { roles }));
  Object.assign(as, {
    admin: c(EMP.admin), admin2: c(EMP.admin2), hr: c(EMP.hr), auditor: c(EMP.auditor), supA: c(EMP.supA),
    supB: c(EMP.supB), a1: c(EMP.staffA1), a2: c(EMP.staffA2), b1: c(EMP.staffB1),
  });
  // A team case (P): staff.a1 leads, staff.a2 is a member (teamwork evidence, Q1 團隊協作).
  const type = await createBusinessType(as.admin, { code: 'qb-audit' });
  await caseInProgress(svc, key, { typeId: type.id, lead: EMP.staffA1, members: [EMP.staffA2] });
  // The job 'assessment.periods' on the first working day after the month of today opens and
  // computes that month (part A); run as the scheduler runs a job's statement.
  // The scheduler's claims (docs/architecture.md, "Jobs"): role system, no employee.
  const out = pg(`SELECT assessment.periods_job(jsonb_build_object('today',
      (SELECT min(d::date) FROM generate_series(
         (date_trunc('month', now() AT TIME ZONE org.company_time_zone()) + interval '1 month')::date,
         (date_trunc('month', now() AT TIME ZONE org.company_time_zone()) + interval '1 month 25 days')::date,
         interval '1 day') d WHERE org.is_workday(d::date))))::text
    FROM (SELECT set_config('tx.user_id', '', false), set_config('tx.roles', 'system', false),
                 set_config('tx.department_id', '', false),
                 set_config('tx.request_id', 'job:assessment.periods', false)) claims`, { db: DB, user: 'tianxing_owner' });
  assert.ok(JSON.parse(out).opened.length >= 1, `the job opened the month: ${out}`);
  const label = pg(`SELECT to_char(now() AT TIME ZONE org.company_time_zone(), 'YYYY-MM')`, { db: DB });
  periodId = pg(`SELECT id FROM assessment.periods WHERE label = '${label}'`, { db: DB });
  const list = ok(await as.hr.get(`/v1/assessments?period_id=${periodId}&limit=200`));
  a1 = list.items.find((i) => i.employee_id === EMP.staffA1.id);
  a2 = list.items.find((i) => i.employee_id === EMP.staffA2.id);
  assert.ok(a1 && a2, 'staff.a1 and staff.a2 are assessed');
});

describe('reading (who sees what)', () => {
  test('staff see their own, supervisors their reports\', hr all, auditors read; administrators none', async () => {
    const mine = ok(await as.a1.get(`/v1/assessments?period_id=${periodId}`));
    assert.deepEqual([...new Set(mine.items.map((i) => i.employee_id))], [EMP.staffA1.id]);
    const sup = ok(await as.supA.get(`/v1/assessments?period_id=${periodId}&limit=200`));
    const ids = sup.items.map((i) => i.employee_id);
    assert.ok(ids.includes(EMP.staffA1.id) && ids.includes(EMP.staffA2.id), 'sup.a sees reports');
    assert.ok(!ids.includes(EMP.staffB1.id), 'not department B');
    const supB = ok(await as.supB.get(`/v1/assessments?period_id=${periodId}`));
    assert.deepEqual(supB.items.map((i) => i.employee_id), [EMP.staffB1.id]);
    const aud = ok(await as.auditor.get(`/v1/assessments/${a1.id}`));
    assert.deepEqual(aud.allowed_actions, []);
    assertProblem(await as.admin.get('/v1/assessments'), 403, 'forbidden');
  });

  test('filters and keyset pages; bad filters are 422', async () => {
    const byDept = ok(await as.hr.get(`/v1/assessments?period_id=${periodId}&department_id=${DEPT.B}`));
    assert.deepEqual(byDept.items.map((i) => i.employee_id), [EMP.staffB1.id]);
    const seen = new Set();
    let cursor = null;
    let pages = 0;
    do {
      const page = ok(await as.hr.get(`/v1/assessments?period_id=${periodId}&limit=2${cursor ? `&cursor=${cursor}` : ''}`));
      for (const i of page.items) seen.add(i.id);
      cursor = page.next_cursor;
      pages += 1;
    } while (cursor && pages < 20);
    const all = ok(await as.hr.get(`/v1/assessments?period_id=${periodId}&limit=200`));
    assert.equal(seen.size, all.items.length, 'pages of two walk every assessment once');
    assertFieldError(await as.hr.get('/v1/assessments?status=finished'), 'status');
    assertFieldError(await as.hr.get('/v1/assessments?cursor=nope'), 'cursor');
  });

  test('Accept: text/csv gives HR the whole filtered list for Excel (BOM, header, one row each)', async () => {
    const all = ok(await as.hr.get(`/v1/assessments?period_id=${periodId}&limit=200`));
    const res = await as.hr.get(`/v1/assessments?period_id=${periodId}&limit=2`, { headers: { Accept: 'text/csv' } });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers['content-type'], /^text\/csv; charset=utf-8/);
    assert.match(res.headers['content-disposition'], /^attachment; filename="assessments\.csv"$/);
    assert.ok(res.text.startsWith('\uFEFF'), 'a byte order mark');
    const lines = res.text.slice(1).split('\r\n').filter((l) => l !== '');
    assert.equal(lines[0], 'Assessment ID,Period,Kind,Employee,Employee ID,Department ID,Revision,Status,Composite,Grade,Monthly mean,Published at,Updated at');
    assert.equal(lines.length - 1, all.items.length, 'every assessment, across pages of two');
    assert.ok(lines.some((l) => l.includes(EMP.staffA1.id) && l.includes('Staff A1')), 'names as text');
  });

  test('the document: five indicators with evidence, steps, allowed_actions, ETag', async () => {
    const res = await as.a1.get(`/v1/assessments/${a1.id}`);
    const d = ok(res);
    assert.equal(res.headers.etag, `"${d.version}"`);
    assert.deepEqual(d.indicators.map((i) => i.indicator), ['completion_rate', 'satisfaction', 'accuracy', 'efficiency', 'teamwork']);
    const tw = d.indicators.find((i) => i.indicator === 'teamwork');
    assert.equal(tw.marked, 'not_rated');
    assert.equal(d.status, 'computed');
    assert.equal(d.period_kind, 'month');
    assert.deepEqual(d.allowed_actions, ['self_assess']);
    assert.equal(d.self_assessment, null);
  });

  test('invisible or unknown: 404', async () => {
    assertProblem(await as.a2.get(`/v1/assessments/${a1.id}`), 404, 'not_found');
    assertProblem(await as.hr.get(`/v1/assessments/${NOID}`), 404, 'not_found');
    assertProblem(await as.a2.get(`/v1/assessments/${a1.id}/transitions`), 404, 'not_found');
    assertProblem(await as.a2.post(`/v1/assessments/${a1.id}/self-assessment`, { went_well: 'x', shortcomings: 'y' }, im(1)), 404, 'not_found');
  });
});

describe('the walk of a month', () => {
  test('self-assessment: role, person, If-Match, body; then by the employee', async () => {
    const v = (await read(a1.id)).version;
    const body = { went_well: '按時完成審計底稿', shortcomings: '與客戶溝通不足', self_score: 82.5 };
    assertProblem(await as.hr.post(`/v1/assessments/${a1.id}/self-assessment`, body, im(v)), 403, 'forbidden');
    const g = assertProblem(await as.supA.post(`/v1/assessments/${a1.id}/self-assessment`, body, im(v)), 409, 'invalid_transition');
    assert.equal(g.guard, 'assessment.is_assessee');
    assertProblem(await as.a1.post(`/v1/assessments/${a1.id}/self-assessment`, body), 428, 'precondition_required');
    assertProblem(await as.a1.post(`/v1/assessments/${a1.id}/self-assessment`, body, im(v + 5)), 412, 'precondition_failed');
    assertFieldError(await as.a1.post(`/v1/assessments/${a1.id}/self-assessment`, { went_well: 'x' }, im(v)), 'shortcomings');
    assertFieldError(await as.a1.post(`/v1/assessments/${a1.id}/self-assessment`, { ...body, self_score: 101 }, im(v)), 'self_score');
    const still = await read(a1.id);
    assert.equal(still.status, 'computed');
    assert.equal(still.version, v, 'nothing written');
    const d = ok(await as.a1.post(`/v1/assessments/${a1.id}/self-assessment`, body, im(v)));
    assert.equal(d.status, 'self_assessed');
    assert.equal(d.self_assessment.went_well, body.went_well);
    assert.equal(d.self_assessment.self_score, 82.5);
    const again = assertProblem(await as.a1.post(`/v1/assessments/${a1.id}/self-assessment`, body, im(d.version)), 409, 'invalid_transition');
    assert.equal(again.state, 'self_assessed');
    assert.deepEqual(again.allowed_actions, []);
  });

  test('evaluation: role, person, body; then by the supervisor (teamwork 75, composite follows)', async () => {
    const v = (await read(a1.id)).version;
    assertProblem(await as.a1.post(`/v1/assessments/${a1.id}/evaluation`, { teamwork_rating: 5 }, im(v)), 403, 'forbidden');
    assertProblem(await as.supB.post(`/v1/assessments/${a1.id}/evaluation`, { teamwork_rating: 5 }, im(v)), 404, 'not_found');
    const v2 = (await read(a2.id)).version;
    const g = assertProblem(await as.supA.post(`/v1/assessments/${a2.id}/evaluation`, { teamwork_rating: 4 }, im(v2)), 409, 'invalid_transition');
    assert.equal(g.guard, 'assessment.evaluator_without_self', 'no evaluation before the self-assessment');
    assertFieldError(await as.supA.post(`/v1/assessments/${a1.id}/evaluation`, { teamwork_rating: 6 }, im(v)), 'teamwork_rating');
    assertFieldError(await as.supA.post(`/v1/assessments/${a1.id}/evaluation`, { supervisor_score: 80 }, im(v)), 'supervisor_score');
    assert.equal((await read(a1.id)).version, v, 'nothing written');
    const d = ok(await as.supA.post(`/v1/assessments/${a1.id}/evaluation`, { teamwork_rating: 4, comment: '團隊配合良好' }, im(v)));
    assert.equal(d.status, 'evaluated');
    assert.equal(d.evaluation.teamwork_rating, 4);
    assert.equal(d.evaluation.by, EMP.supA.id);
    const tw = d.indicators.find((i) => i.indicator === 'teamwork');
    assert.equal(tw.figure, 75);
    assert.equal(tw.marked, null);
    assert.ok(tw.evidence.some((e) => e.kind === 'case'), 'the team case is the teamwork evidence');
    assert.ok(d.composite !== null && d.grade !== null, 'composite and grade');
    assert.match(d.evidence_hash, /^[0-9a-f]{64}$/);
  });

  test('HR: publish before the check is 409; return with a reason; re-evaluation; check; publish', async () => {
    let v = (await read(a1.id)).version;
    const early = assertProblem(await as.hr.post(`/v1/assessments/${a1.id}/publish`, undefined, im(v)), 409, 'invalid_transition');
    assert.deepEqual(early.allowed_actions, ['check', 'return']);
    assertProblem(await as.supA.post(`/v1/assessments/${a1.id}/check`, {}, im(v)), 403, 'forbidden');
    assertFieldError(await as.hr.post(`/v1/assessments/${a1.id}/return`, {}, im(v)), 'reason');
    let d = ok(await as.hr.post(`/v1/assessments/${a1.id}/return`, { reason: '評分依據不足，請補充' }, im(v)));
    assert.equal(d.status, 'self_assessed');
    d = ok(await as.supA.post(`/v1/assessments/${a1.id}/evaluation`, { teamwork_rating: 5 }, im(d.version)));
    assert.equal(d.indicators.find((i) => i.indicator === 'teamwork').figure, 100);
    assertProblem(await as.hr.post(`/v1/assessments/${a1.id}/check`, { note: '已核對' }, im(d.version - 1)), 412, 'precondition_failed');
    d = ok(await as.hr.post(`/v1/assessments/${a1.id}/check`, { note: '已核對' }, im(d.version)));
    assert.equal(d.status, 'checked');
    assert.equal(d.check.note, '已核對');
    d = ok(await as.hr.post(`/v1/assessments/${a1.id}/publish`, undefined, im(d.version)));
    assert.equal(d.status, 'published');
    assert.equal(d.publication.by, EMP.hr.id);
    v = d.version;
    const late = assertProblem(await as.supA.post(`/v1/assessments/${a1.id}/evaluation`, { teamwork_rating: 1 }, im(v)), 409, 'invalid_transition');
    assert.equal(late.state, 'published');
  });

  test('the employee appeals; HR upholds it with a reason', async () => {
    const before = await read(a1.id);
    assertProblem(await as.hr.post(`/v1/assessments/${a1.id}/acknowledge`), 403, 'forbidden');
    const mine = ok(await as.a1.get(`/v1/assessments/${a1.id}`));
    assert.deepEqual(mine.allowed_actions, ['acknowledge', 'appeal']);
    assertFieldError(await as.a1.post(`/v1/assessments/${a1.id}/appeal`, {}), 'reason');
    let d = ok(await as.a1.post(`/v1/assessments/${a1.id}/appeal`, { reason: '團隊協作評分與實際不符' }));
    assert.equal(d.status, 'appealed');
    assert.equal(d.appeal.reason, '團隊協作評分與實際不符');
    assertProblem(await as.a1.post(`/v1/assessments/${a1.id}/acknowledge`), 409, 'invalid_transition');
    assertFieldError(await as.hr.post(`/v1/assessments/${a1.id}/appeal-decision`, { decision: 'maybe', reason: 'r' }, im(d.version)), 'decision');
    d = ok(await as.hr.post(`/v1/assessments/${a1.id}/appeal-decision`, { decision: 'uphold', reason: '評分有誤，應予更正' }, im(d.version)));
    assert.equal(d.status, 'appeal_upheld');
    assert.equal(d.appeal.decision, 'upheld');
    assert.deepEqual(d.indicators, before.indicators, 'the answer moved only the status: the figures are as published');
    assert.equal(d.evidence_hash, before.evidence_hash);
    assert.equal(d.composite, before.composite);
    assert.ok(d.allowed_actions.includes('correct'), 'HR may now correct it');
  });

  test('a correction: revision 2 proposed by HR, approved by a second person; revision 1 superseded', async () => {
    const old = await read(a1.id);
    assertProblem(await as.a1.post(`/v1/assessments/${a1.id}/corrections`, { reason: 'r', teamwork_rating: 3 }, im(old.version)), 403, 'forbidden');
    const v2 = (await read(a2.id)).version;
    const notYet = assertProblem(await as.hr.post(`/v1/assessments/${a2.id}/corrections`, { reason: 'r', teamwork_rating: 3 }, im(v2)), 409, 'invalid_transition');
    assert.equal(notYet.state, 'computed');
    assertFieldError(await as.hr.post(`/v1/assessments/${a1.id}/corrections`, { reason: '無' }, im(old.version)), 'body');
    assertFieldError(await as.hr.post(`/v1/assessments/${a1.id}/corrections`, { reason: 'r', teamwork_rating: 0 }, im(old.version)), 'teamwork_rating');
    const count = ok(await as.hr.get(`/v1/assessments?period_id=${periodId}&employee_id=${EMP.staffA1.id}`)).items.length;
    assert.equal(count, 1, 'nothing written');
    const res = await as.hr.post(`/v1/assessments/${a1.id}/corrections`, { reason: '申訴成立：團隊協作評分更正', teamwork_rating: 3 }, im(old.version));
    r2 = ok(res, 201);
    assert.equal(res.headers.location, `/v1/assessments/${r2.id}`);
    assert.equal(r2.revision, 2);
    assert.equal(r2.status, 'proposed');
    assert.equal(r2.correction.corrects_id, a1.id);
    assert.deepEqual(r2.correction.changes, { teamwork_rating: { from: 5, to: 3 }, recompute: false });
    assert.equal(r2.indicators.find((i) => i.indicator === 'teamwork').figure, 50);
    const dup = assertProblem(await as.hr.post(`/v1/assessments/${a1.id}/corrections`, { reason: 'again', teamwork_rating: 2 }, im(old.version)), 409, 'conflict');
    assert.equal(dup.existing_id, r2.id);
    const self = assertProblem(await as.hr.post(`/v1/assessments/${r2.id}/approve`, undefined, im(r2.version)), 409, 'invalid_transition');
    assert.equal(self.guard, 'assessment.second_person');
    assertProblem(await as.admin2.post(`/v1/assessments/${r2.id}/approve`), 428, 'precondition_required');
    const d = ok(await as.admin2.post(`/v1/assessments/${r2.id}/approve`, undefined, im(r2.version)));
    assert.equal(d.status, 'published');
    assert.equal(d.correction.decided_by, EMP.admin2.id);
    const was = await read(a1.id);
    assert.equal(was.status, 'superseded');
    assert.equal(was.superseded_by, r2.id);
    assert.deepEqual(was.indicators, old.indicators, 'revision 1 keeps its figures');
    const fin = ok(await as.a1.post(`/v1/assessments/${r2.id}/acknowledge`));
    assert.equal(fin.status, 'acknowledged');
    assert.ok(fin.acknowledged_at);
  });

  test('a rejected correction leaves the published revision as it was', async () => {
    const cur = await read(r2.id);
    const p = ok(await as.hr.post(`/v1/assessments/${r2.id}/corrections`, { reason: '重新計算', recompute: true }, im(cur.version)), 201);
    assert.equal(p.revision, 3);
    assertFieldError(await as.admin2.post(`/v1/assessments/${p.id}/reject`, {}, im(p.version)), 'reason');
    const d = ok(await as.admin2.post(`/v1/assessments/${p.id}/reject`, { reason: '事實未變' }, im(p.version)));
    assert.equal(d.status, 'rejected');
    assert.equal(d.correction.decision_reason, '事實未變');
    assert.equal((await read(r2.id)).status, 'acknowledged');
  });

  test('the transitions: the whole walk of revision 1, with the reasons', async () => {
    const t = ok(await as.a1.get(`/v1/assessments/${a1.id}/transitions`));
    assert.deepEqual(t.items.map((i) => i.action),
      ['self_assess', 'evaluate', 'return', 'evaluate', 'check', 'publish', 'appeal', 'uphold_appeal', 'supersede']);
    assert.equal(t.items[2].reason, '評分依據不足，請補充');
    assert.equal(t.items[2].actor_id, EMP.hr.id);
    const p1 = ok(await as.a1.get(`/v1/assessments/${a1.id}/transitions?limit=4`));
    assert.equal(p1.items.length, 4);
    const p2 = ok(await as.a1.get(`/v1/assessments/${a1.id}/transitions?limit=4&cursor=${p1.next_cursor}`));
    assert.equal(p2.items[0].action, 'check');
  });
});

describe('the year (Q2.2)', () => {
  test('the annual evaluation takes the supervisor score, not a teamwork rating', async () => {
    // the job on the first working day of January opens the year (in December the first run in
    // before() opened it already, with the month)
    pg(`SELECT assessment.periods_job(jsonb_build_object('today',
        (SELECT min(d::date) FROM generate_series(
           (date_trunc('year', now() AT TIME ZONE org.company_time_zone()) + interval '1 year')::date,
           (date_trunc('year', now() AT TIME ZONE org.company_time_zone()) + interval '1 year 25 days')::date,
           interval '1 day') d WHERE org.is_workday(d::date))))::text
      FROM (SELECT set_config('tx.user_id', '', false), set_config('tx.roles', 'system', false),
                   set_config('tx.department_id', '', false),
                   set_config('tx.request_id', 'job:assessment.periods', false)) claims`, { db: DB, user: 'tianxing_owner' });
    const year = pg(`SELECT id FROM assessment.periods WHERE kind = 'year'
                      AND label = to_char(now() AT TIME ZONE org.company_time_zone(), 'YYYY')`, { db: DB });
    assert.match(year, /^[0-9a-f-]{36}$/, 'the year is open');
    const y = ok(await as.a1.get(`/v1/assessments?period_id=${year}`)).items[0];
    assert.equal(y.period_kind, 'year');
    let d = ok(await as.a1.post(`/v1/assessments/${y.id}/self-assessment`, { went_well: '全年穩定', shortcomings: '效率待提升' }, im(y.version)));
    assert.equal(d.indicators.length, 0, 'a year has no indicator rows of its own');
    assertFieldError(await as.supA.post(`/v1/assessments/${y.id}/evaluation`, { teamwork_rating: 4 }, im(d.version)), 'teamwork_rating');
    assertFieldError(await as.supA.post(`/v1/assessments/${y.id}/evaluation`, {}, im(d.version)), 'supervisor_score');
    d = ok(await as.supA.post(`/v1/assessments/${y.id}/evaluation`, { supervisor_score: 88.5, comment: '年度表現良好' }, im(d.version)));
    assert.equal(d.status, 'evaluated');
    assert.equal(d.evaluation.supervisor_score, 88.5);
    assert.equal(d.evaluation.teamwork_rating, null);
    assert.ok(d.composite !== null, 'the annual composite (part A)');
  });
});

commonHeadersTestExceptJwks();
