// Module R, part B: credit (R2.3 信用風險; docs/credit.md). The Done-when: a credit
// assessment below the required prepayment blocks a contract and a guarantee unblocks it. Then
// who may do what, bad input leaving nothing behind, guarantees that are never counted twice,
// receivables with due and paid dates, incidents, and the credit file without customer PII.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, describe, test } from 'node:test';

import { assertProblem, freshDatabase, lit, pg } from './lib/harness.mjs';
import { EMP, assertFieldError, client, dbDay, loadFixtures, newSigningKey, ok, ownToken } from './lib/identity.mjs';
import { count, customerKeys, newCreditCode, newMobile, startCustomerService } from './lib/customers.mjs';
import { rateCustomer } from './lib/credit.mjs';

const DB = 'tx_api_risk_credit';
let key;
let svc;
const as = {};
const sha = (s) => crypto.createHash('sha256').update(s).digest('hex');
// "Today" of credit (assessments, guarantees, payments) is the company's day (org.company_time_zone);
// a contract's signed_on is checked against the database's current_date (module C): dbDay.
const day = (n = 0) => pg(`SELECT ((now() AT TIME ZONE org.company_time_zone(now()))::date + ${Number(n)})::text`, { db: DB });
const contracts = (id) => count(DB, `SELECT count(*) FROM cust.contracts WHERE customer_id = ${lit(id)}`);

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startCustomerService(DB, key, customerKeys());
  loadFixtures(DB);
  const asEmp = (e) => client(svc, ownToken(key, e));
  Object.assign(as, {
    a1: asEmp(EMP.staffA1), b1: asEmp(EMP.staffB1), supA: asEmp(EMP.supA), risk: asEmp(EMP.risk),
    admin: asEmp(EMP.admin), auditor: asEmp(EMP.auditor), hr: asEmp(EMP.hr),
  });
});

/** A customer of staff.a1, complete and verified (C1.3), so that only credit can stop a contract. */
async function completeCustomer(company = `福州閩江機械${crypto.randomBytes(2).toString('hex')}有限公司`) {
  const res = await as.a1.post('/v1/customers', {
    name: '黃志明', company_name: company, business_scope: '機械設備製造、銷售及維修。',
    credit_code: newCreditCode(), contacts: [{ name: '黃志明', position: '總經理', phone: newMobile().input }],
  });
  const c = ok(res, 201);
  const v = ok(await as.a1.patch(`/v1/customers/${c.id}`, { verified: true }, { headers: { 'If-Match': res.headers.etag } }));
  assert.deepEqual(v.completeness.missing, []);
  return { ...v, company };
}

const guarantee = (over = {}) => ({
  type: 'bank_guarantee', guarantor: '中國銀行福州分行', amount: '6000.00', currency: 'CNY',
  valid_from: day(-1), valid_until: day(180), document_sha256: sha(`guarantee ${Math.random()}`), ...over,
});

