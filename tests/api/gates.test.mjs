// The request gates every path shares, in their agreed order (docs/interfaces.md): body size 413,
// media type 415, JSON syntax 400, then routing 404/405; OPTIONS and CORS; problem documents and
// their Chinese titles.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import {
  assertCommonHeaders, assertNoLeak, assertProblem, commonHeadersTest, freshDatabase, request,
  responses, startService,
} from './lib/harness.mjs';

const DB = 'tx_api_gates';
const LIMIT = 2048;
const ORIGIN = 'https://app.example.com';
let svc;

before(async () => {
  freshDatabase(DB);
  svc = await startService({
    db: DB, env: { TIANXING_BODY_LIMIT: LIMIT, TIANXING_CORS_ORIGINS: ORIGIN },
  });
});

/** A JSON document of exactly n bytes: {"pad":"xxx..."}. */
function jsonOfSize(n) {
  const s = `{"pad":"${'x'.repeat(n - 10)}"}`;
  assert.equal(Buffer.byteLength(s), n);
  return s;
}

test('an unknown path is a 404 not_found problem with every member', async () => {
  const r = await request(svc, { path: '/v1/does-not-exist' });
  const p = assertProblem(r, 404, 'not_found');
  assert.deepEqual(Object.keys(p).sort(), ['code', 'detail', 'instance', 'request_id', 'status', 'title', 'type']);
  assert.equal(p.title, 'Not found');
  assert.equal(p.instance, '/v1/does-not-exist');
  assertCommonHeaders(r);
});

test('a path that only differs by a trailing slash or case is unknown', async () => {
  assertProblem(await request(svc, { path: '/healthz/' }), 404, 'not_found');
  assertProblem(await request(svc, { path: '/HEALTHZ' }), 404, 'not_found');
  assertProblem(await request(svc, { path: '/v1/version/extra' }), 404, 'not_found');
});

test('a known path with another method is 405 with Allow: GET, HEAD', async () => {
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
    const r = await request(svc, { method, path: '/healthz' });
    assertProblem(r, 405, 'method_not_allowed');
    assert.equal(r.headers.allow, 'GET, HEAD', method);
  }
});

test('a body over the limit by Content-Length is 413 payload_too_large', async () => {
  const r = await request(svc, { method: 'POST', path: '/healthz', body: jsonOfSize(LIMIT + 1), headers: { 'Content-Type': 'application/json' } });
  const p = assertProblem(r, 413, 'payload_too_large');
  assert.match(p.detail, new RegExp(`${LIMIT}`));
  const big = await request(svc, { method: 'POST', path: '/healthz', body: jsonOfSize(100 * 1024), headers: { 'Content-Type': 'application/json' } });
  assertProblem(big, 413, 'payload_too_large');
});

test('a chunked body over the limit (no Content-Length) is 413', async () => {
  const r = await request(svc, { method: 'POST', path: '/healthz', body: jsonOfSize(LIMIT + 1), chunked: true, headers: { 'Content-Type': 'application/json' } });
  assertProblem(r, 413, 'payload_too_large');
  const big = await request(svc, { method: 'POST', path: '/healthz', body: jsonOfSize(64 * 1024), chunked: true, headers: { 'Content-Type': 'application/json' } });
  assertProblem(big, 413, 'payload_too_large');
});

test('413 comes before the media type and routing: a big text/plain body to an unknown path', async () => {
  const r = await request(svc, { method: 'POST', path: '/nowhere', body: 'x'.repeat(LIMIT + 1), headers: { 'Content-Type': 'text/plain' } });
  assertProblem(r, 413, 'payload_too_large');
});

test('a JSON body of exactly the limit passes the gates (then 405 on POST /healthz)', async () => {
  const r = await request(svc, { method: 'POST', path: '/healthz', body: jsonOfSize(LIMIT), headers: { 'Content-Type': 'application/json' } });
  assertProblem(r, 405, 'method_not_allowed');
  const chunked = await request(svc, { method: 'POST', path: '/healthz', body: jsonOfSize(LIMIT), chunked: true, headers: { 'Content-Type': 'application/json' } });
  assertProblem(chunked, 405, 'method_not_allowed');
});

