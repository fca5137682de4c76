#!/usr/bin/env node
// Structural checks of deploy/k8s and docker/Dockerfile that yamllint cannot
// make: only the kinds we mean to ship, the fields a cluster needs to run the
// service safely, and cross-references between the files (names, ports,
// labels, the shutdown budget, the image's user). No cluster is needed.
//
//   node tests/deploy/k8s-check.mjs --k8s DIR --dockerfile FILE [--interfaces docs/interfaces.md]
//
// Prints one line per problem and exits 1 when there is any.
import { readFileSync, readdirSync } from 'node:fs';
import { join, basename } from 'node:path';
import { parseAllDocuments } from 'yaml';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const k8sDir = opt('--k8s') ?? 'deploy/k8s';
// --readme FILE: every Secret the manifests use must be documented there.
const dockerfile = opt('--dockerfile') ?? 'docker/Dockerfile';
const interfaces = opt('--interfaces');

const problems = [];
const fail = (where, msg) => problems.push(`${where}: ${msg}`);

const ALLOWED = new Set([
  'apps/v1 Deployment',
  'v1 Service',
  'v1 ConfigMap',
  'policy/v1 PodDisruptionBudget',
  'autoscaling/v2 HorizontalPodAutoscaler',
  'networking.k8s.io/v1 NetworkPolicy',
  'postgresql.cnpg.io/v1 Cluster',
  'postgresql.cnpg.io/v1 Pooler',
  'postgresql.cnpg.io/v1 ScheduledBackup',
  'kustomize.config.k8s.io/v1beta1 Kustomization',
]);
const readme = opt('--readme');

// Setting names tianxingd knows: it exits on unknown TIANXING_* keys, so a
// typo in a manifest would crash-loop every pod.
let knownSettings = null;
if (interfaces) {
  knownSettings = new Set(
    [...readFileSync(interfaces, 'utf8').matchAll(/^\|\s*(TIANXING_[A-Z0-9_]+)\s*\|/gm)].map((m) => m[1]),
  );
  if (knownSettings.size === 0) fail(interfaces, 'no TIANXING_* settings table found');
}

// ---- load every document ---------------------------------------------------
const files = readdirSync(k8sDir).filter((f) => /\.ya?ml$/.test(f)).sort();
const docs = []; // {file, obj}
for (const f of files) {
  const path = join(k8sDir, f);
  for (const d of parseAllDocuments(readFileSync(path, 'utf8'))) {
    if (d.errors.length) {
      for (const e of d.errors) fail(path, `YAML: ${e.message}`);
      continue;
    }
    const obj = d.toJS();
    if (obj === null || obj === undefined) continue;
    docs.push({ file: path, obj });
  }
}
if (docs.length === 0) fail(k8sDir, 'no Kubernetes documents');

const where = (d) => `${d.file} ${d.obj?.kind ?? '?'}/${d.obj?.metadata?.name ?? '?'}`;
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const byKind = (k) => docs.filter((d) => d.obj.kind === k);

for (const d of docs) {
  const { apiVersion, kind } = d.obj;
  if (!ALLOWED.has(`${apiVersion} ${kind}`)) {
    fail(d.file, `apiVersion/kind "${apiVersion} ${kind}" is not one of: ${[...ALLOWED].join(', ')}`);
    continue;
  }
  if (kind !== 'Kustomization' && !d.obj.metadata?.name) fail(where(d), 'metadata.name missing');
}

// ---- ConfigMaps ------------------------------------------------------------
const configMaps = new Map(byKind('ConfigMap').map((d) => [d.obj.metadata?.name, d]));
const checkSettingName = (w, name) => {
  if (knownSettings && name.startsWith('TIANXING_') && !knownSettings.has(name)) {
    fail(w, `${name} is not a setting in ${interfaces} (tianxingd would refuse to start)`);
  }
};
for (const d of configMaps.values()) {
  const data = d.obj.data ?? {};
  if (!isObj(data)) fail(where(d), 'data must be a mapping');
  for (const [k, v] of Object.entries(data)) {
    // An unquoted 8080 or true is rejected by the API server.
    if (typeof v !== 'string') fail(where(d), `data.${k} must be a string (quote it), got ${typeof v}`);
    if (!k.startsWith('TIANXING_')) fail(where(d), `data.${k}: only TIANXING_* settings belong here`);
    if (/DATABASE_URL/.test(k)) fail(where(d), `data.${k}: database URLs carry credentials; use the Secret`);
    checkSettingName(where(d), k);
  }
}

