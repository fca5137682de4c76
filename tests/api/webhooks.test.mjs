// Events for other services (issue 16, docs/events.md): webhook subscriptions (admin), delivery
// of outbox events by the job 'webhooks.deliver' signed per Standard Webhooks, verified here with
// the specification's reference library (npm `standardwebhooks`, pinned in tests/package.json);
// retries with backoff, dead letters, manual redelivery, secret rotation with an overlap, and the
// refusals. The receiver is a node http server on loopback (TIANXING_WEBHOOK_ALLOW_HTTP_LOOPBACK);
// the job cadence and backoff are shortened by settings, and every wait polls with a deadline.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { Webhook } from 'standardwebhooks';

import { assertProblem, freshDatabase, lit, metrics, pg, sleep, waitFor } from './lib/harness.mjs';
import { EMP, assertFieldError, call, client, dbDay, loadFixtures, newSigningKey, ok, ownToken } from './lib/identity.mjs';
import { customerKeys, startCustomerService } from './lib/customers.mjs';

const DB = 'tx_api_webhooks';
const MAX_ATTEMPTS = 4;
let key;
let svc;
let admin;
let staff;
let receiver;
let base; // http://127.0.0.1:<port>
// Per path: what each request got, and how the receiver answers the next one.
const got = new Map();
const plan = new Map();

function startReceiver() {
  return new Promise((resolve) => {
    const s = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const list = got.get(req.url) || [];
        const body = Buffer.concat(chunks).toString('utf8');
        list.push({ headers: req.headers, body, method: req.method });
        got.set(req.url, list);
        const answer = plan.get(req.url);
        const status = typeof answer === 'function' ? answer(list.length) : (answer ?? 204);
        res.writeHead(status, { 'Content-Type': 'text/plain' });
        res.end(status >= 300 ? 'receiver says no\n' : '');
      });
    });
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

const received = (p) => got.get(p) || [];
const del = (p) => call(svc, 'DELETE', p, { token: admin.token });

async function subscribe(path, types = ['customer.created'], over = {}) {
  const res = await admin.post('/v1/webhooks', { url: `${base}${path}`, event_types: types, ...over });
  const w = ok(res, 201);
  assert.match(w.secret, /^whsec_[A-Za-z0-9+/]+={0,2}$/);
  return w;
}

async function newCustomer() {
  const name = `事件客戶${crypto.randomBytes(3).toString('hex')}`;
  const c = ok(await staff.post('/v1/customers', {
    name, company_name: `${name}有限公司`, business_scope: '貿易', needs: '保密的需求',
  }), 201);
  return { ...c, name };
}

async function deliveries(id, query = '') {
  return ok(await admin.get(`/v1/webhooks/${id}/deliveries${query}`)).items;
}

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  receiver = await startReceiver();
  base = `http://127.0.0.1:${receiver.address().port}`;
  svc = await startCustomerService(DB, key, customerKeys(['k2024-01']), {
    env: {
      TIANXING_JOBS: 'on', TIANXING_JOB_POLL_MS: 50, TIANXING_JOB_WORKERS: 2,
      TIANXING_WEBHOOK_ALLOW_HTTP_LOOPBACK: 'true', TIANXING_WEBHOOK_BACKOFF_MS: 100,
      // The receiver's address only: the address guard refuses every other non-public one.
      TIANXING_WEBHOOK_ALLOW_CIDRS: '127.0.0.1/32',
      TIANXING_WEBHOOK_MAX_ATTEMPTS: MAX_ATTEMPTS, TIANXING_WEBHOOK_TIMEOUT_MS: 3000,
    },
  });
  loadFixtures(DB);
  admin = client(svc, ownToken(key, EMP.admin));
  staff = client(svc, ownToken(key, EMP.staffA1));
});

after(() => new Promise((r) => receiver.close(r)));

