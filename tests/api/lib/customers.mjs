// Shared helpers of the customer tests (module C, docs/customers.md): the encryption key files
// the service needs, a service started with them, valid 統一社會信用代碼 (GB 32100-2015) and
// mainland mobile numbers that never repeat within a test file, raw reads of the sealed columns
// as the cluster superuser, and the assertions of the duplicate answer.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { assertNoLeak, env, lit, pg, tempDir } from './harness.mjs';
import { startIdentityService } from './identity.mjs';

// ---------------------------------------------------------------------------------------------
// Keys

const b64key = () => crypto.randomBytes(32).toString('base64');

/**
 * Key files in a directory of their own: the master keys (`KEYID=<base64 of 32 bytes>` per line,
 * the last line current) and the blind-index key (one base64 line).
 * Returns { dir, masterFile, indexFile, indexKey (base64), lines: [[id, base64]], withKey(id) -> new file with a
 * key appended, only(id) -> new file holding that key alone, unrelated(id) -> a file with a key
 * that wrapped nothing }.
 */
export function customerKeys(ids = ['k2024-01']) {
  const dir = tempDir('tx-cust-keys-');
  const lines = ids.map((id) => [id, b64key()]);
  const write = (name, ls) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, ls.map(([id, k]) => `${id}=${k}\n`).join(''), { mode: 0o600 });
    return f;
  };
  const masterFile = write('master.keys', lines);
  const indexFile = path.join(dir, 'blind-index.key');
  const indexKey = b64key();
  fs.writeFileSync(indexFile, `${indexKey}\n`, { mode: 0o600 });
  let n = 0;
  return {
    dir, masterFile, indexFile, indexKey, lines,
    withKey(id) {
      lines.push([id, b64key()]);
      return write(`master-${++n}.keys`, lines);
    },
    only(id) {
      return write(`master-${++n}.keys`, lines.filter(([i]) => i === id));
    },
    /** A file holding one brand-new key that wrapped nothing (not added to `lines`). */
    unrelated(id) {
      return write(`master-${++n}.keys`, [[id, b64key()]]);
    },
  };
}

/** The environment that gives a service (or a command) the customer keys. */
export const keyEnv = (keys, masterFile = keys.masterFile) => ({
  TIANXING_MASTER_KEYS_FILE: masterFile,
  TIANXING_BLIND_INDEX_KEY_FILE: keys.indexFile,
});

/** tianxingd on `db` with the signing key `key` and the customer keys. */
export function startCustomerService(db, key, keys, { masterFile, env: extra = {} } = {}) {
  return startIdentityService(db, key, { ...keyEnv(keys, masterFile), ...extra });
}

// ---------------------------------------------------------------------------------------------
// Identifiers

const CC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const CC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/** The GB 32100-2015 check character of the first 17 characters of a credit code. */
export function creditCheck(first17) {
  assert.equal(first17.length, 17);
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const v = CC_ALPHABET.indexOf(first17[i]);
    assert.ok(v >= 0, `credit code character ${first17[i]}`);
    sum += v * CC_WEIGHTS[i];
  }
  return CC_ALPHABET[(31 - (sum % 31)) % 31];
}

let ccSeq = 0;
/** A valid credit code not used before in this process (a company registered in Fuzhou). */
export function newCreditCode() {
  const body = `91350100MA${String(++ccSeq).padStart(7, '0')}`;
  return body + creditCheck(body);
}

let phoneSeq = 0;
/** A mainland mobile not used before in this process: { input (as typed), e164, masked }. */
export function newMobile() {
  const n = String(++phoneSeq).padStart(4, '0');
  const national = `1392026${n}`;
  return {
    input: `${national.slice(0, 3)} ${national.slice(3, 7)} ${national.slice(7)}`,
    e164: `+86${national}`,
    masked: `${national.slice(0, 3)}****${national.slice(7)}`,
  };
}

let mailSeq = 0;
/** An e-mail not used before in this process: { input (mixed case), stored, masked }. */
export function newEmail(local = 'liu.yang') {
  const stored = `${local}${++mailSeq}@tianxing-trade.cn`;
  return { input: stored.replace(/^./, (c) => c.toUpperCase()).replace('tianxing', 'TianXing'), stored, masked: `${stored[0]}***@tianxing-trade.cn` };
}

// ---------------------------------------------------------------------------------------------
// Database (cluster superuser: bypasses row-level security)

/** Rows of `sql` (psql -A -t), each split on '|'. */
export function rows(db, sql) {
  const out = pg(sql, { db });
  return out === '' ? [] : out.split('\n').map((l) => l.split('|'));
}

/** One number from `sql`. */
export const count = (db, sql) => Number(pg(sql, { db }));

