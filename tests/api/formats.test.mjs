// Formats (issue 12, part E; src/core/formats.c, src/modules/assessment/charts.c,
// sql/code/assessment/070_charts.sql):
//   * content negotiation on GET routes: JSON by default, text/csv on the lists that declare
//     columns (GET /v1/cases, /v1/customers, /v1/archive, /v1/assessments, /v1/risks,
//     /v1/warnings), image/svg+xml on the charts (more in tests/api/charts.test.mjs); q-values and */*;
//     406 not_acceptable (problem+json) for an Accept the route cannot give;
//   * CSV: UTF-8 BOM, CRLF, RFC 4180 quoting, the header row, Chinese text round trip, cells
//     that a spreadsheet would run as a formula neutralised, every page of the list;
//   * charts: an employee's monthly indicators over a year and a department's grade distribution,
//     JSON and SVG (well-formed per xmllint, title and desc, role="img", no script, text
//     escaped), and who may see them.
// Cases and customers are made through the real routes; assessments through module Q's routes
// (part A: POST /v1/assessment-periods and its compute).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, describe, test } from 'node:test';

import { assertProblem, freshDatabase, lit, pg } from './lib/harness.mjs';
import { addSecondSupervisor, asClient, caseRequest, newCustomer } from './lib/cases.mjs';
import { customerKeys, newCreditCode, newEmail, newMobile, startCustomerService } from './lib/customers.mjs';
import { CSV, SVG, csvOf, svgOf } from './lib/formats.mjs';
import {
  DEPT, EMP, asOwnerAdmin, assertFieldError, call, loadFixtures, newSigningKey, ok,
} from './lib/identity.mjs';

const DB = 'tx_api_formats';
const NOBODY = '7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f';
let svc;
let key;
const c = {};
// An employee of department A whose name holds XML's special characters (and Chinese).
const ODD = {
  id: crypto.randomUUID(), username: 'staff.a3', name: '王<小>明 & "co"', roles: ['staff'],
  dept: DEPT.A, supervisor: EMP.supA.id,
};

// One whose name a spreadsheet would run (the assessments' CSV names employees).
const FORMULA = { id: crypto.randomUUID(), username: 'staff.a4', name: '=王大明+1' };

// Customer names that test quoting, Chinese and CSV injection.
const NAMES = {
  comma: '華鑫科技, "北區"',
  plain: '臺北貿易行',
  formula: '=HYPERLINK("http://x.example","點我")',
  plus: '+886 貿易',
  minus: '-2+3+cmd|\' /C calc\'!A0',
  at: '@SUM(A1)',
};
const caseIds = {};
// The assessment period of the month that holds today ({id, label}), set in before().
let period;

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startCustomerService(DB, key, customerKeys());
  loadFixtures(DB);
  addSecondSupervisor(DB);
  for (const e of [ODD, FORMULA]) {
    asOwnerAdmin(DB, `INSERT INTO org.employees (id, username, display_name, department_id, supervisor_id, roles)
VALUES (${lit(e.id)}, ${lit(e.username)}, ${lit(e.name)}, ${lit(DEPT.A)}, ${lit(EMP.supA.id)}, '{staff}');`);
  }
  for (const k of ['admin', 'hr', 'risk', 'auditor', 'supA', 'supB', 'staffA1', 'staffA2', 'staffB1']) {
    c[k] = asClient(svc, key, EMP[k]);
  }
  c.odd = asClient(svc, key, ODD);
  // One case per customer name, received by staff.a1 (P1.1), through the routes.
  for (const [k, name] of Object.entries(NAMES)) {
    const cu = await newCustomer(c.staffA1, name);
    caseIds[k] = ok(await c.staffA1.post('/v1/cases', caseRequest(cu.id)), 201).id;
  }
  // The month that holds today, opened and computed by part A's job as it runs on the first
  // working day of the next month (payload "today", as the job allows for catch-up runs): the
  // fixture staff of department A are assessed in it (the trend's month and the distribution).
  const out = pg(`SELECT assessment.periods_job(jsonb_build_object('today', (
  SELECT min(d)::date FROM generate_series(date_trunc('month', org.company_date()) + interval '1 month',
                                         date_trunc('month', org.company_date()) + interval '1 month 20 days',
                                         interval '1 day') d
   WHERE org.is_workday(d::date))::text))`, { db: DB, user: 'tianxing_app' });
  assert.match(out, /"opened": \[/, out);
  const label = pg("SELECT to_char(org.company_date(), 'YYYY-MM')", { db: DB, user: 'tianxing_app' });
  period = { id: pg(`SELECT id FROM assessment.periods WHERE label = ${lit(label)}`, { db: DB }), label };
  assert.match(period.id, /^[0-9a-f-]{36}$/, `period ${label} opened: ${out}`);
});

