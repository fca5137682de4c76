// Writes report.json and report.md of one tests/bench/run from its raw outputs:
//   node tests/bench/report.mjs RESULTS_DIR [--check]
// RESULTS_DIR/raw/manifest.jsonl lists the runs (wrk: a "TXBENCH {json}" line printed by
// common.lua's done(); pgbench: its summary), raw/load.jsonl the loader's lines, and the TXB_*
// environment of tests/bench/run the rest (machine, settings, peak RSS).
// --check (the smoke mode): the report must match the schema below, every run must have made
// requests without a single failure, every reference must have run to its end. Never a speed.
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../package.json', import.meta.url));
const Ajv = require('ajv');

const [dir, ...flags] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node tests/bench/report.mjs RESULTS_DIR [--check]');
  process.exit(2);
}
const check = flags.includes('--check');
const raw = path.join(dir, 'raw');
const env = process.env;
const lines = (file) =>
  readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
const round = (x, d = 2) => (x == null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);
const problems = [];
const cores = os.cpus().length;

// CPU (tests/bench/run cpu_json: seconds of CPU over the measured run, wall_s its length) per
// request or transaction, in milliseconds; null when not measured (db_s: an external database).
const perMs = (s, n) => (s == null || !(n > 0) ? null : round((s * 1000) / n, 3));
function cpuPerRequest(cpu, requests) {
  if (!cpu) return { cpu_ms_per_req: null, cpu_busy: null };
  const total = cpu.service_s + (cpu.db_s ?? 0) + cpu.wrk_s;
  return {
    cpu_ms_per_req: requests > 0
      ? { service: perMs(cpu.service_s, requests), db: perMs(cpu.db_s, requests), wrk: perMs(cpu.wrk_s, requests) }
      : null,
    // The share of the machine the three kept busy: 1 = every core, the whole run; null without
    // the database's part (an external database), which would pass for an idle machine.
    cpu_busy: cpu.wall_s > 0 && cpu.db_s != null ? round(total / (cpu.wall_s * cores), 3) : null,
  };
}

function readWrk(entry) {
  const text = readFileSync(path.join(raw, entry.file), 'utf8');
  const m = text.match(/^TXBENCH (\{.*\})$/m);
  if (!m) {
    problems.push(`${entry.file}: no TXBENCH line`);
    return null;
  }
  const w = JSON.parse(m[1]);
  const socket = w.connect_errors + w.read_errors + w.write_errors + w.timeouts;
  return {
    rps: round(w.requests / (w.duration_us / 1e6), 1),
    requests: w.requests,
    p50_ms: round(w.p50_us / 1000, 3),
    p90_ms: round(w.p90_us / 1000, 3),
    p99_ms: round(w.p99_us / 1000, 3),
    max_ms: round(w.max_us / 1000, 3),
    non2xx: w.non2xx,
    socket_errors: socket,
    connections: entry.connections,
    rss_mib: entry.rss_kib ? round(entry.rss_kib / 1024, 1) : null,
    cpu: entry.cpu ?? null,
    ...cpuPerRequest(entry.cpu, w.requests),
  };
}

function readPgbench(entry) {
  const text = readFileSync(path.join(raw, entry.file), 'utf8');
  const tps = text.match(/^tps = ([0-9.]+)/m);
  const lat = text.match(/^latency average = ([0-9.]+) ms/m);
  const failed = text.match(/^number of failed transactions: (\d+)/m);
  const processed = text.match(/^number of transactions actually processed: (\d+)/m);
  const transactions = processed ? Number(processed[1]) : null;
  const aborted = /client \d+ aborted/.test(text) || /Run was aborted/.test(text);
  if (!tps) problems.push(`${entry.file}: no tps line`);
  if (aborted) problems.push(`${entry.file}: a client aborted: ${(text.match(/.*aborted.*/) || [''])[0]}`);
  // Steady state: the progress reports (-P 1) after the first fifth of the run (at least the
  // first second), when the new backends have warmed up.
  const skip = Math.max(1, (entry.seconds || 0) / 5);
  const steady = [...text.matchAll(/^progress: ([0-9.]+) s, ([0-9.]+) tps/gm)]
    .filter((p) => Number(p[1]) > skip)
    .map((p) => Number(p[2]));
  const overall = tps ? Number(tps[1]) : null;
  return {
    reference: entry.reference || 'same',
    mode: entry.mode,
    connections: entry.connections,
    tps: steady.length ? round(steady.reduce((a, b) => a + b, 0) / steady.length, 1) : round(overall, 1),
    tps_overall: round(overall, 1),
    latency_avg_ms: lat ? Number(lat[1]) : null,
    failed: failed ? Number(failed[1]) : 0,
    aborted,
    // The database's CPU over the whole run (its first second too) per transaction processed;
    // pgbench's own CPU apart.
    transactions,
    cpu: entry.cpu ?? null,
    db_cpu_ms_per_tx: entry.cpu ? perMs(entry.cpu.db_s, transactions) : null,
    pgbench_cpu_ms_per_tx: entry.cpu ? perMs(entry.cpu.pgbench_s, transactions) : null,
  };
}

const manifest = lines(path.join(raw, 'manifest.jsonl'));
// The rounds (tests/bench/run --rounds, --settings): set -> round -> phase -> scenario ->
// {service, references[], timing, failures[], wall_seconds}. A line without set or round (a
// manifest of before them) belongs to the first round of the settings the run names.
const defaultSet = env.TXB_DURABLE === '1' ? 'durable' : 'speed';
const setInfo = new Map(); // set name -> its "set" line (settings, rounds)
const tree = new Map();
const parts = [];
const failures = [];
const roundOf = (e) => {
  const set = e.set || defaultSet;
  if (!tree.has(set)) tree.set(set, new Map());
  const rounds = tree.get(set);
  const r = e.round || 1;
  if (!rounds.has(r)) rounds.set(r, {});
  return rounds.get(r);
};
for (const e of manifest) {
  const set = e.set || defaultSet;
  if (e.kind === 'set') { setInfo.set(set, e); roundOf(e); continue; }
  if (e.kind === 'part') { parts.push({ set, round: e.round || 1, name: e.name, seconds: e.seconds }); continue; }
  const phases = roundOf(e);
  const s = ((phases[e.phase] ??= {})[e.scenario] ??= { customers: e.customers, references: [], failures: [], wall_seconds: 0 });
  if (e.customers != null) s.customers ??= e.customers;
  s.wall_seconds += e.wall_seconds || 0;
  if (e.kind === 'wrk') s.service = readWrk(e);
  else if (e.kind === 'timing') s.timing = e;
  else if (e.kind === 'failure') {
    s.failures.push(e.reason);
    failures.push({ set, round: e.round || 1, phase: e.phase, scenario: e.scenario, reason: e.reason });
  } else s.references.push(readPgbench(e));
}

