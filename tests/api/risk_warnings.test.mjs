// Module R, part C: key risk indicators and warnings through the API (R3.2, R3.3;
// src/modules/risk/kris.c, warnings.c; sql/code/risk/050_kris.sql, 060_warnings.sql).
//
// The Done-when: an indicator crossing its threshold raises exactly one warning (and none
// while it hovers), which is analysed, handled and closed. The indicator is a hand-entered one
// defined here; its thresholds enter the policy kri_thresholds the only way thresholds may: HR
// proposes a new value and another administrator approves it (G3 four-eyes, effective today).
// No migration seeds a test threshold and the seven shipped indicators keep their approved ones.
// The computed indicators' figures are proved by sql/tests/risk_kris.sql; here they are measured
// on request and by the job's body.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { assertProblem, commonHeadersTest, freshDatabase, lit, pg } from './lib/harness.mjs';
import {
  BY_ROLE, EMP, ROLES, assertFieldError, client, dbDay, loadFixtures, newSigningKey, ok, ownToken,
  startIdentityService,
} from './lib/identity.mjs';

const DB = 'tx_api_risk_warnings';
const owner = (sql) => pg(sql, { db: DB, user: 'tianxing_owner' });
let svc;
const as = {};
const UNKNOWN = '7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e';
const im = (v) => ({ headers: { 'If-Match': `"${v}"` } });
const CODE = 'complaints_month';
let kri;          // the hand-entered indicator
let warning;      // its first warning

// The job's function under the scheduler's claims (no employee), as the worker runs it.
const runJob = (payload) => JSON.parse(owner(`BEGIN;
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', 'system', true), set_config('tx.request_id', 'job:test', true);
SELECT risk.kris_job(${lit(JSON.stringify(payload))}::jsonb);
COMMIT;`).split('\n').find((l) => l.startsWith('{')));

// A value of the indicator entered by its owner (staff.a2); returns the measurement.
const measure = async (value) => ok(await as.staffA2.post(`/v1/kris/${kri.id}/measurements`, { value }), 201);
const warningsOf = async () => ok(await as.risk.get(`/v1/warnings?kri_id=${kri.id}`)).items;

before(async () => {
  const key = newSigningKey();
  freshDatabase(DB);
  svc = await startIdentityService(DB, key);
  loadFixtures(DB);
  for (const r of ROLES) as[r] = client(svc, ownToken(key, BY_ROLE[r]));
  as.risk = as.risk_officer;
  as.admin2 = client(svc, ownToken(key, EMP.admin2));
  as.supA = client(svc, ownToken(key, EMP.supA));
  as.staffA2 = client(svc, ownToken(key, EMP.staffA2));
});

