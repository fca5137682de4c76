// The restore drill (issue 14, C2.2): backups with pgBackRest that really restore, to a point in
// time, on a PostgreSQL cluster of the drill's own (the shared one of tests/run is left alone:
// a restore replaces a whole cluster).
//
// Write customers (one disposed of), full backup, write more, incremental backup, write more,
// note a time T, write more, restore to T; then: every customer acknowledged (2xx) before T is
// there at the version last acknowledged before T, none written after T is; the audit chain
// verifies (`tianxingd audit-verify`); the customers open with the key files, which were never
// in the backup; the customer disposed before the backup stays unreadable. /readyz warns while
// no backup is recorded and stops warning after the backup; /metrics gives the backup's age.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { env, freshDatabase, lit, metrics, pg, request, runBin, tempDir } from '../api/lib/harness.mjs';
import { EMP, client, loadFixtures, newSigningKey, ok, ownToken } from '../api/lib/identity.mjs';
import { customerKeys, newCreditCode, newMobile, rawCustomer, startCustomerService } from '../api/lib/customers.mjs';
import { sh } from './lib.mjs';

const DB = 'tx_faults_restore_drill';
const BACKUP = path.join(env.sourceDir, 'deploy', 'local', 'backup.sh');

const work = tempDir('tx-drill-');
// The postgres user (when the tests run as root) must reach its cluster and repository.
fs.chmodSync(work, 0o711);
const base = path.join(work, 'pg');
const repo = path.join(work, 'repo');
// The repository key lives with the other keys, outside the repository.
const backupKey = path.join(tempDir('tx-drill-key-'), 'backup.key');

const backupCmd = (...args) => sh(`"${BACKUP}" --base "$1" --repo "$2" --key "$3" --db "$4" "\${@:5}"`,
  [base, repo, backupKey, DB, ...args], 180000);

let key;
let keys;
let svc;
const as = {};
// What the service acknowledged: id -> { etag, name, credit_code } of the last 2xx.
const acked = new Map();
const after_t = new Map(); // the same, for writes after T
let disposed; // { id, name, credit_code }

function clients() {
  as.a1 = client(svc, ownToken(key, EMP.staffA1));
  as.admin = client(svc, ownToken(key, EMP.admin));
}

async function create(into, tag) {
  const body = {
    name: `演練客戶 ${tag}`,
    company_name: `福州演練${tag}有限公司`,
    credit_code: newCreditCode(),
    contacts: [{ name: `聯絡人 ${tag}`, phone: newMobile().input }],
  };
  const res = await as.a1.post('/v1/customers', body);
  const c = ok(res, 201);
  into.set(c.id, { etag: res.headers.etag, name: body.name, credit_code: body.credit_code });
  return c.id;
}

async function rename(into, id, from, tag) {
  const prev = from.get(id);
  const name = `${prev.name} ${tag}`;
  const res = await as.a1.patch(`/v1/customers/${id}`, { name }, { headers: { 'If-Match': prev.etag } });
  ok(res);
  into.set(id, { ...prev, etag: res.headers.etag, name });
}

before(async () => {
  const port = sh('tx_pick_free_port 56400');
  sh('tx_pg_init "$1" "$2" "fsync = off"; tx_pg_start "$1"', [base, port]);
  // WAL archiving first, as an operator would: switching it on restarts the cluster, which the
  // service's pooled connections would see as an outage (the faults tests' subject, not this one).
  backupCmd('setup');
  // The harness talks to the cluster named by these (read at each call).
  process.env.TX_TEST_PGHOST = sh('tx_pg_sockdir "$1"', [base]);
  process.env.TX_TEST_PGPORT = port;
  key = newSigningKey();
  keys = customerKeys(['k2026-drill']);
  freshDatabase(DB);
  svc = await startCustomerService(DB, key, keys);
  loadFixtures(DB);
  clients();
});

after(async () => {
  if (svc) await svc.stop();
  try { sh('tx_pg_stop "$1"', [base]); } catch { /* reported by the tests */ }
});

test('before any backup, /readyz is ready (200) and warns backup_missing; /metrics says stale', async () => {
  const r = ok(await request(svc, { path: '/readyz' }));
  assert.equal(r.status, 'ready');
  assert.deepEqual(r.warnings?.map((w) => w.code), ['backup_missing'], JSON.stringify(r));
  const m = await metrics(svc);
  assert.equal(m.get('tianxing_backup_stale'), 1);
  assert.equal(m.get('tianxing_backup_age_seconds'), undefined);
});