// ---- Deployments -----------------------------------------------------------
const podLabelSets = [];
const dbSecretKeys = new Map(); // key of the Secret tianxing-db -> the container that reads it
let readReplicaUsed = false; // a serving container gets TIANXING_READ_DATABASE_URL
const containerPorts = []; // {name, number}
let runAsUser;
for (const d of byKind('Deployment')) {
  const w = where(d);
  const spec = d.obj.spec ?? {};
  // With an autoscaler the Deployment must not set replicas (every apply would reset the
  // autoscaler's count); the autoscaler's minimum then carries the ">= 2" rule.
  const hpa = docs.find((x) => x.obj.kind === 'HorizontalPodAutoscaler' && x.obj.spec?.scaleTargetRef?.kind === 'Deployment' && x.obj.spec?.scaleTargetRef?.name === d.obj.metadata?.name);
  if (hpa) {
    if (spec.replicas !== undefined) fail(w, `spec.replicas must be left to the HorizontalPodAutoscaler ${hpa.obj.metadata?.name}`);
  } else if (!(Number.isInteger(spec.replicas) && spec.replicas >= 2)) fail(w, 'spec.replicas must be >= 2 (or an autoscaler with minReplicas >= 2)');
  const tpl = spec.template ?? {};
  const labels = tpl.metadata?.labels ?? {};
  podLabelSets.push(labels);
  const sel = spec.selector?.matchLabels;
  if (!isObj(sel) || Object.keys(sel).length === 0) fail(w, 'spec.selector.matchLabels missing');
  else for (const [k, v] of Object.entries(sel)) {
    if (labels[k] !== v) fail(w, `selector ${k}=${v} does not match the pod template labels`);
  }
  const pod = tpl.spec ?? {};
  const podSec = pod.securityContext ?? {};
  runAsUser = podSec.runAsUser;
  const containers = pod.containers ?? [];
  const inits = pod.initContainers ?? [];
  if (!Array.isArray(containers) || containers.length === 0) fail(w, 'no containers');

  // The shutdown budget: what the serving container is told vs. what the pod allows.
  let shutdownGrace = 10; // tianxingd's default (docs/interfaces.md)
  let preStopSleep = 0;
  for (const c of [...inits, ...containers]) {
    const cw = `${w} container ${c?.name ?? '?'}`;
    if (!c?.name) fail(cw, 'name missing');
    if (typeof c?.image !== 'string' || c.image.trim() === '') fail(cw, 'image missing');
    const sec = c.securityContext ?? {};
    if ((sec.runAsNonRoot ?? podSec.runAsNonRoot) !== true) fail(cw, 'runAsNonRoot must be true');
    if (sec.readOnlyRootFilesystem !== true) fail(cw, 'securityContext.readOnlyRootFilesystem must be true');
    if (sec.allowPrivilegeEscalation !== false) fail(cw, 'securityContext.allowPrivilegeEscalation must be false');
    if (!(sec.capabilities?.drop ?? []).includes('ALL')) fail(cw, 'securityContext.capabilities.drop must include ALL');
    if (!c.resources?.requests || !c.resources?.limits?.memory) fail(cw, 'resources.requests and resources.limits.memory required');
    for (const e of c.env ?? []) {
      checkSettingName(cw, e.name);
      if ('value' in e && typeof e.value !== 'string') fail(cw, `env ${e.name}: value must be a string (quote it)`);
      if (/DATABASE_URL$/.test(e.name)) {
        const ref = e.valueFrom?.secretKeyRef;
        if (!ref) fail(cw, `env ${e.name} must come from a secretKeyRef`);
        else if (ref.name !== 'tianxing-db') fail(cw, `env ${e.name} must come from the Secret tianxing-db`);
        else dbSecretKeys.set(ref.key, cw);
        if (e.name === 'TIANXING_READ_DATABASE_URL' && containers.includes(c)) readReplicaUsed = true;
      }
      if (e.name === 'TIANXING_SHUTDOWN_GRACE' && containers.includes(c)) shutdownGrace = Number(e.value);
    }
    for (const ef of c.envFrom ?? []) {
      const n = ef.configMapRef?.name;
      if (n === undefined) continue;
      if (!configMaps.has(n)) fail(cw, `envFrom ConfigMap ${n} is not defined in ${k8sDir}`);
      else if (containers.includes(c)) {
        const g = configMaps.get(n).obj.data?.TIANXING_SHUTDOWN_GRACE;
        if (g !== undefined && !(c.env ?? []).some((e) => e.name === 'TIANXING_SHUTDOWN_GRACE')) shutdownGrace = Number(g);
      }
    }
    if (!containers.includes(c)) continue; // init containers neither serve nor get probed

    const ports = c.ports ?? [];
    for (const p of ports) containerPorts.push({ name: p.name, number: p.containerPort });
    const portOk = (p) => ports.some((cp) => cp.name === p || cp.containerPort === p);
    for (const [probe, path] of [['readinessProbe', '/readyz'], ['livenessProbe', '/healthz']]) {
      const g = c[probe]?.httpGet;
      if (!g) fail(cw, `${probe}.httpGet missing`);
      else {
        if (g.path !== path) fail(cw, `${probe} must GET ${path} (got ${g.path})`);
        if (!portOk(g.port)) fail(cw, `${probe} port ${g.port} is not a container port`);
      }
    }
    const cmd = c.lifecycle?.preStop?.exec?.command;
    if (Array.isArray(cmd) && cmd[0] === 'sleep') preStopSleep = Number(cmd[1]) || 0;
  }
  const tgps = pod.terminationGracePeriodSeconds ?? 30;
  if (!Number.isFinite(shutdownGrace)) fail(w, 'TIANXING_SHUTDOWN_GRACE is not a number');
  else if (!(tgps > shutdownGrace + preStopSleep)) {
    fail(w, `terminationGracePeriodSeconds (${tgps}) must exceed preStop sleep (${preStopSleep}) + TIANXING_SHUTDOWN_GRACE (${shutdownGrace})`);
  }
}
if (byKind('Deployment').length === 0) fail(k8sDir, 'no Deployment');

