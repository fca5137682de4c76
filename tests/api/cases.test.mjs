// Module P, part B (P1.1-P2.1): a case from the customer's request to the start of work over
// HTTP: reception, scope assessment, intake form (If-Match), submission, the supervisor's
// decision (approver != preparer), the assignment that starts the work; the refusals (401, 403,
// 404, 409 with allowed_actions, 412/428, 422 with the field and nothing written), the rules'
// triggers proven as the owner behind the functions' back, and the audit trail they leave.
// The business types are created through the catalogue's routes (tests/api/lib/cases.mjs);
// every case goes through the routes.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, describe, test } from 'node:test';

import { assertProblem, freshDatabase, lit, pg } from './lib/harness.mjs';
import {
  addSecondSupervisor, asClient, caseInProgress, createBusinessType, createTypeVersion,
} from './lib/cases.mjs';
import {
  DEPT, EMP, assertFieldError, call, loadFixtures, newSigningKey, ok, ownToken,
} from './lib/identity.mjs';
import { customerKeys, startCustomerService } from './lib/customers.mjs';

const DB = 'tx_api_cases';
let svc;
let key;

// Business-type ids (TYPE) and version ids (VER), set in before() from the catalogue's answers.
const TYPE = {};
const VER = {};
// A second supervisor of department A (approver != preparer needs two), made in before().
let SUP_A2;

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startCustomerService(DB, key, customerKeys());
  loadFixtures(DB);
  SUP_A2 = addSecondSupervisor(DB);
  const admin = asClient(svc, key, EMP.admin);
  const audit = await createBusinessType(admin, { code: 'audit', name: '審計' });
  const outside = await createBusinessType(admin, { code: 'equipment', name: '設備銷售', in_scope: false });
  const tax = await createBusinessType(admin, { code: 'tax', name: '稅務' });
  Object.assign(TYPE, { audit: audit.id, outside: outside.id, tax: tax.id });
  VER.audit1 = audit.current_version_id;
  VER.audit2 = (await createTypeVersion(admin, audit.id)).id;
  VER.outside1 = outside.current_version_id;
  VER.tax1 = tax.current_version_id;
});

const as = (e, roles) => {
  const token = ownToken(key, e, { roles });
  return {
    get: (p) => call(svc, 'GET', p, { token }),
    post: (p, body, headers = {}) => call(svc, 'POST', p, { token, body, headers }),
    put: (p, body, headers = {}) => call(svc, 'PUT', p, { token, body, headers }),
  };
};
const one = (sql) => pg(sql, { db: DB });
const count = (sql) => Number(one(sql));
const caseCount = () => count('SELECT count(*) FROM cases.cases');

/** Runs sql as tianxing_owner with the claims of employee e (the rules' triggers bind the owner). */
function asOwner(e, sql) {
  const dept = e.dept ?? (e === SUP_A2 ? DEPT.A : null);
  return pg(`BEGIN;
SELECT set_config('tx.user_id', ${lit(e.id)}, true), set_config('tx.roles', ${lit(e.roles.join(','))}, true),
       set_config('tx.department_id', ${lit(dept ?? '')}, true), set_config('tx.request_id', 'cases-test', true);
${sql}
COMMIT;`, { db: DB, user: 'tianxing_owner' });
}
function ownerRefused(e, sql, re) {
  assert.throws(() => asOwner(e, sql), (err) => re.test(err.stderr), `refused: ${sql}`);
}

async function newCustomer(c, name) {
  return ok(await c.post('/v1/customers', { name, company_name: `${name}有限公司`, business_scope: '貿易', tags: ['測試'], source: '轉介' }), 201);
}
const request = (customerId, over = {}) => ({
  customer_id: customerId, raised_at: new Date(Date.now() - 3600e3).toISOString(), channel: 'phone',
  need: '需要 2025 年度財務報表審計報告', ...over,
});
async function received(c, customerId) {
  const res = await c.post('/v1/cases', request(customerId));
  const b = ok(res, 201);
  assert.equal(res.headers.location, `/v1/cases/${b.id}`);
  assert.equal(res.headers.etag, `"${b.version}"`);
  return b;
}
/** A case of staff.a1 brought to `submitted` through the routes. */
async function submitted(customerId) {
  const a1 = as(EMP.staffA1);
  const c = await received(a1, customerId);
  const i = ok(await a1.post(`/v1/cases/${c.id}/assess`, { in_scope: true, business_type_id: TYPE.audit }));
  ok(await a1.put(`/v1/cases/${c.id}/intake`, { requirements: '年度審計' }, { 'If-Match': `"${i.version}"` }));
  return ok(await a1.post(`/v1/cases/${c.id}/submit`));
}

