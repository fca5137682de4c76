#!/usr/bin/env node
// What the Compose schema cannot say about docker/compose.yaml: at least two tianxingd replicas,
// all alike (image, settings, keys), started only after the migration succeeded and never
// migrating themselves; the migration after PostgreSQL is healthy; the proxy's upstream lists
// exactly the replicas; only known TIANXING_* settings (tianxingd exits on unknown ones).
//
//   node tests/deploy/compose-check.mjs --compose FILE --nginx FILE [--interfaces docs/interfaces.md]
//
// Prints one line per problem and exits 1 when there is any.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const composeFile = opt('--compose') ?? 'docker/compose.yaml';
const nginxFile = opt('--nginx') ?? 'docker/nginx.conf';
const interfaces = opt('--interfaces');

const problems = [];
const fail = (where, msg) => problems.push(`${where}: ${msg}`);

const compose = parse(readFileSync(composeFile, 'utf8'), { maxAliasCount: 100 }) ?? {};
const services = compose.services ?? {};
const known = interfaces
  ? new Set([...readFileSync(interfaces, 'utf8').matchAll(/^\|\s*(TIANXING_[A-Z0-9_]+)\s*\|/gm)].map((m) => m[1]))
  : null;

const cmd = (s) => (Array.isArray(s.command) ? s.command : String(s.command ?? '').split(/\s+/));
const envOf = (s) => (Array.isArray(s.environment)
  ? Object.fromEntries(s.environment.map((e) => [e.split('=')[0], e.split('=').slice(1).join('=')]))
  : s.environment ?? {});
const dependsOn = (s, name) => (Array.isArray(s.depends_on) ? (s.depends_on.includes(name) ? 'service_started' : undefined) : s.depends_on?.[name]?.condition);

const replicas = Object.entries(services).filter(([, s]) => cmd(s)[0] === 'serve');
const migrates = Object.entries(services).filter(([, s]) => cmd(s)[0] === 'migrate');
if (replicas.length < 2) fail(composeFile, `${replicas.length} tianxingd "serve" services; two or more are needed`);
if (migrates.length !== 1) fail(composeFile, `expected one "migrate" service, found ${migrates.length}`);
const [migrateName, migrate] = migrates[0] ?? [];
const pg = Object.entries(services).find(([, s]) => /^postgres(:|$)/.test(String(s.image ?? '')));
if (!pg) fail(composeFile, 'no PostgreSQL service (image postgres:...)');
else if (migrate && dependsOn(migrate, pg[0]) !== 'service_healthy') fail(composeFile, `${migrateName} must depend on ${pg[0]} with condition service_healthy`);
if (pg && !pg[1].healthcheck) fail(composeFile, `${pg[0]} has no healthcheck (the migration waits for it)`);

for (const [name, s] of [...replicas, ...migrates]) {
  for (const k of Object.keys(envOf(s))) {
    if (known && k.startsWith('TIANXING_') && !known.has(k)) fail(composeFile, `${name}: ${k} is not a setting in ${interfaces} (tianxingd would refuse to start)`);
  }
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const [firstName, first] = replicas[0] ?? [];
for (const [name, s] of replicas) {
  const env = envOf(s);
  if (env.TIANXING_MIGRATE_ON_START !== 'false') fail(composeFile, `${name}: TIANXING_MIGRATE_ON_START must be "false" (the ${migrateName ?? 'migrate'} service migrates)`);
  if (env.TIANXING_MIGRATE_DATABASE_URL !== undefined) fail(composeFile, `${name}: a serving replica must not hold the owner role's URL`);
  if (migrateName && dependsOn(s, migrateName) !== 'service_completed_successfully') fail(composeFile, `${name} must depend on ${migrateName} with condition service_completed_successfully`);
  // Tokens signed by one replica are verified by the other; customers encrypted by one are
  // opened by the other: same image, settings and key files.
  if (!env.TIANXING_SIGNING_KEY_FILE) fail(composeFile, `${name}: no TIANXING_SIGNING_KEY_FILE (each replica would sign with a key of its own)`);
  if (first && name !== firstName) {
    if (!same(s.image, first.image)) fail(composeFile, `${name}: image differs from ${firstName}`);
    if (!same(env, envOf(first))) fail(composeFile, `${name}: environment differs from ${firstName}`);
    if (!same(s.secrets, first.secrets)) fail(composeFile, `${name}: secrets differ from ${firstName}`);
  }
}

// The proxy: nginx's upstream block must name every replica on its port, and nothing else.
const nginx = readFileSync(nginxFile, 'utf8').replace(/#.*$/gm, '');
const upstream = /upstream\s+\S+\s*\{([^}]*)\}/.exec(nginx);
if (!upstream) fail(nginxFile, 'no upstream block');
else {
  const servers = [...upstream[1].matchAll(/^\s*server\s+([^\s:;]+):([0-9]+)/gm)].map((m) => ({ host: m[1], port: m[2] }));
  const names = new Set(servers.map((x) => x.host));
  for (const [name, s] of replicas) {
    const port = envOf(s).TIANXING_PORT ?? '8080';
    if (!servers.some((x) => x.host === name && x.port === port)) fail(nginxFile, `upstream does not list ${name}:${port}`);
  }
  for (const n of names) if (!replicas.some(([name]) => name === n)) fail(nginxFile, `upstream server ${n} is not a tianxingd replica in ${composeFile}`);
  const proxy = Object.entries(services).find(([, s]) => (s.volumes ?? []).some((v) => String(v).includes('nginx.conf')));
  if (!proxy) fail(composeFile, `no service mounts ${nginxFile}`);
}

if (problems.length) {
  for (const p of problems) console.error(`compose-check: ${p}`);
  process.exit(1);
}
console.log(`compose-check: ok (${replicas.length} replicas in ${composeFile}, ${nginxFile})`);