/** What is stored of customer `id`: the sealed columns and indexes as Buffers (null when NULL). */
export function rawCustomer(db, id) {
  const hex = (c) => `coalesce(encode(${c}, 'hex'), 'NULL')`;
  const [row] = rows(db, `SELECT ${hex('address_enc')}, ${hex('credit_code_enc')}, ${hex('credit_code_bidx')},
    name, coalesce(company_name, 'NULL'), status FROM cust.customers WHERE id = ${lit(id)}`);
  if (!row) return null;
  const buf = (h) => (h === 'NULL' ? null : Buffer.from(h, 'hex'));
  const contacts = rows(db, `SELECT id, coalesce(name, 'NULL'), ${hex('phone_enc')}, ${hex('phone_bidx')},
    ${hex('email_enc')}, ${hex('email_bidx')} FROM cust.contacts WHERE customer_id = ${lit(id)} ORDER BY seq`)
    .map(([cid, name, pe, pb, ee, eb]) => ({
      id: cid, name, phone_enc: buf(pe), phone_bidx: buf(pb), email_enc: buf(ee), email_bidx: buf(eb),
    }));
  const [dk] = rows(db, `SELECT key_id, encode(wrapped, 'hex') FROM cust.data_keys WHERE customer_id = ${lit(id)}`);
  return {
    address_enc: buf(row[0]), credit_code_enc: buf(row[1]), credit_code_bidx: buf(row[2]),
    name: row[3], company_name: row[4] === 'NULL' ? null : row[4], status: row[5], contacts,
    data_key: dk ? { key_id: dk[0], wrapped: Buffer.from(dk[1], 'hex') } : null,
  };
}

/** A sealed value as docs/customers.md defines it: 0x01 || 12-byte nonce || ciphertext || tag. */
export function assertSealed(buf, plain, what) {
  assert.ok(Buffer.isBuffer(buf), `${what} is stored`);
  const p = Buffer.from(plain, 'utf8');
  assert.equal(buf[0], 0x01, `${what}: version byte`);
  assert.equal(buf.length, 1 + 12 + p.length + 16, `${what}: 0x01 || nonce || ciphertext || tag`);
  assert.equal(buf.indexOf(p), -1, `${what} holds the plaintext ${plain}`);
}

/** The whole database as pg_dump --data-only writes it (the superuser's view: every row). */
export function dumpData(db) {
  return execFileSync('pg_dump', ['-h', env.pghost, '-p', String(env.pgport), '-U', env.pguser, '-d', db,
    '--data-only', '--no-owner'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: 60000 });
}

/**
 * Moves customer `id` back in time by `days` (created_at, and last_verified_at when it is set),
 * as the superuser with triggers off (org.touch would keep created_at, and the audit trail is not
 * what this is about). Nothing else changes: not even version.
 */
export function ageCustomer(db, id, days) {
  pg(`BEGIN; SET LOCAL session_replication_role = replica;
UPDATE cust.customers SET created_at = created_at - make_interval(days => ${Number(days)}),
  last_verified_at = last_verified_at - make_interval(days => ${Number(days)}),
  updated_at = updated_at - make_interval(days => ${Number(days)})
 WHERE id = ${lit(id)};
COMMIT;`, { db });
}

// ---------------------------------------------------------------------------------------------
// Assertions

/**
 * 409 conflict for a duplicate (docs/customers.md): errors[] names `field` with the code
 * duplicate, and existing_id is the customer that holds the value already.
 */
export function assertDuplicate(res, field, existingId) {
  assert.equal(res.status, 409, `status (body: ${res.text})`);
  assert.match(res.headers['content-type'] || '', /^application\/problem\+json\b/);
  const p = res.json;
  assert.equal(p.code, 'conflict', res.text);
  assert.equal(p.type, 'urn:tianxing:problem:conflict');
  assert.equal(p.status, 409);
  assert.equal(p.request_id, res.headers['x-request-id']);
  assert.equal(p.instance, res.path.split('?')[0]);
  assert.equal(p.existing_id, existingId, `existing_id (body: ${res.text})`);
  assert.ok(Array.isArray(p.errors) && p.errors.some((e) => e.field === field && e.code === 'duplicate'),
    `errors[] names ${field}: ${res.text}`);
  assertNoLeak(res);
  return p;
}

/** A base64url JSON segment of a compact JWS. */
export const jwsPart = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));

/**
 * Verifies a compact ES256 JWS with the JWKS document `jwks`: the key named by the header's kid,
 * the P-256 signature in IEEE P1363 form. Returns { header, payload } or throws.
 */
export function verifyEs256(jws, jwks) {
  const parts = jws.split('.');
  assert.equal(parts.length, 3, 'compact JWS: three parts');
  const header = jwsPart(parts[0]);
  assert.equal(header.alg, 'ES256');
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `JWKS holds kid ${header.kid}`);
  const pub = crypto.createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' });
  const okSig = crypto.verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`),
    { key: pub, dsaEncoding: 'ieee-p1363' }, Buffer.from(parts[2], 'base64url'));
  assert.ok(okSig, 'the ES256 signature verifies with the JWKS key');
  return { header, payload: jwsPart(parts[1]) };
}
