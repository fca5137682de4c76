-- sql/code/audit/030_link.sql: appending to the hash chain at commit (0043, issue 15 target 3).
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md).
--
-- An audited row is staged (audit.append) and linked when its transaction commits (audit.link):
-- the chain's lock is held from the commit-time trigger to the end of the commit instead of from
-- the first audited row. docs/performance.md ("Issue 15 target 3") has the measurements.

SET LOCAL ROLE tianxing_audit;
-- The baseline's audit.append(text, text, text, jsonb) linked at once (migrations keep using it
-- until this file is applied, after them, in the same transaction). Its successor below takes a
-- fifth argument with a default; with the four-argument one gone, the baseline's trigger function
-- audit.capture(), which calls audit.append with four arguments, stages.
DROP FUNCTION IF EXISTS audit.append(text, text, text, jsonb);
-- Stages one entry of the caller's transaction. Called by audit.capture() (see above) and by the
-- PII read log's digest; not executable by anyone else. p_at: the entry's time (now(), the
-- transaction's start, as before). The entry's digest (hash formula 2, 0048: sql/code/audit/
-- 010_trail.sql) is computed here, while no lock is held: rendering and hashing the changes is
-- the costly part of an entry's hash, and only the link to the previous hash is left for commit.
-- STAGING TABLES GO BY KEY (enable_seqscan off here, in audit.link and in events.link): a staging
-- table holds no live row between transactions, but its heap keeps every row the churn left
-- dead until autovacuum's next visit, up to a minute later: some 2 650 pages every 10 s at the
-- benchmark's create rate. A session plans these statements once, at whatever size the heap has
-- then. Planned right after a vacuum emptied it, the probe below kept a sequential scan for the
-- session's life, read every dead page at every entry, and a create's database CPU rose from 3.2
-- to 6.8 ms as the heap grew (issue 15 target 3: the create rounds' unexplained spread;
-- docs/performance.md). Through the indexes it costs the same at any size. The setting holds for
-- this function's own statements; the INSERT's link trigger fires at commit (and sets it itself).
CREATE OR REPLACE FUNCTION audit.append(p_table_name text, p_row_key text, p_op text,
                                        p_changes jsonb, p_at timestamptz DEFAULT now())
  RETURNS void
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
  SET enable_seqscan = off
  AS $$
DECLARE
  v_actor uuid := NULLIF(current_setting('tx.user_id', true), '')::uuid;
  v_roles text[] := coalesce(string_to_array(NULLIF(current_setting('tx.roles', true), ''), ','),
                             '{}');
  v_req text := NULLIF(current_setting('tx.request_id', true), '');
  v_xid xid8 := pg_current_xact_id();
BEGIN
  -- armed (0049): the first entry staged since this transaction's last link queues the next one;
  -- the probe reads the partial index of armed entries only.
  INSERT INTO audit.pending (xid, at, actor_id, actor_roles, request_id, table_name, row_key, op,
                             changes, digest, armed)
  VALUES (v_xid, p_at, v_actor, v_roles, v_req, p_table_name, p_row_key, p_op, p_changes,
          audit.entry_digest(p_at, v_actor, v_roles, v_req, p_table_name, p_row_key, p_op,
                             p_changes),
          NOT EXISTS (SELECT FROM audit.pending p WHERE p.xid = v_xid AND p.armed));
END
$$;
REVOKE ALL ON FUNCTION audit.append(text,text,text,jsonb,timestamptz) FROM PUBLIC;
RESET ROLE;

SET LOCAL ROLE tianxing_audit;
-- Links this transaction's staged entries, in the order they were staged, behind the chain's
-- head. Fires at commit (the constraint trigger below is INITIALLY DEFERRED; a session that says
-- SET CONSTRAINTS ... IMMEDIATE links at the end of each statement instead, which is as correct
-- and holds the lock longer). The first firing of a transaction links every staged row; the
-- others find nothing left and return. Entries staged after that (by another deferred trigger
-- that writes an audited row) queue a firing of their own, which PostgreSQL runs before the
-- commit completes: a row that commits is always linked. Since 0049 only the armed entry of each
-- batch queues a firing (audit.append arms the first entry staged while no armed one is), so a
-- transaction fires once per batch, not once per entry.
-- Under the advisory lock (held to the end of the commit) ids are taken from the log's sequence,
-- so ids are in commit order and the chain is walked in id order (audit.verify). What is computed
-- under it per entry is hash formula 2's link only (0048): one SHA-256 over the tag, the previous
-- hash, the id and the digest staged with the entry. The head row is
-- read FOR UPDATE: a REPEATABLE READ transaction whose snapshot predates the last link fails
-- here, at its commit, with a serialization error, instead of chaining onto a stale head.
-- Lock order: the events outbox's positions are also given at commit (0045, events.link in
-- sql/code/events/010_outbox.sql), under events.head. events.link takes this lock first, then
-- events.head; this function never takes events.head: the order is fixed whichever deferred
-- trigger fires first, so the two cannot deadlock.
-- SECURITY DEFINER (owner tianxing_audit): the committing role needs no right on the trail.
-- enable_seqscan off: audit.pending is read by key whatever its heap's size (see audit.append).
CREATE OR REPLACE FUNCTION audit.link() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  SET enable_seqscan = off
  AS $$
