// Authentication (G2: every employee signs in and acts under their own name): bearer-token
// verification (every refusal is 401 `unauthorized` with a Bearer challenge), external issuers
// (HS256 and RS256 keys, a JWKS file, issuer/audience/roles-claim settings), the database's say
// on every request (unknown or deactivated employee, roles intersected with the employee's),
// sign-in with lockout, refresh-token rotation with reuse detection, logout, and the JWKS document.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import {
  assertProblem, env, freshDatabase, lit, pg, request, runBin, tempDir,
} from './lib/harness.mjs';
import {
  EMP, assertFieldError, assertUnauthorized, b64u, call, claims, commonHeadersTestExceptJwks,
  dbDay, keyPair, loadFixtures, newSigningKey, now, ok, ownToken, signJwt, startIdentityService,
} from './lib/identity.mjs';

const DB = 'tx_api_auth';
const AUD = 'tianxing-api';
const IDP = 'https://idp.example';
const LOCK_THRESHOLD = 4; // policy parameter login_lock_threshold, approved in before()
const LOCK_SECONDS = 60; // policy parameter login_lock_seconds
const MAX_BYTES = 2048;

let key; // the service's signing key
let svc; // external issuers, audience
let kc; // TIANXING_JWT_ROLES_CLAIM=realm_access.roles
let hsSecret; // HS256 secret of kid hs1
let rsa; // RS256 key pair of kid rs1 (PEM public key configured)
let jwksRsa; // RS256 key pair published in the JWKS file (kid jwks-rs)
let kcSecret; // HS256 secret of the realm_access service

const me = (s, token) => call(s, 'GET', '/v1/me', { token });

/** An external token (iss IDP, aud AUD) for `sub` with `roles`, signed as `sign` says. */
function external(header, sub, roles, sign, { iss = IDP, aud = AUD, extra } = {}) {
  return signJwt(header, claims(sub, roles, { iss, aud, extra }), sign);
}

before(async () => {
  const dir = tempDir('tx-auth-');
  key = newSigningKey(dir);
  hsSecret = crypto.randomBytes(48);
  fs.writeFileSync(path.join(dir, 'hs1.secret'), hsSecret);
  rsa = keyPair('rsa', { modulusLength: 2048 });
  fs.writeFileSync(path.join(dir, 'rs1.pem'), rsa.publicKey.export({ type: 'spki', format: 'pem' }));
  jwksRsa = keyPair('rsa', { modulusLength: 2048 });
  const jwk = jwksRsa.publicKey.export({ format: 'jwk' });
  fs.writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({
    keys: [
      { ...jwk, kid: 'jwks-rs', alg: 'RS256', use: 'sig' },
      { ...jwk, kid: 'jwks-enc', alg: 'RS256', use: 'enc' }, // not for signatures: skipped
    ],
  }));
  kcSecret = crypto.randomBytes(32);
  fs.writeFileSync(path.join(dir, 'kc.secret'), kcSecret);

  freshDatabase(DB);
  svc = await startIdentityService(DB, key, {
    TIANXING_JWT_KEYS: `HS256:hs1=${dir}/hs1.secret,RS256:rs1=${dir}/rs1.pem,jwks=${dir}/jwks.json`,
    TIANXING_JWT_ACCEPTED_ISSUERS: `${IDP},https://idp2.example`,
    TIANXING_JWT_AUDIENCE: AUD,
    TIANXING_JWT_LEEWAY: 5,
    TIANXING_JWT_MAX_BYTES: MAX_BYTES,
  });
  loadFixtures(DB);
  kc = await startIdentityService(DB, key, {
    TIANXING_JWT_KEYS: `HS256:kc=${dir}/kc.secret`,
    TIANXING_JWT_ROLES_CLAIM: 'realm_access.roles',
  });
  // The lockout is policy (login_lock_threshold, login_lock_seconds): hr proposes, admin approves.
  for (const [name, value] of [['login_lock_threshold', LOCK_THRESHOLD], ['login_lock_seconds', LOCK_SECONDS]]) {
    const p = ok(await call(svc, 'POST', `/v1/policy-parameters/${name}/proposals`, {
      token: own(EMP.hr), body: { value, effective_from: dbDay(DB), reason: 'short lockout for the tests' },
    }), 201);
    ok(await call(svc, 'POST', `/v1/policy-proposals/${p.id}/approve`, { token: own(EMP.admin) }));
    assert.equal(ok(await call(svc, 'GET', `/v1/policy-parameters/${name}`, { token: own(EMP.staffA1) })).value, value);
  }
});

