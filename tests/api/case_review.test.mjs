// Module P, part D: review rounds (P3.1-P3.3), the files of a case, delivery and the customer's
// confirmation through a one-time link or recorded by staff (P3.4). Black-box HTTP; every
// response is validated against the contract by contract_responses.
//
// The walk of a case through review and delivery needs parts B (intake, approval, assignment)
// and C (work records, submit-review); the first describe proves what stands without them: who
// may call what, unknown cases and tokens, the shape of the public answers.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, describe, test } from 'node:test';

import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { assertProblem, commonHeadersTest, freshDatabase, lit, pg, request, tempDir } from './lib/harness.mjs';
import {
  DEPT, EMP, asOwnerAdmin, assertFieldError, assertUnauthorized, client, loadFixtures, newSigningKey, ok, ownToken,
  startIdentityService,
} from './lib/identity.mjs';

const DB = 'tx_api_case_review';
let key;
let svc;
const as = {};
const asEmp = (e, roles) => client(svc, ownToken(key, e, { roles }));
const NOCASE = '7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e';
const NOFILE = '0f1e2d3c-4b5a-4697-8a8b-9c0d1e2f3a4b';

// A second supervisor of department A: sup.a approves and works on the team, sup.a2 reviews.
const SUP_A2 = { id: crypto.randomUUID(), username: 'sup.a2', roles: ['supervisor'] };
const CRITERIA = ['accuracy', 'compliance', 'completeness'];
const DOC_CODE = 'signed_contract';
const NEED_TEXT = '需要 2025 年度財務報表審計報告';
const CUSTOMER_NAME = '林志遠';
let typeId;
let customerId;

before(async () => {
  key = newSigningKey();
  const dir = tempDir('tx-pii-keys-');
  writeFileSync(path.join(dir, 'master'), `k1=${crypto.randomBytes(32).toString('base64')}\n`);
  writeFileSync(path.join(dir, 'index'), `${crypto.randomBytes(32).toString('base64')}\n`);
  freshDatabase(DB);
  svc = await startIdentityService(DB, key, {
    TIANXING_MASTER_KEYS_FILE: path.join(dir, 'master'),
    TIANXING_BLIND_INDEX_KEY_FILE: path.join(dir, 'index'),
  });
  loadFixtures(DB);
  asOwnerAdmin(DB, `INSERT INTO org.employees (id, username, display_name, department_id, roles)
VALUES (${lit(SUP_A2.id)}, 'sup.a2', 'Supervisor A2', ${lit(DEPT.A)}, '{supervisor}');`);
  Object.assign(as, {
    admin: asEmp(EMP.admin), a1: asEmp(EMP.staffA1), a2: asEmp(EMP.staffA2), supA: asEmp(EMP.supA),
    supA2: asEmp(SUP_A2), supB: asEmp(EMP.supB), auditor: asEmp(EMP.auditor), hr: asEmp(EMP.hr),
  });
  typeId = ok(await as.admin.post('/v1/business-types', {
    code: 'review-audit', name: '年度審計',
    milestones: [{ code: 'fieldwork', name: '現場工作', standard_days: 3 }],
    checklist: [{ code: 'accuracy', name: '準確性' }, { code: 'compliance', name: '合規性' }, { code: 'completeness', name: '完整性' }],
    documents: [{ code: DOC_CODE, name: '簽字合同' }],
  }), 201).id;
  customerId = ok(await as.a1.post('/v1/customers', { name: CUSTOMER_NAME, company_name: '閩江貿易有限公司' }), 201).id;
});

/** A case of staff.a1 in progress through parts A and B's routes: sup.a approves, staff.a1 leads
 * and sup.a is a team member. */
async function inProgress() {
  const c = ok(await as.a1.post('/v1/cases', {
    customer_id: customerId, raised_at: new Date(Date.now() - 3600e3).toISOString(), channel: 'phone', need: NEED_TEXT,
  }), 201);
  const i = ok(await as.a1.post(`/v1/cases/${c.id}/assess`, { in_scope: true, business_type_id: typeId }));
  ok(await as.a1.put(`/v1/cases/${c.id}/intake`, { requirements: '審計 2025 年度財務報表' }, { headers: { 'If-Match': `"${i.version}"` } }));
  ok(await as.a1.post(`/v1/cases/${c.id}/submit`));
  ok(await as.supA.post(`/v1/cases/${c.id}/approve`, {}));
  ok(await as.supA.post(`/v1/cases/${c.id}/assignments`, { lead: EMP.staffA1.id, members: [EMP.supA.id] }));
  return c.id;
}
const fileCount = (id) => Number(pg(`SELECT count(*) FROM cases.files WHERE case_id = ${lit(id)}`, { db: DB }));

