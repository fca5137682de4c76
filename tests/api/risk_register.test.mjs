// Module R, part A: the risk register through the API (sql/code/risk/020_register.sql,
// 030_responses.sql). Reporting (R1.1) by anyone signed in, who sees what (R1.3), assessments on
// the matrix with their history (R1.2), responses with the second person of an acceptance, the
// level that must have a response, the effectiveness review and the risk's moves (R2.1),
// training made for a risk (R2.4), identification rounds and their job (R1.1), market records
// (R2.2), CSV of the register.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { assertProblem, freshDatabase, lit, pg } from './lib/harness.mjs';
import {
  DEPT, EMP, assertFieldError, client, loadFixtures, newSigningKey, ok, ownToken, startIdentityService,
} from './lib/identity.mjs';

const DB = 'tx_api_risk_register';
const NO_ID = '00000000-0000-4000-8000-0000000000d1';

let key;
let svc;
const as = {};
const asEmp = (e) => client(svc, ownToken(key, e));
const count = (sql) => Number(pg(sql, { db: DB }));
// A day relative to today in the company's time zone (the functions' "today").
const companyDay = (days = 0) => pg(
  `SELECT ((now() AT TIME ZONE 'Asia/Taipei')::date + ${Number(days)})::text`, { db: DB });
const job = (today) => JSON.parse(pg(`SELECT risk.rounds_job(${lit(JSON.stringify({ today }))}::jsonb)`, { db: DB }));
const ifMatch = (v) => ({ headers: { 'If-Match': `"${v}"` } });
const assess = (c, id, over = {}) => c.post(`/v1/risks/${id}/assessments`, {
  likelihood: 4, impact: 4, exposure: '12000.00', currency: 'TWD', probability: 0.25, method: '風險評估會議', ...over,
});

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startIdentityService(DB, key);
  loadFixtures(DB);
  Object.assign(as, {
    admin: asEmp(EMP.admin), hr: asEmp(EMP.hr), auditor: asEmp(EMP.auditor), risk: asEmp(EMP.risk),
    supA: asEmp(EMP.supA), supB: asEmp(EMP.supB), a1: asEmp(EMP.staffA1), a2: asEmp(EMP.staffA2),
    b1: asEmp(EMP.staffB1),
  });
});

