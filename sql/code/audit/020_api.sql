-- sql/code/audit/020_api.sql: the audit API (list, verify).
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md).

-- ---------------------------------------------------------------------------------------------
-- Module audit: GET /v1/audit, GET /v1/audit/verify (auditor, admin).
CREATE OR REPLACE FUNCTION api.audit_entry_json(l audit.log) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object('id', l.id, 'at', api.ts(l.at), 'actor_id', l.actor_id,
                           'actor_roles', to_json(l.actor_roles), 'request_id', l.request_id,
                           'table_name', l.table_name, 'row_key', l.row_key, 'op', l.op,
                           'changes', l.changes, 'prev_hash', encode(l.prev_hash, 'hex'),
                           'hash', encode(l.hash, 'hex'), 'hash_version', l.hash_v)
$$;
REVOKE ALL ON FUNCTION api.audit_entry_json(audit.log) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.audit_entry_json(audit.log) TO tianxing_app;

-- Newest first; keyset on id: the cursor is the id of the last entry of the previous page.
CREATE OR REPLACE FUNCTION api.audit_list(p_table text, p_row_key text, p_actor_id uuid,
                               p_from timestamptz, p_to timestamptz, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int;
  v_before bigint;
  v_out json;
BEGIN
  PERFORM api.require_role('auditor', 'admin');
  v_limit := api.page_limit(p_limit);
  IF p_cursor IS NOT NULL THEN
    IF p_cursor !~ '^[0-9]{1,18}$' THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
    v_before := p_cursor::bigint;
  END IF;
  IF p_from IS NOT NULL AND p_to IS NOT NULL AND p_from > p_to THEN
    PERFORM api.fail('TXVAL', 'from', 'must not be after to');
  END IF;
  WITH page AS (
    SELECT l, l.id, row_number() OVER (ORDER BY l.id DESC) AS rn
      FROM audit.log l
     WHERE (p_table IS NULL OR l.table_name = p_table)
       AND (p_row_key IS NULL OR l.row_key = p_row_key)
       AND (p_actor_id IS NULL OR l.actor_id = p_actor_id)
       AND (p_from IS NULL OR l.at >= p_from)
       AND (p_to IS NULL OR l.at < p_to)
       AND (v_before IS NULL OR l.id < v_before)
     ORDER BY l.id DESC
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.audit_entry_json(p.l) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN (max(p.id) FILTER (WHERE p.rn = v_limit))::text END)
    INTO v_out
    FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.audit_list(text,text,uuid,timestamp with time zone,timestamp with time zone,integer,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.audit_list(text,text,uuid,timestamp with time zone,timestamp with time zone,integer,text) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.audit_verify() RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE r record;
BEGIN
  PERFORM api.require_role('auditor', 'admin');
  SELECT * INTO r FROM audit.verify();
  RETURN json_build_object('checked', r.checked, 'intact', r.first_broken_id IS NULL,
                           'first_broken_id', r.first_broken_id, 'reason', r.reason);
END
$$;
REVOKE ALL ON FUNCTION api.audit_verify() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.audit_verify() TO tianxing_app;
