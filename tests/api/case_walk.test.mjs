// Module P, issue 11 "Done when": ONE case walked through every state of the machine `case`
// (sql/migrations/0018_cases.sql), with two rework rounds and one customer objection, over HTTP
// only (no row written behind the rules' back; the one exception is the expiry of a link, which
// stands for two weeks passing, see the link test). At each step: the wrong role gets 403, the
// wrong person 403 (or 404 when the rules hide the case from them), the wrong state 409
// invalid_transition with allowed_actions; at the end the transitions, the audit trail, the
// archive and its verification, and that nothing of the archived case changes any more.
//
// The cast (department A, tests/api/lib/identity.mjs; sup.a2 made here by addSecondSupervisor):
//   staff.a2  receives the request and assesses it (the receiver: sees the case, never assigned)
//   sup.a     fills in the intake form (the preparer: may not approve it), answers staff.a1's
//             escalation, and reviews every round (never assigned, wrote no work record)
//   sup.a2    returns, then approves the form, assigns the team and works on it as a member
//             (an assignee and a record author: may not review)
//   staff.a1  leads the work, submits for review, delivers, archives
//   staff.b1, sup.b (department B) do not see the case at all: 404
//   auditor   reads everything, writes nothing: 403
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, describe, test } from 'node:test';

import { commonHeadersTest, freshDatabase, lit, pg, request } from './lib/harness.mjs';
import { addSecondSupervisor, asClient, caseRequest, createBusinessType, newCustomer } from './lib/cases.mjs';
import { customerKeys, startCustomerService } from './lib/customers.mjs';
import { EMP, loadFixtures, newSigningKey, ok } from './lib/identity.mjs';

const DB = 'tx_api_case_walk';
const CRITERIA = ['accuracy', 'compliance', 'completeness'];

let key;
let svc;
let supA2;
const as = {};
const S = {}; // the walk's state, test to test

const iso = (msFromNow = 0) => new Date(Date.now() + msFromNow).toISOString();
const path = (p = '') => `/v1/cases/${S.id}${p}`;
const pub = (method, p, body) => request(svc, { method, path: p, body, headers: {} });
const dbStatus = () => pg(`SELECT status FROM cases.cases WHERE id = ${lit(S.id)}`, { db: DB });

/**
 * A refusal: status, problem+json, code; returns the problem. Unlike the harness's assertProblem
 * it accepts the extension members of module P (missing_milestones, ...).
 */
function refused(res, status, code, what = '') {
  assert.equal(res.status, status, `${what} ${res.method} ${res.path}: ${res.text}`);
  assert.match(res.headers['content-type'] || '', /^application\/problem\+json\b/, res.text);
  assert.equal(res.json.code, code, `${what} ${res.method} ${res.path}: ${res.text}`);
  return res.json;
}
const forbidden = (res, what) => refused(res, 403, 'forbidden', what);
const notFound = (res, what) => refused(res, 404, 'not_found', what);
/** 409 invalid_transition naming the state it was refused in and what that state allows. */
function wrongState(res, state, allowed, what) {
  const p = refused(res, 409, 'invalid_transition', what);
  assert.equal(p.state, state, res.text);
  assert.ok(Array.isArray(p.allowed_actions), `allowed_actions in ${res.text}`);
  if (allowed) assert.deepEqual([...p.allowed_actions].sort(), [...allowed].sort(), res.text);
  return p;
}
/** The case as the auditor reads it: status and the actions the machine offers from there. */
async function expectStatus(status) {
  const c = ok(await as.auditor.get(path()));
  assert.equal(c.status, status);
  assert.equal(dbStatus(), status);
  return c;
}
const queue = async (c, name) => ok(await c.get(`/v1/me/queues/${name}?limit=200`)).items.map((i) => i.case_id);

// A work record of milestone `code`, work done from now to one minute ahead (within the service's
// five minutes of clock skew), after the case started.
const work = (code, over = {}) => ({
  milestone_code: code, content: `工作 ${code}`, result: '已完成', started_at: iso(0), finished_at: iso(60e3),
  hours: 1.5, ...over,
});
const verdicts = (failing = []) => CRITERIA.map((c) => (failing.includes(c)
  ? { criterion: c, verdict: 'fail', comment: `${c} 不足` } : { criterion: c, verdict: 'pass' }));

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startCustomerService(DB, key, customerKeys());
  loadFixtures(DB);
  supA2 = addSecondSupervisor(DB);
  Object.assign(as, {
    admin: asClient(svc, key, EMP.admin), hr: asClient(svc, key, EMP.hr), auditor: asClient(svc, key, EMP.auditor),
    a1: asClient(svc, key, EMP.staffA1), a2: asClient(svc, key, EMP.staffA2), b1: asClient(svc, key, EMP.staffB1),
    supA: asClient(svc, key, EMP.supA), supA2: asClient(svc, key, supA2), supB: asClient(svc, key, EMP.supB),
  });
  // two required archive documents: one will be on paper (a location), one electronic
  S.type = await createBusinessType(as.admin, {
    code: 'walk-audit', name: '年度審計',
    documents: [{ code: 'contract', name: '簽字合同' }, { code: 'report', name: '審計報告' }],
  });
  S.customer = (await newCustomer(as.a2, '林志遠')).id;
  // the audit trail of the walk starts here (a fresh database: only this file writes to it)
  S.start = pg("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')", { db: DB });
});

