-- 0052 customers_updated_idx without the search's bigrams (issue 15). Runs as
-- tianxing_owner inside one transaction opened by `tianxingd migrate`; docs/performance.md
-- ("Issue 15: eighth session") has the measurements.
--
-- 0012 made the index (updated_at, id) INCLUDE (owner_id, department_id, status, search_bigrams)
-- so that cust.search_page could walk it newest first for a common term and test the term and
-- the caller's visibility without visiting the table. Since 0044 the search's two sorts by
-- updated_at walk cust.search_terms instead, and the sort by name walks customers_name_idx or the
-- GIN index: no plan reads search_bigrams from this index any more. What it still serves is the
-- list without q, in its order and from its cursor; the owner, department and status stay
-- included as 0012 made them.
--
-- The bigrams (some 20 text elements a customer) made each entry about four times as wide: at a
-- million customers the index held 339 MB of the 2 GB the benchmark gives shared_buffers, and
-- 109 MB without them. Every create and every update (each one moves updated_at) writes a new
-- entry, and the WAL record carries it whole.
--
-- Rebuilt inside the migration's transaction: writes to cust.customers wait for the build (some
-- seconds at a million customers); reads go on.
DROP INDEX cust.customers_updated_idx;
CREATE INDEX customers_updated_idx ON cust.customers (updated_at, id)
  INCLUDE (owner_id, department_id, status);