describe('a case from the request to the start of work (P1.1-P2.1)', () => {
  test('walk: receive, assess, intake, submit, return, resubmit, approve, assign', async () => {
    const a1 = as(EMP.staffA1);
    const supA = as(EMP.supA);
    const supA2 = as(SUP_A2);
    const cu = await newCustomer(a1, '林志遠');

    // P1.1
    const c = await received(a1, cu.id);
    assert.equal(c.status, 'received');
    assert.equal(c.request.received_by, EMP.staffA1.id);
    assert.equal(c.department_id, DEPT.A);
    assert.equal(c.customer_id, cu.id);
    assert.equal(c.scope, null);
    assert.equal(c.intake, null);
    assert.deepEqual(c.allowed_actions, ['assess_in_scope', 'assess_out_of_scope', 'cancel']);
    assert.deepEqual(ok(await a1.get(`/v1/cases/${c.id}`)), c);

    // P1.2: in scope, the type's current version fixed
    const i = ok(await a1.post(`/v1/cases/${c.id}/assess`, { in_scope: true, business_type_id: TYPE.audit }));
    assert.equal(i.status, 'intake');
    assert.equal(i.type_version_id, VER.audit2);
    assert.deepEqual(i.business_type, { id: TYPE.audit, code: 'audit', name: '審計', version: 2 });
    assert.equal(i.scope.in_scope, true);
    assert.equal(i.scope.assessed_by, EMP.staffA1.id);

    // P1.3: the intake form under If-Match
    const url = `/v1/cases/${c.id}/intake`;
    const form = { requirements: '2025 年度財務報表審計,出具審計報告。', expected_on: '2099-03-31' };
    assertProblem(await a1.put(url, form), 428, 'precondition_required');
    assertProblem(await a1.put(url, form, { 'If-Match': '"999"' }), 412, 'precondition_failed');
    const res = await a1.put(url, form, { 'If-Match': `"${i.version}"` });
    const f = ok(res);
    assert.equal(res.headers.etag, `"${f.version}"`);
    assert.ok(f.version > i.version);
    assert.equal(f.intake.prepared_by, EMP.staffA1.id);
    assert.equal(f.intake.expected_on, '2099-03-31');
    const snap = { ...f.intake.customer_snapshot };
    delete snap.taken_at;
    assert.deepEqual(snap, { id: cu.id, name: '林志遠', company_name: '林志遠有限公司', business_scope: '貿易', status: cu.status, tags: ['測試'], source: '轉介' });
    assert.equal(f.type_version_id, VER.audit2, 'the case keeps its version');

    // P1.4
    const s = ok(await a1.post(`/v1/cases/${c.id}/submit`));
    assert.equal(s.status, 'submitted');
    assert.ok(s.submitted_at);
    const ret = ok(await supA.post(`/v1/cases/${c.id}/return`, { reason: '請補充報告用途' }));
    assert.equal(ret.status, 'returned');
    assert.deepEqual(ret.approvals.map((x) => [x.decision, x.comment, x.decided_by]), [['return', '請補充報告用途', EMP.supA.id]]);
    // the supervisor completes the returned form himself: he becomes its preparer
    const f2 = ok(await supA.put(url, { requirements: '審計報告,用於銀行貸款。' }, { 'If-Match': `"${ret.version}"` }));
    assert.equal(f2.intake.prepared_by, EMP.supA.id);
    assert.equal(f2.intake.expected_on, null);
    ok(await supA.post(`/v1/cases/${c.id}/submit`));
    const self = assertProblem(await supA.post(`/v1/cases/${c.id}/approve`, {}), 403, 'forbidden');
    assert.match(self.detail, /approver != preparer/);
    const ap = ok(await supA2.post(`/v1/cases/${c.id}/approve`, { comment: '同意' }));
    assert.equal(ap.status, 'approved');
    assert.equal(ap.approved_by, SUP_A2.id);
    assert.deepEqual(ap.approvals.map((x) => x.decision), ['return', 'approve']);

    // P2.1: the assignment starts the work
    const as1 = ok(await supA.post(`/v1/cases/${c.id}/assignments`, { lead: EMP.staffA2.id, members: [EMP.staffA1.id], starts_on: '2099-01-02' }));
    assert.equal(as1.status, 'in_progress');
    assert.ok(as1.started_at);
    assert.deepEqual(as1.assignments.map((x) => [x.employee_id, x.role, x.starts_on]),
      [[EMP.staffA2.id, 'lead', '2099-01-02'], [EMP.staffA1.id, 'member', '2099-01-02']]);
    // the lead now sees the case and finds it by assignee
    const a2 = as(EMP.staffA2);
    assert.equal(ok(await a2.get(`/v1/cases/${c.id}`)).status, 'in_progress');
    const mine = ok(await a2.get(`/v1/cases?assigned_to=${EMP.staffA2.id}`)).items;
    assert.deepEqual(mine.map((x) => x.id), [c.id]);
    assert.deepEqual(mine[0].assignee_ids, [EMP.staffA2.id, EMP.staffA1.id].sort(), 'the summary names the current assignees');
    assert.equal(mine[0].customer_name, as1.intake.customer_snapshot.name, "the intake snapshot's name");
    assert.equal(mine[0].business_type.id, as1.business_type.id);
    // ... but is not on the intake side: the wrong person for the form (403 saying who may)
    const wp = assertProblem(await a2.put(url, { requirements: 'x' }, { 'If-Match': `"${as1.version}"` }), 403, 'forbidden');
    assert.match(wp.detail, /receiver of the request/);
    // re-assignment in progress: the earlier rows end, kept
    const as2 = ok(await supA.post(`/v1/cases/${c.id}/assignments`, { lead: EMP.staffA1.id }));
    assert.deepEqual(as2.assignments.map((x) => [x.employee_id, x.role]), [[EMP.staffA1.id, 'lead']]);
    assert.equal(count(`SELECT count(*) FROM cases.assignments WHERE case_id = ${lit(c.id)} AND ended_at IS NOT NULL`), 2);

    // the history
    const h = ok(await a1.get(`/v1/cases/${c.id}/transitions`));
    assert.deepEqual(h.items.map((x) => x.action), ['assess_in_scope', 'submit', 'return', 'submit', 'approve', 'start']);
    assert.equal(h.items[2].reason, '請補充報告用途');
    assert.equal(h.items[4].actor_id, SUP_A2.id);

    // the audit trail holds every write (auditor)
    const au = ok(await as(EMP.auditor).get(`/v1/audit?table=cases.cases&row_key=${c.id}&limit=200`));
    assert.ok(au.items.length >= 9, `audit entries of the case: ${au.items.length}`);
    const aa = ok(await as(EMP.auditor).get('/v1/audit?table=cases.approvals&limit=200'));
    assert.ok(aa.items.length >= 2);
    assert.equal(ok(await as(EMP.auditor).get('/v1/audit/verify')).intact, true);
  });

  test('the shared set-up (tests/api/lib/cases.mjs): caseInProgress, either supervisor preparing', async () => {
    const byStaff = await caseInProgress(svc, key, { typeId: TYPE.tax, supA2: SUP_A2 });
    assert.equal(byStaff.case.status, 'in_progress');
    assert.equal(byStaff.case.type_version_id, VER.tax1);
    assert.equal(byStaff.case.intake.prepared_by, EMP.staffA1.id);
    assert.equal(byStaff.case.approved_by, EMP.supA.id);
    assert.deepEqual(byStaff.case.assignments.map((x) => [x.employee_id, x.role]).sort(),
      [[EMP.staffA1.id, 'lead'], [EMP.staffA2.id, 'member']].sort());
    // the lead sees the case through its own client
    assert.equal(ok(await byStaff.clients.lead.get(`/v1/cases/${byStaff.case.id}`)).status, 'in_progress');
    // sup.a prepares: sup.a2 approves (P1.4 approver != preparer)
    const bySup = await caseInProgress(svc, key, { typeId: TYPE.audit, supA2: SUP_A2, preparer: EMP.supA, lead: EMP.staffA2, members: [] });
    assert.equal(bySup.case.intake.prepared_by, EMP.supA.id);
    assert.equal(bySup.case.approved_by, SUP_A2.id);
    assert.equal(bySup.case.type_version_id, VER.audit2);
  });

  test('out of scope and reject are terminal, with their reason', async () => {
    const a1 = as(EMP.staffA1);
    const cu = await newCustomer(a1, '陳美玲');
    const c = await received(a1, cu.id);
    assertFieldError(await a1.post(`/v1/cases/${c.id}/assess`, { in_scope: false }), 'reason');
    assertFieldError(await a1.post(`/v1/cases/${c.id}/assess`, { in_scope: true, business_type_id: TYPE.outside }), 'business_type_id');
    assertFieldError(await a1.post(`/v1/cases/${c.id}/assess`, { in_scope: true, business_type_id: crypto.randomUUID() }), 'business_type_id');
    assertFieldError(await a1.post(`/v1/cases/${c.id}/assess`, { in_scope: 'yes' }), 'in_scope');
    assert.equal(one(`SELECT status FROM cases.cases WHERE id = ${lit(c.id)}`), 'received');
    const o = ok(await a1.post(`/v1/cases/${c.id}/assess`, { in_scope: false, reason: '本公司不銷售設備' }));
    assert.equal(o.status, 'out_of_scope');
    assert.equal(o.closed_reason, '本公司不銷售設備');
    assert.deepEqual(o.allowed_actions, []);
    const p = assertProblem(await a1.post(`/v1/cases/${c.id}/assess`, { in_scope: true, business_type_id: TYPE.audit }), 409, 'invalid_transition');
    assert.equal(p.state, 'out_of_scope');
    assert.deepEqual(p.allowed_actions, []);

    const s = await submitted(cu.id);
    assertFieldError(await as(EMP.supA).post(`/v1/cases/${s.id}/reject`, {}), 'reason');
    const r = ok(await as(EMP.supA).post(`/v1/cases/${s.id}/reject`, { reason: '客戶資料不足' }));
    assert.equal(r.status, 'rejected');
    assert.equal(r.closed_reason, '客戶資料不足');
    const again = assertProblem(await as(EMP.supA).post(`/v1/cases/${s.id}/approve`), 409, 'invalid_transition');
    assert.equal(again.state, 'rejected');
  });
});