describe('defining an indicator and its thresholds (R3.2)', () => {
  test('the seven computed indicators are shipped, known to everyone signed in', async () => {
    const list = ok(await as.staff.get('/v1/kris')).items;
    assert.deepEqual(list.map((k) => k.code), ['contracts_under_prepayment', 'credit_expiring', 'open_escalations',
      'overdue_milestones', 'receivables_overdue', 'rework_rate', 'stale_customers']);
    for (const k of list) {
      assert.equal(k.source, 'computed');
      assert.equal(k.compute, `risk.kri_${k.code}`);
      assert.equal(typeof k.thresholds.warning, 'number', `${k.code} has its thresholds`);
    }
    assert.deepEqual(ok(await as.staff.get('/v1/kris?category=credit')).items.map((k) => k.code),
      ['contracts_under_prepayment', 'credit_expiring', 'receivables_overdue']);
    assertFieldError(await as.staff.get('/v1/kris?category=weather'), 'category');
  });

  test('only risk officers and admin define one; bad input is 422 and writes nothing', async () => {
    const body = { code: CODE, name: '月客訴件數 Complaints a month', measures: '本月客戶投訴件數', source: 'manual',
      unit: 'complaints', direction: 'up', category: 'operational', owner_id: EMP.staffA2.id };
    assertProblem(await as.staff.post('/v1/kris', body), 403, 'forbidden');
    assertProblem(await as.supervisor.post('/v1/kris', body), 403, 'forbidden');
    assertFieldError(await as.risk.post('/v1/kris', { ...body, direction: 'sideways' }), 'direction');
    assertFieldError(await as.risk.post('/v1/kris', { ...body, source: 'computed', compute: 'risk.kri_nothing' }), 'compute');
    assertFieldError(await as.risk.post('/v1/kris', { ...body, owner_id: EMP.gone.id }), 'owner_id');
    assertFieldError(await as.risk.post('/v1/kris', { ...body, colour: 'red' }), 'colour');
    assert.equal(owner(`SELECT count(*) FROM risk.kris WHERE code = ${lit(CODE)}`), '0');
    const res = await as.risk.post('/v1/kris', body);
    kri = ok(res, 201);
    assert.equal(res.headers.location, `/v1/kris/${kri.id}`);
    assert.equal(kri.source, 'manual');
    assert.equal(kri.thresholds, null, 'no thresholds until the policy gives some');
    assert.equal(kri.armed, true);
    const dup = assertProblem(await as.risk.post('/v1/kris', body), 409, 'conflict');
    assert.equal(dup.existing_id, kri.id);
  });

  test('its thresholds: HR proposes a new kri_thresholds, another administrator approves (four-eyes)', async () => {
    const current = ok(await as.hr.get('/v1/policy-parameters/kri_thresholds'));
    const value = { ...current.value, [CODE]: { warning: 5, critical: 10, rearm: 1, frequency: 'monthly' } };
    const p = ok(await as.admin2.post('/v1/policy-parameters/kri_thresholds/proposals',
      { value, effective_from: dbDay(DB), reason: '客訴指標:月 5 件預警,10 件嚴重' }), 201);
    assertProblem(await as.admin2.post(`/v1/policy-proposals/${p.id}/approve`, {}), 403, 'forbidden');
    assert.equal(ok(await as.admin.post(`/v1/policy-proposals/${p.id}/approve`, { reason: '同意' })).status, 'approved');
    const k = ok(await as.staff.get(`/v1/kris/${kri.id}`));
    assert.deepEqual(k.thresholds, { warning: 5, critical: 10, rearm: 1, frequency: 'monthly' });
  });

  test('PATCH: If-Match required and current; only risk officers and admin', async () => {
    assertProblem(await as.risk.patch(`/v1/kris/${kri.id}`, { unit: '件' }), 428, 'precondition_required');
    assertProblem(await as.risk.patch(`/v1/kris/${kri.id}`, { unit: '件' }, im(kri.version + 5)), 412, 'precondition_failed');
    assertProblem(await as.staffA2.patch(`/v1/kris/${kri.id}`, { unit: '件' }, im(kri.version)), 403, 'forbidden');
    assertFieldError(await as.risk.patch(`/v1/kris/${kri.id}`, { direction: 'down' }, im(kri.version)), 'direction');
    const k = ok(await as.risk.patch(`/v1/kris/${kri.id}`, { unit: '件' }, im(kri.version)));
    assert.equal(k.unit, '件');
    assert.equal(k.version, kri.version + 1);
    assertProblem(await as.risk.patch(`/v1/kris/${UNKNOWN}`, { unit: '件' }, im(1)), 404, 'not_found');
    kri = k;
  });
});

