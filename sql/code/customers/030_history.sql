-- sql/code/customers/030_history.sql: a customer's history from the audit trail.
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md).

-- The target's history includes the records merged into it.
CREATE OR REPLACE FUNCTION cust.history_rows(p_customer uuid, p_before bigint, p_limit int)
  RETURNS SETOF audit.log
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  WITH ids AS (SELECT p_customer::text AS id
               UNION ALL
               SELECT c.id::text FROM cust.customers c WHERE c.merged_into = p_customer)
  SELECT l.* FROM audit.log l
   WHERE (p_before IS NULL OR l.id < p_before)
     AND ((l.table_name = 'cust.customers' AND l.row_key IN (SELECT id FROM ids))
          OR (l.table_name IN ('cust.contacts', 'cust.follow_ups', 'cust.contracts', 'cust.team',
                               'cust.consents', 'cust.disclosures', 'cust.data_keys')
              AND (l.changes ->> 'customer_id' IN (SELECT id FROM ids)
                   OR l.row_key IN (SELECT k.id::text FROM cust.contracts k WHERE k.customer_id = p_customer
                                    UNION ALL
                                    SELECT c.id::text FROM cust.consents c WHERE c.customer_id = p_customer))))
   ORDER BY l.id DESC
   LIMIT p_limit
$$;
REVOKE ALL ON FUNCTION cust.history_rows(uuid,bigint,integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.history_rows(uuid,bigint,integer) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.customer_history(p_id uuid, p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int;
  v_before bigint;
  v_out json;
  v_cases json;
BEGIN
  PERFORM api.require_user();
  IF NOT EXISTS (SELECT FROM cust.customers c WHERE c.id = p_id) THEN
    RETURN NULL; -- not there, or not yours: 404
  END IF;
  v_limit := api.page_limit(p_limit);
  -- Its cases (issue 11), those the caller may read: sql/code/cases/095_customers.sql.
  v_cases := cases.customer_cases_json(p_id);
  IF p_cursor IS NOT NULL THEN
    IF p_cursor !~ '^[0-9]{1,18}$' THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
    v_before := p_cursor::bigint;
  END IF;
  WITH page AS (
    SELECT h.*, row_number() OVER (ORDER BY h.id DESC) AS rn
      FROM cust.history_rows(p_id, v_before, v_limit + 1) h)
  SELECT json_build_object(
           'items', coalesce(json_agg(json_build_object(
                      'id', p.id, 'at', api.ts(p.at), 'actor_id', p.actor_id,
                      'actor_roles', to_json(p.actor_roles), 'request_id', p.request_id,
                      'table_name', p.table_name, 'row_key', p.row_key, 'op', p.op,
                      'changes', (SELECT coalesce(jsonb_object_agg(k, CASE WHEN k LIKE '%\_enc' OR k = 'wrapped'
                                                                         THEN to_jsonb('[encrypted]'::text) ELSE v END),
                                                  '{}'::jsonb)
                                    FROM jsonb_each(p.changes) AS e(k, v)))
                      ORDER BY p.rn) FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN (min(p.id) FILTER (WHERE p.rn <= v_limit))::text END,
           'cases', v_cases -> 'items', 'cases_more', v_cases -> 'more')
    INTO v_out
    FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.customer_history(uuid,integer,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.customer_history(uuid,integer,text) TO tianxing_app;
