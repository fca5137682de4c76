// How the /docs page is built into the binary (cmake/embed_docs.cmake), without a browser: with
// Swagger UI (tests/node_modules/swagger-ui-dist, pinned) every placeholder of the page becomes an
// asset's hashed URL; without it (a build before `npm ci --prefix tests`) the page says so and
// links the contract, and names no asset that is not there. An unchanged input leaves the output
// alone (the step runs at every build).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

const ROOT = process.env.TX_TEST_SOURCE_DIR || process.cwd();
const UI = path.join(ROOT, 'tests', 'node_modules', 'swagger-ui-dist');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tx-docs-build-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function embed(out, uiDir, page = path.join(ROOT, 'src/modules/docs/page.html')) {
  execFileSync('cmake', [`-DOUT=${out}`, `-DUI_DIR=${uiDir}`, `-DPAGE=${page}`,
    `-DSCRIPT=${path.join(ROOT, 'src/modules/docs/docs.js')}`,
    '-P', path.join(ROOT, 'cmake/embed_docs.cmake')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const c = fs.readFileSync(out, 'utf8');
  // The C file's arrays back into bytes: the assets by name, and the page.
  const arrays = new Map();
  for (const m of c.matchAll(/static const unsigned char (\w+)\[\] = \{([^}]*)\};/g)) {
    const bytes = m[2].split(',').map((x) => x.trim()).filter(Boolean).map((x) => Number(x));
    arrays.set(m[1], Buffer.from(bytes.slice(0, -1))); // without the terminating NUL
  }
  const assets = new Map();
  for (const m of c.matchAll(/\{"([^"]+)", "([^"]+)", (asset_\d+), (\d+), "\\"([0-9a-f]{16})\\""\}/g)) {
    assets.set(m[1], { type: m[2], bytes: arrays.get(m[3]), len: Number(m[4]), etag: m[5] });
  }
  return { c, assets, page: arrays.get('page_bytes').toString('utf8'), builtIn: /tx_docs_ui_built_in = 1;/.test(c) };
}

test('with Swagger UI: every placeholder filled with a built-in asset named by its hash', () => {
  assert.ok(fs.existsSync(UI), `${UI}: npm ci --prefix tests installs it`);
  const { assets, page, builtIn } = embed(path.join(dir, 'with.c'), UI);
  assert.equal(builtIn, true);
  assert.doesNotMatch(page, /@[A-Z_]+@/, 'no placeholder left');
  assert.doesNotMatch(page, /was not built into this binary/);
  assert.match(page, /<div id="swagger-ui"><\/div>/);
  const named = [...page.matchAll(/(?:href|src)="docs\/assets\/([^"]+)"/g)].map((m) => m[1]);
  assert.ok(named.length >= 6, `the page names its files: ${named}`);
  for (const n of named) {
    const a = assets.get(n);
    assert.ok(a, `${n} is built in`);
    assert.equal(a.bytes.length, a.len);
    const hash = crypto.createHash('sha256').update(a.bytes).digest('hex').slice(0, 16);
    assert.equal(a.etag, hash, `${n}: ETag is the content's hash`);
    assert.ok(n.includes(`.${hash}.`), `${n}: the name carries the hash`);
  }
  const bundle = [...assets.keys()].find((n) => n.startsWith('swagger-ui-bundle.'));
  assert.deepEqual(assets.get(bundle).bytes, fs.readFileSync(path.join(UI, 'swagger-ui-bundle.js')), 'the package\'s file, byte for byte');
});

test('without Swagger UI: the page links the contract and names only what is built in', () => {
  const { assets, page, builtIn } = embed(path.join(dir, 'without.c'), path.join(dir, 'no-such-dir'));
  assert.equal(builtIn, false);
  assert.match(page, /was not built into this binary/);
  assert.match(page, /href="openapi.yaml"/);
  assert.doesNotMatch(page, /@[A-Z_]+@|swagger-ui-bundle|<script/);
  assert.deepEqual([...assets.keys()].map((n) => n.replace(/\.[0-9a-f]{16}\./, '.')), ['docs.js']);
});

test('an unchanged input leaves the generated file untouched; a changed one rewrites it', () => {
  // Without the package (small and quick); the rule is the same with it (one stamp of hashes).
  const out = path.join(dir, 'again.c');
  const noUi = path.join(dir, 'no-such-dir');
  const page = path.join(dir, 'page.html');
  fs.copyFileSync(path.join(ROOT, 'src/modules/docs/page.html'), page);
  embed(out, noUi, page);
  // Whole seconds: file systems keep less than a millisecond's precision differently.
  const past = new Date((Math.floor(Date.now() / 1000) - 3600) * 1000);
  fs.utimesSync(out, past, past);
  embed(out, noUi, page);
  assert.equal(Math.round(fs.statSync(out).mtimeMs / 1000) * 1000, past.getTime(), 'not rewritten: nothing recompiles');
  fs.appendFileSync(page, '<!-- changed -->\n');
  const { page: html } = embed(out, noUi, page);
  assert.ok(fs.statSync(out).mtimeMs > past.getTime(), 'rewritten when an input changed');
  assert.match(html, /<!-- changed -->/);
});