describe('the contract gate grows a credit check (R2.3, C1.3)', () => {
  let c;
  const contract = (over = {}) => ({ amount: '100000.00', currency: 'CNY', prepayment_ratio: 0.1, term_months: 12, signed_on: dbDay(DB), ...over });

  before(async () => { c = await completeCustomer(); });

  test('Done when: an assessment below the required prepayment blocks a contract; a guarantee unblocks it', async () => {
    // no credit assessment: refused, naming it
    let p = assertProblem(await as.a1.post(`/v1/customers/${c.id}/contracts`, contract()), 422, 'customer_incomplete');
    assert.deepEqual(p.errors.map((e) => [e.field, e.code]), [['credit_assessment', 'missing']]);
    assert.equal(contracts(c.id), 0);

    // rating B requires 20 % prepayment (credit_rating_policy); the contract offers 10 %
    const b = await rateCustomer(as.risk, c.id, 'B');
    assert.equal(b.rating, 'B');
    p = assertProblem(await as.a1.post(`/v1/customers/${c.id}/contracts`, contract()), 422, 'customer_incomplete');
    assert.deepEqual(p.errors.map((e) => [e.field, e.code]), [['prepayment_ratio', 'below_required']]);
    assert.match(p.errors[0].message, /at least 0\.2.*covering 10000\.00 CNY.*available: 0\.00 CNY/);
    assert.equal(contracts(c.id), 0, 'nothing was recorded');
    const file = ok(await as.risk.get(`/v1/customers/${c.id}/credit`));
    assert.equal(file.current.id, b.id);
    assert.equal(file.required_prepayment_ratio, 0.2);
    assert.equal(file.blocked, false);

    // a guarantee smaller than the gap does not do
    const g1 = ok(await as.risk.post(`/v1/customers/${c.id}/credit/guarantees`, guarantee()), 201);
    assert.equal(g1.in_force, true);
    p = assertProblem(await as.a1.post(`/v1/customers/${c.id}/contracts`, contract()), 422, 'customer_incomplete');
    assert.match(p.errors[0].message, /available: 6000\.00 CNY/);
    // a guarantee in another currency, or not yet in force, counts for nothing
    ok(await as.risk.post(`/v1/customers/${c.id}/credit/guarantees`, guarantee({ currency: 'USD', amount: '99999.00' })), 201);
    ok(await as.risk.post(`/v1/customers/${c.id}/credit/guarantees`, guarantee({ amount: '99999.00', valid_from: day(10) })), 201);
    p = assertProblem(await as.a1.post(`/v1/customers/${c.id}/contracts`, contract()), 422, 'customer_incomplete');
    assert.match(p.errors[0].message, /available: 6000\.00 CNY/);
    assert.equal(contracts(c.id), 0);

    // together with a second guarantee the gap (10000.00) is covered: the contract is recorded
    const g2 = ok(await as.admin.post(`/v1/customers/${c.id}/credit/guarantees`, guarantee({ amount: '4000.00', type: 'deposit' })), 201);
    const k = ok(await as.a1.post(`/v1/customers/${c.id}/contracts`, contract()), 201);
    assert.equal(k.prepayment_ratio, 0.1);
    assert.equal(contracts(c.id), 1);

    // the same guarantees are not counted twice: a second such contract is refused
    p = assertProblem(await as.a1.post(`/v1/customers/${c.id}/contracts`, contract()), 422, 'customer_incomplete');
    assert.match(p.errors[0].message, /available: 0\.00 CNY/);
    // the required prepayment needs no guarantee
    ok(await as.a1.post(`/v1/customers/${c.id}/contracts`, contract({ prepayment_ratio: 0.2 })), 201);
    assert.equal(contracts(c.id), 2);

    // released, a guarantee no longer counts; released twice is a conflict
    const rel = ok(await as.risk.post(`/v1/guarantees/${g2.id}/release`, { reason: '保證金退還。' }));
    assert.equal(rel.in_force, false);
    assert.ok(rel.released_at);
    assertProblem(await as.risk.post(`/v1/guarantees/${g2.id}/release`, { reason: '再次' }), 409, 'conflict');
    assertProblem(await as.a1.post(`/v1/guarantees/${g1.id}/release`, { reason: '不行' }), 403, 'forbidden');
    assertFieldError(await as.risk.post(`/v1/guarantees/${g1.id}/release`, {}), 'reason');
    assertProblem(await as.risk.post(`/v1/guarantees/${crypto.randomUUID()}/release`, { reason: 'x' }), 404, 'not_found');

    // a rating the policy blocks allows no contract at all, whatever the prepayment
    await rateCustomer(as.risk, c.id, 'D');
    p = assertProblem(await as.a1.post(`/v1/customers/${c.id}/contracts`, contract({ prepayment_ratio: 1 })), 422, 'customer_incomplete');
    assert.deepEqual(p.errors.map((e) => [e.field, e.code]), [['credit_assessment', 'blocked']]);
    assert.equal(contracts(c.id), 2);
    // the history stays: two assessments, newest first
    const hist = ok(await as.auditor.get(`/v1/customers/${c.id}/credit/assessments`)).items;
    assert.deepEqual(hist.map((a) => a.rating), ['D', 'B']);
  });

  test('an assessment that is no longer valid is no assessment', async () => {
    const d = await completeCustomer();
    await rateCustomer(as.risk, d.id, 'A', { assessed_on: day(-400), valid_until: day(-35) });
    const p = assertProblem(await as.a1.post(`/v1/customers/${d.id}/contracts`, contract()), 422, 'customer_incomplete');
    assert.deepEqual(p.errors.map((e) => e.field), ['credit_assessment']);
    assert.equal(ok(await as.a1.get(`/v1/customers/${d.id}/credit`)).current, null);
    await rateCustomer(as.risk, d.id, 'A');
    ok(await as.a1.post(`/v1/customers/${d.id}/contracts`, contract()), 201);
  });
});

