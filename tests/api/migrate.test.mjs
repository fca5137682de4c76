// `tianxingd migrate`: the ledger, idempotence, concurrency, immutability of applied migrations,
// unknown ledger rows, atomic failure, and that the runtime role cannot write the ledger; the code
// files of sql/code, re-applied when (and only when) they change. The move of a database at the
// original 0012 onto the baseline: upgrade.test.mjs.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import {
  env, freshDatabase, lit, pg, runBin, startService, tempDir,
} from './lib/harness.mjs';

const DB = 'tx_api_migrate';
const DB2 = 'tx_api_migrate_concurrent';
const SRC = () => path.join(env.sourceDir, 'sql', 'migrations');

function sourceMigrations() {
  return fs.readdirSync(SRC()).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort().map((name) => {
    const bytes = fs.readFileSync(path.join(SRC(), name));
    return { version: Number(name.slice(0, 4)), name, checksum: crypto.createHash('sha256').update(bytes).digest('hex') };
  });
}

function ledger(db) {
  const out = pg("SELECT version || '|' || name || '|' || checksum || '|' || applied_by FROM tx_meta.schema_migrations ORDER BY version", { db });
  return out === '' ? [] : out.split('\n').map((l) => {
    const [version, name, checksum, appliedBy] = l.split('|');
    return { version: Number(version), name, checksum, appliedBy };
  });
}

/** A temp copy of sql/migrations, changed by `edit(dir)`. */
function migrationsCopy(edit) {
  const dir = tempDir('tx-migr-');
  for (const f of fs.readdirSync(SRC())) fs.copyFileSync(path.join(SRC(), f), path.join(dir, f));
  edit?.(dir);
  return dir;
}

const migrate = (db, extra = {}) => runBin(['migrate'], { db, env: extra });

const CODE = () => path.join(env.sourceDir, 'sql', 'code');
/** A temp copy of sql/code, changed by `edit(dir)`. */
function codeCopy(edit) {
  const dir = tempDir('tx-code-');
  fs.cpSync(CODE(), dir, { recursive: true });
  edit?.(dir);
  return dir;
}
const codeLedger = (db) => pg("SELECT string_agg(path || '@' || checksum || '@' || applied_at, ',' ORDER BY path) FROM tx_meta.schema_code", { db });
const codeFiles = () => fs.readFileSync(path.join(CODE(), 'ORDER'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));

test('a fresh database: migrate exits 0 and records one row per file with its sha256', async () => {
  freshDatabase(DB);
  const r = await migrate(DB);
  assert.equal(r.code, 0, r.stderr);
  const want = sourceMigrations();
  assert.ok(want.length >= 1);
  const got = ledger(DB);
  assert.deepEqual(got.map(({ version, name, checksum }) => ({ version, name, checksum })), want);
  for (const row of got) assert.equal(row.appliedBy, 'tianxing_owner', 'migrations run as the owner role');
  assert.equal(pg('SELECT count(*) FROM tx_meta.schema_migrations WHERE applied_at > now() - interval \'5 minutes\'', { db: DB }), String(want.length));
  // The objects of 0001 belong to the owner.
  assert.equal(pg("SELECT string_agg(nspname || ':' || pg_get_userbyid(nspowner), ',' ORDER BY nspname) FROM pg_namespace WHERE nspname IN ('tx', 'tx_meta')", { db: DB }),
    'tx:tianxing_owner,tx_meta:tianxing_owner');
  // stderr is JSON log lines saying what was applied.
  const lines = r.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  for (const m of want) assert.ok(lines.some((l) => l.msg.includes(`applied migration ${m.name}`)), m.name);
});

test('a fresh database: every code file is applied once, in ORDER, and recorded with its sha256', async () => {
  const files = codeFiles();
  assert.ok(files.length >= 4);
  const got = pg("SELECT string_agg(path || ' ' || checksum || ' ' || applied_by, ',' ORDER BY path) FROM tx_meta.schema_code", { db: DB });
  const want = files.map((f) => `${f} ${crypto.createHash('sha256').update(fs.readFileSync(path.join(CODE(), f))).digest('hex')} tianxing_owner`);
  assert.equal(got, want.sort().join(','));
});

test('a second run applies nothing and changes nothing', async () => {
  const before = pg("SELECT string_agg(version || '@' || applied_at, ',' ORDER BY version) FROM tx_meta.schema_migrations", { db: DB });
  const r = await migrate(DB);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /0 applied/);
  assert.doesNotMatch(r.stderr, /applied migration |applied code file /);
  assert.equal(pg("SELECT string_agg(version || '@' || applied_at, ',' ORDER BY version) FROM tx_meta.schema_migrations", { db: DB }), before);
});