// ---- Services --------------------------------------------------------------
for (const d of byKind('Service')) {
  const w = where(d);
  const sel = d.obj.spec?.selector;
  if (!isObj(sel) || Object.keys(sel).length === 0) fail(w, 'spec.selector missing');
  else if (!podLabelSets.some((l) => Object.entries(sel).every(([k, v]) => l[k] === v))) {
    fail(w, 'spec.selector matches no Deployment pod template');
  }
  const ports = d.obj.spec?.ports ?? [];
  if (ports.length === 0) fail(w, 'spec.ports missing');
  for (const p of ports) {
    const t = p.targetPort ?? p.port;
    if (!containerPorts.some((cp) => cp.name === t || cp.number === t)) fail(w, `targetPort ${t} is not a container port`);
  }
}

// ---- Kustomization ---------------------------------------------------------
const kusts = byKind('Kustomization');
if (kusts.length !== 1) fail(k8sDir, `expected one Kustomization, found ${kusts.length}`);
for (const d of kusts) {
  const res = d.obj.resources ?? [];
  const others = files.filter((f) => !/^kustomization\.ya?ml$/.test(f));
  for (const r of res) if (!files.includes(r)) fail(where(d), `resource ${r} does not exist`);
  for (const f of others) if (!res.includes(f)) fail(where(d), `${f} is not listed in resources`);
  if (!files.includes('kustomization.yaml') && !files.includes('kustomization.yml')) {
    fail(d.file, 'the Kustomization must be in kustomization.yaml');
  }
  const images = new Set(
    byKind('Deployment').flatMap((x) => [
      ...(x.obj.spec?.template?.spec?.containers ?? []),
      ...(x.obj.spec?.template?.spec?.initContainers ?? []),
    ]).map((c) => String(c.image).replace(/@.*$/, '').replace(/:[^/:]*$/, '')),
  );
  for (const i of d.obj.images ?? []) {
    if (!images.has(i.name)) fail(where(d), `images entry ${i.name} matches no container image`);
  }
}