describe('credit assessments: who, and bad input', () => {
  let c;
  before(async () => { c = await completeCustomer(); });
  const body = (over = {}) => ({ rating: 'A', limit_amount: '300000.00', currency: 'CNY', method: '付款紀錄', ...over });
  const stored = () => count(DB, `SELECT count(*) FROM risk.credit_assessments WHERE customer_id = ${lit(c.id)}`);

  test('only risk officers and admin assess; others 403; unseen or unknown customers 404', async () => {
    assertProblem(await as.a1.post(`/v1/customers/${c.id}/credit/assessments`, body()), 403, 'forbidden');
    assertProblem(await as.auditor.post(`/v1/customers/${c.id}/credit/assessments`, body()), 403, 'forbidden');
    assertProblem(await as.hr.get(`/v1/customers/${c.id}/credit`), 403, 'forbidden');
    assertProblem(await as.b1.get(`/v1/customers/${c.id}/credit`), 404, 'not_found');
    assertProblem(await as.risk.get(`/v1/customers/${crypto.randomUUID()}/credit`), 404, 'not_found');
    assertProblem(await as.risk.post(`/v1/customers/${crypto.randomUUID()}/credit/assessments`, body()), 404, 'not_found');
    assert.equal(stored(), 0);
    const a = ok(await as.admin.post(`/v1/customers/${c.id}/credit/assessments`, body({ score: 720, note: '首次評估' })), 201);
    assert.equal(a.limit_amount, '300000.00');
    assert.equal(a.assessor_id, EMP.admin.id);
    assert.equal(a.assessed_on, ok(await as.a1.get(`/v1/customers/${c.id}/credit`)).on);
    assert.equal(stored(), 1);
  });

  test('bad input: 422 naming the member, nothing written', async () => {
    const before = stored();
    assertFieldError(await as.risk.post(`/v1/customers/${c.id}/credit/assessments`, body({ rating: 'Z' })), 'rating');
    assertFieldError(await as.risk.post(`/v1/customers/${c.id}/credit/assessments`, body({ limit_amount: '1.234' })), 'limit_amount');
    assertFieldError(await as.risk.post(`/v1/customers/${c.id}/credit/assessments`, body({ limit_amount: 100 })), 'limit_amount');
    assertFieldError(await as.risk.post(`/v1/customers/${c.id}/credit/assessments`, body({ currency: 'cny' })), 'currency');
    assertFieldError(await as.risk.post(`/v1/customers/${c.id}/credit/assessments`, body({ score: 1001 })), 'score');
    assertFieldError(await as.risk.post(`/v1/customers/${c.id}/credit/assessments`, body({ assessed_on: day(2) })), 'assessed_on');
    assertFieldError(await as.risk.post(`/v1/customers/${c.id}/credit/assessments`,
      body({ assessed_on: day(-2), valid_until: day(-3) })), 'valid_until');
    assertFieldError(await as.risk.post(`/v1/customers/${c.id}/credit/assessments`, body({ grade: 'A' })), 'grade');
    const { method, ...noMethod } = body();
    assert.ok(method);
    assertFieldError(await as.risk.post(`/v1/customers/${c.id}/credit/assessments`, noMethod), 'method');
    assert.equal(stored(), before);

    const g = () => count(DB, `SELECT count(*) FROM risk.guarantees WHERE customer_id = ${lit(c.id)}`);
    assertFieldError(await as.risk.post(`/v1/customers/${c.id}/credit/guarantees`, guarantee({ document_sha256: 'abc' })), 'document_sha256');
    assertFieldError(await as.risk.post(`/v1/customers/${c.id}/credit/guarantees`, guarantee({ type: 'promise' })), 'type');
    assertFieldError(await as.risk.post(`/v1/customers/${c.id}/credit/guarantees`, guarantee({ amount: '0.00' })), 'amount');
    assertFieldError(await as.risk.post(`/v1/customers/${c.id}/credit/guarantees`, guarantee({ valid_until: day(-5) })), 'valid_until');
    assertFieldError(await as.risk.post(`/v1/customers/${c.id}/credit/guarantees`, guarantee({ contract_id: crypto.randomUUID() })), 'contract_id');
    assertProblem(await as.supA.post(`/v1/customers/${c.id}/credit/guarantees`, guarantee()), 403, 'forbidden');
    assert.equal(g(), 0);
  });
});

