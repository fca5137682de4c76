#!/usr/bin/env node
// Contract tier: the binary's error-code registry and the contract's Problem codes must agree.
//
// Runs `$TX_TEST_BIN errors --json` and compares its codes, both ways, with
// components.schemas.Problem.properties.code.enum, and each code's status with the contract's
// registry table: the machine-readable `x-error-codes` list on the Problem schema and the
// Markdown table in its description. Also checks that problem responses in the contract that
// pin a code and a status (e.g. NotFound: not_found + 404) agree with the registry.
// Prints each difference; exits 1 on any.
//
// Env: TX_TEST_BIN (required), TX_TEST_SOURCE_DIR (repository root; default: two levels up).

import { reporter } from './lib.mjs';


const { problem, fatal, finish, loadContract, runBinary } = reporter('errors');

// Compare two code -> status maps both ways; `a` and `b` name the sides in messages.
function compare(aName, a, bName, b) {
  for (const [code, status] of a) {
    if (!b.has(code)) problem(`${code}: in ${aName}, not in ${bName}`);
    else if (status !== undefined && b.get(code) !== undefined && b.get(code) !== status) {
      problem(`${code}: status ${status} in ${aName}, ${b.get(code)} in ${bName}`);
    }
  }
  for (const code of b.keys()) {
    if (!a.has(code)) problem(`${code}: in ${bName}, not in ${aName}`);
  }
}

function toMap(name, entries) {
  const m = new Map();
  for (const [code, status] of entries) {
    if (m.has(code)) problem(`${code}: listed twice in ${name}`);
    m.set(code, status);
  }
  return m;
}

// --- the binary's registry
let registry;
try {
  registry = JSON.parse(runBinary(['errors', '--json']));
} catch (e) {
  fatal(`errors --json did not print JSON: ${e.message}`);
}
if (!Array.isArray(registry)) fatal('errors --json did not print a JSON array');
for (const [i, e] of registry.entries()) {
  if (typeof e?.code !== 'string' || !Number.isInteger(e?.status)) {
    problem(`registry entry ${i} lacks a string code or an integer status: ${JSON.stringify(e)}`);
    continue;
  }
  if (!/^[a-z][a-z0-9_]*$/.test(e.code)) problem(`${e.code}: not a snake_case code`);
  if (e.status < 400 || e.status > 599) problem(`${e.code}: status ${e.status} is not 4xx/5xx`);
  for (const t of ['title', 'title_zh']) {
    if (typeof e[t] !== 'string' || e[t].trim() === '') problem(`${e.code}: empty ${t}`);
  }
}
const bin = toMap('the binary registry',
  registry.filter((e) => typeof e?.code === 'string').map((e) => [e.code, e.status]));

// --- the contract
const doc = loadContract();
const P = doc?.components?.schemas?.Problem;
if (!P) fatal('the contract has no components.schemas.Problem');

const enumCodes = P.properties?.code?.enum;
if (!Array.isArray(enumCodes) || enumCodes.length === 0) {
  fatal('Problem.properties.code.enum is missing or empty');
}
const en = toMap('Problem.code enum', enumCodes.map((c) => [c, undefined]));

const xec = P['x-error-codes'];
if (!Array.isArray(xec) || xec.length === 0) fatal('Problem.x-error-codes is missing or empty');
const xm = toMap('Problem.x-error-codes', xec.map((e) => [e?.code, e?.status]));

// Rows "| `code` | status | meaning |" of the Markdown table in Problem.description.
const rows = [...(P.description ?? '').matchAll(/^\|\s*`([a-z0-9_]+)`\s*\|\s*(\d{3})\s*\|/gm)];
if (rows.length === 0) problem('Problem.description has no code table');
const md = toMap('the Problem description table', rows.map((r) => [r[1], Number(r[2])]));

compare('the binary registry', bin, 'Problem.code enum', en);
compare('the binary registry', bin, 'Problem.x-error-codes', xm);
compare('Problem.x-error-codes', xm, 'the Problem description table', md);

