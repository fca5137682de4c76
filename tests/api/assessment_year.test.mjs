// Module Q, issue 12 "Done when": a month end to end from real cases, then a year with grades and
// the Q4 lists, over HTTP (the one exception is the scheduler's job call, made as the scheduler
// makes it, like tests/api/assessment_workflow.test.mjs; stored facts are READ with SQL only to
// know their instants -- the milestone deadlines' due_at, which no route returns -- never written).
//
// 1. Facts through module P's real routes (department A): S, a solo case of staff.a1 that fails
//    its first review round and passes the second, delivered and confirmed through the public
//    link with rating 5; T, a team case (lead staff.a1, member staff.a2) that passes first time,
//    confirmed with rating 4, whose after-confirmation questionnaire (created first by hr) is
//    answered through its public link; X, a case of both that is cancelled (excluded everywhere).
// 2. The job 'assessment.periods' on the first working day after this month opens and computes
//    it; every figure of staff.a1 and staff.a2 is checked against a hand calculation below
//    (docs/assessment.md, formula version 1), with the evidence ids.
// 3. The month's walk (self-assessment, evaluation, check, publication, appeal and HR's decision;
//    acknowledgement), the close refused while others are not through (409 with the guard), then
//    their walks and the close.
// 4. A year: the promotion rule set by a proposal and an admin's approval, the job on the first
//    working day of next January, the annual evaluation, check and publication, the grade by the
//    bands; the Q4 lists as hr (salary bases, bonus list, promotion candidates, training
//    proposals) and the CSV exports.
// Every response goes through the harness client, so contract_responses validates it.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { assertProblem, freshDatabase, lit, pg, request } from './lib/harness.mjs';
import { customerKeys, startCustomerService } from './lib/customers.mjs';
import { addSecondSupervisor, asClient, caseInProgress, createBusinessType } from './lib/cases.mjs';
import { EMP, commonHeadersTestExceptJwks, loadFixtures, newSigningKey, ok } from './lib/identity.mjs';

const DB = 'tx_api_assessment_year';
const A1_NAME = '王小明';
const CRITERIA = ['accuracy', 'compliance', 'completeness'];
const INDICATORS = ['completion_rate', 'satisfaction', 'accuracy', 'efficiency', 'teamwork'];
// docs/assessment.md and the seeded policies (0012, 0022) the periods copy
const WEIGHTS = { completion_rate: 0.3, satisfaction: 0.25, accuracy: 0.2, efficiency: 0.15, teamwork: 0.1 };
const BANDS = [['A', 90], ['B', 80], ['C', 70], ['D', 60], ['E', 0]];
const ANNUAL = { monthly: 0.7, supervisor: 0.3 };
const COEFF = { A: 1.5, B: 1.2, C: 1.0, D: 0.5, E: 0 };
const THRESHOLDS = { completion_rate: 60, satisfaction: 60, accuracy: 60, efficiency: 60, teamwork: 50 };
const RULE = { grades: ['A', 'B'], min_months_assessed: 1 };
const TEAMWORK = { a1: 4, a2: 2 }; // the supervisor's monthly ratings
const SUPERVISOR_SCORE = { a1: 92, a2: 60 }; // the annual ones

let key;
let svc;
let supA2;
const as = {};
const byId = {}; // employee id -> client
const F = {}; // the facts
const M = {}; // the month
const Y = {}; // the year

const q = (sql) => pg(sql, { db: DB });
const pub = (method, p, body) => request(svc, { method, path: p, body, headers: {} });
const im = (v) => ({ headers: { 'If-Match': `"${v}"` } });
/** Rounded to 2 decimals, half away from zero (numeric round in SQL), on 2-decimal inputs. */
const r2 = (x) => Math.sign(x) * Math.round(Math.abs(x) * 100 + 1e-7) / 100;
const grade = (c) => (c === null ? null : BANDS.find(([, min]) => min <= c)[0]);
const companyDay = () => q(`SELECT (now() AT TIME ZONE 'Asia/Taipei')::date::text`);

/** The job 'assessment.periods' as the scheduler runs it (role system, no employee) on `today`. */
function periodsJob(todaySql) {
  return JSON.parse(pg(`SELECT assessment.periods_job(jsonb_build_object('today', (${todaySql})))::text
    FROM (SELECT set_config('tx.user_id', '', false), set_config('tx.roles', 'system', false),
                 set_config('tx.department_id', '', false),
                 set_config('tx.request_id', 'job:assessment.periods', false)) claims`, { db: DB, user: 'tianxing_owner' }));
}
/** The first working day on or after the first of the month `monthSql` (a date expression). */
const firstWorkday = (monthSql) => `SELECT min(d::date) FROM generate_series((${monthSql})::date,
  (${monthSql})::date + 25, interval '1 day') d WHERE org.is_workday(d::date)`;

