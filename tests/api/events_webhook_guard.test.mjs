// The webhook address guard (issue 16, docs/events.md "Where deliveries may go"): a service
// without TIANXING_WEBHOOK_ALLOW_CIDRS refuses a subscription naming a non-public literal
// address (422 webhook_address_refused), and refuses at connect time the address a name resolves
// to: `localhost` passes registration (a name) but its delivery is a failed attempt saying why,
// the receiver gets nothing, and /metrics counts it as refused. (http:// is allowed to loopback
// names here, so only the guard stands between the delivery and the receiver.)
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { assertProblem, freshDatabase, metrics, waitFor } from './lib/harness.mjs';
import { EMP, client, loadFixtures, newSigningKey, ok, ownToken } from './lib/identity.mjs';
import { customerKeys, startCustomerService } from './lib/customers.mjs';

const DB = 'tx_api_webhook_guard';
let svc;
let admin;
let staff;
let receiver;
let port;
const got = [];

before(async () => {
  const key = newSigningKey();
  freshDatabase(DB);
  receiver = http.createServer((req, res) => {
    got.push(req.url);
    res.writeHead(204).end();
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  port = receiver.address().port;
  svc = await startCustomerService(DB, key, customerKeys(['k2024-01']), {
    env: {
      TIANXING_JOBS: 'on', TIANXING_JOB_POLL_MS: 50, TIANXING_JOB_WORKERS: 1,
      TIANXING_WEBHOOK_ALLOW_HTTP_LOOPBACK: 'true', TIANXING_WEBHOOK_BACKOFF_MS: 100,
      TIANXING_WEBHOOK_MAX_ATTEMPTS: 2, TIANXING_WEBHOOK_TIMEOUT_MS: 3000,
    },
  });
  loadFixtures(DB);
  admin = client(svc, ownToken(key, EMP.admin));
  staff = client(svc, ownToken(key, EMP.staffA1));
});

after(() => new Promise((r) => receiver.close(r)));

describe('address guard', () => {
  test('a literal non-public address is refused at registration with its own code', async () => {
    const refused = [
      `http://127.0.0.1:${port}/x`, 'https://169.254.169.254/latest/meta-data', 'https://10.1.2.3/x',
      'https://[::1]/x', 'https://[::ffff:192.168.0.1]/x', 'https://100.64.0.1/x', 'https://[fd00::1]/x',
      'https://[fe80::1]/x', 'https://0.0.0.0/x', 'https://224.0.0.1/x',
    ];
    for (const url of refused) {
      const res = await admin.post('/v1/webhooks', { url, event_types: ['customer.created'] });
      const p = assertProblem(res, 422, 'webhook_address_refused');
      assert.equal(p.errors?.[0]?.field, 'url', url);
      assert.equal(p.errors[0].code, 'not_allowed');
      assert.match(p.errors[0].message, / is an? [A-Za-z (),-]+ address$/, url);
    }
    // A public literal is a URL like any other.
    const w = ok(await admin.post('/v1/webhooks', { url: 'https://203.0.114.1/x', event_types: ['customer.created'], active: false }), 201);
    // PATCH is checked the same way.
    const res = await admin.patch(`/v1/webhooks/${w.id}`, { url: 'https://192.168.1.1/x' }, { headers: { 'If-Match': `"${w.version}"` } });
    assertProblem(res, 422, 'webhook_address_refused');
  });

  test('a name that resolves to loopback passes registration, and its delivery is refused at connect time', async () => {
    const w = ok(await admin.post('/v1/webhooks', {
      url: `http://localhost:${port}/guarded`, event_types: ['customer.created'],
    }), 201);
    ok(await staff.post('/v1/customers', { name: '守衛測試', company_name: '守衛測試有限公司', business_scope: '貿易' }), 201);
    const dead = async () => ok(await admin.get(`/v1/webhooks/${w.id}/deliveries?state=dead`)).items;
    await waitFor(async () => (await dead()).length === 1, { timeout: 15000, interval: 100, what: 'the refused delivery to die' });
    const [d] = await dead();
    assert.equal(d.attempt_count, 2);
    for (const a of d.attempts) {
      assert.equal(a.outcome, 'failed');
      assert.equal(a.status_code, null);
      assert.match(a.error, /^refused by the address guard: (127\.0\.0\.1|::1) is a loopback address \(TIANXING_WEBHOOK_ALLOW_CIDRS\)$/);
    }
    assert.deepEqual(got, [], 'the receiver was never reached');
    const m = await metrics(svc);
    assert.equal(m.get('tianxing_webhook_attempts_total{outcome="refused"}'), 2);
    assert.equal(m.get('tianxing_webhook_attempts_total{outcome="dead"}'), 1);
    assert.equal(m.get('tianxing_webhook_attempts_total{outcome="failed"}'), 1);
    assert.equal(m.get('tianxing_webhook_attempts_total{outcome="delivered"}'), 0);
  });
});