const publicCall = (method, p, body) =>
  request(svc, { method, path: p, body, headers: {} });

describe('before parts B and C: callers, unknown cases and tokens', () => {
  test('the policy parameters of the part are in force (0022)', async () => {
    const p = ok(await as.hr.get('/v1/policy-parameters/cases_file_max_bytes'));
    assert.equal(p.value, 524288);
    const l = ok(await as.hr.get('/v1/policy-parameters/confirmation_link_days'));
    assert.equal(l.value, 14);
  });

  test('an unknown case answers 404 on every staff route', async () => {
    const calls = [
      [as.supA, 'get', `/v1/cases/${NOCASE}/reviews`],
      [as.supA, 'post', `/v1/cases/${NOCASE}/reviews`, { verdicts: [] }],
      [as.supA, 'get', `/v1/cases/${NOCASE}/files`],
      [as.a1, 'post', `/v1/cases/${NOCASE}/files`, { name: 'x', purpose: 'evidence', location: 'shelf 1' }],
      [as.supA, 'get', `/v1/cases/${NOCASE}/files/${NOFILE}/content`],
      [as.a1, 'post', `/v1/cases/${NOCASE}/deliver`, { method: 'email', file_ids: [NOFILE] }],
      [as.a1, 'post', `/v1/cases/${NOCASE}/confirmation-links`],
      [as.a1, 'post', `/v1/cases/${NOCASE}/confirmations`, { outcome: 'confirmed', rating: 5, evidence: 'call' }],
    ];
    for (const [c, m, p, body] of calls) {
      assertProblem(await c[m](p, body), 404, 'not_found');
    }
    assertProblem(await as.supA.get('/v1/cases/not-a-uuid/reviews'), 404, 'not_found');
    assertProblem(await as.supA.get(`/v1/cases/${NOCASE}/files/not-a-uuid/content`), 404, 'not_found');
  });

  test('roles: only supervisors decide reviews; hr and risk have no case routes; no token is 401', async () => {
    assertProblem(await as.a1.post(`/v1/cases/${NOCASE}/reviews`, { verdicts: [] }), 403, 'forbidden');
    assertProblem(await as.hr.get(`/v1/cases/${NOCASE}/reviews`), 403, 'forbidden');
    assertProblem(await as.auditor.post(`/v1/cases/${NOCASE}/deliver`, { method: 'email', file_ids: [NOFILE] }), 403, 'forbidden');
    assertProblem(await as.admin.post(`/v1/cases/${NOCASE}/confirmation-links`), 403, 'forbidden');
    assertUnauthorized(await publicCall('GET', `/v1/cases/${NOCASE}/files`), { invalid: false });
  });

  test('a token that is unknown, malformed or of the wrong length gets one answer: 404 without detail', async () => {
    const unknown = crypto.randomBytes(32).toString('base64url');
    const shapes = [];
    for (const t of [unknown, 'short', `${unknown}x`, '!'.repeat(43)]) {
      for (const [m, body] of [['GET'], ['POST', { outcome: 'confirmed', rating: 5 }]]) {
        const res = await publicCall(m, `/v1/confirmations/${encodeURIComponent(t)}`, body);
        const p = assertProblem(res, 404, 'not_found');
        shapes.push(JSON.stringify({ ...p, request_id: null, instance: null }));
      }
    }
    assert.equal(new Set(shapes).size, 1, `one answer shape: ${[...new Set(shapes)].join('\n')}`);
  });

  test('a malformed answer is 422 whatever the token (it tells nothing about the token)', async () => {
    const unknown = crypto.randomBytes(32).toString('base64url');
    const res = await publicCall('POST', `/v1/confirmations/${unknown}`, { outcome: 'maybe', rating: 9 });
    const p = assertProblem(res, 422, 'validation_failed');
    assert.deepEqual(p.errors.map((e) => e.field).sort(), ['outcome', 'rating']);
  });
});