describe('Done when: crossing the threshold raises exactly one warning, none while it hovers (R3.2)', () => {
  test('who measures: the owner, risk officers and admin; a value is required', async () => {
    assertProblem(await as.staff.post(`/v1/kris/${kri.id}/measurements`, { value: 1 }), 403, 'forbidden');
    assertProblem(await as.supervisor.post(`/v1/kris/${kri.id}/measurements`, { value: 1 }), 403, 'forbidden');
    assertFieldError(await as.staffA2.post(`/v1/kris/${kri.id}/measurements`, {}), 'value');
    assertFieldError(await as.staffA2.post(`/v1/kris/${kri.id}/measurements`, { value: 'many' }), 'value');
    assertProblem(await as.risk.post(`/v1/kris/${UNKNOWN}/measurements`, { value: 1 }), 404, 'not_found');
    assert.equal(owner(`SELECT count(*) FROM risk.kri_measurements WHERE kri_id = ${lit(kri.id)}`), '0');
  });

  test('under the threshold: normal, no warning', async () => {
    const m = await measure(4);
    assert.equal(m.band, 'normal');
    assert.equal(m.warning, null);
    assert.equal(m.warning_action, null);
    assert.equal(m.source, 'manual');
    assert.equal(m.entered_by, EMP.staffA2.id);
    assert.deepEqual(await warningsOf(), []);
  });

  test('reaching it (inclusive) raises the warning at once', async () => {
    const m = await measure(5);
    assert.equal(m.band, 'warning');
    assert.equal(m.warning_action, 'raised');
    warning = m.warning;
    assert.equal(warning.status, 'open');
    assert.equal(warning.level, 'warning');
    assert.equal(warning.value, 5);
    assert.equal(warning.threshold, 5);
    assert.equal(warning.measurement_id, m.id);
    assert.equal(warning.owner_id, EMP.staffA2.id, 'the indicator\'s owner is notified');
    assert.equal(warning.kri.code, CODE);
    assert.equal((await warningsOf()).length, 1);
  });

  test('hovering at the threshold raises nothing more', async () => {
    for (const v of [4.5, 5, 6, 4.5, 5]) {
      const m = await measure(v);
      assert.equal(m.warning, null, `${v}: no warning`);
      assert.equal(m.band, v >= 5 ? 'warning' : 'normal');
    }
    const list = await warningsOf();
    assert.equal(list.length, 1, 'exactly one warning');
    assert.equal(list[0].id, warning.id);
    assert.equal(ok(await as.staff.get(`/v1/kris/${kri.id}`)).armed, false, 'disarmed until back by the margin');
  });

  test('a critical reading escalates the open warning', async () => {
    const m = await measure(10);
    assert.equal(m.band, 'critical');
    assert.equal(m.warning_action, 'escalated');
    assert.equal(m.warning.id, warning.id);
    assert.equal(m.warning.level, 'critical');
    assert.equal(m.warning.threshold, 10);
    assert.equal((await warningsOf()).length, 1);
  });

  test('the history of values: auditors and supervisors read it, paged', async () => {
    assertProblem(await as.staffA2.get(`/v1/kris/${kri.id}/measurements`), 403, 'forbidden');
    const p1 = ok(await as.auditor.get(`/v1/kris/${kri.id}/measurements?limit=3`));
    assert.deepEqual(p1.items.map((m) => m.value), [10, 5, 4.5]);
    assert.ok(p1.next_cursor);
    const p2 = ok(await as.supervisor.get(`/v1/kris/${kri.id}/measurements?limit=10&cursor=${p1.next_cursor}`));
    assert.deepEqual(p2.items.map((m) => m.value), [6, 5, 4.5, 5, 4]);
    assert.equal(p2.next_cursor, null);
    assert.deepEqual(p2.items.map((m) => m.warning_threshold), [5, 5, 5, 5, 5], 'the thresholds in force are kept');
    assertFieldError(await as.auditor.get(`/v1/kris/${kri.id}/measurements?cursor=nope`), 'cursor');
  });
});

