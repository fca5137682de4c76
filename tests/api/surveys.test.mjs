// Module Q, part C: customer satisfaction questionnaires (Q3 客戶反饋). Black-box HTTP; every
// response is validated against the contract by contract_responses. A case is brought to the
// customer's confirmation through module P's routes (tests/api/lib/cases.mjs, then review,
// delivery and the public confirmation link): the confirmation creates the case's survey send
// (P3.4), staff mint its one-time link, the customer answers once through the public routes, and
// the answer counts for the case's assignees. The job 'assessment.surveys' sends, reminds and
// expires; the response rates count a period's sends.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, describe, test } from 'node:test';

import { assertProblem, commonHeadersTest, freshDatabase, lit, pg, request, waitFor } from './lib/harness.mjs';
import { customerKeys, startCustomerService } from './lib/customers.mjs';
import { caseInProgress, createBusinessType } from './lib/cases.mjs';
import {
  EMP, asOwnerAdmin, assertFieldError, assertUnauthorized, client, loadFixtures, newSigningKey, ok, ownToken,
} from './lib/identity.mjs';

const DB = 'tx_api_surveys';
let key;
let svc;
let keys;
const as = {};
const asEmp = (e, roles) => client(svc, ownToken(key, e, { roles }));
const q = (sql) => pg(sql, { db: DB });
const owner = (sql) => pg(sql, { db: DB, user: 'tianxing_owner' });
const pub = (method, p, body) => request(svc, { method, path: p, body, headers: {} });
const NOID = '0f1e2d3c-4b5a-4697-8a8b-9c0d1e2f3a4b';
const CUSTOMER_NAME = '黃雅琪';
const Q1 = [
  { code: 'overall', text: '您對本次服務的整體滿意度？', kind: 'rating' },
  { code: 'speed', text: '辦理速度', kind: 'rating' },
  { code: 'advice', text: '您的建議', kind: 'text', required: false },
];
let typeId;

before(async () => {
  key = newSigningKey();
  keys = customerKeys();
  freshDatabase(DB);
  svc = await startCustomerService(DB, key, keys);
  loadFixtures(DB);
  Object.assign(as, {
    admin: asEmp(EMP.admin), hr: asEmp(EMP.hr), auditor: asEmp(EMP.auditor), risk: asEmp(EMP.risk),
    a1: asEmp(EMP.staffA1), a2: asEmp(EMP.staffA2), b1: asEmp(EMP.staffB1), supA: asEmp(EMP.supA), supB: asEmp(EMP.supB),
  });
  typeId = (await createBusinessType(as.admin, { code: 'srv-audit', name: '年度審計' })).id;
});

/** A case of department A brought to `confirmed` through the routes: in progress (staff.a1 lead,
 * staff.a2 member, sup.a approves), both required milestones recorded, submitted, passed by sup.a,
 * a deliverable filed and delivered, and the customer's confirmation through the public link. */
async function confirmedCase(customerId) {
  const { case: c, customerId: cu } = await caseInProgress(svc, key, { typeId, customerId });
  const t = Date.now() + 2000;
  for (const [i, code] of ['gather', 'prepare'].entries()) {
    ok(await as.a1.post(`/v1/cases/${c.id}/work-records`, {
      milestone_code: code, content: `完成${code}`, result: '完成', hours: 3,
      started_at: new Date(t + i * 2000).toISOString(), finished_at: new Date(t + i * 2000 + 1000).toISOString(),
    }), 201);
  }
  ok(await as.a1.post(`/v1/cases/${c.id}/submit-review`, {}));
  const verdicts = ['accuracy', 'compliance', 'completeness'].map((criterion) => ({ criterion, verdict: 'pass' }));
  assert.equal(ok(await as.supA.post(`/v1/cases/${c.id}/reviews`, { verdicts })).case_status, 'passed');
  const f = ok(await as.a1.post(`/v1/cases/${c.id}/files`, {
    name: '審計報告.pdf', purpose: 'deliverable', media_type: 'application/pdf', content: Buffer.from('%PDF-1.4 報告').toString('base64'),
  }), 201);
  ok(await as.a1.post(`/v1/cases/${c.id}/deliver`, { method: 'email', file_ids: [f.id] }), 201);
  const link = ok(await as.a1.post(`/v1/cases/${c.id}/confirmation-links`), 201);
  ok(await pub('POST', link.url, { outcome: 'confirmed', rating: 4 }), 201);
  assert.equal(q(`SELECT status FROM cases.cases WHERE id = ${lit(c.id)}`), 'confirmed');
  return { caseId: c.id, customerId: cu };
}