const get = (client, p, accept) => client.get(p, accept === undefined ? {} : { headers: { Accept: accept } });

describe('CSV of GET /v1/cases', () => {
  const COLUMNS = ['Case ID', 'Status', 'Customer', 'Customer ID', 'Business type', 'Department ID',
    'Received at', 'Expected on', 'Next due at', 'Updated at'];
  test('BOM, header row, one record per case, Chinese and quoting round trip', async () => {
    const rows = csvOf(await get(c.staffA1, '/v1/cases', CSV));
    assert.deepEqual(rows[0], COLUMNS);
    const json = ok(await c.staffA1.get('/v1/cases?limit=200'));
    assert.equal(rows.length - 1, json.items.length);
    const byId = new Map(rows.slice(1).map((r) => [r[0], r]));
    for (const item of json.items) {
      const r = byId.get(item.id);
      assert.ok(r, `case ${item.id} in the CSV`);
      assert.equal(r[1], item.status);
      assert.equal(r[3], item.customer_id);
      assert.equal(r[6], item.received_at);
      assert.equal(r[8], item.next_due_at ?? '');
    }
    assert.equal(byId.get(caseIds.comma)[2], NAMES.comma);
    assert.equal(byId.get(caseIds.plain)[2], NAMES.plain);
  });
  test('the raw bytes: CRLF line ends, quotes doubled inside a quoted field', async () => {
    const res = await get(c.staffA1, '/v1/cases', CSV);
    const text = res.body.toString('utf8');
    assert.ok(text.includes('"華鑫科技, ""北區"""'), text);
    assert.equal(text.replace(/\r\n/g, '').includes('\n'), false, 'no bare LF');
    assert.match(res.headers['content-disposition'], /^attachment; filename="cases\.csv"$/);
  });
  test('cells a spreadsheet would run as a formula start with an apostrophe', async () => {
    const rows = csvOf(await get(c.staffA1, '/v1/cases', CSV));
    const byId = new Map(rows.slice(1).map((r) => [r[0], r]));
    for (const k of ['formula', 'plus', 'minus', 'at']) {
      assert.equal(byId.get(caseIds[k])[2], `'${NAMES[k]}`, k);
    }
    for (const r of rows) {
      for (const f of r) assert.doesNotMatch(f, /^[=+\-@\t\r]/, `neutralised: ${f}`);
    }
  });
  test('every page: limit is the page size, the CSV holds the whole list', async () => {
    const rows = csvOf(await get(c.staffA1, '/v1/cases?limit=2', CSV));
    assert.equal(rows.length - 1, Object.keys(caseIds).length);
    assert.equal(new Set(rows.slice(1).map((r) => r[0])).size, rows.length - 1, 'no case twice');
    // from a cursor on: the rest of the list
    const page1 = ok(await c.staffA1.get('/v1/cases?limit=2'));
    const rest = csvOf(await get(c.staffA1, `/v1/cases?limit=2&cursor=${encodeURIComponent(page1.next_cursor)}`, CSV));
    assert.equal(rest.length - 1, Object.keys(caseIds).length - 2);
    assert.deepEqual(rest.slice(1).map((r) => r[0]).filter((id) => page1.items.some((i) => i.id === id)), []);
  });
  test('filters apply and row-level security holds: staff.b1 sees none of these cases', async () => {
    const rows = csvOf(await get(c.staffA1, `/v1/cases?status=cancelled`, CSV));
    assert.deepEqual(rows, [COLUMNS]);
    const b = csvOf(await get(c.staffB1, '/v1/cases', CSV));
    assert.deepEqual(b, [COLUMNS]);
  });
  test('a bad filter is still 422 problem+json, not a CSV', async () => {
    assertFieldError(await get(c.staffA1, '/v1/cases?status=nope', CSV), 'status');
    assertFieldError(await get(c.staffA1, '/v1/cases?cursor=junk', CSV), 'cursor');
  });
});