describe('delivery', () => {
  test('a new customer reaches the subscriber once, signed, without personal data', async () => {
    const w = await subscribe('/ok');
    const c = await newCustomer();
    await waitFor(() => received('/ok').length >= 1, { timeout: 10000, what: 'the delivery' });
    const [msg] = received('/ok');
    assert.equal(msg.method, 'POST');
    assert.match(msg.headers['content-type'], /^application\/json/);
    const event = new Webhook(w.secret).verify(msg.body, msg.headers);
    assert.equal(event.type, 'customer.created');
    assert.equal(event.subject, `/v1/customers/${c.id}`);
    assert.equal(event.data.customer_id, c.id);
    assert.equal(msg.headers['webhook-id'], event.id, 'the message id is the event id');
    assert.ok(Number.isInteger(event.position) && event.position > 0);
    assert.doesNotMatch(msg.body, new RegExp(`${c.name}|保密`), 'no name, company or needs in the event');
    // A wrong secret does not verify: the signature is really checked.
    const other = `whsec_${crypto.randomBytes(32).toString('base64')}`;
    assert.throws(() => new Webhook(other).verify(msg.body, msg.headers), /No matching signature/);
    // Exactly one: give a duplicate the time to show up (several poll periods) before counting.
    await sleep(600);
    assert.equal(received('/ok').length, 1);
    const [d] = await deliveries(w.id);
    assert.equal(d.state, 'delivered');
    assert.equal(d.event_id, event.id);
    assert.deepEqual(d.event, event, 'the log shows the event as sent');
    assert.deepEqual(d.attempts.map((a) => [a.outcome, a.status_code]), [['delivered', 204]]);
    ok(await del(`/v1/webhooks/${w.id}`));
  });

  test('a receiver failing three times then succeeding gets one accepted delivery; the log shows each attempt', async () => {
    plan.set('/flaky', (n) => (n <= 3 ? 500 : 200));
    const w = await subscribe('/flaky');
    await newCustomer();
    await waitFor(async () => (await deliveries(w.id))[0]?.state === 'delivered',
      { timeout: 15000, interval: 100, what: 'the fourth attempt' });
    const msgs = received('/flaky');
    assert.equal(msgs.length, 4);
    assert.equal(new Set(msgs.map((m) => m.headers['webhook-id'])).size, 1, 'one message id on every attempt');
    for (const m of msgs) new Webhook(w.secret).verify(m.body, m.headers);
    const [d] = await deliveries(w.id);
    assert.equal(d.attempt_count, 4);
    assert.deepEqual(d.attempts.map((a) => [a.attempt, a.outcome, a.status_code]),
      [[1, 'failed', 500], [2, 'failed', 500], [3, 'failed', 500], [4, 'delivered', 200]]);
    assert.equal(d.attempts[0].response_excerpt, 'receiver says no?', 'a bounded, printable excerpt');
    // Backoff: each wait at least doubles from TIANXING_WEBHOOK_BACKOFF_MS (100 ms).
    const starts = d.attempts.map((a) => Date.parse(a.started_at));
    assert.ok(starts[1] - starts[0] >= 100 && starts[2] - starts[1] >= 200 && starts[3] - starts[2] >= 400,
      `backoff between attempts: ${starts.map((t, i) => (i ? t - starts[i - 1] : 0))}`);
    await sleep(500);
    assert.equal(received('/flaky').length, 4, 'nothing after the accepted delivery');
    ok(await del(`/v1/webhooks/${w.id}`));
  });

  test('after the last attempt the delivery is dead; a manual redelivery sends it again', async () => {
    plan.set('/down', 503);
    const w = await subscribe('/down');
    await newCustomer();
    await waitFor(async () => (await deliveries(w.id, '?state=dead')).length === 1,
      { timeout: 15000, interval: 100, what: 'the dead letter' });
    const [d] = await deliveries(w.id, '?state=dead');
    assert.equal(d.attempt_count, MAX_ATTEMPTS);
    assert.equal(d.last_status, 503);
    assert.equal(received('/down').length, MAX_ATTEMPTS);
    await sleep(500);
    assert.equal(received('/down').length, MAX_ATTEMPTS, 'no attempt after the last');
    plan.set('/down', 202);
    const again = ok(await admin.post(`/v1/webhooks/${w.id}/deliveries/${d.id}/redeliver`, undefined));
    assert.equal(again.state, 'pending');
    await waitFor(async () => (await deliveries(w.id))[0]?.state === 'delivered',
      { timeout: 10000, what: 'the redelivery' });
    const [done] = await deliveries(w.id);
    assert.equal(done.attempts.at(-1).manual, true);
    assert.equal(done.attempts.at(-1).status_code, 202);
    assert.equal(received('/down').length, MAX_ATTEMPTS + 1);
    // A redelivery while one is queued is refused (it would send twice).
    const r1 = await admin.post(`/v1/webhooks/${w.id}/deliveries/${d.id}/redeliver`, undefined);
    ok(r1);
    const r2 = await admin.post(`/v1/webhooks/${w.id}/deliveries/${d.id}/redeliver`, undefined);
    if (r2.status !== 200) assertProblem(r2, 409, 'conflict');
    ok(await del(`/v1/webhooks/${w.id}`));
  });

  test('a rotated secret overlaps: both signatures verify until the overlap ends', async () => {
    const w = await subscribe('/rot');
    const rotated = ok(await admin.post(`/v1/webhooks/${w.id}/rotate-secret`, { overlap_seconds: 3600 }));
    assert.notEqual(rotated.secret, w.secret);
    assert.ok(rotated.previous_secret_until);
    await newCustomer();
    await waitFor(() => received('/rot').length >= 1, { timeout: 10000, what: 'the delivery' });
    const [m1] = received('/rot');
    assert.equal(m1.headers['webhook-signature'].split(' ').length, 2, 'two signatures during the overlap');
    new Webhook(w.secret).verify(m1.body, m1.headers);
    new Webhook(rotated.secret).verify(m1.body, m1.headers);
    // Ending the overlap: the old secret no longer signs.
    const given = `whsec_${crypto.randomBytes(32).toString('base64')}`;
    const again = ok(await admin.post(`/v1/webhooks/${w.id}/rotate-secret`, { overlap_seconds: 0, secret: given }));
    assert.equal(again.secret, given);
    assert.equal(again.previous_secret_until, null);
    await newCustomer();
    await waitFor(() => received('/rot').length >= 2, { timeout: 10000, what: 'the second delivery' });
    const m2 = received('/rot')[1];
    assert.equal(m2.headers['webhook-signature'].split(' ').length, 1);
    new Webhook(given).verify(m2.body, m2.headers);
    assert.throws(() => new Webhook(rotated.secret).verify(m2.body, m2.headers), /No matching signature/);
    ok(await del(`/v1/webhooks/${w.id}`));
  });
});