describe('receivables, payments, incidents and the credit file', () => {
  let c;
  let k;
  before(async () => {
    c = await completeCustomer('廈門鷺島電子有限公司');
    await rateCustomer(as.risk, c.id, 'A');
    k = ok(await as.a1.post(`/v1/customers/${c.id}/contracts`, { amount: '90000.00', currency: 'CNY', signed_on: dbDay(DB, -60) }), 201);
  });

  test('receivables with due and paid dates; overdue after credit_overdue_days; paid once', async () => {
    const url = `/v1/contracts/${k.id}/receivables`;
    const late = ok(await as.a1.post(url, { kind: 'prepayment', amount: '30000.00', due_on: day(-40) }), 201);
    assert.equal(late.currency, 'CNY', 'in the contract\'s currency');
    assert.equal(late.overdue, true, '40 days unpaid, credit_overdue_days 30');
    assert.equal(late.days_late, 40);
    const soon = ok(await as.risk.post(url, { amount: '30000.00', due_on: day(30) }), 201);
    assert.equal(soon.kind, 'instalment');
    assert.equal(soon.overdue, false);
    assertFieldError(await as.a1.post(url, { amount: '30000.01', due_on: day(60) }), 'amount');
    assertFieldError(await as.a1.post(url, { amount: '100.00', due_on: day(60), currency: 'USD' }), 'currency');
    assertProblem(await as.auditor.post(url, { amount: '100.00', due_on: day(60) }), 403, 'forbidden');
    assertProblem(await as.b1.post(url, { amount: '100.00', due_on: day(60) }), 404, 'not_found');
    assertProblem(await as.b1.get(url), 404, 'not_found');
    assertProblem(await as.a1.get(`/v1/contracts/${crypto.randomUUID()}/receivables`), 404, 'not_found');
    assert.equal(count(DB, `SELECT count(*) FROM risk.receivables WHERE contract_id = ${lit(k.id)}`), 2);

    const pay = `/v1/receivables/${late.id}/payment`;
    assertFieldError(await as.a1.post(pay, { paid_on: day(1), paid_amount: '30000.00' }), 'paid_on');
    assertFieldError(await as.a1.post(pay, { paid_on: day(), paid_amount: '-1' }), 'paid_amount');
    const paid = ok(await as.a1.post(pay, { paid_on: day(-5), paid_amount: '30000.00' }));
    assert.equal(paid.paid_on, day(-5));
    assert.equal(paid.overdue, false);
    assert.equal(paid.days_late, 35, 'paid 35 days late');
    assertProblem(await as.a1.post(pay, { paid_on: day(), paid_amount: '30000.00' }), 409, 'conflict');
    assertProblem(await as.auditor.post(pay, { paid_on: day(), paid_amount: '1.00' }), 403, 'forbidden');
    assertProblem(await as.a1.post(`/v1/receivables/${crypto.randomUUID()}/payment`, { paid_on: day(), paid_amount: '1.00' }), 404, 'not_found');
    const list = ok(await as.auditor.get(url)).items;
    assert.deepEqual(list.map((r) => r.id), [late.id, soon.id], 'by due date');
  });

  test('incidents: risk officers and admin record them; they stay', async () => {
    const url = `/v1/customers/${c.id}/credit/incidents`;
    const i = ok(await as.risk.post(url, {
      kind: 'late_payment', occurred_on: day(-5), amount: '30000.00', currency: 'CNY', contract_id: k.id,
      description: '預付款逾期三十五天才支付。',
    }), 201);
    assert.equal(i.recorded_by, EMP.risk.id);
    assertProblem(await as.a1.post(url, { kind: 'dispute', occurred_on: day(), description: '爭議' }), 403, 'forbidden');
    assertFieldError(await as.risk.post(url, { kind: 'dispute', occurred_on: day(), description: '爭議', amount: '5.00' }), 'currency');
    assertFieldError(await as.risk.post(url, { kind: 'fraud', occurred_on: day(), description: '?' }), 'kind');
    assertFieldError(await as.risk.post(url, { kind: 'dispute', occurred_on: day(3), description: '?' }), 'occurred_on');
    assert.deepEqual(ok(await as.a1.get(url)).items.map((x) => x.id), [i.id]);
  });

  test('the credit file: assessments, guarantees, contracts with receivables, incidents; no customer PII', async () => {
    const res = await as.risk.get(`/v1/customers/${c.id}/credit`);
    const f = ok(res);
    assert.equal(f.customer_id, c.id);
    assert.equal(f.current.rating, 'A');
    assert.equal(f.required_prepayment_ratio, 0);
    assert.equal(f.assessments.length, 1);
    assert.deepEqual(f.contracts.map((x) => [x.id, x.receivables.length]), [[k.id, 2]]);
    assert.equal(f.incidents.length, 1);
    assert.deepEqual(f.guarantees, []);
    assert.ok(!res.text.includes(c.company) && !res.text.includes('黃志明'), 'neither the company nor the contact is named');
    for (const m of ['name', 'company_name', 'contacts', 'credit_code', 'address']) assert.ok(!(m in f), m);
    // the customer's own staff and the auditor read it; staff of another department do not
    ok(await as.a1.get(`/v1/customers/${c.id}/credit`));
    ok(await as.auditor.get(`/v1/customers/${c.id}/credit/guarantees`));
    assertProblem(await as.b1.get(`/v1/customers/${c.id}/credit/incidents`), 404, 'not_found');
    assertProblem(await as.b1.get(`/v1/customers/${c.id}/credit/assessments`), 404, 'not_found');
  });
});
