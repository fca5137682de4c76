// Shared fixtures and token helpers of the identity tests (auth, org, regulations, audit):
// the organization of sql/tests/fixtures.sql with real passwords, the service's signing key, and
// JWTs built with node:crypto (any algorithm, any claims, good or forged signatures).
//
// Fixtures are written AS tianxing_owner, which is subject to FORCE ROW LEVEL SECURITY: the
// transaction first sets the claims of the first administrator (docs/identity.md), exactly like
// sql/tests/fixtures.sql. Passwords are hashed by `tianxingd hash-password` with a cheap scrypt
// cost (the service reads the cost from the hash when it verifies).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import {
  assertCommonHeaders, assertProblem, env, lit, pg, request, responses, serviceEnv, startService,
  tempDir,
} from './harness.mjs';

// ---------------------------------------------------------------------------------------------
// The organization (ids as in sql/tests/fixtures.sql)

export const DEPT = {
  A: '10000000-0000-4000-8000-00000000000a',
  B: '10000000-0000-4000-8000-00000000000b',
  HR: '10000000-0000-4000-8000-00000000000c',
};

const E = (n) => `20000000-0000-4000-8000-0000000000${String(n).padStart(2, '0')}`;

/** Fixture employees by a short key: { id, username, roles, dept, supervisor, active, password }. */
export const EMP = {
  admin: { id: E(1), username: 'admin', name: 'Admin', roles: ['admin'], dept: null, supervisor: null },
  hr: { id: E(2), username: 'hr', name: 'HR Officer', roles: ['hr'], dept: DEPT.HR, supervisor: null },
  risk: { id: E(3), username: 'risk', name: 'Risk Officer', roles: ['risk_officer'], dept: null, supervisor: null },
  auditor: { id: E(4), username: 'auditor', name: 'Auditor', roles: ['auditor'], dept: null, supervisor: null },
  supA: { id: E(5), username: 'sup.a', name: 'Supervisor A', roles: ['staff', 'supervisor'], dept: DEPT.A, supervisor: null },
  supB: { id: E(6), username: 'sup.b', name: 'Supervisor B', roles: ['supervisor'], dept: DEPT.B, supervisor: null },
  staffA1: { id: E(7), username: 'staff.a1', name: 'Staff A1', roles: ['staff'], dept: DEPT.A, supervisor: E(5) },
  staffA2: { id: E(8), username: 'staff.a2', name: 'Staff A2', roles: ['staff'], dept: DEPT.A, supervisor: E(5) },
  staffB1: { id: E(9), username: 'staff.b1', name: 'Staff B1', roles: ['staff'], dept: DEPT.B, supervisor: E(6) },
  gone: { id: E(10), username: 'gone', name: 'Former Staff', roles: ['staff'], dept: DEPT.A, supervisor: E(5), active: false },
  admin2: { id: E(11), username: 'admin2', name: 'Second Admin', roles: ['admin', 'hr'], dept: DEPT.HR, supervisor: null },
  staffX: { id: E(12), username: 'staff.x', name: 'Staff X', roles: ['staff'], dept: null, supervisor: E(5) },
};
for (const e of Object.values(EMP)) {
  if (e.active === undefined) e.active = true;
  e.password = `${e.username}-secret-1`;
}

/** Every fixture employee's id. */
export const ALL_IDS = Object.values(EMP).map((e) => e.id);

/** A representative employee per role, holding exactly that role. */
export const BY_ROLE = {
  staff: EMP.staffA1,
  supervisor: EMP.supB,
  hr: EMP.hr,
  risk_officer: EMP.risk,
  auditor: EMP.auditor,
  admin: EMP.admin,
};
export const ROLES = Object.keys(BY_ROLE);

/** The scrypt hash of `password` from `tianxingd hash-password` (cheap cost: ln=10). */
export function hashPassword(password) {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'tx-hash-'));
  try {
    return execFileSync(env.bin, ['hash-password'], {
      cwd, input: `${password}\n`, encoding: 'utf8', timeout: 30000,
      env: serviceEnv({ env: { TIANXING_PASSWORD_SCRYPT_LN: 10 } }),
      stdio: ['pipe', 'pipe', 'pipe'],
    }).trim();
  } finally {
    fs.rmSync(cwd, { recursive: true, force: true });
  }
}

/** Runs `sql` AS tianxing_owner in one transaction with the claims of fixture admin. */
export function asOwnerAdmin(db, sql, requestId = 'fixtures') {
  return pg(`BEGIN;
SELECT set_config('tx.user_id', ${lit(EMP.admin.id)}, true), set_config('tx.roles', 'admin', true),
       set_config('tx.department_id', '', true), set_config('tx.request_id', ${lit(requestId)}, true);
${sql}
COMMIT;`, { db, user: 'tianxing_owner' });
}

