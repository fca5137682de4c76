-- 0012 a customer search that stops after one page (C2.2 find; issue 4: "stays fast at a
-- million customers"; docs/customers.md, docs/performance.md).
--
-- Before: cust.search_ids returned every customer whose name or company contains q (15 000 for a
-- 字号 such as 华鑫 at a million customers, 90 000 for an industry word such as 科技), and
-- api.customer_list then fetched each under row-level security and sorted them to keep 50. Its
-- cost grew with the table.
--
-- Now cust.search_page answers with the page itself: the ids of the first p_limit customers, in
-- the list's order after its cursor, that match q, every filter of the list and the caller's
-- visibility. It is one query the planner costs as a whole, so it picks per term:
--   * a common term: walk the sort's index and stop after p_limit matches. It reads about
--     p_limit / (share of customers matching and visible) index entries, whatever the size of
--     the table; customers_updated_idx carries the columns the conditions read (search bigrams,
--     owner, department, status), so the walk seldom touches the table;
--   * a rare term: the GIN index finds the few candidates, which are then sorted.
-- It has to run as the owner (SECURITY DEFINER): as the runtime role, row-level security keeps
-- the planner from using the GIN index at all (0006, top). The LIMIT must count visible rows only
-- (a page cut before the policy would come back short), so it adds the caller's visibility to its
-- WHERE clause: not a copy of the rule, but the read policies of cust.customers themselves, taken
-- from the catalog (pg_policy) on each call and combined as PostgreSQL combines them (permissive
-- ones OR-ed, restrictive ones AND-ed) for the connection's role. A later migration that changes
-- who sees what changes the search with it. The function returns ids only; api.customer_list
-- still reads the rows under the caller's row-level security, and sql/tests/customers.sql checks
-- for every role that both agree.

-- The conditions of the customer list, as SQL text over `cust.customers c` and the parameters
-- $1..$12 of api.customer_list's and cust.search_page's dynamic queries (same numbering):
-- $1 name after, $2 updated_at after, $3 id after, $4 owner, $5 department, $6 tag, $7 status,
-- $8 stale, $9 q, $10 phone blind index, $11 e-mail blind index, $12 review period. Only the
-- conditions whose filter is set; one builder, so that both queries filter alike.
CREATE FUNCTION cust.list_conditions(p_sort text, p_cursor boolean, p_owner boolean,
                                     p_department boolean, p_tag boolean, p_status boolean,
                                     p_stale boolean, p_phone boolean, p_email boolean)
  RETURNS text[]
  LANGUAGE plpgsql IMMUTABLE
  AS $$
DECLARE v text[] := '{}';
BEGIN
  IF p_cursor THEN
    v := v || CASE p_sort WHEN 'name' THEN '(c.name, c.id) > ($1, $3)'
                          WHEN '-updated_at' THEN '(c.updated_at, c.id) < ($2, $3)'
                          ELSE '(c.updated_at, c.id) > ($2, $3)' END;
  END IF;
  IF p_owner THEN v := v || 'c.owner_id = $4'::text; END IF;
  IF p_department THEN v := v || 'c.department_id = $5'::text; END IF;
  IF p_tag THEN v := v || 'c.tags @> ARRAY[$6]'::text; END IF;
  IF p_status THEN v := v || 'c.status = $7'::text; END IF;
  IF p_stale THEN
    v := v || '(coalesce(c.last_verified_at, c.created_at) < now() - $12) = $8'::text;
  END IF;
  IF p_phone THEN
    v := v || 'c.id IN (SELECT k.customer_id FROM cust.contacts k WHERE k.phone_bidx = $10)'::text;
  END IF;
  IF p_email THEN
    v := v || 'c.id IN (SELECT k.customer_id FROM cust.contacts k WHERE k.email_bidx = $11)'::text;
  END IF;
  RETURN v;
END
$$;

CREATE FUNCTION cust.list_order(p_sort text) RETURNS text
  LANGUAGE sql IMMUTABLE
  AS $$
  SELECT CASE p_sort WHEN '-updated_at' THEN 'c.updated_at DESC, c.id DESC'
                     WHEN 'updated_at' THEN 'c.updated_at, c.id'
                     ELSE 'c.name, c.id' END
$$;

-- The walk of the default sort reads these columns from the index alone (see the top). Rebuilt
-- in the migration's transaction: customers wait for it (seconds at a million rows).
-- search_bigrams in a B-tree entry: at most 299 bigrams (name 100 + company 200 characters), 12
-- bytes each at worst, compressed below the 2704-byte entry limit (sql/tests/customers.sql
-- creates the worst cases); a database refusing a value answers 422, never 500.
DROP INDEX cust.customers_updated_idx;
CREATE INDEX customers_updated_idx ON cust.customers (updated_at, id)
  INCLUDE (owner_id, department_id, status, search_bigrams);

-- The read policies of cust.customers that apply to the connection's role (session_user: the
-- service's runtime role; inside cust.search_page current_user is the owner), as one
-- SQL condition: permissive ones OR-ed, restrictive ones AND-ed, none permissive: false. Column
-- names in it are cust.customers' own, unqualified; functions and tables come out schema-
-- qualified (search_path pg_catalog).
CREATE FUNCTION cust.read_policy_condition() RETURNS text
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce('(' || string_agg('(' || coalesce(pg_get_expr(p.polqual, p.polrelid), 'false') || ')', ' OR ')
                           FILTER (WHERE p.polpermissive) || ')', 'false')
         || coalesce(' AND ' || string_agg('(' || coalesce(pg_get_expr(p.polqual, p.polrelid), 'false') || ')', ' AND ')
                                  FILTER (WHERE NOT p.polpermissive), '')
    FROM pg_policy p
   WHERE p.polrelid = 'cust.customers'::regclass AND p.polcmd IN ('r', '*')
     AND (p.polroles = '{0}'
          OR EXISTS (SELECT FROM unnest(p.polroles) r WHERE pg_has_role(session_user, r, 'MEMBER')))
$$;
REVOKE ALL ON FUNCTION cust.read_policy_condition() FROM PUBLIC;

-- One page of the search (see the top): up to p_limit ids in the list's order. The arguments are
-- api.customer_list's, already checked there (sort, status, q of 2 to 100 characters).
CREATE FUNCTION cust.search_page(p_sort text, p_after_text text, p_after_ts timestamptz,
                                 p_after_id uuid, p_owner_id uuid, p_department_id uuid,
                                 p_tag text, p_status text, p_stale boolean, p_q text,
                                 p_phone_bidx bytea, p_email_bidx bytea, p_period interval,
                                 p_limit int)
  RETURNS uuid[]
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_q text := lower(btrim(p_q));
  v_where text[];
  v_ids uuid[];
BEGIN
  IF tx.user_id() IS NULL THEN
    RAISE EXCEPTION 'authentication required' USING ERRCODE = 'TXAUT';
  END IF;
  -- api.customer_list checked these already; a direct caller gets no more than it would.
  IF p_sort IS NULL OR p_sort NOT IN ('-updated_at', 'updated_at', 'name')
     OR length(v_q) > 100 OR p_limit > 201 THEN
    RAISE EXCEPTION 'search_page: sort, q or limit out of range' USING ERRCODE = '22023';
  END IF;
  IF v_q IS NULL OR length(v_q) < 2 OR p_limit IS NULL OR p_limit < 1
     OR cardinality(cust.bigrams(v_q)) = 0 THEN
    RETURN '{}';
  END IF;
  v_where := cust.list_conditions(p_sort, p_after_id IS NOT NULL, p_owner_id IS NOT NULL,
                                  p_department_id IS NOT NULL, p_tag IS NOT NULL,
                                  p_status IS NOT NULL, p_stale IS NOT NULL,
                                  p_phone_bidx IS NOT NULL, p_email_bidx IS NOT NULL)
    -- Every bigram of q (the index's terms) ...
    || 'c.search_bigrams @> cust.bigrams($9)'::text
    -- ... what the read policies let the caller see (see the top) ...
    || cust.read_policy_condition();
  -- ... and, unless q is one bigram (then having it is containing q), q itself in a row.
  IF length(v_q) > 2 OR v_q ~ '[[:space:]]' THEN
    v_where := v_where
      || 'position($9 IN lower(c.name || '' '' || coalesce(c.company_name, ''''))) > 0'::text;
  END IF;
  EXECUTE format('SELECT ARRAY(SELECT c.id FROM cust.customers c WHERE %s ORDER BY %s LIMIT $13)',
                 array_to_string(v_where, ' AND '), cust.list_order(p_sort))
    INTO v_ids
    USING p_after_text, p_after_ts, p_after_id, p_owner_id, p_department_id, p_tag, p_status,
          p_stale, v_q, p_phone_bidx, p_email_bidx, p_period, p_limit;
  RETURN v_ids;
END
$$;
REVOKE ALL ON FUNCTION cust.search_page(text, text, timestamptz, uuid, uuid, uuid, text, text,
                                        boolean, text, bytea, bytea, interval, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.search_page(text, text, timestamptz, uuid, uuid, uuid, text, text,
                                           boolean, text, bytea, bytea, interval, int),
                          cust.list_conditions(text, boolean, boolean, boolean, boolean, boolean,
                                               boolean, boolean, boolean),
                          cust.list_order(text)
  TO tianxing_app;

-- The list as in 0006, its conditions from cust.list_conditions, and q answered by
-- cust.search_page: the page's ids, read here under the caller's row-level security.
CREATE OR REPLACE FUNCTION api.customer_list(p_limit int, p_cursor text, p_owner_id uuid,
                                             p_department_id uuid, p_tag text, p_status text,
                                             p_stale boolean, p_q text, p_phone_bidx bytea,
                                             p_email_bidx bytea, p_sort text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_sort text := coalesce(p_sort, '-updated_at');
  v_q text := btrim(p_q);
  v_period interval := cust.review_period();
  v_key jsonb;
  v_after_ts timestamptz;
  v_after_text text;
  v_after_id uuid;
  v_where text[];
  v_ids uuid[];
  v_out json;
BEGIN
  PERFORM api.require_user();
  IF v_sort NOT IN ('-updated_at', 'updated_at', 'name') THEN
    PERFORM api.fail('TXVAL', 'sort', 'must be one of -updated_at, updated_at, name');
  END IF;
  IF p_status IS NOT NULL AND p_status NOT IN ('prospect', 'active', 'inactive') THEN
    PERFORM api.fail('TXVAL', 'status', 'must be one of prospect, active, inactive');
  END IF;
  IF p_q IS NOT NULL AND (length(v_q) < 2 OR length(v_q) > 100) THEN
    PERFORM api.fail('TXVAL', 'q', 'must be 2 to 100 characters');
  END IF;
  -- "a b": no two characters in a row, so no term of the index; it would read every customer.
  IF p_q IS NOT NULL AND cardinality(cust.bigrams(lower(v_q))) = 0 THEN
    PERFORM api.fail('TXVAL', 'q', 'must hold two characters in a row that are not spaces');
  END IF;
  IF p_tag IS NOT NULL AND (btrim(p_tag) = '' OR length(p_tag) > 50) THEN
    PERFORM api.fail('TXVAL', 'tag', 'must be 1 to 50 characters');
  END IF;
  IF p_phone_bidx IS NOT NULL AND octet_length(p_phone_bidx) <> 32 THEN
    PERFORM api.fail('TXVAL', 'phone_bidx', 'must be 32 bytes');
  END IF;
  IF p_email_bidx IS NOT NULL AND octet_length(p_email_bidx) <> 32 THEN
    PERFORM api.fail('TXVAL', 'email_bidx', 'must be 32 bytes');
  END IF;
  IF p_cursor IS NOT NULL THEN
    v_key := cust.cursor_decode(p_cursor, 'customers' || v_sort, 2);
    v_after_id := cust.cursor_parse_uuid(v_key ->> 1);
    IF v_sort = 'name' THEN
      v_after_text := v_key ->> 0;
    ELSE
      v_after_ts := cust.cursor_parse_ts(v_key ->> 0);
    END IF;
  END IF;

  IF p_q IS NOT NULL THEN
    -- The page itself, one more than asked for (the extra id tells whether there is a next
    -- page): the cursor and every filter are applied there already.
    v_ids := cust.search_page(v_sort, v_after_text, v_after_ts, v_after_id, p_owner_id,
                              p_department_id, p_tag, p_status, p_stale, v_q, p_phone_bidx,
                              p_email_bidx, v_period, v_limit + 1);
    v_where := ARRAY['c.id = ANY ($15)'];
  ELSE
    v_where := cust.list_conditions(v_sort, p_cursor IS NOT NULL, p_owner_id IS NOT NULL,
                                    p_department_id IS NOT NULL, p_tag IS NOT NULL,
                                    p_status IS NOT NULL, p_stale IS NOT NULL,
                                    p_phone_bidx IS NOT NULL, p_email_bidx IS NOT NULL);
  END IF;

  EXECUTE format($q$
    WITH page AS (
      SELECT c, row_number() OVER (ORDER BY %1$s) AS rn
        FROM cust.customers c
       WHERE %2$s
       ORDER BY %1$s
       LIMIT $13 + 1)
    SELECT json_build_object(
             'items', coalesce(json_agg(cust.customer_item(p.c, $12) ORDER BY p.rn)
                                 FILTER (WHERE p.rn <= $13), '[]'::json),
             'next_cursor', CASE WHEN count(*) > $13 THEN cust.cursor_encode(jsonb_build_array(
                                   $14, min(%3$s) FILTER (WHERE p.rn = $13),
                                   min(((p.c).id)::text) FILTER (WHERE p.rn = $13))) END)
      FROM page p $q$,
    cust.list_order(v_sort),
    CASE WHEN cardinality(v_where) = 0 THEN 'true' ELSE array_to_string(v_where, ' AND ') END,
    CASE WHEN v_sort = 'name' THEN '(p.c).name' ELSE 'cust.cursor_ts((p.c).updated_at)' END)
  INTO v_out
  USING v_after_text, v_after_ts, v_after_id, p_owner_id, p_department_id, p_tag, p_status,
        p_stale, v_q, p_phone_bidx, p_email_bidx, v_period, v_limit, 'customers' || v_sort, v_ids;
  RETURN v_out;
END
$$;

DROP FUNCTION cust.search_ids(text);