const work = (code, i, over = {}) => {
  const t = Date.now() + 2000 + i * 2000;
  return {
    milestone_code: code, content: `完成${code}`, result: '完成', hours: 2,
    started_at: new Date(t).toISOString(), finished_at: new Date(t + 1000).toISOString(), ...over,
  };
};
const verdicts = (failing = []) => CRITERIA.map((c) => (failing.includes(c)
  ? { criterion: c, verdict: 'fail', comment: `${c} 不足` } : { criterion: c, verdict: 'pass' }));

/** Deliver a passed case and have the customer confirm it through the public link. */
async function deliverAndConfirm(caseId, rating) {
  const f = ok(await as.a1.post(`/v1/cases/${caseId}/files`, {
    name: '審計報告.pdf', purpose: 'deliverable', media_type: 'application/pdf',
    content: Buffer.from('%PDF-1.4 審計報告').toString('base64'),
  }), 201);
  ok(await as.a1.post(`/v1/cases/${caseId}/deliver`, { method: 'email', file_ids: [f.id] }), 201);
  const link = ok(await as.a1.post(`/v1/cases/${caseId}/confirmation-links`), 201);
  const a = ok(await pub('POST', link.url, { outcome: 'confirmed', rating, comment: '滿意' }), 201);
  assert.equal(a.rating, rating);
  assert.equal(ok(await as.a1.get(`/v1/cases/${caseId}`)).status, 'confirmed');
}

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startCustomerService(DB, key, customerKeys());
  loadFixtures(DB);
  // sup.a is assessed (roles staff, supervisor) and has no supervisor: a second supervisor of
  // department A evaluates them (Q3: never oneself)
  supA2 = addSecondSupervisor(DB);
  for (const [k, e] of Object.entries({
    admin: EMP.admin, admin2: EMP.admin2, hr: EMP.hr, supA: EMP.supA, supB: EMP.supB, a1: EMP.staffA1,
    a2: EMP.staffA2, b1: EMP.staffB1, x: EMP.staffX, supA2,
  })) {
    as[k] = asClient(svc, key, e);
    byId[e.id] = as[k];
  }
  // staff.a1 carries a Chinese name, for the CSV exports
  const e = ok(await as.admin.get(`/v1/employees/${EMP.staffA1.id}`));
  ok(await as.admin.patch(`/v1/employees/${EMP.staffA1.id}`, { display_name: A1_NAME }, im(e.version)));
  // the promotion rule for a one-month year (Q4 晉升與調薪), in force from today (company date), so
  // on the last day of this month and of this year, when the periods copy their parameters
  const p = ok(await as.hr.post('/v1/policy-parameters/assessment_promotion_rule/proposals',
    { value: RULE, effective_from: companyDay(), reason: '試行：一個月即可列入晉升候選' }), 201);
  assertProblem(await as.hr.post(`/v1/policy-proposals/${p.id}/approve`, {}), 403, 'forbidden');
  assert.equal(ok(await as.admin.post(`/v1/policy-proposals/${p.id}/approve`, { reason: '同意試行' })).status, 'approved');
});

