// Sign-in under attack (issue 10; docs/identity.md, "Sign-in throttling"):
//   item 2  password hashing has a bounded concurrency: an excess sign-in is answered 503
//           service_busy with Retry-After at once, and other routes keep answering;
//   item 3  failures are counted per (username, source address): an attacker elsewhere cannot
//           lock the owner out;
//   item 8  a real account after wrong passwords and an unknown name look the same (status, code,
//           headers, body members, and the hashing work: timing within noise);
//   item 10 a username cannot have the form of an id (UUID), on create or update.
// Requests from "elsewhere" come from other loopback addresses (127.0.0.x, localAddress).
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { assertProblem, freshDatabase, lit, pg, sleep } from './lib/harness.mjs';
import {
  EMP, asOwnerAdmin, call, loadFixtures, newSigningKey, ok, ownToken, startIdentityService,
} from './lib/identity.mjs';

const DB = 'tx_api_login_throttle';
const THRESHOLD = 5; // login_lock_threshold as seeded
const SLOW_LN = 14; // a hash that takes long enough to overlap and to be seen in timings

let key;
let svc; // cheap hashing (ln 10), default concurrency
let slow; // ln 14, one hash at a time

const login = (s, body, from) => call(s, 'POST', '/v1/auth/login', { body, localAddress: from });
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

/**
 * Wrong passwords for `username` from `from` until the lock (account_locked), waiting out each
 * short wait (login_throttled) as a patient attacker would. Returns every answer, in order.
 */
async function failUntilLocked(s, username, from) {
  const answers = [];
  for (let i = 0; i < 2 * THRESHOLD; i++) {
    const r = await login(s, { username, password: `guess-${i}-pass` }, from);
    answers.push(r);
    if (r.json?.code === 'account_locked') break;
    if (r.json?.code === 'login_throttled') await sleep(Number(r.headers['retry-after']) * 1000 + 100);
  }
  return answers;
}

/** The members of a problem that do not change from one request to the next. */
function shape(res) {
  const { request_id: _id, ...rest } = res.json;
  return {
    status: res.status,
    body: rest,
    retryAfter: res.headers['retry-after'] !== undefined,
    headers: Object.keys(res.headers).filter((h) => !['date', 'x-request-id', 'retry-after'].includes(h)).sort(),
  };
}

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startIdentityService(DB, key);
  loadFixtures(DB);
  slow = await startIdentityService(DB, key, {
    TIANXING_PASSWORD_SCRYPT_LN: SLOW_LN, TIANXING_PASSWORD_HASH_CONCURRENCY: 1, TIANXING_THREADS: 8,
  });
});

describe('item 3: throttled per account and source address', () => {
  test('an attacker at another address locks only themselves out; the owner signs in', async () => {
    const attacker = '127.0.0.2';
    const tries = await failUntilLocked(svc, 'admin', attacker);
    assertProblem(tries.at(-1), 429, 'account_locked');
    // the attacker's pair is locked, even with the right password ...
    assertProblem(await login(svc, { username: 'admin', password: EMP.admin.password }, attacker), 429, 'account_locked');
    // ... the owner at their own address is not
    const mine = ok(await login(svc, { username: 'admin', password: EMP.admin.password }, '127.0.0.1'));
    assert.equal(mine.user.id, EMP.admin.id);
    // and the owner's success does not lift the attacker's lock
    assertProblem(await login(svc, { username: 'admin', password: EMP.admin.password }, attacker), 429, 'account_locked');
    assert.equal(pg(`SELECT count(*) FROM auth.login_throttle WHERE username = 'admin' AND source = '127.0.0.2' AND locked_until > now()`, { db: DB }), '1');
  });

  test('an admin setting the password lifts the locks of that username everywhere', async () => {
    assertProblem((await failUntilLocked(svc, 'staff.a2', '127.0.0.3')).at(-1), 429, 'account_locked');
    assertProblem(await login(svc, { username: 'staff.a2', password: EMP.staffA2.password }, '127.0.0.3'), 429, 'account_locked');
    ok(await call(svc, 'PUT', `/v1/employees/${EMP.staffA2.id}/password`, {
      token: ownToken(key, EMP.admin), body: { password: EMP.staffA2.password },
    }), 204);
    assert.equal(pg(`SELECT count(*) FROM auth.login_throttle WHERE username = 'staff.a2'`, { db: DB }), '0');
  });
});

