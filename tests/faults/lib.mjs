// Shared pieces of the faults tier (docs/architecture.md, "Faults"): a bounded write storm that
// remembers what the service acknowledged, and the checks that a restart lost none of it.
//
// The faults tests reuse the api tier's harness (tests/api/lib) for the cluster, the service and
// HTTP. They run with TX_TEST_RECORD_DIR empty (tests/CMakeLists.txt): their answers are taken
// while the service or the database is being broken, and are checked here, not by the contract
// tier's replay of recorded answers.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';

import { env, pg, lit, runBin } from '../api/lib/harness.mjs';
import { caseRequest } from '../api/lib/cases.mjs';

/**
 * Runs a bash snippet with deploy/local/lib.sh sourced (its tx_pg_* functions start and stop
 * clusters of a test's own as the unprivileged user); "$1"... are `args`. Returns trimmed stdout.
 */
export function sh(script, args = [], timeout = 120000) {
  const lib = path.join(env.sourceDir, 'deploy', 'local', 'lib.sh');
  try {
    return execFileSync('bash', ['-c', `set -euo pipefail; source "$0"; ${script}`, lib, ...args], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout,
    }).trim();
  } catch (e) {
    throw new Error(`${script} failed: ${e.stderr || e.message}`);
  }
}

/**
 * What the service acknowledged during a storm, per resource: the last 2xx version (and case
 * status), and whether a later write was in flight (sent, no answer) when the storm ended: its
 * outcome is unknown to the client, so the resource may be one step further.
 */
export class Ledger {
  constructor() {
    this.customers = new Map(); // id -> { version, inFlight }
    this.cases = new Map(); // id -> { version, status, inFlight }
    this.acks = 0;
    this.failures = []; // answers that are neither 2xx nor an expected refusal
  }
}

const name = () => `客戶${crypto.randomBytes(4).toString('hex')}`;

/**
 * One worker of the storm acting as client `c` (a staff member of department A): creates
 * customers, renames them (If-Match), and walks cases of them through request -> assess ->
 * intake -> submit. Each step is sent only after the previous one was acknowledged, so a
 * resource's acknowledged version is well defined. Stops when `until()` is true or a request
 * fails at the transport (the service died); answers other than 2xx go to ledger.failures unless
 * `tolerate(res)` accepts them (then the step is simply not acknowledged).
 */
export async function stormWorker(c, typeId, ledger, until, { tolerate = () => false } = {}) {
  const mine = [];
  const send = async (fn) => {
    try {
      return await fn();
    } catch {
      return null; // no answer: the service is gone (or going); the outcome is unknown
    }
  };
  const ack = (res, status) => {
    if (res.status === status) { ledger.acks++; return true; }
    if (!tolerate(res)) ledger.failures.push(`${res.method} ${res.path} -> ${res.status} ${res.text}`);
    return false;
  };
  while (!until()) {
    const roll = Math.random();
    if (mine.length < 2 || roll < 0.3) {
      const res = await send(() => c.post('/v1/customers', {
        name: name(), company_name: `${name()}有限公司`, business_scope: '貿易', tags: ['壓測'], source: '轉介',
      }, { headers: { 'Idempotency-Key': crypto.randomUUID() } }));
      if (!res) return;
      if (ack(res, 201)) {
        ledger.customers.set(res.json.id, { version: res.json.version, inFlight: false });
        mine.push(res.json.id);
      }
    } else if (roll < 0.65) {
      const id = mine[Math.floor(Math.random() * mine.length)];
      const cur = ledger.customers.get(id);
      cur.inFlight = true;
      const res = await send(() => c.patch(`/v1/customers/${id}`, { name: name() },
        { headers: { 'If-Match': `"${cur.version}"` } }));
      if (!res) return;
      cur.inFlight = false;
      if (ack(res, 200)) cur.version = res.json.version;
    } else {
      const cu = mine[Math.floor(Math.random() * mine.length)];
      const res = await send(() => c.post('/v1/cases', caseRequest(cu)));
      if (!res) return;
      if (!ack(res, 201)) continue;
      const k = { version: res.json.version, status: res.json.status, inFlight: false };
      ledger.cases.set(res.json.id, k);
      const steps = [
        () => c.post(`/v1/cases/${res.json.id}/assess`, { in_scope: true, business_type_id: typeId }),
        () => c.put(`/v1/cases/${res.json.id}/intake`, { requirements: '年度財務報表審計' },
          { headers: { 'If-Match': `"${k.version}"` } }),
        () => c.post(`/v1/cases/${res.json.id}/submit`),
      ];
      for (const step of steps) {
        if (until()) break;
        k.inFlight = true;
        const r = await send(step);
        if (!r) return;
        k.inFlight = false;
        if (!ack(r, 200)) break;
        k.version = r.json.version;
        k.status = r.json.status;
      }
    }
  }
}

/**
 * Every acknowledged write is in the database: each customer and case at its last acknowledged
 * version, or exactly one step further where a write was in flight (sent, never answered).
 * Reads the rows as the superuser (the service's own reads are tested elsewhere).
 */
export function assertLedgerKept(db, ledger) {
  const rows = (sql) => new Map(pg(sql, { db }).split('\n').filter(Boolean).map((l) => {
    const [id, ...rest] = l.split('|');
    return [id, rest];
  }));
  const ids = (m) => [...m.keys()].map(lit).join(',') || 'NULL';
  const cust = rows(`SELECT id || '|' || version FROM cust.customers WHERE id IN (${ids(ledger.customers)})`);
  for (const [id, a] of ledger.customers) {
    assert.ok(cust.has(id), `acknowledged customer ${id} is in the database`);
    const v = Number(cust.get(id)[0]);
    const okV = v === a.version || (a.inFlight && v === a.version + 1);
    assert.ok(okV, `customer ${id}: version ${v}, acknowledged ${a.version}${a.inFlight ? ' (+1 in flight)' : ''}`);
  }
  const cases = rows(`SELECT id || '|' || version || '|' || status FROM cases.cases WHERE id IN (${ids(ledger.cases)})`);
  for (const [id, a] of ledger.cases) {
    assert.ok(cases.has(id), `acknowledged case ${id} is in the database`);
    const [vs, status] = cases.get(id);
    const v = Number(vs);
    if (v === a.version) assert.equal(status, a.status, `case ${id} at its acknowledged version has its status`);
    else assert.ok(a.inFlight && v > a.version, `case ${id}: version ${v} (${status}), acknowledged ${a.version} (${a.status})`);
  }
}

/**
 * No audit gap: `tianxingd audit-verify` finds the hash chain intact, and every version of every
 * customer the storm touched has its audit entry (one INSERT, then one UPDATE per version).
 */
export async function assertAuditWhole(db, ledger) {
  const r = await runBin(['audit-verify'], { db });
  assert.equal(r.code, 0, `audit-verify: ${r.stdout}${r.stderr}`);
  const v = JSON.parse(r.stdout);
  assert.equal(v.intact, true, r.stdout);
  assert.ok(v.checked > ledger.acks, `audit-verify checked ${v.checked} entries`);
  const ids = [...ledger.customers.keys()].map(lit).join(',');
  if (!ids) return;
  const gaps = pg(`SELECT c.id || ' v' || c.version || ' audited ' || count(l.id)
      FROM cust.customers c LEFT JOIN audit.log l ON l.table_name = 'cust.customers' AND l.row_key = c.id::text
     WHERE c.id IN (${ids})
     GROUP BY c.id, c.version HAVING count(l.id) <> c.version`, { db });
  assert.equal(gaps, '', 'customers whose versions are not each audited once');
}
