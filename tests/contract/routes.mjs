#!/usr/bin/env node
// Contract tier: the route table of the binary and the paths of openapi.yaml must agree.
//
// Runs `$TX_TEST_BIN routes --json` and compares its (METHOD, path) pairs with the contract's
// operations in both directions (HEAD and OPTIONS are derived by the core, so they are ignored
// on both sides). Every contract operation must carry `x-clauses` with known regulation clause
// IDs, and the route table's clauses for a route must equal its operation's `x-clauses`. Every
// operation must also carry `x-roles` (the roles it admits: `[]` public, `["*"]` any
// authenticated role, else role names), equal to the route table's roles for the route, and its
// effective `security` must agree: `[]` for a public operation, bearerAuth for the others.
// The media types a GET route gives by content negotiation (`media_types`, core/formats.h) must
// be those of its operation's 200 response, and its CSV columns (`csv_columns`) the `text/csv`
// media type's `x-csv-columns`.
// Prints each difference; exits 1 on any, 0 when they agree.
//
// Env: TX_TEST_BIN (required), TX_TEST_SOURCE_DIR (repository root; default: two levels up).

import { CONTRACT, reporter } from './lib.mjs';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'trace']; // head/options: derived
const DERIVED = new Set(['HEAD', 'OPTIONS']);

// Clause IDs of regulations/REGULATIONS.md (the published text ends after S1). A whole section
// (e.g. `C2`) may be cited as well as its clauses.
const CLAUSES = new Set([
  'G1', 'G2', 'G3',
  'C1', 'C1.1', 'C1.2', 'C1.3', 'C2', 'C2.1', 'C2.2', 'C2.3',
  'C3', 'C3.1', 'C3.2', 'C3.3', 'C4', 'C4.1', 'C4.2', 'C4.3',
  'P1', 'P1.1', 'P1.2', 'P1.3', 'P1.4', 'P2', 'P2.1', 'P2.2', 'P2.3', 'P2.4',
  'P3', 'P3.1', 'P3.2', 'P3.3', 'P3.4', 'P4', 'P4.1', 'P4.2', 'P4.3',
  'Q1', 'Q2', 'Q2.1', 'Q2.2', 'Q3', 'Q4',
  'R1', 'R1.1', 'R1.2', 'R1.3', 'R2', 'R2.1', 'R2.2', 'R2.3', 'R2.4',
  'R3', 'R3.1', 'R3.2', 'R3.3', 'R4', 'R4.1', 'R4.2', 'R4.3',
  'S1',
]);

// The roles of docs/identity.md; `*` (alone) admits any of them.
const ROLES = new Set(['staff', 'supervisor', 'hr', 'risk_officer', 'auditor', 'admin']);

const { problem, fatal, finish, loadContract, runBinary } = reporter('routes');

const key = (method, p) => `${method} ${p}`;
const sameSet = (a, b) => a.size === b.size && [...a].every((x) => b.has(x));
const fmt = (xs) => `[${[...xs].join(', ')}]`;

// --- the binary's route table
let table;
try {
  table = JSON.parse(runBinary(['routes', '--json']));
} catch (e) {
  fatal(`routes --json did not print JSON: ${e.message}`);
}
if (!Array.isArray(table)) fatal('routes --json did not print a JSON array');

const routes = new Map(); // "METHOD path" -> route
for (const [i, r] of table.entries()) {
  if (typeof r?.method !== 'string' || typeof r?.path !== 'string' ||
      !Array.isArray(r?.roles) || !Array.isArray(r?.clauses)) {
    problem(`route table entry ${i} lacks method/path/roles/clauses: ${JSON.stringify(r)}`);
    continue;
  }
  const method = r.method.toUpperCase();
  if (DERIVED.has(method)) continue;
  const k = key(method, r.path);
  if (routes.has(k)) problem(`route table lists ${k} twice`);
  routes.set(k, r);
}

// --- the contract's operations
const doc = loadContract();
const ops = new Map(); // "METHOD path" -> operation
for (const [p, item] of Object.entries(doc.paths ?? {})) {
  for (const m of METHODS) {
    if (item?.[m]) ops.set(key(m.toUpperCase(), p), item[m]);
  }
}

