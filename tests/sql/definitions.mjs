// One definition per object (issue 9): no SQL function (by name and argument types), view,
// policy (by name and table) or trigger (by name and table) is created by more than one statement
// in the .sql files under sql/ (sql/code holds the one current definition; migrations after the
// baseline must not define them again). Session helpers in pg_temp (pgTAP suites) do not count;
// text inside strings, dollar quotes and comments is not a statement.
// First a self-check on a made-up tree: the scan finds a redefinition across files, one written
// with other parameter names and type spellings, and a second policy of the same name, and it
// does not take an overload for one.
// Run by ctest (sql tier) from the repository root: node tests/sql/definitions.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Splits SQL text into statements with comments, strings and dollar-quoted bodies blanked. */
export function statements(text) {
  const out = [];
  let cur = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '-' && text[i + 1] === '-') {
      const j = text.indexOf('\n', i);
      i = j < 0 ? text.length : j;
      cur += ' ';
    } else if (c === '/' && text[i + 1] === '*') {
      const j = text.indexOf('*/', i + 2);
      i = j < 0 ? text.length : j + 2;
      cur += ' ';
    } else if (c === "'") {
      let j = i + 1;
      for (;;) {
        j = text.indexOf("'", j);
        if (j < 0) { j = text.length; break; }
        if (text[j + 1] === "'") { j += 2; continue; }
        break;
      }
      i = j + 1;
      cur += "''";
    } else if (c === '$' && !/[A-Za-z0-9_]/.test(text[i - 1] || ' ')) {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i));
      if (m) {
        const j = text.indexOf(m[0], i + m[0].length);
        i = j < 0 ? text.length : j + m[0].length;
        cur += ' $body$ ';
      } else {
        cur += c;
        i++;
      }
    } else if (c === ';') {
      out.push(cur.replace(/\s+/g, ' ').trim());
      cur = '';
      i++;
    } else {
      cur += c;
      i++;
    }
  }
  if (cur.trim()) out.push(cur.replace(/\s+/g, ' ').trim());
  return out.filter(Boolean);
}

const TYPE_ALIASES = new Map([
  ['int', 'integer'], ['int4', 'integer'], ['int8', 'bigint'], ['int2', 'smallint'],
  ['bool', 'boolean'], ['varchar', 'character varying'], ['timestamptz', 'timestamp with time zone'],
  ['float8', 'double precision'], ['decimal', 'numeric'],
]);
// First words of types written in more than one word: such an argument has no name.
const TYPE_STARTS = new Set(['double', 'character', 'timestamp', 'time', 'bit', 'interval']);

/** The identity of a function's argument list: the types of its input arguments. */
export function argTypes(args) {
  const parts = [];
  let depth = 0;
  let cur = '';
  for (const ch of args) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) { parts.push(cur); cur = ''; } else cur += ch;
  }
  if (cur.trim()) parts.push(cur);
  const types = [];
  for (let p of parts) {
    p = p.trim().replace(/\s+(DEFAULT\b|=).*$/is, '').trim();
    let words = p.split(/\s+/);
    const mode = words[0].toLowerCase();
    if (mode === 'out' || mode === 'table') continue;
    if (['in', 'inout', 'variadic'].includes(mode)) words = words.slice(1);
    if (words.length > 1 && !TYPE_STARTS.has(words[0].toLowerCase())) words = words.slice(1);
    const t = words.join(' ').toLowerCase();
    types.push(TYPE_ALIASES.get(t) || t);
  }
  return types.join(',');
}

/** The object a statement defines ("function api.x(integer)", ...), or null. */
export function defines(stmt) {
  let m = /^CREATE (?:OR REPLACE )?FUNCTION ([\w.]+) ?\(/i.exec(stmt);
  if (m) {
    let depth = 1;
    let j = m[0].length;
    while (j < stmt.length && depth) {
      if (stmt[j] === '(') depth++;
      if (stmt[j] === ')') depth--;
      j++;
    }
    return `function ${m[1].toLowerCase()}(${argTypes(stmt.slice(m[0].length, j - 1))})`;
  }
  if ((m = /^CREATE (?:OR REPLACE )?(?:TEMP(?:ORARY)? |MATERIALIZED )?VIEW ([\w.]+)/i.exec(stmt))) return `view ${m[1].toLowerCase()}`;
  if ((m = /^CREATE POLICY (\w+) ON ([\w.]+)/i.exec(stmt))) return `policy ${m[1].toLowerCase()} on ${m[2].toLowerCase()}`;
  if ((m = /^CREATE (?:OR REPLACE )?(?:CONSTRAINT )?TRIGGER (\w+) .*? ON ([\w.]+)/i.exec(stmt))) return `trigger ${m[1].toLowerCase()} on ${m[2].toLowerCase()}`;
  return null;
}

function sqlFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sqlFiles(p);
    return e.name.endsWith('.sql') ? [p] : [];
  });
}