/**
 * Loads the departments and employees of sql/tests/fixtures.sql into the migrated database `db`,
 * with a password (EMP.x.password) for every employee; `gone` is deactivated.
 */
export function loadFixtures(db) {
  const emps = Object.values(EMP);
  const hashes = emps.map((e) => hashPassword(e.password));
  const q = (v) => (v === null ? 'NULL' : lit(v));
  const rows = emps.map((e) => `(${lit(e.id)}, ${lit(e.username)}, ${lit(e.name)}, ${e.username === 'admin' ? lit('admin@example.test') : 'NULL'}, ${q(e.dept)}, ${q(e.supervisor)}, ${lit(`{${e.roles.join(',')}}`)})`);
  asOwnerAdmin(db, `
INSERT INTO org.departments (id, code, name, kind) VALUES
  (${lit(DEPT.A)}, 'A', '業務一部 Business A', 'business'),
  (${lit(DEPT.B)}, 'B', '業務二部 Business B', 'business'),
  (${lit(DEPT.HR)}, 'HR', '人力資源部 Human resources', 'hr');
INSERT INTO org.employees (id, username, display_name, email, department_id, supervisor_id, roles) VALUES
  ${rows.join(',\n  ')};
${emps.map((e, i) => `SELECT auth.set_password(${lit(e.id)}, ${lit(hashes[i])});`).join('\n')}
UPDATE org.employees SET active = false WHERE id = ${lit(EMP.gone.id)};`);
}

// ---------------------------------------------------------------------------------------------
// Keys and tokens

export const b64u = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
export const now = () => Math.floor(Date.now() / 1000);

/** RFC 7638 thumbprint of an EC P-256 public JWK (the service's kid). */
export function ecThumbprint(jwk) {
  return crypto.createHash('sha256')
    .update(`{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`).digest('base64url');
}

/**
 * A new key pair (crypto.generateKeyPairSync's type and options) as KeyObjects of their own.
 *
 * Why not the KeyObjects generateKeyPairSync returns: in Node.js 20 (seen on 20.20.2) they share
 * a lock with the generation job that made them, and the job's destructor takes that lock. When
 * V8 collects the job while a JWK export of one of those keys holds the lock (the export
 * allocates, so it can start a collection), the process waits for itself forever: the main
 * thread's stack shows ~KeyGenJob under ExportJWKEcKey. Every test that made a signing key could
 * hang that way, at random and silently, until ctest's timeout (faults_pg_restart in CI on
 * 2026-12-08; a hung process ignores SIGTERM, its JavaScript never runs again). Keys the job
 * returns encoded, and read back, belong to no job: a loop of generate-and-export that hung
 * within seconds ran 160 000 times this way (api_auth keeps a shorter loop as a test).
 */
export function keyPair(type, options) {
  const pem = crypto.generateKeyPairSync(type, {
    ...options,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKey: crypto.createPrivateKey(pem.privateKey), publicKey: crypto.createPublicKey(pem.publicKey) };
}

/**
 * A new EC P-256 signing key for the service, in a PKCS#8 PEM file (what
 * `openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt` writes).
 * Returns { file, privateKey, publicKey, jwk, kid, publicPem }.
 */
export function newSigningKey(dir = tempDir('tx-key-')) {
  const { privateKey, publicKey } = keyPair('ec', { namedCurve: 'prime256v1' });
  const file = path.join(dir, 'signing-key.pem');
  fs.writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const jwk = publicKey.export({ format: 'jwk' });
  return {
    file, privateKey, publicKey, jwk, kid: ecThumbprint(jwk),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }),
  };
}

/**
 * A compact JWS. `header` and `payload` are objects (or raw strings for the payload); `sign`
 * says how the signature is made, independently of header.alg (so forgeries can lie):
 *   { alg: 'ES256'|'RS256'|'HS256'|'HS384'|'none', key }  (key: KeyObject, PEM or secret)
 */
export function signJwt(header, payload, { alg = header.alg, key } = {}) {
  const data = `${b64u(header)}.${b64u(payload)}`;
  let sig;
  switch (alg) {
    case 'ES256':
      sig = crypto.sign('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' });
      break;
    case 'RS256':
      sig = crypto.sign('sha256', Buffer.from(data), key);
      break;
    case 'HS256':
    case 'HS384':
    case 'HS512':
      sig = crypto.createHmac(`sha${alg.slice(2)}`, key).update(data).digest();
      break;
    case 'none':
      sig = Buffer.alloc(0);
      break;
    default:
      throw new Error(`signJwt: unsupported alg ${alg}`);
  }
  return `${data}.${sig.toString('base64url')}`;
}

