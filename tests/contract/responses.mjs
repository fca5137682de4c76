#!/usr/bin/env node
// Contract tier: every response the api tier saw must be one openapi.yaml documents.
//
// Reads every *.jsonl file in $TX_TEST_RECORD_DIR; each line is one recorded exchange
//   {"method","path","status","headers":{lower-case name: value},"body":"<raw text>","test":"<file>"}
// and checks it against the contract:
// - the operation is found by matching the path against the path templates (literal segments
//   win over `{param}` segments) and the method; HEAD uses GET's operation without the body;
//   OPTIONS is derived by the server and not in the contract: counted and skipped (only its
//   X-Request-Id is checked);
// - the status is documented (exactly, as `4XX`-style range, or `default`);
// - the Content-Type (without parameters) is a documented media type for that status, and a
//   response documented without content has no body;
// - JSON bodies validate (Ajv, JSON Schema 2020-12, formats) against the documented schema;
// - text/csv bodies (core/formats.h) start with the UTF-8 BOM, are RFC 4180 records ended by
//   CRLF with as many fields as the header, the header is the media type's `x-csv-columns`, and
//   no text field starts with = + - @ tab or CR (CSV injection) unless it is a number;
// - image/svg+xml bodies are well-formed XML (xmllint), an <svg> root in the SVG namespace with
//   role="img", aria-labelledby, <title> and <desc>, and no script, event handler or external
//   reference;
// - documented headers marked `required: true` are present, and present documented headers
//   match their schema; every response carries X-Request-Id;
// - problem+json bodies agree with the response: `status` equals the HTTP status, `request_id`
//   equals X-Request-Id, and the code's registry status (x-error-codes) equals the HTTP status;
// - a path matching no template is validated as the top-level `x-unmatched-route` response
//   when it is a 404, otherwise as a Problem; a known path with an undocumented method takes
//   the response its other operations document for that status (405 and the gates);
// - a 406 of a GET operation that does not list 406 is the top-level `x-not-acceptable` response
//   (content negotiation applies to every GET route that answers JSON, core/formats.h).
// Prints `N passed, M failed`, then each failure; exits 1 on any failure, and also when no
// response was recorded (a contract tier that saw nothing must not pass).
//
// Env: TX_TEST_RECORD_DIR (required), TX_TEST_SOURCE_DIR (repository root; default: two up).

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { reporter } from './lib.mjs';

const DOC_ID = 'urn:tianxing:openapi';
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

const { fatal, loadContract } = reporter('responses');

// --- load the contract and build the validator -------------------------------------------

const doc = loadContract();

// Ajv stays strict; it only learns the keywords OpenAPI documents carry that are not JSON
// Schema: the OpenAPI schema vocabulary (example, discriminator, xml, externalDocs), every x-*
// extension, and the document's own top-level fields (the whole document is added as one schema
// so that `$ref`s resolve as JSON pointers into it).
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
addFormats(ajv);
const known = new Set(['example', 'discriminator', 'xml', 'externalDocs']);
for (const k of Object.keys(doc)) known.add(k);
(function collectExtensions(node) {
  if (Array.isArray(node)) return node.forEach(collectExtensions);
  if (node === null || typeof node !== 'object') return;
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith('x-')) known.add(k);
    collectExtensions(v);
  }
})(doc);
for (const k of known) {
  if (!ajv.getKeyword(k)) ajv.addKeyword({ keyword: k });
}
ajv.addSchema({ ...doc, $id: DOC_ID });

const esc = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');
const validators = new Map();
function validatorAt(pointer) {
  let v = validators.get(pointer);
  if (!v) {
    v = ajv.compile({ $ref: `${DOC_ID}#${pointer}` });
    validators.set(pointer, v);
  }
  return v;
}
function get(pointer) {
  let node = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const k = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(k in node)) return undefined;
    node = node[k];
  }
  return node;
}
// Follows local $refs (responses, headers); returns [pointer, node].
function deref(pointer) {
  let node = get(pointer);
  for (let hops = 0; node && typeof node.$ref === 'string'; hops++) {
    if (!node.$ref.startsWith('#/') || hops > 20) fatal(`cannot follow $ref ${node.$ref}`);
    pointer = node.$ref.slice(1);
    node = get(pointer);
  }
  return [pointer, node];
}

const errorStatus = new Map(
  (doc.components?.schemas?.Problem?.['x-error-codes'] ?? []).map((e) => [e.code, e.status]));

