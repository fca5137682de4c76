// Customers and cases (issue 11; sql/code/cases/095_customers.sql): a disposed or merged customer
// gets no new case; a customer with an open case is neither deactivated nor disposed of (409
// naming open_cases); merging customers moves their cases; the customer's history lists its
// cases (`cases`). Customers without cases keep working exactly as before.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { assertProblem, freshDatabase, lit, pg } from './lib/harness.mjs';
import { customerKeys, startCustomerService } from './lib/customers.mjs';
import { EMP, call, loadFixtures, newSigningKey, ok, ownToken } from './lib/identity.mjs';

const DB = 'tx_api_case_customers';
let svc;
let key;
const tok = (e, roles) => ownToken(key, e, { roles });

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startCustomerService(DB, key, customerKeys());
  loadFixtures(DB);
});

const as = (e) => ({
  get: (p) => call(svc, 'GET', p, { token: tok(e) }),
  post: (p, body, headers = {}) => call(svc, 'POST', p, { token: tok(e), body, headers }),
  patch: (p, body, headers = {}) => call(svc, 'PATCH', p, { token: tok(e), body, headers }),
  put: (p, body) => call(svc, 'PUT', p, { token: tok(e), body }),
});
// A case received by `e` for customer `customerId` (P1.1, part B's POST /v1/cases): state received.
async function newCase(e, customerId, need = '客戶需要辦理出口單證') {
  const raised = new Date(Date.now() - 3600e3).toISOString();
  return call(svc, 'POST', '/v1/cases', {
    token: tok(e), body: { customer_id: customerId, raised_at: raised, channel: 'phone', need },
  });
}
// Ends a received case (P1.2: assessed out of scope, a terminal state).
const end = (e, caseId) => call(svc, 'POST', `/v1/cases/${caseId}/assess`,
  { token: tok(e), body: { in_scope: false, reason: '不屬於公司經營範圍' } });
const count = (sql) => Number(pg(sql, { db: DB }));

describe('customers without cases', () => {
  test('the history lists the cases, none, on every page; auditors see it too', async () => {
    const a1 = as(EMP.staffA1);
    const c = ok(await a1.post('/v1/customers', { name: '沒有案件的客戶' }), 201);
    ok(await a1.post(`/v1/customers/${c.id}/deactivate`));
    const first = ok(await a1.get(`/v1/customers/${c.id}/history?limit=1`));
    assert.deepEqual(first.cases, []);
    assert.equal(first.items.length, 1);
    assert.ok(first.next_cursor, 'two entries at least: the create and the deactivation');
    const second = ok(await a1.get(`/v1/customers/${c.id}/history?limit=1&cursor=${first.next_cursor}`));
    assert.deepEqual(second.cases, [], 'cases is on every page');
    assert.equal(second.cases_more, false);
    assert.deepEqual(ok(await as(EMP.auditor).get(`/v1/customers/${c.id}/history`)).cases, []);
  });

  test('deactivation and disposal work as before', async () => {
    const a1 = as(EMP.staffA1);
    const c = ok(await a1.post('/v1/customers', { name: '將處置的客戶' }), 201);
    assert.equal(ok(await a1.post(`/v1/customers/${c.id}/deactivate`)).status, 'inactive');
    const cert = ok(await as(EMP.admin).post(`/v1/customers/${c.id}/dispose`));
    assert.equal(cert.certificate.customer_id, c.id);
    assert.equal(count(`SELECT count(*) FROM cust.customers WHERE id = ${lit(c.id)} AND status = 'disposed'`), 1);
  });

  test('a merge moves no case and leaves no move announced', async () => {
    const a1 = as(EMP.staffA1);
    const t = ok(await a1.post('/v1/customers', { name: '合併目標甲' }), 201);
    const s = ok(await a1.post('/v1/customers', { name: '合併來源甲' }), 201);
    const m = ok(await a1.post(`/v1/customers/${t.id}/merge`, { source_id: s.id }));
    assert.equal(m.id, t.id);
    assert.equal(count(`SELECT count(*) FROM cases.events WHERE type = 'customer.merged'`), 0);
    assert.deepEqual(ok(await a1.get(`/v1/customers/${t.id}/history`)).cases, []);
  });
});