describe('item 8: a real account and an unknown name look the same', () => {
  test('the same answers, one failure after another, up to the lock', async () => {
    // sup.a exists; no.one.here does not. Same guesses, each from its own address, one after
    // the other (at once, one could find the hashing slot taken: 503, item 2).
    const real = await failUntilLocked(svc, 'sup.a', '127.0.0.4');
    const unknown = await failUntilLocked(svc, 'no.one.here', '127.0.0.5');
    const codes = (xs) => xs.map((r) => `${r.status} ${r.json?.code}`);
    assert.deepEqual(codes(unknown), codes(real));
    for (let i = 0; i < real.length; i++) assert.deepEqual(shape(unknown[i]), shape(real[i]), `attempt ${i + 1}`);
    // the throttle's sequence, for both: 401s, a short wait from the third failure, the lock
    assert.ok(codes(real).includes('429 login_throttled'), codes(real).join(', '));
    assert.equal(codes(real).at(-1), '429 account_locked');
    assert.equal(codes(real).filter((c) => c === '401 invalid_credentials').length, THRESHOLD);
  });

  test('the same hashing work: a wrong password and an unknown name take the same time', async () => {
    // sup.b's hash at the installation's cost (ln 14, as `slow` makes new hashes and its dummy):
    // a path that skipped the hash for either would answer in a fraction of the other's time.
    ok(await call(slow, 'PUT', `/v1/employees/${EMP.supB.id}/password`, {
      token: ownToken(key, EMP.admin), body: { password: EMP.supB.password },
    }), 204);
    assert.match(pg(`SELECT password_hash FROM auth.credentials WHERE employee_id = ${lit(EMP.supB.id)}`, { db: DB }), new RegExp(`^\\$scrypt\\$ln=${SLOW_LN},`));
    const real = [], unknown = [];
    for (let i = 0; i < 7; i++) {
      // a new address each time: no throttle in the way, so every attempt hashes
      const a = await login(slow, { username: 'sup.b', password: `guess-${i}-pass` }, `127.0.1.${i + 1}`);
      const b = await login(slow, { username: 'nobody.at.all', password: `guess-${i}-pass` }, `127.0.2.${i + 1}`);
      assertProblem(a, 401, 'invalid_credentials');
      assertProblem(b, 401, 'invalid_credentials');
      real.push(a.ms);
      unknown.push(b.ms);
    }
    const [mr, mu] = [median(real), median(unknown)];
    // generous: loaded cores make single timings noisy, but a skipped hash is ~10x faster
    assert.ok(mr < 3 * mu && mu < 3 * mr, `medians ${mr} ms (real) and ${mu} ms (unknown)`);
  });
});

describe('item 2: bounded password hashing', () => {
  test('an excess sign-in answers 503 service_busy with Retry-After at once; other routes answer', async () => {
    const token = ownToken(key, EMP.staffA1);
    const storm = [];
    for (let i = 0; i < 16; i++) {
      storm.push(login(slow, { username: `storm.${i}`, password: 'whatever-pass' }, `127.0.3.${i + 1}`));
    }
    const during = [];
    for (let i = 0; i < 5; i++) during.push(await call(slow, 'GET', '/v1/me', { token }));
    const answers = await Promise.all(storm);
    const busy = answers.filter((r) => r.status === 503);
    const refused = answers.filter((r) => r.status === 401);
    assert.equal(busy.length + refused.length, answers.length, `statuses ${answers.map((r) => r.status)}`);
    assert.ok(busy.length >= 1, `with one hashing slot and 16 at once some are turned away: ${answers.map((r) => r.status)}`);
    assert.ok(refused.length >= 1, 'some were hashed and refused');
    for (const r of busy) {
      assertProblem(r, 503, 'service_busy');
      assert.equal(r.headers['retry-after'], '1');
    }
    // a busy answer is not a counted failure: no row for the names turned away
    const names = busy.map((r) => answers.indexOf(r)).map((i) => lit(`storm.${i}`));
    assert.equal(pg(`SELECT count(*) FROM auth.login_throttle WHERE username IN (${names.join(',')})`, { db: DB }), '0');
    for (const r of during) assert.equal(r.status, 200);
  });
});

describe('item 10: usernames that read as ids are refused', () => {
  test('create with another employee\'s id as username: 422; a token with that sub is that employee', async () => {
    const admin = ownToken(key, EMP.admin);
    for (const username of [EMP.staffA1.id, EMP.staffA1.id.replace(/-/g, ''), '2000-0000-0000-4000-8000-0000-0000-0007']) {
      const r = await call(svc, 'POST', '/v1/employees', {
        token: admin, body: { username, display_name: 'Impostor', department_id: EMP.staffB1.dept, roles: ['staff'] },
      });
      const p = assertProblem(r, 422, 'validation_failed');
      assert.ok(p.errors.some((e) => e.field === 'username'), JSON.stringify(p.errors));
    }
    assert.equal(pg(`SELECT count(*) FROM org.employees WHERE display_name = 'Impostor'`, { db: DB }), '0');
    // the database refuses it too, whoever writes (the last line behind the API)
    assert.throws(() => asOwnerAdmin(DB, `INSERT INTO org.employees (username, display_name, roles) VALUES (${lit(EMP.staffA1.id)}, 'Impostor', '{staff}');`),
      /employees_username_not_uuid/);
    // a token whose sub is staff.a1's id is staff.a1
    const me = ok(await call(svc, 'GET', '/v1/me', { token: ownToken(key, EMP.staffA1) }));
    assert.equal(me.id, EMP.staffA1.id);
  });

  test('update: the username cannot be changed at all, so not to an id either', async () => {
    const admin = ownToken(key, EMP.admin);
    const cur = await call(svc, 'GET', `/v1/employees/${EMP.staffB1.id}`, { token: admin });
    ok(cur);
    const r = await call(svc, 'PATCH', `/v1/employees/${EMP.staffB1.id}`, {
      token: admin, body: { username: EMP.staffA1.id }, headers: { 'If-Match': cur.headers.etag },
    });
    const p = assertProblem(r, 422, 'validation_failed');
    assert.ok(p.errors.some((e) => e.field === 'username'));
    assert.equal(pg(`SELECT username FROM org.employees WHERE id = ${lit(EMP.staffB1.id)}`, { db: DB }), 'staff.b1');
  });
});