// ---- Dockerfile: the runtime (last) stage runs as a non-root user ----------
{
  let text = '';
  try {
    text = readFileSync(dockerfile, 'utf8');
  } catch (e) {
    fail(dockerfile, `cannot read: ${e.message}`);
  }
  // Join continuation lines, drop comments.
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const lastFrom = lines.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true);
  if (text && lastFrom < 0) fail(dockerfile, 'no FROM');
  const stage = lines.slice(lastFrom + 1);
  const users = stage.filter((l) => /^USER\s/i.test(l)).map((l) => l.split(/\s+/)[1]);
  const user = users.at(-1);
  if (text && user === undefined) fail(dockerfile, 'the runtime stage has no USER (it would run as root)');
  else if (user !== undefined) {
    const [u] = user.split(':');
    if (u === 'root' || u === '0') fail(dockerfile, `the runtime stage runs as ${user}`);
    if (runAsUser !== undefined && /^\d+$/.test(u) && Number(u) !== runAsUser) {
      fail(dockerfile, `USER ${u} differs from the Deployment's runAsUser ${runAsUser}`);
    }
  }
  const exposed = stage.filter((l) => /^EXPOSE\s/i.test(l)).flatMap((l) => l.split(/\s+/).slice(1)).map((p) => Number(p.split('/')[0]));
  for (const cp of containerPorts) {
    if (text && !exposed.includes(cp.number)) fail(dockerfile, `container port ${cp.number} is not EXPOSEd by the runtime stage`);
  }
}

// ---- many replicas: autoscaler, disruption budget, network policy ----------
const selects = (sel) => isObj(sel) && Object.keys(sel).length > 0 && podLabelSets.some((l) => Object.entries(sel).every(([k, v]) => l[k] === v));
const hpas = byKind('HorizontalPodAutoscaler');
for (const d of hpas) {
  const w = where(d);
  const { minReplicas, maxReplicas, scaleTargetRef: t } = d.obj.spec ?? {};
  if (!byKind('Deployment').some((x) => t?.kind === 'Deployment' && x.obj.metadata?.name === t?.name)) fail(w, `scaleTargetRef ${t?.kind}/${t?.name} is not a Deployment here`);
  // One replica would make every rollout, drain or crash an outage.
  if (!(Number.isInteger(minReplicas) && minReplicas >= 2)) fail(w, 'spec.minReplicas must be >= 2');
  if (!(Number.isInteger(maxReplicas) && maxReplicas >= (minReplicas ?? 1))) fail(w, 'spec.maxReplicas must be >= minReplicas');
}
const minReplicas = Math.min(...hpas.map((d) => d.obj.spec?.minReplicas ?? Infinity), ...byKind('Deployment').map((d) => d.obj.spec?.replicas ?? Infinity));
const maxReplicas = Math.max(0, ...hpas.map((d) => d.obj.spec?.maxReplicas ?? 0), ...byKind('Deployment').map((d) => d.obj.spec?.replicas ?? 0));

const pdbs = byKind('PodDisruptionBudget');
if (pdbs.length === 0) fail(k8sDir, 'no PodDisruptionBudget: a node drain could stop every replica at once');
for (const d of pdbs) {
  const w = where(d);
  const { minAvailable, maxUnavailable, selector } = d.obj.spec ?? {};
  if (!selects(selector?.matchLabels)) fail(w, 'spec.selector.matchLabels matches no Deployment pod template');
  // Percentages are not judged here; integers must leave one pod serving and let one go (a
  // budget that allows no disruption blocks every node drain forever).
  if (Number.isInteger(minAvailable) && !(minAvailable >= 1 && minAvailable < minReplicas)) fail(w, `minAvailable ${minAvailable} must be in 1..${minReplicas - 1} (min replicas ${minReplicas})`);
  if (Number.isInteger(maxUnavailable) && !(maxUnavailable >= 1 && maxUnavailable < minReplicas)) fail(w, `maxUnavailable ${maxUnavailable} must be in 1..${minReplicas - 1} (min replicas ${minReplicas})`);
  if (minAvailable === undefined && maxUnavailable === undefined) fail(w, 'neither minAvailable nor maxUnavailable');
}

