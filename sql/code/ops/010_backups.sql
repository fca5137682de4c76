-- The state of the backups for /readyz and /metrics (issue 14, C2.2; table and policy: migration
-- 0040). Neither endpoint has a user: the function runs as the owner (SECURITY DEFINER), which
-- reads approved policy values, and gives out only what an operator's probe needs.

-- {last_label, last_kind, last_stopped_at, age_seconds, max_age_seconds, stale}; the last_* and
-- age_seconds are null when no backup is recorded, and then stale is true.
CREATE OR REPLACE FUNCTION tx_meta.backup_status() RETURNS json
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT json_build_object(
           'last_label', b.label, 'last_kind', b.kind, 'last_stopped_at', b.stopped_at,
           'age_seconds', floor(extract(epoch FROM now() - b.stopped_at))::bigint,
           'max_age_seconds', p.max_age,
           'stale', b.stopped_at IS NULL
                    OR coalesce(now() - b.stopped_at > make_interval(secs => p.max_age), true))
    FROM (SELECT 3600 * (org.policy_value('backup_max_age_hours'))::text::bigint AS max_age) p
    LEFT JOIN LATERAL (SELECT label, kind, stopped_at FROM tx_meta.backups
                        ORDER BY stopped_at DESC LIMIT 1) b ON true
$$;
REVOKE ALL ON FUNCTION tx_meta.backup_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tx_meta.backup_status() TO tianxing_app;
