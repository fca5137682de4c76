// Shared set-up of the API tests of module P (cases, docs/cases.md): business types created
// through the catalogue's routes (part A), a second supervisor of department A (approver !=
// preparer and reviewer independence need two), clients per employee, a customer, and a case
// brought to in_progress through the real routes of part B (request -> assess -> intake -> submit
// -> approve -> assignments). Nothing here writes a case behind the rules' back.
//
// Usage (after loadFixtures(db) and with a service started by startIdentityService and the
// customer keys, see tests/api/cases.test.mjs):
//   const supA2 = addSecondSupervisor(DB);
//   const admin = asClient(svc, key, EMP.admin);
//   const type = await createBusinessType(admin, { code: 'audit' });
//   const { case: c, clients } = await caseInProgress(svc, key, { typeId: type.id, supA2 });
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { lit } from './harness.mjs';
import { DEPT, EMP, asOwnerAdmin, client, ok, ownToken } from './identity.mjs';

/**
 * The standard of a business-type version (P2.2, P3.2, P4.2): two required milestones and an
 * optional one, the three review criteria every checklist holds, one required archive document.
 * `over` replaces members (e.g. { milestones: [...] }).
 */
export function standard(over = {}) {
  return {
    milestones: [
      { code: 'gather', name: '資料收集', required: true, standard_days: 3 },
      { code: 'prepare', name: '編制底稿', required: true, standard_days: 5 },
      { code: 'followup', name: '後續跟進', required: false, standard_days: 2 },
    ],
    checklist: [
      { code: 'accuracy', name: '準確性' },
      { code: 'compliance', name: '合規性' },
      { code: 'completeness', name: '完整性' },
    ],
    documents: [{ code: 'report', name: '報告' }],
    retention_years: 10,
    ...over,
  };
}

/**
 * POST /v1/business-types as `admin` (a client of an admin or supervisor): a type with version 1
 * of standard(). `code` defaults to a fresh one; `in_scope` to true. Returns the type document
 * (id, code, current_version, current_version_id, standard: {milestones, checklist, documents}).
 */
export async function createBusinessType(admin, { code, name, in_scope: inScope = true, ...over } = {}) {
  const c = code ?? `bt-${crypto.randomBytes(4).toString('hex')}`;
  return ok(await admin.post('/v1/business-types',
    { code: c, name: name ?? `業務 ${c}`, in_scope: inScope, ...standard(over) }), 201);
}

/** POST /v1/business-types/{id}/versions: a new current version (P2.2). Returns the version. */
export async function createTypeVersion(admin, typeId, over = {}) {
  return ok(await admin.post(`/v1/business-types/${typeId}/versions`,
    { note: '標準修訂 revised standard', ...standard(over) }), 201);
}

/**
 * A second supervisor of department A (`sup.a2`, roles staff and supervisor), inserted as the
 * owner with admin claims like loadFixtures does (the shared fixtures hold one supervisor per
 * department). Call once per database, after loadFixtures. Returns the employee in EMP's shape.
 */
export function addSecondSupervisor(db, { username = 'sup.a2', dept = DEPT.A } = {}) {
  const e = {
    id: crypto.randomUUID(), username, name: 'Supervisor A2', roles: ['staff', 'supervisor'],
    dept, supervisor: null,
  };
  asOwnerAdmin(db, `INSERT INTO org.employees (id, username, display_name, department_id, roles)
VALUES (${lit(e.id)}, ${lit(username)}, ${lit(e.name)}, ${lit(dept)}, '{staff,supervisor}');`);
  return e;
}

/** A client of `svc` acting as employee `e` (its roles unless `roles` is given). */
export function asClient(svc, key, e, roles) {
  return client(svc, ownToken(key, e, { roles }));
}

/**
 * POST /v1/customers as `c` (staff or supervisor): a customer the caller may use for a case.
 * Needs the service started with the customer keys (tests/api/lib/customers.mjs keyEnv).
 */
export async function newCustomer(c, name = `客戶${crypto.randomBytes(3).toString('hex')}`) {
  return ok(await c.post('/v1/customers', {
    name, company_name: `${name}有限公司`, business_scope: '貿易', tags: ['測試'], source: '轉介',
  }), 201);
}

/** The body of POST /v1/cases (P1.1). */
export const caseRequest = (customerId, over = {}) => ({
  customer_id: customerId, raised_at: new Date(Date.now() - 3600e3).toISOString(), channel: 'phone',
  need: '需要 2025 年度財務報表審計報告', ...over,
});

/**
 * A case of department A brought to in_progress through the routes: POST /v1/cases (by the
 * preparer) -> assess (in scope, typeId) -> intake (If-Match) -> submit -> approve (sup.a2 when
 * the preparer is sup.a, else sup.a: approver != preparer, P1.4) -> assignments (lead and
 * members, P2.1; by the approver).
 * Options: typeId (required), supA2 (from addSecondSupervisor; required when preparer is sup.a),
 * preparer (EMP.staffA1), customerId (a new customer of the preparer), lead (EMP.staffA1),
 * members ([EMP.staffA2]), requirements.
 * Returns { case: the case document after the assignment, clients: { preparer, approver, lead,
 * members: [...], supA, supA2 } , customerId }.
 */
export async function caseInProgress(svc, key, {
  typeId, supA2, preparer = EMP.staffA1, customerId, lead = EMP.staffA1, members = [EMP.staffA2],
  requirements = '年度財務報表審計，出具審計報告',
} = {}) {
  assert.ok(typeId, 'caseInProgress needs typeId');
  const approverEmp = preparer.id === EMP.supA.id ? supA2 : EMP.supA;
  assert.ok(approverEmp, 'caseInProgress: the preparer is sup.a, so pass supA2 (addSecondSupervisor)');
  const prep = asClient(svc, key, preparer);
  const approver = asClient(svc, key, approverEmp);
  const cu = customerId ?? (await newCustomer(prep)).id;
  const r = ok(await prep.post('/v1/cases', caseRequest(cu)), 201);
  const a = ok(await prep.post(`/v1/cases/${r.id}/assess`, { in_scope: true, business_type_id: typeId }));
  const f = ok(await prep.put(`/v1/cases/${r.id}/intake`, { requirements }, { headers: { 'If-Match': `"${a.version}"` } }));
  assert.equal(f.status, 'intake');
  ok(await prep.post(`/v1/cases/${r.id}/submit`));
  ok(await approver.post(`/v1/cases/${r.id}/approve`, { comment: '同意受理' }));
  const c = ok(await approver.post(`/v1/cases/${r.id}/assignments`,
    { lead: lead.id, members: members.map((m) => m.id) }));
  assert.equal(c.status, 'in_progress', `caseInProgress: ${JSON.stringify(c)}`);
  return {
    case: c,
    customerId: cu,
    clients: {
      preparer: prep,
      approver,
      lead: asClient(svc, key, lead),
      members: members.map((m) => asClient(svc, key, m)),
      supA: asClient(svc, key, EMP.supA),
      supA2: supA2 ? asClient(svc, key, supA2) : undefined,
    },
  };
}