describe('event triggers, end to end', () => {
  test('a KRI measurement reaching its warning band reaches the subscriber as risk_warning.raised (R3.2)', async () => {
    const w = await subscribe('/warnings', ['risk_warning.raised']);
    const risk = client(svc, ownToken(key, EMP.risk));
    const admin2 = client(svc, ownToken(key, EMP.admin2));
    const owner = client(svc, ownToken(key, EMP.staffA2));
    const code = 'webhook_complaints';
    const kri = ok(await risk.post('/v1/kris', {
      code, name: '投訴件數 Complaints', measures: '本月客戶投訴件數', source: 'manual', unit: 'complaints',
      direction: 'up', category: 'operational', owner_id: EMP.staffA2.id,
    }), 201);
    // Its thresholds, the only way thresholds come: a kri_thresholds proposal and a second admin's approval.
    const current = ok(await admin2.get('/v1/policy-parameters/kri_thresholds'));
    const p = ok(await admin2.post('/v1/policy-parameters/kri_thresholds/proposals', {
      value: { ...current.value, [code]: { warning: 5, critical: 10, rearm: 1, frequency: 'monthly' } },
      effective_from: dbDay(DB), reason: '投訴:月 5 件預警',
    }), 201);
    ok(await admin.post(`/v1/policy-proposals/${p.id}/approve`, { reason: '同意' }));
    ok(await owner.post(`/v1/kris/${kri.id}/measurements`, { value: 3 }), 201);
    ok(await owner.post(`/v1/kris/${kri.id}/measurements`, { value: 6 }), 201);
    await waitFor(() => received('/warnings').length >= 1, { timeout: 10000, what: 'the risk_warning.raised delivery' });
    await sleep(500);
    assert.equal(received('/warnings').length, 1, 'one event: the measurement under the band raised none');
    const [msg] = received('/warnings');
    const event = new Webhook(w.secret).verify(msg.body, msg.headers);
    assert.equal(event.type, 'risk_warning.raised');
    assert.equal(event.subject, `/v1/warnings/${event.data.id}`);
    assert.equal(event.data.kri_id, kri.id);
    assert.equal(event.data.level, 'warning');
    assert.equal(Number(event.data.value), 6);
    assert.equal(Number(event.data.threshold), 5);
    const warnings = ok(await risk.get(`/v1/warnings?kri_id=${kri.id}`)).items;
    assert.deepEqual(warnings.map((x) => x.id), [event.data.id], 'the warning the event names');
    ok(await del(`/v1/webhooks/${w.id}`));
  });
});