describe('1. the facts, through module P\'s routes', () => {
  test('the after-confirmation questionnaire, created first by hr', async () => {
    const s = ok(await as.hr.post('/v1/surveys', {
      code: 'after-case', title: '結案滿意度調查', purpose: 'after_confirmation',
      questions: [
        { code: 'overall', text: '整體滿意度', kind: 'rating' },
        { code: 'speed', text: '辦理速度', kind: 'rating' },
      ],
    }), 201);
    assert.equal(s.active, true);
    F.type = (await createBusinessType(as.admin, { code: 'qy-audit', name: '年度審計' })).id;
  });

  test('S: staff.a1 alone; fails round 1, passes round 2; delivered; confirmed with rating 5', async () => {
    const { case: c } = await caseInProgress(svc, key, { typeId: F.type, lead: EMP.staffA1, members: [] });
    F.S = c.id;
    ok(await as.a1.post(`/v1/cases/${F.S}/work-records`, work('gather', 0)), 201);
    ok(await as.a1.post(`/v1/cases/${F.S}/work-records`, work('prepare', 1)), 201);
    ok(await as.a1.post(`/v1/cases/${F.S}/submit-review`, {}));
    const r1 = ok(await as.supA.post(`/v1/cases/${F.S}/reviews`, { verdicts: verdicts(['accuracy']), comment: '請整改' }));
    assert.equal(r1.case_status, 'rectifying');
    const prep = ok(await as.a1.get(`/v1/cases/${F.S}/work-records`)).items.find((w) => w.milestone_code === 'prepare' && w.in_force);
    ok(await as.a1.post(`/v1/cases/${F.S}/work-records`, work('prepare', 2, { corrects_id: prep.id, result: '已更正' })), 201);
    ok(await as.a1.post(`/v1/cases/${F.S}/submit-review`, { rectification_note: '整改完成' }));
    assert.equal(ok(await as.supA.post(`/v1/cases/${F.S}/reviews`, { verdicts: verdicts(), comment: '通過' })).case_status, 'passed');
    await deliverAndConfirm(F.S, 5);
  });

  test('T: lead staff.a1, member staff.a2; passes first time; confirmed with rating 4; the survey answered', async () => {
    const { case: c } = await caseInProgress(svc, key, { typeId: F.type, lead: EMP.staffA1, members: [EMP.staffA2] });
    F.T = c.id;
    ok(await as.a1.post(`/v1/cases/${F.T}/work-records`, work('gather', 0)), 201);
    ok(await as.a2.post(`/v1/cases/${F.T}/work-records`, work('prepare', 1)), 201);
    ok(await as.a1.post(`/v1/cases/${F.T}/submit-review`, {}));
    assert.equal(ok(await as.supA.post(`/v1/cases/${F.T}/reviews`, { verdicts: verdicts() })).case_status, 'passed');
    await deliverAndConfirm(F.T, 4);
    const [send] = ok(await as.a1.get(`/v1/survey-sends?case_id=${F.T}`)).items;
    assert.equal(send.reason, 'after_confirmation');
    const link = ok(await as.a2.post(`/v1/survey-sends/${send.id}/link`), 201);
    ok(await pub('POST', link.url, { answers: { overall: 5, speed: 4 } }), 201);
    // the answer's score: mean of (rating - 1) x 25 = (100 + 75) / 2 = 87.5
    const answered = ok(await as.hr.get(`/v1/survey-sends?case_id=${F.T}`)).items[0];
    assert.equal(answered.score, 87.5);
    F.answer = q(`SELECT id FROM assessment.survey_answers WHERE send_id = ${lit(send.id)}`);
  });

  test('X: staff.a1 and staff.a2, one milestone recorded, then cancelled (excluded everywhere)', async () => {
    const { case: c } = await caseInProgress(svc, key, { typeId: F.type, lead: EMP.staffA1, members: [EMP.staffA2] });
    F.X = c.id;
    ok(await as.a1.post(`/v1/cases/${F.X}/work-records`, work('gather', 0)), 201);
    const x = ok(await as.supA.post(`/v1/cases/${F.X}/cancel`, { reason: '客戶撤回' }));
    assert.equal(x.status, 'cancelled');
  });

  test('the stored instants of the facts (read, for the hand calculation)', async () => {
    F.reviews = {};
    for (const c of [F.S, F.T, F.X]) {
      F.reviews[c] = ok(await as.supA.get(`/v1/cases/${c}/reviews`)).items.map((r) => ({ id: r.id, round: r.round, passed: r.status === 'passed' }));
    }
    assert.deepEqual(F.reviews[F.S].map((r) => [r.round, r.passed]), [[1, false], [2, true]]);
    assert.deepEqual(F.reviews[F.T].map((r) => [r.round, r.passed]), [[1, true]]);
    F.conf = {};
    for (const c of [F.S, F.T]) F.conf[c] = q(`SELECT id FROM cases.confirmations WHERE case_id = ${lit(c)} AND rating IS NOT NULL`);
    // the milestone deadlines not closed (the optional 'followup' closed at submission; X's at
    // its cancellation) with their due instants and whether they were met by them
    F.deadlines = JSON.parse(q(`SELECT coalesce(json_agg(json_build_object('id', id, 'case_id', case_id,
        'due', (extract(epoch FROM due_at) * 1000)::bigint, 'met', met_at IS NOT NULL AND met_at <= due_at) ORDER BY id), '[]')
      FROM cases.deadlines WHERE kind = 'milestone' AND closed_at IS NULL
       AND case_id IN (${lit(F.S)}, ${lit(F.T)}, ${lit(F.X)})`));
    // X: its met 'gather' stays (met, not closed); the rest closed at the cancellation. The case
    // is cancelled, so even that one counts for nobody (the evidence below never names it).
    const x = F.deadlines.filter((d) => d.case_id === F.X);
    assert.equal(x.length, 1, 'X: only the met gather is not closed');
    F.xDeadline = x[0].id;
    F.deadlines = F.deadlines.filter((d) => d.case_id !== F.X);
    assert.equal(F.deadlines.length, 4, 'gather and prepare of S and T');
    assert.ok(F.deadlines.every((d) => d.met), 'each recorded before it fell due');
  });
});

