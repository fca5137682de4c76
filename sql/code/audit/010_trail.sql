-- sql/code/audit/010_trail.sql: the audit trail: verification, append-only triggers, read policies.
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md).

SET LOCAL ROLE tianxing_audit;
-- Append-only: no UPDATE, DELETE or TRUNCATE of the trail, whoever asks.
CREATE OR REPLACE FUNCTION audit.refuse_change() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  RAISE EXCEPTION 'audit.%: % is not allowed: the audit trail is append-only', TG_TABLE_NAME, TG_OP
    USING ERRCODE = '42501';
END
$$;
REVOKE ALL ON FUNCTION audit.refuse_change() FROM PUBLIC;
RESET ROLE;

SET LOCAL ROLE tianxing_audit;
-- Hash formula 2 (0048): an entry's digest is SHA-256 of its canonical content without its id and
-- its place in the chain, a JSON array in this fixed order rendered by jsonb's text output (as
-- formula 1 renders it; `at` as epoch microseconds, so neither TimeZone nor DateStyle matter):
--   [at_epoch_us, actor_id, actor_roles, request_id, table_name, row_key, op, changes]
-- It is known when the entry is staged (audit.append), so it is computed there, outside the
-- chain's lock.
-- This function and the next have no SET search_path, so that PostgreSQL inlines them into their
-- caller's cached plan: with a SET clause every call parses and plans the body anew (measured
-- under the benchmark's load: about 0.8 ms a call, more than the hashing, and for the link under
-- the chain's lock). Every name in them is schema-qualified instead, so the caller's search_path
-- cannot change what they call. STABLE, not IMMUTABLE: extract and convert_to are STABLE, and an
-- IMMUTABLE function over them would not be inlined.
CREATE OR REPLACE FUNCTION audit.entry_digest(p_at timestamptz, p_actor_id uuid,
                                              p_actor_roles text[], p_request_id text,
                                              p_table_name text, p_row_key text, p_op text,
                                              p_changes jsonb)
  RETURNS bytea
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$
  SELECT pg_catalog.sha256(pg_catalog.convert_to(pg_catalog.jsonb_build_array(
    (pg_catalog.extract('epoch', p_at) OPERATOR(pg_catalog.*) 1000000)::pg_catalog.int8,
    p_actor_id, p_actor_roles, p_request_id, p_table_name, p_row_key, p_op,
    p_changes)::pg_catalog.text, 'UTF8'))