test('a body that is not application/json is 415 unsupported_media_type', async () => {
  for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx', 'text/json']) {
    const r = await request(svc, { method: 'POST', path: '/healthz', body: '{"a":1}', headers: { 'Content-Type': ct } });
    assertProblem(r, 415, 'unsupported_media_type');
  }
  // No Content-Type at all.
  const none = await request(svc, { method: 'POST', path: '/healthz', body: '{"a":1}' });
  assertProblem(none, 415, 'unsupported_media_type');
});

test('application/json with parameters and +json media types pass the media-type gate', async () => {
  for (const ct of ['application/json; charset=utf-8', 'APPLICATION/JSON', 'application/merge-patch+json', 'application/problem+json']) {
    const r = await request(svc, { method: 'POST', path: '/healthz', body: '{"a":1}', headers: { 'Content-Type': ct } });
    assertProblem(r, 405, 'method_not_allowed');
  }
});

test('415 comes before routing: text/plain to an unknown path', async () => {
  const r = await request(svc, { method: 'POST', path: '/unknown/path', body: 'hello', headers: { 'Content-Type': 'text/plain' } });
  assertProblem(r, 415, 'unsupported_media_type');
});

test('malformed JSON is 400 invalid_json, before routing', async () => {
  for (const body of ['{bad', '', '{"a":1,}', '[1 2]', '{"a":1} trailing', "{'a':1}", 'nul']) {
    if (body === '') continue; // an empty body is no body
    const r = await request(svc, { method: 'POST', path: '/healthz', body, headers: { 'Content-Type': 'application/json' } });
    assertProblem(r, 400, 'invalid_json');
  }
  const r = await request(svc, { method: 'PUT', path: '/not/routed', body: '{bad', headers: { 'Content-Type': 'application/json' } });
  assertProblem(r, 400, 'invalid_json');
});

test('invalid UTF-8 inside a JSON string is 400 invalid_json', async () => {
  const bad = [
    Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff]), Buffer.from('"}')]),
    Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]), // bad continuation
    Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]), // UTF-16 surrogate
    Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]), // overlong
  ];
  for (const body of bad) {
    const r = await request(svc, { method: 'POST', path: '/healthz', body, headers: { 'Content-Type': 'application/json' } });
    assertProblem(r, 400, 'invalid_json');
    assert.ok(Buffer.from(r.text, 'utf8').equals(r.body), 'the problem itself is valid UTF-8');
  }
  // Valid multi-byte UTF-8 passes the JSON gate.
  const ok = await request(svc, { method: 'POST', path: '/healthz', body: '{"name":"天星苑"}', headers: { 'Content-Type': 'application/json' } });
  assertProblem(ok, 405, 'method_not_allowed');
});

test('duplicate keys and \\u0000 are 400 invalid_json', async () => {
  for (const body of ['{"a":1,"a":2}', '{"o":{"k":true,"k":false}}', '{"s":"a\\u0000b"}']) {
    const r = await request(svc, { method: 'POST', path: '/healthz', body, headers: { 'Content-Type': 'application/json' } });
    assertProblem(r, 400, 'invalid_json');
  }
});

test('OPTIONS without Origin is 204 with Allow and no body', async () => {
  const r = await request(svc, { method: 'OPTIONS', path: '/healthz' });
  assert.equal(r.status, 204);
  assert.equal(r.text, '');
  assert.equal(r.headers.allow, 'GET, HEAD, OPTIONS');
  assert.equal(r.headers['access-control-allow-origin'], undefined);
  assertCommonHeaders(r);
  const unknown = await request(svc, { method: 'OPTIONS', path: '/unknown' });
  assertProblem(unknown, 404, 'not_found');
});

test('a CORS preflight from the allowed origin is 204 with the Access-Control headers', async () => {
  const r = await request(svc, {
    method: 'OPTIONS', path: '/v1/version',
    headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'content-type, x-request-id' },
  });
  assert.equal(r.status, 204);
  assert.equal(r.text, '');
  assert.equal(r.headers['access-control-allow-origin'], ORIGIN);
  assert.equal(r.headers['access-control-allow-methods'], 'GET, HEAD');
  const allowed = r.headers['access-control-allow-headers'].split(/,\s*/).map((h) => h.toLowerCase());
  for (const h of ['content-type', 'x-request-id', 'authorization', 'if-match', 'accept-language']) assert.ok(allowed.includes(h), h);
  assert.match(r.headers['access-control-max-age'], /^\d+$/);
  assert.ok(Number(r.headers['access-control-max-age']) > 0);
  assert.match(r.headers.vary || '', /\bOrigin\b/);
  assertCommonHeaders(r);
});

