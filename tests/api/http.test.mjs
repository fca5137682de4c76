// The HTTP layer under attack (issue 10 items 1, 12, 13, 14), over raw sockets: framing that
// could smuggle a request, a declared body too large to read, error answers in problem+json, and
// slow-header connections that must not lock everybody else out.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { freshDatabase, sleep, startService } from './lib/harness.mjs';

const DB = 'tx_api_http';
const LIMIT = 4096;
let svc;

before(async () => {
  freshDatabase(DB);
  svc = await startService({ db: DB, env: { TIANXING_BODY_LIMIT: LIMIT } });
});

/**
 * Opens a connection, writes `text`, and collects what comes back. Resolves when the server
 * closes the connection ({ closed: true }) or after `waitMs` ({ closed: false }), with every
 * response parsed from the bytes received.
 */
function exchange(port, text, { waitMs = 4000, localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress });
    const chunks = [];
    const t0 = Date.now();
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      const raw = Buffer.concat(chunks);
      resolve({ closed, ms: Date.now() - t0, raw, responses: parseResponses(raw) });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    s.on('connect', () => s.write(text));
    s.on('data', (c) => chunks.push(c));
    s.on('error', (e) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? finish(true) : reject(e)));
    s.on('close', () => finish(true));
  });
}

/** Splits raw bytes into HTTP/1.1 responses (Content-Length framed). */
function parseResponses(raw) {
  const out = [];
  let rest = raw;
  while (rest.length) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const lines = rest.subarray(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (!m) break;
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const len = Number(headers['content-length'] || 0);
    const body = rest.subarray(end + 4, end + 4 + len).toString('utf8');
    out.push({ status: Number(m[1]), headers, body });
    rest = rest.subarray(end + 4 + len);
  }
  return out;
}

function assertRawProblem(res, status, code) {
  assert.equal(res.status, status, `status; body: ${res.body}`);
  assert.match(res.headers['content-type'] || '', /^application\/problem\+json\b/, `content-type of ${status}: ${res.body}`);
  const p = JSON.parse(res.body);
  assert.equal(p.status, status);
  assert.equal(p.code, code);
  assert.equal(p.request_id, res.headers['x-request-id']);
  return p;
}

const accessLog = () => svc.accessLog().filter((l) => l.msg === 'request');
const accessLogPaths = () => accessLog().map((l) => l.path);

describe('framing (issue 10 item 12): Content-Length with Transfer-Encoding is refused and the connection closed', () => {
  test('CL.TE: 400 problem+json, Connection: close, and the request smuggled behind it never runs', async () => {
    const smuggled = 'GET /smuggled-te HTTP/1.1\r\nHost: t\r\n\r\n';
    const chunkedBody = '0\r\n\r\n';
    const text = 'POST /v1/auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n'
      + `Content-Length: ${chunkedBody.length + smuggled.length}\r\nTransfer-Encoding: chunked\r\n\r\n`
      + chunkedBody + smuggled;
    const r = await exchange(svc.port, text);
    assert.equal(r.responses.length, 1, `one answer only: ${r.raw.toString('latin1')}`);
    const p = assertRawProblem(r.responses[0], 400, 'bad_request');
    assert.match(p.detail, /Content-Length and Transfer-Encoding/);
    assert.match(r.responses[0].headers.connection || '', /close/i);
    assert.ok(r.closed, 'the server closed the connection');
    await sleep(200);
    assert.ok(!accessLogPaths().includes('/smuggled-te'), 'the smuggled request ran');
    // logged with its 400, never routed (a login would have answered 422 or 401)
    assert.deepEqual(accessLog().filter((l) => l.path === '/v1/auth/login').map((l) => [l.status, l.route]), [[400, null]]);
  });

  test('TE.CL order, two Content-Length values, and a Transfer-Encoding other than chunked: 400 and close', async () => {
    const cases = {
      'TE before CL': 'POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n',
      'two lengths': 'POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}',
      'gzip, chunked': 'POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
    };
    for (const [what, text] of Object.entries(cases)) {
      const r = await exchange(svc.port, `${text}GET /smuggled-${what.replace(/\W/g, '')} HTTP/1.1\r\nHost: t\r\n\r\n`);
      assert.equal(r.responses.length, 1, `${what}: ${r.raw.toString('latin1')}`);
      assertRawProblem(r.responses[0], 400, 'bad_request');
      assert.ok(r.closed, `${what}: closed`);
    }
    await sleep(200);
    assert.deepEqual(accessLogPaths().filter((p) => p.startsWith('/smuggled')), []);
  });

  test('a plain chunked body and a plain Content-Length body still work on one kept-alive connection', async () => {
    const text = 'POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n'
      + 'GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n';
    const r = await exchange(svc.port, text, { waitMs: 1500 });
    assert.deepEqual(r.responses.map((x) => x.status), [405, 200], r.raw.toString('latin1'));
    assert.equal(r.closed, false, 'kept alive');
  });
});

