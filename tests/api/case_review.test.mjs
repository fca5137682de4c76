// Module P, part D: review rounds (P3.1-P3.3), the files of a case, delivery and the customer's
// confirmation through a one-time link or recorded by staff (P3.4). Black-box HTTP; every
// response is validated against the contract by contract_responses.
//
// The walk of a case through review and delivery needs parts B (intake, approval, assignment)
// and C (work records, submit-review); the first describe proves what stands without them: who
// may call what, unknown cases and tokens, the shape of the public answers.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, describe, test } from 'node:test';

import { assertProblem, commonHeadersTest, freshDatabase, request } from './lib/harness.mjs';
import { EMP, assertUnauthorized, client, loadFixtures, newSigningKey, ok, ownToken, startIdentityService } from './lib/identity.mjs';

const DB = 'tx_api_case_review';
let key;
let svc;
const as = {};
const asEmp = (e, roles) => client(svc, ownToken(key, e, { roles }));
const NOCASE = '7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e';
const NOFILE = '0f1e2d3c-4b5a-4697-8a8b-9c0d1e2f3a4b';

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startIdentityService(DB, key);
  loadFixtures(DB);
  Object.assign(as, {
    admin: asEmp(EMP.admin), a1: asEmp(EMP.staffA1), supA: asEmp(EMP.supA), supB: asEmp(EMP.supB),
    auditor: asEmp(EMP.auditor), hr: asEmp(EMP.hr),
  });
});

const publicCall = (method, p, body) =>
  request(svc, { method, path: p, body, headers: {} });

describe('before parts B and C: callers, unknown cases and tokens', () => {
  test('the policy parameters of the part are in force (0022)', async () => {
    const p = ok(await as.hr.get('/v1/policy-parameters/cases_file_max_bytes'));
    assert.equal(p.value, 524288);
    const l = ok(await as.hr.get('/v1/policy-parameters/confirmation_link_days'));
    assert.equal(l.value, 14);
  });

  test('an unknown case answers 404 on every staff route', async () => {
    const calls = [
      [as.supA, 'get', `/v1/cases/${NOCASE}/reviews`],
      [as.supA, 'post', `/v1/cases/${NOCASE}/reviews`, { verdicts: [] }],
      [as.supA, 'get', `/v1/cases/${NOCASE}/files`],
      [as.a1, 'post', `/v1/cases/${NOCASE}/files`, { name: 'x', purpose: 'evidence', location: 'shelf 1' }],
      [as.supA, 'get', `/v1/cases/${NOCASE}/files/${NOFILE}/content`],
      [as.a1, 'post', `/v1/cases/${NOCASE}/deliver`, { method: 'email', file_ids: [NOFILE] }],
      [as.a1, 'post', `/v1/cases/${NOCASE}/confirmation-links`],
      [as.a1, 'post', `/v1/cases/${NOCASE}/confirmations`, { outcome: 'confirmed', rating: 5, evidence: 'call' }],
    ];
    for (const [c, m, p, body] of calls) {
      assertProblem(await c[m](p, body), 404, 'not_found');
    }
    assertProblem(await as.supA.get('/v1/cases/not-a-uuid/reviews'), 404, 'not_found');
    assertProblem(await as.supA.get(`/v1/cases/${NOCASE}/files/not-a-uuid/content`), 404, 'not_found');
  });

  test('roles: only supervisors decide reviews; hr and risk have no case routes; no token is 401', async () => {
    assertProblem(await as.a1.post(`/v1/cases/${NOCASE}/reviews`, { verdicts: [] }), 403, 'forbidden');
    assertProblem(await as.hr.get(`/v1/cases/${NOCASE}/reviews`), 403, 'forbidden');
    assertProblem(await as.auditor.post(`/v1/cases/${NOCASE}/deliver`, { method: 'email', file_ids: [NOFILE] }), 403, 'forbidden');
    assertProblem(await as.admin.post(`/v1/cases/${NOCASE}/confirmation-links`), 403, 'forbidden');
    assertUnauthorized(await publicCall('GET', `/v1/cases/${NOCASE}/files`), { invalid: false });
  });

  test('a token that is unknown, malformed or of the wrong length gets one answer: 404 without detail', async () => {
    const unknown = crypto.randomBytes(32).toString('base64url');
    const shapes = [];
    for (const t of [unknown, 'short', `${unknown}x`, '!'.repeat(43)]) {
      for (const [m, body] of [['GET'], ['POST', { outcome: 'confirmed', rating: 5 }]]) {
        const res = await publicCall(m, `/v1/confirmations/${encodeURIComponent(t)}`, body);
        const p = assertProblem(res, 404, 'not_found');
        shapes.push(JSON.stringify({ ...p, request_id: null, instance: null }));
      }
    }
    assert.equal(new Set(shapes).size, 1, `one answer shape: ${[...new Set(shapes)].join('\n')}`);
  });

  test('a malformed answer is 422 whatever the token (it tells nothing about the token)', async () => {
    const unknown = crypto.randomBytes(32).toString('base64url');
    const res = await publicCall('POST', `/v1/confirmations/${unknown}`, { outcome: 'maybe', rating: 9 });
    const p = assertProblem(res, 422, 'validation_failed');
    assert.deepEqual(p.errors.map((e) => e.field).sort(), ['outcome', 'rating']);
  });
});

commonHeadersTest();