/** Standard claims of a token for `sub` with `roles`, valid for `ttl` seconds. */
export function claims(sub, roles, { ttl = 600, iss = 'tianxingd', aud, extra = {} } = {}) {
  const t = now();
  const c = { iss, sub, iat: t, nbf: t, exp: t + ttl, jti: crypto.randomUUID(), roles };
  if (aud !== undefined) c.aud = aud;
  return { ...c, ...extra };
}

/**
 * The service's own kind of token: ES256 with `key` (from newSigningKey), header kid = thumbprint.
 * `employee` is an EMP entry or a sub string; roles default to the employee's.
 */
export function ownToken(key, employee, { roles, ttl, aud, iss, extra, kid = key.kid } = {}) {
  const sub = typeof employee === 'string' ? employee : employee.id;
  const r = roles ?? (typeof employee === 'string' ? [] : employee.roles);
  const header = { alg: 'ES256', typ: 'JWT' };
  if (kid) header.kid = kid;
  return signJwt(header, claims(sub, r, { ttl, aud, iss, extra }), { key: key.privateKey });
}

/** Starts tianxingd on `db` with `key` as its signing key (and cheap password hashing). */
export function startIdentityService(db, key, extraEnv = {}) {
  return startService({
    db,
    env: { TIANXING_SIGNING_KEY_FILE: key.file, TIANXING_PASSWORD_SCRYPT_LN: 10, ...extraEnv },
  });
}

// ---------------------------------------------------------------------------------------------
// HTTP

/** request() with `Authorization: Bearer <token>` when a token is given. */
export function call(svc, method, p, { token, body, headers = {}, ...rest } = {}) {
  const h = { ...headers };
  if (token !== undefined) h.Authorization = `Bearer ${token}`;
  return request(svc, { method, path: p, headers: h, body, ...rest });
}

/** A client bound to one service and one token: c.get(path), c.post(path, body), ... */
export function client(svc, token) {
  const go = (method) => (p, body, opts = {}) => call(svc, method, p, { token, body, ...opts });
  return { token, get: (p, opts = {}) => call(svc, 'GET', p, { token, ...opts }), post: go('POST'), patch: go('PATCH'), put: go('PUT') };
}

/**
 * 401 unauthorized with a Bearer challenge: `error="invalid_token"` when a token was sent
 * (invalid: true), none when there was no token.
 */
export function assertUnauthorized(res, { invalid = true } = {}) {
  const p = assertProblem(res, 401, 'unauthorized');
  const h = res.headers['www-authenticate'] || '';
  assert.match(h, /^Bearer realm="tianxing"/, `WWW-Authenticate: ${h}`);
  if (invalid) assert.match(h, /error="invalid_token"/, `WWW-Authenticate: ${h}`);
  else assert.doesNotMatch(h, /error=/, `WWW-Authenticate without error: ${h}`);
  return p;
}

/** 422 validation_failed naming `field` in errors[]; returns the problem. */
export function assertFieldError(res, field) {
  const p = assertProblem(res, 422, 'validation_failed');
  assert.ok(Array.isArray(p.errors), `errors[] in ${res.text}`);
  assert.ok(p.errors.some((e) => e.field === field), `errors[] names ${field}: ${res.text}`);
  for (const e of p.errors) {
    assert.equal(typeof e.code, 'string');
    assert.equal(typeof e.message, 'string');
  }
  return p;
}

/** Asserts status (with the body in the message) and returns the parsed JSON. */
export function ok(res, status = 200) {
  assert.equal(res.status, status, `${res.method} ${res.path}: ${res.text}`);
  return res.json;
}

/** YYYY-MM-DD of the database's current_date + `days` (what the SQL functions call today). */
export function dbDay(db, days = 0) {
  return pg(`SELECT (current_date + ${Number(days)})::text`, { db });
}

/**
 * The final test of a file: every response carried the common headers, except the JWKS document,
 * which is the one response that may be cached (openapi.yaml: public, max-age=300).
 */
export function commonHeadersTestExceptJwks() {
  test('every response of this file carried X-Request-Id, Cache-Control: no-store (JWKS: public) and nosniff', () => {
    assert.ok(responses.length > 0);
    for (const r of responses) {
      if (r.path === '/.well-known/jwks.json' && r.status === 200) {
        assert.equal(r.headers['cache-control'], 'public, max-age=300');
        assert.equal(r.headers['x-content-type-options'], 'nosniff');
        assert.match(r.headers['x-request-id'] || '', /^[A-Za-z0-9._:-]{1,128}$/);
      } else {
        assertCommonHeaders(r);
      }
    }
  });
}
