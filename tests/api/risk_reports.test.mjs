// Monitoring reports (module R, part D; R3.1): src/modules/risk/reports.c,
// sql/code/risk/070_reports.sql, migration 0033.
//   * POST /v1/risk-reports: a risk officer's ad hoc report, stored whole with the SHA-256 of its
//     body, following the previous one; refusals (roles, at, members) write nothing;
//   * GET /v1/risk-reports (kind, keyset pages), GET /v1/risk-reports/{id} (JSON, or the 5x5 heat
//     map as SVG), GET /v1/risk-heatmap (today's register as the caller sees it, JSON or SVG);
//   * the job risk.reports run by an instance with jobs on: the regular report when due, once.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { SVG, svgOf as svgChecks } from './lib/formats.mjs';
import { assertProblem, freshDatabase, lit, pg, waitFor } from './lib/harness.mjs';
import {
  BY_ROLE, EMP, ROLES, assertFieldError, assertUnauthorized, call, client, loadFixtures,
  newSigningKey, ok, ownToken, startIdentityService,
} from './lib/identity.mjs';

const DB = 'tx_api_risk_reports';
const UNKNOWN = '7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e';
const owner = (sql) => pg(sql, { db: DB, user: 'tianxing_owner' });
const q = (sql) => pg(sql, { db: DB });
let key;
let svc;
const as = {};

const count = () => Number(q('SELECT count(*) FROM risk.reports'));
const get = (c, p, accept) => c.get(p, accept === undefined ? {} : { headers: { Accept: accept } });

// The job's function under the scheduler's claims, as the worker runs it; its JSON result.
const runJob = (payload) => JSON.parse(owner(`BEGIN;
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', 'system', true), set_config('tx.request_id', 'job:test', true);
SELECT risk.reports_job(${lit(JSON.stringify(payload))}::jsonb);
COMMIT;`).split('\n').find((l) => l.startsWith('{')));

// The shared checks of a chart (lib/formats.mjs), and the map's 5x5 grid of cells.
function svgOf(res) {
  const s = svgChecks(res, { cells: 'count(//*[local-name()="rect"][@width="70"])' });
  assert.equal(s.cells, '25', 'a 5x5 grid');
  return s;
}

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startIdentityService(DB, key);
  loadFixtures(DB);
  for (const r of ROLES) as[r] = client(svc, ownToken(key, BY_ROLE[r]));
  as.supA = client(svc, ownToken(key, EMP.supA));
  as.staffB1 = client(svc, ownToken(key, EMP.staffB1));
});

