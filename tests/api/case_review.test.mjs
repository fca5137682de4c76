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

import { assertProblem, commonHeadersTest, freshDatabase, lit, pg, request } from './lib/harness.mjs';
import { customerKeys, startCustomerService } from './lib/customers.mjs';
import {
  DEPT, EMP, asOwnerAdmin, assertFieldError, assertUnauthorized, client, loadFixtures, newSigningKey, ok, ownToken,
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
  freshDatabase(DB);
  svc = await startCustomerService(DB, key, customerKeys());
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

/** A case under review, round 1 (part C: the required milestone recorded, submitted). */
async function caseUnderReview() {
  const id = await inProgress();
  const t = Date.now() + 2000;
  ok(await as.a1.post(`/v1/cases/${id}/work-records`, {
    milestone_code: 'fieldwork', content: '現場審計', result: '完成', hours: 6,
    started_at: new Date(t).toISOString(), finished_at: new Date(t + 1000).toISOString(),
  }), 201);
  ok(await as.a1.post(`/v1/cases/${id}/submit-review`, {}));
  return id;
}
/** Part C's resubmission after rectification: the next round. */
async function resubmit(id, note) {
  ok(await as.a1.post(`/v1/cases/${id}/submit-review`, { rectification_note: note }));
}
const caseStatus = (id) => pg(`SELECT status FROM cases.cases WHERE id = ${lit(id)}`, { db: DB });
const pub = (method, p, body) => request(svc, { method, path: p, body, headers: {} });
const fileCount = (id) => Number(pg(`SELECT count(*) FROM cases.files WHERE case_id = ${lit(id)}`, { db: DB }));

const publicCall = (method, p, body) =>
  request(svc, { method, path: p, body, headers: {} });

describe('before parts B and C: callers, unknown cases and tokens', () => {
  test('the policy parameters of the part are in force (0020)', async () => {
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

describe('review rounds, files, delivery and the customer\'s answer', () => {
  let caseId;
  let deliverable;
  let doc;
  const pdf = Buffer.from('%PDF-1.4\n審計報告 final\n');
  const all = (verdict, failing = []) => CRITERIA.map((c) => (failing.includes(c)
    ? { criterion: c, verdict: 'fail', comment: `${c} 不足` } : { criterion: c, verdict }));

  before(async () => {
    // staff.a1 leads, sup.a is a team member: sup.a may not review (team membership included)
    caseId = await caseUnderReview();
  });

  test('the open round is listed; only an independent supervisor of the department decides it (P3.1)', async () => {
    const list = ok(await as.a1.get(`/v1/cases/${caseId}/reviews`));
    assert.equal(list.items.length, 1);
    assert.equal(list.items[0].status, 'open');
    assert.equal(list.items[0].round, 1);
    assertProblem(await as.a1.post(`/v1/cases/${caseId}/reviews`, { verdicts: all('pass') }), 403, 'forbidden');
    assertProblem(await as.supB.post(`/v1/cases/${caseId}/reviews`, { verdicts: all('pass') }), 404, 'not_found');
    const p = assertProblem(await as.supA.post(`/v1/cases/${caseId}/reviews`, { verdicts: all('pass') }), 403, 'forbidden');
    assert.match(p.detail, /P3\.1/);
    assert.equal(ok(await as.a1.get(`/v1/cases/${caseId}/reviews`)).items[0].status, 'open', 'nothing decided');
  });

  test('every criterion exactly once, fail needs comments (P3.2, P3.3); nothing is written on 422', async () => {
    assertFieldError(await as.supA2.post(`/v1/cases/${caseId}/reviews`, { verdicts: all('pass').slice(1) }), 'verdicts');
    assertFieldError(await as.supA2.post(`/v1/cases/${caseId}/reviews`,
      { verdicts: [...all('pass'), { criterion: CRITERIA[0], verdict: 'pass' }] }), `verdicts[${CRITERIA.length}].criterion`);
    assertFieldError(await as.supA2.post(`/v1/cases/${caseId}/reviews`,
      { verdicts: all('pass').map((v, i) => (i ? v : { ...v, criterion: 'nope' })) }), 'verdicts[0].criterion');
    assertFieldError(await as.supA2.post(`/v1/cases/${caseId}/reviews`,
      { verdicts: all('pass').map((v, i) => (i ? v : { ...v, verdict: 'maybe' })) }), 'verdicts[0].verdict');
    assertFieldError(await as.supA2.post(`/v1/cases/${caseId}/reviews`,
      { verdicts: all('pass').map((v, i) => (i ? v : { criterion: v.criterion, verdict: 'fail' })) }), 'verdicts[0].comment');
    assertFieldError(await as.supA2.post(`/v1/cases/${caseId}/reviews`, { verdicts: all('pass', [CRITERIA[1]]) }), 'comment');
    assert.equal(ok(await as.a1.get(`/v1/cases/${caseId}/reviews`)).items[0].verdicts.length, 0, 'no verdict stored');
  });

  test('two rework rounds, then a pass (P3.3)', async () => {
    for (let round = 1; round <= 2; round++) {
      const r = ok(await as.supA2.post(`/v1/cases/${caseId}/reviews`,
        { verdicts: all('pass', [CRITERIA[round % CRITERIA.length]]), comment: `第 ${round} 輪: 請整改` }));
      assert.equal(r.status, 'failed');
      assert.equal(r.case_status, 'rectifying');
      assert.equal(r.reviewer_id, SUP_A2.id);
      const again = assertProblem(await as.supA2.post(`/v1/cases/${caseId}/reviews`, { verdicts: all('pass') }), 409, 'invalid_transition');
      assert.equal(again.state, 'rectifying');
      await resubmit(caseId, `第 ${round} 輪整改完成`);
    }
    const r = ok(await as.supA2.post(`/v1/cases/${caseId}/reviews`, { verdicts: all('pass') }));
    assert.equal(r.status, 'passed');
    assert.equal(r.case_status, 'passed');
    const rounds = ok(await as.auditor.get(`/v1/cases/${caseId}/reviews`)).items;
    assert.deepEqual(rounds.map((x) => x.status), ['failed', 'failed', 'passed']);
    assert.deepEqual(rounds.map((x) => x.rectification_note), [null, '第 1 輪整改完成', '第 2 輪整改完成']);
    assert.equal(rounds[0].verdicts.length, CRITERIA.length);
  });

  test('files: electronic within the cap (SHA-256 by the database), paper by location; who and what', async () => {
    deliverable = ok(await as.a1.post(`/v1/cases/${caseId}/files`,
      { name: '審計報告.pdf', purpose: 'deliverable', media_type: 'application/pdf', content: pdf.toString('base64') }), 201);
    assert.equal(deliverable.size, pdf.length);
    assert.equal(deliverable.sha256, crypto.createHash('sha256').update(pdf).digest('hex'));
    doc = ok(await as.supA.post(`/v1/cases/${caseId}/files`,
      { name: '簽字合同', purpose: 'document', document_code: DOC_CODE, location: '檔案室 A 櫃 3 層' }), 201);
    assert.equal(doc.medium, 'paper');
    const before = fileCount(caseId);
    const big = assertProblem(await as.a1.post(`/v1/cases/${caseId}/files`,
      { name: 'big.bin', purpose: 'evidence', media_type: 'application/octet-stream', content: Buffer.alloc(524289).toString('base64') }),
      413, 'payload_too_large');
    assert.equal(big.max_bytes, 524288);
    assertFieldError(await as.a1.post(`/v1/cases/${caseId}/files`,
      { name: 'x', purpose: 'evidence', media_type: 'text/plain', content: 'not base64!' }), 'content');
    assertFieldError(await as.a1.post(`/v1/cases/${caseId}/files`,
      { name: 'x', purpose: 'document', location: 'shelf' }), 'document_code');
    assertFieldError(await as.a1.post(`/v1/cases/${caseId}/files`,
      { name: 'x', purpose: 'evidence', location: 'shelf', content: 'eA==' }), 'content');
    assertProblem(await as.a2.post(`/v1/cases/${caseId}/files`, { name: 'x', purpose: 'evidence', location: 'shelf' }), 404, 'not_found');
    assertProblem(await as.supB.post(`/v1/cases/${caseId}/files`, { name: 'x', purpose: 'evidence', location: 'shelf' }), 404, 'not_found');
    assert.equal(fileCount(caseId), before, 'nothing stored');
    const c = await as.auditor.get(`/v1/cases/${caseId}/files/${deliverable.id}/content`);
    assert.equal(c.status, 200);
    assert.equal(c.headers['content-type'], 'application/pdf');
    assert.match(c.headers['content-disposition'], /^attachment; filename\*=UTF-8''%E5%AF%A9/);
    assert.equal(Buffer.from(c.text, 'utf8').equals(pdf), true);
    assertProblem(await as.a1.get(`/v1/cases/${caseId}/files/${doc.id}/content`), 409, 'conflict');
    const page1 = ok(await as.a1.get(`/v1/cases/${caseId}/files?limit=1`));
    assert.equal(page1.items.length, 1);
    const page2 = ok(await as.a1.get(`/v1/cases/${caseId}/files?limit=1&cursor=${page1.next_cursor}`));
    assert.equal(page2.items.length, 1);
    assert.notEqual(page2.items[0].id, page1.items[0].id);
    assertFieldError(await as.a1.get(`/v1/cases/${caseId}/files?cursor=nope`), 'cursor');
  });

  test('delivery needs a passed review and deliverables of the case (P3.4)', async () => {
    assertFieldError(await as.a1.post(`/v1/cases/${caseId}/deliver`, { method: 'email', file_ids: [doc.id] }), 'file_ids');
    assertFieldError(await as.a1.post(`/v1/cases/${caseId}/deliver`, { method: 'pigeon', file_ids: [deliverable.id] }), 'method');
    const d = ok(await as.a1.post(`/v1/cases/${caseId}/deliver`, { method: 'email', file_ids: [deliverable.id], note: '已發送' }), 201);
    assert.equal(d.case_status, 'delivered');
    const again = assertProblem(await as.a1.post(`/v1/cases/${caseId}/deliver`, { method: 'email', file_ids: [deliverable.id] }), 409, 'invalid_transition');
    assert.equal(again.state, 'delivered');
  });

  test('a one-time link: the customer sees no personal data, objects once; the link is then dead (P3.4)', async () => {
    assertProblem(await as.auditor.post(`/v1/cases/${caseId}/confirmation-links`), 403, 'forbidden');
    const first = ok(await as.a1.post(`/v1/cases/${caseId}/confirmation-links`), 201);
    const link = ok(await as.supA.post(`/v1/cases/${caseId}/confirmation-links`), 201);
    assert.match(link.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(link.url, `/v1/confirmations/${link.token}`);
    assertProblem(await pub('GET', first.url), 404, 'not_found'); // revoked by the second
    const v = ok(await pub('GET', link.url));
    assert.equal(v.case_reference, caseId);
    assert.deepEqual(v.deliverables, [{ name: '審計報告.pdf', medium: 'electronic', media_type: 'application/pdf',
      size: pdf.length, sha256: deliverable.sha256 }]);
    for (const secret of [CUSTOMER_NAME, NEED_TEXT, EMP.staffA1.id, EMP.staffA1.name]) assert.ok(!JSON.stringify(v).includes(secret), secret);
    assertFieldError(await pub('POST', link.url, { outcome: 'objected', rating: 2 }), 'comment');
    const a = ok(await pub('POST', link.url, { outcome: 'objected', rating: 2, comment: '第三節數據與合同不符' }), 201);
    assert.equal(a.outcome, 'objected');
    assertProblem(await pub('POST', link.url, { outcome: 'confirmed', rating: 5 }), 404, 'not_found');
    assertProblem(await pub('GET', link.url), 404, 'not_found');
    assert.equal(caseStatus(caseId), 'rectifying', 'an objection reopens rectification');
    assert.equal(pg(`SELECT actor_roles::text || coalesce(actor_id::text, '-') FROM fsm.log WHERE entity_id = ${lit(caseId)} ORDER BY id DESC LIMIT 1`, { db: DB }), '{customer}-');
  });

  test('after the objection: review, deliver again; staff record the confirmation with evidence', async () => {
    await resubmit(caseId, '已按客戶意見更正');
    ok(await as.supA2.post(`/v1/cases/${caseId}/reviews`, { verdicts: all('pass') }));
    const ev = ok(await as.a1.post(`/v1/cases/${caseId}/files`,
      { name: '確認函掃描.png', purpose: 'evidence', media_type: 'image/png', content: Buffer.from('png').toString('base64') }), 201);
    ok(await as.a1.post(`/v1/cases/${caseId}/deliver`, { method: 'in_person', file_ids: [deliverable.id] }), 201);
    assertFieldError(await as.a1.post(`/v1/cases/${caseId}/confirmations`, { outcome: 'confirmed', rating: 4 }), 'evidence');
    assertFieldError(await as.a1.post(`/v1/cases/${caseId}/confirmations`, { outcome: 'confirmed', rating: 6, evidence: 'x' }), 'rating');
    assertProblem(await as.a2.post(`/v1/cases/${caseId}/confirmations`, { outcome: 'confirmed', rating: 4, evidence: 'x' }), 404, 'not_found');
    const c = ok(await as.a1.post(`/v1/cases/${caseId}/confirmations`,
      { outcome: 'confirmed', rating: 4, evidence: '客戶簽回確認函', evidence_file_id: ev.id }), 201);
    assert.equal(c.case_status, 'confirmed');
    assert.equal(c.via, 'recorded');
    assertProblem(await as.a1.post(`/v1/cases/${caseId}/confirmation-links`), 409, 'invalid_transition');
    const audit = ok(await as.auditor.get(`/v1/audit?table=cases.confirmations&row_key=${c.id}`));
    assert.equal(audit.items.length, 1);
  });
});

commonHeadersTest();