function scenarioRow(name, s) {
  const svc = s.service;
  const usable = s.references.filter((r) => r.tps != null && !r.aborted);
  const refs = usable.filter((r) => r.reference === 'same');
  // Issue 15: the minimal reference (the cheapest transaction that still does the scenario's job
  // under the same policies, pipelined: tests/bench/pg_*_min.sql): the best of its runs at the
  // pool's and the scenario's concurrency (the create's also at the service's writer turns).
  const minimal = usable.filter((r) => r.reference === 'minimal');
  const better = (a, r) => (a == null || r.tps > a.tps ? r : a);
  const bestMinimal = minimal.reduce(better, null);
  // Target 1's limit (the read: tests/bench/pg_read_floor.sql): the minimal reference plus the
  // PII read log row C2.3 asks of every full read, run as the minimal is; its best run.
  const floor = usable.filter((r) => r.reference === 'floor');
  const bestFloor = floor.reduce(better, null);
  // The read's document floor (tests/bench/pg_read_doc_floor.sql): the floor plus the rows the
  // customer document is made of, fetched under their policies, nothing computed; its best run.
  const docFloor = usable.filter((r) => r.reference === 'doc_floor');
  const bestDocFloor = docFloor.reduce(better, null);
  // The reference of issue 5: the same concurrency, the better of the two modes; and the best
  // of every reference run (the pool's concurrency too), the stricter comparison.
  const best = refs.filter((r) => !svc || r.connections === svc.connections).reduce(better, null);
  const bestAny = refs.reduce(better, null);
  // Database CPU per transaction of each reference at the service's pool size (the concurrency
  // the service puts on the database), pipelined as the service sends it when that mode ran.
  const atPool = (list) => {
    const pool = list.filter((r) => r.connections === Number(env.TXB_POOL_SIZE) && r.db_cpu_ms_per_tx != null);
    return (pool.find((r) => r.mode === 'pipeline') || pool[0])?.db_cpu_ms_per_tx ?? null;
  };
  return {
    name,
    rps: svc ? svc.rps : null,
    p50_ms: svc ? svc.p50_ms : null,
    p90_ms: svc ? svc.p90_ms : null,
    p99_ms: svc ? svc.p99_ms : null,
    max_ms: svc ? svc.max_ms : null,
    non2xx: svc ? svc.non2xx : null,
    socket_errors: svc ? svc.socket_errors : null,
    connections: svc ? svc.connections : null,
    requests: svc ? svc.requests : null,
    rss_mib_after: svc ? svc.rss_mib : null,
    customers: s.customers,
    reference_rps: best ? best.tps : null,
    reference_mode: best ? best.mode : null,
    ratio: best && svc ? round(svc.rps / best.tps, 3) : null,
    reference_best_rps: bestAny ? bestAny.tps : null,
    reference_best: bestAny ? `${bestAny.mode}, ${bestAny.connections} clients` : null,
    ratio_best: bestAny && svc ? round(svc.rps / bestAny.tps, 3) : null,
    reference_minimal_rps: bestMinimal ? bestMinimal.tps : null,
    reference_minimal: bestMinimal ? `${bestMinimal.mode}, ${bestMinimal.connections} clients` : null,
    ratio_minimal: bestMinimal && svc ? round(svc.rps / bestMinimal.tps, 3) : null,
    // The floor: ratio_floor is the service against the cheapest transaction that does a read's
    // whole job (log included); floor_to_minimal the share of the minimal that such a
    // transaction reaches on this machine, the ceiling ratio_minimal can reach keeping the log.
    reference_floor_rps: bestFloor ? bestFloor.tps : null,
    reference_floor: bestFloor ? `${bestFloor.mode}, ${bestFloor.connections} clients` : null,
    ratio_floor: bestFloor && svc ? round(svc.rps / bestFloor.tps, 3) : null,
    floor_to_minimal: bestFloor && bestMinimal ? round(bestFloor.tps / bestMinimal.tps, 3) : null,
    // The document floor: ratio_doc_floor is the service against the cheapest transaction that
    // also fetches what the document is made of; what is left between the two is the document's
    // computation (and HTTP), doc_floor_to_minimal the share of the minimal such a fetch reaches.
    reference_doc_floor_rps: bestDocFloor ? bestDocFloor.tps : null,
    reference_doc_floor: bestDocFloor ? `${bestDocFloor.mode}, ${bestDocFloor.connections} clients` : null,
    ratio_doc_floor: bestDocFloor && svc ? round(svc.rps / bestDocFloor.tps, 3) : null,
    doc_floor_to_minimal: bestDocFloor && bestMinimal ? round(bestDocFloor.tps / bestMinimal.tps, 3) : null,
    // CPU per request of the measured run ({service, db, wrk} ms; db null with an external
    // database), the share of all cores the three used, and the references' database CPU.
    cpu: svc ? svc.cpu : null,
    cpu_ms_per_req: svc ? svc.cpu_ms_per_req : null,
    cpu_busy: svc ? svc.cpu_busy : null,
    db_cpu_ms_per_tx: { same: atPool(refs), minimal: atPool(minimal), floor: atPool(floor), doc_floor: atPool(docFloor) },
    // tests/bench/run: the scenario could not be measured (its reasons), and its wall time
    // (wrk's warm-up and run, every reference run).
    failed: s.failures.length > 0,
    failure: s.failures.length ? s.failures.join('; ') : null,
    wall_seconds: round(s.wall_seconds, 1),
    references: s.references,
  };
}

// A slow client beside the readers (tests/bench/mixed.sh): read p99 with it over p99 without,
// for a request that waits on a lock (slow_request) and for a slow search doing real work
// (slow_search, with that client's own figures).
function besideOf(scenarios) {
  const alone = scenarios.find((x) => x.name === 'read_alone');
  const beside = (name) => {
    const mixed = scenarios.find((x) => x.name === name);
    return alone && mixed && alone.rps != null && mixed.rps != null ? {
      alone_p99_ms: alone.p99_ms,
      mixed_p99_ms: mixed.p99_ms,
      p99_ratio: alone.p99_ms > 0 ? round(mixed.p99_ms / alone.p99_ms, 3) : null,
      rps_ratio: alone.rps > 0 ? round(mixed.rps / alone.rps, 3) : null,
      readers: mixed.connections,
    } : null;
  };
  const slowRequest = beside('read_mixed');
  const slowSearchClient = scenarios.find((x) => x.name === 'slow_search');
  const slowSearch = beside('read_mixed_search');
  if (slowSearch && slowSearchClient) {
    Object.assign(slowSearch, { slow_rps: slowSearchClient.rps, slow_p50_ms: slowSearchClient.p50_ms,
      slow_requests: slowSearchClient.requests, slow_non2xx: slowSearchClient.non2xx });
  }
  return { slowRequest, slowSearch };
}