describe('ad hoc reports (POST /v1/risk-reports; R3.1)', () => {
  let first;
  test('a risk officer makes one: 201, Location, stored whole with the SHA-256 of its body', async () => {
    const res = await as.risk_officer.post('/v1/risk-reports', {});
    first = ok(res, 201);
    assert.equal(res.headers.location, `/v1/risk-reports/${first.id}`);
    assert.equal(first.kind, 'ad_hoc');
    assert.equal(first.scheduled_on, null);
    assert.equal(first.made_by, EMP.risk.id);
    assert.equal(first.previous_id, null, 'the first report');
    assert.equal(first.body_sha256, q(`SELECT encode(sha256(convert_to(body::text, 'UTF8')), 'hex') FROM risk.reports WHERE id = ${lit(first.id)}`));
    assert.equal(first.body.as_of, first.covers_to);
    for (const k of ['register', 'heatmap', 'changes', 'responses', 'indicators', 'warnings']) {
      assert.ok(k in first.body, `body.${k}`);
    }
    assert.deepEqual(first.body.heatmap.levels, JSON.parse(q(`SELECT org.policy_value('risk_matrix') -> 'cells'`)));
    assert.equal(first.summary.open, first.body.register.open);
  });
  test('the next follows it, covering what happened since its instant', async () => {
    const second = ok(await as.admin.post('/v1/risk-reports', {}), 201);
    assert.equal(second.previous_id, first.id);
    assert.equal(second.covers_from, first.covers_to);
    assert.ok(second.covers_to >= second.covers_from);
  });
  test('GET returns it as made; the list is newest first, without bodies', async () => {
    assert.deepEqual(ok(await as.auditor.get(`/v1/risk-reports/${first.id}`)), first);
    const page = ok(await as.supervisor.get('/v1/risk-reports'));
    assert.equal(page.items.length, 2);
    assert.equal(page.items[1].id, first.id, 'the first made is last');
    assert.equal(page.items[0].body, null);
    assert.equal(page.next_cursor, null);
    const one = ok(await as.risk_officer.get('/v1/risk-reports?limit=1'));
    assert.equal(one.items.length, 1);
    const rest = ok(await as.risk_officer.get(`/v1/risk-reports?limit=1&cursor=${one.next_cursor}`));
    assert.deepEqual(rest.items.map((r) => r.id), [first.id]);
    assert.equal(rest.next_cursor, null);
    assert.deepEqual(ok(await as.auditor.get('/v1/risk-reports?kind=regular')).items, []);
  });
  test('bad input: 422 naming the field, nothing written', async () => {
    const n = count();
    const future = new Date(Date.now() + 3600e3).toISOString();
    assertFieldError(await as.risk_officer.post('/v1/risk-reports', { at: future }), 'at');
    assertFieldError(await as.risk_officer.post('/v1/risk-reports', { at: '2020-01-01T00:00:00Z' }), 'at');
    assertFieldError(await as.risk_officer.post('/v1/risk-reports', { kind: 'regular' }), 'kind');
    assertFieldError(await as.risk_officer.get('/v1/risk-reports?cursor=nope'), 'cursor');
    assertFieldError(await as.risk_officer.get(`/v1/risk-reports?cursor=${UNKNOWN}`), 'cursor');
    assertFieldError(await as.risk_officer.get('/v1/risk-reports?kind=weekly'), 'kind');
    assert.equal(count(), n);
  });
  test('who: risk officers and admin make; supervisors, auditors and staff may not', async () => {
    const n = count();
    for (const c of [as.supervisor, as.auditor, as.staff, as.hr, as.supA]) {
      assertProblem(await c.post('/v1/risk-reports', {}), 403, 'forbidden');
    }
    assertUnauthorized(await call(svc, 'POST', '/v1/risk-reports', { body: {} }), { invalid: false });
    assert.equal(count(), n);
  });
  test('who reads: risk officers, admin, auditors, supervisors; staff and hr: 403', async () => {
    for (const c of [as.risk_officer, as.admin, as.auditor, as.supervisor, as.supA]) {
      ok(await c.get('/v1/risk-reports'));
      ok(await c.get(`/v1/risk-reports/${first.id}`));
    }
    for (const c of [as.staff, as.hr]) {
      assertProblem(await c.get('/v1/risk-reports'), 403, 'forbidden');
      assertProblem(await c.get(`/v1/risk-reports/${first.id}`), 403, 'forbidden');
    }
    assertProblem(await as.auditor.get(`/v1/risk-reports/${UNKNOWN}`), 404, 'not_found');
    assertProblem(await as.auditor.get('/v1/risk-reports/not-a-uuid'), 404, 'not_found');
  });
  test('a report is immutable: not even the owner role changes or deletes it', () => {
    assert.throws(() => owner(`UPDATE risk.reports SET kind = 'regular', scheduled_on = current_date WHERE id = ${lit(first.id)}`),
      /never changed or deleted/);
    assert.throws(() => owner(`DELETE FROM risk.reports WHERE id = ${lit(first.id)}`), /never changed or deleted/);
  });
  test('its heat map as SVG: well-formed, role="img", a title with its instant, the cells in words', async () => {
    const s = svgOf(await get(as.auditor, `/v1/risk-reports/${first.id}`, SVG));
    assert.equal(s.title, `風險熱力圖 Risk heat map, as of ${first.covers_to}`);
    assert.match(s.desc, /Total on the map: 0\./);
    assertProblem(await get(as.auditor, `/v1/risk-reports/${first.id}`, 'text/csv'), 406, 'not_acceptable');
    assertProblem(await get(as.staff, `/v1/risk-reports/${first.id}`, SVG), 403, 'forbidden');
  });
});

