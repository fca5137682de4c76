-- 0048 the audit chain's hashing out of the commit-time lock, and events.head out of the chain
-- (issue 15 target 3, after 0043 and 0045). Runs as tianxing_owner inside one transaction opened
-- by `tianxingd migrate`. The functions are in sql/code/audit/ (010_trail.sql, 030_link.sql);
-- docs/performance.md ("Issue 15 target 3") has the measurements.
--
-- 1. Hash formula 2. Until now audit.link computed, under the chain's lock, for every entry
--    sha256(prev_hash || the entry's whole canonical JSON): rendering the row's changes as text
--    and hashing them, while every other committer waited. Now the entry's own digest (sha256 of
--    its canonical content, everything but its id and its place in the chain) is computed when it
--    is staged, outside any lock, and kept in audit.pending.digest; under the lock only
--      hash = sha256('tianxing-audit-2' || prev_hash || id as 8 bytes big-endian || digest)
--    remains: one hash over 72 bytes (and a tag) per entry. audit.log.hash_v says which formula an
--    entry's hash follows: the entries that exist keep 1 (the baseline's formula, unchanged, the
--    value ADD COLUMN gives them) and verify as before; audit.link writes 2. The default stays 1
--    so that a migration after this one still appending through the baseline's audit.append
--    (which does not name the column and hashes with formula 1) writes a true version.
--    The version is not a way around the chain: flipping it makes the entry's hash not match its
--    content (each formula is SHA-256 over a different input), which audit.verify() reports.
-- 2. events.head is no longer audited: the one row counts the outbox's last position, which is
--    derived (the position of the newest outbox row, and every outbox row is audited with its
--    position); auditing it added an entry, its hash and an index insert per event-producing
--    commit, under the chain's lock, for no evidence the outbox rows do not already hold. The
--    runtime role still cannot write it (no grant; sql/tests/events.sql).

SET LOCAL ROLE tianxing_audit;
ALTER TABLE audit.log ADD COLUMN hash_v smallint NOT NULL DEFAULT 1;
ALTER TABLE audit.log ADD CONSTRAINT log_hash_v_check CHECK (hash_v IN (1, 2));
COMMENT ON COLUMN audit.log.hash_v IS
  'Which hash formula the entry follows: 1 the baseline''s, 2 with the content digest taken at staging (0048).';
-- The staged entry's digest, taken by audit.append. NULL only for an entry staged in this very
-- transaction before sql/code is re-applied (an upgrade's migrations 0046 and 0047 stage through
-- the previous audit.append, which knows no digest): audit.link computes those itself.
ALTER TABLE audit.pending ADD COLUMN digest bytea CHECK (octet_length(digest) = 32);
RESET ROLE;

DROP TRIGGER audit_row ON events.head;
DROP TRIGGER audit_truncate ON events.head;