describe('Done when: the warning is analysed, handled and closed (R3.3)', () => {
  test('who sees it: the watchers and its owner; not other staff', async () => {
    assertProblem(await as.staff.get(`/v1/warnings/${warning.id}`), 404, 'not_found');
    assert.deepEqual(ok(await as.staff.get('/v1/warnings')).items, []);
    assert.equal(ok(await as.staffA2.get(`/v1/warnings/${warning.id}`)).id, warning.id);
    assert.equal(ok(await as.auditor.get(`/v1/warnings/${warning.id}`)).status, 'open');
    assertProblem(await as.risk.get(`/v1/warnings/${UNKNOWN}`), 404, 'not_found');
    assertFieldError(await as.risk.get('/v1/warnings?status=forgotten'), 'status');
    assertFieldError(await as.risk.get('/v1/warnings?cursor=x'), 'cursor');
  });

  test('not closed before it is analysed and handled; wrong roles are refused', async () => {
    const p = assertProblem(await as.risk.post(`/v1/warnings/${warning.id}/close`, { outcome: 'resolved' }), 409, 'invalid_transition');
    assert.equal(p.state, 'open');
    assert.deepEqual(p.allowed_actions, ['analyse']);
    assertProblem(await as.staffA2.post(`/v1/warnings/${warning.id}/analyse`, { root_cause: 'x' }), 403, 'forbidden');
    assertProblem(await as.auditor.post(`/v1/warnings/${warning.id}/analyse`, { root_cause: 'x' }), 403, 'forbidden');
    assertProblem(await as.risk.post(`/v1/warnings/${UNKNOWN}/analyse`, { root_cause: 'x' }), 404, 'not_found');
  });

  test('analysed: the root cause and the analyst (深入分析); bad input writes nothing', async () => {
    assertFieldError(await as.supA.post(`/v1/warnings/${warning.id}/analyse`, {}), 'root_cause');
    assertFieldError(await as.supA.post(`/v1/warnings/${warning.id}/analyse`, { root_cause: 'x', blame: 'y' }), 'blame');
    assert.equal(ok(await as.risk.get(`/v1/warnings/${warning.id}`)).status, 'open', 'nothing was written');
    const w = ok(await as.supA.post(`/v1/warnings/${warning.id}/analyse`,
      { root_cause: '新系統上線後交付延遲,客戶投訴集中於 A 部門', analysis: '十件中八件為交付延遲' }));
    assert.equal(w.status, 'analysed');
    assert.equal(w.analyst_id, EMP.supA.id);
    assert.ok(w.analysed_at);
    assert.deepEqual(w.allowed_actions, ['handle']);
  });

  test('handled: the measures taken, and a new risk in the register (R1.1)', async () => {
    const measures = '延遲案件每日追蹤,客服主動回電;A 部門加派兩人兩週';
    assertFieldError(await as.risk.post(`/v1/warnings/${warning.id}/handle`, { measures: '' }), 'measures');
    assertFieldError(await as.risk.post(`/v1/warnings/${warning.id}/handle`,
      { measures, new_risk: { category: 'operational' } }), 'title');
    assertFieldError(await as.risk.post(`/v1/warnings/${warning.id}/handle`, { measures, new_risk: 'yes' }), 'new_risk');
    assert.equal(owner('SELECT count(*) FROM risk.risks'), '0', 'no risk was written');
    const w = ok(await as.risk.post(`/v1/warnings/${warning.id}/handle`, {
      measures,
      new_risk: { category: 'operational', title: '交付延遲引發客訴', description: '新系統上線後交付延遲,客訴超過預警值',
        department_id: EMP.supA.dept },
    }));
    assert.equal(w.status, 'handled');
    assert.equal(w.handled_by, EMP.risk.id);
    assert.ok(w.risk_id, 'the new risk');
    assert.equal(owner(`SELECT warning_id || ' ' || status || ' ' || category FROM risk.risks WHERE id = ${lit(w.risk_id)}`),
      `${warning.id} identified operational`, 'the risk records the warning it came from');
  });

  test('closed with an outcome, by a risk officer or admin', async () => {
    assertProblem(await as.supA.post(`/v1/warnings/${warning.id}/close`, { outcome: 'resolved' }), 403, 'forbidden');
    assertFieldError(await as.risk.post(`/v1/warnings/${warning.id}/close`, { outcome: 'accepted' }), 'outcome_note');
    assertFieldError(await as.risk.post(`/v1/warnings/${warning.id}/close`, { outcome: 'gone' }), 'outcome');
    const w = ok(await as.risk.post(`/v1/warnings/${warning.id}/close`, { outcome: 'mitigated', outcome_note: '投訴回落中' }));
    assert.equal(w.status, 'closed');
    assert.equal(w.outcome, 'mitigated');
    assert.equal(w.closed_by, EMP.risk.id);
    assert.deepEqual(w.allowed_actions, []);
    const again = assertProblem(await as.risk.post(`/v1/warnings/${warning.id}/close`, { outcome: 'resolved' }), 409, 'invalid_transition');
    assert.equal(again.state, 'closed');
    const t = ok(await as.auditor.get(`/v1/warnings/${warning.id}/transitions`));
    assert.deepEqual(t.items.map((x) => [x.action, x.actor_id]),
      [['analyse', EMP.supA.id], ['handle', EMP.risk.id], ['close', EMP.risk.id]]);
  });

  test('after the close: still no new warning while the value stays up; a new one once it came back', async () => {
    assert.equal((await measure(7)).warning, null, 'never came back: nothing');
    assert.equal((await measure(4.5)).warning, null, '4.5 is not back by the margin (<= 4)');
    assert.equal((await measure(5)).warning, null, 'so 5 again raises nothing');
    assert.equal((await measure(4)).warning, null, '4: back by the margin, re-armed');
    assert.equal(ok(await as.staff.get(`/v1/kris/${kri.id}`)).armed, true);
    const m = await measure(5);
    assert.equal(m.warning_action, 'raised');
    assert.notEqual(m.warning.id, warning.id);
    const list = await warningsOf();
    assert.deepEqual(list.map((w) => w.status), ['open', 'closed'], 'newest first');
    assert.deepEqual(ok(await as.risk.get(`/v1/warnings?kri_id=${kri.id}&status=closed`)).items.map((w) => w.id), [warning.id]);
  });

  test('the list as CSV', async () => {
    const csv = await as.risk.get(`/v1/warnings?kri_id=${kri.id}`, { headers: { Accept: 'text/csv' } });
    assert.equal(csv.status, 200, csv.text);
    assert.match(csv.headers['content-type'], /^text\/csv/);
    const lines = csv.text.split('\r\n');
    assert.equal(lines[0], '\ufeffWarning ID,Indicator,Level,Value,Threshold,Status,Raised at,Escalated at,'
      + 'Root cause,Measures,Risk ID,Outcome,Closed at');
    assert.equal(lines.filter((l) => l.includes(CODE)).length, 2);
  });
});