const countSurveys = () => Number(q('SELECT count(*) FROM assessment.surveys'));
const sendOf = (caseId) => q(`SELECT id FROM assessment.survey_sends WHERE case_id = ${lit(caseId)}`);
/** The job's pass as the scheduler (assessment.surveys_job under the system claims). */
const runJob = (payload) => JSON.parse(owner(`BEGIN;
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', 'system', true), set_config('tx.request_id', 'job:test', true);
SELECT assessment.surveys_job(${lit(JSON.stringify(payload))}::jsonb);
COMMIT;`).split('\n').find((l) => l.startsWith('{')));
const dayPlus = (n) => q(`SELECT ((now() AT TIME ZONE 'Asia/Taipei')::date + ${Number(n)})::text`);

const S = {};

describe('questionnaires (Q3): hr and admin write versions; everyone reads', () => {
  test('who may create: hr and admin; staff, supervisors, auditors and risk officers 403; no token 401', async () => {
    const body = { code: 'x-refused', title: '不應建立', purpose: 'regular', questions: Q1 };
    for (const c of [as.a1, as.supA, as.auditor, as.risk]) assertProblem(await c.post('/v1/surveys', body), 403, 'forbidden');
    assertUnauthorized(await pub('POST', '/v1/surveys', body), { invalid: false });
    assert.equal(countSurveys(), 0);
  });

  test('bad questionnaires are 422 naming the member, and nothing is written', async () => {
    const base = { code: 'bad', title: '錯誤', purpose: 'after_confirmation' };
    const cases = [
      [{ ...base, questions: [] }, 'questions'],
      [{ ...base, questions: [Q1[0], { ...Q1[1], code: 'overall' }] }, 'questions[1].code'],
      [{ ...base, questions: [{ ...Q1[0], kind: 'stars' }] }, 'questions[0].kind'],
      [{ ...base, questions: [{ ...Q1[0], text: '' }] }, 'questions[0].text'],
      [{ ...base, questions: [{ ...Q1[0], required: 'yes' }] }, 'questions[0].required'],
      [{ ...base, purpose: 'weekly', questions: Q1 }, 'purpose'],
      [{ ...base, code: 'Bad Code', questions: Q1 }, 'code'],
      [{ ...base, questions: Q1, colour: 'red' }, 'colour'],
    ];
    for (const [b, field] of cases) assertFieldError(await as.hr.post('/v1/surveys', b), field);
    assert.equal(countSurveys(), 0, 'nothing written');
  });

  test('hr creates one (Chinese text kept, required defaults to true); a newer active one replaces it', async () => {
    const old = ok(await as.hr.post('/v1/surveys', { code: 'after-old', title: '舊問卷', purpose: 'after_confirmation', questions: [Q1[0]] }), 201);
    assert.equal(old.active, true);
    const s = ok(await as.admin.post('/v1/surveys', { code: 'after-case', title: '結案滿意度調查', purpose: 'after_confirmation', questions: Q1, note: '初版' }), 201);
    assert.deepEqual(s.questions, Q1.map((x) => ({ required: true, ...x })));
    assert.equal(s.current_version, 1);
    assert.equal(s.active, true);
    assert.equal(ok(await as.a1.get(`/v1/surveys/${old.id}`)).active, false, 'the older one is deactivated');
    const dup = assertProblem(await as.hr.post('/v1/surveys', { code: 'after-case', title: 'x', purpose: 'regular', questions: Q1 }), 409, 'conflict');
    assert.equal(dup.existing_id, s.id);
    S.after = s;
    S.regular = ok(await as.hr.post('/v1/surveys', { code: 'quarterly', title: '季度客戶滿意度', purpose: 'regular', questions: [Q1[0]] }), 201);
  });

  test('versions: hr adds the next, earlier ones are kept; staff 403; unknown 404', async () => {
    const v = ok(await as.hr.post(`/v1/surveys/${S.after.id}/versions`, { note: '速度改為必答', questions: Q1 }), 201);
    assert.equal(v.current_version, 2);
    assertProblem(await as.a1.post(`/v1/surveys/${S.after.id}/versions`, { questions: Q1 }), 403, 'forbidden');
    assertProblem(await as.hr.post(`/v1/surveys/${NOID}/versions`, { questions: Q1 }), 404, 'not_found');
    assertFieldError(await as.hr.post(`/v1/surveys/${S.after.id}/versions`, { questions: [{ code: 'a', text: 'x', kind: 'emoji' }] }), 'questions[0].kind');
    const d = ok(await as.a1.get(`/v1/surveys/${S.after.id}`));
    assert.deepEqual(d.versions.map((x) => x.version), [1, 2]);
    assert.equal(d.versions[0].note, '初版');
    assertProblem(await as.a1.get(`/v1/surveys/${NOID}`), 404, 'not_found');
  });

  test('everyone signed in lists them; filters and paging', async () => {
    for (const c of [as.a1, as.supB, as.hr, as.auditor, as.risk, as.admin]) {
      assert.deepEqual(ok(await c.get('/v1/surveys?active=true')).items.map((x) => x.code), ['after-case', 'quarterly']);
    }
    assert.deepEqual(ok(await as.a1.get('/v1/surveys?purpose=after_confirmation')).items.map((x) => x.code), ['after-case', 'after-old']);
    const p1 = ok(await as.a1.get('/v1/surveys?limit=2'));
    assert.equal(p1.items.length, 2);
    assert.deepEqual(ok(await as.a1.get(`/v1/surveys?limit=2&cursor=${p1.next_cursor}`)).items.map((x) => x.code), ['quarterly']);
    assertFieldError(await as.a1.get('/v1/surveys?purpose=weekly'), 'purpose');
    assertFieldError(await as.a1.get('/v1/surveys?cursor=nope'), 'cursor');
    assertFieldError(await as.a1.get('/v1/surveys?limit=0'), 'limit');
  });
});

