// Streamed CSV exports (issue 16; src/core/csv_export.c, docs/charts.md "CSV"):
//   * an export of more than 10 000 rows arrives whole: the BOM once, the header once, every row
//     once, in the list's order, chunked (no Content-Length); a list of one page keeps its
//     Content-Length;
//   * the service's memory does not grow with the export's size;
//   * clients that do not read hold no request worker: with 2 workers, other requests are served;
//   * at most TIANXING_CSV_EXPORTS at once: then 503 service_busy with Retry-After;
//   * a failure after the 200 (a page's statement timeout, the token expiring) makes the
//     transfer visibly incomplete (no terminating chunk), and is counted in /metrics;
//   * TIANXING_CSV_MAX_ROWS: 422 export_too_large when the first page already passes it, else
//     the transfer is cut at the ceiling;
//   * consistency: a row that is not changed during the export appears exactly once while other
//     rows are updated (their updated_at moves them in the list's order) meanwhile.
// Cases are inserted with SQL as the owner (one customer made through the route), not 10 000
// HTTP calls.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { before, describe, test } from 'node:test';

import {
  assertProblem, freshDatabase, holdTransaction, lit, metrics, pg, request, sleep, waitFor,
} from './lib/harness.mjs';
import { asClient } from './lib/cases.mjs';
import { customerKeys, keyEnv } from './lib/customers.mjs';
import { CSV, parseCsv } from './lib/formats.mjs';
import {
  DEPT, EMP, loadFixtures, newSigningKey, ok, ownToken, startIdentityService,
} from './lib/identity.mjs';

const DB = 'tx_api_csv_stream';
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const HEADER = 'Case ID,Status,Customer,Customer ID,Business type,Department ID,Received at,Expected on,Next due at,Updated at';
let key;
let keys;
let svc;
let customerId;
let total = 0;

// A long customer name makes each CSV row about 470 bytes: a 24 000-row export is 11 MB, which a
// service that held the whole export would show in its memory.
const NAME = `串流匯出測試客戶${'長'.repeat(90)}`;

function serviceEnv(extra = {}) {
  return {
    ...keyEnv(keys),
    // ASan keeps freed memory in a quarantine (256 MB by default): memory would seem to grow
    // with every page. A small one shows what the service itself holds.
    ASAN_OPTIONS: `${process.env.ASAN_OPTIONS || ''}:quarantine_size_mb=2:thread_local_quarantine_size_kb=128`,
    ...extra,
  };
}

/**
 * Adds `n` cases of department A for the test customer in one statement, as the cluster superuser
 * with the triggers off (session_replication_role): the per-row triggers (audit chain, deadlines)
 * would take minutes for 24 000 rows, and an export reads only the cases' own columns.
 */
function addCases(n) {
  pg(`SET session_replication_role = replica;
INSERT INTO cases.cases (customer_id, department_id, raised_at, received_by, channel, need)
SELECT ${lit(customerId)}, ${lit(DEPT.A)}, now() - interval '1 day', ${lit(EMP.staffA1.id)}, 'phone', 'n' || g
  FROM generate_series(1, ${n}) g;`, { db: DB });
  total += n;
}

const staff = () => asClient(svc, key, EMP.staffA1);

/**
 * GET `p` as CSV on a connection of its own, reading as told: `pauseAt` bytes then stop reading
 * until `resume()` (or never). Resolves (done) { status, headers, body, complete, error }:
 * complete is false when the connection closed before the end of the chunked answer.
 */
function openExport(service, token, p, { pauseAt = Infinity, headers = {} } = {}) {
  const chunks = [];
  let received = 0;
  let res;
  let paused = false;
  const h = { Accept: CSV, Authorization: `Bearer ${token}`, ...headers };
  const out = {};
  out.done = new Promise((resolve) => {
    let error;
    const req = http.request({ host: '127.0.0.1', port: service.port, path: p, headers: h, agent: false }, (r) => {
      res = r;
      out.status = r.statusCode;
      out.headers = r.headers;
      r.on('data', (c) => {
        chunks.push(c);
        received += c.length;
        if (received >= pauseAt && !paused) {
          paused = true;
          r.pause();
        }
      });
      r.on('error', (e) => { error = e; });
      r.on('close', () => resolve({ status: r.statusCode, headers: r.headers, body: Buffer.concat(chunks),
        complete: r.complete, error }));
    });
    req.on('error', (e) => { if (!res) resolve({ status: 0, body: Buffer.alloc(0), complete: false, error: e }); });
    req.end();
  });
  out.received = () => received;
  out.started = () => waitFor(() => res && (received >= Math.min(pauseAt, 1)), { timeout: 20000, what: 'the export starts' });
  out.resume = () => { paused = false; pauseAt = Infinity; res.resume(); };
  out.destroy = () => { if (res) res.destroy(); };
  return out;
}