describe('computed indicators: measured on request and by the job (R3.2)', () => {
  test('a computed indicator is measured from the data, never given a value', async () => {
    const k = ok(await as.staff.get('/v1/kris')).items.find((x) => x.code === 'open_escalations');
    assertFieldError(await as.risk.post(`/v1/kris/${k.id}/measurements`, { value: 3 }), 'value');
    const m = ok(await as.risk.post(`/v1/kris/${k.id}/measurements`, { note: '抽查' }), 201);
    assert.equal(m.value, 0);
    assert.equal(m.source, 'request');
    assert.equal(m.entered_by, EMP.risk.id);
    assert.equal(m.band, 'normal');
  });

  test('the job measures every computed indicator due, once a day', () => {
    assert.equal(owner(`SELECT kind || ' ' || calendar FROM jobs.schedules WHERE name = 'risk.kris'`), 'risk.kris daily 02:15');
    assert.deepEqual(runJob({ force: true }), { measured: 7 });
    assert.deepEqual(runJob({}), { measured: 0 }, 'nothing is due again the same day');
    assert.equal(owner(`SELECT count(*) FROM risk.kri_measurements WHERE source = 'job'`), '7');
    assert.equal(owner(`SELECT count(*) FROM risk.kri_measurements m JOIN risk.kris k ON k.id = m.kri_id
                         WHERE k.code = ${lit(CODE)} AND m.source = 'job'`), '0', 'a hand-entered one is not the job\'s');
  });
});

commonHeadersTest();