/**
 * The hand calculation (docs/assessment.md, formula version 1) of the month for one employee.
 * A fact counts when its instant t is in (start, end]; the facts here were all stamped during
 * this test (reviews, confirmations, the answer: now, in the month); the deadlines fall due some
 * working days ahead, possibly in the next month, so they are placed by their stored due instants.
 */
function expectMonth(who) {
  const inP = (t) => t > M.start && t <= M.end;
  const mine = who === 'a1' ? [F.S, F.T] : [F.T];
  const weight = { [F.S]: 1, [F.T]: 1 / 2 }; // credit split: 1 / distinct assignees (X cancelled)
  const ind = {};
  // 1. completion_rate: a case is due at the latest due_at of its open milestone deadlines
  const dueCases = mine.filter((c) => inP(Math.max(...F.deadlines.filter((d) => d.case_id === c).map((d) => d.due))));
  const den1 = dueCases.reduce((s, c) => s + weight[c], 0);
  // both passed their review today, before the period's end: numerator = denominator
  ind.completion_rate = den1 ? { figure: 100, ev: dueCases.map((c) => `case:${c}`) } : { marked: 'no_data', ev: [] };
  // 2. satisfaction: S (a1 only) rating 5 -> (5-1)x25 = 100; T rating 4 -> 75; T's answer 87.5
  //    a1: (100 + 75 + 87.5) / 3 = 87.50;  a2: (75 + 87.5) / 2 = 81.25
  const values = [...(who === 'a1' ? [100] : []), 75, 87.5];
  ind.satisfaction = {
    figure: r2(values.reduce((s, v) => s + v, 0) / values.length),
    ev: [`answer:${F.answer}`, ...mine.map((c) => `confirmation:${F.conf[c]}`)],
  };
  // 3. accuracy: rounds decided in the period: a1 S fail, S pass, T pass -> 2/3 = 66.67; a2 T 1/1
  const rounds = mine.flatMap((c) => F.reviews[c].map((r) => ({ ...r, c })));
  ind.accuracy = {
    figure: r2((100 * rounds.filter((r) => r.passed).length) / rounds.length),
    ev: rounds.map((r) => `review:${r.id}`),
  };
  // 4. efficiency: milestone deadlines of their cases due in the period, met by due_at (all met)
  const dls = F.deadlines.filter((d) => mine.includes(d.case_id) && inP(d.due));
  ind.efficiency = dls.length
    ? { figure: r2((100 * dls.filter((d) => d.met).length) / dls.length), ev: dls.map((d) => `deadline:${d.id}`) }
    : { marked: 'no_data', ev: [] };
  // 5. teamwork: (rating - 1) x 25 once evaluated; evidence the team case T (X is cancelled)
  const rating = M.rated?.[who];
  ind.teamwork = rating ? { figure: (rating - 1) * 25, ev: [`case:${F.T}`] } : { marked: 'not_rated', ev: [`case:${F.T}`] };
  for (const i of INDICATORS) ind[i].ev.sort();
  // composite: sum(w x figure) / sum(w) over the indicators with a figure (renormalized)
  const have = INDICATORS.filter((i) => ind[i].figure !== undefined);
  const composite = have.length
    ? r2(have.reduce((s, i) => s + WEIGHTS[i] * ind[i].figure, 0) / have.reduce((s, i) => s + WEIGHTS[i], 0))
    : null;
  return { ind, composite, grade: grade(composite) };
}