describe('secrets at rest', () => {
  const row = (id) => JSON.parse(pg(`SELECT json_build_object('secret', secret, 'previous_secret', previous_secret,
      'key_id', key_id, 'sealed', encode(sealed, 'hex'), 'previous_key_id', previous_key_id)
      FROM events.webhook_secrets WHERE webhook_id = ${lit(id)}`, { db: DB }));
  const keyHex = (secret) => Buffer.from(secret.slice(6), 'base64').toString('hex');

  test('the database holds the secret sealed under the master key; a replay of the create opens it again', async () => {
    const idem = `wh-${crypto.randomUUID()}`;
    const body = { url: `${base}/sealed`, event_types: ['customer.created'] };
    const w = ok(await admin.post('/v1/webhooks', body, { headers: { 'Idempotency-Key': idem } }), 201);
    const r = row(w.id);
    assert.equal(r.secret, null);
    assert.equal(r.key_id, 'k2024-01');
    assert.ok(r.sealed.length >= 2 * (12 + 38 + 16), 'nonce, sealed text and tag');
    // Neither the text nor the key bytes appear anywhere a dump would show them.
    const text = w.secret;
    for (const needle of [text.slice(6, 30), keyHex(text).slice(0, 24)]) {
      assert.equal(Number(pg(`SELECT count(*) FROM events.webhook_secrets s
          WHERE s::text LIKE ${lit(`%${needle}%`)} OR encode(s.sealed, 'hex') LIKE ${lit(`%${needle}%`)}`, { db: DB })), 0);
      assert.equal(Number(pg(`SELECT count(*) FROM tx_meta.idempotency i WHERE i::text LIKE ${lit(`%${needle}%`)}`, { db: DB })), 0,
        'the idempotency record keeps no copy of the answer');
      assert.equal(Number(pg(`SELECT count(*) FROM audit.log WHERE changes::text LIKE ${lit(`%${needle}%`)}`, { db: DB })), 0);
    }
    // The retry whose first answer was lost gets the same subscription and the same secret.
    const again = ok(await admin.post('/v1/webhooks', body, { headers: { 'Idempotency-Key': idem } }), 201);
    assert.equal(again.id, w.id);
    assert.equal(again.secret, w.secret);
    // Sealed for this subscription: moved to another one, it no longer opens (the delivery says so).
    const other = await subscribe('/sealed-other');
    pg(`UPDATE events.webhook_secrets SET sealed = (SELECT sealed FROM events.webhook_secrets WHERE webhook_id = ${lit(w.id)})
         WHERE webhook_id = ${lit(other.id)}`, { db: DB });
    await newCustomer();
    await waitFor(async () => (await deliveries(other.id))[0]?.attempts?.[0]?.outcome === 'failed',
      { timeout: 10000, what: 'the attempt with the moved secret' });
    const [d] = await deliveries(other.id);
    assert.match(d.attempts[0].error, /secret of the subscription cannot be opened/);
    assert.equal(received('/sealed-other').length, 0, 'nothing unsigned is sent');
    await waitFor(() => received('/sealed').length >= 1, { timeout: 10000, what: 'the sealed secret signing' });
    new Webhook(w.secret).verify(received('/sealed')[0].body, received('/sealed')[0].headers);
    ok(await del(`/v1/webhooks/${w.id}`));
    ok(await del(`/v1/webhooks/${other.id}`));
  });

  test('upgrade: a secret still in clear signs, and the sweep seals it and validates the constraint', async () => {
    const w = await subscribe('/legacy');
    const clear = `whsec_${crypto.randomBytes(32).toString('base64')}`;
    // The state 0042 finds: text in the table and the constraint NOT VALID (as the superuser).
    pg(`ALTER TABLE events.webhook_secrets DROP CONSTRAINT webhook_secrets_sealed;
        UPDATE events.webhook_secrets SET secret = ${lit(clear)}, key_id = NULL, sealed = NULL WHERE webhook_id = ${lit(w.id)};
        ALTER TABLE events.webhook_secrets ADD CONSTRAINT webhook_secrets_sealed
          CHECK (secret IS NULL AND previous_secret IS NULL AND key_id IS NOT NULL AND sealed IS NOT NULL
                 AND (previous_key_id IS NULL) = (previous_sealed IS NULL)) NOT VALID;`, { db: DB });
    // Text is refused from now on, whatever writes it (a NOT VALID check holds for every new row version).
    assert.throws(() => pg(`UPDATE events.webhook_secrets SET previous_secret = ${lit(clear)}
                            WHERE webhook_id = ${lit(w.id)}`, { db: DB }), /webhook_secrets_sealed/);
    // Until sealed, the row still signs.
    await newCustomer();
    await waitFor(() => received('/legacy').length >= 1, { timeout: 10000, what: 'the delivery signed in clear' });
    new Webhook(clear).verify(received('/legacy')[0].body, received('/legacy')[0].headers);
    pg(`SELECT jobs.enqueue('webhooks.sweep', now(), '{}'::jsonb, NULL, ${lit(`test-${crypto.randomUUID()}`)})`, { db: DB });
    await waitFor(() => row(w.id).sealed !== null, { timeout: 10000, what: 'the sweep sealing the row' });
    const r = row(w.id);
    assert.equal(r.secret, null);
    assert.equal(r.key_id, 'k2024-01');
    await waitFor(() => pg(`SELECT convalidated FROM pg_constraint WHERE conname = 'webhook_secrets_sealed'`, { db: DB }) === 't',
      { timeout: 5000, what: 'the constraint validated' });
    // The same secret signs, now opened from its seal.
    await newCustomer();
    await waitFor(() => received('/legacy').length >= 2, { timeout: 10000, what: 'the delivery after sealing' });
    new Webhook(clear).verify(received('/legacy')[1].body, received('/legacy')[1].headers);
    ok(await del(`/v1/webhooks/${w.id}`));
  });

  test('/metrics counts deliveries by outcome and their duration', async () => {
    const m = await metrics(svc);
    assert.ok(m.get('tianxing_webhook_attempts_total{outcome="delivered"}') >= 1);
    assert.ok(m.has('tianxing_webhook_attempts_total{outcome="refused"}'));
    assert.ok(m.get('tianxing_webhook_attempt_seconds_count') >= m.get('tianxing_webhook_attempts_total{outcome="delivered"}'));
    assert.ok(m.has('tianxing_webhook_attempt_seconds_bucket{le="+Inf"}'));
    // The backlog comes from the last sweep on this instance (the test above ran one).
    assert.ok(m.has('tianxing_webhook_pending'));
    assert.ok(m.get('tianxing_webhook_oldest_pending_seconds') >= 0);
    assert.ok(m.get('tianxing_webhook_backlog_timestamp_seconds') > Date.now() / 1000 - 600);
  });
});