describe('content negotiation', () => {
  test('JSON stays the default: no Accept, */*, application/json, application/*', async () => {
    for (const accept of [undefined, '*/*', 'application/json', 'application/*', 'text/html, */*;q=0.1']) {
      const res = await get(c.staffA1, '/v1/cases', accept);
      assert.equal(res.status, 200, `${accept}: ${res.text}`);
      assert.match(res.headers['content-type'], /^application\/json/, String(accept));
    }
  });
  test('q-values choose; ties go to JSON', async () => {
    const pick = async (accept) => (await get(c.staffA1, '/v1/cases', accept)).headers['content-type'];
    assert.match(await pick('application/json;q=0.5, text/csv'), /^text\/csv/);
    assert.match(await pick('text/csv;q=0.5, application/json'), /^application\/json/);
    assert.match(await pick('text/*'), /^text\/csv/);
    assert.match(await pick('text/csv, application/json'), /^application\/json/);
    assert.match(await pick('text/csv;q=0, */*'), /^application\/json/);
  });
  test('406 not_acceptable, naming what the route gives', async () => {
    let p = assertProblem(await get(c.staffA1, '/v1/cases', SVG), 406, 'not_acceptable');
    assert.match(p.detail, /application\/json, text\/csv/);
    p = assertProblem(await get(c.staffA1, `/v1/cases/${caseIds.plain}`, CSV), 406, 'not_acceptable');
    assert.match(p.detail, /application\/json\.$/);
    assertProblem(await get(c.staffA1, '/v1/cases', 'text/html'), 406, 'not_acceptable');
    assertProblem(await get(c.staffA1, '/v1/cases', 'application/json;q=0'), 406, 'not_acceptable');
    assertProblem(await get(c.hr, `/v1/employees/${EMP.staffA1.id}/assessment-trend?year=2026`, CSV),
      406, 'not_acceptable');
  });
  test('routes with a media type of their own are not negotiated (the contract as YAML)', async () => {
    const res = await call(svc, 'GET', '/openapi.yaml', { headers: { Accept: 'application/yaml' } });
    assert.equal(res.status, 200, res.text.slice(0, 200));
  });
  test('HEAD negotiates like GET', async () => {
    const res = await call(svc, 'HEAD', '/v1/cases', { token: c.staffA1.token, headers: { Accept: CSV } });
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/csv/);
    assert.equal(res.body.length, 0);
  });
  test('a write answers JSON whatever Accept says', async () => {
    const cu = await newCustomer(c.staffA2, '客戶 Accept');
    const res = await c.staffA2.post('/v1/cases', caseRequest(cu.id), { headers: { Accept: CSV } });
    assert.equal(res.status, 201, res.text);
    assert.match(res.headers['content-type'], /^application\/json/);
  });
  test('no token: 401 before anything else', async () => {
    const res = await call(svc, 'GET', '/v1/cases', { headers: { Accept: CSV } });
    assertProblem(res, 401, 'unauthorized');
  });
});