DECLARE
  v_xid xid8 := pg_current_xact_id();
  v_prev bytea;
  v_rows audit.pending[];
  v_ids bigint[] := '{}';
  v_prevs bytea[] := '{}';
  v_hashes bytea[] := '{}';
  v_id bigint;
  v_hash bytea;
  r audit.pending;
BEGIN
  -- The first firing moves every staged row, so a later firing whose row was moved with them
  -- returns (since 0049 only armed rows fire, one per batch: this stays as the guard). The probe
  -- is by this firing's own key, one index entry: probing for "any row of this transaction"
  -- walked every row already moved (deleted, not yet vacuumable), once per firing, which made a
  -- commit of n staged rows cost n²: 14 s for the 8 000 entries of an assessment month, under the
  -- chain's lock (issue 15).
  IF NOT EXISTS (SELECT FROM audit.pending p WHERE p.xid = v_xid AND p.seq = NEW.seq) THEN
    RETURN NULL;
  END IF;
  -- Key: 'tianxing audit' in any stable number (the baseline's, kept).
  PERFORM pg_advisory_xact_lock(7354010472261181442);
  SELECT h.last_hash INTO STRICT v_prev FROM audit.head h WHERE h.singleton FOR UPDATE;
  WITH moved AS (DELETE FROM audit.pending p WHERE p.xid = v_xid RETURNING p.*)
  SELECT array_agg(m ORDER BY m.seq) INTO v_rows FROM moved m;
  -- The chain in memory first, then the batch in ONE insert: one statement's start and end under
  -- the lock instead of one per entry (issue 15 target 3).
  FOREACH r IN ARRAY v_rows LOOP
    v_id := nextval('audit.log_id_seq');
    -- A NULL digest: staged by the append of before 0048 in the migrate transaction that
    -- brought 0048 (see there); computed here, once.
    v_hash := audit.entry_hash_2(v_prev, v_id,
                                 coalesce(r.digest,
                                          audit.entry_digest(r.at, r.actor_id, r.actor_roles,
                                                             r.request_id, r.table_name, r.row_key,
                                                             r.op, r.changes)));
    v_ids := v_ids || v_id;
    v_prevs := v_prevs || v_prev;
    v_hashes := v_hashes || v_hash;
    v_prev := v_hash;
  END LOOP;
  INSERT INTO audit.log (id, at, actor_id, actor_roles, request_id, table_name, row_key, op,
                         changes, prev_hash, hash, hash_v)
    OVERRIDING SYSTEM VALUE
    SELECT x.id, m.at, m.actor_id, m.actor_roles, m.request_id, m.table_name, m.row_key, m.op,
           m.changes, x.prev, x.hash, 2
      -- unnest, not v_rows[i]: subscripting an array of variable-length elements walks it from
      -- the start, which made a batch of n entries cost n² (8 000 entries: 4.8 s).
      FROM unnest(v_rows) WITH ORDINALITY AS m
      JOIN unnest(v_ids, v_prevs, v_hashes) WITH ORDINALITY AS x(id, prev, hash, n)
        ON x.n = m.ordinality
     ORDER BY x.n;
  UPDATE audit.head SET last_id = v_id, last_hash = v_prev WHERE singleton;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION audit.link() FROM PUBLIC;
RESET ROLE;

SET LOCAL ROLE tianxing_audit;
DROP TRIGGER IF EXISTS link_at_commit ON audit.pending;
-- Only an armed entry queues a firing (0049): its WHEN is evaluated as the row is inserted, so the
-- other entries of the batch queue nothing and are linked by the armed one's firing.
CREATE CONSTRAINT TRIGGER link_at_commit AFTER INSERT ON audit.pending
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (NEW.armed) EXECUTE FUNCTION audit.link();
RESET ROLE;