// The spread of a figure over the rounds: min, median (of an even count, the mean of the middle
// two, rounded to d decimals), max; null when no round has it.
const spreadOf = (xs, d = 3) => {
  const v = xs.filter((x) => x != null && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { min: v[0], median: round(median, d), max: v[v.length - 1], n: v.length };
};
const SPREAD = ['rps', 'p50_ms', 'p99_ms', 'ratio', 'ratio_best', 'ratio_minimal', 'reference_rps',
  'reference_best_rps', 'reference_minimal_rps', 'wall_seconds', 'reference_floor_rps', 'ratio_floor',
  'floor_to_minimal', 'reference_doc_floor_rps', 'ratio_doc_floor', 'doc_floor_to_minimal'];
const SUMMED = ['non2xx', 'socket_errors', 'requests'];
// aggregate(rows of one scenario, one per round it ran in): the row report.json has always had,
// its figures the medians over the rounds (a ratio: the median of the rounds' ratios, each
// measured in its own minutes), the counts summed, with the spread and every round's row.
function aggregate(rows) {
  const first = rows.find((r) => !r.failed) || rows[0];
  const out = { ...first };
  for (const k of SPREAD) out[k] = spreadOf(rows.map((r) => r[k]))?.median ?? null;
  for (const k of ['p90_ms', 'max_ms']) out[k] = spreadOf(rows.map((r) => r[k]))?.median ?? null;
  for (const k of SUMMED) out[k] = rows.some((r) => r[k] != null) ? rows.reduce((n, r) => n + (r[k] || 0), 0) : null;
  for (const k of ['reference_mode', 'reference_best', 'reference_minimal', 'reference_floor', 'reference_doc_floor']) {
    const seen = [...new Set(rows.map((r) => r[k]).filter(Boolean))];
    out[k] = seen.length ? seen.join(' / ') : null;
  }
  out.spread = Object.fromEntries(SPREAD.map((k) => [k, spreadOf(rows.map((r) => r[k]))]));
  // CPU: each part's median over the rounds, its spread under a flat name (cpu_service_ms, ...).
  const cpuSpread = (k, get) => (out.spread[k] = spreadOf(rows.map(get)));
  const cpuParts = { service: 'cpu_service_ms', db: 'cpu_db_ms', wrk: 'cpu_wrk_ms' };
  out.cpu_ms_per_req = rows.some((r) => r.cpu_ms_per_req)
    ? Object.fromEntries(Object.entries(cpuParts).map(([p, k]) => [p, cpuSpread(k, (r) => r.cpu_ms_per_req?.[p])?.median ?? null]))
    : null;
  out.cpu_busy = cpuSpread('cpu_busy', (r) => r.cpu_busy)?.median ?? null;
  out.db_cpu_ms_per_tx = {
    same: cpuSpread('db_cpu_ms_per_tx_same', (r) => r.db_cpu_ms_per_tx?.same)?.median ?? null,
    minimal: cpuSpread('db_cpu_ms_per_tx_minimal', (r) => r.db_cpu_ms_per_tx?.minimal)?.median ?? null,
    floor: cpuSpread('db_cpu_ms_per_tx_floor', (r) => r.db_cpu_ms_per_tx?.floor)?.median ?? null,
    doc_floor: cpuSpread('db_cpu_ms_per_tx_doc_floor', (r) => r.db_cpu_ms_per_tx?.doc_floor)?.median ?? null,
  };
  delete out.cpu;
  out.failed = rows.some((r) => r.failed);
  out.failure = rows.filter((r) => r.failed).map((r) => `round ${r.round}: ${r.failure}`).join('; ') || null;
  out.rounds = rows.map(({ references, ...r }) => ({ ...r, references }));
  delete out.references;
  delete out.round;
  return out;
}
function aggregateTimings(list) {
  const out = { ...(list.find((t) => t.seconds != null) || list[0]) };
  delete out.failure;
  const failed = list.filter((t) => t.failure);
  if (failed.length) out.failure = failed.map((t) => `round ${t.round}: ${t.failure}`).join('; ');
  // Seconds to the microsecond, as the timings are taken: rounded to the millisecond, a risk
  // indicator of the smoke's small data (0.44 ms, seen on a fast machine) became 0.
  for (const k of ['seconds', 'reference_seconds', 'statement_seconds']) {
    if (list.some((t) => t[k] != null)) {
      out[k] = spreadOf(list.map((t) => t[k]), 6)?.median ?? null;
      (out.spread ??= {})[k] = spreadOf(list.map((t) => t[k]), 6);
    }
  }
  out.rounds = list;
  delete out.round;
  return out;
}
function aggregateBeside(list) {
  const have = list.filter(Boolean);
  if (!have.length) return null;
  const out = { ...have[0] };
  for (const k of Object.keys(out)) {
    if (typeof out[k] === 'number') out[k] = spreadOf(have.map((x) => x[k]))?.median ?? null;
  }
  out.spread = { p99_ratio: spreadOf(have.map((x) => x.p99_ratio)), rps_ratio: spreadOf(have.map((x) => x.rps_ratio)) };
  out.rounds = list;
  return out;
}
// In order of first appearance, by name.
const byName = (rows) => {
  const m = new Map();
  for (const r of rows) {
    if (!m.has(r.name)) m.set(r.name, []);
    m.get(r.name).push(r);
  }
  return m;
};

// Every set of settings with its rounds, then its aggregate.
const sets = [];
for (const [name, rounds] of tree) {
  const info = setInfo.get(name);
  const detail = [];
  for (const [r, phases] of [...rounds].sort((a, b) => a[0] - b[0])) {
    const full = phases.full || {};
    const timings = [];
    const scenarios = [];
    for (const [n, sc] of Object.entries(full)) {
      // One-off measurements (the assessment month, the risk indicators): their own list.
      if (sc.timing) {
        const { kind, phase, set, round: _r, ...t } = sc.timing;
        timings.push({ ...t, round: r, ...(sc.failures.length ? { failure: sc.failures.join('; ') } : {}) });
        continue;
      }
      // A one-off (the assessment month, the risk indicators) that failed: a timing without time.
      if (/^(assessment|risk)_/.test(n) && !sc.service && !sc.references.length) {
        timings.push({ scenario: n, seconds: null, round: r, failure: sc.failures.join('; ') || 'no measurement' });
        continue;
      }
      scenarios.push({ ...scenarioRow(n, sc), round: r });
    }
    const { slowRequest, slowSearch } = besideOf(scenarios);
    const roundParts = parts.filter((p) => p.set === name && p.round === r);
    detail.push({
      round: r,
      scenarios,
      timings,
      slow_request: slowRequest,
      slow_search: slowSearch,
      failures: failures.filter((f) => f.set === name && f.round === r),
      wall_seconds: roundParts.find((p) => p.name === 'round')?.seconds ?? null,
      parts: roundParts,
      small: phases.small ? Object.entries(phases.small).map(([n, sc]) => scenarioRow(n, sc)) : null,
    });
  }
  const scenarioRows = [...byName(detail.flatMap((d) => d.scenarios))].map(([, rows]) => aggregate(rows));
  const timingRows = [...byName(detail.flatMap((d) => d.timings).map((t) => ({ ...t, name: t.scenario })))]
    .map(([, list]) => aggregateTimings(list.map(({ name: _n, ...t }) => t)));
  sets.push({
    name,
    durable: info ? info.durable : name === 'durable',
    postgresql: info ? info.postgresql : (env.TXB_PG_SETTINGS || '').split('\n').filter(Boolean),
    round_count: detail.filter((d) => d.scenarios.length || d.timings.length || d.failures.length).length,
    scenarios: scenarioRows,
    timings: timingRows,
    slow_request: aggregateBeside(detail.map((d) => d.slow_request)),
    slow_search: aggregateBeside(detail.map((d) => d.slow_search)),
    failures: failures.filter((f) => f.set === name),
    rounds: detail,
  });
}
// The first settings' figures where report.json has always had them.
const main = sets[0] || { scenarios: [], timings: [], slow_request: null, slow_search: null, rounds: [] };
const scenarios = main.scenarios;
const timings = main.timings;
const slowRequest = main.slow_request;
const slowSearch = main.slow_search;

// Scaling: the small phase of round r against the full phase of the same round (first settings).
let scaling = null;
if (main.rounds.some((d) => d.small)) {
  const pairs = main.rounds.filter((d) => d.small).map((d) => ({ small: d.small, large: d.scenarios }));
  const names = [...new Set(pairs.flatMap((p) => p.small.map((x) => x.name)))];
  scaling = {
    small_customers: Number(env.TXB_SMALL),
    large_customers: Number(env.TXB_CUSTOMERS),
    scenarios: names.map((n) => {
      const rounds = pairs.map((p, i) => {
        const a = p.small.find((x) => x.name === n);
        const b = p.large.find((x) => x.name === n);
        return {
          round: i + 1,
          p50_small_ms: a ? a.p50_ms : null,
          p50_large_ms: b ? b.p50_ms : null,
          p50_ratio: a && b && a.p50_ms && b.p50_ms != null ? round(b.p50_ms / a.p50_ms, 2) : null,
          rps_small: a ? a.rps : null,
          rps_large: b ? b.rps : null,
        };
      });
      const med = (k) => spreadOf(rounds.map((r) => r[k]))?.median ?? null;
      return {
        name: n,
        p50_small_ms: med('p50_small_ms'),
        p50_large_ms: med('p50_large_ms'),
        p50_ratio: med('p50_ratio'),
        rps_small: med('rps_small'),
        rps_large: med('rps_large'),
        spread: { p50_ratio: spreadOf(rounds.map((r) => r.p50_ratio)) },
        rounds,
      };
    }),
  };
}

const loads = lines(path.join(raw, 'load.jsonl'));
const loaded = loads.reduce((n, l) => n + l.customers, 0);
const loadSeconds = loads.reduce((n, l) => n + l.seconds, 0);
const cpus = os.cpus();
const report = {
  generated_at: new Date().toISOString(),
  smoke: env.TXB_SMOKE === '1',
  settings: {
    seconds: Number(env.TXB_SECONDS),
    // --durable: PostgreSQL's durability defaults instead of the speed settings (issue 15): of
    // the first settings, those of scenarios, timings, slow_request and slow_search; every
    // settings' own are in sets[] (--settings speed,durable).
    durable: env.TXB_DURABLE === '1',
    rounds: Number(env.TXB_ROUNDS || 1),
    sets: sets.map((x) => x.name),
    durable_groups: env.TXB_DURABLE_GROUPS || null,
    only: env.TXB_ONLY || null,
    connections: Number(env.TXB_CONNECTIONS),
    high_connections: Number(env.TXB_HIGH_CONNECTIONS),
    service_pool_size: Number(env.TXB_POOL_SIZE),
    service_pool_writers: Number(env.TXB_POOL_WRITERS),
    own_cluster: env.TXB_OWN_CLUSTER === '1',
    postgresql: (env.TXB_PG_SETTINGS || '').split('\n').filter(Boolean),
    service: JSON.parse(env.TXB_SERVICE_CONFIG || '{}'),
  },
  scenarios,
  timings,
  scaling,
  slow_request: slowRequest,
  slow_search: slowSearch,
  // Every settings (speed, durable) with its aggregate and its rounds; what could not be
  // measured; where the run's time went (tests/bench/run part: loads, groups, rounds, restart).
  sets,
  failures,
  parts,
  rss_mib: env.TXB_VMHWM_KIB ? round(Number(env.TXB_VMHWM_KIB) / 1024, 1) : null,
  service_error_log_lines: Number(env.TXB_SERVICE_ERRORS || 0),
  service_pool_timeouts: Number(env.TXB_POOL_TIMEOUTS || 0),
  // The rows the read's floor reference left in cust.pii_reads, every settings and round.
  floor_log_rows: env.TXB_FLOOR_LOGGED === undefined ? null : Number(env.TXB_FLOOR_LOGGED),
  // And those of its document floor reference (request id pgbench-read-doc-floor).
  doc_floor_log_rows: env.TXB_DOC_FLOOR_LOGGED === undefined ? null : Number(env.TXB_DOC_FLOOR_LOGGED),
  machine: {
    cores: cpus.length,
    cpu: cpus[0] ? cpus[0].model : null,
    memory_mib: Math.round(os.totalmem() / 1048576),
    kernel: `${os.type()} ${os.release()}`,
    tianxingd: env.TXB_TIANXINGD || null,
    postgresql: env.TXB_POSTGRESQL || null,
    wrk: env.TXB_WRK || null,
    pgbench: env.TXB_PGBENCH || null,
    node: process.version,
    // Other work on the machine during the run (1, 5, 15 minutes, at the end of it).
    load_average: os.loadavg().map((x) => round(x, 2)),
  },
  load: {
    customers: loaded,
    seconds: round(loadSeconds, 2),
    rate: loadSeconds > 0 ? Math.round(loaded / loadSeconds) : null,
    copy_seconds: round(loads.reduce((n, l) => n + (l.copy_seconds ?? l.seconds), 0), 2),
    index_seconds: round(loads.reduce((n, l) => n + (l.index_seconds ?? 0), 0), 2),
    vacuum_analyze_seconds: round(loads.reduce((n, l) => n + (l.vacuum_seconds ?? 0), 0), 2),
    batches: loads,
  },
};

// The shape other tools may rely on (issue 5), checked on every run.
const num = { type: 'number' };
const numOrNull = { type: ['number', 'null'] };
const spread = {
  anyOf: [{ type: 'null' }, {
    type: 'object',
    required: ['min', 'median', 'max', 'n'],
    properties: { min: num, median: num, max: num, n: { type: 'integer', minimum: 1 } },
  }],
};
// A scenario's row; one that failed (tests/bench/run could not measure it) may lack figures but
// must say why.
const nonNeg = { type: 'number', minimum: 0 };
const nonNegOrNull = { type: ['number', 'null'], minimum: 0 };
const scenarioItem = {
  type: 'object',
  required: ['name', 'rps', 'p50_ms', 'p99_ms', 'max_ms', 'non2xx', 'reference_rps', 'ratio', 'failed', 'wall_seconds',
    'cpu_ms_per_req', 'cpu_busy', 'db_cpu_ms_per_tx', 'reference_floor_rps', 'ratio_floor', 'floor_to_minimal',
    'reference_doc_floor_rps', 'ratio_doc_floor', 'doc_floor_to_minimal'],
  properties: {
    // CPU per request: null when not measured (a failed run); db null with an external database.
    cpu_ms_per_req: {
      anyOf: [{ type: 'null' }, {
        type: 'object',
        required: ['service', 'db', 'wrk'],
        properties: { service: nonNeg, db: nonNegOrNull, wrk: nonNeg },
      }],
    },
    cpu_busy: nonNegOrNull,
    db_cpu_ms_per_tx: {
      type: 'object',
      required: ['same', 'minimal', 'floor', 'doc_floor'],
      properties: { same: nonNegOrNull, minimal: nonNegOrNull, floor: nonNegOrNull, doc_floor: nonNegOrNull },
    },
    name: { type: 'string', minLength: 1 },
    reference_rps: numOrNull,
    ratio: numOrNull,
    ratio_best: numOrNull,
    reference_minimal_rps: numOrNull,
    ratio_minimal: numOrNull,
    reference_floor_rps: nonNegOrNull,
    reference_floor: { type: ['string', 'null'] },
    ratio_floor: nonNegOrNull,
    floor_to_minimal: nonNegOrNull,
    reference_doc_floor_rps: nonNegOrNull,
    reference_doc_floor: { type: ['string', 'null'] },
    ratio_doc_floor: nonNegOrNull,
    doc_floor_to_minimal: nonNegOrNull,
    failed: { type: 'boolean' },
    wall_seconds: numOrNull,
  },
  if: { properties: { failed: { const: true } } },
  then: { required: ['failure'], properties: { failure: { type: 'string', minLength: 1 } } },
  else: {
    properties: {
      rps: num, p50_ms: num, p99_ms: num, max_ms: num, non2xx: { type: 'integer', minimum: 0 },
    },
  },
};
// The aggregate over the rounds: the same row with the spread and every round's own row.
const aggregateItem = {
  allOf: [scenarioItem, {
    type: 'object',
    required: ['spread', 'rounds'],
    properties: {
      spread: {
        type: 'object',
        required: ['rps', 'p50_ms', 'p99_ms', 'ratio', 'ratio_best', 'ratio_minimal', 'reference_floor_rps',
          'ratio_floor', 'floor_to_minimal', 'reference_doc_floor_rps', 'ratio_doc_floor', 'doc_floor_to_minimal'],
        additionalProperties: spread,
      },
      rounds: { type: 'array', minItems: 1, items: { allOf: [scenarioItem, { type: 'object', required: ['round'] }] } },
    },
  }],
};
const schema = {
  type: 'object',
  required: ['scenarios', 'rss_mib', 'machine', 'load', 'sets', 'failures', 'parts'],
  properties: {
    scenarios: { type: 'array', minItems: 1, items: aggregateItem },
    rss_mib: num,
    machine: {
      type: 'object',
      required: ['cores', 'kernel', 'tianxingd', 'postgresql', 'wrk'],
      properties: { cores: { type: 'integer', minimum: 1 }, kernel: { type: 'string' } },
    },
    load: {
      type: 'object',
      required: ['customers', 'seconds', 'rate'],
      properties: { customers: { type: 'integer', minimum: 1 }, seconds: num, rate: numOrNull },
    },
    sets: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['name', 'durable', 'postgresql', 'round_count', 'scenarios', 'timings', 'failures', 'rounds'],
        properties: {
          name: { enum: ['speed', 'durable'] },
          durable: { type: 'boolean' },
          postgresql: { type: 'array', items: { type: 'string' } },
          round_count: { type: 'integer', minimum: 1 },
          scenarios: { type: 'array', items: aggregateItem },
          rounds: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              required: ['round', 'scenarios', 'timings', 'failures', 'wall_seconds', 'parts'],
              properties: { round: { type: 'integer', minimum: 1 }, scenarios: { type: 'array', items: scenarioItem } },
            },
          },
        },
      },
    },
    failures: {
      type: 'array',
      items: { type: 'object', required: ['set', 'round', 'scenario', 'reason'], properties: { reason: { type: 'string', minLength: 1 } } },
    },
    parts: {
      type: 'array',
      items: { type: 'object', required: ['set', 'round', 'name', 'seconds'], properties: { seconds: num } },
    },
  },
};
const ajv = new Ajv({ allErrors: true });
if (!ajv.validate(schema, report)) problems.push(`report.json: ${ajv.errorsText()}`);