/** The service's own token for S1 (audience configured there). */
const own = (employee, opts = {}) => ownToken(key, employee, { aud: AUD, ...opts });

// The test keys themselves (identity.mjs newSigningKey): made one after another in a process whose
// young generation is so small that collections start inside the keys' exports. With the
// KeyObjects of crypto.generateKeyPairSync, five runs of six hung (Node.js 20.20.2), and a hung
// process ignores SIGTERM (its JavaScript never runs again): that is how the tests that made a
// signing key hung now and then until ctest's timeout.
test('signing keys are made under constant garbage collection without a hang', () => {
  const lib = pathToFileURL(path.join(env.sourceDir, 'tests/api/lib/identity.mjs')).href;
  const dir = tempDir('tx-keys-');
  const script = `import { newSigningKey } from ${JSON.stringify(lib)};
let n = 0;
for (; n < 5000; n++) newSigningKey(${JSON.stringify(dir)});
process.stdout.write('made ' + n + '\\n');`;
  const out = execFileSync(process.execPath, ['--max-semi-space-size=1', '--input-type=module', '-e', script], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60000, killSignal: 'SIGKILL',
  });
  assert.match(out, /^made 5000$/m);
});

describe('JWKS', () => {
  test('GET /.well-known/jwks.json publishes the signing key (kid = thumbprint), cacheable', async () => {
    const r = await request(svc, { path: '/.well-known/jwks.json' });
    const body = ok(r);
    assert.equal(r.headers['cache-control'], 'public, max-age=300');
    assert.equal(body.keys.length, 1, r.text);
    const k = body.keys[0];
    assert.deepEqual(k, { kty: 'EC', crv: 'P-256', x: key.jwk.x, y: key.jwk.y, use: 'sig', alg: 'ES256', kid: key.kid });
    assert.equal(k.d, undefined, 'no private part');
  });
});

