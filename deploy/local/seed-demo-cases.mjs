// Demo data of module P for the local run (issue 11): the business types of
// deploy/local/demo-business-types.json, then the demo cases of deploy/local/demo-cases.json, all
// through the API as the demo users (tokens minted with the local signing key by `tianxingd
// token`), after deploy/local/run has created the demo customers.
//
//   node deploy/local/seed-demo-cases.mjs BASE_URL TIANXINGD
//
// Idempotent across runs: a business type whose code exists (409) is left alone; a demo case is
// made only when its customer has no case yet, visible to its receiver, whose need starts with the
// case's demo tag ("[demo-p01] ..."), so a second run finds them and makes none. Prints one summary line; exits 1
// on any other answer, after printing it (the service keeps running).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const [base, bin] = process.argv.slice(2);
if (!base || !bin) {
  console.error('usage: node deploy/local/seed-demo-cases.mjs BASE_URL TIANXINGD');
  process.exit(2);
}
const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '..', '..');
const note = (m) => process.stderr.write(`deploy/local/run: ${m}\n`);

// Tokens by username; one role list fits staff and supervisors (roles not held do not count).
const tokens = new Map();
function token(user) {
  if (!tokens.has(user)) {
    const roles = user === 'admin' ? 'admin' : 'staff,supervisor';
    // Its log lines (stderr) are shown only when it fails (execFileSync's error carries them).
    tokens.set(user, execFileSync(bin, ['token', '--sub', user, '--roles', roles, '--ttl', '3600'],
      { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim());
  }
  return tokens.get(user);
}

class ApiError extends Error {}
async function api(user, method, p, body, headers = {}) {
  const res = await fetch(base + p, {
    method,
    headers: {
      Authorization: `Bearer ${token(user)}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* a problem is JSON; anything else is shown as is */ }
  return { status: res.status, json, text, headers: res.headers };
}
function expect(res, status, what) {
  if (![status].flat().includes(res.status)) throw new ApiError(`${what}: HTTP ${res.status}: ${res.text}`);
  return res.json;
}

// Every page of a list.
async function all(user, p) {
  const out = [];
  let cursor = null;
  do {
    const sep = p.includes('?') ? '&' : '?';
    const page = expect(await api(user, 'GET', `${p}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`),
      200, `GET ${p}`);
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

async function seedBusinessTypes() {
  const doc = JSON.parse(readFileSync(path.join(here, 'demo-business-types.json'), 'utf8'));
  let created = 0;
  let present = 0;
  for (const t of doc.business_types) {
    const res = await api('admin', 'POST', '/v1/business-types', t,
      { 'Idempotency-Key': `tianxing-demo-business-type:${t.code}` });
    if (res.status === 201 && res.headers.get('idempotent-replayed') !== 'true') created++;
    else if (res.status === 201 || res.status === 409) present++;
    else throw new ApiError(`business type ${t.code}: HTTP ${res.status}: ${res.text}`);
  }
  const types = new Map((await all('admin', '/v1/business-types')).map((t) => [t.code, t]));
  return { created, present, types };
}

// The order of the states a demo case goes through, as far as its `state`.
const PATH = ['received', 'intake', 'submitted', 'decided', 'in_progress'];
// The department's supervisor of a demo receiver (sql/demo/0001_org.sql: departments A and B).
const supervisorOf = (user) => (user.startsWith('staff.a') || user === 'sup.a' ? 'sup.a' : 'sup.b');

async function seedCases(types) {
  const doc = JSON.parse(readFileSync(path.join(here, 'demo-cases.json'), 'utf8'));
  const custDoc = JSON.parse(readFileSync(path.join(here, 'demo-customers.json'), 'utf8'));
  const companyOf = new Map(custDoc.customers.map((c) => [c.demo_id, c.customer.company_name || c.customer.name]));
  const customers = await all('admin', '/v1/customers');
  const employees = new Map((await all('admin', '/v1/employees')).map((e) => [e.username, e.id]));
  let created = 0;
  let present = 0;
  for (const d of doc.cases) {
    const where = `demo case ${d.demo_id}`;
    const company = companyOf.get(d.customer);
    const cu = customers.find((c) => (c.company_name || c.name) === company);
    if (!cu) throw new ApiError(`${where}: demo customer ${d.customer} (${company}) not found`);
    const tag = `[${d.demo_id}] `;
    const mine = await all(d.receiver, `/v1/cases?customer_id=${cu.id}`);
    if (mine.some((k) => String(k.request?.need ?? k.need ?? '').startsWith(tag))) {
      present++;
      continue;
    }
    const type = types.get(d.business_type);
    if (!type) throw new ApiError(`${where}: no business type ${d.business_type}`);
    const sup = supervisorOf(d.receiver);
    let k = expect(await api(d.receiver, 'POST', '/v1/cases', {
      customer_id: cu.id, raised_at: new Date(Date.now() - 2 * 3600e3).toISOString(),
      channel: d.channel, need: tag + d.need,
    }, { 'Idempotency-Key': `tianxing-demo-case:${d.demo_id}` }), 201, `${where}: POST /v1/cases`);
    const upTo = (s) => PATH.indexOf(s) <= PATH.indexOf(['approved', 'returned', 'rejected'].includes(d.state) ? 'decided' : d.state);
    if (d.state === 'out_of_scope') {
      k = expect(await api(d.receiver, 'POST', `/v1/cases/${k.id}/assess`,
        { in_scope: false, reason: d.scope_reason }), 200, `${where}: assess`);
    } else if (upTo('intake')) {
      k = expect(await api(d.receiver, 'POST', `/v1/cases/${k.id}/assess`,
        { in_scope: true, business_type_id: type.id }), 200, `${where}: assess`);
    }
    if (d.state !== 'out_of_scope' && upTo('submitted')) {
      k = expect(await api(d.receiver, 'PUT', `/v1/cases/${k.id}/intake`,
        { requirements: d.requirements, expected_on: new Date(Date.now() + 14 * 86400e3).toISOString().slice(0, 10) },
        { 'If-Match': `"${k.version}"` }), 200, `${where}: intake`);
      k = expect(await api(d.receiver, 'POST', `/v1/cases/${k.id}/submit`), 200, `${where}: submit`);
    }
    if (d.state !== 'out_of_scope' && upTo('decided')) {
      const action = { returned: 'return', rejected: 'reject' }[d.state] || 'approve';
      const body = action === 'approve' ? { comment: '同意受理' } : { reason: d.decision_reason };
      k = expect(await api(sup, 'POST', `/v1/cases/${k.id}/${action}`, body), 200, `${where}: ${action}`);
    }
    if (d.state === 'in_progress') {
      const ids = (names) => names.map((n) => {
        if (!employees.has(n)) throw new ApiError(`${where}: no employee ${n}`);
        return employees.get(n);
      });
      k = expect(await api(sup, 'POST', `/v1/cases/${k.id}/assignments`,
        { lead: ids([d.lead])[0], members: ids(d.members || []) }), [200, 201], `${where}: assignments`);
    }
    const status = k.status ?? k.case?.status;
    if (status !== undefined && status !== d.state) throw new ApiError(`${where}: ended in ${status}, not ${d.state}`);
    created++;
  }
  return { created, present };
}

try {
  const bt = await seedBusinessTypes();
  note(`demo business types: ${bt.created} created, ${bt.present} already there`);
  const cs = await seedCases(bt.types);
  note(`demo cases: ${cs.created} created, ${cs.present} already there (deploy/local/demo-cases.json)`);
} catch (e) {
  if (!(e instanceof ApiError)) throw e;
  note(`error: demo cases: ${e.message}`);
  process.exit(1);
}