describe('the register: report, see, assess, respond, close (R1.1-R2.1)', () => {
  let risk;
  let accept;
  let reduce;

  test('a staff member reports a risk: identified, coded, owned by the reporter, in their department', async () => {
    const res = await as.a1.post('/v1/risks', {
      category: 'operational', title: '表單七只有一人會填', description: 'Only staff.a1 can file form 7.',
      cause: 'no written procedure',
    });
    risk = ok(res, 201);
    assert.equal(res.headers.location, `/v1/risks/${risk.id}`);
    assert.equal(res.headers.etag, '"1"');
    assert.equal(risk.status, 'identified');
    assert.match(risk.code, /^R-[0-9]{4}-[0-9]{4}$/);
    assert.equal(risk.owner_id, EMP.staffA1.id);
    assert.equal(risk.reported_by, EMP.staffA1.id);
    assert.equal(risk.department_id, DEPT.A);
    assert.equal(risk.level, null);
    assert.equal(risk.response_missing, false);
  });

  test('bad reports are 422 naming the member and write nothing; auditors and HR report nothing', async () => {
    const before = count('SELECT count(*) FROM risk.risks');
    const base = { category: 'other', title: 't', description: 'd' };
    assertFieldError(await as.a1.post('/v1/risks', { ...base, category: 'weather' }), 'category');
    assertFieldError(await as.a1.post('/v1/risks', { ...base, description: undefined }), 'description');
    assertFieldError(await as.a1.post('/v1/risks', { ...base, colour: 'red' }), 'colour');
    assertFieldError(await as.a1.post('/v1/risks', { ...base, case_id: NO_ID }), 'case_id');
    assertFieldError(await as.a1.post('/v1/risks', { ...base, customer_id: NO_ID }), 'customer_id');
    assertFieldError(await as.a1.post('/v1/risks', { ...base, round_id: NO_ID }), 'round_id');
    assertProblem(await as.a1.post('/v1/risks', { ...base, owner_id: EMP.staffA2.id }), 403, 'forbidden');
    assertProblem(await as.auditor.post('/v1/risks', base), 403, 'forbidden');
    assertProblem(await as.hr.post('/v1/risks', base), 403, 'forbidden');
    assert.equal(count('SELECT count(*) FROM risk.risks'), before);
  });

  test('who sees it: the reporter, the department\'s supervisor, risk officers, auditors; not another department', async () => {
    for (const c of [as.a1, as.supA, as.risk, as.admin, as.auditor]) {
      assert.equal(ok(await c.get(`/v1/risks/${risk.id}`)).id, risk.id);
    }
    for (const c of [as.b1, as.supB, as.a2]) {
      assertProblem(await c.get(`/v1/risks/${risk.id}`), 404, 'not_found');
      assert.equal(ok(await c.get('/v1/risks')).items.length, 0);
    }
    assertProblem(await as.hr.get(`/v1/risks/${risk.id}`), 403, 'forbidden');
    assertProblem(await as.risk.get(`/v1/risks/${NO_ID}`), 404, 'not_found');
    assertProblem(await as.risk.get('/v1/risks/not-a-uuid'), 404, 'not_found');
  });

  test('PATCH needs If-Match; the reporter corrects while identified', async () => {
    assertProblem(await as.a1.patch(`/v1/risks/${risk.id}`, { cause: 'x' }), 428, 'precondition_required');
    assertProblem(await as.a1.patch(`/v1/risks/${risk.id}`, { cause: 'x' }, ifMatch(7)), 412, 'precondition_failed');
    assertFieldError(await as.a1.patch(`/v1/risks/${risk.id}`, { owner_id: EMP.staffA2.id }, ifMatch(1)), 'owner_id');
    const res = await as.a1.patch(`/v1/risks/${risk.id}`, { cause: '沒有書面程序' }, ifMatch(1));
    const changed = ok(res);
    assert.equal(changed.cause, '沒有書面程序');
    assert.equal(res.headers.etag, '"2"');
    assertProblem(await as.b1.patch(`/v1/risks/${risk.id}`, { cause: 'x' }, ifMatch(2)), 404, 'not_found');
    risk = changed;
  });

  test('assessment (R1.2): both halves, the matrix gives the level, the risk keeps it; history kept', async () => {
    assertProblem(await assess(as.a1, risk.id), 403, 'forbidden');
    assertProblem(await assess(as.supB, risk.id), 404, 'not_found');
    const before = count('SELECT count(*) FROM risk.assessments');
    assertFieldError(await assess(as.risk, risk.id, { exposure: 12000 }), 'exposure');
    assertFieldError(await assess(as.risk, risk.id, { exposure: '1.001' }), 'exposure');
    assertFieldError(await assess(as.risk, risk.id, { likelihood: 0 }), 'likelihood');
    assertFieldError(await assess(as.risk, risk.id, { probability: '0.5' }), 'probability');
    assertFieldError(await assess(as.risk, risk.id, { method: undefined }), 'method');
    assertFieldError(await assess(as.risk, risk.id, { kind: 'residual' }), 'kind');
    assert.equal(count('SELECT count(*) FROM risk.assessments'), before);

    const a = ok(await assess(as.supA, risk.id, { likelihood: 2, impact: 2, exposure: '500', probability: 0.1 }), 201);
    assert.equal(a.level, 'low');
    assert.equal(a.exposure, '500.00');
    assert.equal(a.expected_loss, '50.00');
    const b = ok(await assess(as.risk, risk.id), 201);
    assert.equal(b.level, 'high');
    assert.equal(b.expected_loss, '3000.00');
    assert.equal(b.probability, 0.25);
    risk = ok(await as.a1.get(`/v1/risks/${risk.id}`));
    assert.equal(risk.status, 'assessed');
    assert.equal(risk.level, 'high');
    assert.equal(risk.likelihood, 4);
    assert.equal(risk.response_required, true);
    assert.equal(risk.response_missing, true);
    const hist = ok(await as.auditor.get(`/v1/risks/${risk.id}/assessments`));
    assert.deepEqual(hist.items.map((x) => x.level), ['high', 'low']);
    assert.equal(hist.level, 'high');
    // the reporter no longer edits an assessed risk
    assertProblem(await as.a1.patch(`/v1/risks/${risk.id}`, { cause: 'x' }, ifMatch(risk.version)), 403, 'forbidden');
  });

  test('a level that needs a response cannot be treated or closed without one (409 naming the guard)', async () => {
    const p = assertProblem(await as.risk.post(`/v1/risks/${risk.id}/treat`, {}), 409, 'invalid_transition');
    assert.equal(p.state, 'assessed');
    assert.deepEqual(p.allowed_actions, ['close', 'treat']);
    const c = assertProblem(await as.risk.post(`/v1/risks/${risk.id}/close`, { reason: '不處理' }), 409, 'invalid_transition');
    assert.match(c.detail, /risk\.closable/);
    assert.equal(ok(await as.risk.get(`/v1/risks/${risk.id}`)).closed_reason, null);
    assertProblem(await as.a1.post(`/v1/risks/${risk.id}/close`, { reason: 'x' }), 403, 'forbidden');
  });

  test('responses (R2.1): accepting needs a second person; the owner works; another manager reviews', async () => {
    assertProblem(await as.a1.post(`/v1/risks/${risk.id}/responses`, { strategy: 'reduce', description: 'x' }), 403, 'forbidden');
    assertFieldError(await as.risk.post(`/v1/risks/${risk.id}/responses`, { strategy: 'ignore', description: 'x' }), 'strategy');
    assertFieldError(await as.risk.post(`/v1/risks/${risk.id}/responses`, {
      strategy: 'reduce', description: 'x', due_on: '2000-01-01' }), 'due_on');
    assertFieldError(await as.risk.post(`/v1/risks/${risk.id}/responses`, {
      strategy: 'reduce', description: 'x', training_plan_id: NO_ID }), 'training_plan_id');
    assertProblem(await as.risk.post(`/v1/risks/${NO_ID}/responses`, { strategy: 'reduce', description: 'x' }), 404, 'not_found');

    const res = await as.risk.post(`/v1/risks/${risk.id}/responses`, { strategy: 'accept', description: '接受殘餘風險' });
    accept = ok(res, 201);
    assert.equal(res.headers.location, `/v1/risk-responses/${accept.id}`);
    assert.equal(accept.status, 'proposed');
    assert.equal(accept.due_on, companyDay(30));
    const self = assertProblem(await as.risk.post(`/v1/risk-responses/${accept.id}/approve`, {}), 409, 'invalid_transition');
    assert.equal(self.guard, 'risk.response_second_person');
    assertProblem(await as.risk.post(`/v1/risks/${risk.id}/treat`, {}), 409, 'invalid_transition');
    assertProblem(await as.a1.post(`/v1/risk-responses/${accept.id}/approve`, {}), 403, 'forbidden');
    accept = ok(await as.admin.post(`/v1/risk-responses/${accept.id}/approve`, { note: '同意' }));
    assert.equal(accept.status, 'planned');
    assert.equal(accept.approved_by, EMP.admin.id);
    const treated = ok(await as.supA.post(`/v1/risks/${risk.id}/treat`, {}));
    assert.equal(treated.status, 'treated');
    assert.equal(treated.response_missing, false);

    reduce = ok(await as.supA.post(`/v1/risks/${risk.id}/responses`, {
      strategy: 'reduce', description: '寫下表單七的程序', owner_id: EMP.staffA2.id, due_on: companyDay(10),
    }), 201);
    // the owner reads the response; the risk stays the department's
    assert.equal(ok(await as.a2.get(`/v1/risk-responses/${reduce.id}`)).owner_id, EMP.staffA2.id);
    assertProblem(await as.b1.post(`/v1/risk-responses/${reduce.id}/start`, {}), 404, 'not_found');
    ok(await as.a2.post(`/v1/risk-responses/${reduce.id}/start`, {}));
    assertFieldError(await as.a2.post(`/v1/risk-responses/${reduce.id}/complete`, {}), 'note');
    assert.equal(ok(await as.a2.post(`/v1/risk-responses/${reduce.id}/complete`, { note: '程序 P-7 已寫' })).status, 'done');
    assertProblem(await as.a2.post(`/v1/risk-responses/${reduce.id}/review`, { effectiveness: 'effective' }), 403, 'forbidden');
    assertFieldError(await as.supA.post(`/v1/risk-responses/${reduce.id}/review`, { effectiveness: 'great' }), 'effectiveness');
    assert.equal(ok(await as.supA.post(`/v1/risk-responses/${reduce.id}/review`, {
      effectiveness: 'effective', note: '兩人已會填' })).status, 'reviewed');
    const twice = assertProblem(await as.supA.post(`/v1/risk-responses/${reduce.id}/review`, { effectiveness: 'effective' }),
      409, 'invalid_transition');
    assert.deepEqual(twice.allowed_actions, []);
    assert.equal(ok(await as.risk.get(`/v1/risks/${risk.id}/responses`)).items.length, 2);
  });

  test('closing needs every response reviewed or cancelled; reopening keeps the log', async () => {
    assertProblem(await as.risk.post(`/v1/risks/${risk.id}/close`, { reason: '已處理' }), 409, 'invalid_transition');
    assertFieldError(await as.risk.post(`/v1/risk-responses/${accept.id}/cancel`, {}), 'reason');
    ok(await as.risk.post(`/v1/risk-responses/${accept.id}/cancel`, { reason: '程序已足夠' }));
    assertFieldError(await as.risk.post(`/v1/risks/${risk.id}/close`, {}), 'reason');
    const closed = ok(await as.risk.post(`/v1/risks/${risk.id}/close`, { reason: '程序已落實' }));
    assert.equal(closed.status, 'closed');
    assert.equal(closed.closed_reason, '程序已落實');
    assertProblem(await assess(as.risk, risk.id), 409, 'invalid_transition');
    assertProblem(await as.risk.patch(`/v1/risks/${risk.id}`, { title: 'x' }, ifMatch(closed.version)), 409, 'invalid_transition');
    const reopened = ok(await as.risk.post(`/v1/risks/${risk.id}/reopen`, { reason: '又發生了' }));
    assert.equal(reopened.status, 'assessed');
    assert.equal(reopened.closed_reason, null);
    const log = ok(await as.auditor.get(`/v1/risks/${risk.id}/transitions`));
    assert.deepEqual(log.items.map((m) => m.action), ['assess', 'treat', 'close', 'reopen']);
    assert.equal(log.items[2].reason, '程序已落實');
  });

  test('R2.4: a training plan made for the risk, cited by a response', async () => {
    assertProblem(await as.a1.post(`/v1/risks/${risk.id}/training-plans`, {
      employee_id: EMP.staffA2.id, topic: 't', goal: 'g', due_on: companyDay(30) }), 403, 'forbidden');
    const res = await as.supA.post(`/v1/risks/${risk.id}/training-plans`, {
      employee_id: EMP.staffA2.id, topic: '表單七實務', goal: '兩人能填表單七', due_on: companyDay(30),
    });
    const plan = ok(res, 201);
    assert.equal(res.headers.location, `/v1/training-plans/${plan.id}`);
    assert.equal(plan.source, 'risk');
    assert.equal(plan.risk_id, risk.id);
    const r = ok(await as.supA.post(`/v1/risks/${risk.id}/responses`, {
      strategy: 'reduce', description: '培訓第二人', training_plan_id: plan.id,
    }), 201);
    assert.equal(r.training_plan_id, plan.id);
    // the risk officer reads training plans of risks (Q4's policy)
    assert.equal(ok(await as.risk.get(`/v1/training-plans/${plan.id}`)).risk_id, risk.id);
  });
});

