// GET /v1/events (issue 16): the outbox as Server-Sent Events. Each caller receives the events it
// may see and no other, in commit order; a reconnect with Last-Event-ID misses nothing and repeats
// nothing; heartbeats keep a quiet stream alive; an open stream holds no request worker; the
// number of streams is capped; a stream ends with its token and with the service.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { after, before, test } from 'node:test';

import { assertProblem, freshDatabase, metrics, waitFor } from './lib/harness.mjs';
import { EMP, client, loadFixtures, newSigningKey, ok, ownToken } from './lib/identity.mjs';
import { customerKeys, startCustomerService } from './lib/customers.mjs';

const DB = 'tx_api_events_stream';
const MAX_STREAMS = 6;
let key;
let svc;
const open = [];

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startCustomerService(DB, key, customerKeys(['k2024-01']), {
    env: {
      TIANXING_EVENT_HEARTBEAT: 1, TIANXING_EVENT_STREAMS: MAX_STREAMS, TIANXING_REQUEST_WORKERS: 2,
      TIANXING_ACCESS_LOG: 'false',
    },
  });
  loadFixtures(DB);
});
after(async () => {
  for (const s of open) s.close();
  if (svc) await svc.stop();
});

/** Opens a stream; resolves once the answer's header is in. Messages are parsed as they come. */
function stream(token, { lastEventId, query = '' } = {}) {
  return new Promise((resolve, reject) => {
    const headers = { Accept: 'text/event-stream' };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (lastEventId !== undefined) headers['Last-Event-ID'] = String(lastEventId);
    const req = http.request({ host: '127.0.0.1', port: svc.port, path: `/v1/events${query}`, headers }, (res) => {
      const s = {
        path: `/v1/events${query}`,
        status: res.statusCode, headers: res.headers, events: [], comments: [], retry: null, ended: false, body: '',
        close() { req.destroy(); },
      };
      res.setEncoding('utf8');
      if (res.statusCode !== 200) {
        res.on('data', (c) => { s.body += c; });
        res.on('end', () => { s.text = s.body; s.json = JSON.parse(s.body); resolve(s); });
        return;
      }
      open.push(s);
      let buf = '';
      res.on('data', (chunk) => {
        buf += chunk;
        for (let i; (i = buf.indexOf('\n\n')) >= 0;) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const msg = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) s.comments.push(line.slice(1).trim());
            else if (line.startsWith('retry: ')) s.retry = Number(line.slice(7));
            else if (line.startsWith('id: ')) msg.id = line.slice(4);
            else if (line.startsWith('event: ')) msg.event = line.slice(7);
            else if (line.startsWith('data: ')) msg.data = JSON.parse(line.slice(6));
          }
          if (msg.id !== undefined) s.events.push(msg);
        }
      });
      res.on('end', () => { s.ended = true; });
      res.on('error', () => { s.ended = true; });
      resolve(s);
    });
    req.on('error', reject);
    req.end();
  });
}

const tokenOf = (emp, opts) => ownToken(key, emp, opts);
async function newCustomer(emp) {
  const name = `串流客戶${crypto.randomBytes(3).toString('hex')}`;
  return ok(await client(svc, tokenOf(emp)).post('/v1/customers', {
    name, company_name: `${name}有限公司`, business_scope: '貿易', needs: '保密的需求',
  }), 201);
}
const created = (s) => s.events.filter((e) => e.event === 'customer.created').map((e) => e.data.data.customer_id);

test('each caller receives what it may see, in order, with the envelope', async (t) => {
  const t0 = Date.now();
  const a = await stream(tokenOf(EMP.staffA1));
  const b = await stream(tokenOf(EMP.staffB1));
  assert.equal(a.status, 200);
  assert.match(a.headers['content-type'], /^text\/event-stream/);
  assert.equal(a.headers['cache-control'], 'no-store');
  await waitFor(() => a.retry === 2000 && b.retry === 2000, { what: 'both streams open' });
  const t1 = Date.now();
  const cA = await newCustomer(EMP.staffA1);
  const t2 = Date.now();
  await waitFor(() => created(a).includes(cA.id), { timeout: 5000, interval: 10, what: "A's event on A's stream" });
  t.diagnostic(`streams open in ${t1 - t0} ms; create ${t2 - t1} ms; the event arrived ${Date.now() - t2} ms after the create's answer`);
  const e = a.events.find((x) => x.data.data.customer_id === cA.id);
  assert.equal(e.event, 'customer.created');
  assert.equal(e.data.type, 'customer.created');
  assert.equal(e.id, String(e.data.position), 'the SSE id is the position');
  assert.equal(e.data.subject, `/v1/customers/${cA.id}`);
  assert.doesNotMatch(JSON.stringify(e.data), /串流客戶|保密/, 'no personal data in the event');

  // B may not see A's customer. B's own customer comes later in commit order, so once it has
  // arrived, A's would have arrived before it if B were sent it.
  const t3 = Date.now();
  const cB = await newCustomer(EMP.staffB1);
  const t4 = Date.now();
  await waitFor(() => created(b).includes(cB.id), { timeout: 5000, interval: 10, what: "B's event on B's stream" });
  t.diagnostic(`B's create ${t4 - t3} ms; its event ${Date.now() - t4} ms after`);
  assert.deepEqual(created(b), [cB.id], "B's stream has B's customer only");
  assert.deepEqual(created(a), [cA.id], "A's stream has A's customer only");
  const ids = a.events.map((x) => Number(x.id));
  assert.deepEqual(ids, [...ids].sort((x, y) => x - y), 'ascending positions');
  a.close();
  b.close();
});