describe('customers with cases', () => {
  test('an open case stops deactivation (every route) and disposal; the 409 names the open cases', async () => {
    const a1 = as(EMP.staffA1);
    const c = ok(await a1.post('/v1/customers', { name: '有案件的客戶', status: 'active' }), 201);
    const k = ok(await newCase(EMP.staffA1, c.id), 201);
    assert.equal(k.status, 'received');

    let p = assertProblem(await a1.post(`/v1/customers/${c.id}/deactivate`), 409, 'conflict');
    assert.deepEqual(p.open_cases, [{ id: k.id, status: 'received' }]);
    assert.match(p.detail, /1 open case/);
    const now = ok(await a1.get(`/v1/customers/${c.id}`));
    assert.equal(now.status, 'active', 'nothing changed');
    p = assertProblem(await a1.patch(`/v1/customers/${c.id}`, { status: 'inactive' },
      { 'If-Match': `"${now.version}"` }), 409, 'conflict');
    assert.deepEqual(p.open_cases, [{ id: k.id, status: 'received' }], 'PATCH status is refused alike');

    // The case ends: the customer can be deactivated; a new case for the inactive customer (a
    // returning customer) then stops its disposal.
    assert.equal(ok(await end(EMP.staffA1, k.id)).status, 'out_of_scope');
    assert.equal(ok(await a1.post(`/v1/customers/${c.id}/deactivate`)).status, 'inactive');
    const k2 = ok(await newCase(EMP.staffA1, c.id, '客戶回來了,再辦一批'), 201);
    p = assertProblem(await as(EMP.admin).post(`/v1/customers/${c.id}/dispose`), 409, 'conflict');
    assert.deepEqual(p.open_cases, [{ id: k2.id, status: 'received' }]);
    assert.equal(count(`SELECT count(*) FROM cust.data_keys WHERE customer_id = ${lit(c.id)}`), 1, 'no key destroyed');
    ok(await end(EMP.staffA1, k2.id));
    assert.equal(ok(await as(EMP.admin).post(`/v1/customers/${c.id}/dispose`)).certificate.customer_id, c.id);

    // History (issue 11): both cases, newest first, with their states.
    const h = ok(await a1.get(`/v1/customers/${c.id}/history`));
    assert.deepEqual(h.cases.map((x) => [x.id, x.status, x.customer_id]),
      [[k2.id, 'out_of_scope', c.id], [k.id, 'out_of_scope', c.id]]);
    assert.equal(h.cases[0].business_type, null, 'not assessed: no business type');
  });

  test('a disposed or a merged customer gets no new case', async () => {
    const a1 = as(EMP.staffA1);
    const d = ok(await a1.post('/v1/customers', { name: '已處置客戶' }), 201);
    ok(await a1.post(`/v1/customers/${d.id}/deactivate`));
    ok(await as(EMP.admin).post(`/v1/customers/${d.id}/dispose`));
    const before = count('SELECT count(*) FROM cases.cases');
    let p = assertProblem(await newCase(EMP.staffA1, d.id), 409, 'conflict');
    assert.match(p.detail, /disposed/);
    assert.equal(p.errors[0].code, 'customer_disposed');

    const t = ok(await a1.post('/v1/customers', { name: '合併目標乙' }), 201);
    const s = ok(await a1.post('/v1/customers', { name: '合併來源乙' }), 201);
    ok(await a1.post(`/v1/customers/${t.id}/merge`, { source_id: s.id }));
    p = assertProblem(await newCase(EMP.staffA1, s.id), 409, 'conflict');
    assert.equal(p.errors[0].code, 'customer_merged');
    assert.ok(p.errors[0].message.includes(t.id), 'the problem names the record to use');
    assert.equal(count('SELECT count(*) FROM cases.cases'), before, 'no case was written');
    ok(await newCase(EMP.staffA1, t.id), 201);
  });

  test('a merge moves the source\'s cases to the target; the history shows them to whoever may read them', async () => {
    const a1 = as(EMP.staffA1);
    const t = ok(await a1.post('/v1/customers', { name: '合併目標丙' }), 201);
    const s = ok(await a1.post('/v1/customers', { name: '合併來源丙' }), 201);
    const open = ok(await newCase(EMP.staffA1, s.id), 201);
    const ended = ok(await newCase(EMP.staffA1, s.id, '第二件'), 201);
    ok(await end(EMP.staffA1, ended.id));
    const versionBefore = Number(pg(`SELECT version FROM cases.cases WHERE id = ${lit(open.id)}`, { db: DB }));
    const snapBefore = pg(`SELECT coalesce(customer_snapshot::text, 'null') FROM cases.cases WHERE id = ${lit(open.id)}`, { db: DB });

    ok(await a1.post(`/v1/customers/${t.id}/merge`, { source_id: s.id }));
    assert.equal(ok(await a1.get(`/v1/cases/${open.id}`)).customer_id, t.id);
    assert.equal(ok(await a1.get(`/v1/cases/${ended.id}`)).customer_id, t.id, 'ended cases move too');
    assert.equal(Number(pg(`SELECT version FROM cases.cases WHERE id = ${lit(open.id)}`, { db: DB })), versionBefore + 1);
    assert.equal(pg(`SELECT coalesce(customer_snapshot::text, 'null') FROM cases.cases WHERE id = ${lit(open.id)}`, { db: DB }),
      snapBefore, 'the snapshot stays as it was');
    assert.equal(count(`SELECT count(*) FROM cases.events WHERE type = 'customer.merged'
                         AND data = jsonb_build_object('from', ${lit(s.id)}::uuid, 'to', ${lit(t.id)}::uuid)`), 2);
    assert.equal(count(`SELECT count(*) FROM cases.cases WHERE customer_id = ${lit(s.id)}`), 0);

    // The target now has an open case: it cannot be deactivated.
    const p = assertProblem(await a1.post(`/v1/customers/${t.id}/deactivate`), 409, 'conflict');
    assert.deepEqual(p.open_cases, [{ id: open.id, status: 'received' }]);

    // History: the owner (who received them) and the department's supervisor see both cases; a
    // team member who worked on neither sees the customer but not its cases.
    const ids = (h) => h.cases.map((x) => x.id).sort();
    assert.deepEqual(ids(ok(await a1.get(`/v1/customers/${t.id}/history`))), [open.id, ended.id].sort());
    assert.deepEqual(ids(ok(await as(EMP.supA).get(`/v1/customers/${t.id}/history`))), [open.id, ended.id].sort());
    assert.deepEqual(ids(ok(await as(EMP.auditor).get(`/v1/customers/${t.id}/history`))), [open.id, ended.id].sort());
    ok(await a1.put(`/v1/customers/${t.id}/team`, { members: [EMP.staffA2.id] }));
    assert.deepEqual(ok(await as(EMP.staffA2).get(`/v1/customers/${t.id}/history`)).cases, []);
  });
});