/** The function a statement renames away ("function audit.capture()"), or null. */
export function renames(stmt) {
  const m = /^ALTER FUNCTION ([\w.]+) ?\((.*?)\) RENAME TO \w+$/i.exec(stmt);
  return m ? `function ${m[1].toLowerCase()}(${argTypes(m[2])})` : null;
}

/**
 * Objects defined more than once under `root`: [{object, where: [file, ...]}]. A migration that
 * renames a function away (ALTER FUNCTION ... RENAME TO, as 0051 does with a baseline function it
 * replaces) ends the definitions of that name made before it in the same directory: a later
 * definition under the name is its one current definition. Definitions in other directories
 * (sql/code) still count.
 */
export function duplicates(root) {
  const files = sqlFiles(root).sort();
  const parsed = files.map((file) => statements(fs.readFileSync(file, 'utf8')));
  const renamed = [];
  files.forEach((file, f) => parsed[f].forEach((s, i) => {
    const obj = renames(s);
    if (obj) renamed.push({ obj, dir: path.dirname(file), f, i });
  }));
  const seen = new Map();
  files.forEach((file, f) => parsed[f].forEach((s, i) => {
    const obj = defines(s);
    if (!obj || /^(function|view) pg_temp\./.test(obj)) return;
    if (renamed.some((r) => r.obj === obj && r.dir === path.dirname(file) && (f < r.f || (f === r.f && i < r.i)))) return;
    if (!seen.has(obj)) seen.set(obj, []);
    seen.get(obj).push(path.relative(root, file));
  }));
  return [...seen].filter(([, where]) => where.length > 1).map(([object, where]) => ({ object, where }));
}

// Self-check ------------------------------------------------------------------------------------
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tx-defs-'));
try {
  fs.mkdirSync(path.join(tmp, 'code', 'kit'), { recursive: true });
  fs.writeFileSync(path.join(tmp, 'code', 'kit', 'a.sql'), `
-- CREATE FUNCTION api.in_a_comment(int) is no statement
CREATE FUNCTION api.x(p_a int, p_b text DEFAULT 'a;b') RETURNS int LANGUAGE sql AS $$ SELECT 1; CREATE FUNCTION api.y() $$;
CREATE FUNCTION api.x(p_a int, p_b text, p_c boolean) RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
CREATE POLICY p ON cust.t FOR SELECT USING (true);
CREATE OR REPLACE TRIGGER t_one BEFORE INSERT ON cust.t FOR EACH ROW EXECUTE FUNCTION api.z();
SELECT 'CREATE VIEW v AS SELECT 1';`);
  fs.writeFileSync(path.join(tmp, 'later.sql'), `
CREATE OR REPLACE FUNCTION api.x(a integer, OUT r int, b text) RETURNS int LANGUAGE plpgsql AS $f$ BEGIN END $f$;
DROP POLICY IF EXISTS p ON cust.t;
CREATE POLICY p ON cust.t FOR UPDATE USING (true);
CREATE POLICY p ON cust.other FOR UPDATE USING (true);
CREATE FUNCTION pg_temp.helper() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;`);
  fs.writeFileSync(path.join(tmp, 'test.sql'), 'CREATE FUNCTION pg_temp.helper() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;');
  // Renamed away by a later migration and defined again there: one definition. Renamed away but
  // also defined in code: still two. Defined again without the rename: two.
  fs.mkdirSync(path.join(tmp, 'migrations'));
  fs.writeFileSync(path.join(tmp, 'migrations', '0001_a.sql'), `
CREATE FUNCTION audit.cap() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE FUNCTION api.z() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE FUNCTION api.w(int) RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;`);
  fs.writeFileSync(path.join(tmp, 'migrations', '0002_b.sql'), `
ALTER FUNCTION audit.cap() RENAME TO cap_0001;
CREATE FUNCTION audit.cap() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
ALTER FUNCTION api.x(int, text) RENAME TO x_old;
CREATE FUNCTION api.w(integer) RETURNS int LANGUAGE sql AS $$ SELECT 2 $$;`);
  assert.deepEqual(duplicates(tmp), [
    { object: 'function api.x(integer,text)', where: ['code/kit/a.sql', 'later.sql'] },
    { object: 'policy p on cust.t', where: ['code/kit/a.sql', 'later.sql'] },
    { object: 'function api.w(integer)', where: ['migrations/0001_a.sql', 'migrations/0002_b.sql'] },
  ], 'the scan of the made-up tree');
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

// The repository -----------------------------------------------------------------------------------
const root = path.resolve(process.argv[2] || 'sql');
const found = duplicates(root);
const count = sqlFiles(root).reduce((n, f) => n + statements(fs.readFileSync(f, 'utf8')).filter(defines).length, 0);
if (found.length) {
  for (const d of found) console.error(`${d.object} is defined in more than one place: ${d.where.join(', ')}`);
  console.error(`tests/sql/definitions.mjs: ${found.length} object(s) defined more than once under ${root}`);
  process.exit(1);
}
assert.ok(count > 100, `only ${count} definitions found under ${root}: is the scan broken?`);
console.log(`tests/sql/definitions.mjs: ${count} definitions under ${root}, each object defined once`);