/** Every figure, mark and evidence id of an assessment document against the hand calculation. */
function checkMonth(d, who) {
  const e = expectMonth(who);
  assert.deepEqual(d.indicators.map((i) => i.indicator), INDICATORS);
  for (const i of d.indicators) {
    const x = e.ind[i.indicator];
    assert.equal(i.formula_version, 1);
    assert.equal(i.figure, x.figure ?? null, `${who} ${i.indicator}: ${JSON.stringify(i)}`);
    assert.equal(i.marked, x.marked ?? null, `${who} ${i.indicator} mark`);
    assert.deepEqual(i.evidence.map((v) => `${v.kind}:${v.id}`), x.ev, `${who} ${i.indicator} evidence`);
  }
  // the numbers the evidence carries
  const sat = d.indicators.find((i) => i.indicator === 'satisfaction').evidence;
  assert.equal(sat.find((v) => v.kind === 'answer').value, 87.5);
  assert.equal(sat.find((v) => v.id === F.conf[F.T]).value, 75);
  const cr = d.indicators.find((i) => i.indicator === 'completion_rate');
  for (const v of cr.evidence) assert.equal(v.weight, v.id === F.S ? 1 : 0.5);
  assert.equal(d.composite, e.composite, `${who} composite`);
  assert.equal(d.grade, e.grade, `${who} grade`);
  const all = JSON.stringify(d.indicators);
  for (const xid of [F.X, F.xDeadline, ...F.reviews[F.X].map((r) => r.id)]) assert.ok(!all.includes(xid), 'X counts for nobody');
  return e;
}

async function read(id) { return ok(await as.hr.get(`/v1/assessments/${id}`)); }

/** A plain walk: self-assessment, evaluation, check, publication, acknowledgement. */
async function walk(a, evaluator, rating) {
  let d = ok(await byId[a.employee_id].post(`/v1/assessments/${a.id}/self-assessment`,
    { went_well: '按時完成', shortcomings: '溝通待加強' }, im(a.version)));
  d = ok(await evaluator.post(`/v1/assessments/${a.id}/evaluation`, { teamwork_rating: rating }, im(d.version)));
  d = ok(await as.hr.post(`/v1/assessments/${a.id}/check`, { note: '已核對' }, im(d.version)));
  d = ok(await as.hr.post(`/v1/assessments/${a.id}/publish`, undefined, im(d.version)));
  return d;
}

describe('2. the job opens and computes the month; the figures are the hand calculation', () => {
  test('the scheduler\'s job on the first working day after this month', async () => {
    const next = "date_trunc('month', now() AT TIME ZONE org.company_time_zone()) + interval '1 month'";
    const out = periodsJob(firstWorkday(next));
    M.label = q(`SELECT to_char(now() AT TIME ZONE org.company_time_zone(), 'YYYY-MM')`);
    const p = ok(await as.hr.get('/v1/assessment-periods?limit=200')).items.find((x) => x.label === M.label);
    assert.ok(p, `the month ${M.label} is open: ${JSON.stringify(out)}`);
    // the month; in December also the year (the first working day after it is in January)
    assert.deepEqual(out.opened, M.label.endsWith('-12') ? [M.label, M.label.slice(0, 4)] : [M.label], JSON.stringify(out));
    M.id = p.id;
    const period = ok(await as.hr.get(`/v1/assessment-periods/${M.id}`));
    assert.equal(period.kind, 'month');
    assert.equal(period.status, 'open');
    assert.equal(period.parameters.company_time_zone, 'Asia/Taipei');
    assert.deepEqual(period.parameters.assessment_promotion_rule, RULE);
    // the period's instants: (start of starts_on, end of ends_on] in Asia/Taipei (UTC+8, no DST)
    M.start = Date.parse(`${period.starts_on}T00:00:00+08:00`);
    M.end = Date.parse(`${period.ends_on}T00:00:00+08:00`) + 86400e3;
    assert.ok(Date.now() > M.start && Date.now() <= M.end, 'today is in the month');
    M.list = ok(await as.hr.get(`/v1/assessments?period_id=${M.id}&limit=200`)).items;
    M.a1 = M.list.find((a) => a.employee_id === EMP.staffA1.id);
    M.a2 = M.list.find((a) => a.employee_id === EMP.staffA2.id);
    assert.ok(M.a1 && M.a2);
    assert.equal(M.a1.employee_name, A1_NAME);
  });

  test('staff.a1 and staff.a2: five indicators, composite and grade, evidence ids', async () => {
    const d1 = checkMonth(await read(M.a1.id), 'a1');
    checkMonth(await read(M.a2.id), 'a2');
    assert.equal(d1.ind.accuracy.figure, 66.67, '2 of 3 rounds passed');
    assert.equal(d1.ind.satisfaction.figure, 87.5);
    assert.equal(expectMonth('a2').ind.satisfaction.figure, 81.25);
    // computing again from the same facts gives the same figures and hash
    const h = (await read(M.a1.id)).evidence_hash;
    ok(await as.hr.post(`/v1/assessment-periods/${M.id}/compute`, {}));
    const again = await read(M.a1.id);
    assert.equal(again.evidence_hash, h);
    checkMonth(again, 'a1');
  });
});