describe('the register list: filters, keyset, CSV', () => {
  test('filters and pages; bad values are 422', async () => {
    ok(await as.risk.post('/v1/risks', { category: 'market', title: '匯率', description: '台幣升值' }), 201);
    ok(await as.risk.post('/v1/risks', { category: 'credit', title: '客戶延遲付款', description: 'd' }), 201);
    const all = ok(await as.risk.get('/v1/risks'));
    assert.equal(all.items.length, 3);
    assert.equal(ok(await as.risk.get('/v1/risks?category=market')).items.length, 1);
    assert.equal(ok(await as.risk.get('/v1/risks?level=high&status=assessed')).items.length, 1);
    assert.equal(ok(await as.risk.get(`/v1/risks?department_id=${DEPT.A}`)).items.length, 1);
    const p1 = ok(await as.risk.get('/v1/risks?limit=2'));
    assert.equal(p1.items.length, 2);
    const p2 = ok(await as.risk.get(`/v1/risks?limit=2&cursor=${p1.next_cursor}`));
    assert.equal(p2.items.length, 1);
    assert.equal(p2.next_cursor, null);
    assertFieldError(await as.risk.get('/v1/risks?level=extreme'), 'level');
    assertFieldError(await as.risk.get('/v1/risks?cursor=nope'), 'cursor');
    assertFieldError(await as.risk.get('/v1/risks?owner_id=nope'), 'owner_id');
  });

  test('Accept: text/csv gives the whole register', async () => {
    const res = await as.risk.get('/v1/risks', { headers: { Accept: 'text/csv' } });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers['content-type'], /^text\/csv/);
    const lines = res.text.replace(/^\uFEFF/, '').trim().split('\r\n');
    assert.match(lines[0], /^Risk ID,Code,Category,Title,Status/);
    assert.equal(lines.length, 4);
  });
});

