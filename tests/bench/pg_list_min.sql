-- The minimal reference of the list and search scenarios (issue 15): the claims, then the keyset
-- page as ONE plain SELECT of the list's columns (those cust.customer_item shows) as the runtime
-- role under the same row-level-security policies, 50 and one more (the one that says whether a
-- next page exists), read-only. What it leaves out of GET /v1/customers: the PL/pgSQL function
-- and its checks, decoding the cursor (the run passes its keyset, updated_at and id, as
-- variables), the items' JSON and their two derived fields (stale, review_due_at: a policy value
-- and arithmetic) and the next cursor. tests/bench/run replaces @AFTER@ by the keyset condition
-- or `true`. The search's minimal reference is pg_search_min.sql.
--   :sub, :roles, :reqid  the claims        :lim  the page size
--   :after_us, :after_id  the deep page's keyset (microseconds since the epoch, uuid)
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT tx.begin_request(:sub, :roles, :reqid);
SELECT c.id, c.name, c.company_name, c.status, c.tags, c.source, c.owner_id, c.department_id, c.last_verified_at, c.version, c.created_at, c.updated_at FROM cust.customers c WHERE @AFTER@ ORDER BY c.updated_at DESC, c.id DESC LIMIT :lim::int + 1;
COMMIT;
