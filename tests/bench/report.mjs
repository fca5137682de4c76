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
  };
}

function readPgbench(entry) {
  const text = readFileSync(path.join(raw, entry.file), 'utf8');
  const tps = text.match(/^tps = ([0-9.]+)/m);
  const lat = text.match(/^latency average = ([0-9.]+) ms/m);
  const failed = text.match(/^number of failed transactions: (\d+)/m);
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
  };
}

const manifest = lines(path.join(raw, 'manifest.jsonl'));
// phase -> scenario -> {service, references[]}
const phases = {};
for (const e of manifest) {
  const s = ((phases[e.phase] ??= {})[e.scenario] ??= { customers: e.customers, references: [] });
  if (e.kind === 'wrk') s.service = readWrk(e);
  else if (e.kind === 'timing') s.timing = e;
  else s.references.push(readPgbench(e));
}
// One-off measurements (the assessment month of issue 12): taken out of the scenario tables.
const timings = [];
for (const byName of Object.values(phases)) {
  for (const [name, s] of Object.entries(byName)) {
    if (!s.timing) continue;
    const { kind, phase, ...t } = s.timing;
    timings.push(t);
    delete byName[name];
  }
}

function scenarioRow(name, s) {
  const svc = s.service;
  const usable = s.references.filter((r) => r.tps != null && !r.aborted);
  const refs = usable.filter((r) => r.reference === 'same');
  // Issue 15: the minimal reference (the cheapest transaction that still does the scenario's job
  // under the same policies, pipelined: tests/bench/pg_*_min.sql): the best of its runs at the
  // pool's and the scenario's concurrency.
  const minimal = usable.filter((r) => r.reference === 'minimal');
  const better = (a, r) => (a == null || r.tps > a.tps ? r : a);
  const bestMinimal = minimal.reduce(better, null);
  // The reference of issue 5: the same concurrency, the better of the two modes; and the best
  // of every reference run (the pool's concurrency too), the stricter comparison.
  const best = refs.filter((r) => !svc || r.connections === svc.connections).reduce(better, null);
  const bestAny = refs.reduce(better, null);
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
    references: s.references,
  };
}

const full = phases.full || {};
const scenarios = Object.entries(full).map(([n, s]) => scenarioRow(n, s));

let scaling = null;
if (phases.small) {
  const small = Number(env.TXB_SMALL);
  const large = Number(env.TXB_CUSTOMERS);
  scaling = {
    small_customers: small,
    large_customers: large,
    scenarios: Object.entries(phases.small).map(([n, s]) => {
      const a = scenarioRow(n, s);
      const b = full[n] ? scenarioRow(n, full[n]) : null;
      return {
        name: n,
        p50_small_ms: a.p50_ms,
        p50_large_ms: b ? b.p50_ms : null,
        p50_ratio: b && a.p50_ms ? round(b.p50_ms / a.p50_ms, 2) : null,
        rps_small: a.rps,
        rps_large: b ? b.rps : null,
        reference_rps_small: a.reference_rps,
        reference_rps_large: b ? b.reference_rps : null,
        ratio_small: a.ratio,
        ratio_large: b ? b.ratio : null,
      };
    }),
  };
}