describe('3. the month\'s walk, the close', () => {
  test('staff.a1: self-assessment, evaluation (teamwork 4: composite as computed by hand), check, publication', async () => {
    let d = await read(M.a1.id);
    d = ok(await as.a1.post(`/v1/assessments/${d.id}/self-assessment`,
      { went_well: '審計案件按期完成', shortcomings: '首輪複核未通過', self_score: 85 }, im(d.version)));
    assert.equal(d.status, 'self_assessed');
    const before = d.composite;
    d = ok(await as.supA.post(`/v1/assessments/${d.id}/evaluation`, { teamwork_rating: TEAMWORK.a1, comment: '團隊配合良好' }, im(d.version)));
    M.rated = { a1: TEAMWORK.a1 };
    const e = checkMonth(d, 'a1');
    assert.equal(e.ind.teamwork.figure, 75);
    assert.notEqual(d.composite, before, 'teamwork now counts');
    d = ok(await as.hr.post(`/v1/assessments/${d.id}/check`, { note: '已核對' }, im(d.version)));
    d = ok(await as.hr.post(`/v1/assessments/${d.id}/publish`, undefined, im(d.version)));
    assert.equal(d.status, 'published');
    checkMonth(d, 'a1');
  });

  test('staff.a1 appeals; HR dismisses it with a reason; the figures stay', async () => {
    let d = ok(await as.a1.post(`/v1/assessments/${M.a1.id}/appeal`, { reason: '準確率應排除客戶資料延誤' }));
    assert.equal(d.status, 'appealed');
    d = ok(await as.hr.post(`/v1/assessments/${M.a1.id}/appeal-decision`,
      { decision: 'dismiss', reason: '複核記錄顯示首輪確有缺失，維持原評' }, im(d.version)));
    assert.equal(d.status, 'appeal_dismissed');
    assert.equal(d.appeal.decision, 'dismissed');
    checkMonth(d, 'a1');
    M.a1Composite = d.composite;
  });

  test('staff.a2: walked (teamwork 2) and acknowledged', async () => {
    const d = await walk(await read(M.a2.id), as.supA, TEAMWORK.a2);
    M.rated.a2 = TEAMWORK.a2;
    checkMonth(d, 'a2');
    const k = ok(await as.a2.post(`/v1/assessments/${M.a2.id}/acknowledge`));
    assert.equal(k.status, 'acknowledged');
    M.a2Composite = k.composite;
  });

  test('the close is refused while others are not through (409, the guard); then their walks; closed', async () => {
    const refused = assertProblem(await as.hr.post(`/v1/assessment-periods/${M.id}/close`, { reason: '月度考核完成' }), 409, 'invalid_transition');
    assert.equal(refused.guard, 'assessment.period_complete');
    const others = M.list.filter((a) => a.employee_id !== EMP.staffA1.id && a.employee_id !== EMP.staffA2.id);
    assert.deepEqual(others.map((a) => a.employee_id).sort(),
      [EMP.supA.id, EMP.staffB1.id, EMP.staffX.id, supA2.id].sort(), 'the others assessed this month');
    // sup.a has no supervisor: the department's other supervisor evaluates, so reads, it (Q3);
    // a supervisor of another department does not
    const supAs = others.find((a) => a.employee_id === EMP.supA.id);
    assert.equal(supAs.supervisor_id, null);
    assert.equal(ok(await as.supA2.get(`/v1/assessments/${supAs.id}`)).employee_id, EMP.supA.id);
    assertProblem(await as.supB.get(`/v1/assessments/${supAs.id}`), 404, 'not_found');
    assertProblem(await as.a2.get(`/v1/assessments/${supAs.id}`), 404, 'not_found');
    for (const a of others) {
      // the evaluator: the supervisor at the period's end, else a supervisor of the department
      const ev = a.supervisor_id ? byId[a.supervisor_id] : (a.employee_id === EMP.supA.id ? as.supA2 : as.supA);
      const d = await walk(await read(a.id), ev, 3);
      assert.equal(d.status, 'published');
      ok(await byId[a.employee_id].post(`/v1/assessments/${a.id}/acknowledge`));
    }
    const p = ok(await as.hr.post(`/v1/assessment-periods/${M.id}/close`, { reason: '月度考核完成' }));
    assert.equal(p.status, 'closed');
  });
});