if (check) {
  const expected = ['read', 'list_first', 'list_deep', 'search', 'search_common', 'transition', 'my_queue',
    'create', 'floor', 'read_alone', 'read_mixed', 'read_mixed_search', 'slow_search'];
  // Scenarios without a reference: the HTTP floor and the mixed load's parts.
  const unreferenced = ['floor', 'read_alone', 'read_mixed', 'read_mixed_search', 'slow_search'];
  if (!slowRequest || slowRequest.p99_ratio == null) problems.push('slow_request: no p99 ratio');
  if (!slowSearch || slowSearch.p99_ratio == null || !(slowSearch.slow_requests > 0)) {
    problems.push('slow_search: no p99 ratio or no slow request made');
  }
  for (const n of expected) {
    const s = scenarios.find((x) => x.name === n);
    if (!s) problems.push(`scenario ${n} missing`);
    else {
      if (!(s.requests > 0)) problems.push(`${n}: no requests`);
      if (s.non2xx !== 0) problems.push(`${n}: ${s.non2xx} responses were not 2xx`);
      if (s.socket_errors !== 0) problems.push(`${n}: ${s.socket_errors} socket errors or timeouts`);
      if (!unreferenced.includes(n)) {
        // Issue 15 target 6: both references and both ratios for every referenced scenario.
        if (s.reference_rps == null || s.ratio == null || s.ratio_best == null) problems.push(`${n}: no reference`);
        if (s.reference_minimal_rps == null || s.ratio_minimal == null) problems.push(`${n}: no minimal reference`);
      }
      for (const rr of s.rounds) {
        for (const r of rr.references) if (r.failed) problems.push(`${n}: reference ${r.mode}: ${r.failed} failed`);
      }
    }
  }
  for (const n of ['assessment_month', 'assessment_month_reference', 'risk_load', 'risk_kris', 'risk_measure_due',
    'risk_kri_overdue_milestones', 'risk_kri_rework_rate', 'risk_kri_stale_customers',
    'risk_kri_contracts_under_prepayment', 'risk_kri_credit_expiring', 'risk_kri_receivables_overdue',
    'risk_kri_open_escalations']) {
    const t = timings.find((x) => x.scenario === n);
    if (!t) problems.push(`timing ${n} missing`);
    else if (!(t.seconds > 0)) problems.push(`${n}: no time`);
  }
  for (const s of scenarios.filter((x) => !expected.includes(x.name))) {
    if (s.non2xx !== 0 || s.socket_errors !== 0) problems.push(`${s.name}: ${s.non2xx} non-2xx, ${s.socket_errors} socket errors`);
  }
  // CPU per request (issue 15), in every settings and round: measured for every scenario run,
  // the database's only on the benchmark's own cluster (null otherwise); never negative, and the
  // three together no more of the machine than it has (a little over 1 would be the ticks'
  // granularity; far over, a process counted twice).
  const ownCluster = report.settings.own_cluster;
  const isMs = (x) => typeof x === 'number' && Number.isFinite(x) && x >= 0;
  for (const set of sets) {
    for (const rr of set.rounds) {
      // slow_search is no measured run of its own (tests/bench/mixed.sh starts it beside
      // read_mixed_search, whose service and database CPU hold its work).
      for (const sc of rr.scenarios.filter((x) => !x.failed && x.name !== 'slow_search')) {
        const at = `${set.name} round ${rr.round} ${sc.name}`;
        const c = sc.cpu_ms_per_req;
        if (!c) problems.push(`${at}: no CPU per request`);
        else {
          if (!isMs(c.service) || !isMs(c.wrk)) problems.push(`${at}: CPU service ${c.service}, wrk ${c.wrk} ms/request`);
          if (ownCluster ? !isMs(c.db) : c.db !== null) problems.push(`${at}: database CPU ${c.db} ms/request (own cluster: ${ownCluster})`);
          if (ownCluster ? !(sc.cpu_busy >= 0 && sc.cpu_busy <= 1.5) : sc.cpu_busy !== null) problems.push(`${at}: CPU busy ${sc.cpu_busy} of the cores`);
          // Every read goes through the service and the database: both must have spent CPU on it.
          if (sc.name === 'read' && !(c.service > 0 && (!ownCluster || c.db > 0))) problems.push(`${at}: no service or database CPU measured`);
        }
        // Each reference that ran: its database CPU per transaction at the pool's size, more than
        // nothing on the own cluster (a run's transactions cost it CPU; 0 was the mark missing the
        // run's backends as they exited: pg_ticks in tests/bench/run).
        for (const [k, ran] of [['same', sc.reference_best_rps != null], ['minimal', sc.reference_minimal_rps != null],
          ['floor', sc.reference_floor_rps != null], ['doc_floor', sc.reference_doc_floor_rps != null]]) {
          const v = sc.db_cpu_ms_per_tx[k];
          if (ran && (ownCluster ? !(isMs(v) && v > 0) : v !== null)) problems.push(`${at}: ${k} reference: database CPU ${v} ms/transaction`);
        }
      }
    }
  }
  if (report.service_error_log_lines) problems.push(`the service logged ${report.service_error_log_lines} errors`);
  // Nothing may have failed, in any settings or round.
  for (const x of failures) problems.push(`${x.set} round ${x.round}: ${x.phase}/${x.scenario} failed: ${x.reason}`);
  for (const set of sets.slice(1)) {
    for (const sc of set.scenarios) {
      if (sc.non2xx !== 0 || sc.socket_errors !== 0) problems.push(`${set.name} ${sc.name}: ${sc.non2xx} non-2xx, ${sc.socket_errors} socket errors`);
      for (const rr of sc.rounds) for (const r of rr.references) if (r.failed || r.aborted) problems.push(`${set.name} ${sc.name}: a reference failed`);
    }
  }
  // The smoke's rounds and settings (tests/bench/run --smoke): everything once with the speed
  // settings, then read and floor twice after the restart into the durable ones.
  if (report.smoke) {
    const [speed, durable] = sets;
    if (sets.length !== 2 || speed.name !== 'speed' || durable.name !== 'durable' || speed.durable || !durable.durable) {
      problems.push(`sets: ${sets.map((x) => x.name).join(', ')}, not speed then durable`);
    } else {
      if (speed.round_count !== 1 || durable.round_count !== 2) problems.push(`rounds: ${speed.round_count} speed, ${durable.round_count} durable, not 1 and 2`);
      if (!durable.postgresql.includes('fsync = on') || !speed.postgresql.includes('fsync = off')) problems.push('sets: the settings do not say fsync on and off');
      for (const n of ['read', 'floor']) {
        const sc = durable.scenarios.find((x) => x.name === n);
        if (!sc || sc.rounds.length !== 2 || sc.spread.rps?.n !== 2) problems.push(`durable ${n}: not two rounds with a spread`);
        else if (!(sc.spread.rps.min <= sc.spread.rps.median && sc.spread.rps.median <= sc.spread.rps.max)) problems.push(`durable ${n}: spread out of order`);
      }
      const rd = durable.scenarios.find((x) => x.name === 'read');
      if (rd && (rd.ratio == null || rd.ratio_minimal == null || rd.ratio_floor == null || rd.ratio_doc_floor == null)) {
        problems.push('durable read: no ratios');
      }
      if (durable.scenarios.some((x) => !['read', 'floor'].includes(x.name))) problems.push('durable: scenarios beyond --durable-groups read,floor');
    }
    for (const n of ['round', 'restart_durable', 'read', 'floor', 'load']) {
      if (!parts.some((x) => x.name === n && x.seconds >= 0)) problems.push(`parts: no time for ${n}`);
    }
  }
  // The read's floor reference (target 1's limit) and its document floor, in every settings and
  // round: their figures are those of their own runs, they are the read's alone, and every
  // transaction they counted left its row in cust.pii_reads (tests/bench/run counts the rows of
  // each one's request id: TXB_FLOOR_LOGGED, TXB_DOC_FLOOR_LOGGED), so a floor that stopped
  // logging cannot pass for one.
  for (const [ref, label, logged] of [['floor', 'floor', report.floor_log_rows],
    ['doc_floor', 'document floor', report.doc_floor_log_rows]]) {
    const [rpsKey, ratioKey, toMinKey] = [`reference_${ref}_rps`, `ratio_${ref}`, `${ref}_to_minimal`];
    let refTx = 0;
    for (const set of sets) {
      for (const rr of set.rounds) {
        for (const sc of rr.scenarios) {
          const at = `${set.name} round ${rr.round} ${sc.name}`;
          const runs = sc.references.filter((r) => r.reference === ref);
          refTx += runs.reduce((n, r) => n + (r.transactions || 0), 0);
          if (sc.name !== 'read') {
            if (runs.length || sc[rpsKey] != null || sc[ratioKey] != null || sc[toMinKey] != null) {
              problems.push(`${at}: a ${label} reference, which only the read has`);
            }
            continue;
          }
          if (sc.failed) continue;
          if (!runs.length || runs.some((r) => r.mode !== 'pipeline' || r.aborted || r.failed || !(r.tps > 0) || !(r.transactions > 0))) {
            problems.push(`${at}: the ${label} reference did not run to its end, pipelined: ${JSON.stringify(runs.map((r) => [r.mode, r.connections, r.tps, r.failed]))}`);
            continue;
          }
          const best = Math.max(...runs.map((r) => r.tps));
          if (sc[rpsKey] !== best) problems.push(`${at}: ${rpsKey} ${sc[rpsKey]}, its best run ${best}`);
          if (!(sc[ratioKey] > 0) || sc[ratioKey] !== round(sc.rps / best, 3)) problems.push(`${at}: ${ratioKey} ${sc[ratioKey]} for ${sc.rps} req/s over ${best} tx/s`);
          // More work than the minimal, so at most about its rate: above half as much again, the
          // insert (the document floor: or its fetches) did not happen or the runs measured
          // nothing steady.
          if (!(sc[toMinKey] > 0 && sc[toMinKey] <= 1.5) || sc[toMinKey] !== round(best / sc.reference_minimal_rps, 3)) {
            problems.push(`${at}: ${toMinKey} ${sc[toMinKey]} for ${best} over ${sc.reference_minimal_rps} tx/s`);
          }
        }
      }
    }
    if (logged !== refTx) problems.push(`the ${label} reference counted ${refTx} transactions, cust.pii_reads holds ${logged} rows of its request id`);
  }
}