$$;
REVOKE ALL ON FUNCTION audit.entry_digest(timestamptz,uuid,text[],text,text,text,text,jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.entry_digest(timestamptz,uuid,text[],text,text,text,text,jsonb) TO tianxing_app;
-- ... and its link: hash = sha256('tianxing-audit-2' || prev_hash || id (8 bytes, big-endian) ||
-- digest), all the chain's lock still has to compute. The tag keeps the two formulas' inputs
-- apart; the id binds the entry to its place as formula 1 does.
CREATE OR REPLACE FUNCTION audit.entry_hash_2(p_prev bytea, p_id bigint, p_digest bytea)
  RETURNS bytea
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$
  SELECT pg_catalog.sha256('\x7469616e78696e672d61756469742d32'::pg_catalog.bytea
                           OPERATOR(pg_catalog.||) p_prev OPERATOR(pg_catalog.||)
                           pg_catalog.int8send(p_id) OPERATOR(pg_catalog.||) p_digest)
$$;
REVOKE ALL ON FUNCTION audit.entry_hash_2(bytea,bigint,bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.entry_hash_2(bytea,bigint,bytea) TO tianxing_app;
-- An entry's hash as its version says (audit.log.hash_v, 0048): 1 the baseline's
-- audit.entry_hash, 2 the digest and its link above.
CREATE OR REPLACE FUNCTION audit.entry_hash_of(l audit.log)
  RETURNS bytea
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT CASE l.hash_v
           WHEN 2 THEN audit.entry_hash_2(l.prev_hash, l.id,
                                          audit.entry_digest(l.at, l.actor_id, l.actor_roles,
                                                             l.request_id, l.table_name, l.row_key,
                                                             l.op, l.changes))
           ELSE audit.entry_hash(l.prev_hash, l.id, l.at, l.actor_id, l.actor_roles, l.request_id,
                                 l.table_name, l.row_key, l.op, l.changes)
         END
$$;
REVOKE ALL ON FUNCTION audit.entry_hash_of(audit.log) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.entry_hash_of(audit.log) TO tianxing_app;
RESET ROLE;

SET LOCAL ROLE tianxing_audit;
-- Walks the chain in id order: the first entry whose prev_hash is not its predecessor's hash, or
-- whose hash is not the hash of its content by the formula its hash_v names, is reported; then the head must point at the last
-- entry; then every digest of the PII read log must match the log's rows (first mismatch by id). first_broken_id is NULL when the chain is intact; `checked` counts the entries examined
-- (up to and including the broken one).
-- SECURITY INVOKER: what it sees is what the caller may read (api.audit_verify() admits auditor
-- and admin, who see every entry; tianxing_audit's members and superusers see all).
CREATE OR REPLACE FUNCTION audit.verify()
  RETURNS TABLE (checked bigint, first_broken_id bigint, reason text)
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_total bigint;
  v_last_id bigint;
  v_last_hash bytea;
  v_head audit.head%ROWTYPE;
BEGIN
  SELECT s.id, s.why INTO first_broken_id, reason
    FROM (SELECT l.id,
                 CASE WHEN l.prev_hash IS DISTINCT FROM
                           coalesce(lag(l.hash) OVER (ORDER BY l.id), audit.genesis())
                        THEN 'prev_hash does not match the hash of the previous entry'
                      WHEN l.hash IS DISTINCT FROM audit.entry_hash_of(l)
                        THEN 'hash does not match the entry''s content'
                 END AS why
            FROM audit.log l) s
   WHERE s.why IS NOT NULL
   ORDER BY s.id
   LIMIT 1;
  IF first_broken_id IS NOT NULL THEN
    SELECT count(*) INTO checked FROM audit.log l WHERE l.id <= first_broken_id;
    RETURN NEXT;
    RETURN;
  END IF;
  SELECT count(*) INTO v_total FROM audit.log;
  checked := v_total;
  SELECT l.id, l.hash INTO v_last_id, v_last_hash FROM audit.log l ORDER BY l.id DESC LIMIT 1;
  SELECT * INTO v_head FROM audit.head h WHERE h.singleton;
  IF FOUND AND (v_head.last_id IS DISTINCT FROM v_last_id
                OR v_head.last_hash IS DISTINCT FROM coalesce(v_last_hash, audit.genesis())) THEN
    first_broken_id := coalesce(v_head.last_id, v_last_id);
    reason := 'the chain head does not match the last entry (entries removed at the tail?)';
    RETURN NEXT;
    RETURN;
  END IF;
  -- The PII read log's digests (0043, 040_pii_digest.sql): the rows of each digested range must
  -- still be exactly those digested. Rows after the last digest are not checked yet.
  SELECT l.id INTO first_broken_id
    FROM audit.log l
    CROSS JOIN LATERAL audit.pii_reads_hash((l.changes ->> 'after')::bigint,
                                            (l.changes ->> 'through')::bigint) h
   WHERE l.table_name = 'cust.pii_reads' AND l.op = 'DIGEST'
     AND (h.n IS DISTINCT FROM (l.changes ->> 'count')::bigint
          OR encode(h.sha256, 'hex') IS DISTINCT FROM l.changes ->> 'sha256')
   ORDER BY l.id
   LIMIT 1;
  IF first_broken_id IS NOT NULL THEN
    reason := 'the PII read log no longer matches this digest (a row deleted, altered or added)';
  END IF;
  RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION audit.verify() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.verify() TO tianxing_app;
RESET ROLE;

SET LOCAL ROLE tianxing_audit;
CREATE OR REPLACE TRIGGER log_append_only BEFORE UPDATE OR DELETE ON audit.log
  FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
RESET ROLE;

SET LOCAL ROLE tianxing_audit;
CREATE OR REPLACE TRIGGER log_no_truncate BEFORE TRUNCATE ON audit.log
  FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
RESET ROLE;

SET LOCAL ROLE tianxing_audit;
CREATE OR REPLACE TRIGGER head_keep BEFORE INSERT OR DELETE ON audit.head
  FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
RESET ROLE;

SET LOCAL ROLE tianxing_audit;
CREATE OR REPLACE TRIGGER head_no_truncate BEFORE TRUNCATE ON audit.head
  FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
RESET ROLE;