// Issue 16: the customers list as CSV, for their owner: the caller's visible customers, the
// fields of the JSON items only (no contact, address or credit code, sealed or plain).
describe('CSV of GET /v1/customers', () => {
  const COLUMNS = ['Customer ID', 'Name', 'Company', 'Status', 'Tags', 'Source', 'Owner ID',
    'Department ID', 'Last verified at', 'Stale', 'Review due at', 'Updated at'];
  let full;
  before(async () => {
    // one customer with every kind of personal data, owned by staff.a1
    const phone = newMobile();
    const email = newEmail('chen.jing');
    const credit = newCreditCode();
    full = {
      phone, email, address: '福建省福州市鼓樓區五四路158號', credit,
      doc: ok(await c.staffA1.post('/v1/customers', {
        name: '陳靜', company_name: '閩江機械有限公司', business_scope: '機械', tags: ['=機械', '展會'],
        source: '@展會', address: '福建省福州市鼓樓區五四路158號', credit_code: credit,
        contacts: [{ name: '陳靜', position: '經理', phone: phone.input, email: email.input }],
      }), 201),
    };
  });
  test('the whole visible list across pages: BOM, header, Chinese intact, the JSON items\' values', async () => {
    const json = ok(await c.staffA1.get('/v1/customers?limit=200'));
    assert.equal(json.next_cursor, null);
    const rows = csvOf(await get(c.staffA1, '/v1/customers?limit=2', CSV));
    assert.deepEqual(rows[0], COLUMNS);
    assert.equal(rows.length - 1, json.items.length, 'every customer, fetched two at a time');
    assert.deepEqual(rows.slice(1).map((r) => r[0]), json.items.map((i) => i.id), 'in the list\'s order');
    const byId = new Map(rows.slice(1).map((r) => [r[0], r]));
    for (const item of json.items) {
      const r = byId.get(item.id);
      assert.equal(r[3], item.status);
      assert.equal(r[6], item.owner_id);
      assert.equal(r[9], String(item.stale));
      assert.equal(r[11], item.updated_at);
    }
    assert.ok(rows.some((r) => r[1] === NAMES.plain && r[2] === `${NAMES.plain}有限公司`), 'Chinese round trip');
    assert.ok(rows.some((r) => r[1] === NAMES.comma), 'quoting round trip');
    const r = byId.get(full.doc.id);
    assert.equal(r[1], '陳靜');
    assert.equal(r[4], '["=機械","展會"]', 'tags: the JSON array (it starts with [, nothing to run)');
    assert.equal(r[5], "'@展會", 'a source starting with @ is neutralised');
    const res = await get(c.staffA1, '/v1/customers', CSV);
    assert.match(res.headers['content-disposition'], /^attachment; filename="customers\.csv"$/);
  });
  test('names a spreadsheet would run start with an apostrophe', async () => {
    const rows = csvOf(await get(c.staffA1, '/v1/customers', CSV));
    for (const k of ['formula', 'plus', 'minus', 'at']) {
      assert.ok(rows.some((r) => r[1] === `'${NAMES[k]}`), `${k}: ${NAMES[k]}`);
    }
    for (const r of rows) for (const f of r) assert.doesNotMatch(f, /^[=+\-@\t\r]/, `neutralised: ${f}`);
  });
  test('no personal data: no phone, e-mail, address, credit code or sealed value in any form', async () => {
    for (const who of ['staffA1', 'supA', 'admin', 'auditor']) {
      const text = (await get(c[who], '/v1/customers', CSV)).body.toString('utf8');
      assert.ok(text.includes(full.doc.id), `${who} sees the customer`);
      for (const secret of [full.phone.e164, full.phone.input, full.phone.masked, full.email.stored,
        full.email.masked, full.address, full.credit, '_enc', 'wrapped']) {
        assert.equal(text.includes(secret), false, `${who}: ${secret} not in the CSV`);
      }
    }
  });
  test('row-level security and filters hold: staff.b1 sees none of them; q and status filter', async () => {
    const b = csvOf(await get(c.staffB1, '/v1/customers', CSV));
    assert.equal(b.slice(1).some((r) => r[0] === full.doc.id), false);
    const jsonB = ok(await c.staffB1.get('/v1/customers?limit=200'));
    assert.equal(b.length - 1, jsonB.items.length);
    const q = csvOf(await get(c.staffA1, `/v1/customers?q=${encodeURIComponent('閩江機械')}`, CSV));
    assert.deepEqual(q.slice(1).map((r) => r[0]), [full.doc.id]);
    assert.deepEqual(csvOf(await get(c.staffA1, '/v1/customers?status=inactive', CSV)), [COLUMNS]);
    const one = csvOf(await get(c.staffA1, `/v1/customers?credit_code=${full.credit}`, CSV));
    assert.deepEqual(one.slice(1).map((r) => r[0]), [full.doc.id], 'the lookup by credit code, one row');
  });
  test('a bad filter is 422 problem+json; an image is 406; hr gets the list without PII too', async () => {
    assertFieldError(await get(c.staffA1, '/v1/customers?sort=nope', CSV), 'sort');
    assertFieldError(await get(c.staffA1, '/v1/customers?cursor=junk', CSV), 'cursor');
    const p = assertProblem(await get(c.staffA1, '/v1/customers', SVG), 406, 'not_acceptable');
    assert.match(p.detail, /application\/json, text\/csv/);
    csvOf(await get(c.hr, '/v1/customers', CSV));
  });
});