// Markdown ---------------------------------------------------------------------------------
const f = (x, d = 1) => (x == null ? '–' : Number(x).toFixed(d));
// The median with its spread over the rounds: "412.3 [398.1–430.0]"; one round: the figure.
const fs_ = (row, k, d = 1) => {
  const sp = row.spread?.[k];
  if (!sp || sp.n < 2) return f(row[k], d);
  return `${f(sp.median, d)} [${f(sp.min, d)}–${f(sp.max, d)}]`;
};
const md = [];
md.push(
  `# tianxingd benchmark ${report.generated_at}${report.smoke ? ' (smoke)' : ''}` +
    ` (${sets.map((x) => `${x.name}: ${x.round_count} round${x.round_count === 1 ? '' : 's'}`).join('; ')})` +
    `${report.settings.only ? ` (only ${report.settings.only})` : ''}`,
  '',
);
const m = report.machine;
md.push(
  `Machine: ${m.cores} cores (${m.cpu}), ${m.memory_mib} MiB, ${m.kernel}; ${m.tianxingd}; ` +
    `PostgreSQL ${m.postgresql}; ${m.wrk}; ${m.pgbench}. Load average at the end (1/5/15 min): ` +
    `${m.load_average.join(' / ')}.`,
  '',
  `Load: ${report.load.customers} customers in ${f(report.load.seconds, 1)} s = ` +
    `${report.load.rate} customers/s (COPY of customers, contacts and data keys ` +
    `${f(report.load.copy_seconds, 1)} s, secondary indexes ${f(report.load.index_seconds, 1)} s; ` +
    `VACUUM ANALYZE ${f(report.load.vacuum_analyze_seconds, 1)} s more).`,
  '',
  `Each run ${report.settings.seconds} s at ${report.settings.connections} connections ` +
    `(wrk -t2${report.smoke ? '' : ' after 1 s of warm-up'}; pgbench -j2 -M prepared, pipelined, at the same ` +
    `concurrency and at the service's pool size ${report.settings.service_pool_size}, ` +
    `throughput after the first fifth of the run). With several rounds every figure is the median ` +
    `over the rounds [min–max], a ratio the median of the rounds' own ratios. Service peak RSS (VmHWM): ${f(report.rss_mib)} MiB; ` +
    `pool timeouts (503): ${report.service_pool_timeouts}.`,
);

