-- sql/code/audit/040_pii_digest.sql: the PII read log under the chain's evidence (0043).
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md).
--
-- cust.pii_reads stays outside the chain (0011: a read must not wait for every other read), but
-- a periodic job (kind audit.pii_reads.digest, every minute) appends to the chain a digest of the
-- rows since the previous digest: {after, through, count, sha256} over the rows with
-- after < seq <= through. audit.verify() recomputes every digest: a row deleted, altered or added
-- inside a digested range is reported at that digest's entry. Rows newer than the last digest are
-- covered by the next one. The digests are chain entries, so they outlive any purge of the log
-- itself; a purge by policy would have to record what it removed in the chain too (none exists
-- today: the log is append-only).

-- The fence between readers and the digest: a reader takes its seq holding this lock shared until
-- its transaction ends; the digest takes it exclusively for a moment. Key: any stable number.
-- Readers never wait for each other; they wait for the digest's moment only.

-- Numbers a new row of the log: the fence first, then the number. Any seq taken before the digest
-- got the fence belongs to a transaction that has ended by then (committed: visible to the
-- digest's next statement; rolled back: a gap nobody fills later).
-- SECURITY INVOKER: the reader's own rights (USAGE on the sequence, 0043).
SET LOCAL ROLE tianxing_audit;
CREATE OR REPLACE FUNCTION audit.pii_read_number() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(7354010472261181443);
  NEW.seq := nextval('cust.pii_reads_seq');
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION audit.pii_read_number() FROM PUBLIC;
RESET ROLE;

CREATE OR REPLACE TRIGGER pii_reads_number BEFORE INSERT ON cust.pii_reads
  FOR EACH ROW EXECUTE FUNCTION audit.pii_read_number();

SET LOCAL ROLE tianxing_audit;
-- The count and sha256 of the log's rows with p_after < seq <= p_through: sha256 over the rows in
-- seq order, one line each, each line a JSON array rendered by jsonb's text output (deterministic):
--   [seq, id, customer_id, reader_id, at_epoch_us, request_id]
-- SECURITY DEFINER (owner tianxing_audit, whose policy reads every row, 0043): the digest job and
-- audit.verify() see the whole log whoever calls them.
CREATE OR REPLACE FUNCTION audit.pii_reads_hash(p_after bigint, p_through bigint)
  RETURNS TABLE (n bigint, sha256 bytea)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT count(*),
         sha256(convert_to(coalesce(string_agg(
           jsonb_build_array(r.seq, r.id, r.customer_id, r.reader_id,
                             (extract(epoch FROM r.at) * 1000000)::bigint, r.request_id)::text,
           E'\n' ORDER BY r.seq), ''), 'UTF8'))
    FROM cust.pii_reads r
   WHERE r.seq > p_after AND r.seq <= p_through
$$;
REVOKE ALL ON FUNCTION audit.pii_reads_hash(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.pii_reads_hash(bigint, bigint) TO tianxing_app;
RESET ROLE;

SET LOCAL ROLE tianxing_audit;
-- The job (audit.pii_reads.digest): appends one DIGEST entry for the rows after the last digest,
-- at most max_rows of them (payload, default 100 000; the rest go to the next run); nothing when
-- there are none. Returns what it digested. One run at a time (a transaction lock); the fence is a session lock released
-- at once, even on error (a session lock would otherwise outlive the job's transaction on a
-- pooled connection and stop every full read). lock_timeout: a reader that keeps its
-- transaction open keeps the fence; the run then fails and is retried later.
-- SECURITY DEFINER (owner tianxing_audit): appends to the chain, reads the whole log.
CREATE OR REPLACE FUNCTION audit.pii_reads_digest(p_payload jsonb DEFAULT '{}')
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  SET lock_timeout = '10s'
  AS $$
DECLARE
  v_after bigint;
  v_through bigint;
  v_cap bigint;
  v_n bigint;
  v_sha bytea;
  v_entry jsonb;
  v_fenced boolean := false;
  v_max text := coalesce(p_payload, '{}') ->> 'max_rows';
  v_max_rows int;
BEGIN
  IF v_max IS NOT NULL AND v_max !~ '^[1-9][0-9]{0,8}$' THEN
    RAISE EXCEPTION 'audit.pii_reads_digest: max_rows must be a whole number from 1' USING ERRCODE = '22023';
  END IF;
  v_max_rows := coalesce(v_max::int, 100000);
  PERFORM pg_advisory_xact_lock(7354010472261181444);
  SELECT (l.changes ->> 'through')::bigint INTO v_after
    FROM audit.log l
   WHERE l.table_name = 'cust.pii_reads' AND l.op = 'DIGEST'
   ORDER BY l.id DESC LIMIT 1;
  v_after := coalesce(v_after, 0);
  BEGIN
    PERFORM pg_advisory_lock(7354010472261181443);
    v_fenced := true;
    SELECT CASE WHEN s.is_called THEN s.last_value ELSE s.last_value - 1 END INTO v_through
      FROM cust.pii_reads_seq s;
    v_fenced := NOT pg_advisory_unlock(7354010472261181443);
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    IF v_fenced THEN
      PERFORM pg_advisory_unlock(7354010472261181443);
    END IF;
    RAISE;
  END;
  -- Every seq up to v_through is now final: this statement's snapshot sees all that committed.
  SELECT r.seq INTO v_cap FROM cust.pii_reads r
   WHERE r.seq > v_after AND r.seq <= v_through
   ORDER BY r.seq OFFSET v_max_rows - 1 LIMIT 1;
  v_through := coalesce(v_cap, v_through);
  SELECT h.n, h.sha256 INTO v_n, v_sha FROM audit.pii_reads_hash(v_after, v_through) h;
  IF v_n = 0 THEN
    RETURN jsonb_build_object('after', v_after, 'through', v_after, 'count', 0);
  END IF;
  v_entry := jsonb_build_object('after', v_after, 'through', v_through, 'count', v_n,
                                'sha256', encode(v_sha, 'hex'));
  PERFORM audit.append('cust.pii_reads', NULL, 'DIGEST', v_entry);
  RETURN v_entry;
END
$$;
REVOKE ALL ON FUNCTION audit.pii_reads_digest(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.pii_reads_digest(jsonb) TO tianxing_app;
RESET ROLE;