/** The records of a complete export: the BOM once, the header once; asserts the framing. */
function records(r, service = svc) {
  assert.equal(r.status, 200);
  assert.ok(r.complete, `a complete transfer (${r.error}); log: ${service.stderrText().split('\n').filter((l) => /csv export/.test(l)).join('\n')}`);
  assert.deepEqual([...r.body.subarray(0, 3)], [...BOM], 'starts with the BOM');
  assert.equal(r.body.indexOf(BOM, 3), -1, 'the BOM once');
  const rows = parseCsv(r.body.subarray(3).toString('utf8'));
  assert.equal(rows[0].join(','), HEADER);
  assert.equal(rows.filter((x) => x.join(',') === HEADER).length, 1, 'the header once');
  return rows.slice(1);
}

/** The service's resident set, in KiB. */
function rssKiB(service) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${service.proc.pid}/status`, 'utf8'));
  return Number(m[1]);
}

/** Runs an export to its end at full speed, sampling the service's RSS; { rows, peakGrowthKiB }. */
async function exportMeasured(service, token) {
  const base = rssKiB(service);
  let peak = base;
  const e = openExport(service, token, '/v1/cases');
  const timer = setInterval(() => { peak = Math.max(peak, rssKiB(service)); }, 20);
  const r = await e.done;
  clearInterval(timer);
  return { response: r, rows: records(r, service), peakGrowthKiB: peak - base };
}

const cutTotal = async (service, reason) => (await metrics(service)).get(`tianxing_csv_exports_cut_total{reason="${reason}"}`);

before(async () => {
  key = newSigningKey();
  keys = customerKeys();
  freshDatabase(DB);
  // Two request workers: what a client that does not read would hold shows at once.
  svc = await startIdentityService(DB, key, serviceEnv({
    TIANXING_REQUEST_WORKERS: 2, TIANXING_CSV_EXPORTS: 2,
  }));
  loadFixtures(DB);
  customerId = ok(await staff().post('/v1/customers', {
    name: NAME, company_name: `${NAME}公司`, business_scope: '貿易', tags: ['測試'], source: '轉介',
  }), 201).id;
});

describe('streamed CSV exports', () => {
  let small; // the RSS growth of the 12 000-row export, for the comparison with a larger one

  test('a list of one page: answered whole, with a Content-Length', async () => {
    addCases(3);
    const r = await request(svc, { path: '/v1/cases', headers: { Accept: CSV, Authorization: `Bearer ${staff().token}` } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['content-length'], String(r.body.length));
    assert.equal(parseCsv(r.body.subarray(3).toString('utf8')).length, 1 + 3);
  });

  test('more than 10 000 rows: complete, chunked, in order, BOM and header once, every row once', async () => {
    addCases(12000 - total);
    const before = (await metrics(svc)).get('tianxing_csv_rows_total');
    small = await exportMeasured(svc, staff().token);
    const r = small.response;
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    assert.equal(r.headers['content-length'], undefined);
    assert.match(r.headers['content-disposition'], /^attachment; filename="cases.csv"$/);
    const rows = small.rows;
    assert.equal(rows.length, 12000);
    const ids = rows.map((x) => x[0]);
    assert.equal(new Set(ids).size, 12000, 'every row once');
    // The list's order (updated_at DESC, id DESC; all inserted in one statement: id DESC).
    const want = pg('SELECT string_agg(id::text, \',\' ORDER BY updated_at DESC, id DESC) FROM cases.cases', { db: DB }).split(',');
    assert.deepEqual(ids, want, 'in the list\'s order');
    assert.ok(rows.every((x) => x[2] === NAME && x[3] === customerId));
    assert.equal((await metrics(svc)).get('tianxing_csv_rows_total') - before, 12000);
  });

  test('consistency: a row not changed during the export appears exactly once while others move', async () => {
    // The export of the list after a cursor (the last 4 000 cases), so that it stays short.
    const [ts, from] = pg(`SELECT (extract(epoch FROM updated_at) * 1000000)::bigint || ' ' || id FROM cases.cases
 ORDER BY updated_at DESC, id DESC OFFSET ${total - 4001} LIMIT 1`, { db: DB }).split(' ');
    const inRange = pg(`SELECT string_agg(id::text, ',') FROM cases.cases
 WHERE (updated_at, id) < (timestamptz 'epoch' + ${ts} * interval '1 microsecond', ${lit(from)}::uuid)`, { db: DB }).split(',');
    assert.equal(inRange.length, 4000);
    const changed = new Set();
    const e = openExport(svc, staff().token, `/v1/cases?cursor=${ts}_${from}`, { pauseAt: 200000 });
    await e.started();
    // Rows already sent and rows not yet read get a new updated_at, which moves them to the head
    // of the list (updated_at DESC): what an edit of a case does.
    for (let i = 0; i < 6; i++) {
      const ids = pg(`SET session_replication_role = replica;