test('drill: back up, write, restore to a time; what was acknowledged before it is there, nothing after', { timeout: 240000 }, async () => {
  // Written before the first backup: two customers and one disposed of.
  const c1 = await create(acked, 'A1');
  await create(acked, 'A2');
  const d = await create(new Map(), 'D');
  const dBody = { name: '演練客戶 D' };
  ok(await as.a1.post(`/v1/customers/${d}/deactivate`));
  const cert = ok(await as.admin.post(`/v1/customers/${d}/dispose`)).certificate;
  assert.ok(cert.destroyed.includes('data_key'));
  disposed = { id: d, ...dBody };

  backupCmd('backup', 'full');
  assert.equal(pg("SELECT string_agg(kind, ',') FROM tx_meta.backups", { db: DB }), 'full');

  await create(acked, 'B1');
  await rename(acked, c1, acked, 'v2');
  backupCmd('backup', 'incr');
  assert.equal(pg("SELECT string_agg(kind, ',' ORDER BY stopped_at) FROM tx_meta.backups", { db: DB }), 'full,incr');

  // After the incremental backup: only the archived WAL has these.
  await create(acked, 'C1');
  await rename(acked, c1, acked, 'v3');
  const T = pg('SELECT clock_timestamp()', { db: DB });

  // After T: none of it may survive.
  await new Promise((r) => setTimeout(r, 20));
  const late = await create(after_t, 'Z1');
  await rename(after_t, c1, acked, 'v4');
  assert.ok(after_t.size === 2 && acked.size === 4);

  await svc.stop();
  svc = null;
  backupCmd('restore', '--time', T);

  // Opened with the same key files (never in the backup) by a new service.
  svc = await startCustomerService(DB, key, keys);
  clients();
  for (const [id, want] of acked) {
    const res = await as.a1.get(`/v1/customers/${id}`);
    const got = ok(res);
    assert.equal(res.headers.etag, want.etag, `customer ${id}: the version acknowledged last before T`);
    assert.equal(got.name, want.name);
    assert.equal(got.credit_code, want.credit_code, 'the sealed credit code opens with the master key');
  }
  assert.equal((await as.a1.get(`/v1/customers/${late}`)).status, 404, 'a customer created after T is gone');
  assert.equal(pg(`SELECT count(*) FROM cust.customers WHERE id = ${lit(late)}`, { db: DB }), '0');

  const audit = await runBin(['audit-verify'], { db: DB });
  assert.equal(audit.code, 0, `audit-verify after the restore: ${audit.stdout}${audit.stderr}`);
});

test('the customer disposed of before the backup stays unreadable after the restore', async () => {
  assert.ok(disposed, 'set by the drill');
  const raw = rawCustomer(DB, disposed.id);
  assert.equal(raw.status, 'disposed');
  assert.equal(raw.data_key, null, 'no data key: nothing can open what was sealed');
  assert.equal(raw.credit_code_enc, null);
  assert.equal(raw.address_enc, null);
  assert.notEqual(raw.name, disposed.name, 'the personal name was replaced');
  const res = await as.admin.get(`/v1/customers/${disposed.id}`);
  assert.doesNotMatch(res.text, /演練客戶 D/);
});

test('after the restore, /readyz no longer warns and /metrics gives the age of the newest backup', async () => {
  const r = ok(await request(svc, { path: '/readyz' }));
  assert.equal(r.warnings, undefined, JSON.stringify(r));
  assert.ok(r.backup.age_seconds >= 0 && r.backup.age_seconds < 600, JSON.stringify(r.backup));
  assert.equal(r.backup.max_age_seconds, 26 * 3600);
  const m = await metrics(svc);
  assert.equal(m.get('tianxing_backup_stale'), 0);
  assert.ok(m.get('tianxing_backup_age_seconds') >= 0);
  // Both backups were recorded again from the repository after the restore.
  assert.equal(pg('SELECT count(*) FROM tx_meta.backups', { db: DB }), '2');
});

test('the repository is encrypted and does not hold its key', () => {
  const files = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) walk(f);
      else if (e.isFile()) files.push(f);
    }
  };
  walk(repo);
  const secret = fs.readFileSync(backupKey, 'utf8').trim();
  const backed = files.filter((f) => /\/(backup|archive)\//.test(f));
  assert.ok(backed.length > 10, `backup and WAL files in the repository (${files.length})`);
  for (const f of files) {
    const buf = fs.readFileSync(f);
    // pgBackRest's aes-256-cbc writes the OpenSSL salted format: a magic, then ciphertext.
    assert.equal(buf.subarray(0, 8).toString('latin1'), 'Salted__', `${f} is encrypted`);
    assert.equal(buf.indexOf(secret), -1, `${f} holds the repository key`);
  }
});

test('a backup older than the policy makes /readyz warn backup_stale, still 200', async () => {
  pg("UPDATE tx_meta.backups SET started_at = started_at - interval '30 hours', stopped_at = stopped_at - interval '30 hours'", { db: DB });
  const res = await request(svc, { path: '/readyz' });
  const r = ok(res);
  assert.deepEqual(r.warnings?.map((w) => w.code), ['backup_stale'], JSON.stringify(r));
  assert.match(r.warnings[0].detail, /policy allows 93600 s/);
  const m = await metrics(svc);
  assert.equal(m.get('tianxing_backup_stale'), 1);
});
