-- sql/code/customers/060_search.sql: customer search and its page.
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md).

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
--     the table (0012 had customers_updated_idx carry the search's bigrams for this walk; 0052
--     took them out again, as the sorts by updated_at no longer walk it: below);
--   * a rare term: the GIN index finds the few candidates, which are then sorted.
-- 0044 (issue 15 target 5): both ends of that choice cost most for a term of about
-- sqrt(51 x N) matches (1 % at a million: a walk of 5 000-9 000 entries, or 10 000 matches to
-- sort), so the worst term grew with the square root of the table. For the two sorts by
-- updated_at the page now comes from cust.search_terms, one row per (bigram, customer) ordered
-- by bigram then updated_at: the range of q's rarest bigram, read in the list's order, each row
-- joined to its customer (by primary key) for the other conditions, until p_limit match. It
-- reads about p_limit / (share of that bigram's customers that match q and are visible) rows,
-- whatever the table's size or the term's share. The sort by name keeps the plan above.
--
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
CREATE OR REPLACE FUNCTION cust.list_conditions(p_sort text, p_cursor boolean, p_owner boolean,
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
REVOKE ALL ON FUNCTION cust.list_conditions(text,boolean,boolean,boolean,boolean,boolean,boolean,boolean,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.list_conditions(text,boolean,boolean,boolean,boolean,boolean,boolean,boolean,boolean) TO tianxing_app;

CREATE OR REPLACE FUNCTION cust.list_order(p_sort text) RETURNS text
  LANGUAGE sql IMMUTABLE
  AS $$
  SELECT CASE p_sort WHEN '-updated_at' THEN 'c.updated_at DESC, c.id DESC'
                     WHEN 'updated_at' THEN 'c.updated_at, c.id'
                     ELSE 'c.name, c.id' END
$$;
REVOKE ALL ON FUNCTION cust.list_order(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.list_order(text) TO tianxing_app;

-- The read policies of cust.customers that apply to the connection's role (session_user: the
-- service's runtime role; inside cust.search_page current_user is the owner), as one
-- SQL condition: permissive ones OR-ed, restrictive ones AND-ed, none permissive: false. Column
-- names in it are cust.customers' own, unqualified; functions and tables come out schema-
-- qualified (search_path pg_catalog).
CREATE OR REPLACE FUNCTION cust.read_policy_condition() RETURNS text
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

-- The bigram of q whose search_terms range is likely the shortest: the one with the fewest rows
-- by the planner's own estimate (ANALYZE's most common values of search_terms.bigram, 0044 keeps
-- 1 000 of them; any other bigram is estimated rarer than those). Not pg_stats: it hides the
-- statistics of a table whose row-level security applies to the reader, as FORCE makes it do
-- even for the owner. Any bigram of q gives the same answer (every match holds them all); the
-- rarest only makes the walk shorter. A q of one bigram (the usual two-character search) plans
-- nothing; a longer one costs a plan per bigram (about 0.1 ms each on an idle machine).
-- VOLATILE only because PostgreSQL allows EXPLAIN in no other kind of function; it reads nothing
-- but the plan.
CREATE OR REPLACE FUNCTION cust.rarest_bigram(p_q text) RETURNS text
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_bigrams text[] := cust.bigrams(p_q);
  v_g text;
  v_plan json;
  v_rows float8;
  v_min float8;
  v_best text;
BEGIN
  IF cardinality(v_bigrams) < 2 THEN
    RETURN v_bigrams[1];
  END IF;
  FOREACH v_g IN ARRAY v_bigrams LOOP
    EXECUTE format('EXPLAIN (FORMAT JSON) SELECT FROM cust.search_terms WHERE bigram = %L', v_g)
      INTO v_plan;
    v_rows := (v_plan -> 0 -> 'Plan' ->> 'Plan Rows')::float8;
    IF v_min IS NULL OR v_rows < v_min THEN
      v_min := v_rows;
      v_best := v_g;
    END IF;
  END LOOP;
  RETURN v_best;
END
$$;
REVOKE ALL ON FUNCTION cust.rarest_bigram(text) FROM PUBLIC;

-- search_terms follow the customers (0044): a customer's rows are its search_bigrams at its
-- updated_at. Replaced when either changes (an update moves updated_at: nearly every one), removed
-- with the customer. Deleting by the old values uses the table's own index (one probe a bigram),
-- so it needs no second index by customer. As the owner: the runtime role has no privilege on
-- the table. The bulk loader of the benchmark (session_replication_role = replica, no trigger)
-- writes the rows itself.
CREATE OR REPLACE FUNCTION cust.search_terms_follow() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.id = NEW.id AND OLD.updated_at = NEW.updated_at
     AND OLD.search_bigrams = NEW.search_bigrams THEN
    RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    DELETE FROM cust.search_terms t
     WHERE t.bigram = ANY (OLD.search_bigrams) AND t.updated_at = OLD.updated_at
       AND t.customer_id = OLD.id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO cust.search_terms (bigram, updated_at, customer_id)
    SELECT b, NEW.updated_at, NEW.id FROM unnest(NEW.search_bigrams) b;
  END IF;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION cust.search_terms_follow() FROM PUBLIC;

CREATE OR REPLACE TRIGGER customers_search_terms AFTER INSERT OR UPDATE OR DELETE ON cust.customers
  FOR EACH ROW EXECUTE FUNCTION cust.search_terms_follow();

-- One page of the search (see the top): up to p_limit ids in the list's order. The arguments are
-- api.customer_list's, already checked there (sort, status, q of 2 to 100 characters).
CREATE OR REPLACE FUNCTION cust.search_page(p_sort text, p_after_text text, p_after_ts timestamptz,
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
  IF p_sort = 'name' THEN
    EXECUTE format('SELECT ARRAY(SELECT c.id FROM cust.customers c WHERE %s ORDER BY %s LIMIT $13)',
                   array_to_string(v_where, ' AND '), cust.list_order(p_sort))
      INTO v_ids
      USING p_after_text, p_after_ts, p_after_id, p_owner_id, p_department_id, p_tag, p_status,
            p_stale, v_q, p_phone_bidx, p_email_bidx, p_period, p_limit;
    RETURN v_ids;
  END IF;
  -- The sorts by updated_at: walk the rarest bigram's rows in the list's order (see the top).
  -- The customer must also have the row's updated_at, so that a row the trigger failed to replace
  -- could never place a customer twice or out of order. The cursor is applied to the rows too
  -- (the same values as the customer's): it is what bounds the index range.
  -- The customer's conditions go in a sub-query of its own, where the policies' unqualified
  -- column names can only mean the customer's (search_terms has an updated_at too). A scalar
  -- sub-query, not EXISTS: PostgreSQL turns EXISTS into a join, and misjudging the join on two
  -- columns (id and updated_at) as matching almost nothing, it joined every row of the bigram
  -- and sorted them (8 000 rows for 有限 at 10 000 customers). A scalar sub-query stays a
  -- per-row check, so the plan is the ordered index scan that stops at p_limit.
  EXECUTE format('SELECT ARRAY(SELECT t.customer_id FROM cust.search_terms t'
                 ' WHERE t.bigram = $14 AND %s AND (SELECT true FROM cust.customers c'
                 ' WHERE c.id = t.customer_id AND c.updated_at = t.updated_at AND %s)'
                 ' ORDER BY %s LIMIT $13)',
                 CASE WHEN p_after_id IS NULL THEN 'true'
                      WHEN p_sort = '-updated_at' THEN '(t.updated_at, t.customer_id) < ($2, $3)'
                      ELSE '(t.updated_at, t.customer_id) > ($2, $3)' END,
                 array_to_string(v_where, ' AND '),
                 CASE p_sort WHEN '-updated_at' THEN 't.updated_at DESC, t.customer_id DESC'
                             ELSE 't.updated_at, t.customer_id' END)
    INTO v_ids
    USING p_after_text, p_after_ts, p_after_id, p_owner_id, p_department_id, p_tag, p_status,
          p_stale, v_q, p_phone_bidx, p_email_bidx, p_period, p_limit, cust.rarest_bigram(v_q);
  RETURN v_ids;
END
$$;
REVOKE ALL ON FUNCTION cust.search_page(text,text,timestamp with time zone,uuid,uuid,uuid,text,text,boolean,text,bytea,bytea,interval,integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.search_page(text,text,timestamp with time zone,uuid,uuid,uuid,text,text,boolean,text,bytea,bytea,interval,integer) TO tianxing_app;

-- GET /v1/customers?credit_code=: the customer holding this unified social credit code, found by
-- its blind index (issue 10 item 16: the filter was ignored, answering the unfiltered list). A
-- lookup by a PII value is a way to tie that value to a named customer, so it needs full PII
-- access: staff, supervisors and admins may ask (hr, risk officers and auditors are refused, as
-- for phone and e-mail), and a customer is in the answer only when the caller sees its PII in
-- full. The code is unique among live customers, so the answer is one page of at most one item.
CREATE OR REPLACE FUNCTION api.customer_find_by_credit_code(p_bidx bytea) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE v_out json;
BEGIN
  PERFORM api.require_role('staff', 'supervisor', 'admin');
  IF p_bidx IS NULL OR octet_length(p_bidx) <> 32 THEN
    PERFORM api.fail('TXVAL', 'credit_code_bidx', 'must be 32 bytes');
  END IF;
  SELECT json_build_object('items', coalesce(json_agg(cust.customer_item(c, cust.review_period())
                                                      ORDER BY c.id), '[]'::json),
                           'next_cursor', NULL)
    INTO v_out
    FROM cust.customers c
   WHERE c.credit_code_bidx = p_bidx AND cust.pii_access(c) = 'full';
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.customer_find_by_credit_code(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.customer_find_by_credit_code(bytea) TO tianxing_app;