function setSection(set) {
  md.push(
    '',
    `## ${set.durable ? 'Durable settings' : 'Speed settings'}: ${set.round_count} round${set.round_count === 1 ? '' : 's'}`,
    '',
    `PostgreSQL: ${set.postgresql.join(', ') || '(existing database)'}.`,
    '',
    '| scenario | customers | conns | req/s | p50 ms | p99 ms | max ms | non-2xx | reference tx/s (same conns) | ratio | best reference tx/s | ratio to best | minimal reference tx/s | ratio to minimal | wall s |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const s of set.scenarios) {
    md.push(
      `| ${s.name}${s.failed ? ' **FAILED**' : ''} | ${s.customers ?? '–'} | ${s.connections ?? '–'} | ${fs_(s, 'rps')} | ${fs_(s, 'p50_ms', 2)} | ${fs_(s, 'p99_ms', 2)} | ` +
        `${f(s.max_ms, 2)} | ${s.non2xx ?? '–'}${s.socket_errors ? ` (+${s.socket_errors} socket)` : ''} | ` +
        `${s.reference_rps == null ? '–' : `${fs_(s, 'reference_rps')} (${s.reference_mode})`} | ${fs_(s, 'ratio', 2)} | ` +
        `${s.reference_best_rps == null ? '–' : `${fs_(s, 'reference_best_rps')} (${s.reference_best})`} | ${fs_(s, 'ratio_best', 2)} | ` +
        `${s.reference_minimal_rps == null ? '–' : `${fs_(s, 'reference_minimal_rps')} (${s.reference_minimal})`} | ${fs_(s, 'ratio_minimal', 2)} | ` +
        `${f(s.wall_seconds, 0)} |`,
    );
  }
  // The read's floor (target 1's limit) and document floor, beside the minimal: a line each
  // rather than six columns more.
  const floors = set.scenarios.filter((s) => s.reference_floor_rps != null || s.reference_doc_floor_rps != null);
  if (floors.length) md.push('');
  for (const s of floors) {
    if (s.reference_floor_rps != null) {
      md.push(
        `${s.name}, its floor reference (the minimal one plus the PII read log row, tests/bench/pg_read_floor.sql): ` +
          `${fs_(s, 'reference_floor_rps')} tx/s (${s.reference_floor}), ${fs_(s, 'floor_to_minimal', 2)} of the minimal; ` +
          `${s.name} / floor ${fs_(s, 'ratio_floor', 2)}.`,
      );
    }
    if (s.reference_doc_floor_rps != null) {
      if (s.reference_floor_rps != null) md.push('');
      md.push(
        `${s.name}, its document floor reference (the floor plus the customer row, contacts and data key, fetched, ` +
          `nothing computed, tests/bench/pg_read_doc_floor.sql): ${fs_(s, 'reference_doc_floor_rps')} tx/s ` +
          `(${s.reference_doc_floor}), ${fs_(s, 'doc_floor_to_minimal', 2)} of the minimal; ` +
          `${s.name} / document floor ${fs_(s, 'ratio_doc_floor', 2)}.`,
      );
    }
  }
  const failed = set.failures;
  if (failed.length) {
    md.push('', 'Not measured (the run went on):', '', ...failed.map((x) => `- round ${x.round}, ${x.phase}/${x.scenario}: ${x.reason}`));
  }
  md.push('', 'Every reference run (steady tx/s; whole run; mean latency):', '');
  for (const s of set.scenarios.filter((x) => x.rounds.some((r) => r.references.length))) {
    for (const r of s.rounds.filter((x) => x.references.length)) {
      md.push(
        `- ${s.name}${s.rounds.length > 1 ? ` (round ${r.round})` : ''}: ${r.references
          .map((x) => `${x.reference === 'same' ? '' : `${x.reference} `}${x.mode}/${x.connections}: ${f(x.tps)} (${f(x.tps_overall)}; ${f(x.latency_avg_ms, 2)} ms)`)
          .join(', ')}`,
      );
    }
  }
  cpuTable(set);
  oneOff(set.timings);
  beside(set.slow_request, set.slow_search);
}

