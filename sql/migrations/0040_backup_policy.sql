-- 0040 backups (issue 14, C2.2): the list of the backups pgBackRest holds, as the backup script
-- copies it from the repository (deploy/local/backup-lib.sh, tx_br_record), and the policy of how
-- old the newest one may be before /readyz warns and /metrics says stale.
-- Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`.
--
-- The rows are copied from the repository after each backup and each restore (a restore to a time
-- before some backups loses their rows with everything else; copying again brings them back), so
-- the table is a cache of the repository's list, not a ledger: tx_meta, like the migration
-- ledger, outside the business tables' row-level security. Only the cluster superuser (the
-- backup script) writes it; the runtime role reads it through tx_meta.backup_status()
-- (sql/code/ops/010_backups.sql).

CREATE TABLE tx_meta.backups (
  label       text PRIMARY KEY CHECK (length(label) BETWEEN 1 AND 100),
  kind        text NOT NULL CHECK (kind IN ('full', 'diff', 'incr')),
  started_at  timestamptz NOT NULL,
  stopped_at  timestamptz NOT NULL CHECK (stopped_at >= started_at),
  wal_start   text CHECK (length(wal_start) <= 64),
  wal_stop    text CHECK (length(wal_stop) <= 64),
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX backups_stopped_at_idx ON tx_meta.backups (stopped_at);
REVOKE ALL ON tx_meta.backups FROM PUBLIC;

ALTER TABLE org.policy_parameters NO FORCE ROW LEVEL SECURITY;
ALTER TABLE org.policy_values NO FORCE ROW LEVEL SECURITY;

-- One day of daily backups plus two hours of slack: a daily schedule that ran late is not stale,
-- one that did not run is. At most a month: a longer policy is no backup policy.
INSERT INTO org.policy_parameters (name, type, description, unit, clause, schema) VALUES
  ('backup_max_age_hours', 'integer',
   'How old the newest backup may be before /readyz warns (backup_stale) and the metric '
   'tianxing_backup_stale is 1 (C2.2). A warning, never a failure: traffic goes on.', 'hours',
   'C2.2', '{"type": "integer", "minimum": 1, "maximum": 744}');
INSERT INTO org.policy_values (name, value, effective_from, status, reason, decided_at) VALUES
  ('backup_max_age_hours', '26', '2024-01-01', 'approved', 'initial value', now());

ALTER TABLE org.policy_values FORCE ROW LEVEL SECURITY;
ALTER TABLE org.policy_parameters FORCE ROW LEVEL SECURITY;