// The service may receive from the ingress controller only, and send to the database (CNPG
// Cluster or Pooler pods defined here) and DNS only.
const clusters = new Map(byKind('Cluster').map((d) => [d.obj.metadata?.name, d]));
const poolers = new Map(byKind('Pooler').map((d) => [d.obj.metadata?.name, d]));
const netpols = byKind('NetworkPolicy');
if (netpols.length === 0) fail(k8sDir, 'no NetworkPolicy for tianxingd');
for (const d of netpols) {
  const w = where(d);
  const spec = d.obj.spec ?? {};
  if (!selects(spec.podSelector?.matchLabels)) fail(w, 'spec.podSelector matches no Deployment pod template');
  for (const t of ['Ingress', 'Egress']) if (!(spec.policyTypes ?? []).includes(t)) fail(w, `policyTypes must include ${t}`);
  for (const r of spec.ingress ?? []) {
    if (!(r.from?.length > 0)) fail(w, 'an ingress rule without "from" admits everyone');
    for (const p of r.from ?? []) {
      if (p.ipBlock) fail(w, 'ingress from an ipBlock: only the ingress controller (namespaceSelector) may connect');
      if (!p.namespaceSelector) fail(w, 'ingress peer without namespaceSelector: only the ingress controller may connect');
    }
    for (const p of r.ports ?? []) if (!containerPorts.some((cp) => cp.name === p.port || cp.number === p.port)) fail(w, `ingress port ${p.port} is not a container port`);
    if (!(r.ports?.length > 0)) fail(w, 'an ingress rule without ports opens every port');
  }
  for (const r of spec.egress ?? []) {
    const ports = (r.ports ?? []).map((p) => p.port);
    if (!(r.to?.length > 0) || ports.length === 0) {
      fail(w, 'an egress rule without "to" or without ports allows everything');
      continue;
    }
    for (const p of r.to) {
      const l = p.podSelector?.matchLabels ?? {};
      const dns = ports.every((x) => x === 53) && l['k8s-app'] === 'kube-dns';
      const db = ports.every((x) => x === 5432) && (clusters.has(l['cnpg.io/cluster']) || poolers.has(l['cnpg.io/poolerName']));
      if (p.ipBlock || !(dns || db)) fail(w, `egress to ${JSON.stringify(p)} on ${ports.join(',')}: only the database (a Cluster or Pooler defined here, 5432) and DNS (kube-dns, 53) are allowed`);
    }
  }
}