describe('declared length (issue 10 item 13): 413 from Content-Length before a byte of the body', () => {
  for (const cl of ['2147483648', String(LIMIT + 1), '99999999999999999999']) {
    test(`Content-Length: ${cl} with no body sent: 413 problem+json at once, then close`, async () => {
      const r = await exchange(svc.port, `POST /v1/auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${cl}\r\n\r\n{"user`);
      assert.equal(r.responses.length, 1, `an answer without the body: ${r.raw.toString('latin1')}`);
      if (cl === '99999999999999999999') {
        // beyond 2^64: libmicrohttpd refuses it before our code runs (see below)
        assert.equal(r.responses[0].status, 413);
      } else {
        const p = assertRawProblem(r.responses[0], 413, 'payload_too_large');
        assert.match(p.detail, new RegExp(`${LIMIT}`));
      }
      assert.ok(r.closed, 'closed');
      assert.ok(r.ms < 2000, `answered in ${r.ms} ms, without waiting for the body`);
    });
  }

  test('a body of exactly the limit is still read and routed', async () => {
    const body = `{"pad":"${'x'.repeat(LIMIT - 10)}"}`;
    const r = await exchange(svc.port, `POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    assert.equal(r.responses[0].status, 405);
  });
});

describe('problem+json everywhere (issue 10 item 14)', () => {
  test('a 40 KB header (over 16 KiB + TIANXING_JWT_MAX_BYTES): 431 header_too_large as problem+json, then close', async () => {
    const r = await exchange(svc.port, `GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(40000)}\r\n\r\n`);
    assert.equal(r.responses.length, 1, r.raw.toString('latin1').slice(0, 400));
    const p = assertRawProblem(r.responses[0], 431, 'header_too_large');
    assert.match(p.detail, /24576 bytes/);
    assert.ok(r.closed);
    // a long request target counts too
    const u = await exchange(svc.port, `GET /healthz?q=${'a'.repeat(30000)} HTTP/1.1\r\nHost: t\r\n\r\n`);
    assertRawProblem(u.responses[0], 431, 'header_too_large');
  });

  test('a 20 KB header is within the limit and answered normally', async () => {
    const r = await exchange(svc.port, `GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(20000)}\r\nConnection: close\r\n\r\n`);
    assert.equal(r.responses[0]?.status, 200, r.raw.toString('latin1').slice(0, 400));
  });

  // What libmicrohttpd 0.9.75 answers itself, before any code of ours runs, with its own HTML
  // (docs/architecture.md): a header beyond its memory pool (64 KiB here), a malformed or negative
  // Content-Length (whose answer it even sends twice), a length beyond 2^64, a malformed request
  // line, chunk or HTTP version. Pinned here so that a library upgrade that changes them is seen.
  test('documented exceptions: what libmicrohttpd refuses itself still closes the connection with a 4xx/5xx', async () => {
    const cases = {
      'header beyond the pool': [`GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(200000)}\r\n\r\n`, 431],
      'negative Content-Length': ['POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n', 400],
      'HTTP/2.0 request line': ['GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n', 505],
      'bad chunk size': ['POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400],
    };
    for (const [what, [text, status]] of Object.entries(cases)) {
      const r = await exchange(svc.port, text);
      assert.equal(r.responses[0]?.status, status, `${what}: ${r.raw.toString('latin1').slice(0, 300)}`);
      assert.ok(r.closed, `${what}: closed`);
    }
  });

  test('our early answers are single problem documents (no doubled body)', async () => {
    const r = await exchange(svc.port, `PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: ${LIMIT * 10}\r\n\r\n`);
    assert.equal(r.responses.length, 1);
    assertRawProblem(r.responses[0], 413, 'payload_too_large');
    const after = r.raw.subarray(r.raw.indexOf('\r\n\r\n') + 4 + Number(r.responses[0].headers['content-length']));
    assert.equal(after.length, 0, `nothing after the answer: ${after.toString('latin1')}`);
  });
});

describe('slow headers (issue 10 item 1)', () => {
  let guarded;
  const ADDRS = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7'];
  const MAX = 200;
  const PER_IP = 50; // 6 x 50 = 300 slow connections, over the 200 the service takes

  let deadline;
  before(async () => {
    // the default header deadline (10 s) is longer than the attack below: what keeps the service
    // answering is the shedding
    guarded = await startService({
      db: DB,
      env: {
        TIANXING_MAX_CONNECTIONS: MAX, TIANXING_MAX_CONNECTIONS_PER_IP: PER_IP,
        TIANXING_CONNECTION_TIMEOUT: 60, TIANXING_ACCESS_LOG: 'false',
      },
    });
  });
  // started by the first test that needs it, so that each test fails or passes on its own
  const deadlineSvc = async () => {
    deadline ??= await startService({ db: DB, env: { TIANXING_HEADER_TIMEOUT: 3, TIANXING_ACCESS_LOG: 'false' } });
    return deadline;
  };
  after(async () => {
    await guarded?.stop();
    await deadline?.stop();
  });

  /** Slowloris: request line, then one header line every `everyMs`; reconnects when closed. */
  function attack({ everyMs = 1000 } = {}) {
    const state = { stop: false, connects: 0, closes: 0, answers: 0, sockets: new Set() };
    const open = (addr) => {
      if (state.stop) return;
      const s = net.connect({ host: '127.0.0.1', port: guarded.port, localAddress: addr });
      state.sockets.add(s);
      let timer;
      s.on('connect', () => {
        state.connects++;
        s.write('GET /healthz HTTP/1.1\r\nHost: t\r\n');
        timer = setInterval(() => s.write(`X-Slow-${Date.now()}: 1\r\n`), everyMs);
      });
      s.on('data', () => { state.answers++; });
      s.on('error', () => {});
      s.on('close', () => {
        clearInterval(timer);
        state.sockets.delete(s);
        state.closes++;
        if (!state.stop) setTimeout(() => open(addr), 20);
      });
    };
    for (const a of ADDRS) for (let i = 0; i < PER_IP; i++) open(a);
    state.end = () => { state.stop = true; for (const s of state.sockets) s.destroy(); };
    return state;
  }

  function healthz(port) {
    return new Promise((resolve) => {
      const t0 = Date.now();
      const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false, timeout: 3000 }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, ms: Date.now() - t0 }));
      });
      req.on('timeout', () => { req.destroy(); resolve({ status: 0, ms: Date.now() - t0 }); });
      req.on('error', () => resolve({ status: -1, ms: Date.now() - t0 }));
    });
  }

  test('a connection sending one header line every 0.5 s is closed at the header deadline (3 s), activity or not', async () => {
    const { port } = await deadlineSvc();
    const t0 = Date.now();
    const s = net.connect({ host: '127.0.0.1', port });
    await new Promise((r) => s.on('connect', r));
    s.write('GET /healthz HTTP/1.1\r\nHost: t\r\n');
    const timer = setInterval(() => s.write('X-Slow: 1\r\n'), 500);
    let got = '';
    s.on('data', (d) => { got += d; });
    s.on('error', () => {});
    const closed = await Promise.race([new Promise((r) => s.on('close', () => r(Date.now() - t0))), sleep(8000).then(() => null)]);
    clearInterval(timer);
    s.destroy();
    assert.ok(closed !== null, 'still open after 8 s');
    assert.ok(closed >= 2500 && closed < 5000, `closed after ${closed} ms`);
    assert.equal(got, '', 'no answer to a header that never ended');
  });

  test('an idle kept-alive connection is closed at the same deadline after its answer', async () => {
    const r = await exchange((await deadlineSvc()).port, 'GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n', { waitMs: 8000 });
    assert.equal(r.responses[0]?.status, 200, r.raw.toString('latin1'));
    assert.ok(r.closed && r.ms >= 2500 && r.ms < 5000, `closed: ${r.closed} after ${r.ms} ms`);
  });

  test('300 slow-header connections from 127.0.0.2-7: a client from 127.0.0.1 is answered within 1 s, again and again', async (t) => {
    const a = attack();
    try {
      await waitForConnects(a, ADDRS.length * PER_IP);
      await sleep(1000); // every slot the service gives is taken
      const times = [];
      for (let i = 0; i < 5; i++) {
        const r = await healthz(guarded.port);
        assert.equal(r.status, 200, `request ${i}: status ${r.status} after ${r.ms} ms`);
        times.push(r.ms);
        await sleep(300);
      }
      t.diagnostic(`answer times under attack: ${times.join(', ')} ms; slow connections opened ${a.connects}, closed ${a.closes}`);
      assert.ok(Math.max(...times) < 1000, `answer times ${times.join(', ')} ms`);
      assert.equal(a.answers, 0, 'no slow request got an answer');
    } finally {
      a.end();
    }
    await sleep(300);
    assert.match(guarded.stderrText(), /shed \d+ waiting/, 'the guard says what it did');
    assert.equal((await healthz(guarded.port)).status, 200);
  });

  async function waitForConnects(a, n) {
    const deadline = Date.now() + 10000;
    while (a.connects < n && Date.now() < deadline) await sleep(50);
    assert.ok(a.connects >= n, `only ${a.connects} of ${n} slow connections opened`);
  }
});

test('the service is still healthy after all that and stops cleanly', async () => {
  const r = await exchange(svc.port, 'GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
  assert.equal(r.responses[0].status, 200);
  assert.equal(await svc.stop(), 0);
});
