-- 0049 one commit-time firing of audit.link per batch of staged entries, not one per entry (issue
-- 15 target 3). Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`. The
-- functions and the trigger are in sql/code/audit/030_link.sql; docs/performance.md ("Issue 15,
-- 2026-12-07: less database work per create and per read") has the measurements.
--
-- The link trigger is a per-row constraint trigger (PostgreSQL has no deferred statement-level
-- one), so a transaction that staged n entries queued n firings at commit: the first linked them
-- all, the n - 1 others each started a SECURITY DEFINER call with its own search_path, probed for
-- their row and returned. A create of a customer stages five entries; an assessment month
-- thousands. Now audit.append marks a staged entry `armed` when no armed entry of its
-- transaction is still staged, and the trigger fires only for armed entries (its WHEN clause is
-- evaluated when the row is inserted, not at commit, so an unarmed entry queues nothing). The
-- first entry of a transaction is armed; the entries after it ride on its firing; an entry staged
-- after that firing moved the batch (by another deferred trigger, e.g. the outbox's own audit
-- entry) finds no armed entry left and is armed itself, so it queues a firing of its own: a row
-- that commits is still always linked. A subtransaction that rolls back takes its armed entry
-- with it, and the next entry staged is armed again.
-- `armed` is written by audit.append only (the runtime role has no right on audit.pending), so
-- no caller can stage entries that no firing would link.

SET LOCAL ROLE tianxing_audit;
ALTER TABLE audit.pending ADD COLUMN armed boolean NOT NULL DEFAULT false;
-- audit.append's probe: "is an armed entry of my transaction still staged?" Only armed entries
-- are in this index, and each firing deletes its own, so the probe walks at most one entry per
-- earlier firing of the transaction (dead to it, not yet vacuumed), never the batch.
CREATE INDEX pending_armed ON audit.pending (xid) WHERE armed;
COMMENT ON COLUMN audit.pending.armed IS
  'This entry queued the commit-time link of its transaction''s staged entries (0049).';
RESET ROLE;