// CPU per request (issue 15): where a request's CPU goes, medians over the rounds [min–max].
function cpuTable(set) {
  const rows = set.scenarios.filter((s) => s.cpu_ms_per_req);
  if (!rows.length) return;
  const cell = (s, k, v, d = 3) => {
    const sp = s.spread?.[k];
    return sp && sp.n >= 2 ? `${f(sp.median, d)} [${f(sp.min, d)}–${f(sp.max, d)}]` : f(v, d);
  };
  md.push(
    '',
    '### CPU per request',
    '',
    `| scenario | requests | service ms/req | db ms/req | wrk ms/req | busy (of ${cores} cores) | db ms/tx: reference (${report.settings.service_pool_size} clients) | db ms/tx: minimal reference | db ms/tx: floor reference | db ms/tx: document floor reference |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const s of rows) {
    const c = s.cpu_ms_per_req;
    md.push(
      `| ${s.name} | ${s.requests ?? '–'} | ${cell(s, 'cpu_service_ms', c.service)} | ${cell(s, 'cpu_db_ms', c.db)} | ` +
        `${cell(s, 'cpu_wrk_ms', c.wrk)} | ${cell(s, 'cpu_busy', s.cpu_busy, 2)} | ` +
        `${cell(s, 'db_cpu_ms_per_tx_same', s.db_cpu_ms_per_tx.same)} | ${cell(s, 'db_cpu_ms_per_tx_minimal', s.db_cpu_ms_per_tx.minimal)} | ` +
        `${cell(s, 'db_cpu_ms_per_tx_floor', s.db_cpu_ms_per_tx.floor)} | ` +
        `${cell(s, 'db_cpu_ms_per_tx_doc_floor', s.db_cpu_ms_per_tx.doc_floor)} |`,
    );
  }
  md.push(
    '',
    'Process CPU (user + system, the kernel\'s work for each process\'s sockets included) over the measured run, per request ' +
      'wrk completed: tianxingd; the benchmark\'s own PostgreSQL cluster (postmaster, every backend and worker, ' +
      `those that exited too${report.settings.own_cluster ? '' : '; not measured: an external database'}); wrk. ` +
      'busy: the three over the run\'s seconds × cores. A reference\'s db ms/tx: the cluster\'s CPU over the pgbench run ' +
      'per transaction (pgbench\'s own CPU not in it).',
  );
}

function oneOff(timings) {
  if (!timings.length) return;
  const t = (n) => timings.find((x) => x.scenario === n);
  const svc = t('assessment_month');
  const ref = t('assessment_month_reference');
  const load = t('assessment_load');
  const sec = (x, k, d) => fs_(x, k, d);
  md.push(
    '',
    '### One-off work',
    '',
    '| what | seconds | reference s (assessment: the same SQL run directly; risk: plain SQL giving the same figures) | ratio |',
    '|---|---:|---:|---:|',
  );
  for (const x of timings.filter((y) => y.failure)) md.push(`| ${x.scenario} **FAILED** (${x.failure}) | – | – | – |`);
  if (svc || ref) {
    const months = [...new Set([...(ref ? ref.rounds : []), ...(svc ? svc.rounds : [])].map((x) => x.month).filter(Boolean))].join(', ');
    md.push(
      `| assessment month${(svc || ref).rounds.length > 1 ? 's' : ''} ${months}: open and compute ${svc ? svc.assessments : '–'} assessments ` +
        `(${load ? `${load.staff} staff, ${load.cases} cases` : ''}) | ${svc ? sec(svc, 'seconds', 2) : 'failed'} | ` +
        `${ref ? sec(ref, 'seconds', 2) : '–'} | ${svc && ref ? f(svc.seconds / ref.seconds, 2) : '–'} |`,
    );
  }
  if (load) md.push(`| loading the assessment facts | ${f(load.seconds, 2)} | – | – |`);
  // Module R (issue 13): the seven key risk indicators; the reference is plain SQL computing the
  // same figures (tests/bench/risk_reference.sql), medians of the runs.
  const due = t('risk_measure_due');
  const kris = t('risk_kris');
  const rload = t('risk_load');
  const ratio = (x) => (x && x.reference_seconds > 0 ? f(x.seconds / x.reference_seconds, 2) : '–');
  for (const k of timings.filter((x) => x.scenario.startsWith('risk_kri_'))) {
    md.push(
      `| indicator ${k.scenario.slice('risk_kri_'.length)} = ${k.value} (${k.band}): risk.kri_… | ` +
        `${sec(k, 'seconds', 3)} | ${sec(k, 'reference_seconds', 3)} | ${ratio(k)} |`,
    );
  }
  if (kris) md.push(`| the seven indicators, one after another | ${sec(kris, 'seconds', 3)} | ${sec(kris, 'reference_seconds', 3)} | ${ratio(kris)} |`);
  if (due) {
    md.push(
      `| risk.measure_due(now, true): ${due.indicators} indicators measured, stored, ${due.open_warnings} warnings open ` +
        `after (committed) | ${sec(due, 'seconds', 3)} | ${sec(due, 'reference_seconds', 3)} | ${ratio(due)} |`,
    );
  }
  if (rload) {
    md.push(
      `| loading the risk facts (${rload.contracts} contracts, ${rload.credit_assessments} credit assessments, ` +
        `${rload.receivables} receivables, ${rload.escalations} escalations, ${rload.reviews} review rounds; ` +
        `${rload.customers} customers, ${rload.cases} cases) | ${f(rload.seconds, 2)} | – | – |`,
    );
  }
}

function beside(slowRequest, slowSearch) {
  if (slowRequest) {
    md.push('', `Slow request beside the readers (read_alone vs read_mixed, ${slowRequest.readers} readers; one more ` +
      `client's requests wait in the database until the statement timeout): read p99 ${f(slowRequest.alone_p99_ms, 2)} → ` +
      `${f(slowRequest.mixed_p99_ms, 2)} ms (×${fs_(slowRequest, 'p99_ratio', 2)}, target ≤ 2), throughput ×${fs_(slowRequest, 'rps_ratio', 2)}.`);
  }
  if (slowSearch) {
    md.push('', `Slow search beside the readers (read_alone vs read_mixed_search, ${slowSearch.readers} readers; one more ` +
      `client searches a common term sorted by name in a loop: ${f(slowSearch.slow_rps, 1)} searches/s, p50 ` +
      `${f(slowSearch.slow_p50_ms, 1)} ms, ${slowSearch.slow_non2xx} non-2xx): read p99 ${f(slowSearch.alone_p99_ms, 2)} → ` +
      `${f(slowSearch.mixed_p99_ms, 2)} ms (×${fs_(slowSearch, 'p99_ratio', 2)}, target ≤ 2), throughput ×${fs_(slowSearch, 'rps_ratio', 2)}.`);
  }
}