// ---- CloudNativePG ---------------------------------------------------------
const poolSize = (() => {
  for (const d of configMaps.values()) if (d.obj.data?.TIANXING_DB_POOL_SIZE !== undefined) return Number(d.obj.data.TIANXING_DB_POOL_SIZE);
  return 4; // tianxingd's default (docs/interfaces.md)
})();
if (clusters.size === 0) fail(k8sDir, 'no CloudNativePG Cluster');
for (const d of clusters.values()) {
  const w = where(d);
  const spec = d.obj.spec ?? {};
  if (!(spec.instances >= 3)) fail(w, 'spec.instances must be >= 3 (a primary and two standbys)');
  const sync = spec.postgresql?.synchronous;
  if (!(sync?.number >= 1 && sync.number < spec.instances)) fail(w, 'spec.postgresql.synchronous.number must be in 1..instances-1 (synchronous replication)');
  // "preferred" would let the primary commit alone when standbys are gone: an acknowledged write
  // could then be lost in a failover.
  if (sync && sync.dataDurability !== 'required') fail(w, 'spec.postgresql.synchronous.dataDurability must be "required"');
  const app = (spec.managed?.roles ?? []).find((r) => r.name === 'tianxing_app');
  if (!app) fail(w, 'managed.roles has no tianxing_app (the runtime role)');
  else for (const a of ['superuser', 'bypassrls', 'createrole', 'createdb', 'inherit']) {
    // Row-level security must always apply to the runtime role (sql/bootstrap.sql).
    if (app[a] !== false) fail(w, `managed role tianxing_app: ${a} must be false`);
  }
  if (spec.bootstrap?.initdb?.owner !== 'tianxing_owner') fail(w, 'bootstrap.initdb.owner must be tianxing_owner (sql/bootstrap.sql)');
  // Connections: every pod's pool at the autoscaler's maximum, one migration connection per pod
  // starting, and a reserve for the operator, replication and a person with psql.
  const max = Number(spec.postgresql?.parameters?.max_connections ?? 100);
  const needed = maxReplicas * (poolSize + 1) + 20;
  if (needed > max) fail(w, `max_connections ${max} < ${needed}: ${maxReplicas} replicas x (TIANXING_DB_POOL_SIZE ${poolSize} + 1 migration) + 20 reserved`);
}
// Report connections land on the standbys (the -ro service balances over them; after a failure
// one standby may hold them all), whose max_connections is the Cluster's.
const readPoolSize = (() => {
  for (const d of configMaps.values()) if (d.obj.data?.TIANXING_READ_DB_POOL_SIZE !== undefined) return Number(d.obj.data.TIANXING_READ_DB_POOL_SIZE);
  return poolSize; // tianxingd's default: the primary pool's size (docs/interfaces.md)
})();
if (readReplicaUsed) {
  for (const d of clusters.values()) {
    const max = Number(d.obj.spec?.postgresql?.parameters?.max_connections ?? 100);
    const needed = maxReplicas * (readPoolSize || poolSize) + 20;
    if (needed > max) fail(where(d), `max_connections ${max} < ${needed} on a standby: ${maxReplicas} replicas x TIANXING_READ_DB_POOL_SIZE ${readPoolSize || poolSize} + 20 reserved`);
  }
}
for (const d of [...byKind('Pooler'), ...byKind('ScheduledBackup')]) {
  const n = d.obj.spec?.cluster?.name;
  if (!clusters.has(n)) fail(where(d), `spec.cluster.name ${n} is not a Cluster here`);
}
for (const d of poolers.values()) {
  const w = where(d);
  const pg = d.obj.spec?.pgbouncer ?? {};
  // tianxingd prepares statements per connection and sets timeouts per session.
  if (pg.poolMode !== 'session') fail(w, `pgbouncer.poolMode must be session (got ${pg.poolMode}): tianxingd prepares statements per connection`);
  if (d.obj.spec?.type !== 'rw') fail(w, 'type must be rw: the service writes');
  const size = Number(pg.parameters?.default_pool_size ?? 20);
  if (size < maxReplicas * poolSize) fail(w, `default_pool_size ${size} < ${maxReplicas} replicas x TIANXING_DB_POOL_SIZE ${poolSize}: in session mode each client connection holds a server connection`);
}
for (const d of byKind('ScheduledBackup')) {
  const w = where(d);
  const c = clusters.get(d.obj.spec?.cluster?.name);
  const method = d.obj.spec?.method ?? 'barmanObjectStore';
  if (method === 'barmanObjectStore' && c && !c.obj.spec?.backup?.barmanObjectStore?.destinationPath) fail(w, 'method barmanObjectStore but the Cluster has no backup.barmanObjectStore.destinationPath');
  const fields = String(d.obj.spec?.schedule ?? '').trim().split(/\s+/);
  if (fields.length !== 6) fail(w, `schedule "${d.obj.spec?.schedule}" must have six fields (seconds first)`);
}
if (byKind('ScheduledBackup').length === 0) fail(k8sDir, 'no ScheduledBackup');