// The other lists the issue names (cases above, archive below): risks and warnings, each with
// texts a spreadsheet would run, over several pages.
describe('CSV of GET /v1/risks and GET /v1/warnings', () => {
  test('risks: BOM, every page, titles neutralised, Chinese intact', async () => {
    const titles = ['=1+1 風險', '+886 匯率', '-負債 上升', '@SUM(A1) 信用', '客戶集中度, "高"'];
    for (const title of titles) {
      ok(await c.staffA1.post('/v1/risks', { category: 'other', title, description: '說明' }), 201);
    }
    const json = ok(await c.risk.get('/v1/risks?limit=200'));
    const rows = csvOf(await get(c.risk, '/v1/risks?limit=2', CSV));
    assert.equal(rows.length - 1, json.items.length, 'every risk, two a page');
    const col = rows[0].indexOf('Title');
    assert.ok(col >= 0, rows[0].join(','));
    const got = rows.slice(1).map((r) => r[col]);
    for (const t of titles) {
      assert.ok(got.includes(/^[=+\-@]/.test(t) ? `'${t}` : t), `${t} in ${JSON.stringify(got)}`);
    }
  });
  test('warnings: BOM and header even when empty; the route refuses an image', async () => {
    const rows = csvOf(await get(c.risk, '/v1/warnings', CSV));
    assert.equal(rows[0][0], 'Warning ID');
    assertProblem(await get(c.risk, '/v1/warnings', SVG), 406, 'not_acceptable');
  });
});

describe('CSV of GET /v1/archive', () => {
  test('the index as CSV (header only while nothing is archived); roles as for JSON', async () => {
    const rows = csvOf(await get(c.auditor, '/v1/archive', CSV));
    assert.deepEqual(rows, [['Archive number', 'Case ID', 'Year', 'Title', 'Customer ID',
      'Department ID', 'Retain until', 'Archived at']]);
    assertProblem(await get(c.hr, '/v1/archive', CSV), 403, 'forbidden');
    assertFieldError(await get(c.auditor, '/v1/archive?q=x', CSV), 'q');
  });
});

describe('CSV of GET /v1/assessments', () => {
  test('the period\'s whole list across pages: BOM, names intact or neutralised', async () => {
    const json = ok(await c.hr.get(`/v1/assessments?period_id=${period.id}&limit=200`));
    assert.ok(json.items.length >= 3, 'the fixture staff of department A are assessed');
    const rows = csvOf(await get(c.hr, `/v1/assessments?period_id=${period.id}&limit=1`, CSV));
    assert.equal(rows.length - 1, json.items.length, 'every assessment, one a page');
    const col = rows[0].indexOf('Employee');
    const names = rows.slice(1).map((r) => r[col]);
    assert.ok(names.includes(ODD.name), `${ODD.name} in ${names}`);
    assert.ok(names.includes(`'${FORMULA.name}`), `'${FORMULA.name} in ${names}`);
    for (const r of rows) for (const f of r) assert.doesNotMatch(f, /^[=+\-@\t\r]/, `neutralised: ${f}`);
  });
});