describe('subscriptions', () => {
  test('bad input gets 422 problems naming the field, and nothing is stored', async () => {
    const before = Number(pg('SELECT count(*) FROM events.webhooks', { db: DB }));
    assertFieldError(await admin.post('/v1/webhooks', { url: 'http://hooks.example.com/x', event_types: ['customer.created'] }), 'url');
    assertFieldError(await admin.post('/v1/webhooks', { url: 'ftp://hooks.example.com/x', event_types: ['customer.created'] }), 'url');
    assertFieldError(await admin.post('/v1/webhooks', { url: 'https://u:p@hooks.example.com/x', event_types: ['customer.created'] }), 'url');
    assertFieldError(await admin.post('/v1/webhooks', { url: 'https://hooks.example.com/x', event_types: ['customer.eaten'] }), 'event_types');
    assertFieldError(await admin.post('/v1/webhooks', { url: 'https://hooks.example.com/x', event_types: [] }), 'event_types');
    assertFieldError(await admin.post('/v1/webhooks', { url: 'https://hooks.example.com/x', event_types: ['customer.created'], secret: 'plain' }), 'secret');
    assertFieldError(await admin.post('/v1/webhooks', { url: 'https://hooks.example.com/x', event_types: ['customer.created'], color: 'red' }), 'color');
    assert.equal(Number(pg('SELECT count(*) FROM events.webhooks', { db: DB })), before);
  });

  test('only admins manage subscriptions; a read never shows the secret', async () => {
    assertProblem(await staff.post('/v1/webhooks', { url: 'https://hooks.example.com/x', event_types: ['customer.created'] }), 403, 'forbidden');
    assertProblem(await staff.get('/v1/webhooks'), 403, 'forbidden');
    const w = ok(await admin.post('/v1/webhooks', {
      url: 'https://hooks.example.com/in', event_types: ['case.state_changed', 'customer.updated'], description: '對接 ERP',
    }), 201);
    const res = await admin.get(`/v1/webhooks/${w.id}`);
    const got1 = ok(res);
    assert.equal(got1.secret, undefined);
    assert.deepEqual(got1.event_types, ['case.state_changed', 'customer.updated']);
    assert.ok(ok(await admin.get('/v1/webhooks')).items.some((x) => x.id === w.id && x.secret === undefined));
    assertProblem(await admin.patch(`/v1/webhooks/${w.id}`, { active: false }), 428, 'precondition_required');
    const upd = ok(await admin.patch(`/v1/webhooks/${w.id}`, { active: false, event_types: ['customer.disposed'] },
      { headers: { 'If-Match': res.headers.etag } }));
    assert.equal(upd.active, false);
    assert.deepEqual(upd.event_types, ['customer.disposed']);
    assertFieldError(await admin.patch(`/v1/webhooks/${w.id}`, { url: 'http://hooks.example.com/x' },
      { headers: { 'If-Match': `"${upd.version}"` } }), 'url');
    // The secret is not in the audit trail either.
    assert.equal(Number(pg(`SELECT count(*) FROM audit.log WHERE table_name = 'events.webhook_secrets'
                              AND changes::text LIKE ${lit(`%${w.secret.slice(6, 30)}%`)}`, { db: DB })), 0);
    ok(await del(`/v1/webhooks/${w.id}`));
    assertProblem(await admin.get(`/v1/webhooks/${w.id}`), 404, 'not_found');
    const types = ok(await staff.get('/v1/event-types')).items.map((t) => t.type);
    assert.ok(types.includes('customer.created') && types.includes('plan_version.effective'));
  });
});