test('a changed code file is applied again, and only that one; the built-in one puts it back', async () => {
  const file = 'kit/030_paging.sql';
  assert.equal(pg('SELECT api.page_limit(NULL)', { db: DB }), '50');
  const dir = codeCopy((d) => {
    const p = path.join(d, file);
    const text = fs.readFileSync(p, 'utf8');
    assert.ok(text.includes('RETURN 50;'));
    fs.writeFileSync(p, text.replace('RETURN 50;', 'RETURN 49;'));
  });
  const before = codeLedger(DB);
  const migrationsBefore = ledger(DB);
  const r = await migrate(DB, { TIANXING_CODE_DIR: dir });
  assert.equal(r.code, 0, r.stderr);
  const appliedLines = r.stderr.split('\n').filter((l) => l.includes('applied code file '));
  assert.equal(appliedLines.length, 1, appliedLines.join('\n'));
  assert.ok(appliedLines[0].includes(file));
  assert.equal(pg('SELECT api.page_limit(NULL)', { db: DB }), '49', 'the new definition is in force');
  const after = codeLedger(DB).split(',');
  const old = before.split(',');
  for (let i = 0; i < after.length; i++) {
    if (after[i].startsWith(`${file}@`)) assert.notEqual(after[i], old[i], 'its row has the new checksum');
    else assert.equal(after[i], old[i], `${after[i].split('@')[0]} was left alone`);
  }
  assert.deepEqual(ledger(DB), migrationsBefore, 'no migration ran');
  const back = await migrate(DB);
  assert.equal(back.code, 0, back.stderr);
  assert.equal(back.stderr.split('\n').filter((l) => l.includes('applied code file ')).length, 1);
  assert.equal(pg('SELECT api.page_limit(NULL)', { db: DB }), '50');
});

test('a failing code file exits 1 naming it and leaves no trace', async () => {
  const dir = codeCopy((d) => fs.appendFileSync(path.join(d, 'kit/030_paging.sql'),
    '\nCREATE TABLE tx.code_made_me();\nSELECT 1/0;\n'));
  const before = codeLedger(DB);
  const r = await migrate(DB, { TIANXING_CODE_DIR: dir });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /code file kit\/030_paging\.sql failed/);
  assert.match(r.stderr, /division by zero/);
  assert.equal(pg("SELECT to_regclass('tx.code_made_me') IS NULL", { db: DB }), 't');
  assert.equal(codeLedger(DB), before);
});

test('a code file not listed in sql/code/ORDER is refused before touching the database', async () => {
  const dir = codeCopy((d) => fs.writeFileSync(path.join(d, 'kit', '099_stray.sql'), 'SELECT 1;\n'));
  const r = await migrate(DB, { TIANXING_CODE_DIR: dir });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /kit\/099_stray\.sql is not listed in sql\/code\/ORDER/);
});

