// Moving a database made by the original migrations 0001-0012 (frozen in tests/upgrade/legacy)
// onto 0012_baseline.sql and sql/code (issue 9): the data stays, the schema equals that of a
// database built fresh from the baseline and the code, and a database at another state (part of
// 0001-0012, or a changed one) is refused and left as it was.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import {
  env, freshDatabase, lit, pg, request, runBin, startService,
} from './lib/harness.mjs';

const DB = 'tx_api_upgrade';
const FRESH = 'tx_api_upgrade_fresh';
const PART = 'tx_api_upgrade_part';
const LEGACY = () => path.join(env.sourceDir, 'tests', 'upgrade', 'legacy');
const migrate = (db) => runBin(['migrate'], { db });

/** Bootstraps `db` and applies the first `upTo` original migrations as the old migrate did. */
function legacyDatabase(db, upTo = 12) {
  freshDatabase(db);
  pg(`CREATE SCHEMA tx_meta; CREATE TABLE tx_meta.schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL,
        checksum text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
        applied_at timestamptz NOT NULL DEFAULT now(), applied_by text NOT NULL DEFAULT current_user)`,
  { db, user: 'tianxing_owner' });
  const files = fs.readdirSync(LEGACY()).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort();
  assert.equal(files.length, 12, 'the frozen 0001-0012');
  for (const name of files.slice(0, upTo)) {
    const text = fs.readFileSync(path.join(LEGACY(), name), 'utf8');
    const sum = sha256(text);
    // psql -c sends it all as one query string: one transaction, as PQexec in the old migrate.
    pg(`${text}\n;INSERT INTO tx_meta.schema_migrations (version, name, checksum)
        VALUES (${Number(name.slice(0, 4))}, '${name}', '${sum}')`, { db, user: 'tianxing_owner' });
  }
}

const sha256 = (text) => crypto.createHash('sha256').update(text).digest('hex');

function psqlFile(db, user, file) {
  execFileSync('psql', ['-h', env.pghost, '-p', String(env.pgport), '-U', user, '-d', db, '-X', '-q',
    '-v', 'ON_ERROR_STOP=1', '-f', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Every table of the application (not the two ledgers): its row count and a hash of its rows. */
function tables(db) {
  return pg(`SELECT string_agg(format('%I.%I', n.nspname, c.relname), ' ' ORDER BY 1)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('tx', 'tx_meta', 'api', 'audit', 'org', 'auth', 'cust')
                AND NOT (n.nspname = 'tx_meta' AND c.relname IN ('schema_migrations', 'schema_code'))`, { db })
    .split(' ');
}

/**
 * Rows of every table of @p tables (default: those of the database now). The audit trail is
 * compared up to the last entry before the move: migrations after the baseline add audited rows
 * (0014's state machine definitions), which append to the chain, and its head moves with them.
 */
const columnsBefore = {};
function snapshot(db, { auditUpTo, only, createdBefore } = {}) {
  const out = {};
  for (const t of only || tables(db)) {
    if (auditUpTo !== undefined && t === 'audit.head') continue;
    let where = auditUpTo !== undefined && t === 'audit.log' ? `WHERE x.id <= ${Number(auditUpTo)}` : '';
    // Rows that later migrations seed (0021's policy parameters and their values) are new, not
    // changed: the rows compared are those created before the move.
    if (createdBefore !== undefined && !where
        && pg(`SELECT count(*) FROM pg_attribute WHERE attrelid = ${lit(t)}::regclass
                 AND attname = 'created_at' AND NOT attisdropped`, { db }) === '1') {
      where = `WHERE x.created_at < ${lit(createdBefore)}::timestamptz`;
    }
    // The columns the table had before the move: a later migration may add columns (0017 adds
    // org.policy_parameters.schema and auth.credentials.must_change); the rows' old values stay.
    if (!columnsBefore[t]) {
      columnsBefore[t] = pg(`SELECT string_agg(format('x.%I', attname), ', ' ORDER BY attnum) FROM pg_attribute
                              WHERE attrelid = ${lit(t)}::regclass AND attnum > 0 AND NOT attisdropped`, { db });
    }
    const row = `ROW(${columnsBefore[t]})::text`;
    // As the superuser: row-level security does not hide rows from it.
    out[t] = pg(`SELECT count(*) || ' ' || md5(coalesce(string_agg(${row}, '|' ORDER BY ${row}), '')) FROM ${t} x ${where}`, { db });
  }
  return out;
}

/** The same rows as before the move, in the same tables. */
function assertKept(db) {
  const want = { ...before };
  delete want['audit.head'];
  assert.deepEqual(snapshot(db, { auditUpTo: auditMax, only: Object.keys(before), createdBefore: movedAt }), want,
    'every table holds the same rows');
}

/** pg_dump --schema-only without its comments, blank lines and per-run \restrict keys. */
function schema(db) {
  const text = execFileSync('pg_dump', ['-h', env.pghost, '-p', String(env.pgport), '-U', env.pguser,
    '--schema-only', db], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('--') && !/^\\(un)?restrict /.test(l));
}

function assertSameLines(got, want, what) {
  if (got.join('\n') === want.join('\n')) return;
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  assert.fail(`${what}: they differ from line ${i + 1}:\n  got:  ${got.slice(i, i + 5).join('\n        ')}\n  want: ${want.slice(i, i + 5).join('\n        ')}`);
}

function ledger(db) {
  return pg("SELECT coalesce(string_agg(version || ' ' || name, ',' ORDER BY version), '') FROM tx_meta.schema_migrations", { db });
}

let before;
let auditMax;
let movedAt;

test('a database at the original 0012 with rows in every table', () => {
  legacyDatabase(DB);
  psqlFile(DB, 'tianxing_owner', path.join(env.sourceDir, 'sql', 'tests', 'fixtures.sql'));
  psqlFile(DB, 'tianxing_app', path.join(env.sourceDir, 'tests', 'upgrade', 'data.sql'));
  before = snapshot(DB);
  auditMax = Number(pg('SELECT max(id) FROM audit.log', { db: DB }));
  movedAt = pg('SELECT clock_timestamp()::text', { db: DB });
  assert.ok(Object.keys(before).length >= 20, Object.keys(before).join(' '));
  for (const [t, v] of Object.entries(before)) {
    assert.ok(!v.startsWith('0 '), `${t} has rows (add some to tests/upgrade/data.sql)`);
  }
  assert.equal(pg('SELECT count(*) FROM tx_meta.schema_migrations', { db: DB }), '12');
});

test('migrate moves it onto the baseline: the ledger becomes the baseline row, the code is applied, the data stays', async () => {
  const r = await migrate(DB);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /moved the database from the 12 migrations before it onto 0012_baseline\.sql/);
  assert.doesNotMatch(r.stderr, /applied migration 0012_baseline\.sql/, 'the baseline itself is not run');
  const migrations = fs.readdirSync(path.join(env.sourceDir, 'sql', 'migrations')).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort();
  assert.equal(ledger(DB), migrations.map((f) => `${Number(f.slice(0, 4))} ${f}`).join(','));
  const order = fs.readFileSync(path.join(env.sourceDir, 'sql', 'code', 'ORDER'), 'utf8').split('\n')
    .filter((l) => l && !l.startsWith('#'));
  assert.equal(pg('SELECT string_agg(path, \',\' ORDER BY path) FROM tx_meta.schema_code', { db: DB }), [...order].sort().join(','));
  for (const f of order) assert.ok(r.stderr.includes(`applied code file ${f}`), f);
  assertKept(DB);
});

test('its schema is the schema of a fresh database built from the baseline and sql/code', async () => {
  freshDatabase(FRESH);
  const r = await migrate(FRESH);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /applied migration 0012_baseline\.sql/);
  const fresh = schema(FRESH);
  assert.ok(fresh.length > 1000, 'pg_dump printed a schema');
  assertSameLines(schema(DB), fresh, 'pg_dump --schema-only of the moved and the fresh database');
  pg(`DROP DATABASE ${FRESH} WITH (FORCE)`);
});

test('the moved database: a second migrate applies nothing, and the service is ready on it', async () => {
  const r = await migrate(DB);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /0 applied/);
  assert.doesNotMatch(r.stderr, /applied code file|moved the database/);
  // The entries later migrations added continue the chain the original 0012 wrote.
  const v = await runBin(['audit-verify'], { db: DB });
  assert.equal(v.code, 0, v.stdout + v.stderr);
  const svc = await startService({ db: DB });
  try {
    assert.equal((await request(svc, { path: '/readyz' })).status, 200);
  } finally {
    assert.equal(await svc.stop(), 0, svc.stderrText());
  }
  assertKept(DB);
});