describe('4. the year and the Q4 lists', () => {
  test('the job on the first working day of next January opens and computes the year', async () => {
    const jan = "date_trunc('year', now() AT TIME ZONE org.company_time_zone()) + interval '1 year'";
    const out = periodsJob(firstWorkday(jan));
    Y.label = M.label.slice(0, 4);
    // December and the year, unless this month is December: then the first run opened both and
    // this one (the same day) opens nothing -- a period opens once
    assert.deepEqual(out.opened, M.label.endsWith('-12') ? [] : [`${Y.label}-12`, Y.label], JSON.stringify(out));
    const p = ok(await as.hr.get('/v1/assessment-periods?limit=200')).items.find((x) => x.label === Y.label);
    assert.ok(p, 'the year is open');
    Y.id = p.id;
    const period = ok(await as.hr.get(`/v1/assessment-periods/${Y.id}`));
    assert.equal(period.kind, 'year');
    assert.deepEqual(period.parameters.assessment_promotion_rule, RULE);
    // In December the first run (the month's) opened the year already, before the month was
    // published; HR recomputes it (its assessments are still 'computed') to read the month.
    ok(await as.hr.post(`/v1/assessment-periods/${Y.id}/compute`, {}));
    const list = ok(await as.hr.get(`/v1/assessments?period_id=${Y.id}&limit=200`)).items;
    Y.a1 = list.find((a) => a.employee_id === EMP.staffA1.id);
    Y.a2 = list.find((a) => a.employee_id === EMP.staffA2.id);
    Y.live = list.length;
    for (const [a, c] of [[Y.a1, M.a1Composite], [Y.a2, M.a2Composite]]) {
      const d = await read(a.id);
      assert.equal(d.period_kind, 'year');
      assert.equal(d.months_assessed, 1, 'the one published month');
      assert.equal(d.monthly_mean, c, 'the mean of one month is its composite');
      assert.equal(d.composite, null, 'no composite before the supervisor\'s score');
    }
  });

  test('annual evaluation, check, publication: composite = 0.7 x monthly mean + 0.3 x supervisor score; grade by the bands', async () => {
    for (const who of ['a1', 'a2']) {
      let d = await read(Y[who].id);
      d = ok(await as[who].post(`/v1/assessments/${d.id}/self-assessment`, { went_well: '全年穩定', shortcomings: '效率待提升' }, im(d.version)));
      d = ok(await as.supA.post(`/v1/assessments/${d.id}/evaluation`, { supervisor_score: SUPERVISOR_SCORE[who], comment: '年度評價' }, im(d.version)));
      // a1: 0.7 x month + 0.3 x 92; a2: 0.7 x month + 0.3 x 60
      const composite = r2(ANNUAL.monthly * d.monthly_mean + ANNUAL.supervisor * SUPERVISOR_SCORE[who]);
      assert.equal(d.composite, composite, `${who} annual composite`);
      assert.equal(d.grade, grade(composite), `${who} annual grade`);
      d = ok(await as.hr.post(`/v1/assessments/${d.id}/check`, { note: '年度核對' }, im(d.version)));
      d = ok(await as.hr.post(`/v1/assessments/${d.id}/publish`, undefined, im(d.version)));
      assert.equal(d.status, 'published');
      Y[who] = d;
    }
  });

  test('salary bases and the bonus list: coefficient x base, by hand', async () => {
    const base = ok(await as.hr.post('/v1/salary-bases',
      { employee_id: EMP.staffA1.id, amount: '45000.00', effective_from: `${Y.label}-01-01`, note: '年度薪資' }), 201);
    assert.equal(base.amount, '45000.00');
    assertProblem(await as.supA.get('/v1/salary-bases'), 403, 'forbidden');
    assertProblem(await as.supA.get(`/v1/assessment-periods/${Y.id}/bonus-list`), 403, 'forbidden');
    const l = ok(await as.hr.get(`/v1/assessment-periods/${Y.id}/bonus-list`));
    assert.equal(l.period.id, Y.id);
    assert.equal(l.pending, Y.live - 2, 'the others\' years are not published');
    assert.deepEqual(l.items.map((i) => i.employee_id), [EMP.staffA1.id, EMP.staffA2.id].sort());
    const i1 = l.items.find((i) => i.employee_id === EMP.staffA1.id);
    assert.equal(i1.employee_name, A1_NAME);
    assert.equal(i1.grade, Y.a1.grade);
    assert.equal(i1.coefficient, COEFF[Y.a1.grade]);
    // bonus = coefficient x 45000.00, in cents: e.g. B 1.2 x 4 500 000 = 5 400 000 -> '54000.00'
    const cents = Math.round(COEFF[Y.a1.grade] * 4500000);
    M.bonus = `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
    assert.equal(i1.bonus, M.bonus);
    assert.equal(i1.salary_base.amount, '45000.00');
    assert.equal(i1.currency, 'TWD');
    assert.equal(i1.reason, null);
    const i2 = l.items.find((i) => i.employee_id === EMP.staffA2.id);
    assert.equal(i2.bonus, null);
    assert.equal(i2.reason, 'no_salary_base', 'no base, no bonus: said, not dropped');
  });

  test('promotion candidates: the rule (grades A, B; one month) applied by hand', async () => {
    const c = ok(await as.hr.get(`/v1/assessment-periods/${Y.id}/promotion-candidates`));
    assert.deepEqual(c.rule, RULE);
    const expected = [Y.a1, Y.a2]
      .filter((d) => RULE.grades.includes(d.grade) && d.months_assessed >= RULE.min_months_assessed)
      .map((d) => d.employee_id).sort();
    assert.ok(expected.includes(EMP.staffA1.id) === RULE.grades.includes(Y.a1.grade));
    assert.deepEqual(c.items.map((i) => i.employee_id).sort(), expected);
    for (const i of c.items) assert.equal(i.months_assessed, 1);
    assertProblem(await as.hr.get(`/v1/assessment-periods/${M.id}/promotion-candidates`), 409, 'conflict');
  });

  test('training proposals for the weak indicators of the month (thresholds of the period)', async () => {
    for (const [who, id] of [['a1', M.a1.id], ['a2', M.a2.id]]) {
      const e = expectMonth(who);
      const weak = INDICATORS.filter((i) => e.ind[i].figure !== undefined && e.ind[i].figure < THRESHOLDS[i]);
      const r = ok(await as.hr.post(`/v1/assessments/${id}/training-proposals`));
      // one plan per indicator under its threshold, and one for the shortcomings both named in
      // their self-assessments (Q4 培訓與發展)
      assert.equal(r.created, weak.length + 1, `${who}: ${weak}`);
      assert.deepEqual(r.items.filter((p) => p.source === 'indicator').map((p) => p.indicator).sort(), [...weak].sort());
      const sc = r.items.filter((p) => p.source === 'shortcoming');
      assert.equal(sc.length, 1);
      assert.ok(sc[0].goal.includes(who === 'a1' ? '首輪複核未通過' : '溝通待加強'), sc[0].goal);
      for (const p of r.items) {
        assert.equal(p.status, 'proposed');
        assert.equal(p.employee_id, who === 'a1' ? EMP.staffA1.id : EMP.staffA2.id);
      }
      assert.equal(ok(await as.hr.post(`/v1/assessments/${id}/training-proposals`)).created, 0, 'idempotent');
    }
    // staff.a2's teamwork 25 is under 50: a plan for it; staff.a1 has no weak indicator
    assert.ok(expectMonth('a2').ind.teamwork.figure < THRESHOLDS.teamwork);
    assertProblem(await as.a1.post(`/v1/assessments/${M.a1.id}/training-proposals`), 403, 'forbidden');
  });

  test('CSV: the bonus list and the year\'s assessments (BOM, header, Chinese names intact)', async () => {
    const b = await as.hr.get(`/v1/assessment-periods/${Y.id}/bonus-list`, { headers: { Accept: 'text/csv' } });
    assert.equal(b.status, 200, b.text);
    assert.match(b.headers['content-type'], /^text\/csv; charset=utf-8/);
    assert.ok(b.text.startsWith('\uFEFF'));
    const bl = b.text.slice(1).split('\r\n').filter((l) => l !== '');
    assert.equal(bl[0], 'Employee ID,Employee,Department ID,Assessment ID,Status,Grade,Composite,Coefficient,Salary base,Base from,Bonus,Currency,Reason');
    assert.equal(bl.length, 3);
    const row = bl.find((l) => l.startsWith(EMP.staffA1.id));
    assert.ok(row.includes(`,${A1_NAME},`) && row.includes(M.bonus), row);
    const a = await as.hr.get(`/v1/assessments?period_id=${Y.id}`, { headers: { Accept: 'text/csv' } });
    assert.equal(a.status, 200, a.text);
    assert.ok(a.text.startsWith('\uFEFF'));
    const al = a.text.slice(1).split('\r\n').filter((l) => l !== '');
    assert.equal(al[0], 'Assessment ID,Period,Kind,Employee,Employee ID,Department ID,Revision,Status,Composite,Grade,Monthly mean,Published at,Updated at');
    assert.equal(al.length - 1, Y.live);
    assert.ok(al.some((l) => l.includes(`,${A1_NAME},${EMP.staffA1.id},`) && l.includes(String(Y.a1.composite))), 'the name as written');
  });
});

commonHeadersTestExceptJwks();
