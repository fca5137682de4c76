// Charts for people (issue 16): case throughput and overdue by week (GET /v1/case-stats/weekly,
// src/modules/cases/charts.c, sql/code/cases/100_stats.sql) and a key risk indicator's values over
// time (GET /v1/kris/{id}/trend, src/modules/risk/kri_trend.c, sql/code/risk/055_kri_trend.sql):
// JSON by default with the numbers the data gives, SVG on Accept: image/svg+xml (well-formed per
// xmllint, title and desc saying the numbers, width/height/viewBox, nothing active, text
// escaped), 406 for anything else, and who sees what.
//
// The cases are made through the real routes (received, assessed, cancelled); the deadlines job's
// pass runs at an instant 30 days ahead, as tests/api/case_time.test.mjs does, so that the
// reception deadlines still open are marked overdue in that week. Measurements of the past are
// inserted as the owner (the routes only measure now); one more is measured through the route.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { assertProblem, freshDatabase, lit, pg } from './lib/harness.mjs';
import { asClient, caseRequest, createBusinessType, newCustomer } from './lib/cases.mjs';
import { customerKeys, startCustomerService } from './lib/customers.mjs';
import { CSV, SVG, svgOf, xmllint } from './lib/formats.mjs';
import { DEPT, EMP, assertFieldError, loadFixtures, newSigningKey, ok } from './lib/identity.mjs';

const DB = 'tx_api_charts';
const NOBODY = '7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f';
const owner = (sql) => pg(sql, { db: DB, user: 'tianxing_owner' });
const app = (sql) => pg(sql, { db: DB, user: 'tianxing_app' });
const get = (client, p, accept) => client.get(p, accept === undefined ? {} : { headers: { Accept: accept } });
let svc;
const c = {};
let type;          // the business type of case 1
let weekNow;       // ISO week of the company's today, e.g. 2026-W49
let weekLate;      // ISO week of the deadlines job's pass, 30 days ahead
let toLate;        // a `to` that covers that week (company date 35 days ahead)

// The ISO week label and the company date of an instant (SQL expression).
const weekOf = (at) => app(`SELECT to_char(date_trunc('week', org.company_date(${at})), 'IYYY-"W"IW')`);

// The root element's geometry attributes of an SVG text.
function geometry(svg) {
  const root = /<svg\b[^>]*>/.exec(svg)[0];
  const attr = (n) => new RegExp(`\\s${n}="([^"]*)"`).exec(root)?.[1];
  return { width: attr('width'), height: attr('height'), viewBox: attr('viewBox') };
}

before(async () => {
  const key = newSigningKey();
  freshDatabase(DB);
  svc = await startCustomerService(DB, key, customerKeys());
  loadFixtures(DB);
  for (const k of ['admin', 'hr', 'risk', 'auditor', 'supA', 'supB', 'staffA1', 'staffA2', 'staffB1']) {
    c[k] = asClient(svc, key, EMP[k]);
  }

  // staff.a1 receives three cases: the first assessed in scope (a type), the third cancelled;
  // staff.b1 receives one.
  type = await createBusinessType(c.supA, { name: '年度審計 <年報> & "查帳"' });
  const ids = [];
  for (let i = 0; i < 3; i++) {
    const cu = await newCustomer(c.staffA1);
    ids.push(ok(await c.staffA1.post('/v1/cases', caseRequest(cu.id)), 201).id);
  }
  ok(await c.staffA1.post(`/v1/cases/${ids[0]}/assess`, { in_scope: true, business_type_id: type.id }));
  ok(await c.staffA1.post(`/v1/cases/${ids[2]}/cancel`, { reason: '客戶撤回' }));
  const cuB = await newCustomer(c.staffB1);
  ok(await c.staffB1.post('/v1/cases', caseRequest(cuB.id)), 201);

  // The deadlines job's pass 30 days ahead: the reception deadlines still open (case 2 of
  // staff.a1, the case of staff.b1) are marked overdue then.
  const swept = owner(`BEGIN;
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', 'system', true), set_config('tx.request_id', 'job:test', true);
SELECT cases.deadlines_sweep(now() + interval '30 days', 100);
COMMIT;`);
  assert.match(swept, /"marked": 2\b/, swept);
  weekNow = weekOf('now()');
  weekLate = weekOf(`now() + interval '30 days'`);
  toLate = app(`SELECT (org.company_date(now()) + 35)::text`);
});

