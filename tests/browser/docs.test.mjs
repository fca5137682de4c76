// The API reference page (GET /docs, src/modules/docs) in a real headless Chromium: it loads
// with nothing but this service (no internet, no console error, no CSP violation), shows the
// contract's operations and tags, and "Try it out" works against the running service with a
// bearer token given to Authorize, which the page does not store. Plus, over plain HTTP, the
// caching and security headers of the page and its files.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';

import YAML from 'yaml';

import { assertProblem, env, freshDatabase, request } from '../api/lib/harness.mjs';
import { EMP, loadFixtures, newSigningKey, ownToken, startIdentityService } from '../api/lib/identity.mjs';
import { newPage, screenshotDir } from './lib/browser.mjs';

const DB = 'tx_browser_docs';
let svc;
let token;

before(async () => {
  const key = newSigningKey();
  freshDatabase(DB);
  svc = await startIdentityService(DB, key);
  loadFixtures(DB);
  token = ownToken(key, EMP.staffA1);
});

// The assets the page names (relative URLs, resolved against /docs).
const assetsOf = (html) => [...html.matchAll(/(?:href|src)="(docs\/assets\/[^"]+)"/g)].map((m) => `/${m[1]}`);

describe('the page and its files over HTTP', () => {
  test('GET /docs: HTML, a strict Content-Security-Policy, revalidated with an ETag (304)', async () => {
    const res = await request(svc, { path: '/docs' });
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/html; charset=utf-8$/);
    const csp = res.headers['content-security-policy'] || '';
    assert.match(csp, /(^|; )default-src 'none'(;|$)/);
    assert.match(csp, /(^|; )script-src 'self'(;|$)/, 'only our own scripts, none inline');
    assert.match(csp, /(^|; )connect-src 'self'(;|$)/, 'Try it out calls this origin only');
    assert.match(csp, /(^|; )frame-ancestors 'none'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(res.headers['cache-control'], 'no-cache');
    assert.match(res.headers.etag, /^"[0-9a-f]{16}"$/);
    assert.doesNotMatch(res.text, /<script>|<script [^>]*>[^<]|\son[a-z]+=|style=/i, 'no inline script, handler or style');
    const again = await request(svc, { path: '/docs', headers: { 'If-None-Match': `"0000000000000000", W/${res.headers.etag}` } });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    assert.equal(again.headers.etag, res.headers.etag);
    const changed = await request(svc, { path: '/docs', headers: { 'If-None-Match': '"0000000000000000"' } });
    assert.equal(changed.status, 200);
  });

  test('the files it names are built in, named by their hash and cached for good', async () => {
    const page = await request(svc, { path: '/docs' });
    const assets = assetsOf(page.text);
    assert.ok(assets.some((a) => /\/swagger-ui-bundle\.[0-9a-f]{16}\.js$/.test(a)), `Swagger UI built in: ${assets}`);
    assert.ok(assets.some((a) => /\/docs\.[0-9a-f]{16}\.js$/.test(a)), 'our start-up script');
    assert.ok(assets.some((a) => /\/swagger-ui\.[0-9a-f]{16}\.css$/.test(a)), 'the style sheet');
    for (const a of assets) {
      const res = await request(svc, { path: a });
      assert.equal(res.status, 200, a);
      assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable', a);
      const hash = /\.([0-9a-f]{16})\.[a-z]+$/.exec(a)[1];
      assert.equal(res.headers.etag, `"${hash}"`, a);
      const type = { js: /^text\/javascript/, css: /^text\/css/, png: /^image\/png$/, txt: /^text\/plain/ }[a.split('.').pop()];
      assert.match(res.headers['content-type'], type, a);
      assert.equal(crypto.createHash('sha256').update(res.body).digest('hex').slice(0, 16), hash, `${a}: the name is its content's hash`);
      const cached = await request(svc, { path: a, headers: { 'If-None-Match': res.headers.etag } });
      assert.equal(cached.status, 304, a);
    }
  });

  test('an unknown file is 404 not_found', async () => {
    assertProblem(await request(svc, { path: '/docs/assets/swagger-ui-bundle.js' }), 404, 'not_found');
    assertProblem(await request(svc, { path: '/docs/assets/..%2Fopenapi.yaml' }), 404, 'not_found');
  });
});