// Path templates, most literal segments first so `/v1/x/search` beats `/v1/x/{id}`.
const templates = Object.keys(doc.paths ?? {}).map((t) => {
  const segs = t.split('/');
  const re = new RegExp('^' + segs.map((s) => (/^\{[^}]+\}$/.test(s) ? '[^/]+' :
    s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/') + '$');
  return { t, re, literal: segs.filter((s) => !/^\{[^}]+\}$/.test(s)).length };
}).sort((a, b) => b.literal - a.literal);

function matchPath(p) {
  return templates.find(({ re }) => re.test(p))?.t;
}

// The documented response for a status among the keys of a responses object.
function statusKey(responses, status) {
  const s = String(status);
  if (s in responses) return s;
  const range = `${s[0]}XX`;
  if (range in responses) return range;
  if ('default' in responses) return 'default';
  return undefined;
}

const mediaBase = (ct) => ct.split(';')[0].trim().toLowerCase();
const isJson = (mt) => mt === 'application/json' || /^application\/[^;]+\+json$/.test(mt);
const ajvErrors = (errs) => (errs ?? []).map((e) =>
  `${e.instancePath || '(body)'} ${e.message}${e.params && Object.keys(e.params).length ?
    ' ' + JSON.stringify(e.params) : ''}`);

// --- check one recorded response ----------------------------------------------------------

// Returns a list of failure messages (empty: passed).
function checkAgainst(rec, responsePointer, { skipBody }) {
  const out = [];
  const [rp, resp] = deref(responsePointer);
  if (!resp) return [`contract has no response at ${responsePointer}`];
  const headers = rec.headers;

  // headers
  for (const name of Object.keys(resp.headers ?? {})) {
    const lname = name.toLowerCase();
    if (lname === 'content-type') continue; // OpenAPI ignores it; media types are checked below
    const [hp, h] = deref(`${rp}/headers/${esc(name)}`);
    const value = headers[lname];
    if (value === undefined) {
      if (h?.required) out.push(`required header ${name} missing`);
      continue;
    }
    if (h?.schema) {
      const t = h.schema.type;
      let v = value;
      if ((t === 'integer' || t === 'number') && /^-?\d+(\.\d+)?$/.test(value)) v = Number(value);
      const validate = validatorAt(`${hp}/schema`);
      if (!validate(v)) out.push(`header ${name}: ${JSON.stringify(value)} ${ajvErrors(validate.errors).join('; ')}`);
    }
  }

  // media type and body
  const ct = headers['content-type'];
  const content = resp.content;
  const body = rec.body ?? '';
  if (!content || Object.keys(content).length === 0) {
    if (!skipBody && body.length > 0) out.push(`response documented without content has a body`);
    return out;
  }
  const documented = Object.keys(content);
  if (ct === undefined) {
    if (!skipBody) out.push(`no Content-Type; documented: ${documented.join(', ')}`);
    return out;
  }
  const mt = mediaBase(ct);
  const key = documented.find((k) => mediaBase(k) === mt);
  if (!key) {
    out.push(`Content-Type ${ct} not documented; documented: ${documented.join(', ')}`);
    return out;
  }
  if (skipBody) return out;

  const schemaPointer = `${rp}/content/${esc(key)}/schema`;
  let value = body;
  if (isJson(mt)) {
    try {
      value = JSON.parse(body);
    } catch (e) {
      out.push(`body is not JSON: ${e.message}`);
      return out;
    }
  }
  if (mt === 'text/csv') out.push(...checkCsv(body, content[key]['x-csv-columns']));
  if (mt === 'image/svg+xml') out.push(...checkSvg(body));
  if (content[key].schema) {
    const validate = validatorAt(schemaPointer);
    if (!validate(value)) out.push(...ajvErrors(validate.errors).map((m) => `body ${m}`));
  }
  if (mt === 'application/problem+json' && value && typeof value === 'object') {
    out.push(...problemAgreement(rec, value));
  }
  return out;
}

// RFC 4180 records of @p text (after the BOM); null when it is not RFC 4180 with CRLF ends.
function parseCsv(text) {
  const rows = [];
  let row = [];
  let i = 0;
  while (i < text.length) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) return null; // unterminated quote
        if (text[i] === '"') {
          if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
          i++;
          break;
        }
        field += text[i++];
      }
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') {
        if (text[i] === '"') return null; // a quote inside an unquoted field
        field += text[i++];
      }
    }
    row.push(field);
    if (text[i] === ',') { i++; continue; }
    if (text.startsWith('\r\n', i)) { rows.push(row); row = []; i += 2; continue; }
    return null; // a bare LF or CR, or text after a closing quote
  }
  if (row.length) return null; // the last record has no CRLF
  return rows;
}