describe('identification rounds (R1.1) and the job risk.rounds', () => {
  test('the job opens the regular round, once; flags it overdue after the grace days', async () => {
    const first = job(companyDay(0));
    assert.ok(first.opened);
    assert.equal(job(companyDay(0)).opened, null);
    const round = ok(await as.a1.get(`/v1/risk-rounds/${first.opened}`));
    assert.equal(round.kind, 'regular');
    assert.equal(round.due_on, companyDay(14));
    // a risk reported into it
    ok(await as.a1.post('/v1/risks', { category: 'other', title: 'r', description: 'd', round_id: round.id }), 201);
    assert.equal(job(companyDay(15)).rounds_overdue, 1);
    const flagged = ok(await as.risk.get(`/v1/risk-rounds/${round.id}`));
    assert.notEqual(flagged.overdue_at, null);
    assert.equal(flagged.risks, 1);
    // a regular round is held, not cancelled
    const p = assertProblem(await as.risk.post(`/v1/risk-rounds/${round.id}/cancel`, { reason: '忙' }), 409, 'invalid_transition');
    assert.equal(p.guard, 'risk.round_cancellable');
    assertFieldError(await as.risk.post(`/v1/risk-rounds/${round.id}/complete`, {}), 'summary');
    const done = ok(await as.risk.post(`/v1/risk-rounds/${round.id}/complete`, { summary: '找到一個風險' }));
    assert.equal(done.status, 'completed');
    assert.notEqual(done.overdue_at, null);
    // the next one identification_every_months (3) later
    assert.ok(job(pg(`SELECT ((now() AT TIME ZONE 'Asia/Taipei')::date + interval '3 months')::date::text`, { db: DB })).opened);
  });

  test('the job flags responses not done by their due date (R2.1)', async () => {
    const r = ok(await as.risk.get('/v1/risks?status=assessed')).items[0];
    const resp = ok(await as.risk.post(`/v1/risks/${r.id}/responses`, {
      strategy: 'transfer', description: '投保', due_on: companyDay(1),
    }), 201);
    assert.equal(resp.overdue, false);
    assert.ok(job(companyDay(1)).responses_overdue >= 0);
    assert.equal(ok(await as.risk.get(`/v1/risk-responses/${resp.id}`)).overdue_at, null, 'not overdue on its due day');
    assert.ok(job(companyDay(2)).responses_overdue >= 1);
    assert.notEqual(ok(await as.risk.get(`/v1/risk-responses/${resp.id}`)).overdue_at, null);
    assert.equal(job(companyDay(2)).responses_overdue, 0, 'flagged once');
  });

  test('ad hoc rounds: risk officers open, cancel; labels unique; staff may not', async () => {
    const res = await as.risk.post('/v1/risk-rounds', { label: '專案審查', scope: '新業務', due_on: companyDay(7) });
    const r = ok(res, 201);
    assert.equal(res.headers.location, `/v1/risk-rounds/${r.id}`);
    assert.equal(r.kind, 'ad_hoc');
    const dup = assertProblem(await as.risk.post('/v1/risk-rounds', { label: '專案審查', due_on: companyDay(7) }), 409, 'conflict');
    assert.equal(dup.existing_id, r.id);
    assertFieldError(await as.risk.post('/v1/risk-rounds', { label: 'x', due_on: '2000-01-01' }), 'due_on');
    assertFieldError(await as.risk.post('/v1/risk-rounds', { label: 'x', opens_on: '2000-01-01', due_on: '2000-01-02' }), 'opens_on');
    assertProblem(await as.a1.post('/v1/risk-rounds', { label: 'y', due_on: companyDay(7) }), 403, 'forbidden');
    assertProblem(await as.risk.post(`/v1/risk-rounds/${NO_ID}/complete`, { summary: 's' }), 404, 'not_found');
    assert.equal(ok(await as.risk.post(`/v1/risk-rounds/${r.id}/cancel`, { reason: '專案取消' })).status, 'cancelled');
    assert.equal(ok(await as.a1.get('/v1/risk-rounds?kind=ad_hoc')).items.length, 1);
    assertFieldError(await as.a1.get('/v1/risk-rounds?status=late'), 'status');
  });
});