describe('GET /v1/case-stats/weekly', () => {
  const statsPath = (q = '') => `/v1/case-stats/weekly?to=${toLate}${q}`;
  const byWeek = (s) => new Map(s.weeks.map((w) => [w.week, w]));

  test('JSON: every ISO week of the range, the caller\'s cases opened, closed, overdue', async () => {
    const s = ok(await c.staffA1.get(statsPath()));
    assert.equal(s.to, toLate);
    assert.equal(s.weeks.length, 12, 'twelve weeks by default');
    assert.equal(s.from, app(`SELECT (date_trunc('week', ${lit(toLate)}::date)::date - 77)::text`));
    assert.equal(typeof s.time_zone, 'string');
    for (let i = 0; i < s.weeks.length; i++) {
      const w = s.weeks[i];
      assert.equal(new Date(`${w.starts_on}T00:00:00Z`).getUTCDay(), 1, `${w.week} starts on a Monday`);
      if (i) assert.equal((Date.parse(w.starts_on) - Date.parse(s.weeks[i - 1].starts_on)) / 864e5, 7);
      assert.equal(w.week, app(`SELECT to_char(${lit(w.starts_on)}::date, 'IYYY-"W"IW')`));
    }
    const w = byWeek(s);
    assert.deepEqual(w.get(weekNow), { ...w.get(weekNow), opened: 3, closed: 1 });
    assert.equal(w.get(weekLate).overdue, 1, 'case 2: its reception deadline marked overdue');
    if (weekNow !== weekLate) assert.equal(w.get(weekNow).overdue, 0);
    assert.deepEqual(s.totals, { opened: 3, closed: 1, overdue: 1 });
    const others = s.weeks.filter((x) => x.week !== weekNow && x.week !== weekLate);
    for (const x of others) assert.deepEqual([x.opened, x.closed, x.overdue], [0, 0, 0], x.week);
  });

  test('who counts what: as the case list (auditor all, a supervisor the department, staff their own)', async () => {
    const totals = async (who) => ok(await c[who].get(statsPath())).totals;
    assert.deepEqual(await totals('auditor'), { opened: 4, closed: 1, overdue: 2 });
    assert.deepEqual(await totals('admin'), { opened: 4, closed: 1, overdue: 2 });
    assert.deepEqual(await totals('supA'), { opened: 3, closed: 1, overdue: 1 });
    assert.deepEqual(await totals('supB'), { opened: 1, closed: 0, overdue: 1 });
    assert.deepEqual(await totals('staffB1'), { opened: 1, closed: 0, overdue: 1 });
    assert.deepEqual(await totals('staffA2'), { opened: 0, closed: 0, overdue: 0 });
    // hr and risk officers see no case (docs/cases.md): the chart is refused, not a chart of zeros
    assertProblem(await c.hr.get(statsPath()), 403, 'forbidden');
    assertProblem(await get(c.risk, statsPath(), SVG), 403, 'forbidden');
  });

  test('filters: business type and department', async () => {
    const t = ok(await c.auditor.get(statsPath(`&business_type_id=${type.id}`)));
    assert.equal(t.business_type_id, type.id);
    assert.equal(t.business_type_name, type.name);
    assert.deepEqual(t.totals, { opened: 1, closed: 0, overdue: 0 });
    const b = ok(await c.auditor.get(statsPath(`&department_id=${DEPT.B}`)));
    assert.deepEqual(b.totals, { opened: 1, closed: 0, overdue: 1 });
  });

  test('SVG: valid, sized, title and desc say the range and every week\'s numbers', async () => {
    const s = ok(await c.staffA1.get(statsPath()));
    const res = await get(c.staffA1, statsPath(), SVG);
    const x = svgOf(res);
    assert.equal(x.title, `案件週統計 Cases by week, ${s.from} to ${s.to}`);
    for (const w of s.weeks) {
      assert.ok(x.desc.includes(`${w.week}: opened ${w.opened}, closed ${w.closed}, overdue ${w.overdue}`), `${w.week} in ${x.desc}`);
    }
    assert.ok(x.desc.endsWith('Totals: opened 3, closed 1, overdue 1.'), x.desc);
    assert.deepEqual(geometry(res.text), { width: '820', height: '440', viewBox: '0 0 820 440' });
    // every bar and point has its own title: two bars and a point a week
    const titles = (res.text.match(/<title>/g) || []).length;
    assert.equal(titles, 3 * s.weeks.length);
  });

  test('SVG escapes the business type\'s name', async () => {
    const res = await get(c.auditor, statsPath(`&business_type_id=${type.id}`), SVG);
    const x = svgOf(res);
    assert.ok(x.title.endsWith(`業務類型 business type ${type.name}`), x.title);
    assert.ok(res.text.includes('&lt;年報&gt; &amp; &quot;查帳&quot;'), res.text.slice(0, 400));
  });

  test('406 for a representation it does not give; HEAD negotiates the same', async () => {
    const p = assertProblem(await get(c.staffA1, statsPath(), CSV), 406, 'not_acceptable');
    assert.match(p.detail, /application\/json, image\/svg\+xml/);
    assertProblem(await get(c.staffA1, statsPath(), 'text/html'), 406, 'not_acceptable');
    const json = await get(c.staffA1, statsPath(), 'image/svg+xml;q=0.5, application/json');
    assert.match(json.headers['content-type'], /^application\/json/);
  });

  test('bad ranges and filters: 422 naming the parameter', async () => {
    assertFieldError(await c.staffA1.get('/v1/case-stats/weekly?from=2026-13-01'), 'from');
    assertFieldError(await c.staffA1.get('/v1/case-stats/weekly?from=2026-06-02&to=2026-06-01'), 'to');
    assertFieldError(await c.staffA1.get('/v1/case-stats/weekly?from=2024-01-01&to=2026-06-01'), 'from');
    assertFieldError(await c.staffA1.get(`/v1/case-stats/weekly?business_type_id=${NOBODY}`), 'business_type_id');
    assertFieldError(await c.staffA1.get('/v1/case-stats/weekly?business_type_id=nope'), 'business_type_id');
    assertFieldError(await c.staffA1.get(`/v1/case-stats/weekly?department_id=${NOBODY}`), 'department_id');
    assertFieldError(await c.staffA1.get('/v1/case-stats/weekly?week=1'), 'week');
    // a range of one day is one week
    const one = ok(await c.staffA1.get('/v1/case-stats/weekly?from=2026-06-03&to=2026-06-03'));
    assert.deepEqual(one.weeks.map((w) => [w.week, w.starts_on]), [['2026-W23', '2026-06-01']]);
    xmllint((await get(c.staffA1, '/v1/case-stats/weekly?from=2026-06-03&to=2026-06-03', SVG)).text);
  });
});