function checkCsv(body, columns) {
  if (!body.startsWith('\uFEFF')) return ['text/csv body does not start with the UTF-8 BOM'];
  const rows = parseCsv(body.slice(1));
  if (!rows) return ['text/csv body is not RFC 4180 records ended by CRLF'];
  if (!rows.length) return ['text/csv body has no header row'];
  const out = [];
  if (columns && JSON.stringify(rows[0]) !== JSON.stringify(columns)) {
    out.push(`text/csv header ${JSON.stringify(rows[0])} is not x-csv-columns ${JSON.stringify(columns)}`);
  }
  rows.forEach((r, n) => {
    if (r.length !== rows[0].length) out.push(`text/csv record ${n} has ${r.length} fields, the header ${rows[0].length}`);
    for (const f of r) {
      if (/^[=+\-@\t\r]/.test(f) && !/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(f)) {
        out.push(`text/csv field ${JSON.stringify(f)} in record ${n} is not neutralised (CSV injection)`);
      }
    }
  });
  return out;
}

function checkSvg(body) {
  const out = [];
  const lint = spawnSync('xmllint', ['--noout', '--nonet', '-'], { input: body, encoding: 'utf8' });
  if (lint.error) return [`xmllint could not run: ${lint.error.message}`];
  if (lint.status !== 0) out.push(`image/svg+xml is not well-formed XML: ${lint.stderr.trim()}`);
  const root = /<svg\b[^>]*>/.exec(body)?.[0] ?? '';
  if (!/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/.test(root)) out.push('image/svg+xml root is not <svg> in the SVG namespace');
  if (!/role="img"/.test(root) || !/aria-labelledby="[^"]+"/.test(root)) out.push('image/svg+xml lacks role="img" and aria-labelledby');
  if (!/<title\b[^>]*>[^<]+<\/title>/.test(body) || !/<desc\b[^>]*>[^<]+<\/desc>/.test(body)) out.push('image/svg+xml lacks a <title> or a <desc>');
  if (/<script\b/i.test(body) || /\son[a-z]+\s*=/i.test(body) || /(?:xlink:)?href\s*=\s*"(?!#)/i.test(body) || /<foreignObject\b/i.test(body)) {
    out.push('image/svg+xml holds a script, an event handler, an external reference or foreign content');
  }
  return out;
}

function problemAgreement(rec, p) {
  const out = [];
  if (p.status !== rec.status) out.push(`problem status ${p.status} != HTTP status ${rec.status}`);
  const rid = rec.headers['x-request-id'];
  if (rid !== undefined && p.request_id !== rid) {
    out.push(`problem request_id ${JSON.stringify(p.request_id)} != X-Request-Id ${JSON.stringify(rid)}`);
  }
  if (errorStatus.has(p.code) && errorStatus.get(p.code) !== rec.status) {
    out.push(`code ${p.code} has status ${errorStatus.get(p.code)} in x-error-codes, got ${rec.status}`);
  }
  return out;
}

// Unmatched path: a 404 is the x-unmatched-route response; anything else (the body gates, CORS,
// 5xx) must at least be a Problem.
function checkUnmatched(rec) {
  const out = [];
  const unmatched = doc['x-unmatched-route']?.response;
  if (rec.status === 404 && unmatched) {
    return checkAgainst(rec, '/x-unmatched-route/response', { skipBody: rec.method === 'HEAD' });
  }
  if (rec.status < 400) return [`no path template matches, yet status ${rec.status}`];
  if (rec.method === 'HEAD') return out;
  const ct = rec.headers['content-type'];
  if (!ct || mediaBase(ct) !== 'application/problem+json') {
    return [`Content-Type ${ct} is not application/problem+json`];
  }
  let p;
  try {
    p = JSON.parse(rec.body ?? '');
  } catch (e) {
    return [`body is not JSON: ${e.message}`];
  }
  const validate = validatorAt('/components/schemas/Problem');
  if (!validate(p)) out.push(...ajvErrors(validate.errors).map((m) => `body ${m}`));
  out.push(...problemAgreement(rec, p));
  return out;
}

