// kill -9 of tianxingd in the middle of a write storm (customer creates and renames, case
// requests walked through assess, intake and submit), then a restart on the same database:
// every write the service acknowledged is there at its last acknowledged version (a write in
// flight at the kill may or may not have committed: one step further is allowed, nothing else),
// and the audit trail has no gap (`tianxingd audit-verify`, one entry per customer version).
// A kill drops the connections, so PostgreSQL rolls back what was open: the acknowledgement is
// sent only after COMMIT returned, which is what this test holds the service to.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import { freshDatabase, pg, sleep, waitFor } from '../api/lib/harness.mjs';
import { addSecondSupervisor, asClient, createBusinessType } from '../api/lib/cases.mjs';
import { customerKeys, startCustomerService } from '../api/lib/customers.mjs';
import { EMP, loadFixtures, newSigningKey, ok } from '../api/lib/identity.mjs';
import { Ledger, assertAuditWhole, assertLedgerKept, stormWorker } from './lib.mjs';

const DB = 'tx_faults_kill9';
const WORKERS = 6;
let key;
let keys;
let typeId;

before(async () => {
  key = newSigningKey();
  keys = customerKeys();
  freshDatabase(DB);
  const svc = await startCustomerService(DB, key, keys);
  loadFixtures(DB);
  addSecondSupervisor(DB);
  typeId = (await createBusinessType(asClient(svc, key, EMP.admin), { code: 'storm' })).id;
  await svc.stop();
});

test('kill -9 during a write storm: nothing acknowledged is lost, the audit trail is whole', async (t) => {
  const svc = await startCustomerService(DB, key, keys, { env: { TIANXING_THREADS: 8, TIANXING_DB_POOL_SIZE: 6 } });
  const ledger = new Ledger();
  let killed = false;
  const staff = [EMP.staffA1, EMP.staffA2];
  const workers = Array.from({ length: WORKERS }, (_, i) =>
    stormWorker(asClient(svc, key, staff[i % staff.length]), typeId, ledger, () => killed));
  // Kill while writes are surely in flight: after a good number were acknowledged.
  await waitFor(() => ledger.acks >= 150 || ledger.failures.length > 0, { timeout: 40000, interval: 10, what: '150 acknowledged writes' });
  await sleep(Math.floor(Math.random() * 50));
  svc.proc.kill('SIGKILL');
  killed = true;
  assert.equal(await svc.exited, 'signal SIGKILL');
  await Promise.all(workers);
  const inFlight = [...ledger.customers.values(), ...ledger.cases.values()].filter((x) => x.inFlight).length;
  t.diagnostic(`acknowledged ${ledger.acks} writes: ${ledger.customers.size} customers, ${ledger.cases.size} cases; ${inFlight} in flight at the kill`);
  assert.deepEqual(ledger.failures, [], 'every answer before the kill was a success');
  assert.ok(ledger.customers.size > 10 && ledger.cases.size > 5, `storm wrote ${ledger.customers.size} customers, ${ledger.cases.size} cases`);

  // The kill left no session of the service behind, so nothing half-done can still commit.
  await waitFor(() => pg(`SELECT count(*) FROM pg_stat_activity WHERE datname = '${DB}' AND application_name = 'tianxingd'`) === '0',
    { timeout: 10000, what: 'the killed service\'s sessions to end' });

  const again = await startCustomerService(DB, key, keys);
  assertLedgerKept(DB, ledger);
  await assertAuditWhole(DB, ledger);
  // The restarted service serves what was acknowledged, and writes again.
  const a1 = asClient(again, key, EMP.staffA1);
  const some = [...ledger.customers.keys()].slice(0, 5);
  for (const id of some) {
    const r = await a1.get(`/v1/customers/${id}`);
    assert.ok(r.status === 200 || r.status === 404, r.text); // 404: staff A2's customer
  }
  const c = ok(await a1.post('/v1/customers', { name: '重啟後', company_name: '重啟後有限公司', business_scope: '貿易', tags: ['壓測'], source: '轉介' }), 201);
  assert.equal(c.version, 1);
  await again.stop();
});