describe('refusals', () => {
  test('reception: roles, a department, the customer, the body; nothing written', async () => {
    const a1 = as(EMP.staffA1);
    const cu = await newCustomer(a1, '黃志明');
    const cuB = await newCustomer(as(EMP.staffB1), '王小明');
    const before = caseCount();
    assertProblem(await as(EMP.hr).post('/v1/cases', request(cu.id)), 403, 'forbidden');
    assertProblem(await as(EMP.auditor).post('/v1/cases', request(cu.id)), 403, 'forbidden');
    const x = assertProblem(await as(EMP.staffX).post('/v1/cases', request(cu.id)), 403, 'forbidden');
    assert.match(x.detail, /department/);
    assertFieldError(await a1.post('/v1/cases', request(cuB.id)), 'customer_id');
    assertFieldError(await a1.post('/v1/cases', request(crypto.randomUUID())), 'customer_id');
    assertFieldError(await a1.post('/v1/cases', request(cu.id, { channel: 'fax' })), 'channel');
    assertFieldError(await a1.post('/v1/cases', request(cu.id, { need: '' })), 'need');
    assertFieldError(await a1.post('/v1/cases', request(cu.id, { raised_at: '2099-01-01T00:00:00Z' })), 'raised_at');
    assertFieldError(await a1.post('/v1/cases', request(cu.id, { raised_at: 'yesterday' })), 'raised_at');
    assertFieldError(await a1.post('/v1/cases', request(cu.id, { received_by: EMP.staffA2.id })), 'received_by');
    const noNeed = request(cu.id);
    delete noNeed.need;
    assertFieldError(await a1.post('/v1/cases', noNeed), 'need');
    assert.equal(caseCount(), before, 'nothing written');

    // a merged or disposed customer gets no new case (409 with a code saying which)
    const gone = await newCustomer(a1, '已合併');
    pg(`BEGIN; SET LOCAL session_replication_role = replica;
        UPDATE cust.customers SET status = 'merged', merged_into = ${lit(cu.id)} WHERE id = ${lit(gone.id)}; COMMIT;`, { db: DB });
    const m = assertProblem(await a1.post('/v1/cases', request(gone.id)), 409, 'conflict');
    assert.equal(m.errors[0].field, 'customer_id');
    assert.equal(m.errors[0].code, 'customer_merged');
    const disp = await newCustomer(a1, '已銷毀');
    pg(`BEGIN; SET LOCAL session_replication_role = replica;
        UPDATE cust.customers SET status = 'disposed', name = 'disposed customer', company_name = NULL, disposed_at = now(),
               disposed_by = ${lit(EMP.admin.id)} WHERE id = ${lit(disp.id)}; COMMIT;`, { db: DB });
    const d = assertProblem(await a1.post('/v1/cases', request(disp.id)), 409, 'conflict');
    assert.equal(d.errors[0].code, 'customer_disposed');
    assert.equal(caseCount(), before, 'nothing written');
  });

  test('who may act: 404 for the case one may not see, 403 for the wrong role or person', async () => {
    const a1 = as(EMP.staffA1);
    const cu = await newCustomer(a1, '周大福');
    const c = await received(a1, cu.id);
    const body = { in_scope: true, business_type_id: TYPE.audit };
    assertProblem(await as(EMP.staffA2).get(`/v1/cases/${c.id}`), 404, 'not_found');
    assertProblem(await as(EMP.staffA2).post(`/v1/cases/${c.id}/assess`, body), 404, 'not_found');
    assertProblem(await as(EMP.staffB1).post(`/v1/cases/${c.id}/assess`, body), 404, 'not_found');
    assertProblem(await as(EMP.supB).get(`/v1/cases/${c.id}`), 404, 'not_found');
    assertProblem(await as(EMP.hr).get(`/v1/cases/${c.id}`), 404, 'not_found');
    assertProblem(await a1.get(`/v1/cases/${crypto.randomUUID()}`), 404, 'not_found');
    assertProblem(await a1.post(`/v1/cases/${crypto.randomUUID()}/assess`, body), 404, 'not_found');
    assertProblem(await a1.get('/v1/cases/not-a-uuid'), 404, 'not_found');
    assertProblem(await as(EMP.auditor).post(`/v1/cases/${c.id}/assess`, body), 403, 'forbidden');
    assert.equal(ok(await as(EMP.auditor).get(`/v1/cases/${c.id}`)).id, c.id, 'the auditor reads it');
    assert.deepEqual(ok(await as(EMP.hr).get('/v1/cases')).items, [], 'hr lists no case');
    assert.equal(one(`SELECT status FROM cases.cases WHERE id = ${lit(c.id)}`), 'received');

    const s = await submitted(cu.id);
    assertProblem(await a1.post(`/v1/cases/${s.id}/approve`, {}), 403, 'forbidden');
    assertProblem(await as(EMP.supB).post(`/v1/cases/${s.id}/approve`, {}), 404, 'not_found');
    assertProblem(await as(EMP.supA).post(`/v1/cases/${s.id}/assignments`, { lead: EMP.staffA2.id }), 409, 'invalid_transition');
    ok(await as(SUP_A2).post(`/v1/cases/${s.id}/approve`));
    assertProblem(await a1.post(`/v1/cases/${s.id}/assignments`, { lead: EMP.staffA2.id }), 403, 'forbidden');
    assertFieldError(await as(EMP.supA).post(`/v1/cases/${s.id}/assignments`, { lead: EMP.gone.id }), 'lead');
    assertFieldError(await as(EMP.supA).post(`/v1/cases/${s.id}/assignments`, { lead: EMP.staffA2.id, members: [EMP.hr.id] }), 'members[0]');
    assertFieldError(await as(EMP.supA).post(`/v1/cases/${s.id}/assignments`, { lead: EMP.staffA2.id, members: ['x'] }), 'members[0]');
    assertFieldError(await as(EMP.supA).post(`/v1/cases/${s.id}/assignments`, { lead: EMP.staffA2.id, starts_on: '2099-02-01', ends_on: '2099-01-01' }), 'ends_on');
    assert.equal(count(`SELECT count(*) FROM cases.assignments WHERE case_id = ${lit(s.id)}`), 0, 'nothing assigned');
    assert.equal(one(`SELECT status FROM cases.cases WHERE id = ${lit(s.id)}`), 'approved');
  });

  test('wrong state: 409 invalid_transition with the state and the allowed actions', async () => {
    const a1 = as(EMP.staffA1);
    const cu = await newCustomer(a1, '吳建國');
    const c = await received(a1, cu.id);
    const p = assertProblem(await a1.post(`/v1/cases/${c.id}/submit`), 409, 'invalid_transition');
    assert.equal(p.state, 'received');
    assert.deepEqual(p.allowed_actions, ['assess_in_scope', 'assess_out_of_scope', 'cancel']);
    const form = assertProblem(await a1.put(`/v1/cases/${c.id}/intake`, { requirements: 'x' }, { 'If-Match': `"${c.version}"` }), 409, 'invalid_transition');
    assert.equal(form.state, 'received');
    const i = ok(await a1.post(`/v1/cases/${c.id}/assess`, { in_scope: true, business_type_id: TYPE.tax }));
    const g = assertProblem(await a1.post(`/v1/cases/${c.id}/submit`), 409, 'invalid_transition');
    assert.equal(g.guard, 'cases.intake_complete');
    assert.equal(g.state, 'intake');
    assertFieldError(await a1.put(`/v1/cases/${c.id}/intake`, { expected_on: '2099-01-01' }, { 'If-Match': `"${i.version}"` }), 'requirements');
    assertFieldError(await a1.put(`/v1/cases/${c.id}/intake`, { requirements: 'x', expected_on: '2000-01-01' }, { 'If-Match': `"${i.version}"` }), 'expected_on');
    assertFieldError(await a1.put(`/v1/cases/${c.id}/intake`, { requirements: 'x', business_type_id: TYPE.outside }, { 'If-Match': `"${i.version}"` }), 'business_type_id');
    assert.equal(one(`SELECT coalesce(requirements, 'none') FROM cases.cases WHERE id = ${lit(c.id)}`), 'none');
    // another in-scope type on the form takes that type's current version
    const f = ok(await a1.put(`/v1/cases/${c.id}/intake`, { requirements: 'x', business_type_id: TYPE.audit }, { 'If-Match': `"${i.version}"` }));
    assert.equal(f.type_version_id, VER.audit2);
  });

  test('lists: filters, keyset pages, malformed parameters', async () => {
    const b1 = as(EMP.staffB1);
    const cu = await newCustomer(b1, '分頁客戶');
    const ids = [];
    for (let n = 0; n < 3; n++) ids.push((await received(b1, cu.id)).id);
    const all = ok(await b1.get(`/v1/cases?customer_id=${cu.id}`));
    assert.deepEqual(all.items.map((x) => x.id), [...ids].reverse(), 'newest change first');
    assert.equal(all.next_cursor, null);
    // an item is a summary (CaseSummary), not the case document; before intake the name is the
    // customer's current one
    const it = all.items[0];
    assert.equal(it.customer_name, '分頁客戶');
    assert.equal(it.customer_id, cu.id);
    assert.equal(it.status, 'received');
    assert.equal(it.business_type, null);
    assert.deepEqual(it.assignee_ids, []);
    assert.equal(it.version, ok(await b1.get(`/v1/cases/${it.id}`)).version);
    assert.equal(it.approvals, undefined);
    const p1 = ok(await b1.get(`/v1/cases?customer_id=${cu.id}&limit=2`));
    assert.equal(p1.items.length, 2);
    assert.ok(p1.next_cursor);
    const p2 = ok(await b1.get(`/v1/cases?customer_id=${cu.id}&limit=2&cursor=${encodeURIComponent(p1.next_cursor)}`));
    assert.deepEqual([...p1.items, ...p2.items].map((x) => x.id), all.items.map((x) => x.id));
    assert.equal(p2.next_cursor, null);
    assert.equal(ok(await b1.get(`/v1/cases?customer_id=${cu.id}&status=received&department_id=${DEPT.B}`)).items.length, 3);
    assert.equal(ok(await b1.get(`/v1/cases?customer_id=${cu.id}&status=intake`)).items.length, 0);
    assert.equal(ok(await b1.get(`/v1/cases?customer_id=${cu.id}&received_from=2099-01-01T00:00:00Z`)).items.length, 0);
    assert.equal(ok(await as(EMP.supB).get(`/v1/cases?customer_id=${cu.id}`)).items.length, 3, "the department's supervisor");
    assert.equal(ok(await as(EMP.supA).get(`/v1/cases?customer_id=${cu.id}`)).items.length, 0, "another department's supervisor");
    assertFieldError(await b1.get('/v1/cases?status=nonsense'), 'status');
    assertFieldError(await b1.get('/v1/cases?cursor=x'), 'cursor');
    assertFieldError(await b1.get('/v1/cases?limit=x'), 'limit');
    assertFieldError(await b1.get('/v1/cases?colour=red'), 'colour');
  });
});