function check(rec) {
  const method = rec.method.toUpperCase();
  const p = rec.path.split('?')[0];
  const template = matchPath(p);
  if (!template) return { op: null, errors: checkUnmatched(rec) };

  const item = doc.paths[template];
  const itemPointer = `/paths/${esc(template)}`;
  const opMethod = method === 'HEAD' && !item.head ? 'get' : method.toLowerCase();
  const skipBody = method === 'HEAD';
  const op = item[opMethod];
  if (op) {
    const responses = op.responses ?? {};
    const k = statusKey(responses, rec.status);
    // Content negotiation: any GET may answer 406 (the top-level x-not-acceptable response).
    if (!k && rec.status === 406 && opMethod === 'get' && doc['x-not-acceptable']?.response) {
      return {
        op: `${opMethod.toUpperCase()} ${template}`,
        errors: checkAgainst(rec, '/x-not-acceptable/response', { skipBody }),
      };
    }
    if (!k) {
      return {
        op: `${opMethod.toUpperCase()} ${template}`,
        errors: [`status ${rec.status} not documented (documented: ${Object.keys(responses).join(', ')})`],
      };
    }
    return {
      op: `${opMethod.toUpperCase()} ${template}`,
      errors: checkAgainst(rec, `${itemPointer}/${opMethod}/responses/${esc(k)}`, { skipBody }),
    };
  }
  // Known path, undocumented method: the response must be one the path's operations document
  // for that status (405 method_not_allowed, or a gate that runs before routing).
  for (const m of METHODS) {
    const responses = item[m]?.responses;
    if (!responses) continue;
    const k = statusKey(responses, rec.status);
    if (k && k !== 'default' && rec.status >= 400) {
      return { op: null, errors: checkAgainst(rec, `${itemPointer}/${m}/responses/${esc(k)}`, { skipBody }) };
    }
  }
  return { op: null, errors: [`${method} is not an operation of ${template}, and status ${rec.status} is documented for no operation of it`] };
}

// --- read the records ---------------------------------------------------------------------

const dir = process.env.TX_TEST_RECORD_DIR;
if (!dir) fatal('TX_TEST_RECORD_DIR is not set');
let files;
try {
  files = readdirSync(dir).filter((f) => f.endsWith('.jsonl') && statSync(path.join(dir, f)).isFile()).sort();
} catch (e) {
  fatal(`cannot read ${dir}: ${e.message}`);
}

let passed = 0;
let skipped = 0;
const failures = [];
const seen = new Set();
for (const f of files) {
  const lines = readFileSync(path.join(dir, f), 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${f}:${i + 1}`;
    let rec;
    try {
      rec = JSON.parse(line);
    } catch (e) {
      failures.push({ head: `${where}: not JSON`, errors: [e.message] });
      return;
    }
    const bad = [];
    if (typeof rec.method !== 'string') bad.push('method');
    if (typeof rec.path !== 'string' || !rec.path.startsWith('/')) bad.push('path');
    if (!Number.isInteger(rec.status)) bad.push('status');
    if (rec.headers === null || typeof rec.headers !== 'object') bad.push('headers');
    if (rec.body !== undefined && rec.body !== null && typeof rec.body !== 'string') bad.push('body');
    if (bad.length) {
      failures.push({ head: `${where}: malformed record`, errors: [`bad or missing ${bad.join(', ')}`] });
      return;
    }
    // Header names are case-insensitive; the recorder lower-cases them, but do not rely on it.
    rec.headers = Object.fromEntries(Object.entries(rec.headers).map(([k, v]) =>
      [k.toLowerCase(), Array.isArray(v) ? v.join(', ') : String(v)]));
    const head = `${rec.test ?? where} ${rec.method} ${rec.path} ${rec.status}`;
    const errors = [];
    const rid = rec.headers['x-request-id'];
    if (rid === undefined || rid === '') errors.push('required header X-Request-Id missing');

    if (rec.method.toUpperCase() === 'OPTIONS') {
      skipped++;
      if (errors.length) failures.push({ head, errors });
      return;
    }
    const r = check(rec);
    if (r.op) seen.add(r.op);
    for (const e of r.errors) if (!errors.includes(e)) errors.push(e);
    if (errors.length) failures.push({ head, errors });
    else passed++;
  });
}

const checked = passed + failures.length;
console.log(`${passed} passed, ${failures.length} failed` +
  (skipped ? ` (${skipped} OPTIONS responses skipped)` : '') +
  ` — ${files.length} record file(s) in ${dir}`);
for (const { head, errors } of failures) {
  console.log(`FAIL ${head}`);
  for (const e of errors) console.log(`  - ${e}`);
}
const unseen = [];
for (const [t, item] of Object.entries(doc.paths ?? {})) {
  for (const m of METHODS) {
    if (item[m] && !seen.has(`${m.toUpperCase()} ${t}`)) unseen.push(`${m.toUpperCase()} ${t}`);
  }
}
if (unseen.length) console.log(`note: operations no recorded response exercised: ${unseen.join(', ')}`);
if (checked === 0) {
  console.log('FAIL no responses were recorded: the contract tier saw nothing');
  process.exit(1);
}
process.exit(failures.length ? 1 : 0);
