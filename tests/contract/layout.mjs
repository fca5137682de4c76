#!/usr/bin/env node
// Contract tier: the contract's module layout holds together (see the header of openapi.yaml).
//
// - every path of openapi.yaml is only a $ref to the item of the same path in a module's
//   contract/<module>/paths.yaml;
// - every path item of every contract/*/paths.yaml is listed in openapi.yaml (else it would be
//   left out of the bundle silently);
// - every component of every contract/*/components.yaml is in the bundle under its own name: a
//   component nothing refers to would be dropped, and two of one name would be renamed `Name-2`.
// Prints each problem; exits 1 on any.
//
// Env: TX_TEST_SOURCE_DIR (repository root; default: two levels up).

import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ROOT, reporter } from './lib.mjs';

const { problem, fatal, finish, loadContract } = reporter('layout');

const read = (file) => {
  try {
    return YAML.parse(readFileSync(path.join(ROOT, file), 'utf8')) ?? {};
  } catch (e) {
    return fatal(`cannot read ${file}: ${e.message}`);
  }
};
const pointer = (p) => p.replace(/~/g, '~0').replace(/\//g, '~1');

const modules = readdirSync(path.join(ROOT, 'contract'), { withFileTypes: true })
  .filter((d) => d.isDirectory()).map((d) => d.name).sort();
if (modules.length === 0) fatal('contract/ has no module folder');

// --- openapi.yaml's paths against the modules' path items, both ways
const root = read('openapi.yaml');
const listed = new Set(); // "file#pointer" referred to by openapi.yaml
for (const [p, item] of Object.entries(root.paths ?? {})) {
  const keys = Object.keys(item ?? {});
  const m = /^(contract\/([a-z0-9_-]+)\/paths\.yaml)#\/(.*)$/.exec(item?.$ref ?? '');
  if (keys.length !== 1 || !m) {
    problem(`openapi.yaml ${p}: must be only a $ref into contract/<module>/paths.yaml`);
    continue;
  }
  if (m[3] !== pointer(p)) problem(`openapi.yaml ${p}: refers to another path (${m[3]})`);
  listed.add(`${m[1]}#${m[3]}`);
}

let items = 0;
const defined = []; // [file, kind, name]
for (const mod of modules) {
  const pathsFile = `contract/${mod}/paths.yaml`;
  if (existsSync(path.join(ROOT, pathsFile))) {
    for (const p of Object.keys(read(pathsFile))) {
      items++;
      if (!listed.has(`${pathsFile}#${pointer(p)}`)) {
        problem(`${pathsFile} ${p}: not listed under paths in openapi.yaml`);
      }
    }
  }
  const compFile = `contract/${mod}/components.yaml`;
  if (existsSync(path.join(ROOT, compFile))) {
    for (const [kind, byName] of Object.entries(read(compFile))) {
      for (const name of Object.keys(byName ?? {})) defined.push([compFile, kind, name]);
    }
  }
}
if (items === 0) problem('no path item in contract/*/paths.yaml');

// --- every module component reaches the bundle under its own name, and only once
const bundle = loadContract();
const where = new Map(); // "kind/name" -> file
for (const [file, kind, name] of defined) {
  const k = `${kind}/${name}`;
  if (where.has(k)) problem(`${file} ${k}: also defined in ${where.get(k)}`);
  where.set(k, file);
  if (!bundle.components?.[kind]?.[name]) {
    problem(`${file} ${k}: not in the bundle (nothing refers to it)`);
  }
}
for (const [kind, byName] of Object.entries(bundle.components ?? {})) {
  if (kind === 'securitySchemes') continue; // global, defined in openapi.yaml itself
  for (const name of Object.keys(byName ?? {})) {
    if (!where.has(`${kind}/${name}`)) {
      problem(`bundle ${kind}/${name}: defined in no contract/*/components.yaml (a renamed clash?)`);
    }
  }
}

finish(`${modules.length} module folders, ${items} path items, ${defined.length} components`);