// --- problem responses in the contract that pin a code (const/enum) and a status (const)
function walk(node, where) {
  if (Array.isArray(node)) {
    node.forEach((n, i) => walk(n, `${where}/${i}`));
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const props = node.properties;
  if (props?.code && props?.status && 'const' in props.status) {
    const codes = 'const' in props.code ? [props.code.const] : props.code.enum ?? [];
    for (const c of codes) {
      if (!bin.has(c)) problem(`${where}: pins unknown code ${c}`);
      else if (bin.get(c) !== props.status.const) {
        problem(`${where}: pins ${c} with status ${props.status.const}, registry says ${bin.get(c)}`);
      }
    }
  }
  for (const [k, v] of Object.entries(node)) walk(v, `${where}/${k}`);
}
walk(doc.components?.responses ?? {}, '#/components/responses');
walk(doc.paths ?? {}, '#/paths');

// --- every error response is a problem document (RFC 9457, interfaces.md "Every response")
// Redocly's operation-4xx-problem-details-rfc7807 is not used for this: client generators built
// on Redocly 1.x (openapi-typescript reads redocly.yaml) apply it to each allOf branch of a
// narrowed Problem and refuse the contract (issue 10 item 22). This check is stricter: every 4xx
// and 5xx response offers application/problem+json only, with the Problem schema itself or an
// allOf that starts with it, and Problem requires the RFC's members.
const PROBLEM_REF = '#/components/schemas/Problem';
for (const m of ['type', 'title', 'status', 'detail', 'instance']) {
  if (!P.properties?.[m]) problem(`Problem lacks the RFC 9457 member ${m}`);
  if (!(P.required ?? []).includes(m)) problem(`Problem does not require ${m}`);
}
function resolveResponse(r) {
  const ref = r?.$ref;
  if (typeof ref !== 'string') return r;
  const m = /^#\/components\/responses\/([^/]+)$/.exec(ref);
  return m ? doc.components?.responses?.[m[1]] : undefined;
}
function checkProblemResponse(where, response) {
  const r = resolveResponse(response);
  if (!r) return problem(`${where}: unresolved response ${response?.$ref}`);
  const types = Object.keys(r.content ?? {});
  if (types.length !== 1 || types[0] !== 'application/problem+json') {
    return problem(`${where}: an error response must offer application/problem+json only, ` +
      `not [${types.join(', ')}]`);
  }
  const schema = r.content['application/problem+json'].schema;
  const isProblem = (s) => s?.$ref === PROBLEM_REF;
  if (!isProblem(schema) && !(Array.isArray(schema?.allOf) && isProblem(schema.allOf[0]))) {
    problem(`${where}: the problem+json schema is neither ${PROBLEM_REF} nor an allOf starting with it`);
  }
}
let errorResponses = 0;
const isError = (status) => /^[45]([0-9]{2}|XX)$/.test(status);
for (const [name, r] of Object.entries(doc.components?.responses ?? {})) {
  // A named response is an error response when an operation uses it under a 4xx/5xx status;
  // checking them all here catches one that no operation uses yet only through its name.
  if (r?.content?.['application/problem+json']) {
    errorResponses++;
    checkProblemResponse(`#/components/responses/${name}`, r);
  }
}
for (const [p, item] of Object.entries(doc.paths ?? {})) {
  for (const [m, op] of Object.entries(item ?? {})) {
    for (const [status, r] of Object.entries(op?.responses ?? {})) {
      if (!isError(status)) continue;
      errorResponses++;
      checkProblemResponse(`${m.toUpperCase()} ${p} ${status}`, r);
    }
  }
}
if (doc['x-unmatched-route']?.response) {
  checkProblemResponse('x-unmatched-route', doc['x-unmatched-route'].response);
}
if (errorResponses === 0) problem('the contract documents no error response');

finish(`${bin.size} codes in the binary, ${en.size} in the contract, ` +
  `${errorResponses} error responses checked`);
