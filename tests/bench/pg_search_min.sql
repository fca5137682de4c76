-- The minimal reference of the search scenarios (issue 15): the claims, then the page as ONE
-- plain SELECT, read-only, walking the rows of the term's rarest bigram in cust.search_terms in
-- the list's order (-updated_at) and keeping the customers that contain the term and that the
-- caller may see, until 50 and one more (the one that says whether a next page exists) -- the
-- walk cust.search_page does since 0044 (sql/code/customers/060_search.sql), here without its
-- PL/pgSQL, its dynamic SQL, planning the rarest bigram per request (tests/bench/run asks
-- cust.rarest_bigram once and passes it as :g), the items' JSON and their derived fields, and
-- the next cursor. As the owner, with the runtime role's read policies of cust.customers written
-- out as a condition (@POLICY@, from pg_policy: tests/bench/run read_policy_condition), for the
-- reason cust.search_page is SECURITY DEFINER: under row-level security the containment operator
-- (not leakproof) may not run before the policy. The rows are the same: the policies, evaluated
-- as the caller's claims say. @POSITION@ is the term-in-a-row check cust.search_page adds for a
-- term longer than one bigram, or `true`.
-- Until 2026-12-06 this reference was the containment on the GIN index (pg_list_min.sql with
-- the term): as a prepared statement its generic plan collected every match of a rare term and
-- sorted them, slower than the service at a million customers (36 against 71 per second for
-- 华鑫): not a floor. The walk's plan does not depend on the term: a generic plan is the plan.
--   :sub, :roles, :reqid  the claims        :lim  the page size
--   :q  the search term                     :g    its rarest bigram (cust.rarest_bigram(lower(q)))
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT tx.begin_request(:sub, :roles, :reqid);
SELECT c.id, c.name, c.company_name, c.status, c.tags, c.source, c.owner_id, c.department_id, c.last_verified_at, c.version, c.created_at, c.updated_at FROM (SELECT t.customer_id, t.updated_at FROM cust.search_terms t WHERE t.bigram = :g AND (SELECT true FROM cust.customers c WHERE c.id = t.customer_id AND c.updated_at = t.updated_at AND c.search_bigrams @> cust.bigrams(lower(:q)) AND @POLICY@ AND @POSITION@) ORDER BY t.updated_at DESC, t.customer_id DESC LIMIT :lim::int + 1) p JOIN cust.customers c ON c.id = p.customer_id ORDER BY p.updated_at DESC, p.customer_id DESC;
COMMIT;