describe('a case\'s confirmation creates its send (P3.4); the send list', () => {
  before(async () => {
    Object.assign(S, await confirmedCase());
    S.send = sendOf(S.caseId);
  });

  test('the send exists: after_confirmation, the current version, by the service, no link yet', async () => {
    assert.match(S.send, /^[0-9a-f-]{36}$/);
    const [item] = ok(await as.a1.get(`/v1/survey-sends?case_id=${S.caseId}`)).items;
    assert.equal(item.id, S.send);
    assert.equal(item.reason, 'after_confirmation');
    assert.equal(item.survey_code, 'after-case');
    assert.equal(item.survey_version, 2);
    assert.equal(item.status, 'open');
    assert.equal(item.created_by, null);
    assert.equal(item.link_created_at, null);
    assert.equal(item.customer_id, S.customerId);
    assert.ok(!JSON.stringify(item).includes(CUSTOMER_NAME));
  });

  test('who sees it: the case\'s staff, its department\'s supervisor, hr, admin, auditor; not department B; not risk', async () => {
    for (const c of [as.a2, as.supA, as.hr, as.admin, as.auditor]) {
      assert.ok(ok(await c.get('/v1/survey-sends')).items.some((x) => x.id === S.send));
    }
    for (const c of [as.b1, as.supB]) assert.equal(ok(await c.get('/v1/survey-sends')).items.length, 0);
    assertProblem(await as.risk.get('/v1/survey-sends'), 403, 'forbidden');
  });

  test('sending again: 409 naming the send; department B 404; a case not confirmed 409 with allowed actions', async () => {
    const dup = assertProblem(await as.a1.post('/v1/survey-sends', { case_id: S.caseId }), 409, 'conflict');
    assert.equal(dup.existing_id, S.send);
    assertProblem(await as.b1.post('/v1/survey-sends', { case_id: S.caseId }), 404, 'not_found');
    assertProblem(await as.auditor.post('/v1/survey-sends', { case_id: S.caseId }), 403, 'forbidden');
    const { case: open } = await caseInProgress(svc, key, { typeId, customerId: S.customerId });
    const p = assertProblem(await as.a1.post('/v1/survey-sends', { case_id: open.id }), 409, 'invalid_transition');
    assert.equal(p.state, 'in_progress');
    assert.ok(Array.isArray(p.allowed_actions));
    assertFieldError(await as.a1.post('/v1/survey-sends', {}), 'case_id');
    assertFieldError(await as.a1.post('/v1/survey-sends', { case_id: 'nope' }), 'case_id');
    assert.equal(q('SELECT count(*) FROM assessment.survey_sends'), '1', 'nothing more written');
  });

  test('filters and refusals of the list', async () => {
    assert.equal(ok(await as.hr.get('/v1/survey-sends?status=open&reason=after_confirmation')).items.length, 1);
    assert.equal(ok(await as.hr.get('/v1/survey-sends?status=answered')).items.length, 0);
    assert.equal(ok(await as.hr.get(`/v1/survey-sends?survey_id=${S.regular.id}`)).items.length, 0);
    assertFieldError(await as.hr.get('/v1/survey-sends?status=lost'), 'status');
    assertFieldError(await as.hr.get('/v1/survey-sends?reason=weekly'), 'reason');
    assertFieldError(await as.hr.get(`/v1/survey-sends?cursor=${NOID}`), 'cursor');
    assertFieldError(await as.hr.get('/v1/survey-sends?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z'), 'from');
  });
});