describe('the job risk.reports (R3.1 定期)', () => {
  test('it is scheduled daily', () => {
    assert.equal(owner(`SELECT kind || ' ' || calendar FROM jobs.schedules WHERE name = 'risk.reports'`),
      'risk.reports daily 03:00');
  });
  test('an instance with jobs on makes the regular report, once for the day', async () => {
    const jobs = await startIdentityService(DB, key, { TIANXING_JOBS: 'on', TIANXING_JOB_POLL_MS: 100, TIANXING_ACCESS_LOG: 'false' });
    try {
      const id = owner(`SELECT jobs.enqueue('risk.reports', now(), '{}'::jsonb)`);
      const state = () => q(`SELECT state FROM jobs.jobs WHERE id = ${lit(id)}`);
      await waitFor(() => state() !== 'due' && state() !== 'running', { timeout: 20000, what: 'the job to finish' });
      assert.equal(state(), 'done');
    } finally {
      await jobs.stop();
    }
    const regular = ok(await as.risk_officer.get('/v1/risk-reports?kind=regular')).items;
    assert.equal(regular.length, 1);
    assert.equal(regular[0].made_by, null, 'made by the job');
    assert.equal(regular[0].scheduled_on, q(`SELECT (now() AT TIME ZONE org.company_time_zone())::date`));
    const all = ok(await as.risk_officer.get('/v1/risk-reports')).items;
    assert.equal(all[0].id, regular[0].id, 'newest first');
    assert.equal(regular[0].previous_id, all[1].id, 'it follows the latest report');
    assert.equal(runJob({}).made, null, 'the same day again: none');
  });
  test('due again report_every_months after the day of the last', () => {
    const due = runJob({}).due_on;
    const months = Number(q(`SELECT org.policy_value('risk_schedules') ->> 'report_every_months'`));
    assert.equal(due, q(`SELECT ((now() AT TIME ZONE org.company_time_zone())::date + interval '${months} months')::date`));
    const before = q(`SELECT (${lit(due)}::date - 1)::text`);
    assert.equal(runJob({ today: before }).made, null);
    const made = runJob({ today: due }).made;
    assert.match(made, /^[0-9a-f-]{36}$/);
    assert.equal(runJob({ today: due }).made, null, 'once for that day');
    assert.throws(() => runJob({ today: '2026-02-30' }), /today must be a date/);
  });
});

describe('the live heat map (GET /v1/risk-heatmap)', () => {
  test('every signed-in employee reads the open risks they may see, on the matrix in force', async () => {
    for (const r of ROLES) {
      const h = ok(await as[r].get('/v1/risk-heatmap'));
      assert.equal(h.heatmap.counts.length, 5);
      assert.deepEqual(h.heatmap.levels, JSON.parse(q(`SELECT org.policy_value('risk_matrix') -> 'cells'`)));
      svgOf(await get(as[r], '/v1/risk-heatmap', SVG));
    }
    assertUnauthorized(await call(svc, 'GET', '/v1/risk-heatmap'), { invalid: false });
    assertProblem(await get(as.staff, '/v1/risk-heatmap', 'text/csv'), 406, 'not_acceptable');
  });
});

// Rows of parts A and C through their SQL writers (risk.report, risk.assess, risk.response_add),
// as an employee the way a request runs them (tx.begin_request); the last line of output.
const asEmployee = (e, sql) => pg(`BEGIN;
SELECT tx.begin_request(${lit(e.id)}, ${lit(e.roles.join(','))}, 'test-risk-reports');
${sql};
COMMIT;`, { db: DB, user: 'tianxing_app' }).split('\n').filter((l) => l !== '' && l !== 'BEGIN' && l !== 'COMMIT').pop();
const newRisk = (e, body) => asEmployee(e, `SELECT (risk.report(${lit(JSON.stringify(body))}::jsonb)).id`);
const assess = (e, id, l, i, kind = 'inherent') => asEmployee(e, `SELECT (risk.assess(${lit(id)}, ${lit(JSON.stringify({
  kind, likelihood: l, impact: i, exposure: '250000.00', currency: 'TWD', probability: 0.3, method: 'workshop',
}))}::jsonb)).level`);