describe('GET /v1/kris/{id}/trend', () => {
  let kri;
  let shipped;
  // past values of the hand-entered indicator: [days ago, value, band], thresholds 10 / 20
  const PAST = [[20, 4, 'normal'], [10, 12.5, 'warning'], [5, 21, 'critical']];
  const day = (n) => app(`SELECT (org.company_date(now()) + ${n})::text`);
  before(async () => {
    kri = ok(await c.risk.post('/v1/kris', {
      code: 'complaints_trend', name: '客訴 <件數> & "率"', measures: '每月客訴件數', source: 'manual',
      unit: '件 complaints', direction: 'up', category: 'operational',
    }), 201);
    owner(`INSERT INTO risk.kri_measurements (kri_id, value, measured_at, source, entered_by, warning_threshold, critical_threshold, band)
VALUES ${PAST.map(([d, v, b]) => `(${lit(kri.id)}, ${v}, now() - interval '${d} days', 'manual', ${lit(EMP.risk.id)}, 10, 20, ${lit(b)})`).join(', ')}`);
    ok(await c.risk.post(`/v1/kris/${kri.id}/measurements`, { value: 3 }), 201);
    shipped = ok(await c.staffA1.get('/v1/kris')).items.find((k) => k.code === 'open_escalations');
    ok(await c.risk.post(`/v1/kris/${shipped.id}/measurements`, { note: '抽查' }), 201);
  });

  test('JSON: the range\'s values oldest first, with their bands and thresholds', async () => {
    const t = ok(await c.risk.get(`/v1/kris/${kri.id}/trend?from=${day(-30)}&to=${day(0)}`));
    assert.deepEqual(t.kri, { id: kri.id, code: 'complaints_trend', name: kri.name, unit: '件 complaints', direction: 'up', thresholds: null });
    assert.equal(t.from, day(-30));
    assert.equal(t.to, day(0));
    assert.equal(t.total, 4);
    assert.deepEqual(t.points.map((p) => [p.value, p.band]), [[4, 'normal'], [12.5, 'warning'], [21, 'critical'], [3, 'unset']]);
    assert.deepEqual(t.points.slice(0, 3).map((p) => [p.warning_threshold, p.critical_threshold]), [[10, 20], [10, 20], [10, 20]]);
    const times = t.points.map((p) => Date.parse(p.measured_at));
    assert.deepEqual([...times].sort((a, b) => a - b), times, 'oldest first');
    assert.ok(Date.parse(t.starts_at) < times[0] && times[3] < Date.parse(t.ends_at));
    // the default range is 90 days to today; a narrower one leaves the older values out
    assert.equal(ok(await c.risk.get(`/v1/kris/${kri.id}/trend`)).total, 4);
    const week = ok(await c.auditor.get(`/v1/kris/${kri.id}/trend?from=${day(-7)}`));
    assert.deepEqual(week.points.map((p) => p.value), [21, 3]);
    assert.deepEqual(ok(await c.supA.get(`/v1/kris/${kri.id}/trend?to=${day(-30)}`)).points, []);
  });

  test('SVG: valid, sized, title names the indicator (escaped), desc says every value', async () => {
    const t = ok(await c.risk.get(`/v1/kris/${kri.id}/trend?from=${day(-30)}`));
    const res = await get(c.risk, `/v1/kris/${kri.id}/trend?from=${day(-30)}`, SVG);
    const x = svgOf(res);
    assert.equal(x.title, `風險指標趨勢 Indicator trend: ${kri.name} (complaints_trend), ${t.from} to ${t.to}`);
    assert.ok(res.text.includes('客訴 &lt;件數&gt; &amp; &quot;率&quot;'));
    assert.match(x.desc, /no thresholds set today\. 4 measurements:/);
    for (const p of t.points) assert.ok(x.desc.includes(`${p.measured_at} ${p.value} (${p.band})`), `${p.value} in ${x.desc}`);
    assert.deepEqual(geometry(res.text), { width: '860', height: '440', viewBox: '0 0 860 440' });
    // a point's shape says its band: square critical, triangle warning, circle normal
    assert.match(res.text, /<rect [^>]*fill="#d62728"><title>[^<]+: 21 \(critical\)<\/title><\/rect>/);
    assert.match(res.text, /<path d="[^"]+" fill="#ff7f0e"><title>[^<]+: 12\.5 \(warning\)<\/title><\/path>/);
  });

  test('a shipped indicator: today\'s thresholds in the JSON and in the words', async () => {
    const t = ok(await c.risk.get(`/v1/kris/${shipped.id}/trend`));
    assert.deepEqual(t.kri.thresholds, shipped.thresholds);
    assert.equal(t.total, 1);
    const x = svgOf(await get(c.risk, `/v1/kris/${shipped.id}/trend`, SVG));
    assert.ok(x.desc.includes(`thresholds today: warning ${shipped.thresholds.warning}, critical ${shipped.thresholds.critical}`), x.desc);
    const empty = svgOf(await get(c.risk, `/v1/kris/${shipped.id}/trend?to=${day(-1)}`, SVG));
    assert.match(empty.desc, /No measurement in the range\.$/);
  });

  test('who sees it: the readers of the history; others 403; unknown 404; 406; bad range 422', async () => {
    for (const who of ['risk', 'admin', 'auditor', 'supA']) ok(await c[who].get(`/v1/kris/${kri.id}/trend`));
    for (const who of ['staffA1', 'hr']) assertProblem(await c[who].get(`/v1/kris/${kri.id}/trend`), 403, 'forbidden');
    assertProblem(await c.risk.get(`/v1/kris/${NOBODY}/trend`), 404, 'not_found');
    assertProblem(await get(c.risk, `/v1/kris/${kri.id}/trend`, CSV), 406, 'not_acceptable');
    assertFieldError(await c.risk.get(`/v1/kris/${kri.id}/trend?from=${day(0)}&to=${day(-1)}`), 'to');
    assertFieldError(await c.risk.get(`/v1/kris/${kri.id}/trend?from=${day(-800)}`), 'from');
    assertFieldError(await c.risk.get(`/v1/kris/${kri.id}/trend?from=yesterday`), 'from');
  });
});
