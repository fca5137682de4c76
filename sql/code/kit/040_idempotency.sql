-- sql/code/kit/040_idempotency.sql: the Idempotency-Key store.
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md).

-- Called in the WHERE clause of the create's statement; true, or an error that rolls it back.
CREATE OR REPLACE FUNCTION tx.idempotency_store(p_key text, p_route text, p_hash text, p_status int,
                                     p_body text, p_resource text) RETURNS boolean
  LANGUAGE plpgsql
  AS $$
BEGIN
  -- An expired key may be used again.
  DELETE FROM tx_meta.idempotency i
   WHERE i.employee_id = tx.user_id() AND i.key = p_key AND i.created_at < now() - interval '24 hours';
  INSERT INTO tx_meta.idempotency (employee_id, key, route, request_hash, status, body, resource_id)
  VALUES (tx.user_id(), p_key, p_route, p_hash, p_status, p_body, p_resource);
  RETURN true;
END
$$;
REVOKE ALL ON FUNCTION tx.idempotency_store(text,text,text,integer,text,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tx.idempotency_store(text,text,text,integer,text,text) TO tianxing_app;

CREATE OR REPLACE FUNCTION tx.idempotency_lookup(p_key text)
  RETURNS TABLE (route text, request_hash text, status int, body text, resource_id text)
  LANGUAGE sql STABLE
  AS $$
  SELECT i.route, i.request_hash, i.status, i.body, i.resource_id FROM tx_meta.idempotency i
   WHERE i.employee_id = tx.user_id() AND i.key = p_key AND i.created_at >= now() - interval '24 hours'
$$;
REVOKE ALL ON FUNCTION tx.idempotency_lookup(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tx.idempotency_lookup(text) TO tianxing_app;

DROP POLICY IF EXISTS idempotency_own ON tx_meta.idempotency;
CREATE POLICY idempotency_own ON tx_meta.idempotency
  USING (employee_id = (SELECT tx.user_id()))
  WITH CHECK (employee_id = (SELECT tx.user_id()));

-- Kind idempotency.purge (a housekeeping job, src/modules/jobs): Idempotency-Key records are
-- answered for 24 hours (tx.idempotency_lookup) and then only deleted when the same employee
-- reuses the same key (tx.idempotency_store); everything else stays forever. The purge
-- removes expired ones, at most payload.batch (default 5000) per run. The owner may see and delete
-- expired records only (the table's own policy shows each employee their keys).
DROP POLICY IF EXISTS idempotency_purge_read ON tx_meta.idempotency;
CREATE POLICY idempotency_purge_read ON tx_meta.idempotency FOR SELECT TO tianxing_owner
  USING (created_at < now() - interval '24 hours');
DROP POLICY IF EXISTS idempotency_purge_delete ON tx_meta.idempotency;
CREATE POLICY idempotency_purge_delete ON tx_meta.idempotency FOR DELETE TO tianxing_owner
  USING (created_at < now() - interval '24 hours');

CREATE OR REPLACE FUNCTION jobs.idempotency_purge(p_payload jsonb) RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_batch int := coalesce((p_payload ->> 'batch')::int, 5000);
  v_n int;
BEGIN
  PERFORM jobs.require_system();
  DELETE FROM tx_meta.idempotency i
   WHERE (i.employee_id, i.key) IN (
     SELECT x.employee_id, x.key FROM tx_meta.idempotency x
      WHERE x.created_at < now() - interval '24 hours'
      ORDER BY x.created_at LIMIT v_batch);
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END
$$;
REVOKE ALL ON FUNCTION jobs.idempotency_purge(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION jobs.idempotency_purge(jsonb) TO tianxing_app;
