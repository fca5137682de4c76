-- The audit chain at commit and the PII read log's digest (0043, sql/code/audit/030_link.sql and
-- 040_pii_digest.sql, issue 15 target 3). Linking at commit: entries appear when the constraint
-- trigger fires (here made to fire with SET CONSTRAINTS ... IMMEDIATE, which runs the deferred
-- firings at once), in staging order, chained behind the head; a rolled-back savepoint leaves
-- none. Hash formula 2 (0048) for what is linked now, and events.head out of the chain. The
-- digest: what it covers, its hash, its cap, and that verification recomputes it.
-- Tampering with the log as the owner, and concurrent writers: tests/sql/tamper.sh.
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(37);

\ir lib/session.psql
-- lib/session.psql links at each statement's end; this file checks the deferral itself.
SET CONSTRAINTS audit.link_at_commit DEFERRED;

-- The trail as the auditor sees it (then back to the caller's claims).
CREATE FUNCTION pg_temp.as_auditor(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  saved text[] := ARRAY[current_setting('tx.user_id', true), current_setting('tx.roles', true),
                        current_setting('tx.department_id', true), current_setting('tx.request_id', true)];
  r text;
BEGIN
  PERFORM tx.begin_request('auditor', 'auditor', 'req-read');
  EXECUTE q INTO r;
  PERFORM set_config('tx.user_id', coalesce(saved[1], ''), true), set_config('tx.roles', coalesce(saved[2], ''), true),
          set_config('tx.department_id', coalesce(saved[3], ''), true), set_config('tx.request_id', coalesce(saved[4], ''), true);
  RETURN r;
END $$;

-- Structure and privileges -----------------------------------------------------------------
SELECT is((SELECT relpersistence::text FROM pg_class WHERE oid = 'audit.pending'::regclass), 'u',
  'audit.pending is unlogged (its rows never outlive their transaction)');
SELECT ok(NOT has_table_privilege('tianxing_app', 'audit.pending', 'SELECT')
          AND NOT has_table_privilege('tianxing_app', 'audit.pending', 'INSERT'),
  'the runtime role can neither read nor stage entries itself');
SELECT ok((SELECT tgdeferrable AND tginitdeferred FROM pg_trigger
            WHERE tgrelid = 'audit.pending'::regclass AND tgname = 'link_at_commit'),
  'the link trigger is DEFERRABLE INITIALLY DEFERRED (fires at commit)');
SELECT ok((SELECT prosecdef FROM pg_proc WHERE oid = 'audit.link()'::regprocedure), 'audit.link is SECURITY DEFINER');
SELECT ok(NOT has_function_privilege('tianxing_app', 'audit.link()', 'EXECUTE'), '... and not executable by the runtime role');
SELECT is((SELECT count(*)::int FROM pg_proc WHERE proname = 'append' AND pronamespace = 'audit'::regnamespace), 1,
  'one audit.append: the baseline''s four-argument one (linking at once) is gone');

-- Linking at commit ----------------------------------------------------------------------------
CREATE TEMP TABLE before AS
  SELECT pg_temp.as_auditor('SELECT max(id)::text FROM audit.log')::bigint AS last_id,
         pg_temp.as_auditor('SELECT encode(last_hash, ''hex'') FROM audit.head') AS head;
SELECT pg_temp.be('admin', 'admin', 'req-link-1');
SELECT api.department_create('{"code": "LK1", "name": "Link one", "kind": "support"}');
SELECT api.department_create('{"code": "LK2", "name": "Link two", "kind": "support"}');
SAVEPOINT s;
SELECT api.department_create('{"code": "LK3", "name": "Rolled back", "kind": "support"}');
ROLLBACK TO SAVEPOINT s;
SELECT is(pg_temp.as_auditor($$SELECT count(*)::text FROM audit.log WHERE request_id = 'req-link-1'$$), '0',
  'deferred: the writes have no entry before the commit');
SELECT is(pg_temp.as_auditor('SELECT encode(last_hash, ''hex'') FROM audit.head'), (SELECT head FROM before),
  '... and the head has not moved');
SET CONSTRAINTS audit.link_at_commit IMMEDIATE;
SELECT is(pg_temp.as_auditor($$SELECT string_agg(changes ->> 'code', ',' ORDER BY id) FROM audit.log
                                WHERE request_id = 'req-link-1' AND table_name = 'org.departments'$$), 'LK1,LK2',
  'linked at the firing: both departments, in the order written; the rolled-back one is not there');
SELECT cmp_ok(pg_temp.as_auditor($$SELECT min(id)::text FROM audit.log WHERE request_id = 'req-link-1'$$)::bigint,
  '>', (SELECT last_id FROM before), 'the linked entries come after the last one (ids taken under the lock)');
SELECT is(pg_temp.as_auditor($$SELECT encode(prev_hash, 'hex') FROM audit.log WHERE request_id = 'req-link-1' ORDER BY id LIMIT 1$$),
  (SELECT head FROM before), '... and chains onto the previous head');
SELECT is(pg_temp.as_auditor($$SELECT (h.last_id = l.id AND h.last_hash = l.hash)::text FROM audit.head h,
                                (SELECT id, hash FROM audit.log ORDER BY id DESC LIMIT 1) l$$), 'true',
  'the head is the last linked entry');
SELECT is(pg_temp.as_auditor($$SELECT count(*)::text FROM (SELECT id - lag(id) OVER (ORDER BY id) AS d FROM audit.log
                                WHERE request_id = 'req-link-1') s WHERE d <> 1$$), '0',
  'a transaction''s entries are consecutive in the chain');
SELECT is(pg_temp.as_auditor('SELECT (first_broken_id IS NULL)::text FROM audit.verify()'), 'true', 'the chain verifies');
-- Hash formula 2 (0048): the content's digest taken at staging, only its link under the lock.
SELECT is(pg_temp.as_auditor($$SELECT string_agg(DISTINCT hash_v::text, ',') FROM audit.log WHERE request_id = 'req-link-1'$$), '2',
  'entries linked at commit follow hash formula 2');
SELECT is(pg_temp.as_auditor($$SELECT bool_and(hash = audit.entry_hash_2(prev_hash, id, audit.entry_digest(at, actor_id, actor_roles,
                                  request_id, table_name, row_key, op, changes)))::text FROM audit.log WHERE request_id = 'req-link-1'$$),
  'true', '... their hash is the link of the previous hash, the id and the content''s digest');
-- Fixed vectors, worked out outside PostgreSQL (Python's hashlib over the bytes the formula names).
SELECT is(encode(audit.entry_digest('2024-01-02 03:04:05.123456+00', NULL, '{admin}', 'r1', 'org.departments', 'k',
                                    'INSERT', '{"code": "X"}'), 'hex'),
  'e6e7525778283cafe8f4f520de6b8212e0b04547160aaa8a891b7da5e7348376',
  'the digest: sha256 of [at_epoch_us, actor_id, actor_roles, request_id, table_name, row_key, op, changes] as jsonb text');
SELECT is(encode(audit.entry_hash_2(audit.genesis(), 1, sha256('')), 'hex'),
  'fd5d3c070cbaa4bad3347f4e5c04d6692a6b2b5e7b6563549b83e77cd149c231',
  'the link: sha256(''tianxing-audit-2'' || prev_hash || id as 8 bytes big-endian || digest)');
-- Immediate from here on: each statement links its own entries.
SELECT api.department_create('{"code": "LK4", "name": "Link four", "kind": "support"}');
SELECT is(pg_temp.as_auditor($$SELECT count(*)::text FROM audit.log WHERE changes ->> 'code' = 'LK4'$$), '1',
  'IMMEDIATE: the statement''s entry is linked at its end');
-- One firing per batch (0049): only the entry staged while no armed one is queues the link. A
-- batch whose armed entry is rolled back with its savepoint arms its next entry, or nothing
-- would link the rest.
SELECT alike((SELECT pg_get_triggerdef(oid) FROM pg_trigger
              WHERE tgrelid = 'audit.pending'::regclass AND tgname = 'link_at_commit'),
  '%WHEN (new.armed)%', 'the link trigger queues a firing for armed entries only');
SET CONSTRAINTS audit.link_at_commit DEFERRED;
SELECT pg_temp.be('admin', 'admin', 'req-link-2');
SAVEPOINT s2;
SELECT api.department_create('{"code": "LK5", "name": "Armed, rolled back", "kind": "support"}');
ROLLBACK TO SAVEPOINT s2;
SELECT api.department_create('{"code": "LK6", "name": "Link six", "kind": "support"}');
SELECT api.department_create('{"code": "LK7", "name": "Link seven", "kind": "support"}');
SET CONSTRAINTS audit.link_at_commit IMMEDIATE;
SELECT is(pg_temp.as_auditor($$SELECT string_agg(changes ->> 'code', ',' ORDER BY id) FROM audit.log
                                WHERE request_id = 'req-link-2' AND table_name = 'org.departments'$$), 'LK6,LK7',
  'the armed entry rolled back with its savepoint: the next one is armed and links the batch');
SELECT is(pg_temp.as_auditor('SELECT (first_broken_id IS NULL)::text FROM audit.verify()'), 'true', '... and the chain verifies');

-- The PII read log: numbered under the fence -----------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff', 'req-pii');
INSERT INTO ids VALUES ('cu', '4c000000-0000-4000-8000-0000000000a1');
SELECT api.customer_create(jsonb_build_object('id', pg_temp.id('cu'), 'name', '周子涵',
  'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', '\x01' || repeat('cd', 59))));
INSERT INTO cust.pii_reads (customer_id, reader_id, request_id, seq)
  VALUES (pg_temp.id('cu'), pg_temp.emp('staff.a1'), 'forged-seq', -5);
SELECT cmp_ok((SELECT seq FROM cust.pii_reads WHERE request_id = 'forged-seq'), '>', 0::bigint,
  'a row''s seq is the trigger''s, whatever the insert said');
SELECT ok(EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
                   AND mode = 'ShareLock' AND objid::text::bigint = (7354010472261181443 & 4294967295)),
  'a reader holds the fence shared until it ends');
SELECT is(pg_temp.as_auditor($$SELECT count(*)::text FROM audit.log WHERE request_id = 'req-pii' AND table_name = 'events.head'$$), '0',
  'a create moves events.head without an entry for it (0048: derived from the audited outbox rows)');
SELECT is(pg_temp.as_auditor($$SELECT count(*)::text FROM audit.log WHERE request_id = 'req-pii' AND table_name = 'events.outbox'$$), '1',
  '... while its outbox row, with its position, is in the chain');
SELECT is((SELECT api.customer_get(pg_temp.id('cu')) ->> 'pii_access'), 'full', 'the owner reads in full');
SELECT is((SELECT count(*)::int FROM cust.pii_reads WHERE customer_id = pg_temp.id('cu')), 2, '... and is logged');

-- The digest ----------------------------------------------------------------------------------
SELECT throws_ok($$ SELECT audit.pii_reads_digest('{"max_rows": 0}') $$, '22023', NULL, 'max_rows 0 is refused');
SELECT throws_ok($$ SELECT audit.pii_reads_digest('{"max_rows": "x"}') $$, '22023', NULL, 'max_rows must be a number');
CREATE TEMP TABLE d1 AS SELECT audit.pii_reads_digest('{"max_rows": 1}') AS e;
SELECT is((SELECT (e ->> 'count')::int FROM d1), 1, 'max_rows 1: one row digested');
CREATE TEMP TABLE d2 AS SELECT audit.pii_reads_digest() AS e;
SELECT is((SELECT (e ->> 'after')::bigint FROM d2), (SELECT (e ->> 'through')::bigint FROM d1),
  'the next digest starts where the last one ended');
SELECT is((SELECT (e ->> 'count')::bigint FROM d2),
  (SELECT count(*) FROM cust.pii_reads, d1 WHERE seq > (d1.e ->> 'through')::bigint),
  '... and covers every row since');
SELECT is((SELECT e ->> 'sha256' FROM d2),
  (SELECT encode(sha256(convert_to(string_agg(jsonb_build_array(r.seq, r.id, r.customer_id, r.reader_id,
                                     (extract(epoch FROM r.at) * 1000000)::bigint, r.request_id)::text, E'\n' ORDER BY r.seq), 'UTF8')), 'hex')
     FROM cust.pii_reads r, d2 WHERE r.seq > (d2.e ->> 'after')::bigint AND r.seq <= (d2.e ->> 'through')::bigint),
  'the digest''s sha256 is over the rows in seq order, one JSON array a line');
SELECT is((SELECT (audit.pii_reads_digest() ->> 'count')::int), 0, 'nothing new: no digest');
SELECT is(pg_temp.as_auditor($$SELECT count(*)::text FROM audit.log WHERE table_name = 'cust.pii_reads' AND op = 'DIGEST'
                                AND request_id = 'req-pii'$$), '2', 'two DIGEST entries in the chain (the empty run wrote none)');
SELECT is(pg_temp.as_auditor('SELECT (first_broken_id IS NULL)::text FROM audit.verify()'), 'true',
  'the chain and its digests verify');

SELECT * FROM finish();
ROLLBACK;