describe('what a report states of the register (R3.1 with R1.2, R2.1)', () => {
  const r = {};
  let before;
  let after;
  test('a register changes between two reports', async () => {
    before = ok(await as.risk_officer.post('/v1/risk-reports', {}), 201);
    r.credit = newRisk(EMP.risk, { category: 'credit', title: '大客戶逾期 <late>', description: 'A large customer pays late.', department_id: EMP.supA.dept });
    assert.equal(assess(EMP.risk, r.credit, 4, 5), 'critical');
    r.ops = newRisk(EMP.staffA1, { category: 'operational', title: 'Printer', description: 'Reported by staff.' });
    r.response = asEmployee(EMP.risk, `SELECT (risk.response_add(${lit(r.credit)}, '{"strategy": "reduce", "description": "Prepayment."}'::jsonb)).id`);
    // three days pass and the response is not done
    owner(`UPDATE risk.responses SET due_on = (now() AT TIME ZONE org.company_time_zone())::date - 3 WHERE id = ${lit(r.response)}`);
    // an indicator measured by the job at its warning threshold raises a warning (part C, R3.2)
    r.kri = q(`SELECT id FROM risk.kris WHERE code = 'open_escalations'`);
    r.warnAt = Number(q(`SELECT org.policy_value('kri_thresholds') -> 'open_escalations' ->> 'warning'`));
    owner(`BEGIN;
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', 'system', true), set_config('tx.request_id', 'job:test', true);
SELECT risk.measure(${lit(r.kri)}, ${r.warnAt}, 'job', NULL);
COMMIT;`);
    after = ok(await as.risk_officer.post('/v1/risk-reports', {}), 201);
    assert.equal(after.previous_id, before.id);
  });
  test('new risks, levels, the heat map, overdue responses', () => {
    const code = (id) => q(`SELECT code FROM risk.risks WHERE id = ${lit(id)}`);
    assert.deepEqual(after.body.changes.new.map((x) => x.code).sort(), [code(r.credit), code(r.ops)].sort());
    assert.deepEqual(after.body.changes.level_changed.map((x) => [x.code, x.kind, x.from, x.to]),
      [[code(r.credit), 'inherent', null, 'critical']]);
    assert.equal(after.body.register.open, before.body.register.open + 2);
    assert.equal(after.body.register.by_level.critical, before.body.register.by_level.critical + 1);
    assert.equal(after.body.register.by_level.unassessed, before.body.register.by_level.unassessed + 1);
    assert.equal(after.body.heatmap.counts[3][4], before.body.heatmap.counts[3][4] + 1, 'likelihood 4, impact 5');
    const overdue = after.body.responses.overdue.find((x) => x.id === r.response);
    assert.ok(overdue, JSON.stringify(after.body.responses));
    assert.equal(overdue.days_overdue, 3);
    assert.equal(overdue.risk.code, code(r.credit));
    assert.equal(after.summary.new, 2);
    assert.equal(after.summary.overdue_responses, after.body.responses.overdue.length);
    assert.deepEqual(before.body.responses.overdue.filter((x) => x.id === r.response), [], 'the report before did not know it');
  });
  test('indicators and warnings (R3.2, R3.3): the latest value and band, the warning raised since', () => {
    const kri = after.body.indicators.find((x) => x.code === 'open_escalations');
    assert.equal(kri.value, r.warnAt);
    assert.equal(kri.band, 'warning', 'reaching the threshold counts (inclusive)');
    assert.deepEqual(after.body.warnings.raised.map((w) => [w.kri_code, w.level, w.status]), [['open_escalations', 'warning', 'open']]);
    assert.ok(after.body.warnings.open.some((w) => w.kri_code === 'open_escalations'));
    assert.equal(before.body.warnings.raised.length, 0);
    assert.equal(after.summary.raised_warnings, 1);
  });
  test('the SVG says the occupied cells in words and escapes nothing it should not', async () => {
    const res = await get(as.risk_officer, `/v1/risk-reports/${after.id}`, SVG);
    const s = svgOf(res);
    assert.ok(s.desc.includes(`likelihood 4 impact 5 (critical): ${after.body.heatmap.counts[3][4]}`), s.desc);
    assert.ok(s.desc.includes(`Total on the map: ${after.body.heatmap.total}.`), s.desc);
  });
  test('the live heat map: each caller sees the risks the register shows them', async () => {
    const mine = ok(await client(svc, ownToken(key, EMP.staffA1)).get('/v1/risk-heatmap'));
    assert.equal(mine.open, 1, 'staff.a1: the one they reported');
    assert.equal(mine.unassessed, 1);
    const other = ok(await as.staffB1.get('/v1/risk-heatmap'));
    assert.equal(other.open, 0, 'staff.b1: none');
    const supA = ok(await as.supA.get('/v1/risk-heatmap'));
    assert.equal(supA.heatmap.counts[3][4], 1, 'department A\'s supervisor: the department\'s risk');
    const all = ok(await as.auditor.get('/v1/risk-heatmap'));
    assert.equal(all.open, after.body.register.open);
    assert.deepEqual(all.heatmap.counts, after.body.heatmap.counts);
  });
});