test('a database with only part of 0001-0012 is refused and left as it was', async () => {
  legacyDatabase(PART, 7);
  const was = ledger(PART);
  const r = await migrate(PART);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /the database has 7 of the 12 migrations that 0012_baseline\.sql replaces/);
  assert.match(r.stderr, /0007_customer_sharing\.sql/);
  assert.equal(ledger(PART), was);
  assert.equal(pg("SELECT to_regclass('tx_meta.schema_code') IS NULL", { db: PART }), 't', 'not even the code ledger');
});

test('a database whose 0001-0012 differ from the released ones is refused; with the released ones it moves', async () => {
  // Complete PART to 0012 with the frozen files, then pretend 0003 was another text.
  const files = fs.readdirSync(LEGACY()).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort().slice(7);
  for (const name of files) {
    const text = fs.readFileSync(path.join(LEGACY(), name), 'utf8');
    pg(`${text}\n;INSERT INTO tx_meta.schema_migrations (version, name, checksum)
        VALUES (${Number(name.slice(0, 4))}, '${name}', '${sha256(text)}')`, { db: PART, user: 'tianxing_owner' });
  }
  const real = pg('SELECT checksum FROM tx_meta.schema_migrations WHERE version = 3', { db: PART });
  pg(`UPDATE tx_meta.schema_migrations SET checksum = '${'e'.repeat(64)}' WHERE version = 3`, { db: PART });
  const r = await migrate(PART);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /migration 0003_org\.sql recorded in the database is not the released 0003_org\.sql/);
  assert.match(r.stderr, /cannot be moved onto 0012_baseline\.sql/);
  assert.equal(pg('SELECT count(*) FROM tx_meta.schema_migrations', { db: PART }), '12');
  pg(`UPDATE tx_meta.schema_migrations SET checksum = '${real}' WHERE version = 3`, { db: PART });
  const ok = await migrate(PART);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /moved the database/);
  pg(`DROP DATABASE ${PART} WITH (FORCE)`);
});
