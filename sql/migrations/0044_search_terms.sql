-- 0044 the search's terms in time order (issue 15 target 5: every search term at a million
-- customers within 2x of the same at 10 000). Runs as tianxing_owner inside one transaction
-- opened by `tianxingd migrate`. The trigger that keeps it and the search that reads it are in
-- sql/code/customers/060_search.sql; docs/performance.md ("Issue 15 target 5") has the figures.
--
-- cust.search_page found a page of a search either by walking customers_updated_idx newest first
-- until the page was full (about 51 / share of matching customers entries: constant for a term,
-- but 5 000-9 000 for a term of 1 %) or by taking every match from the GIN index and sorting them
-- (cost: every match). A term of about sqrt(51 x N) matches is expensive both ways, so the worst
-- term's cost grew with the square root of the table. One row per (bigram, customer), ordered by
-- bigram then updated_at, turns every term into a short range scan in the list's own order: the
-- page costs about 51 / (share of that term's customers the caller sees) rows, whatever the
-- term's share and the table's size.
--
-- The rows are derived: a customer's rows are its search_bigrams at its updated_at, no more, no
-- fewer (cust.search_terms_follow). Nobody but the owner role reads or writes them: the runtime
-- role has no privilege, the search reads them as the owner (SECURITY DEFINER) and applies the
-- customers' own read policies to the customers it joins.

CREATE TABLE cust.search_terms (
  bigram      text COLLATE "C" NOT NULL,
  updated_at  timestamptz NOT NULL,
  customer_id uuid NOT NULL
);
COMMENT ON TABLE cust.search_terms IS
  'The bigrams of each customer (search_bigrams) at its updated_at: the search''s ordered index (0044).';
-- Not a primary key: tests/bench/run drops the secondary indexes (not constraints) of the tables
-- it bulk-loads and builds them afterwards, which a random B-tree insert per bigram would
-- otherwise slow by a minute at a million customers. Unique all the same.
CREATE UNIQUE INDEX search_terms_idx ON cust.search_terms (bigram, updated_at, customer_id);
-- cust.rarest_bigram picks the bigram of a longer q to walk by the planner's estimate of its
-- rows: 1 000 most common values (not 100) tell the common bigrams apart.
ALTER TABLE cust.search_terms ALTER COLUMN bigram SET STATISTICS 1000;

ALTER TABLE cust.search_terms ENABLE ROW LEVEL SECURITY;
ALTER TABLE cust.search_terms FORCE ROW LEVEL SECURITY;
CREATE POLICY search_terms_definer ON cust.search_terms FOR ALL TO tianxing_owner
  USING (true) WITH CHECK (true);

INSERT INTO cust.search_terms (bigram, updated_at, customer_id)
SELECT b, c.updated_at, c.id FROM cust.customers c, unnest(c.search_bigrams) b;