// The year of the company's date today (company_time_zone), as the job and the periods count it.
const YEAR = () => Number(pg('SELECT extract(year FROM org.company_date())::int', { db: DB, user: 'tianxing_app' }));

describe('GET /v1/employees/{id}/assessment-trend', () => {
  const trendPath = (id, year = YEAR()) => `/v1/employees/${id}/assessment-trend?year=${year}`;
  test('JSON: twelve months, each indicator of Q1; no assessment yet: every figure null', async () => {
    const t = ok(await c.staffA1.get(trendPath(EMP.staffA1.id)));
    assert.equal(t.employee_id, EMP.staffA1.id);
    assert.equal(t.employee_name, EMP.staffA1.name);
    assert.equal(t.year, YEAR());
    assert.deepEqual(t.indicators, ['completion_rate', 'satisfaction', 'accuracy', 'efficiency', 'teamwork']);
    assert.deepEqual(t.months.map((m) => m.month), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const hasAssessment = t.months.filter((m) => m.assessment_id !== null);
    const inDb = Number(pg(`SELECT count(*) FROM assessment.assessments a JOIN assessment.periods p ON p.id = a.period_id
 WHERE a.employee_id = ${lit(EMP.staffA1.id)} AND p.kind = 'month' AND p.label LIKE '${YEAR()}-%'
   AND a.status NOT IN ('superseded', 'rejected')`, { db: DB }));
    assert.equal(hasAssessment.length, inDb);
    for (const m of t.months.filter((x) => x.assessment_id === null)) {
      for (const v of Object.values(m.values)) assert.deepEqual(v, { figure: null, marked: 'not_assessed' });
    }
  });
  test('a figure is null exactly when it is marked; the SVG leaves those months out of the line', async () => {
    const t = ok(await c.hr.get(trendPath(EMP.staffA1.id)));
    for (const m of t.months) {
      for (const [k, v] of Object.entries(m.values)) {
        assert.equal(v.figure === null, v.marked !== null, `${m.month} ${k}: ${JSON.stringify(v)}`);
      }
    }
    const s = svgOf(await get(c.hr, trendPath(EMP.staffA1.id), SVG));
    for (const m of t.months) {
      const v = m.values.completion_rate;
      const said = v.figure === null ? `${String(m.month).padStart(2, '0')} none (${v.marked})`
        : `${String(m.month).padStart(2, '0')} ${v.figure.toFixed(2)}`;
      assert.ok(s.desc.includes(said), `${said} in ${s.desc}`);
    }
  });
  test('SVG: well-formed, role="img", title and desc name the employee and say the values', async () => {
    const s = svgOf(await get(c.staffA1, trendPath(EMP.staffA1.id), SVG));
    assert.equal(s.title, `考核趨勢 Assessment trend: ${EMP.staffA1.name}, ${YEAR()}`);
    assert.match(s.desc, /業務完成率 completion: 01 /);
  });
  test('SVG escapes the text it draws', async () => {
    const res = await get(c.odd, trendPath(ODD.id), SVG);
    const s = svgOf(res);
    assert.equal(s.title, `考核趨勢 Assessment trend: ${ODD.name}, ${YEAR()}`);
    assert.ok(res.text.includes('王&lt;小&gt;明 &amp; &quot;co&quot;'), res.text.slice(0, 400));
  });
  test('who sees it: the employee, their supervisor, hr, auditor', async () => {
    for (const who of ['staffA1', 'supA', 'hr', 'auditor']) {
      ok(await c[who].get(trendPath(EMP.staffA1.id)));
      svgOf(await get(c[who], trendPath(EMP.staffA1.id), SVG));
    }
  });
  test('another employee or another department\'s supervisor: 404; admin and risk: 403', async () => {
    assertProblem(await c.staffA2.get(trendPath(EMP.staffA1.id)), 404, 'not_found');
    assertProblem(await c.supB.get(trendPath(EMP.staffA1.id)), 404, 'not_found');
    assertProblem(await get(c.supB, trendPath(EMP.staffA1.id), SVG), 404, 'not_found');
    assertProblem(await c.admin.get(trendPath(EMP.staffA1.id)), 403, 'forbidden');
    assertProblem(await c.risk.get(trendPath(EMP.staffA1.id)), 403, 'forbidden');
  });
  test('unknown employee and an id that is no UUID: 404', async () => {
    assertProblem(await c.hr.get(trendPath(NOBODY)), 404, 'not_found');
    assertProblem(await c.hr.get('/v1/employees/nope/assessment-trend?year=2026'), 404, 'not_found');
  });
  test('year: required, an integer, 2000-2100 (422)', async () => {
    assertFieldError(await c.hr.get(`/v1/employees/${EMP.staffA1.id}/assessment-trend`), 'year');
    assertFieldError(await c.hr.get(trendPath(EMP.staffA1.id, 1999)), 'year');
    assertFieldError(await c.hr.get(trendPath(EMP.staffA1.id, 'x')), 'year');
    assertFieldError(await c.hr.get(`${trendPath(EMP.staffA1.id)}&month=3`), 'month');
  });
});

describe('GET /v1/departments/{id}/grade-distribution', () => {
  const distPath = (dept, period) => `/v1/departments/${dept}/grade-distribution?period_id=${period}`;
  const expected = (dept) => pg(`SELECT coalesce(json_object_agg(g, n), '{}') FROM (SELECT coalesce(grade, '-') g, count(*) n
 FROM assessment.assessments WHERE period_id = ${lit(period.id)} AND department_id = ${lit(dept)}
   AND status NOT IN ('superseded', 'rejected') GROUP BY 1) x`, { db: DB });
  test('JSON: a bar per band of the period, highest first; counts as stored', async () => {
    const d = ok(await c.hr.get(distPath(DEPT.A, period.id)));
    assert.equal(d.department_id, DEPT.A);
    assert.equal(d.period_id, period.id);
    assert.deepEqual(d.grades.slice(0, 5).map((g) => g.grade), ['A', 'B', 'C', 'D', 'E']);
    const want = JSON.parse(expected(DEPT.A));
    for (const g of d.grades) assert.equal(g.count, want[g.grade] ?? 0, g.grade);
    assert.equal(d.ungraded, want['-'] ?? 0);
    assert.equal(d.total, Object.values(want).reduce((a, b) => a + b, 0));
  });
  test('SVG: well-formed, title names the department and period, desc says every count', async () => {
    const d = ok(await c.hr.get(distPath(DEPT.A, period.id)));
    const s = svgOf(await get(c.hr, distPath(DEPT.A, period.id), SVG));
    assert.equal(s.title, `等級分佈 Grade distribution: 業務一部 Business A, ${period.label}`);
    for (const g of d.grades) assert.ok(s.desc.includes(`${g.grade} ${g.count}`), s.desc);
  });
  test('who sees it: hr, auditor, the department\'s supervisors; others 403', async () => {
    ok(await c.auditor.get(distPath(DEPT.A, period.id)));
    ok(await c.supA.get(distPath(DEPT.A, period.id)));
    ok(await c.supB.get(distPath(DEPT.B, period.id)));
    assertProblem(await c.supB.get(distPath(DEPT.A, period.id)), 403, 'forbidden');
    assertProblem(await get(c.supB, distPath(DEPT.A, period.id), SVG), 403, 'forbidden');
    assertProblem(await c.staffA1.get(distPath(DEPT.A, period.id)), 403, 'forbidden');
    assertProblem(await c.admin.get(distPath(DEPT.A, period.id)), 403, 'forbidden');
  });
  test('period_id required and a period; unknown department 404', async () => {
    assertFieldError(await c.hr.get(`/v1/departments/${DEPT.A}/grade-distribution`), 'period_id');
    assertFieldError(await c.hr.get(distPath(DEPT.A, NOBODY)), 'period_id');
    assertFieldError(await c.hr.get(distPath(DEPT.A, 'nope')), 'period_id');
    assertProblem(await c.hr.get(distPath(NOBODY, period.id)), 404, 'not_found');
    assertProblem(await get(c.hr, distPath(DEPT.A, period.id), CSV), 406, 'not_acceptable');
  });
});