test('a CORS preflight from another origin is 403 cors_origin_denied', async () => {
  for (const origin of ['https://evil.example.com', 'http://app.example.com', 'https://app.example.com:8443', 'null']) {
    const r = await request(svc, {
      method: 'OPTIONS', path: '/v1/version', headers: { Origin: origin, 'Access-Control-Request-Method': 'GET' },
    });
    assertProblem(r, 403, 'cors_origin_denied');
    assert.equal(r.headers['access-control-allow-origin'], undefined, origin);
  }
});

test('a simple request with the allowed Origin carries Allow-Origin and Expose-Headers', async () => {
  const r = await request(svc, { path: '/healthz', headers: { Origin: ORIGIN } });
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], ORIGIN);
  const exposed = r.headers['access-control-expose-headers'].split(/,\s*/).map((h) => h.toLowerCase());
  for (const h of ['x-request-id', 'retry-after', 'etag', 'location']) assert.ok(exposed.includes(h), h);
  assert.match(r.headers.vary || '', /\bOrigin\b/);
  // Errors to an allowed origin carry them too, so that browsers can read the problem.
  const nf = await request(svc, { path: '/missing', headers: { Origin: ORIGIN } });
  assertProblem(nf, 404, 'not_found');
  assert.equal(nf.headers['access-control-allow-origin'], ORIGIN);
  assert.ok(nf.headers['access-control-expose-headers']);
});

test('a request with a foreign Origin is 403 cors_origin_denied, even on a known route', async () => {
  const r = await request(svc, { path: '/healthz', headers: { Origin: 'https://evil.example.com' } });
  assertProblem(r, 403, 'cors_origin_denied');
  assert.equal(r.headers['access-control-allow-origin'], undefined);
  const post = await request(svc, { method: 'POST', path: '/healthz', body: '{"a":1}', headers: { Origin: 'https://evil.example.com', 'Content-Type': 'application/json' } });
  assertProblem(post, 403, 'cors_origin_denied');
});

test('Accept-Language zh gives Chinese titles, anything else English', async () => {
  for (const al of ['zh-TW', 'zh', 'zh-TW,zh;q=0.9,en;q=0.8', 'zh-Hant-TW']) {
    const r = await request(svc, { path: '/nowhere', headers: { 'Accept-Language': al } });
    const p = assertProblem(r, 404, 'not_found', { zh: true });
    assert.equal(p.title, '找不到資源', al);
  }
  for (const al of ['en', 'en-US,en;q=0.9', 'fr', 'zhx']) {
    const r = await request(svc, { path: '/nowhere', headers: { 'Accept-Language': al } });
    assert.equal(assertProblem(r, 404, 'not_found').title, 'Not found', al);
  }
  const r405 = await request(svc, { method: 'POST', path: '/healthz', headers: { 'Accept-Language': 'zh-TW' } });
  assert.equal(assertProblem(r405, 405, 'method_not_allowed', { zh: true }).title, '不支持此請求方法');
  const r415 = await request(svc, { method: 'POST', path: '/healthz', body: 'x', headers: { 'Accept-Language': 'zh-TW', 'Content-Type': 'text/plain' } });
  assert.equal(assertProblem(r415, 415, 'unsupported_media_type', { zh: true }).title, '不支持的媒體類型');
});

test('the problem instance is the path without the query string', async () => {
  const r = await request(svc, { path: '/nowhere?select=1&x=%27' });
  const p = assertProblem(r, 404, 'not_found', { instance: '/nowhere' });
  assert.equal(p.instance, '/nowhere');
});

test('no problem of this file contains SQL or stack text', () => {
  const problems = responses.filter((r) => /problem\+json/.test(r.headers['content-type'] || ''));
  assert.ok(problems.length > 20);
  for (const r of problems) assertNoLeak(r);
  // Every non-2xx answer of this file was a problem document.
  for (const r of responses) {
    if (r.status >= 400) assert.match(r.headers['content-type'] || '', /^application\/problem\+json\b/, `${r.method} ${r.path}`);
  }
});

test('the service is still healthy after all that and stops cleanly', async () => {
  const r = await request(svc, { path: '/healthz' });
  assert.equal(r.status, 200);
  assert.equal(await svc.stop('SIGTERM'), 0, svc.stderrText());
});

commonHeadersTest();
