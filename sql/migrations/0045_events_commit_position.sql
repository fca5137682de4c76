-- 0045 the outbox's positions given at commit (issue 15 target 3, after 0043's audit chain).
-- Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`. The functions and
-- the trigger are in sql/code/events/010_outbox.sql; docs/events.md and docs/performance.md
-- ("Issue 15 target 3") say why and what it measured.
--
-- Until now events.emit took its position by UPDATE of events.head at the change's first event
-- and kept that row's lock to the end of the transaction: two event-producing transactions (every
-- customer create) never overlapped from that statement to their commit. Now emit stages the event
-- here, without a position; a DEFERRABLE INITIALLY DEFERRED constraint trigger on this table
-- fires at commit, takes the locks (the audit chain's first, then events.head), gives the
-- transaction's events their positions in staging order, writes them and their deliveries to the
-- outbox and moves the head once. The lock is held from that trigger to the end of the commit, so
-- positions are still taken in commit order and 0041's reasoning ("after N" never misses a late
-- commit) holds unchanged; only the span the lock is held shrinks. (0041's comments describe the
-- lock as taken at the first event and the chain's head as locked before events.head while the
-- statement runs: both were true until 0043/0045; migrations are checksummed, so they stay.)
--
-- UNLOGGED, like audit.pending: a staged row never outlives its transaction (the trigger deletes
-- it before the commit completes), so it needs no WAL. Not audited: the outbox row it becomes is.
CREATE UNLOGGED TABLE events.pending (
  xid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
  seq        bigint GENERATED ALWAYS AS IDENTITY,
  id         uuid NOT NULL DEFAULT gen_random_uuid(),
  type       text NOT NULL REFERENCES events.types (type),
  time       timestamptz NOT NULL DEFAULT now(),
  subject    text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
  entity     regclass NOT NULL,
  entity_id  uuid NOT NULL,
  data       jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object'),
  request_id text,
  PRIMARY KEY (xid, seq)
);
COMMENT ON TABLE events.pending IS
  'Events of transactions in progress, without a position; moved to the outbox at their commit (0045).';
ALTER TABLE events.pending ENABLE ROW LEVEL SECURITY;
ALTER TABLE events.pending FORCE ROW LEVEL SECURITY;
REVOKE ALL ON events.pending FROM PUBLIC;
-- Only the SECURITY DEFINER functions of sql/code/events (owner) touch it: the runtime role, the
-- SSE feeder and the webhook worker read positioned events from the outbox, never these.
CREATE POLICY pending_definer ON events.pending FOR ALL TO tianxing_owner USING (true) WITH CHECK (true);
