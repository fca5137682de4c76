// Demo data of module P for the local run (issue 11): the business types of
// deploy/local/demo-business-types.json, then the demo cases of deploy/local/demo-cases.json, all
// through the API as the demo users (tokens minted with the local signing key by `tianxingd
// token`), after deploy/local/run has created the demo customers.
//
//   node deploy/local/seed-demo-cases.mjs BASE_URL TIANXINGD
//
// Idempotent across runs: a business type whose code exists (409) is left alone; a demo case is
// made only when its customer has no case yet, visible to its receiver, whose need starts with the
// case's demo tag ("[demo-p01] ..."), so a second run finds them and makes none; a case found
// short of its state (an interrupted run) is walked on from where it is. Prints one summary line; exits 1
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
  // with the current standard in full (milestones, checklist, documents: the steps need them)
  const types = new Map();
  for (const t of await all('admin', '/v1/business-types')) {
    types.set(t.code, expect(await api('admin', 'GET', `/v1/business-types/${t.id}`), 200, `GET business type ${t.code}`));
  }
  return { created, present, types };
}

// The department's supervisor of a demo receiver (sql/demo/0001_org.sql: departments A and B).
const supervisorOf = (user) => (user.startsWith('staff.a') || user === 'sup.a' ? 'sup.a' : 'sup.b');
const today = (days = 0) => new Date(Date.now() + days * 86400e3).toISOString().slice(0, 10);
const b64 = (text) => Buffer.from(text, 'utf8').toString('base64');

// One step of a demo case from its current `status` towards `d.state`, through the API as the
// demo user whose step it is: the receiver up to submission, the department's supervisor for the
// decision, the assignment and the review (P3.1: not on the team, wrote no work record), the lead
// for the work, delivery, confirmation and archive. Returns the case document after the step.
async function step(d, k, ctx) {
  const { where, type, sup, lead, ids } = ctx;
  const post = async (user, p, body, what, status = 200) =>
    expect(await api(user, 'POST', `/v1/cases/${k.id}${p}`, body), status, `${where}: ${what}`);
  const doc = async () => expect(await api(d.receiver, 'GET', `/v1/cases/${k.id}`), 200, `${where}: GET`);
  switch (k.status) {
    case 'received':
      return d.state === 'out_of_scope'
        ? post(d.receiver, '/assess', { in_scope: false, reason: d.scope_reason }, 'assess')
        : post(d.receiver, '/assess', { in_scope: true, business_type_id: type.id }, 'assess');
    case 'intake':
    case 'returned': {
      if (k.status === 'intake' || d.state !== 'returned') {
        k = expect(await api(d.receiver, 'PUT', `/v1/cases/${k.id}/intake`,
          { requirements: d.requirements, expected_on: today(14) }, { 'If-Match': `"${k.version}"` }), 200, `${where}: intake`);
      }
      return post(d.receiver, '/submit', undefined, 'submit');
    }
    case 'submitted': {
      const action = { returned: 'return', rejected: 'reject' }[d.state] || 'approve';
      return post(sup, `/${action}`, action === 'approve' ? { comment: '同意受理' } : { reason: d.decision_reason }, action);
    }
    case 'approved':
      return post(sup, '/assignments', { lead: ids([lead])[0], members: ids(d.members || []) }, 'assignments');
    case 'in_progress': {
      // P2.2: every required milestone of the case's type version has its work record
      const at = new Date().toISOString();
      for (const m of type.standard.milestones.filter((x) => x.required !== false)) {
        await post(lead, '/work-records', { milestone_code: m.code, content: `${m.name}:已完成`, result: '完成',
          hours: 2, started_at: at, finished_at: at }, `work record ${m.code}`, 201);
      }
      await post(lead, '/submit-review', {}, 'submit-review');
      return doc();
    }
    case 'under_review': {
      // rectifying: the first criterion fails (a failed verdict says why); otherwise all pass
      const fail = d.state === 'rectifying';
      const why = d.review_comment || '資料不足,請補正。';
      const verdicts = type.standard.checklist.map((c, n) => (fail && n === 0
        ? { criterion: c.code, verdict: 'fail', comment: why }
        : { criterion: c.code, verdict: 'pass' }));
      // P3.3: a failed review says what to rectify
      await post(sup, '/reviews', fail ? { verdicts, comment: why } : { verdicts }, 'review', [200, 201]);
      return doc();
    }
    case 'passed': {
      const f = await post(lead, '/files', { name: `${d.demo_id}-交付成果.txt`, media_type: 'text/plain',
        purpose: 'deliverable', content: b64(`${d.need}\n交付成果(演示資料)`) }, 'deliverable file', 201);
      await post(lead, '/deliver', { method: 'email', file_ids: [f.id] }, 'deliver', [200, 201]);
      return doc();
    }
    case 'delivered':
      await post(lead, '/confirmations', { outcome: 'confirmed', rating: 5, evidence: '客戶電話確認收妥(演示)' },
        'confirmation', [200, 201]);
      return doc();
    case 'confirmed': {
      // P4.1: every required document of the type is on file before archiving (those a first,
      // interrupted run added are not added again)
      const files = expect(await api(lead, 'GET', `/v1/cases/${k.id}/files?limit=200`), 200, `${where}: files`).items;
      for (const r of type.standard.documents) {
        if (files.some((f) => f.document_code === r.code)) continue;
        await post(lead, '/files', { name: `${r.name}(紙本)`, purpose: 'document', document_code: r.code,
          location: '檔案室 A-01-01' }, `document ${r.code}`, 201);
      }
      await post(lead, '/archive', undefined, 'archive', [200, 201]);
      return doc();
    }
    default:
      throw new ApiError(`${where}: no step from ${k.status} towards ${d.state}`);
  }
}