test('Last-Event-ID resumes exactly after the last event received', async () => {
  const s1 = await stream(tokenOf(EMP.staffA1));
  const c1 = await newCustomer(EMP.staffA1);
  await waitFor(() => created(s1).includes(c1.id), { timeout: 5000, what: 'c1' });
  const last = s1.events.at(-1).id;
  s1.close();
  // Written while nobody listens.
  const c2 = await newCustomer(EMP.staffA1);
  const c3 = await newCustomer(EMP.staffA1);
  const s2 = await stream(tokenOf(EMP.staffA1), { lastEventId: last });
  await waitFor(() => created(s2).includes(c3.id), { timeout: 5000, what: 'the missed events' });
  assert.deepEqual(created(s2), [c2.id, c3.id], 'both missed events, in order, and not c1 again');
  assert.ok(s2.events.every((x) => Number(x.id) > Number(last)));
  // The query parameter does the same for a first connection (EventSource cannot set headers).
  const s3 = await stream(tokenOf(EMP.staffA1), { query: `?after=${last}` });
  await waitFor(() => created(s3).includes(c3.id), { timeout: 5000, what: '?after=' });
  assert.deepEqual(created(s3), [c2.id, c3.id]);
  s2.close();
  s3.close();
});

test('a quiet stream gets heartbeats', async () => {
  const s = await stream(tokenOf(EMP.hr));
  await waitFor(() => s.comments.includes('heartbeat'), { timeout: 4000, what: 'a heartbeat' });
  s.close();
});

const streamsOpen = async () => (await metrics(svc)).get('tianxing_event_streams_open');

test('open streams hold no request worker; beyond the cap, 503', async () => {
  // Closed streams are counted off when the feeder finds them gone (a heartbeat at the latest).
  await waitFor(async () => (await streamsOpen()) === 0, { timeout: 5000, interval: 200, what: 'no stream open' });
  // Two request workers and MAX_STREAMS streams open: requests are still served at once.
  const streams = [];
  for (let i = 0; i < MAX_STREAMS; i++) streams.push(await stream(tokenOf(i % 2 ? EMP.staffA2 : EMP.staffB1)));
  for (const s of streams) assert.equal(s.status, 200);
  assert.equal(await streamsOpen(), MAX_STREAMS);
  const t0 = Date.now();
  const rs = await Promise.all([1, 2, 3].map(() => client(svc, tokenOf(EMP.staffA1)).get('/v1/me')));
  for (const r of rs) assert.equal(r.status, 200);
  assert.ok(Date.now() - t0 < 2000, `served beside ${MAX_STREAMS} streams in ${Date.now() - t0} ms`);
  const refused = await stream(tokenOf(EMP.staffA2));
  assertProblem(refused, 503, 'service_busy');
  assert.match(refused.headers['retry-after'] || '', /^[1-9]\d*$/);
  for (const s of streams) s.close();
  await waitFor(async () => (await streamsOpen()) === 0, { timeout: 5000, interval: 200, what: 'the closed streams counted off' });
  const again = await stream(tokenOf(EMP.staffA2));
  assert.equal(again.status, 200, 'room again');
  again.close();
});

test('bad requests: no token, a malformed or future position', async () => {
  const none = await stream(null);
  assertProblem(none, 401, 'unauthorized');
  const bad = await stream(tokenOf(EMP.staffA1), { lastEventId: 'abc' });
  assertProblem(bad, 422, 'validation_failed');
  assert.equal(bad.json.errors[0].field, 'Last-Event-ID');
  const badQuery = await stream(tokenOf(EMP.staffA1), { query: '?after=-1' });
  assertProblem(badQuery, 422, 'validation_failed');
  const future = await stream(tokenOf(EMP.staffA1), { lastEventId: '999999999' });
  assertProblem(future, 422, 'validation_failed');
  const gone = await stream(tokenOf(EMP.gone));
  assertProblem(gone, 401, 'unauthorized');
});

test('a stream ends with its token, and with the service', async () => {
  const short = await stream(tokenOf(EMP.staffA1, { ttl: 2 }));
  assert.equal(short.status, 200);
  await waitFor(() => short.ended, { timeout: 6000, what: 'the stream to end with its token' });
  const s = await stream(tokenOf(EMP.staffA1));
  assert.equal(s.status, 200);
  const t0 = Date.now();
  const exited = await svc.stop();
  svc = null;
  assert.ok(s.ended || (await waitFor(() => s.ended, { timeout: 3000, what: 'the stream closed' })));
  assert.ok(Date.now() - t0 < 5000, `stopped with a stream open in ${Date.now() - t0} ms`);
  assert.equal(exited, 0, 'a clean stop');
});