describe('market research and trends (R2.2)', () => {
  test('written by the people who plan, linked to risks they read, never changed', async () => {
    const mine = ok(await as.risk.get('/v1/risks?category=market')).items[0];
    const res = await as.risk.post('/v1/market-records', {
      kind: 'trend', title: '利率上升', summary: '央行升息一碼', preparation: '合約價格鎖定一年', risk_ids: [mine.id],
    });
    const m = ok(res, 201);
    assert.equal(res.headers.location, `/v1/market-records/${m.id}`);
    assert.deepEqual(m.risk_ids, [mine.id]);
    assert.equal(ok(await as.auditor.get(`/v1/market-records?risk_id=${mine.id}`)).items.length, 1);
    assert.equal(ok(await as.auditor.get(`/v1/market-records/${m.id}`)).title, '利率上升');
    assertProblem(await as.a1.post('/v1/market-records', { kind: 'trend', title: 't', summary: 's' }), 403, 'forbidden');
    assertProblem(await as.a1.get('/v1/market-records'), 403, 'forbidden');
    // sup.b may not read the market risk (reported by the risk officer, no department)
    assertFieldError(await as.supB.post('/v1/market-records', { kind: 'research', title: 't', summary: 's', risk_ids: [mine.id] }), 'risk_ids');
    assertFieldError(await as.risk.post('/v1/market-records', {
      kind: 'research', title: 't', summary: 's', covers_from: '2026-02-01', covers_to: '2026-01-01' }), 'covers_to');
    assertProblem(await as.risk.get(`/v1/market-records/${NO_ID}`), 404, 'not_found');
    assert.throws(() => pg(`UPDATE risk.market_records SET title = 'x' WHERE id = ${lit(m.id)}`,
      { db: DB, user: 'tianxing_owner' }), /never changed/);
  });
});
