// Shared by the contract-tier scripts: where the contract is, how to read it, how to run the
// binary, and one way to report problems and exit.
//
// The scripts read the bundle, contract/openapi.bundled.yaml: the one document (openapi.yaml
// with the module files of contract/ inlined, no external $refs) that GET /openapi.yaml serves.
// contract_bundle (tests/contract/bundle --check) fails when it is stale.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = process.env.TX_TEST_SOURCE_DIR || path.resolve(HERE, '..', '..');
export const CONTRACT = path.join(ROOT, 'contract', 'openapi.bundled.yaml');

// A reporter for one script: problem() collects, fatal() stops at once, finish() prints and exits.
export function reporter(name) {
  const problems = [];
  const fatal = (msg) => {
    console.error(`${name}: ${msg}`);
    process.exit(1);
  };
  return {
    problems,
    problem: (msg) => problems.push(msg),
    fatal,
    finish(summary) {
      for (const p of problems) console.log(`FAIL ${p}`);
      console.log(`${name}: ${summary}, ${problems.length} problem(s)`);
      process.exit(problems.length ? 1 : 0);
    },
    loadContract() {
      try {
        return YAML.parse(readFileSync(CONTRACT, 'utf8'));
      } catch (e) {
        return fatal(`cannot read ${CONTRACT}: ${e.message}`);
      }
    },
    runBinary(args) {
      const bin = process.env.TX_TEST_BIN;
      if (!bin) fatal('TX_TEST_BIN is not set (path to tianxingd)');
      try {
        return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (e) {
        return fatal(`${bin} ${args.join(' ')} failed (${e.status ?? e.code}): ${e.stderr || e.message}`);
      }
    },
  };
}