// ---- the Secret tianxing-db as the k8s README creates it -------------------
// No credential is in git, so the URLs are only spelled in the documented `kubectl create secret
// generic tianxing-db` command: it must create every key a Deployment reads, and the read replica's
// URL must name the -ro service (the standbys) of the Cluster whose primary the service URL names,
// with the same role and database: a -rw there would put reports back on the primary, another
// cluster's -ro would serve another database's data.
if (dbSecretKeys.size > 0) {
  const k8sReadme = join(k8sDir, 'README.md');
  let text = '';
  try {
    text = readFileSync(k8sReadme, 'utf8');
  } catch (e) {
    fail(k8sReadme, `cannot read (it must say how to create the Secret tianxing-db): ${e.message}`);
  }
  const cmd = /kubectl create secret generic tianxing-db[ \t]+((?:[^\n]*\\\n)*[^\n]*)/.exec(text)?.[1];
  if (text && cmd === undefined) fail(k8sReadme, 'no `kubectl create secret generic tianxing-db` command');
  const literals = new Map([...(cmd ?? '').matchAll(/--from-literal=([A-Z0-9_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  for (const [k, cw] of dbSecretKeys) {
    if (cmd !== undefined && !literals.has(k)) fail(k8sReadme, `the tianxing-db command does not create ${k}, which ${cw} reads`);
  }
  const parse = (url) => {
    const m = /^postgresql:\/\/([^:@/]+)(?::[^@]*)?@([^:/?]+)(?::\d+)?\/([^?]*)/.exec(url ?? '');
    return m && { user: m[1], host: m[2], db: m[3] };
  };
  if (readReplicaUsed && literals.has('TIANXING_READ_DATABASE_URL')) {
    const rw = parse(literals.get('TIANXING_DATABASE_URL'));
    const ro = parse(literals.get('TIANXING_READ_DATABASE_URL'));
    // The service's cluster: <cluster>-rw, or a Pooler here in front of a Cluster here.
    const cluster = rw && (clusters.has(rw.host.replace(/-rw$/, '')) && rw.host.endsWith('-rw')
      ? rw.host.replace(/-rw$/, '')
      : poolers.get(rw.host)?.obj.spec?.cluster?.name);
    if (!cluster || !clusters.has(cluster)) fail(k8sReadme, `TIANXING_DATABASE_URL does not name the -rw service of a Cluster (or a Pooler) here: ${literals.get('TIANXING_DATABASE_URL')}`);
    else if (!ro) fail(k8sReadme, `TIANXING_READ_DATABASE_URL is not a postgresql:// URL: ${literals.get('TIANXING_READ_DATABASE_URL')}`);
    else {
      if (ro.host !== `${cluster}-ro`) fail(k8sReadme, `TIANXING_READ_DATABASE_URL must point at ${cluster}-ro (the standbys of the service's Cluster), not ${ro.host}`);
      if (ro.user !== rw.user || ro.db !== rw.db) fail(k8sReadme, `TIANXING_READ_DATABASE_URL must use the role and database of TIANXING_DATABASE_URL (${rw.user}, ${rw.db}), not ${ro.user}, ${ro.db}`);
    }
  }
}

// ---- every Secret used is documented ---------------------------------------
if (readme) {
  const text = readFileSync(readme, 'utf8');
  const names = new Set();
  const walk = (v, key) => {
    if (Array.isArray(v)) return v.forEach((x) => walk(x, key));
    if (!isObj(v)) return;
    if (['secretKeyRef', 'secretRef', 'passwordSecret', 'secret', 'accessKeyId', 'secretAccessKey', 'authQuerySecret'].includes(key) && typeof v.name === 'string') names.add(v.name);
    if (key === 'secret' && typeof v.secretName === 'string') names.add(v.secretName);
    for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  for (const d of docs) walk(d.obj, '');
  for (const n of names) if (!text.includes(n)) fail(readme, `Secret ${n} (used in ${k8sDir}) is not documented`);
}

if (problems.length) {
  for (const p of problems) console.error(`k8s-check: ${p}`);
  process.exit(1);
}
console.log(`k8s-check: ok (${docs.length} documents in ${basename(k8sDir)}, ${dockerfile})`);