describe('one case through every state (issue 11, P1.1-P4.3)', () => {
  test('received (P1.1): staff of a department; the auditor and hr may not', async () => {
    forbidden(await as.auditor.post('/v1/cases', caseRequest(S.customer)), 'auditor receiving');
    forbidden(await as.hr.post('/v1/cases', caseRequest(S.customer)), 'hr receiving');
    const c = ok(await as.a2.post('/v1/cases', caseRequest(S.customer)), 201);
    S.id = c.id;
    assert.equal(c.status, 'received');
    assert.ok(c.allowed_actions.includes('assess_in_scope'), JSON.stringify(c.allowed_actions));
    // not on the intake side's path yet: the form and the decisions come later
    wrongState(await as.a2.post(path('/submit')), 'received', ['assess_in_scope', 'assess_out_of_scope', 'cancel'], 'submit before assessment');
    wrongState(await as.supA2.post(path('/approve'), {}), 'received', ['assess_in_scope', 'assess_out_of_scope', 'cancel'], 'approve a request');
    notFound(await as.a1.get(path()), 'staff of A not involved');
    notFound(await as.b1.get(path()), 'staff of department B');
    notFound(await as.supB.get(path()), 'supervisor of department B');
  });

  test('intake (P1.2, P1.3): assessed in scope by the receiver, the form filled in by sup.a', async () => {
    forbidden(await as.auditor.post(path('/assess'), { in_scope: true, business_type_id: S.type.id }), 'auditor assessing');
    notFound(await as.b1.post(path('/assess'), { in_scope: true, business_type_id: S.type.id }), 'department B assessing');
    const a = ok(await as.a2.post(path('/assess'), { in_scope: true, business_type_id: S.type.id }));
    assert.equal(a.status, 'intake');
    assert.equal(a.type_version_id, S.type.current_version_id);
    wrongState(await as.a2.post(path('/assess'), { in_scope: true, business_type_id: S.type.id }), 'intake', ['cancel', 'submit'],
      'assessing twice');
    forbidden(await as.auditor.put(path('/intake'), { requirements: 'x' }, { headers: { 'If-Match': `"${a.version}"` } }),
      'auditor filling in the form');
    const f = ok(await as.supA.put(path('/intake'), { requirements: '年度財務報表審計，出具審計報告' },
      { headers: { 'If-Match': `"${a.version}"` } }));
    assert.equal(f.status, 'intake');
  });

  test('submitted (P1.4): the approval queue of the independent supervisor, not of the preparer', async () => {
    forbidden(await as.auditor.post(path('/submit')), 'auditor submitting');
    const s = ok(await as.supA.post(path('/submit')));
    assert.equal(s.status, 'submitted');
    assert.deepEqual([...s.allowed_actions].sort(), ['approve', 'cancel', 'reject', 'return']);
    assert.ok((await queue(as.supA2, 'approvals')).includes(S.id), 'sup.a2 has it to approve');
    assert.ok(!(await queue(as.supA, 'approvals')).includes(S.id), 'not the preparer');
    assert.ok(!(await queue(as.supB, 'approvals')).includes(S.id), 'not department B');
    forbidden(await as.a2.get('/v1/me/queues/approvals'), 'a staff has no approval queue');
    wrongState(await as.supA.post(path('/submit')), 'submitted', ['approve', 'cancel', 'reject', 'return'], 'submit twice');
  });

  test('returned: staff approving 403, the preparer approving 403 (P1.4), department B 404', async () => {
    forbidden(await as.a2.post(path('/approve'), {}), 'staff approving');
    forbidden(await as.auditor.post(path('/approve'), {}), 'auditor approving');
    const p = forbidden(await as.supA.post(path('/approve'), {}), 'the preparer approving');
    assert.match(p.detail, /P1\.4|prepar/i, p.detail);
    forbidden(await as.supA.post(path('/return'), { reason: 'x' }), 'the preparer returning');
    notFound(await as.supB.post(path('/approve'), {}), 'supervisor of department B');
    const r = ok(await as.supA2.post(path('/return'), { reason: '請補充報告用途' }));
    assert.equal(r.status, 'returned');
    wrongState(await as.supA2.post(path('/approve'), {}), 'returned', ['cancel', 'submit'], 'approving a returned form');
    assert.ok(!(await queue(as.supA2, 'approvals')).includes(S.id), 'out of the queue once decided');
  });

  test('submitted again, approved by sup.a2 (not the preparer)', async () => {
    const c = ok(await as.auditor.get(path()));
    ok(await as.supA.put(path('/intake'), { requirements: '年度財務報表審計，出具審計報告，供銀行貸款使用' },
      { headers: { 'If-Match': `"${c.version}"` } }));
    ok(await as.supA.post(path('/submit')));
    const a = ok(await as.supA2.post(path('/approve'), { comment: '同意受理' }));
    assert.equal(a.status, 'approved');
    assert.equal(a.approved_by, supA2.id);
    wrongState(await as.supA2.post(path('/approve'), {}), 'approved', ['cancel', 'start'], 'approving twice');
    wrongState(await as.supA.post(path('/submit')), 'approved', ['cancel', 'start'], 'submitting an approved case');
  });

  test('in_progress (P2.1): assigned by a supervisor of the department: lead staff.a1, member sup.a2', async () => {
    const team = { lead: EMP.staffA1.id, members: [supA2.id] };
    forbidden(await as.a2.post(path('/assignments'), team), 'staff assigning');
    forbidden(await as.auditor.post(path('/assignments'), team), 'auditor assigning');
    notFound(await as.supB.post(path('/assignments'), team), 'supervisor of department B');
    const c = ok(await as.supA2.post(path('/assignments'), team));
    assert.equal(c.status, 'in_progress');
    assert.ok((await queue(as.a1, 'cases')).includes(S.id), 'the lead\'s queue');
    assert.ok((await queue(as.supA2, 'cases')).includes(S.id), 'the member\'s queue');
    assert.ok(!(await queue(as.a2, 'cases')).includes(S.id), 'not the receiver\'s');
    wrongState(await as.supA.post(path('/reviews'), { verdicts: verdicts() }), 'in_progress', ['cancel', 'submit_review'], 'review before submission');
    wrongState(await as.a1.post(path('/deliver'), { method: 'email', file_ids: [crypto.randomUUID()] }), 'in_progress', ['cancel', 'submit_review'],
      'deliver before review');
    wrongState(await as.a1.post(path('/archive')), 'in_progress', ['cancel', 'submit_review'], 'archive in progress');
  });

  test('work records (P2.2, P2.4): current assignees only; one correction', async () => {
    forbidden(await as.a2.post(path('/work-records'), work('gather')), 'the receiver, not assigned');
    forbidden(await as.supA.post(path('/work-records'), work('gather')), 'a supervisor not assigned');
    forbidden(await as.auditor.post(path('/work-records'), work('gather')), 'auditor');
    notFound(await as.b1.post(path('/work-records'), work('gather')), 'department B');
    S.gather = ok(await as.a1.post(path('/work-records'), work('gather')), 201);
    assert.equal(S.gather.author_id, EMP.staffA1.id);
    // not all required milestones yet: the guard names what is missing
    const p = wrongState(await as.a1.post(path('/submit-review'), {}), 'in_progress', ['cancel', 'submit_review'], 'submit-review too early');
    assert.equal(p.guard, 'cases.required_milestones_recorded');
    assert.deepEqual(p.missing_milestones, ['prepare']);
    S.gatherFix = ok(await as.a1.post(path('/work-records'),
      work('gather', { corrects_id: S.gather.id, result: '更正:補齊一月憑證' })), 201);
    assert.equal(S.gatherFix.corrects_id, S.gather.id);
    S.prepare = ok(await as.supA2.post(path('/work-records'), work('prepare')), 201);
    assert.equal(S.prepare.author_id, supA2.id);
    const list = ok(await as.auditor.get(path('/work-records'))).items;
    assert.deepEqual(list.filter((r) => r.in_force).map((r) => r.id).sort(), [S.gatherFix.id, S.prepare.id].sort());
  });

  test('an escalation (P2.3): raised by an assignee to their supervisor, resolved by that supervisor only', async () => {
    forbidden(await as.a2.post(path('/escalations'), { problem: 'x' }), 'the receiver, not assigned');
    forbidden(await as.auditor.post(path('/escalations'), { problem: 'x' }), 'auditor');
    const e = ok(await as.a1.post(path('/escalations'), { problem: '憑證與銀行流水不符' }), 201);
    assert.equal(e.addressed_to, EMP.supA.id);
    assert.equal(e.status, 'open');
    S.escalation = e.id;
    const inbox = ok(await as.supA.get('/v1/me/queues/escalations?limit=200')).items;
    assert.ok(inbox.some((x) => x.escalation_id === e.id && x.case_id === S.id), 'in the addressee\'s queue');
    assert.ok(!ok(await as.supA2.get('/v1/me/queues/escalations?limit=200')).items.some((x) => x.escalation_id === e.id));
    forbidden(await as.a1.post(`/v1/escalations/${e.id}/resolve`, { solution: 'x' }), 'the raiser resolving');
    forbidden(await as.supA2.post(`/v1/escalations/${e.id}/resolve`, { solution: 'x' }), 'another supervisor resolving');
    forbidden(await as.auditor.post(`/v1/escalations/${e.id}/resolve`, { solution: 'x' }), 'auditor resolving');
    const r = ok(await as.supA.post(`/v1/escalations/${e.id}/resolve`, { solution: '以銀行流水為准' }));
    assert.equal(r.status, 'resolved');
    assert.equal(r.resolved_by, EMP.supA.id);
    refused(await as.supA.post(`/v1/escalations/${e.id}/resolve`, { solution: 'again' }), 409, 'conflict', 'resolving twice');
    assert.ok(!ok(await as.supA.get('/v1/me/queues/escalations?limit=200')).items.some((x) => x.escalation_id === e.id),
      'out of the queue once resolved');
  });

  test('under_review (P3.1): the reviews queue of the independent supervisor only', async () => {
    forbidden(await as.a2.post(path('/submit-review'), {}), 'the receiver submitting');
    forbidden(await as.auditor.post(path('/submit-review'), {}), 'auditor submitting');
    const c = ok(await as.a1.post(path('/submit-review'), {}));
    assert.equal(c.status, 'under_review');
    assert.equal(c.review_round, 1);
    assert.ok((await queue(as.supA, 'reviews')).includes(S.id), 'sup.a reviews it');
    assert.ok(!(await queue(as.supA2, 'reviews')).includes(S.id), 'not sup.a2: assigned and an author');
    assert.ok(!(await queue(as.supB, 'reviews')).includes(S.id), 'not department B');
    wrongState(await as.a1.post(path('/submit-review'), {}), 'under_review', ['cancel'], 'submit twice');
    wrongState(await as.a1.post(path('/work-records'), work('followup')), 'under_review', ['cancel'], 'work under review');
  });

  test('rectifying, round 1 and 2 (P3.2, P3.3): assignees, authors and staff may not review', async () => {
    for (let round = 1; round <= 2; round++) {
      forbidden(await as.a1.post(path('/reviews'), { verdicts: verdicts() }), 'staff (the lead) reviewing');
      forbidden(await as.auditor.post(path('/reviews'), { verdicts: verdicts() }), 'auditor reviewing');
      const p = forbidden(await as.supA2.post(path('/reviews'), { verdicts: verdicts() }), 'an assignee and author reviewing');
      assert.match(p.detail, /P3\.1/);
      notFound(await as.supB.post(path('/reviews'), { verdicts: verdicts() }), 'department B reviewing');
      const r = ok(await as.supA.post(path('/reviews'),
        { verdicts: verdicts([CRITERIA[round]]), comment: `第 ${round} 輪:請整改` }));
      assert.equal(r.status, 'failed');
      assert.equal(r.case_status, 'rectifying');
      assert.equal(r.round, round);
      wrongState(await as.supA.post(path('/reviews'), { verdicts: verdicts() }), 'rectifying', ['cancel', 'resubmit'], 'deciding again');
      assert.ok(!(await queue(as.supA, 'reviews')).includes(S.id), 'out of the reviews queue while rectifying');
      // the rework: a correction of the milestone that failed, then the resubmission with a note
      refused(await as.a1.post(path('/submit-review'), {}), 422, 'validation_failed', 'resubmit without a note');
      const inForce = ok(await as.a1.get(path('/work-records'))).items.find((w) => w.milestone_code === 'prepare' && w.in_force);
      ok(await as.supA2.post(path('/work-records'), work('prepare', { corrects_id: inForce.id, result: `第 ${round} 輪更正` })), 201);
      forbidden(await as.a2.post(path('/submit-review'), { rectification_note: 'x' }), 'the receiver resubmitting');
      const c = ok(await as.a1.post(path('/submit-review'), { rectification_note: `第 ${round} 輪整改完成` }));
      assert.equal(c.status, 'under_review');
      assert.equal(c.review_round, round + 1);
    }
  });

  test('passed in round 3', async () => {
    const r = ok(await as.supA.post(path('/reviews'), { verdicts: verdicts(), comment: '通過' }));
    assert.equal(r.status, 'passed');
    assert.equal(r.case_status, 'passed');
    const rounds = ok(await as.auditor.get(path('/reviews'))).items;
    assert.deepEqual(rounds.map((x) => [x.round, x.status]), [[1, 'failed'], [2, 'failed'], [3, 'passed']]);
    assert.deepEqual(rounds.map((x) => x.rectification_note), [null, '第 1 輪整改完成', '第 2 輪整改完成']);
    assert.ok(rounds.every((x) => x.reviewer_id === EMP.supA.id));
    wrongState(await as.a1.post(path('/submit-review'), { rectification_note: 'x' }), 'passed', ['cancel', 'deliver'], 'resubmit a passed case');
    wrongState(await as.a1.post(path('/confirmation-links')), 'passed', ['cancel', 'deliver'], 'a link before delivery');
  });

  test('files (P3.4, P4.1): a deliverable and the required documents, one on paper', async () => {
    S.pdf = Buffer.from('%PDF-1.4\n審計報告 final\n');
    const deliverable = { name: '審計報告.pdf', purpose: 'deliverable', media_type: 'application/pdf', content: S.pdf.toString('base64') };
    forbidden(await as.a2.post(path('/files'), deliverable), 'the receiver adding a file');
    forbidden(await as.auditor.post(path('/files'), deliverable), 'auditor adding a file');
    notFound(await as.b1.post(path('/files'), deliverable), 'department B');
    S.deliverable = ok(await as.a1.post(path('/files'), deliverable), 201);
    assert.equal(S.deliverable.sha256, crypto.createHash('sha256').update(S.pdf).digest('hex'));
    S.paper = ok(await as.supA2.post(path('/files'),
      { name: '簽字合同原件', purpose: 'document', document_code: 'contract', location: '檔案室 A 櫃 3 層' }), 201);
    assert.equal(S.paper.medium, 'paper');
    S.report = ok(await as.a1.post(path('/files'), { name: '審計報告副本.pdf', purpose: 'document', document_code: 'report',
      media_type: 'application/pdf', content: S.pdf.toString('base64') }), 201);
    const c = await as.auditor.get(path(`/files/${S.deliverable.id}/content`));
    assert.equal(c.status, 200);
    assert.equal(Buffer.from(c.text, 'utf8').equals(S.pdf), true);
  });

  test('delivered (P3.4): by an assignee; the receiver and the auditor may not', async () => {
    const body = { method: 'email', file_ids: [S.deliverable.id], note: '已發送' };
    forbidden(await as.a2.post(path('/deliver'), body), 'the receiver delivering');
    forbidden(await as.auditor.post(path('/deliver'), body), 'auditor delivering');
    notFound(await as.supB.post(path('/deliver'), body), 'department B');
    const d = ok(await as.a1.post(path('/deliver'), body), 201);
    assert.equal(d.case_status, 'delivered');
    wrongState(await as.a1.post(path('/deliver'), body), 'delivered', ['confirm', 'object'], 'delivering twice');
    wrongState(await as.a1.post(path('/archive')), 'delivered', ['confirm', 'object'], 'archiving before confirmation');
  });

  test('the customer objects through a one-time link: back to rectifying; used, revoked, expired links are 404', async () => {
    forbidden(await as.a2.post(path('/confirmation-links')), 'the receiver issuing a link');
    forbidden(await as.auditor.post(path('/confirmation-links')), 'auditor issuing a link');
    const revoked = ok(await as.a1.post(path('/confirmation-links')), 201);
    const expired = ok(await as.supA.post(path('/confirmation-links')), 201);
    notFound(await pub('GET', revoked.url), 'a revoked link');
    // Two weeks pass for this link (confirmation_link_days): its expiry moved into the past by the
    // superuser, the links' own trigger (which keeps expires_at fixed) skipped for the statement.
    pg(`SET session_replication_role = replica;
        UPDATE cases.confirmation_links SET expires_at = now() - interval '1 second'
         WHERE case_id = ${lit(S.id)} AND used_at IS NULL AND revoked_at IS NULL;`, { db: DB });
    notFound(await pub('GET', expired.url), 'an expired link');
    notFound(await pub('POST', expired.url, { outcome: 'confirmed', rating: 5 }), 'answering an expired link');
    S.link1 = ok(await as.a1.post(path('/confirmation-links')), 201);
    const v = ok(await pub('GET', S.link1.url));
    assert.equal(v.case_reference, S.id);
    assert.ok(!JSON.stringify(v).includes('林志遠'), 'no customer data in the public view');
    refused(await pub('POST', S.link1.url, { outcome: 'objected', rating: 2 }), 422, 'validation_failed', 'objection without comment');
    const a = ok(await pub('POST', S.link1.url, { outcome: 'objected', rating: 2, comment: '第三節數據與合同不符' }), 201);
    assert.equal(a.outcome, 'objected');
    await expectStatus('rectifying');
    notFound(await pub('GET', S.link1.url), 'a used link');
    notFound(await pub('POST', S.link1.url, { outcome: 'confirmed', rating: 5 }), 'answering a used link');
    wrongState(await as.a1.post(path('/confirmation-links')), 'rectifying', ['cancel', 'resubmit'], 'a link while rectifying');
    wrongState(await as.a1.post(path('/deliver'), { method: 'email', file_ids: [S.deliverable.id] }), 'rectifying', ['cancel', 'resubmit'],
      'delivering again without review');
  });

  test('rework after the objection, review round 4 passes, delivered again', async () => {
    ok(await as.a1.post(path('/work-records'), work('followup', { content: '按客戶意見核對第三節' })), 201);
    const c = ok(await as.a1.post(path('/submit-review'), { rectification_note: '已按客戶意見更正第三節' }));
    assert.equal(c.review_round, 4);
    assert.ok((await queue(as.supA, 'reviews')).includes(S.id));
    forbidden(await as.supA2.post(path('/reviews'), { verdicts: verdicts() }), 'still not independent');
    ok(await as.supA.post(path('/reviews'), { verdicts: verdicts() }));
    await expectStatus('passed');
    const d = ok(await as.a1.post(path('/deliver'), { method: 'in_person', file_ids: [S.deliverable.id] }), 201);
    assert.equal(d.case_status, 'delivered');
  });

  test('confirmed (P3.4): the customer confirms with a rating through a new link', async () => {
    notFound(await pub('GET', S.link1.url), 'the first link stays used');
    S.link2 = ok(await as.a1.post(path('/confirmation-links')), 201);
    refused(await pub('POST', S.link2.url, { outcome: 'confirmed', rating: 6 }), 422, 'validation_failed', 'rating 6');
    const a = ok(await pub('POST', S.link2.url, { outcome: 'confirmed', rating: 5, comment: '滿意' }), 201);
    assert.equal(a.outcome, 'confirmed');
    assert.equal(a.rating, 5);
    await expectStatus('confirmed');
    notFound(await pub('GET', S.link2.url), 'a used link');
    wrongState(await as.a1.post(path('/confirmations'), { outcome: 'confirmed', rating: 5, evidence: '電話' }), 'confirmed',
      ['archive'], 'recording a second answer');
    wrongState(await as.supA.post(path('/reviews'), { verdicts: verdicts() }), 'confirmed', ['archive'], 'review after confirmation');
  });

  test('archived (P4.1, P4.2): by the lead; the receiver 403, the auditor 403, department B 404', async () => {
    forbidden(await as.a2.post(path('/archive')), 'the receiver archiving');
    forbidden(await as.auditor.post(path('/archive')), 'auditor archiving');
    notFound(await as.b1.post(path('/archive')), 'department B');
    const a = ok(await as.a1.post(path('/archive')));
    const year = pg('SELECT cases.archive_year(now())', { db: DB });
    assert.match(a.archive_number, new RegExp(`^TX-${year}-\\d{6}$`));
    assert.equal(a.archive_number, `TX-${year}-000001`, 'the first archive of the year in this database');
    assert.equal(a.case_status, 'archived');
    S.number = a.archive_number;
    const c = await expectStatus('archived');
    assert.deepEqual(c.allowed_actions, []);
    const paper = a.manifest.parts.files.content.find((f) => f.medium === 'paper');
    assert.equal(paper.location, '檔案室 A 櫃 3 層');
  });

  test('the archive entry and its verification (P4.3)', async () => {
    const e = ok(await as.auditor.get(`/v1/archive/${S.number}`));
    assert.equal(e.case_id, S.id);
    assert.deepEqual(ok(await as.a1.get(`/v1/archive/${S.number}`)), e);
    notFound(await as.b1.get(`/v1/archive/${S.number}`), 'department B reading the entry');
    forbidden(await as.hr.get(`/v1/archive/${S.number}`), 'hr reading the archive');
    const v = ok(await as.auditor.get(`/v1/archive/${S.number}/verify`));
    assert.equal(v.ok, true, JSON.stringify(v));
    assert.deepEqual(v.mismatches, []);
  });

  test('archived is final: every further write answers 409 (case_archived or the state\'s invalid_transition)', async () => {
    const writes = [
      [as.a1, 'post', '/work-records', work('followup')],
      [as.a1, 'post', '/escalations', { problem: '歸檔後' }],
      [as.a1, 'post', '/submit-review', { rectification_note: 'x' }],
      [as.supA, 'post', '/reviews', { verdicts: verdicts() }],
      [as.a1, 'post', '/files', { name: 'x', purpose: 'evidence', location: '櫃 9' }],
      [as.a1, 'post', '/deliver', { method: 'email', file_ids: [S.deliverable.id] }],
      [as.a1, 'post', '/confirmation-links'],
      [as.a1, 'post', '/confirmations', { outcome: 'confirmed', rating: 5, evidence: '電話' }],
      [as.a1, 'post', '/archive'],
      [as.a1, 'post', '/cancel', { reason: '客戶撤回' }],
      [as.supA, 'post', '/assignments', { lead: EMP.staffA2.id }],
      [as.supA2, 'post', '/approve', {}],
      [as.supA, 'post', '/submit'],
      [as.supA, 'post', '/assess', { in_scope: true, business_type_id: S.type.id }],
    ];
    const before = pg('SELECT count(*) FROM audit.log', { db: DB });
    for (const [c, m, p, body] of writes) {
      const res = await c[m](path(p), body);
      assert.equal(res.status, 409, `${p}: ${res.text}`);
      assert.ok(['case_archived', 'invalid_transition'].includes(res.json.code), `${p}: ${res.text}`);
      if (res.json.code === 'invalid_transition') {
        assert.equal(res.json.state, 'archived', `${p}: ${res.text}`);
        assert.deepEqual(res.json.allowed_actions, [], `${p}: ${res.text}`);
      }
    }
    const put = await as.supA.put(path('/intake'), { requirements: 'x' },
      { headers: { 'If-Match': `"${ok(await as.auditor.get(path())).version}"` } });
    assert.equal(put.status, 409, put.text);
    notFound(await pub('POST', S.link2.url, { outcome: 'objected', rating: 1, comment: 'x' }), 'the used link after archiving');
    assert.equal(pg('SELECT count(*) FROM audit.log', { db: DB }), before, 'nothing written by the refusals');
    assert.equal(ok(await as.auditor.get(`/v1/archive/${S.number}/verify`)).ok, true);
  });

  test('GET /v1/cases/{id}/transitions: every move in order, with its actor', async () => {
    const moves = ok(await as.auditor.get(path('/transitions?limit=200')));
    assert.equal(moves.next_cursor, null);
    const C = null; // the customer: a move without an employee
    const want = [
      ['received', 'assess_in_scope', 'intake', EMP.staffA2.id],
      ['intake', 'submit', 'submitted', EMP.supA.id],
      ['submitted', 'return', 'returned', supA2.id],
      ['returned', 'submit', 'submitted', EMP.supA.id],
      ['submitted', 'approve', 'approved', supA2.id],
      ['approved', 'start', 'in_progress', supA2.id],
      ['in_progress', 'submit_review', 'under_review', EMP.staffA1.id],
      ['under_review', 'fail', 'rectifying', EMP.supA.id],
      ['rectifying', 'resubmit', 'under_review', EMP.staffA1.id],
      ['under_review', 'fail', 'rectifying', EMP.supA.id],
      ['rectifying', 'resubmit', 'under_review', EMP.staffA1.id],
      ['under_review', 'pass', 'passed', EMP.supA.id],
      ['passed', 'deliver', 'delivered', EMP.staffA1.id],
      ['delivered', 'object', 'rectifying', C],
      ['rectifying', 'resubmit', 'under_review', EMP.staffA1.id],
      ['under_review', 'pass', 'passed', EMP.supA.id],
      ['passed', 'deliver', 'delivered', EMP.staffA1.id],
      ['delivered', 'confirm', 'confirmed', C],
      ['confirmed', 'archive', 'archived', EMP.staffA1.id],
    ];
    assert.deepEqual(moves.items.map((m) => [m.from_state, m.action, m.to_state, m.actor_id]), want);
    const ids = moves.items.map((m) => m.id);
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y), 'oldest first');
    assert.equal(moves.items[2].reason, '請補充報告用途', 'the return keeps its reason');
    // staff who see the case read its history too; department B does not
    assert.equal(ok(await as.a2.get(path('/transitions?limit=200'))).items.length, want.length);
    notFound(await as.b1.get(path('/transitions')), 'department B');
  });

  test('the audit trail (G3): the rows of every table of the case, under the right actors', async () => {
    forbidden(await as.a1.get('/v1/audit'), 'staff reading the audit trail');
    forbidden(await as.supA.get('/v1/audit'), 'a supervisor reading the audit trail');
    /** Every entry of `table` since the walk started, all pages. */
    const entries = async (table) => {
      const out = [];
      let cursor = null;
      do {
        const q = new URLSearchParams({ table, from: S.start, limit: '200', ...(cursor ? { cursor } : {}) });
        const page = ok(await as.auditor.get(`/v1/audit?${q}`));
        out.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor);
      return out;
    };
    /** The entries of the case's rows in `table`: inserted naming the case, and later changes of those rows. */
    const ofCase = async (table) => {
      const all = await entries(table);
      const rows = new Set(all.filter((e) => e.op === 'INSERT' && e.changes.case_id === S.id).map((e) => e.row_key));
      return all.filter((e) => rows.has(e.row_key)).reverse(); // oldest first
    };
    const inserts = (es) => es.filter((e) => e.op === 'INSERT');
    const actors = (es) => es.map((e) => e.actor_id);

    const caseRows = (await entries('cases.cases')).filter((e) => e.row_key === S.id).reverse();
    assert.equal(caseRows[0].op, 'INSERT');
    assert.equal(caseRows[0].actor_id, EMP.staffA2.id, 'received by staff.a2');
    const changers = new Set(actors(caseRows.slice(1)));
    for (const who of [EMP.staffA2.id, EMP.supA.id, supA2.id, EMP.staffA1.id, null]) {
      assert.ok(changers.has(who), `the case row changed by ${who}: ${[...changers]}`);
    }
    const customerMoves = caseRows.filter((e) => e.actor_id === null);
    assert.ok(customerMoves.length >= 2, 'the objection and the confirmation');
    assert.ok(customerMoves.every((e) => e.actor_roles.includes('customer')), JSON.stringify(customerMoves.map((e) => e.actor_roles)));

    const approvals = inserts(await ofCase('cases.approvals'));
    assert.deepEqual(approvals.map((e) => [e.changes.decision, e.actor_id]), [['return', supA2.id], ['approve', supA2.id]]);

    const assignments = inserts(await ofCase('cases.assignments'));
    assert.deepEqual(assignments.map((e) => e.changes.employee_id).sort(), [EMP.staffA1.id, supA2.id].sort());
    assert.ok(assignments.every((e) => e.actor_id === supA2.id));

    const records = inserts(await ofCase('cases.work_records'));
    const milestoneOf = Object.fromEntries(ok(await as.auditor.get(path('/work-records?limit=200'))).items
      .map((w) => [w.id, w.milestone_code]));
    assert.deepEqual(records.map((e) => [milestoneOf[e.row_key], e.actor_id]), [
      ['gather', EMP.staffA1.id], ['gather', EMP.staffA1.id], ['prepare', supA2.id],
      ['prepare', supA2.id], ['prepare', supA2.id], ['followup', EMP.staffA1.id]]);
    assert.equal(records[1].changes.corrects_id, S.gather.id, 'the correction names the corrected record');

    const escalations = await ofCase('cases.escalations');
    assert.deepEqual(escalations.map((e) => [e.op, e.actor_id]), [['INSERT', EMP.staffA1.id], ['UPDATE', EMP.supA.id]]);

    const reviews = await ofCase('cases.reviews');
    assert.equal(inserts(reviews).length, 4, 'four rounds opened');
    assert.ok(inserts(reviews).every((e) => e.actor_id === EMP.staffA1.id), 'opened by the lead');
    const decided = reviews.filter((e) => e.op === 'UPDATE');
    assert.equal(decided.length, 4, 'four rounds decided');
    assert.ok(decided.every((e) => e.actor_id === EMP.supA.id), 'decided by sup.a');

    const files = inserts(await ofCase('cases.files'));
    assert.deepEqual(files.map((e) => e.row_key).sort(), [S.deliverable.id, S.paper.id, S.report.id].sort());
    for (const f of files) {
      if (f.row_key === S.paper.id) assert.equal(f.changes.location, '檔案室 A 櫃 3 層');
      else assert.equal(f.changes.content, '[redacted]', 'no file content in the audit trail');
    }
    assert.ok(!JSON.stringify(files).includes(S.pdf.toString('base64')), 'nor its base64');

    const deliveries = inserts(await ofCase('cases.deliveries'));
    assert.deepEqual(deliveries.map((e) => [e.changes.method, e.actor_id]), [['email', EMP.staffA1.id], ['in_person', EMP.staffA1.id]]);

    const links = await ofCase('cases.confirmation_links');
    assert.equal(inserts(links).length, 4, 'four links issued');
    const used = links.filter((e) => e.op === 'UPDATE' && e.changes.used_at);
    assert.equal(used.length, 2, 'two links used');
    assert.ok(used.every((e) => e.actor_id === null && e.actor_roles.includes('customer')), JSON.stringify(used));
    assert.ok(!JSON.stringify(links).includes(S.link2.token), 'no token in the audit trail');

    const confirmations = inserts(await ofCase('cases.confirmations'));
    assert.deepEqual(confirmations.map((e) => [e.changes.outcome, e.changes.rating, e.actor_id]),
      [['objected', 2, null], ['confirmed', 5, null]]);
    assert.ok(confirmations.every((e) => e.actor_roles.includes('customer')));

    const archives = inserts(await ofCase('cases.archives'));
    assert.deepEqual(archives.map((e) => [e.changes.archive_number, e.actor_id]), [[S.number, EMP.staffA1.id]]);
  });

  test('the deadlines the moves opened and met (part F; no route lists them: read from the table)', () => {
    // The contract exposes deadlines only as the overdue queue; the walk took minutes, so none is
    // overdue: the rows themselves show that the moves opened and met them.
    const rows = pg(`SELECT kind || ':' || (met_at IS NOT NULL) || ':' || (closed_at IS NOT NULL)
                       FROM cases.deadlines WHERE case_id = ${lit(S.id)} ORDER BY starts_at, kind`, { db: DB }).split('\n');
    const open = rows.filter((r) => r.endsWith(':false:false'));
    assert.deepEqual(open, [], `every deadline of the archived case ended: ${rows}`);
    for (const kind of ['reception', 'approval', 'milestone', 'escalation', 'review_feedback', 'archiving']) {
      assert.ok(rows.some((r) => r.startsWith(`${kind}:true`)), `a met ${kind} deadline: ${rows}`);
    }
  });
});

commonHeadersTest();