describe('files of a case in progress (parts A and B)', () => {
  let caseId;
  const pdf = Buffer.from('%PDF-1.4\n審計報告 final\n');
  before(async () => { caseId = await inProgress(); });

  test('no round to decide and no delivery before a passed review: 409 with allowed actions', async () => {
    const p = assertProblem(await as.supA2.post(`/v1/cases/${caseId}/reviews`, { verdicts: [] }), 409, 'invalid_transition');
    assert.equal(p.state, 'in_progress');
    assertProblem(await as.a1.post(`/v1/cases/${caseId}/deliver`, { method: 'email', file_ids: [NOFILE] }), 409, 'invalid_transition');
    assertProblem(await as.a1.post(`/v1/cases/${caseId}/confirmation-links`), 409, 'invalid_transition');
  });

  test('electronic within the cap (SHA-256 by the database), paper by location; who and what', async () => {
    const f = ok(await as.a1.post(`/v1/cases/${caseId}/files`,
      { name: '審計報告.pdf', purpose: 'deliverable', media_type: 'application/pdf', content: pdf.toString('base64') }), 201);
    assert.equal(f.size, pdf.length);
    assert.equal(f.sha256, crypto.createHash('sha256').update(pdf).digest('hex'));
    const doc = ok(await as.supA2.post(`/v1/cases/${caseId}/files`,
      { name: '簽字合同', purpose: 'document', document_code: DOC_CODE, location: '檔案室 A 櫃 3 層' }), 201);
    assert.equal(doc.medium, 'paper');
    const stored = fileCount(caseId);
    const big = assertProblem(await as.a1.post(`/v1/cases/${caseId}/files`,
      { name: 'big.bin', purpose: 'evidence', media_type: 'application/octet-stream', content: Buffer.alloc(524289).toString('base64') }),
      413, 'payload_too_large');
    assert.equal(big.max_bytes, 524288);
    assertFieldError(await as.a1.post(`/v1/cases/${caseId}/files`,
      { name: 'x', purpose: 'evidence', media_type: 'text/plain', content: 'not base64!' }), 'content');
    assertFieldError(await as.a1.post(`/v1/cases/${caseId}/files`, { name: 'x', purpose: 'document', location: 'A-3' }), 'document_code');
    assertFieldError(await as.a1.post(`/v1/cases/${caseId}/files`,
      { name: 'x', purpose: 'evidence', location: 'A-3', content: 'eA==' }), 'content');
    assertFieldError(await as.a1.post(`/v1/cases/${caseId}/files`, { name: 'x', purpose: 'gift', location: 'A-3' }), 'purpose');
    assertProblem(await as.a2.post(`/v1/cases/${caseId}/files`, { name: 'x', purpose: 'evidence', location: 'A-3' }), 404, 'not_found');
    assertProblem(await as.supB.post(`/v1/cases/${caseId}/files`, { name: 'x', purpose: 'evidence', location: 'A-3' }), 404, 'not_found');
    assertProblem(await as.auditor.post(`/v1/cases/${caseId}/files`, { name: 'x', purpose: 'evidence', location: 'A-3' }), 403, 'forbidden');
    assert.equal(fileCount(caseId), stored, 'nothing stored by the refusals');

    const c = await as.auditor.get(`/v1/cases/${caseId}/files/${f.id}/content`);
    assert.equal(c.status, 200);
    assert.equal(c.headers['content-type'], 'application/pdf');
    assert.equal(c.headers['content-disposition'], "attachment; filename*=UTF-8''%E5%AF%A9%E8%A8%88%E5%A0%B1%E5%91%8A.pdf");
    assert.equal(c.text, pdf.toString('utf8'));
    assertProblem(await as.a1.get(`/v1/cases/${caseId}/files/${doc.id}/content`), 409, 'conflict');
    assertProblem(await as.supB.get(`/v1/cases/${caseId}/files/${f.id}/content`), 404, 'not_found');

    const page1 = ok(await as.a1.get(`/v1/cases/${caseId}/files?limit=1`));
    assert.equal(page1.items.length, 1);
    const page2 = ok(await as.a1.get(`/v1/cases/${caseId}/files?limit=1&cursor=${page1.next_cursor}`));
    assert.equal(page2.items.length, 1);
    assert.notEqual(page2.items[0].id, page1.items[0].id);
    assert.equal(page2.next_cursor, null);
    assert.deepEqual(ok(await as.a1.get(`/v1/cases/${caseId}/files?purpose=document`)).items.map((x) => x.id), [doc.id]);
    assertFieldError(await as.a1.get(`/v1/cases/${caseId}/files?cursor=nope`), 'cursor');
    const audit = ok(await as.auditor.get(`/v1/audit?table=cases.files&row_key=${f.id}`));
    assert.equal(audit.items.length, 1);
    assert.equal(audit.items[0].changes.content, '[redacted]', 'the content is not copied into the audit trail');
    assert.equal(audit.items[0].changes.sha256, `\\x${f.sha256}`, 'its SHA-256 is');
  });
});

commonHeadersTest();
