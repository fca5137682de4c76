// Checks of the representations other than JSON (core/formats.h), shared by the API tests that
// ask for them: CSV records (RFC 4180, the BOM, the media type) and SVG documents (well-formed
// per xmllint, the accessible name and description, nothing active).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

export const CSV = 'text/csv';
export const SVG = 'image/svg+xml';

// RFC 4180 records (CRLF-ended) of a body without its BOM; fails the test on anything else.
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let i = 0;
  while (i < text.length) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        assert.ok(i < text.length, 'unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
          i++;
          break;
        }
        field += text[i++];
      }
    } else {
      while (i < text.length && !',\r\n'.includes(text[i])) {
        assert.notEqual(text[i], '"', 'a quote inside an unquoted field');
        field += text[i++];
      }
    }
    row.push(field);
    if (text[i] === ',') { i++; continue; }
    assert.ok(text.startsWith('\r\n', i), `record ends with CRLF at ${i}: ${JSON.stringify(text.slice(i, i + 10))}`);
    rows.push(row);
    row = [];
    i += 2;
  }
  assert.equal(row.length, 0, 'the last record ends with CRLF');
  return rows;
}

// The CSV of a response: checks the media type, the BOM and the shape; returns the records.
export function csvOf(res) {
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers['content-type'], /^text\/csv; charset=utf-8/);
  assert.deepEqual([...res.body.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM');
  assert.match(res.headers.vary || '', /\bAccept\b/);
  const rows = parseCsv(res.body.subarray(3).toString('utf8'));
  for (const r of rows) assert.equal(r.length, rows[0].length);
  return rows;
}

// Well-formed (else the test fails); the accessible name and description and what is active in
// it, plus `extra`: {name: XPath 1.0 expression} evaluated on the document as strings.
export function xmllint(svg, extra = {}) {
  const r = spawnSync('xmllint', ['--noout', '--nonet', '-'], { input: svg, encoding: 'utf8' });
  assert.equal(r.error, undefined, `xmllint runs: ${r.error}`);
  assert.equal(r.status, 0, `well-formed XML: ${r.stderr}`);
  // The accessible name and description, as a screen reader finds them.
  const x = (expr) => spawnSync('xmllint', ['--nonet', '--xpath', expr, '-'], { input: svg, encoding: 'utf8' }).stdout.replace(/\n$/, '');
  return { title: x('string(/*[local-name()="svg"]/*[local-name()="title"])'),
    desc: x('string(/*[local-name()="svg"]/*[local-name()="desc"])'),
    labelledby: x('string(/*[local-name()="svg"]/@aria-labelledby)'),
    role: x('string(/*[local-name()="svg"]/@role)'),
    ns: x('namespace-uri(/*)'),
    scripts: x('count(//*[local-name()="script" or local-name()="foreignObject"])'),
    handlers: x('count(//@*[starts-with(local-name(), "on")])'),
    ...Object.fromEntries(Object.entries(extra).map(([k, e]) => [k, x(e)])) };
}

// A chart answer: 200 image/svg+xml, an <svg> in the SVG namespace, role="img" labelled by its
// title and desc (both non-empty), no script, foreign content or event handler. `extra` as above.
export function svgOf(res, extra = {}) {
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers['content-type'], SVG);
  const s = xmllint(res.text, extra);
  assert.equal(s.ns, 'http://www.w3.org/2000/svg');
  assert.equal(s.role, 'img');
  assert.equal(s.labelledby, 'chart-title chart-desc');
  assert.ok(s.title.length > 0 && s.desc.length > 0, 'title and desc');
  assert.equal(s.scripts, '0');
  assert.equal(s.handlers, '0');
  return s;
}