async function seedCases(types) {
  const doc = JSON.parse(readFileSync(path.join(here, 'demo-cases.json'), 'utf8'));
  const custDoc = JSON.parse(readFileSync(path.join(here, 'demo-customers.json'), 'utf8'));
  const companyOf = new Map(custDoc.customers.map((c) => [c.demo_id, c.customer.company_name || c.customer.name]));
  const customers = await all('admin', '/v1/customers');
  const employees = new Map((await all('admin', '/v1/employees')).map((e) => [e.username, e.id]));
  let created = 0;
  let present = 0;
  let moved = 0;
  for (const d of doc.cases) {
    const where = `demo case ${d.demo_id}`;
    const company = companyOf.get(d.customer);
    const cu = customers.find((c) => (c.company_name || c.name) === company);
    if (!cu) throw new ApiError(`${where}: demo customer ${d.customer} (${company}) not found`);
    const type = types.get(d.business_type);
    if (!type) throw new ApiError(`${where}: no business type ${d.business_type}`);
    const ctx = {
      where, type, sup: supervisorOf(d.receiver), lead: d.lead || d.receiver,
      ids: (names) => names.map((n) => {
        if (!employees.has(n)) throw new ApiError(`${where}: no employee ${n}`);
        return employees.get(n);
      }),
    };
    // The case of an earlier run: the list gives summaries, the need is in the case document.
    const tag = `[${d.demo_id}] `;
    let k = null;
    for (const item of await all(d.receiver, `/v1/cases?customer_id=${cu.id}`)) {
      const full = expect(await api(d.receiver, 'GET', `/v1/cases/${item.id}`), 200, `${where}: GET`);
      if (String(full.request?.need ?? '').startsWith(tag)) k = full;
    }
    if (k) {
      present++;
    } else {
      k = expect(await api(d.receiver, 'POST', '/v1/cases', {
        customer_id: cu.id, raised_at: new Date(Date.now() - 2 * 3600e3).toISOString(),
        channel: d.channel, need: tag + d.need,
      }, { 'Idempotency-Key': `tianxing-demo-case:${d.demo_id}` }), 201, `${where}: POST /v1/cases`);
      created++;
    }
    // Walks on from where it is (an interrupted run resumes), at most the whole machine.
    const from = k.status;
    for (let n = 0; k.status !== d.state; n++) {
      if (n > 12) throw new ApiError(`${where}: stuck in ${k.status}, not ${d.state}`);
      k = await step(d, k, ctx);
    }
    if (from !== k.status) moved++;
  }
  return { created, present, moved };
}

try {
  const bt = await seedBusinessTypes();
  note(`demo business types: ${bt.created} created, ${bt.present} already there`);
  const cs = await seedCases(bt.types);
  note(`demo cases: ${cs.created} created, ${cs.present} already there, ${cs.moved} moved on (deploy/local/demo-cases.json)`);
} catch (e) {
  if (!(e instanceof ApiError)) throw e;
  note(`error: demo cases: ${e.message}`);
  process.exit(1);
}