if (ops.size === 0) problem(`${CONTRACT} documents no operations`);
if (routes.size === 0) problem('the route table is empty');

// --- compare both ways
for (const k of routes.keys()) {
  if (!ops.has(k)) problem(`${k}: in the route table, not in openapi.yaml`);
}
for (const k of ops.keys()) {
  if (!routes.has(k)) problem(`${k}: in openapi.yaml, not in the route table`);
}

// --- clauses
for (const [k, op] of ops) {
  const xc = op['x-clauses'];
  if (!Array.isArray(xc) || xc.length === 0) {
    problem(`${k}: operation has no x-clauses`);
    continue;
  }
  for (const c of xc) {
    if (!CLAUSES.has(c)) problem(`${k}: x-clauses names unknown clause ${JSON.stringify(c)}`);
  }
  const r = routes.get(k);
  if (!r) continue;
  const mine = new Set(xc);
  const theirs = new Set(r.clauses);
  if (!sameSet(mine, theirs)) {
    problem(`${k}: route table clauses ${fmt(theirs)} differ from x-clauses ${fmt(mine)}`);
  }
}
for (const [k, r] of routes) {
  for (const c of r.clauses) {
    if (!CLAUSES.has(c)) problem(`${k}: route table names unknown clause ${JSON.stringify(c)}`);
  }
}

// --- representations (content negotiation)
for (const [k, r] of routes) {
  const op = ops.get(k);
  if (!op || !k.startsWith('GET ')) continue;
  const content = op.responses?.['200']?.content ?? {};
  const documented = new Set(Object.keys(content).map((t) => t.split(';')[0].trim()));
  const given = new Set(r.media_types ?? ['application/json']);
  // a route without formats may document a non-JSON 200 of its own (a file's content, YAML)
  if (r.media_types && !sameSet(documented, given)) {
    problem(`${k}: the route gives ${fmt(given)}, its 200 documents ${fmt(documented)}`);
  }
  if (!r.media_types) {
    for (const t of ['text/csv', 'image/svg+xml']) {
      if (documented.has(t)) problem(`${k}: its 200 documents ${t}, the route does not give it`);
    }
  }
  if (given.has('text/csv')) {
    const cols = content['text/csv']?.['x-csv-columns'];
    if (JSON.stringify(cols) !== JSON.stringify(r.csv_columns)) {
      problem(`${k}: CSV columns ${JSON.stringify(r.csv_columns)} differ from x-csv-columns ${JSON.stringify(cols)}`);
    }
  }
}

// --- roles
for (const [k, op] of ops) {
  const xr = op['x-roles'];
  if (!Array.isArray(xr)) {
    problem(`${k}: operation has no x-roles (use [] for a public operation)`);
    continue;
  }
  const mine = new Set(xr);
  if (mine.size !== xr.length) problem(`${k}: x-roles lists a role twice`);
  for (const role of xr) {
    if (role !== '*' && !ROLES.has(role)) problem(`${k}: x-roles names unknown role ${JSON.stringify(role)}`);
  }
  if (mine.has('*') && mine.size > 1) problem(`${k}: x-roles has "*" with other roles`);

  // Effective security: the operation's own, else the document's.
  const security = op.security ?? doc.security ?? [];
  const bearer = Array.isArray(security) && security.some((req) => req && 'bearerAuth' in req);
  if (xr.length === 0 && !(Array.isArray(security) && security.length === 0)) {
    problem(`${k}: x-roles is [] (public) but security is not []`);
  }
  if (xr.length > 0 && !bearer) problem(`${k}: x-roles ${fmt(mine)} but security lacks bearerAuth`);

  const r = routes.get(k);
  if (!r) continue;
  const theirs = new Set(r.roles);
  if (!sameSet(mine, theirs)) {
    problem(`${k}: route table roles ${fmt(theirs)} differ from x-roles ${fmt(mine)}`);
  }
}
for (const [k, r] of routes) {
  for (const role of r.roles) {
    if (role !== '*' && !ROLES.has(role)) problem(`${k}: route table names unknown role ${JSON.stringify(role)}`);
  }
}

finish(`${routes.size} in the route table, ${ops.size} in openapi.yaml`);