// The operations of the contract the binary serves, as "METHOD /path", and their tags.
function contractOperations() {
  const doc = YAML.parse(readFileSync(path.join(env.sourceDir, 'contract', 'openapi.bundled.yaml'), 'utf8'));
  const ops = new Set();
  const tags = new Set();
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const m of ['get', 'put', 'post', 'delete', 'patch']) {
      if (!item[m]) continue;
      ops.add(`${m.toUpperCase()} ${p}`);
      for (const t of item[m].tags ?? []) tags.add(t);
    }
  }
  return { ops, tags };
}

// One page for the tests below: loading the contract (1.2 MB of YAML) is most of the time.
describe('the page in Chromium', () => {
  let page;
  before(async () => {
    page = await newPage();
    await page.goto(`${svc.url}/docs`, { waitUntil: 'load' });
    await page.locator('.opblock-tag').first().waitFor({ timeout: 45000 });
  });

  test('loads without a console error and shows every operation of the contract under its tag', async () => {
    assert.equal(await page.title(), 'Tianxing API reference');
    // Swagger UI draws only the operations in view: scroll through the page, noting them.
    const tags = new Set();
    const ops = new Set();
    for (let i = 0; i < 500; i++) {
      const seen = await page.evaluate(() => ({
        tags: [...document.querySelectorAll('.opblock-tag')].map((e) => e.getAttribute('data-tag')),
        ops: [...document.querySelectorAll('.opblock-summary')].map((e) =>
          `${e.querySelector('.opblock-summary-method')?.textContent} ${e.querySelector('.opblock-summary-path')?.getAttribute('data-path')}`),
        end: window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 2,
      }));
      seen.tags.forEach((t) => tags.add(t));
      seen.ops.forEach((o) => ops.add(o));
      if (seen.end) break;
      await page.mouse.wheel(0, 700);
      await page.waitForTimeout(30);
    }
    const want = contractOperations();
    assert.ok(ops.has('GET /v1/customers') && ops.has('POST /v1/customers'), 'the customers\' operations');
    assert.ok(tags.has('customers'), 'the customers tag');
    assert.deepEqual([...tags].sort(), [...want.tags].sort(), 'every tag of the contract, and no other');
    assert.deepEqual([...ops].sort(), [...want.ops].sort(), 'every operation of the contract, and no other');
    // Try it out is aimed at this service, whatever port it listens on.
    await page.evaluate(() => window.scrollTo(0, 0));
    const servers = await page.locator('.servers select option').allTextContents();
    assert.ok(servers[0]?.startsWith(svc.url), `first server is this service: ${servers}`);
    await page.screenshot({ path: path.join(screenshotDir(), 'docs.png') });
    assert.deepEqual(page.problems, []);
  });

  test('Authorize with a bearer token, then Try it out: GET /v1/me answers 200 in the page; the token is not stored', async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.locator('.operation-filter-input').fill('auth');
    await page.locator('.btn.authorize').first().click();
    const dialog = page.locator('.dialog-ux .modal-ux');
    await dialog.waitFor();
    await dialog.locator('input').first().fill(token);
    await dialog.locator('button.authorize').click();
    await dialog.locator('button.btn-done, button.close-modal').first().click();
    const op = page.locator('#operations-auth-getMe');
    await op.waitFor();
    await op.locator('.opblock-summary').click();
    await op.locator('.try-out__btn').click();
    const answered = page.waitForResponse((r) => r.url() === `${svc.url}/v1/me`);
    await op.locator('.execute').click();
    const res = await answered;
    assert.equal(res.status(), 200, 'the service answered the page');
    assert.equal(res.request().headers().authorization, `Bearer ${token}`);
    const status = op.locator('.live-responses-table .response .response-col_status').first();
    await status.waitFor();
    assert.equal((await status.textContent()).trim(), '200');
    const body = await op.locator('.live-responses-table .response-col_description pre').first().textContent();
    assert.equal(JSON.parse(body).id, EMP.staffA1.id, 'the page shows the answer: who I am');
    await page.screenshot({ path: path.join(screenshotDir(), 'docs-try-it.png') });
    const stored = await page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie }));
    assert.ok(!stored.includes(token.slice(-20)), `token not stored: ${stored}`);
    assert.deepEqual(page.problems, []);
  });
});