for (const set of sets) setSection(set);
if (scaling) {
  md.push(
    '',
    `## Scaling: ${scaling.small_customers} → ${scaling.large_customers} customers (${sets[0].name} settings)`,
    '',
    '| scenario | p50 small ms | p50 large ms | p50 ratio | req/s small | req/s large |',
    '|---|---:|---:|---:|---:|---:|',
  );
  for (const s of scaling.scenarios) {
    md.push(
      `| ${s.name} | ${f(s.p50_small_ms, 2)} | ${f(s.p50_large_ms, 2)} | ${fs_(s, 'p50_ratio', 2)} | ${f(s.rps_small)} | ` +
        `${f(s.rps_large)} |`,
    );
  }
}
// Where the time went: every part of the run (tests/bench/run part), in order.
if (parts.length) {
  md.push('', '## Time', '', '| settings | round | part | seconds |', '|---|---:|---|---:|');
  for (const x of parts) md.push(`| ${x.set} | ${x.round} | ${x.name} | ${f(x.seconds, 1)} |`);
}
md.push('', `Service settings beyond the defaults: ${JSON.stringify(report.settings.service)}.`, '');
if (problems.length) md.push('## Problems', '', ...problems.map((p) => `- ${p}`), '');

writeFileSync(path.join(dir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
writeFileSync(path.join(dir, 'report.md'), md.join('\n'));
if (problems.length) {
  console.error(`tests/bench/report.mjs: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  if (check) process.exit(1);
}