describe('refused tokens: 401 unauthorized with a Bearer challenge', () => {
  test('no Authorization header: challenge without an error parameter', async () => {
    const r = await request(svc, { path: '/v1/me' });
    assertUnauthorized(r, { invalid: false });
    assert.match(r.json.detail, /bearer token is required/i);
  });

  test('an Authorization that is not Bearer', async () => {
    for (const h of ['Basic YWRtaW46c2VjcmV0', `Token ${own(EMP.staffA1)}`, 'Bearer']) {
      assertUnauthorized(await request(svc, { path: '/v1/me', headers: { Authorization: h } }));
    }
  });

  test('malformed tokens', async () => {
    const good = own(EMP.staffA1);
    const [h, p, s] = good.split('.');
    for (const t of ['abc', 'a.b', `${h}.${p}`, `${good}.x`, `${h}.${p}.${s}.`, 'a.b.c',
      `${b64u('not json')}.${p}.${s}`, `${h}.${p}.${s}!`, `${h}.${p}+/.${s}`, `${b64u('[1]')}.${p}.${s}`]) {
      assertUnauthorized(await me(svc, t));
    }
  });

  test('forged signature: the payload changed after signing', async () => {
    const [h, , s] = own(EMP.staffA1).split('.');
    const p = b64u(claims(EMP.staffA1.id, ['staff', 'admin'], { aud: AUD }));
    assertUnauthorized(await me(svc, `${h}.${p}.${s}`));
    // a valid token for another employee, with this signature: refused too
    const [h2, p2] = own(EMP.admin).split('.');
    assertUnauthorized(await me(svc, `${h2}.${p2}.${s}`));
  });

  test('alg none, with an empty and with a non-empty signature part', async () => {
    const c = claims(EMP.admin.id, ['admin'], { aud: AUD });
    for (const header of [{ alg: 'none', typ: 'JWT' }, { alg: 'none', kid: key.kid }, { alg: 'None' }, { alg: 'NONE' }]) {
      const unsigned = signJwt(header, c, { alg: 'none' });
      assertUnauthorized(await me(svc, unsigned));
      assertUnauthorized(await me(svc, `${unsigned}${b64u('sig')}`));
      const [hh, pp] = unsigned.split('.');
      const real = own(EMP.admin).split('.')[2]; // a genuine ES256 signature of something else
      assertUnauthorized(await me(svc, `${hh}.${pp}.${real}`));
    }
  });

  test('algorithm confusion: HS256 signed with the ES256 public key (from the JWKS) as secret', async () => {
    const jwks = ok(await request(svc, { path: '/.well-known/jwks.json' }));
    const pem = crypto.createPublicKey({ key: jwks.keys[0], format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    assert.equal(pem, key.publicPem);
    const c = claims(EMP.admin.id, ['admin'], { aud: AUD });
    for (const secret of [pem, pem.trim(), Buffer.concat([Buffer.from(pem), Buffer.from([0])])]) {
      for (const header of [{ alg: 'HS256', typ: 'JWT', kid: key.kid }, { alg: 'HS256', typ: 'JWT' }]) {
        assertUnauthorized(await me(svc, signJwt(header, c, { alg: 'HS256', key: secret })));
      }
    }
  });

  test('algorithm confusion: HS256 signed with the configured RS256 public key PEM as secret', async () => {
    const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' });
    const c = claims(EMP.staffA1.username, ['staff'], { iss: IDP, aud: AUD });
    for (const secret of [pem, Buffer.concat([Buffer.from(pem), Buffer.from([0])])]) {
      for (const header of [{ alg: 'HS256', kid: 'rs1' }, { alg: 'HS256' }, { alg: 'HS256', kid: 'jwks-rs' }]) {
        assertUnauthorized(await me(svc, signJwt(header, c, { alg: 'HS256', key: secret })));
      }
    }
    // the same claims genuinely signed RS256 are accepted: the refusal is the algorithm's
    ok(await me(svc, signJwt({ alg: 'RS256', kid: 'rs1' }, c, { key: rsa.privateKey })));
  });

  test('HS384 signed with the configured HS256 secret', async () => {
    const c = claims(EMP.staffA1.username, ['staff'], { iss: IDP, aud: AUD });
    assertUnauthorized(await me(svc, signJwt({ alg: 'HS384', kid: 'hs1' }, c, { key: hsSecret })));
    assertUnauthorized(await me(svc, signJwt({ alg: 'HS384' }, c, { key: hsSecret })));
    assertUnauthorized(await me(svc, signJwt({ alg: 'HS512', kid: 'hs1' }, c, { key: hsSecret })));
    ok(await me(svc, signJwt({ alg: 'HS256', kid: 'hs1' }, c, { key: hsSecret })));
  });

  test('time claims: expired, not yet valid, issued in the future, exp a string, exp missing', async () => {
    const t = now();
    const sub = EMP.staffA1.id;
    const cases = {
      expired: { exp: t - 60 },
      'expired beyond the leeway': { exp: t - 6, iat: t - 600, nbf: t - 600 },
      'not yet valid': { nbf: t + 120 },
      'issued in the future': { iat: t + 120 },
      'exp a string': { exp: String(t + 600) },
      'exp a float': { exp: t + 600.5 },
      'nbf a string': { nbf: String(t) },
    };
    for (const [what, extra] of Object.entries(cases)) {
      const r = await me(svc, own(sub, { roles: ['staff'], extra }));
      assertUnauthorized(r);
      assert.ok(r.headers['www-authenticate'], what);
    }
    const noExp = claims(sub, ['staff'], { aud: AUD });
    delete noExp.exp;
    assertUnauthorized(await me(svc, signJwt({ alg: 'ES256', kid: key.kid }, noExp, { key: key.privateKey })));
    // inside the leeway (5 s): accepted
    ok(await me(svc, own(sub, { roles: ['staff'], extra: { exp: t - 1, nbf: t + 3, iat: t + 3 } })));
  });

  // Issue 10 item 17: an exp of 2^63-1 passed; now every token has a lifetime ceiling,
  // TIANXING_JWT_MAX_TTL (default 86400): exp - iat, or exp - now when there is no iat.
  test('lifetime over TIANXING_JWT_MAX_TTL (default one day): exp 2^63-1, exp - iat, exp - now', async () => {
    const t = now();
    const hs = { key: hsSecret };
    const header = b64u({ alg: 'HS256', kid: 'hs1' });
    // 2^63-1 is not a JavaScript number: the payload text is written by hand
    const text = JSON.stringify(claims('staff.a1', ['staff'], { iss: IDP, aud: AUD, extra: { exp: 0 } }))
      .replace('"exp":0', '"exp":9223372036854775807');
    assert.match(text, /"exp":9223372036854775807[,}]/);
    const data = `${header}.${b64u(text)}`;
    const huge = `${data}.${crypto.createHmac('sha256', hsSecret).update(data).digest('base64url')}`;
    assertUnauthorized(await me(svc, huge));
    const ext = (extra) => external({ alg: 'HS256', kid: 'hs1' }, 'staff.a1', ['staff'], hs, { extra });
    assertUnauthorized(await me(svc, ext({ iat: t, exp: t + 86401 })));
    assertUnauthorized(await me(svc, ext({ iat: t - 86400, nbf: t - 86400, exp: t + 60 })));
    assertUnauthorized(await me(svc, ext({ iat: undefined, exp: t + 86400 + 60 })));
    // the service's own kind of token is held to the same ceiling
    assertUnauthorized(await me(svc, own(EMP.staffA1, { extra: { iat: t, exp: t + 2 * 86400 } })));
    // exactly a day is accepted, with and without iat
    ok(await me(svc, ext({ iat: t, exp: t + 86400 })));
    ok(await me(svc, ext({ iat: undefined, exp: t + 86400 })));
  });

  test('`tianxingd token --ttl` over TIANXING_JWT_MAX_TTL is refused', async () => {
    const r = await runBin(['token', '--sub', EMP.auditor.id, '--roles', 'auditor', '--ttl', '86401'], {
      db: DB, env: { TIANXING_SIGNING_KEY_FILE: key.file },
    });
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /at most 86400/);
  });

  test('TIANXING_ACCESS_TOKEN_TTL over TIANXING_JWT_MAX_TTL stops start-up', async () => {
    const r = await runBin(['token', '--sub', EMP.auditor.id], {
      db: DB, env: { TIANXING_JWT_MAX_TTL: '600', TIANXING_ACCESS_TOKEN_TTL: '900' },
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /TIANXING_ACCESS_TOKEN_TTL: must not exceed TIANXING_JWT_MAX_TTL \(600\)/);
  });

  test('issuer: own key with another iss; external key with an issuer not accepted or none', async () => {
    assertUnauthorized(await me(svc, own(EMP.staffA1, { iss: IDP })));
    assertUnauthorized(await me(svc, own(EMP.staffA1, { iss: 'tianxingd-other' })));
    const hs = { key: hsSecret };
    assertUnauthorized(await me(svc, external({ alg: 'HS256', kid: 'hs1' }, 'staff.a1', ['staff'], hs, { iss: 'https://evil.example' })));
    assertUnauthorized(await me(svc, external({ alg: 'HS256', kid: 'hs1' }, 'staff.a1', ['staff'], hs, { iss: 'tianxingd' })));
    const noIss = claims('staff.a1', ['staff'], { aud: AUD });
    delete noIss.iss;
    assertUnauthorized(await me(svc, signJwt({ alg: 'HS256', kid: 'hs1' }, noIss, hs)));
    // the second accepted issuer is fine
    ok(await me(svc, external({ alg: 'HS256', kid: 'hs1' }, 'staff.a1', ['staff'], hs, { iss: 'https://idp2.example' })));
  });

  test('audience: wrong, missing, or an array without it; an array with it is accepted', async () => {
    assertUnauthorized(await me(svc, own(EMP.staffA1, { aud: 'other-api' })));
    assertUnauthorized(await me(svc, ownToken(key, EMP.staffA1)));
    assertUnauthorized(await me(svc, own(EMP.staffA1, { aud: ['a', 'b'] })));
    assertUnauthorized(await me(svc, own(EMP.staffA1, { aud: `${AUD}x` })));
    ok(await me(svc, own(EMP.staffA1, { aud: ['other-api', AUD] })));
  });

  test(`oversized token (> TIANXING_JWT_MAX_BYTES = ${MAX_BYTES})`, async () => {
    const big = own(EMP.staffA1, { extra: { pad: 'x'.repeat(MAX_BYTES) } });
    assert.ok(big.length > MAX_BYTES);
    const r = await me(svc, big);
    assertUnauthorized(r);
    assert.match(r.headers['www-authenticate'], /too large/);
    const fits = own(EMP.staffA1, { extra: { pad: 'x'.repeat(600) } });
    assert.ok(fits.length < MAX_BYTES);
    ok(await me(svc, fits));
  });

  test('unknown kid', async () => {
    assertUnauthorized(await me(svc, own(EMP.staffA1, { kid: 'no-such-key' })));
    assertUnauthorized(await me(svc, external({ alg: 'HS256', kid: 'hs2' }, 'staff.a1', ['staff'], { key: hsSecret })));
    assertUnauthorized(await me(svc, external({ alg: 'RS256', kid: 'jwks-enc' }, 'staff.a1', ['staff'], { key: jwksRsa.privateKey })));
  });

  test('a token signed by a key the service does not know', async () => {
    const stranger = newSigningKey();
    assertUnauthorized(await me(svc, ownToken(stranger, EMP.staffA1, { aud: AUD, kid: key.kid })));
    assertUnauthorized(await me(svc, ownToken(stranger, EMP.staffA1, { aud: AUD, kid: null })));
    const otherRsa = keyPair('rsa', { modulusLength: 2048 });
    assertUnauthorized(await me(svc, external({ alg: 'RS256', kid: 'rs1' }, 'staff.a1', ['staff'], { key: otherRsa.privateKey })));
  });

  test('sub missing or malformed', async () => {
    const c = claims(EMP.staffA1.id, ['staff'], { aud: AUD });
    delete c.sub;
    assertUnauthorized(await me(svc, signJwt({ alg: 'ES256', kid: key.kid }, c, { key: key.privateKey })));
    assertUnauthorized(await me(svc, own('staff a1', { roles: ['staff'] })));
    assertUnauthorized(await me(svc, own('', { roles: ['staff'] })));
  });
});

describe('accepted tokens', () => {
  test('the service\'s own token (sub = employee id, or username)', async () => {
    const body = ok(await me(svc, own(EMP.supA)));
    assert.equal(body.id, EMP.supA.id);
    assert.equal(body.username, 'sup.a');
    assert.deepEqual(body.roles, ['staff', 'supervisor']);
    assert.deepEqual(body.department, { id: EMP.supA.dept, code: 'A', name: '業務一部 Business A' });
    assert.equal(ok(await me(svc, own(EMP.supA.username, { roles: ['staff'] }))).id, EMP.supA.id);
  });

  test('an external HS256 token with kid, roles as an array or a string', async () => {
    const hs = { key: hsSecret };
    const body = ok(await me(svc, external({ alg: 'HS256', kid: 'hs1', typ: 'JWT' }, 'staff.a1', ['staff', 'unknown-role'], hs)));
    assert.equal(body.id, EMP.staffA1.id);
    assert.deepEqual(body.roles, ['staff']);
    const sup = ok(await me(svc, external({ alg: 'HS256', kid: 'hs1' }, 'sup.a', 'staff supervisor', hs)));
    assert.deepEqual(sup.roles, ['staff', 'supervisor']);
    // no kid: tried with every HS256 key
    ok(await me(svc, external({ alg: 'HS256' }, 'staff.a1', ['staff'], hs)));
  });

  test('an external RS256 token: PEM key (kid rs1) and JWKS key (kid jwks-rs, and without kid)', async () => {
    ok(await me(svc, external({ alg: 'RS256', kid: 'rs1' }, EMP.hr.id, ['hr'], { key: rsa.privateKey })));
    const body = ok(await me(svc, external({ alg: 'RS256', kid: 'jwks-rs' }, 'hr', ['hr'], { key: jwksRsa.privateKey })));
    assert.equal(body.id, EMP.hr.id);
    assert.deepEqual(body.roles, ['hr']);
    ok(await me(svc, external({ alg: 'RS256' }, 'hr', ['hr'], { key: jwksRsa.privateKey })));
  });

  test('`tianxingd token` mints a token the service accepts', async () => {
    const r = await runBin(['token', '--sub', EMP.auditor.id, '--roles', 'auditor', '--ttl', '120'], {
      db: DB, env: { TIANXING_SIGNING_KEY_FILE: key.file, TIANXING_JWT_AUDIENCE: AUD },
    });
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    const [h, p] = token.split('.').slice(0, 2).map((x) => JSON.parse(Buffer.from(x, 'base64url')));
    assert.equal(h.alg, 'ES256');
    assert.equal(h.kid, key.kid);
    assert.equal(p.exp - p.iat, 120);
    assert.equal(p.aud, AUD);
    assert.deepEqual(ok(await me(svc, token)).roles, ['auditor']);
  });

  test('roles from realm_access.roles (TIANXING_JWT_ROLES_CLAIM)', async () => {
    const sign = { key: kcSecret };
    const t = signJwt({ alg: 'HS256', kid: 'kc' }, claims('sup.a', undefined, {
      iss: 'https://keycloak.example/realms/tianxing',
      extra: { realm_access: { roles: ['supervisor', 'offline_access'] }, roles: ['staff'] },
    }), sign);
    const body = ok(await me(kc, t));
    assert.deepEqual(body.roles, ['supervisor'], 'the configured claim, not `roles`');
    assert.deepEqual(body.employee_roles, ['staff', 'supervisor']);
    // roles only at the top level: no known role in the configured claim
    const top = signJwt({ alg: 'HS256', kid: 'kc' }, claims('sup.a', ['staff'], { iss: 'https://keycloak.example/realms/tianxing' }), sign);
    assertProblem(await me(kc, top), 403, 'forbidden');
  });
});

describe('the database decides on every request', () => {
  test('a token of an unknown employee: 401', async () => {
    assertUnauthorized(await me(svc, own(crypto.randomUUID(), { roles: ['admin'] })));
    assertUnauthorized(await me(svc, own('nobody.here', { roles: ['admin'] })));
    assertUnauthorized(await me(svc, external({ alg: 'HS256', kid: 'hs1' }, 'nobody.here', ['staff'], { key: hsSecret })));
  });

  test('a deactivated employee\'s still-valid token stops working at once', async () => {
    const login = ok(await call(svc, 'POST', '/v1/auth/login', { body: { username: 'staff.a2', password: EMP.staffA2.password } }));
    const token = own(EMP.staffA2);
    ok(await me(svc, token));
    ok(await me(svc, login.access_token));
    const admin = own(EMP.admin);
    const d = ok(await call(svc, 'POST', `/v1/employees/${EMP.staffA2.id}/deactivate`, { token: admin }));
    assert.equal(d.active, false);
    assertUnauthorized(await me(svc, token));
    assertUnauthorized(await me(svc, login.access_token));
    assertProblem(await call(svc, 'POST', '/v1/auth/refresh', { body: { refresh_token: login.refresh_token } }), 401, 'invalid_refresh_token');
    assertProblem(await call(svc, 'POST', '/v1/auth/login', { body: { username: 'staff.a2', password: EMP.staffA2.password } }), 401, 'invalid_credentials');
    // reactivated: the same access token works again; the revoked refresh token does not
    ok(await call(svc, 'POST', `/v1/employees/${EMP.staffA2.id}/activate`, { token: admin }));
    ok(await me(svc, token));
    assertProblem(await call(svc, 'POST', '/v1/auth/refresh', { body: { refresh_token: login.refresh_token } }), 401, 'invalid_refresh_token');
  });

  test('roles are the token\'s roles the employee holds: claiming admin does not make a staff member one', async () => {
    const t = own(EMP.staffA1, { roles: ['staff', 'admin'] });
    const body = ok(await me(svc, t));
    assert.deepEqual(body.roles, ['staff']);
    assert.deepEqual(body.employee_roles, ['staff']);
    const r = await call(svc, 'POST', '/v1/departments', { token: t, body: { code: 'EVIL', name: 'Evil', kind: 'business' } });
    assertProblem(r, 403, 'forbidden');
    assert.equal(pg(`SELECT count(*) FROM org.departments WHERE code = 'EVIL'`, { db: DB }), '0');
    // a token with fewer roles than the employee holds: only those count
    const s = ok(await me(svc, own(EMP.supA, { roles: ['staff'] })));
    assert.deepEqual(s.roles, ['staff']);
    assert.deepEqual(s.employee_roles, ['staff', 'supervisor']);
  });

  test('a valid token naming no known role: 403', async () => {
    assertProblem(await me(svc, own(EMP.staffA1, { roles: ['superuser', 'root'] })), 403, 'forbidden');
    assertProblem(await me(svc, own(EMP.staffA1, { roles: [] })), 403, 'forbidden');
  });
});

describe('sign-in', () => {
  const login = (s, body, opts = {}) => call(s, 'POST', '/v1/auth/login', { body, ...opts });

  test('success: a token pair; the access token is the service\'s own and works', async () => {
    const r = await login(svc, { username: 'staff.a1', password: EMP.staffA1.password });
    const body = ok(r);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 900);
    assert.equal(body.refresh_expires_in, 14 * 86400);
    assert.match(body.refresh_token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(body.user.id, EMP.staffA1.id);
    assert.deepEqual(body.user.roles, ['staff']);
    const [h, p] = body.access_token.split('.').slice(0, 2).map((x) => JSON.parse(Buffer.from(x, 'base64url')));
    assert.equal(h.alg, 'ES256');
    assert.equal(h.kid, key.kid);
    assert.equal(p.iss, 'tianxingd');
    assert.equal(p.sub, EMP.staffA1.id);
    assert.equal(p.aud, AUD);
    assert.deepEqual(p.roles, ['staff']);
    assert.equal(p.exp - p.iat, 900);
    // verifies with the published key
    const [hh, pp, ss] = body.access_token.split('.');
    assert.ok(crypto.verify('sha256', Buffer.from(`${hh}.${pp}`), { key: key.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(ss, 'base64url')));
    const m = ok(await me(svc, body.access_token));
    assert.equal(m.username, 'staff.a1');
    // usernames are compared in lower case
    ok(await login(svc, { username: 'STAFF.A1', password: EMP.staffA1.password }));
  });

  test('wrong password and unknown user: the same 401 invalid_credentials', async () => {
    const wrong = assertProblem(await login(svc, { username: 'sup.b', password: 'not-the-password' }), 401, 'invalid_credentials');
    const unknown = assertProblem(await login(svc, { username: 'no.such.user', password: 'whatever-1' }), 401, 'invalid_credentials');
    assert.deepEqual(Object.keys(wrong).sort(), Object.keys(unknown).sort());
    assert.equal(wrong.title, unknown.title);
    assert.equal(wrong.detail, unknown.detail);
    // the failure was counted for both names alike, per (name, source address)
    const count = (name) => pg(`SELECT coalesce(max(failed_count), 0) FROM auth.login_throttle WHERE username = ${lit(name)} AND source = '127.0.0.1'`, { db: DB });
    assert.equal(count('sup.b'), '1');
    assert.equal(count('no.such.user'), '1');
    ok(await login(svc, { username: 'sup.b', password: EMP.supB.password }));
    assert.equal(count('sup.b'), '0', 'success clears the count');
  });

  test('a deactivated employee cannot sign in, even with the right password', async () => {
    assertProblem(await login(svc, { username: 'gone', password: EMP.gone.password }), 401, 'invalid_credentials');
  });

  test(`lockout: a short wait from the 3rd failure (login_throttled), the lock at the ${LOCK_THRESHOLD}th (account_locked)`, async () => {
    // auth.login_failed: from the 3rd consecutive failure on a wait of 2^(n-2) s (at most 30 s),
    // at login_lock_threshold failures the lock for login_lock_seconds; both answer 429 with
    // Retry-After before the password is looked at, and attempts refused so are not counted.
    // Counted per (username, source address): here all from 127.0.0.1 (login_throttle.test.mjs
    // signs in from elsewhere).
    const u = { username: 'risk', password: EMP.risk.password };
    const where = `username = 'risk' AND source = '127.0.0.1'`;
    const state = () => pg(`SELECT coalesce(max(failed_count || ' ' || coalesce((locked_until > now())::text, 'none')), '0 none') FROM auth.login_throttle WHERE ${where}`, { db: DB });
    const expire = () => pg(`UPDATE auth.login_throttle SET locked_until = now() - interval '1 second' WHERE ${where}`, { db: DB });
    const retryAfter = (r, max) => {
      const v = Number(r.headers['retry-after']);
      // login.c computes it from extract(epoch FROM locked_until)::bigint, which rounds to the
      // nearest second: it may read one more than the wait (see the report; not treated as a bug).
      assert.ok(Number.isInteger(v) && v >= 1 && v <= max + 1, `Retry-After ${r.headers['retry-after']} (at most ${max})`);
    };
    // two failures, then a success clears them
    for (let i = 0; i < 2; i++) assertProblem(await login(svc, { ...u, password: `wrong-${i}-pass` }), 401, 'invalid_credentials');
    assert.equal(state(), '2 none');
    ok(await login(svc, u));
    assert.equal(state(), '0 none');
    // three failures: the third imposes a short wait
    for (let i = 0; i < 3; i++) assertProblem(await login(svc, { ...u, password: `wrong-${i}-pass` }), 401, 'invalid_credentials');
    assert.equal(state(), '3 true');
    for (const password of [u.password, 'wrong-again-1']) {
      const r = await login(svc, { ...u, password });
      assertProblem(r, 429, 'login_throttled');
      retryAfter(r, 2);
    }
    assert.equal(state(), '3 true', 'throttled attempts are not counted');
    // the wait runs out; the 4th failure locks the account
    expire();
    assertProblem(await login(svc, { ...u, password: 'wrong-3-pass' }), 401, 'invalid_credentials');
    assert.equal(state(), '0 true', 'the count starts again under the lock');
    for (const password of [u.password, 'wrong-again-2']) {
      const r = await login(svc, { ...u, password });
      assertProblem(r, 429, 'account_locked');
      retryAfter(r, LOCK_SECONDS);
    }
    assert.equal(state(), '0 true');
    // the lock runs out (moved into the past by the superuser): the right password works, clears it
    expire();
    ok(await login(svc, u));
    assert.equal(state(), '0 none');
  });

  test('validation: 422 naming the fields', async () => {
    assertFieldError(await login(svc, { password: 'whatever-1' }), 'username');
    assertFieldError(await login(svc, { username: 'staff.a1', password: 12345678 }), 'password');
    const both = assertFieldError(await login(svc, {}), 'username');
    assert.ok(both.errors.some((e) => e.field === 'password'), 'every error at once');
    const unknown = assertFieldError(await login(svc, { username: 'staff.a1', password: 'x-password', otp: '1' }), 'otp');
    assert.equal(unknown.errors.find((e) => e.field === 'otp').code, 'unknown_field');
    assertFieldError(await login(svc, { username: '', password: 'x-password' }), 'username');
    assertProblem(await login(svc, ['staff.a1']), 400, 'bad_request');
  });
});

describe('refresh and logout', () => {
  const login = () => call(svc, 'POST', '/v1/auth/login', { body: { username: 'hr', password: EMP.hr.password } });
  const refresh = (t) => call(svc, 'POST', '/v1/auth/refresh', { body: { refresh_token: t } });
  const logout = (t) => call(svc, 'POST', '/v1/auth/logout', { body: { refresh_token: t } });

  test('rotation gives a new pair; reusing the old refresh token revokes the whole family', async () => {
    const first = ok(await login());
    const second = ok(await refresh(first.refresh_token));
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.notEqual(second.access_token, first.access_token);
    assert.equal(second.user.id, EMP.hr.id);
    assert.deepEqual(second.user.roles, ['hr']);
    ok(await me(svc, second.access_token));
    // the spent token again: refused, and the family dies with it
    assertProblem(await refresh(first.refresh_token), 401, 'invalid_refresh_token');
    assertProblem(await refresh(second.refresh_token), 401, 'invalid_refresh_token');
    // another sign-in is another family: unaffected
    const other = ok(await login());
    ok(await refresh(other.refresh_token));
  });

  test('logout: 204, and the token no longer refreshes', async () => {
    const pair = ok(await login());
    const r = await logout(pair.refresh_token);
    assert.equal(r.status, 204, r.text);
    assert.equal(r.text, '');
    assertProblem(await refresh(pair.refresh_token), 401, 'invalid_refresh_token');
    assert.equal((await logout(pair.refresh_token)).status, 204, 'again: still 204');
  });

  test('garbage refresh tokens: 401; logout answers 204 whatever the token', async () => {
    for (const t of ['garbage', 'x'.repeat(43), crypto.randomBytes(32).toString('base64url'), `${crypto.randomBytes(32).toString('base64url')}=`]) {
      assertProblem(await refresh(t), 401, 'invalid_refresh_token');
      assert.equal((await logout(t)).status, 204);
    }
    assertFieldError(await call(svc, 'POST', '/v1/auth/refresh', { body: {} }), 'refresh_token');
    assertFieldError(await call(svc, 'POST', '/v1/auth/refresh', { body: { refresh_token: 42 } }), 'refresh_token');
    assertFieldError(await call(svc, 'POST', '/v1/auth/logout', { body: {} }), 'refresh_token');
  });
});

describe('TIANXING_JWT_ROLES_CLAIM and the service\'s own tokens', () => {
  test('a token from the service\'s own sign-in keeps working when the roles claim points elsewhere', async () => {
    const pair = ok(await call(kc, 'POST', '/v1/auth/login', { body: { username: 'sup.a', password: EMP.supA.password } }));
    assert.deepEqual(pair.user.roles, ['staff', 'supervisor']);
    // BUG (src/core/jwt.c tx_jwt_check_claims / tx_jwt_mint): own tokens carry the roles in
    // `roles`, but verification reads every token's roles from TIANXING_JWT_ROLES_CLAIM
    // (realm_access.roles here), so the service's own fresh access token has no roles and every
    // authenticated route answers 403 forbidden.
    const r = await me(kc, pair.access_token);
    assert.equal(r.status, 200, `own access token refused under realm_access.roles: ${r.text}`);
    assert.deepEqual(r.json.roles, ['staff', 'supervisor']);
  });
});

commonHeadersTestExceptJwks();
