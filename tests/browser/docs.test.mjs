// The API reference page (GET /docs, src/modules/docs) in a real headless Chromium: it loads
// with nothing but this service (no internet, no console error, no CSP violation), shows the
// contract's operations and tags, and "Try it out" works against the running service with a
// bearer token given to Authorize, which the page does not store. Plus, over plain HTTP, the
// caching and security headers of the page and its files.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { assertProblem, freshDatabase, request } from '../api/lib/harness.mjs';
import { EMP, loadFixtures, newSigningKey, ownToken, startIdentityService } from '../api/lib/identity.mjs';
import { newPage, screenshotDir } from './lib/browser.mjs';
import path from 'node:path';

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
      const crypto = await import('node:crypto');
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

describe('the page in Chromium', () => {
  test('loads without a console error and shows the operations and their tags', async () => {
    const page = await newPage();
    await page.goto(`${svc.url}/docs`, { waitUntil: 'load' });
    await page.locator('.opblock-tag-section').first().waitFor({ timeout: 20000 });
    assert.equal(await page.title(), 'Tianxing API reference');
    // Every tag of the contract is a section; the customers' operations are listed.
    await page.locator('.opblock-tag[data-tag="customers"]').waitFor();
    await page.locator('.opblock-tag[data-tag="meta"]').waitFor();
    const paths = await page.locator('.opblock-summary-path').allTextContents();
    const shown = new Set(paths.map((p) => p.replace(/\u200b/g, '').trim()));
    for (const p of ['/v1/customers', '/v1/me', '/docs', '/openapi.yaml']) assert.ok(shown.has(p), `${p} shown (of ${shown.size})`);
    assert.ok(shown.size > 100, `the operations are shown: ${shown.size}`);
    // Try it out is aimed at this service, whatever port it listens on.
    const servers = await page.locator('.servers select option').allTextContents();
    assert.ok(servers[0]?.startsWith(svc.url), `first server is this service: ${servers}`);
    await page.screenshot({ path: path.join(screenshotDir(), 'docs.png') });
    assert.deepEqual(page.problems, []);
    await page.close();
  });

  test('Authorize with a bearer token, then Try it out: GET /v1/me answers 200 in the page; the token is not stored', async () => {
    const page = await newPage();
    await page.goto(`${svc.url}/docs#/auth/getMe`, { waitUntil: 'load' });
    await page.locator('.btn.authorize').first().waitFor({ timeout: 20000 });
    await page.locator('.btn.authorize').first().click();
    const dialog = page.locator('.dialog-ux .modal-ux');
    await dialog.waitFor();
    await dialog.locator('input').first().fill(token);
    await dialog.locator('button.authorize').click();
    await dialog.locator('button.btn-done, button.close-modal').first().click();
    const op = page.locator('#operations-auth-getMe');
    await op.waitFor();
    if (!(await op.locator('.try-out__btn').isVisible())) await op.locator('.opblock-summary').click();
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
    await page.screenshot({ path: path.join(screenshotDir(), 'docs-try-it.png'), fullPage: false });
    const stored = await page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie }));
    assert.ok(!stored.includes(token.slice(-20)), `token not stored: ${stored}`);
    assert.deepEqual(page.problems, []);
    await page.close();
  });
});