describe('the rules hold for every writer (triggers, as the owner)', () => {
  test('nothing assigned before approval; approver is a supervisor, not the preparer; the request is fixed', async () => {
    const s = await submitted((await newCustomer(as(EMP.staffA1), '規則客戶')).id);
    const id = lit(s.id);
    ownerRefused(EMP.supA, `INSERT INTO cases.assignments (case_id, employee_id, role, starts_on, assigned_by)
      VALUES (${id}, ${lit(EMP.staffA2.id)}, 'lead', current_date, ${lit(EMP.supA.id)});`, /nothing is assigned before the case is approved/);
    ownerRefused(EMP.staffA1, `INSERT INTO cases.approvals (case_id, decision, decided_by) VALUES (${id}, 'approve', ${lit(EMP.staffA1.id)});`,
      /approver is a supervisor/);
    // sup.a prepares the form, then cannot approve it even as the owner
    const r = ok(await as(EMP.supA).post(`/v1/cases/${s.id}/return`, { reason: '補充' }));
    ok(await as(EMP.supA).put(`/v1/cases/${s.id}/intake`, { requirements: '補充後' }, { 'If-Match': `"${r.version}"` }));
    ok(await as(EMP.supA).post(`/v1/cases/${s.id}/submit`));
    ownerRefused(EMP.supA, `INSERT INTO cases.approvals (case_id, decision, decided_by) VALUES (${id}, 'approve', ${lit(EMP.supA.id)});`,
      /not the preparer/);
    ownerRefused(SUP_A2, `INSERT INTO cases.approvals (case_id, decision, decided_by) VALUES (${id}, 'approve', ${lit(EMP.supA.id)});`,
      /in the name of the one who takes it/);
    ownerRefused(EMP.supA, `UPDATE cases.cases SET need = 'changed' WHERE id = ${id};`, /request of a case/);
    ownerRefused(EMP.supA, `UPDATE cases.cases SET received_by = ${lit(EMP.staffA2.id)} WHERE id = ${id};`, /request of a case/);
    ownerRefused(EMP.supA, `UPDATE cases.cases SET customer_id = (SELECT id FROM cust.customers WHERE id <> (SELECT customer_id FROM cases.cases WHERE id = ${id}) LIMIT 1) WHERE id = ${id};`,
      /customer of a case changes only/);
    ownerRefused(EMP.supA, `UPDATE cases.cases SET requirements = 'changed after submission' WHERE id = ${id};`, /intake form changes only/);
    ownerRefused(EMP.supA, `UPDATE cases.cases SET approved_by = ${lit(EMP.supA.id)}, approved_at = now() WHERE id = ${id};`, /approval is recorded only/);
    ownerRefused(EMP.supA, `UPDATE cases.cases SET status = 'approved' WHERE id = ${id};`, /changes only through fsm.move/);
    ownerRefused(EMP.supA, `DELETE FROM cases.approvals WHERE case_id = ${id};`, /never changed or removed/);
    ownerRefused(EMP.supA, `DELETE FROM cases.cases WHERE id = ${id};`, /record of a case is kept/);
    ownerRefused(EMP.supA, `INSERT INTO cases.cases (customer_id, department_id, raised_at, received_by, channel, need)
      SELECT customer_id, ${lit(DEPT.B)}, now(), ${lit(EMP.staffA1.id)}, 'phone', 'x' FROM cases.cases WHERE id = ${id};`, /department of the employee who received it/);
    ownerRefused(EMP.supA, `INSERT INTO cases.cases (customer_id, department_id, raised_at, received_by, channel, need, requirements)
      SELECT customer_id, ${lit(DEPT.A)}, now(), ${lit(EMP.staffA1.id)}, 'phone', 'x', 'y' FROM cases.cases WHERE id = ${id};`, /a new case is a request only/);
    // approved now; an assignment row only ends
    ok(await as(SUP_A2).post(`/v1/cases/${s.id}/approve`));
    ownerRefused(SUP_A2, `INSERT INTO cases.assignments (case_id, employee_id, role, starts_on, assigned_by)
      VALUES (${id}, ${lit(EMP.hr.id)}, 'lead', current_date, ${lit(SUP_A2.id)});`, /assigned to active staff/);
    ownerRefused(EMP.supB, `INSERT INTO cases.assignments (case_id, employee_id, role, starts_on, assigned_by)
      VALUES (${id}, ${lit(EMP.staffA2.id)}, 'lead', current_date, ${lit(EMP.supB.id)});`, /supervisor of the case's department/);
    ok(await as(SUP_A2).post(`/v1/cases/${s.id}/assignments`, { lead: EMP.staffA2.id }));
    ownerRefused(SUP_A2, `UPDATE cases.assignments SET employee_id = ${lit(EMP.staffA1.id)} WHERE case_id = ${id};`, /only ends/);
    ownerRefused(SUP_A2, `DELETE FROM cases.assignments WHERE case_id = ${id};`, /ended, not removed/);
    assert.equal(one(`SELECT status FROM cases.cases WHERE id = ${id}`), 'in_progress');
  });
});

describe('cancel, the facts for HR, retried requests', () => {
  test('Idempotency-Key: a retried POST /v1/cases replays the first answer and creates nothing', async () => {
    const a1 = as(EMP.staffA1);
    const cu = await newCustomer(a1, '冪等客戶');
    const body = request(cu.id);
    const key1 = `case-${crypto.randomUUID()}`;
    const first = await a1.post('/v1/cases', body, { 'Idempotency-Key': key1 });
    const c = ok(first, 201);
    const n = caseCount();
    const again = await a1.post('/v1/cases', body, { 'Idempotency-Key': key1 });
    assert.equal(again.status, 201, again.text);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(again.headers.location, first.headers.location);
    assert.equal(again.json.id, c.id);
    assert.equal(caseCount(), n, 'the replay created no case');
    // the same key for another request is refused, and nothing is written
    assertProblem(await a1.post('/v1/cases', request(cu.id, { need: '另一個需要' }), { 'Idempotency-Key': key1 }), 422,
      'idempotency_key_reused');
    assert.equal(caseCount(), n);
    // without a key the same body is a new request
    ok(await a1.post('/v1/cases', body), 201);
    assert.equal(caseCount(), n + 1);
  });

  test('cancel: reason required, who may, from every open state before delivery, 409 after', async () => {
    const a1 = as(EMP.staffA1);
    const cu = await newCustomer(a1, '撤回客戶');
    const c = await received(a1, cu.id);
    assertProblem(await as(EMP.hr).post(`/v1/cases/${c.id}/cancel`, { reason: 'x' }), 403, 'forbidden');
    assertProblem(await as(EMP.staffB1).post(`/v1/cases/${c.id}/cancel`, { reason: 'x' }), 404, 'not_found');
    assertProblem(await a1.post(`/v1/cases/${crypto.randomUUID()}/cancel`, { reason: 'x' }), 404, 'not_found');
    assertFieldError(await a1.post(`/v1/cases/${c.id}/cancel`, {}), 'reason');
    assertFieldError(await a1.post(`/v1/cases/${c.id}/cancel`, { reason: '' }), 'reason');
    assert.equal(one(`SELECT status FROM cases.cases WHERE id = ${lit(c.id)}`), 'received', 'refusals wrote nothing');
    const x = ok(await a1.post(`/v1/cases/${c.id}/cancel`, { reason: '客戶另找他家' }));
    assert.equal(x.status, 'cancelled');
    assert.equal(x.closed_reason, '客戶另找他家');
    assert.deepEqual(x.allowed_actions, []);
    const p = assertProblem(await a1.post(`/v1/cases/${c.id}/cancel`, { reason: 'x' }), 409, 'invalid_transition');
    assert.deepEqual(p.allowed_actions, []);

    // submitted: a staff member of the department who is not involved does not see it; the
    // department's supervisor cancels
    const s = await submitted(cu.id);
    assertProblem(await as(EMP.staffA2).post(`/v1/cases/${s.id}/cancel`, { reason: 'x' }), 404, 'not_found');
    assert.equal(ok(await as(EMP.supA).post(`/v1/cases/${s.id}/cancel`, { reason: '客戶撤回' })).status, 'cancelled');

    // intake, returned, approved: each open state before delivery offers cancel
    const i = await received(a1, cu.id);
    const ia = ok(await a1.post(`/v1/cases/${i.id}/assess`, { in_scope: true, business_type_id: TYPE.tax }));
    assert.ok(ia.allowed_actions.includes('cancel'));
    assert.equal(ok(await a1.post(`/v1/cases/${i.id}/cancel`, { reason: '客戶改變主意' })).status, 'cancelled');
    const r = await submitted(cu.id);
    const rr = ok(await as(EMP.supA).post(`/v1/cases/${r.id}/return`, { reason: '請補充' }));
    assert.equal(rr.status, 'returned');
    assert.equal(ok(await a1.post(`/v1/cases/${r.id}/cancel`, { reason: '客戶撤回' })).status, 'cancelled');
    const ap = await submitted(cu.id);
    assert.equal(ok(await as(EMP.supA).post(`/v1/cases/${ap.id}/approve`, {})).status, 'approved');
    assert.equal(ok(await as(EMP.supA).post(`/v1/cases/${ap.id}/cancel`, { reason: '客戶撤回' })).status, 'cancelled');

    // in progress: a member of the team cancels (the customer told them)
    const w = await caseInProgress(svc, key, { typeId: TYPE.audit, supA2: SUP_A2, customerId: cu.id });
    assert.ok(w.case.allowed_actions.includes('cancel'));
    const y = ok(await w.clients.members[0].post(`/v1/cases/${w.case.id}/cancel`, { reason: '客戶暫停委託' }));
    assert.equal(y.status, 'cancelled');
    const h = ok(await a1.get(`/v1/cases/${w.case.id}/transitions`));
    assert.equal(h.items.at(-1).action, 'cancel');
    assert.equal(h.items.at(-1).reason, '客戶暫停委託');
  });

  test('GET /v1/case-facts: hr and admin read the facts of every case, not its text; others 403', async () => {
    const w = await caseInProgress(svc, key, { typeId: TYPE.tax, supA2: SUP_A2 });
    const hr = as(EMP.hr);
    assertProblem(await hr.get(`/v1/cases/${w.case.id}`), 404, 'not_found');
    const all = ok(await hr.get('/v1/case-facts?limit=200'));
    const f = all.items.find((i) => i.id === w.case.id);
    assert.ok(f, 'the case is among the facts');
    assert.equal(f.status, 'in_progress');
    assert.equal(f.business_type_code, 'tax');
    assert.equal(f.received_by, EMP.staffA1.id);
    assert.equal(f.approved_by, EMP.supA.id);
    assert.equal(f.review_rounds, 0);
    assert.equal(f.decisions, 1);
    assert.deepEqual(f.assignees.map((x) => x.employee_id).sort(), [EMP.staffA1.id, EMP.staffA2.id].sort());
    for (const k of ['need', 'requirements', 'request', 'intake', 'approvals', 'closed_reason']) assert.ok(!(k in f), k);
    assert.doesNotMatch(JSON.stringify(all), /審計報告|年度財務報表審計/);
    assert.equal(all.items.length, count('SELECT count(*) FROM cases.cases'));
    // filters and pages
    const mine = ok(await hr.get(`/v1/case-facts?employee_id=${EMP.staffA2.id}&status=in_progress`));
    assert.ok(mine.items.some((i) => i.id === w.case.id));
    assert.ok(mine.items.every((i) => i.status === 'in_progress'));
    const later = new Date(Date.now() + 3600e3).toISOString();
    assert.deepEqual(ok(await hr.get(`/v1/case-facts?received_from=${encodeURIComponent(later)}`)).items, []);
    const p1 = ok(await hr.get('/v1/case-facts?limit=2'));
    assert.equal(p1.items.length, 2);
    const p2 = ok(await hr.get(`/v1/case-facts?limit=2&cursor=${encodeURIComponent(p1.next_cursor)}`));
    assert.deepEqual([...p1.items, ...p2.items].map((i) => i.id), all.items.slice(0, 4).map((i) => i.id));
    assertFieldError(await hr.get('/v1/case-facts?cursor=nope'), 'cursor');
    assertFieldError(await hr.get('/v1/case-facts?status=nonsense'), 'status');
    assert.equal(ok(await as(EMP.admin).get('/v1/case-facts?limit=200')).items.length, all.items.length);
    for (const e of [EMP.staffA1, EMP.supA, EMP.auditor, EMP.risk]) {
      assertProblem(await as(e).get('/v1/case-facts'), 403, 'forbidden');
    }
  });
});
