// Demo data of module P for the local run (issue 11): the business types of
// deploy/local/demo-business-types.json, then the demo cases of deploy/local/demo-cases.json, all
// through the API as the demo users (tokens minted with the local signing key by `tianxingd
// token`), after deploy/local/run has created the demo customers.
//
//   node deploy/local/seed-demo-cases.mjs BASE_URL TIANXINGD
//
// Idempotent across runs: a business type whose code exists (409) is left alone; a demo case is
// made only when its customer has no case yet whose need starts with the case's demo tag
// ("[demo-p01] ..."), so a second run finds them and makes none. Prints one summary line; exits 1
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
    tokens.set(user, execFileSync(bin, ['token', '--sub', user, '--roles', roles, '--ttl', '3600'],
      { cwd: root, encoding: 'utf8' }).trim());
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
  if (res.status !== status) throw new ApiError(`${what}: HTTP ${res.status}: ${res.text}`);
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

try {
  const bt = await seedBusinessTypes();
  note(`demo business types: ${bt.created} created, ${bt.present} already there`);
} catch (e) {
  if (!(e instanceof ApiError)) throw e;
  note(`error: demo cases: ${e.message}`);
  process.exit(1);
}