// A slow client beside the readers (tests/bench/mixed.sh): read p99 with it over p99 without,
// for a request that waits on a lock (slow_request) and for a slow search doing real work
// (slow_search, with that client's own figures).
const alone = scenarios.find((x) => x.name === 'read_alone');
const beside = (name) => {
  const mixed = scenarios.find((x) => x.name === name);
  return alone && mixed ? {
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

const loads = lines(path.join(raw, 'load.jsonl'));
const loaded = loads.reduce((n, l) => n + l.customers, 0);
const loadSeconds = loads.reduce((n, l) => n + l.seconds, 0);
const cpus = os.cpus();
const report = {
  generated_at: new Date().toISOString(),
  smoke: env.TXB_SMOKE === '1',
  settings: {
    seconds: Number(env.TXB_SECONDS),
    // --durable: PostgreSQL's durability defaults instead of the speed settings (issue 15).
    durable: env.TXB_DURABLE === '1',
    only: env.TXB_ONLY || null,
    connections: Number(env.TXB_CONNECTIONS),
    high_connections: Number(env.TXB_HIGH_CONNECTIONS),
    service_pool_size: Number(env.TXB_POOL_SIZE),
    own_cluster: env.TXB_OWN_CLUSTER === '1',
    postgresql: (env.TXB_PG_SETTINGS || '').split('\n').filter(Boolean),
    service: JSON.parse(env.TXB_SERVICE_CONFIG || '{}'),
  },
  scenarios,
  timings,
  scaling,
  slow_request: slowRequest,
  slow_search: slowSearch,
  rss_mib: env.TXB_VMHWM_KIB ? round(Number(env.TXB_VMHWM_KIB) / 1024, 1) : null,
  service_error_log_lines: Number(env.TXB_SERVICE_ERRORS || 0),
  service_pool_timeouts: Number(env.TXB_POOL_TIMEOUTS || 0),
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
const schema = {
  type: 'object',
  required: ['scenarios', 'rss_mib', 'machine', 'load'],
  properties: {
    scenarios: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['name', 'rps', 'p50_ms', 'p99_ms', 'max_ms', 'non2xx', 'reference_rps', 'ratio'],
        properties: {
          name: { type: 'string', minLength: 1 },
          rps: num,
          p50_ms: num,
          p99_ms: num,
          max_ms: num,
          non2xx: { type: 'integer', minimum: 0 },
          reference_rps: numOrNull,
          ratio: numOrNull,
          ratio_best: numOrNull,
          reference_minimal_rps: numOrNull,
          ratio_minimal: numOrNull,
        },
      },
    },
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
      for (const r of s.references) if (r.failed) problems.push(`${n}: reference ${r.mode}: ${r.failed} failed`);
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
  if (report.service_error_log_lines) problems.push(`the service logged ${report.service_error_log_lines} errors`);
}

// Markdown ---------------------------------------------------------------------------------
const f = (x, d = 1) => (x == null ? '–' : Number(x).toFixed(d));
const md = [];
md.push(
  `# tianxingd benchmark ${report.generated_at}${report.smoke ? ' (smoke)' : ''}` +
    `${report.settings.durable ? ' (durable: fsync, synchronous_commit, full_page_writes on)' : ''}` +
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
    `(wrk -t2${report.smoke ? '' : ' after 1 s of warm-up'}; pgbench -j2 -M prepared, plain and pipelined, at the same ` +
    `concurrency and at the service's pool size ${report.settings.service_pool_size}, ` +
    `throughput after the first fifth of the run). Service peak RSS (VmHWM): ${f(report.rss_mib)} MiB; ` +
    `pool timeouts (503): ${report.service_pool_timeouts}.`,
  '',
  '| scenario | customers | conns | req/s | p50 ms | p99 ms | max ms | non-2xx | reference tx/s (same conns) | ratio | best reference tx/s | ratio to best | minimal reference tx/s | ratio to minimal |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
);
for (const s of scenarios) {
  md.push(
    `| ${s.name} | ${s.customers} | ${s.connections} | ${f(s.rps)} | ${f(s.p50_ms, 2)} | ${f(s.p99_ms, 2)} | ` +
      `${f(s.max_ms, 2)} | ${s.non2xx}${s.socket_errors ? ` (+${s.socket_errors} socket)` : ''} | ` +
      `${s.reference_rps == null ? '–' : `${f(s.reference_rps)} (${s.reference_mode})`} | ${f(s.ratio, 2)} | ` +
      `${s.reference_best_rps == null ? '–' : `${f(s.reference_best_rps)} (${s.reference_best})`} | ${f(s.ratio_best, 2)} | ` +
      `${s.reference_minimal_rps == null ? '–' : `${f(s.reference_minimal_rps)} (${s.reference_minimal})`} | ${f(s.ratio_minimal, 2)} |`,
  );
}
md.push('', 'Every reference run (steady tx/s; whole run; mean latency):', '');
for (const s of scenarios.filter((x) => x.references.length)) {
  md.push(
    `- ${s.name}: ${s.references
      .map((r) => `${r.reference === 'same' ? '' : `${r.reference} `}${r.mode}/${r.connections}: ${f(r.tps)} (${f(r.tps_overall)}; ${f(r.latency_avg_ms, 2)} ms)`)
      .join(', ')}`,
  );
}
if (timings.length) {
  const t = (n) => timings.find((x) => x.scenario === n);
  const svc = t('assessment_month');
  const ref = t('assessment_month_reference');
  const load = t('assessment_load');
  md.push(
    '',
    '## One-off work',
    '',
    '| what | seconds | reference s (assessment: the same SQL run directly; risk: plain SQL giving the same figures) | ratio |',
    '|---|---:|---:|---:|',
  );
  if (svc) {
    md.push(
      `| assessment month ${svc.month}: open and compute ${svc.assessments} assessments ` +
        `(${load ? `${load.staff} staff, ${load.cases} cases` : ''}) | ${f(svc.seconds, 2)} | ` +
        `${ref ? f(ref.seconds, 2) : '–'} | ${ref ? f(svc.seconds / ref.seconds, 2) : '–'} |`,
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
        `${f(k.seconds, 3)} | ${f(k.reference_seconds, 3)} | ${ratio(k)} |`,
    );
  }
  if (kris) md.push(`| the seven indicators, one after another | ${f(kris.seconds, 3)} | ${f(kris.reference_seconds, 3)} | ${ratio(kris)} |`);
  if (due) {
    md.push(
      `| risk.measure_due(now, true): ${due.indicators} indicators measured, stored, ${due.open_warnings} warnings open ` +
        `after (committed) | ${f(due.seconds, 3)} | ${f(due.reference_seconds, 3)} | ${ratio(due)} |`,
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
if (scaling) {
  md.push(
    '',
    `## Scaling: ${scaling.small_customers} → ${scaling.large_customers} customers`,
    '',
    '| scenario | p50 small ms | p50 large ms | p50 ratio | req/s small | req/s large | ref tx/s small | ref tx/s large |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const s of scaling.scenarios) {
    md.push(
      `| ${s.name} | ${f(s.p50_small_ms, 2)} | ${f(s.p50_large_ms, 2)} | ${f(s.p50_ratio, 2)} | ${f(s.rps_small)} | ` +
        `${f(s.rps_large)} | ${f(s.reference_rps_small)} | ${f(s.reference_rps_large)} |`,
    );
  }
}
if (slowRequest) {
  md.push('', `Slow request beside the readers (read_alone vs read_mixed, ${slowRequest.readers} readers; one more ` +
    `client's requests wait in the database until the statement timeout): read p99 ${f(slowRequest.alone_p99_ms, 2)} → ` +
    `${f(slowRequest.mixed_p99_ms, 2)} ms (×${f(slowRequest.p99_ratio, 2)}, target ≤ 2), throughput ×${f(slowRequest.rps_ratio, 2)}.`);
}
if (slowSearch) {
  md.push('', `Slow search beside the readers (read_alone vs read_mixed_search, ${slowSearch.readers} readers; one more ` +
    `client searches a common term sorted by name in a loop: ${f(slowSearch.slow_rps, 1)} searches/s, p50 ` +
    `${f(slowSearch.slow_p50_ms, 1)} ms, ${slowSearch.slow_non2xx} non-2xx): read p99 ${f(slowSearch.alone_p99_ms, 2)} → ` +
    `${f(slowSearch.mixed_p99_ms, 2)} ms (×${f(slowSearch.p99_ratio, 2)}, target ≤ 2), throughput ×${f(slowSearch.rps_ratio, 2)}.`);
}
md.push('', `PostgreSQL settings: ${report.settings.postgresql.join(', ') || '(existing database)'}.`);
md.push(`Service settings beyond the defaults: ${JSON.stringify(report.settings.service)}.`, '');
if (problems.length) md.push('## Problems', '', ...problems.map((p) => `- ${p}`), '');

writeFileSync(path.join(dir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
writeFileSync(path.join(dir, 'report.md'), md.join('\n'));
if (problems.length) {
  console.error(`tests/bench/report.mjs: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  if (check) process.exit(1);
}