test('a migration after the baseline is applied once, then refused when its file changes', async () => {
  const add = (d, text) => fs.writeFileSync(path.join(d, '0900_after_baseline.sql'), text);
  const dir = migrationsCopy((d) => add(d, 'CREATE TABLE tx.after_baseline (id int PRIMARY KEY);\n'));
  const r = await migrate(DB, { TIANXING_MIGRATIONS_DIR: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /applied migration 0900_after_baseline\.sql/);
  add(dir, 'CREATE TABLE tx.after_baseline (id int PRIMARY KEY, edited int);\n');
  const again = await migrate(DB, { TIANXING_MIGRATIONS_DIR: dir });
  assert.equal(again.code, 1, again.stderr);
  assert.match(again.stderr, /0900_after_baseline\.sql was changed after it was applied/);
  assert.match(again.stderr, /checksum/);
  // Leave DB as the other tests expect it.
  pg('DROP TABLE tx.after_baseline; DELETE FROM tx_meta.schema_migrations WHERE version = 900', { db: DB });
});

test('two concurrent migrate processes on a fresh database both succeed, each version once', async () => {
  freshDatabase(DB2);
  const [a, b, c] = await Promise.all([migrate(DB2), migrate(DB2), migrate(DB2)]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(c.code, 0, c.stderr);
  const want = sourceMigrations();
  assert.deepEqual(ledger(DB2).map((r) => r.version), want.map((m) => m.version));
  // Exactly one of them applied each migration.
  const appliedLines = [a, b, c].flatMap((x) => x.stderr.split('\n').filter((l) => l.includes('applied migration ')));
  assert.equal(appliedLines.length, want.length, appliedLines.join('\n'));
  pg(`DROP DATABASE ${DB2} WITH (FORCE)`);
});

test('an applied migration that changed: migrate exits 1 naming the file and "checksum"', async () => {
  const first = sourceMigrations()[0];
  const dir = migrationsCopy((d) => fs.appendFileSync(path.join(d, first.name), '\n-- edited after it was applied\n'));
  const before = ledger(DB);
  const r = await migrate(DB, { TIANXING_MIGRATIONS_DIR: dir });
  assert.equal(r.code, 1, r.stderr);
  assert.ok(r.stderr.includes(first.name), r.stderr);
  assert.match(r.stderr, /checksum/);
  assert.deepEqual(ledger(DB), before, 'the ledger is unchanged');
});

test('serve with a changed applied migration refuses to start with the same message', async () => {
  const first = sourceMigrations()[0];
  const dir = migrationsCopy((d) => fs.appendFileSync(path.join(d, first.name), '\n-- edited\n'));
  await assert.rejects(startService({ db: DB, env: { TIANXING_MIGRATIONS_DIR: dir }, timeoutMs: 15000 }), (e) => {
    assert.match(e.message, /exited \(1\) before answering/);
    assert.ok(e.message.includes(first.name), e.message);
    assert.match(e.message, /checksum/);
    return true;
  });
});

test('a ledger row for a version this build does not know: refused', async () => {
  pg(`INSERT INTO tx_meta.schema_migrations (version, name, checksum) VALUES (9998, '9998_from_the_future.sql', ${lit('a'.repeat(64))})`, { db: DB });
  try {
    const r = await migrate(DB);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /9998_from_the_future\.sql/);
    assert.match(r.stderr, /does not know/);
    await assert.rejects(startService({ db: DB, timeoutMs: 15000 }), /exited \(1\)[\s\S]*9998_from_the_future/);
  } finally {
    pg('DELETE FROM tx_meta.schema_migrations WHERE version = 9998', { db: DB });
  }
  assert.equal((await migrate(DB)).code, 0);
});

test('a failing new migration exits 1 and leaves no trace', async () => {
  const dir = migrationsCopy((d) => fs.writeFileSync(path.join(d, '0999_broken.sql'),
    'CREATE TABLE tx.ok_table();\nSELECT 1/0;\n'));
  const before = ledger(DB);
  const r = await migrate(DB, { TIANXING_MIGRATIONS_DIR: dir });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /0999_broken\.sql/);
  assert.match(r.stderr, /division by zero/);
  assert.equal(pg("SELECT to_regclass('tx.ok_table') IS NULL", { db: DB }), 't', 'tx.ok_table was rolled back');
  assert.deepEqual(ledger(DB), before, 'no ledger row for 0999');
  // The advisory lock was released: a normal run still works at once.
  const again = await migrate(DB);
  assert.equal(again.code, 0, again.stderr);
});

test('migrations with bad names are refused before touching the database', async () => {
  const dir = migrationsCopy((d) => fs.writeFileSync(path.join(d, '12_short.sql'), 'SELECT 1;\n'));
  const r = await migrate(DB, { TIANXING_MIGRATIONS_DIR: dir });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /12_short\.sql/);
});

test('the runtime role cannot write the ledger, only read it', () => {
  assert.equal(pg('SELECT count(*) > 0 FROM tx_meta.schema_migrations', { db: DB, user: 'tianxing_app' }), 't');
  const attempts = [
    `INSERT INTO tx_meta.schema_migrations (version, name, checksum) VALUES (5000, '5000_x.sql', ${lit('b'.repeat(64))})`,
    "UPDATE tx_meta.schema_migrations SET name = 'x'",
    'DELETE FROM tx_meta.schema_migrations',
    'TRUNCATE tx_meta.schema_migrations',
  ];
  for (const sql of attempts) {
    assert.throws(() => pg(sql, { db: DB, user: 'tianxing_app' }), /permission denied/, sql);
  }
  assert.equal(pg('SELECT count(*) FROM tx_meta.schema_migrations WHERE version = 5000', { db: DB }), '0');
});

test('migrate as the runtime role is refused', async () => {
  freshDatabase(DB2);
  const r = await runBin(['migrate'], { db: DB2, env: { TIANXING_MIGRATE_DATABASE_URL: undefined } });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(pg("SELECT to_regnamespace('tx') IS NULL", { db: DB2 }), 't', 'nothing created');
  pg(`DROP DATABASE ${DB2} WITH (FORCE)`);
});