WITH t AS (SELECT id FROM cases.cases
             WHERE (updated_at, id) < (timestamptz 'epoch' + ${ts} * interval '1 microsecond', ${lit(from)}::uuid)
             ORDER BY random() LIMIT 40)
UPDATE cases.cases c SET updated_at = clock_timestamp() FROM t WHERE c.id = t.id RETURNING c.id`, { db: DB });
      for (const id of ids.split('\n')) if (/^[0-9a-f-]{36}$/.test(id)) changed.add(id);
      if (i === 2) e.resume();
      await sleep(100);
    }
    const rows = records(await e.done, svc);
    const seen = new Map();
    for (const x of rows) seen.set(x[0], (seen.get(x[0]) || 0) + 1);
    assert.equal(changed.size > 100, true, `${changed.size} cases changed`);
    for (const id of inRange) {
      if (!changed.has(id)) assert.equal(seen.get(id), 1, `unchanged case ${id} exactly once`);
    }
  });

  test('a page that fails after the 200 (statement timeout): an incomplete transfer, logged and counted', async () => {
    const before = await cutTotal(svc, 'database');
    const e = openExport(svc, staff().token, '/v1/cases', { pauseAt: 100000 });
    await e.started();
    // Every later page waits for this lock until the service's statement timeout.
    const hold = await holdTransaction(DB, 'LOCK TABLE cases.cases IN ACCESS EXCLUSIVE MODE;',
      'EXISTS (SELECT FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = \'cases\' AND l.mode = \'AccessExclusiveLock\' AND l.granted)');
    try {
      e.resume();
      const r = await e.done;
      assert.equal(r.status, 200);
      assert.equal(r.complete, false, 'the client sees an incomplete transfer, not a clean end');
      assert.ok(r.body.length >= 100000 && r.body.length < total * 450, `${r.body.length} bytes`);
    } finally {
      await hold.release();
    }
    assert.equal(await cutTotal(svc, 'database'), before + 1);
    assert.match(svc.stderrText() + svc.stdoutLines().join('\n'), /csv export .* cut after \d+ rows \(database/);
  });

  test('the token expires during the export: an incomplete transfer', async () => {
    const before = await cutTotal(svc, 'token_expired');
    const token = ownToken(key, EMP.staffA1, { ttl: 3 });
    const e = openExport(svc, token, '/v1/cases', { pauseAt: 100000 });
    await e.started();
    await sleep(3500);
    e.resume();
    const r = await e.done;
    assert.equal(r.status, 200);
    assert.equal(r.complete, false);
    assert.equal(await cutTotal(svc, 'token_expired'), before + 1);
  });

  test('clients that stop reading hold no worker; a third export is 503 service_busy', async () => {
    const a = openExport(svc, staff().token, '/v1/cases', { pauseAt: 100000 });
    const b = openExport(svc, staff().token, '/v1/cases', { pauseAt: 100000 });
    try {
      await a.started();
      await b.started();
      // Two workers, two open exports whose clients read nothing more: other requests are
      // served (a page at a time queues behind them at most). Generous: not a timing test.
      for (let i = 0; i < 4; i++) {
        const t0 = Date.now();
        ok(await staff().get('/v1/cases?limit=1'));
        assert.ok(Date.now() - t0 < 10000, 'served while the exports wait');
      }
      assert.equal((await metrics(svc)).get('tianxing_csv_exports_open'), 2);
      const third = await request(svc, { path: '/v1/cases', headers: { Accept: CSV, Authorization: `Bearer ${staff().token}` } });
      assertProblem(third, 503, 'service_busy');
      assert.ok(Number(third.headers['retry-after']) > 0);
    } finally {
      a.destroy();
      b.destroy();
      await a.done;
      await b.done;
    }
    // Clients gone: their slots are freed (the page in flight, if any, frees it when it ends).
    await waitFor(async () => (await metrics(svc)).get('tianxing_csv_exports_open') === 0, { timeout: 20000, what: 'slots freed' });
  });

  test('the service\'s memory does not grow with the export\'s size', async (t) => {
    addCases(24000 - total);
    const large = await exportMeasured(svc, staff().token);
    assert.equal(large.rows.length, 24000);
    // The large export is about 5.6 MB more CSV than the small one (12 000 rows): a service that
    // held the whole export would grow by at least that much more. Generous: 4 MB.
    const msg = `RSS growth ${large.peakGrowthKiB} KiB for 24 000 rows (${large.response.body.length} bytes), ${small.peakGrowthKiB} KiB for 12 000`;
    t.diagnostic(msg);
    assert.ok(large.peakGrowthKiB < small.peakGrowthKiB + 4 * 1024, msg);
    // And less than half of what the export weighs, whatever the first export had to warm up.
    assert.ok(large.peakGrowthKiB * 1024 < large.response.body.length / 2, msg);
  });
});

describe('TIANXING_CSV_MAX_ROWS', () => {
  test('passed on the first page: 422 export_too_large; passed later: the transfer is cut', async () => {
    const capped = await startIdentityService(DB, key, serviceEnv({ TIANXING_CSV_MAX_ROWS: 500 }));
    try {
      const token = staff().token;
      const h = { Accept: CSV, Authorization: `Bearer ${token}` };
      // A page of 600 cannot be sent (api.page_limit caps pages at 200): use the default page of
      // 200 and a ceiling passed on the third page.
      const r = await openExport(capped, token, '/v1/cases').done;
      assert.equal(r.status, 200);
      assert.equal(r.complete, false, 'cut at the ceiling, never a whole-looking file');
      assert.equal(await cutTotal(capped, 'row_limit'), 1);
      // Exactly the ceiling's rows (a filter by cursor: the last 500) is a whole export.
      const lastIds = pg(`SELECT id FROM cases.cases ORDER BY updated_at DESC, id DESC OFFSET ${total - 501} LIMIT 1`, { db: DB });
      const ts = pg(`SELECT (extract(epoch FROM updated_at) * 1000000)::bigint FROM cases.cases WHERE id = ${lit(lastIds)}`, { db: DB });
      const fits = await openExport(capped, token, `/v1/cases?cursor=${ts}_${lastIds}`).done;
      assert.equal(records(fits).length, 500);
      // Filters: more than fits on the first page of a ceiling below the page size.
      const tiny = await startIdentityService(DB, key, serviceEnv({ TIANXING_CSV_MAX_ROWS: 100 }));
      try {
        const p = await request(tiny, { path: '/v1/cases', headers: h });
        assertProblem(p, 422, 'export_too_large');
        const one = await request(tiny, { path: '/v1/cases?limit=50&status=cancelled', headers: h });
        assert.equal(one.status, 200);
      } finally {
        await tiny.stop();
      }
    } finally {
      await capped.stop();
    }
  });
});

describe('shutdown', () => {
  test('a drain cuts an export that still has pages to fetch: incomplete transfer, clean exit', async () => {
    const s2 = await startIdentityService(DB, key, serviceEnv());
    const e = openExport(s2, staff().token, '/v1/cases', { pauseAt: 100000 });
    await e.started();
    s2.proc.kill('SIGTERM');
    await sleep(300);
    e.resume();
    const r = await e.done;
    assert.equal(r.status, 200);
    assert.equal(r.complete, false, 'cut, not ended as if whole');
    assert.equal(await s2.exited, 0, 'drained within the grace period');
    assert.match(s2.stderrText(), /csv export .* cut after \d+ rows \(shutdown/);
  });
});