describe('the one-time link and the customer\'s answer (public)', () => {
  test('minting: the case\'s staff (token shown once, only its SHA-256 stored); department B 404; auditor 403', async () => {
    assertProblem(await as.b1.post(`/v1/survey-sends/${S.send}/link`), 404, 'not_found');
    assertProblem(await as.auditor.post(`/v1/survey-sends/${S.send}/link`), 403, 'forbidden');
    assertProblem(await as.a1.post(`/v1/survey-sends/${NOID}/link`), 404, 'not_found');
    S.first = ok(await as.a1.post(`/v1/survey-sends/${S.send}/link`), 201);
    S.link = ok(await as.a2.post(`/v1/survey-sends/${S.send}/link`), 201);
    assert.match(S.link.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(S.link.url, `/v1/survey-answers/${S.link.token}`);
    const stored = q(`SELECT encode(token_hash, 'hex') FROM assessment.survey_sends WHERE id = ${lit(S.send)}`);
    assert.equal(stored, crypto.createHash('sha256').update(S.link.token).digest('hex'));
    assert.equal(q(`SELECT count(*) FROM assessment.survey_sends WHERE token_hash = decode(${lit(Buffer.from(S.link.token).toString('hex'))}, 'hex')`), '0', 'not the token itself');
  });

  test('the replaced (revoked) token, an unknown or malformed one: one answer, 404', async () => {
    const unknown = crypto.randomBytes(32).toString('base64url');
    for (const t of [S.first.token, unknown, 'short', `${unknown}x`]) {
      assertProblem(await pub('GET', `/v1/survey-answers/${encodeURIComponent(t)}`), 404, 'not_found');
      assertProblem(await pub('POST', `/v1/survey-answers/${encodeURIComponent(t)}`, { answers: { overall: 5, speed: 5 } }), 404, 'not_found');
    }
  });

  test('the customer sees the questions, nothing about the customer or the staff', async () => {
    const v = ok(await pub('GET', S.link.url));
    assert.deepEqual(Object.keys(v).sort(), ['business_type', 'expires_at', 'questions', 'reason', 'title']);
    assert.equal(v.title, '結案滿意度調查');
    assert.equal(v.business_type, '年度審計');
    assert.deepEqual(v.questions.map((x) => [x.code, x.required]), [['overall', true], ['speed', true], ['advice', false]]);
    for (const secret of [CUSTOMER_NAME, S.customerId, EMP.staffA1.id, 'Staff A1', S.caseId]) {
      assert.ok(!JSON.stringify(v).includes(secret), `no ${secret}`);
    }
  });

  test('wrong answers are 422 naming the answer, and nothing is written (the link still works)', async () => {
    const bad = [
      [{ answers: { speed: 4 } }, 'answers.overall'],
      [{ answers: { overall: 6, speed: 4 } }, 'answers.overall'],
      [{ answers: { overall: 0, speed: 4 } }, 'answers.overall'],
      [{ answers: { overall: 4.5, speed: 4 } }, 'answers.overall'],
      [{ answers: { overall: '5', speed: 4 } }, 'answers.overall'],
      [{ answers: { overall: 5, speed: 4, colour: 'red' } }, 'answers.colour'],
      [{ answers: { overall: 5, speed: 4, advice: 7 } }, 'answers.advice'],
      [{ answers: { overall: 5, speed: 4 }, name: '黃' }, 'name'],
      [{}, 'answers'],
    ];
    for (const [body, field] of bad) assertFieldError(await pub('POST', S.link.url, body), field);
    assert.equal(q('SELECT count(*) FROM assessment.survey_answers'), '0');
    assert.equal(q(`SELECT answered_at IS NULL FROM assessment.survey_sends WHERE id = ${lit(S.send)}`), 't');
    ok(await pub('GET', S.link.url));
  });

  test('the answer: once; score = mean of (rating - 1) x 25; counted for the case\'s assignees', async () => {
    const r = ok(await pub('POST', S.link.url, { answers: { overall: 5, speed: 3, advice: '報告清楚，速度可以更快' } }), 201);
    assert.match(r.answered_at, /Z$/);
    assertProblem(await pub('POST', S.link.url, { answers: { overall: 1, speed: 1 } }), 404, 'not_found');
    assertProblem(await pub('GET', S.link.url), 404, 'not_found');
    const item = ok(await as.hr.get(`/v1/survey-sends?case_id=${S.caseId}`)).items[0];
    assert.equal(item.status, 'answered');
    assert.equal(item.score, 75);
    assert.equal(q(`SELECT string_agg(employee_id::text, ',' ORDER BY employee_id) FROM assessment.survey_attributions`),
      [EMP.staffA1.id, EMP.staffA2.id].sort().join(','));
    assert.equal(q(`SELECT DISTINCT case_id FROM assessment.survey_attributions`), S.caseId);
    // the audit trail attributes the answer to the customer, not to an employee
    assert.equal(q(`SELECT actor_id IS NULL AND actor_roles = '{customer}' FROM audit.log
                     WHERE table_name = 'assessment.survey_answers' AND op = 'INSERT'`), 't');
    // who sees the score: hr, auditor, the assignees; not a supervisor of another department
    assert.equal(ok(await as.a2.get(`/v1/survey-sends?case_id=${S.caseId}`)).items[0].score, 75);
    assertProblem(await as.a1.post(`/v1/survey-sends/${S.send}/link`), 409, 'conflict');
  });
});

describe('regular sends, reminders and expiry (the job assessment.surveys)', () => {
  test('hr sends the regular questionnaire now; staff may not; unknown customer 404', async () => {
    const s = ok(await as.hr.post('/v1/survey-sends', { customer_id: S.customerId }), 201);
    assert.equal(s.reason, 'regular');
    assert.equal(s.case_id, null);
    assert.equal(s.created_by, EMP.hr.id);
    S.regularSend = s.id;
    assertProblem(await as.a1.post('/v1/survey-sends', { customer_id: S.customerId }), 403, 'forbidden');
    assertProblem(await as.hr.post('/v1/survey-sends', { customer_id: NOID }), 404, 'not_found');
    // staff do not see regular sends (they are about no case they may read)
    assert.ok(!ok(await as.a1.get('/v1/survey-sends')).items.some((x) => x.id === s.id));
    S.regularLink = ok(await as.hr.post(`/v1/survey-sends/${s.id}/link`), 201);
  });

  test('the job: reminders after reminder_after_days, at most max_reminders; expiry after link_days', () => {
    const r0 = runJob({ today: dayPlus(0) });
    assert.equal(r0.sent, 0, 'the customer had a regular send in the last every_months months');
    assert.equal(runJob({ today: dayPlus(8) }).reminded, 1);
    assert.equal(runJob({ today: dayPlus(8) }).reminded, 0, 'once a day');
    assert.equal(runJob({ today: dayPlus(16) }).reminded, 1);
    assert.equal(runJob({ today: dayPlus(24) }).reminded, 0, 'max_reminders 2');
    assert.equal(runJob({ today: dayPlus(31) }).expired, 1);
  });

  test('the expired send: its token is 404, it gets no new link, the list shows it expired with its reminders', async () => {
    assertProblem(await pub('GET', S.regularLink.url), 404, 'not_found');
    assertProblem(await pub('POST', S.regularLink.url, { answers: { overall: 5 } }), 404, 'not_found');
    assertProblem(await as.hr.post(`/v1/survey-sends/${S.regularSend}/link`), 409, 'conflict');
    const [x] = ok(await as.hr.get('/v1/survey-sends?status=expired')).items;
    assert.equal(x.id, S.regularSend);
    assert.equal(x.reminders, 2);
  });

  test('the job sends the regular questionnaire to a customer with a recent case and no regular send', async () => {
    const { customerId, caseId } = await confirmedCase();
    S.secondCase = caseId;
    const before = Number(q(`SELECT count(*) FROM assessment.survey_sends WHERE customer_id = ${lit(customerId)} AND reason = 'regular'`));
    assert.equal(before, 0);
    // at 09:00 tomorrow (the job acts at 09:00 of its day; the case was received after today's)
    assert.equal(runJob({ today: dayPlus(1) }).sent, 1);
    assert.equal(runJob({ today: dayPlus(1) }).sent, 0, 'idempotent for the day');
    assert.equal(q(`SELECT count(*) FROM assessment.survey_sends WHERE customer_id = ${lit(customerId)} AND reason = 'regular' AND created_by IS NULL`), '1');
    S.second = customerId;
  });

  test('a customer who becomes inactive: the job revokes the open sends, their tokens are 404', async () => {
    const regular = q(`SELECT id FROM assessment.survey_sends WHERE customer_id = ${lit(S.second)} AND reason = 'regular'`);
    const link = ok(await as.hr.post(`/v1/survey-sends/${regular}/link`), 201);
    ok(await pub('GET', link.url));
    // its case ends (archived, P4.1) before the customer may become inactive (C4.3)
    ok(await as.a1.post(`/v1/cases/${S.secondCase}/files`, { name: '報告正本', purpose: 'document', document_code: 'report', location: '檔案室 B-02' }), 201);
    ok(await as.a1.post(`/v1/cases/${S.secondCase}/archive`));
    const c = ok(await as.a1.get(`/v1/customers/${S.second}`));
    ok(await as.a1.patch(`/v1/customers/${S.second}`, { status: 'inactive' }, { headers: { 'If-Match': `"${c.version}"` } }));
    assert.equal(runJob({ today: dayPlus(1) }).revoked, 2, 'its regular send and its case\'s send');
    assertProblem(await pub('GET', link.url), 404, 'not_found');
    assertProblem(await pub('POST', link.url, { answers: { overall: 5 } }), 404, 'not_found');
    assertProblem(await as.hr.post(`/v1/survey-sends/${regular}/link`), 409, 'conflict');
    const revoked = ok(await as.hr.get(`/v1/survey-sends?status=revoked&customer_id=${S.second}`)).items;
    assert.equal(revoked.length, 2);
    assert.ok(revoked.every((x) => x.revoked_at));
    assertProblem(await as.hr.post('/v1/survey-sends', { customer_id: S.second }), 409, 'conflict');
  });

  test('an instance with jobs on runs the kind to done', async () => {
    const jobs = await startCustomerService(DB, key, keys, { env: { TIANXING_JOBS: 'on', TIANXING_JOB_POLL_MS: 100, TIANXING_ACCESS_LOG: 'false' } });
    try {
      const id = owner(`SELECT jobs.enqueue('assessment.surveys', now(), ${lit(JSON.stringify({ today: dayPlus(0) }))})`);
      await waitFor(() => !['due', 'running'].includes(q(`SELECT state FROM jobs.jobs WHERE id = ${lit(id)}`)),
        { timeout: 20000, what: 'the job to finish' });
      assert.equal(q(`SELECT state FROM jobs.jobs WHERE id = ${lit(id)}`), 'done');
    } finally {
      await jobs.stop();
    }
  });
});

describe('response rates per period (Q3)', () => {
  before(() => {
    // The period of this month, as part A's job would open it (its route opens ended months only).
    asOwnerAdmin(DB, `INSERT INTO assessment.periods (kind, label, starts_on, ends_on, parameters)
SELECT 'month', to_char(d, 'YYYY-MM'), d, (d + interval '1 month' - interval '1 day')::date,
       assessment.period_parameters((d + interval '1 month' - interval '1 day')::date)
  FROM (SELECT date_trunc('month', now() AT TIME ZONE 'Asia/Taipei')::date AS d) x
ON CONFLICT (label) DO NOTHING;`);
    S.period = q(`SELECT id FROM assessment.periods WHERE label = to_char(now() AT TIME ZONE 'Asia/Taipei', 'YYYY-MM')`);
  });

  test('sent in the period, answered, expired, rate; by questionnaire and reason', async () => {
    const r = ok(await as.hr.get(`/v1/survey-response-rates?period_id=${S.period}`));
    const inPeriod = `sent_at >= ${lit(r.from)}::timestamptz AND sent_at < ${lit(r.to)}::timestamptz`;
    const sent = Number(q(`SELECT count(*) FROM assessment.survey_sends WHERE ${inPeriod}`));
    const answered = Number(q(`SELECT count(*) FROM assessment.survey_sends WHERE ${inPeriod} AND answered_at IS NOT NULL`));
    assert.ok(sent >= 3, 'the sends of this file (those of the job\'s future days excepted)');
    assert.equal(r.sent, sent);
    assert.equal(r.answered, answered);
    assert.equal(answered, 1);
    assert.equal(r.rate, Math.round((10000 * answered) / sent) / 100);
    const after = r.items.find((x) => x.survey_code === 'after-case' && x.reason === 'after_confirmation');
    assert.equal(after.answered, 1);
    assert.equal(after.rate, Math.round(10000 / after.sent) / 100);
    assert.equal(r.items.reduce((n, x) => n + x.sent, 0), sent);
    assert.ok(!JSON.stringify(r).includes(CUSTOMER_NAME));
    for (const c of [as.admin, as.auditor]) assert.equal(ok(await c.get(`/v1/survey-response-rates?period_id=${S.period}`)).sent, sent);
  });

  test('part A counts the answer in the satisfaction of the case\'s assignees (Q1)', () => {
    owner(`SELECT assessment.compute_period(${lit(S.period)})`);
    const ev = JSON.parse(q(`SELECT v.evidence FROM assessment.indicator_values v
      JOIN assessment.assessments a ON a.id = v.assessment_id
     WHERE a.period_id = ${lit(S.period)} AND a.employee_id = ${lit(EMP.staffA2.id)} AND v.indicator = 'satisfaction'`));
    const answers = ev.filter((e) => e.kind === 'answer');
    assert.equal(answers.length, 1, JSON.stringify(ev));
    assert.equal(Number(answers[0].value), 75);
  });

  test('refusals: staff and supervisors 403, no period 422, unknown period 404', async () => {
    for (const c of [as.a1, as.supA, as.risk]) assertProblem(await c.get(`/v1/survey-response-rates?period_id=${S.period}`), 403, 'forbidden');
    assertFieldError(await as.hr.get('/v1/survey-response-rates'), 'period_id');
    assertFieldError(await as.hr.get('/v1/survey-response-rates?period_id=nope'), 'period_id');
    assertProblem(await as.hr.get(`/v1/survey-response-rates?period_id=${NOID}`), 404, 'not_found');
  });
});

commonHeadersTest();
