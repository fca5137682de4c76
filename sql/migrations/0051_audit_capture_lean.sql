-- 0051 the generic audit trigger, audit.capture(), doing less per row (issue 15 target 3). Runs as
-- tianxing_owner inside one transaction opened by `tianxingd migrate`. docs/performance.md
-- ("Issue 15: seventh session") has the measurements.
--
-- Every audited row runs audit.capture (five in a customer create, thousands in an assessment
-- month). The baseline's (0012) spent a statement on the row's key (a string_agg over unnest)
-- and one more on staging the entry through audit.append (a call with its own GUC save and
-- restore): on a million customers, 6 and 24 µs of each entry's 66, about 150 µs of a create's
-- 2.8 ms of database time (tests/bench/statements). This one joins the key in PL/pgSQL and stages
-- the entry with its own INSERT. What an entry records is unchanged: the same table name, key,
-- operation, changes, digest and arming, and the same session settings pinned while the row is
-- rendered. audit.append stays the stager of the statement-level entry (TRUNCATE) and of the PII
-- read log's digest; its INSERT and the one here stage the same columns the same way.
-- sql/tests/audit.sql checks what a row's entry records (operation, actor, roles, request,
-- changes rendered in UTC, redactions, a key of two columns); sql/tests/audit_link.sql and
-- tests/sql/tamper.sh that entries still link, chain and verify.
--
-- audit.capture is a baseline object that migrations use (audit.attach names it in the triggers
-- it creates), so it is redefined here and not in sql/code, which is applied after every
-- migration: the baseline's is renamed away, this one takes its name, every trigger that ran the
-- old one is re-created on the new one with the same arguments, and the old one is dropped.
-- tests/sql/definitions.mjs counts a function renamed away as no longer defined under its name.

SET LOCAL ROLE tianxing_audit;
ALTER FUNCTION audit.capture() RENAME TO capture_0012;

-- Row level: INSERT, UPDATE, DELETE; statement level: TRUNCATE. TG_ARGV[0]: the primary-key
-- columns (text[] literal), TG_ARGV[1]: columns to redact (text[] literal). Changes: {field: new}
-- for INSERT, {field: [old, new]} for the fields an UPDATE changed, {field: old} for DELETE;
-- redacted fields read "[redacted]".
-- SECURITY DEFINER (owner tianxing_audit): the caller needs no privilege on the trail. The SET
-- clauses make the JSON rendering of row values (timestamps, intervals, floats) independent of
-- the session; enable_seqscan off: audit.pending is probed by key (the arming probe; see
-- audit.append in sql/code/audit/030_link.sql).
CREATE FUNCTION audit.capture() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  SET TimeZone = 'UTC'
  SET DateStyle = 'ISO, YMD'
  SET IntervalStyle = 'iso_8601'
  SET extra_float_digits = 1
  SET enable_seqscan = off
  AS $$
DECLARE
  v_table  text := TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME;
  v_pk     text[] := TG_ARGV[0]::text[];
  v_redact text[] := TG_ARGV[1]::text[];
  v_old    jsonb;
  v_new    jsonb;
  v_row    jsonb;
  v_key    text;
  v_chg    jsonb := '{}';
  k        text;
  v_at     timestamptz := now();
  v_actor  uuid;
  v_roles  text[];
  v_req    text;
  v_xid    xid8;
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    PERFORM audit.append(v_table, NULL, TG_OP, '{}'::jsonb);
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' THEN v_old := to_jsonb(OLD); END IF;
  IF TG_OP <> 'DELETE' THEN v_new := to_jsonb(NEW); END IF;
  v_row := coalesce(v_new, v_old);
  -- The key's values joined by commas, in the key's column order (key columns are NOT NULL).
  FOREACH k IN ARRAY v_pk LOOP
    v_key := CASE WHEN v_key IS NULL THEN '' ELSE v_key || ',' END || (v_row ->> k);
  END LOOP;

  IF TG_OP = 'UPDATE' THEN
    FOR k IN SELECT jsonb_object_keys(v_new) LOOP
      IF (v_new -> k) IS DISTINCT FROM (v_old -> k) THEN
        v_chg := v_chg || jsonb_build_object(k, CASE WHEN k = ANY (v_redact)
          THEN '["[redacted]", "[redacted]"]'::jsonb
          ELSE jsonb_build_array(v_old -> k, v_new -> k) END);
      END IF;
    END LOOP;
  ELSE
    v_chg := v_row;
    FOREACH k IN ARRAY v_redact LOOP
      IF v_chg ? k THEN
        v_chg := jsonb_set(v_chg, ARRAY[k], '"[redacted]"');
      END IF;
    END LOOP;
  END IF;
  -- Staged as audit.append stages: the digest computed here, outside the chain's lock; armed
  -- when no armed entry of this transaction is still staged (0049).
  v_actor := NULLIF(current_setting('tx.user_id', true), '')::uuid;
  v_roles := coalesce(string_to_array(NULLIF(current_setting('tx.roles', true), ''), ','), '{}');
  v_req := NULLIF(current_setting('tx.request_id', true), '');
  v_xid := pg_current_xact_id();
  INSERT INTO audit.pending (xid, at, actor_id, actor_roles, request_id, table_name, row_key, op,
                             changes, digest, armed)
  VALUES (v_xid, v_at, v_actor, v_roles, v_req, v_table, v_key, TG_OP, v_chg,
          audit.entry_digest(v_at, v_actor, v_roles, v_req, v_table, v_key, TG_OP, v_chg),
          NOT EXISTS (SELECT FROM audit.pending p WHERE p.xid = v_xid AND p.armed));
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION audit.capture() FROM PUBLIC;
RESET ROLE;

-- Every trigger of the old function, on the new one with the same events, level and arguments
-- (pg_get_triggerdef gives its definition; only the function's name changes).
DO $$
DECLARE
  t record;
  v_def text;
BEGIN
  FOR t IN SELECT g.oid FROM pg_trigger g
            WHERE g.tgfoid = 'audit.capture_0012()'::regprocedure AND NOT g.tgisinternal LOOP
    v_def := pg_get_triggerdef(t.oid);
    v_def := regexp_replace(v_def, '^CREATE TRIGGER ', 'CREATE OR REPLACE TRIGGER ');
    v_def := regexp_replace(v_def, ' EXECUTE FUNCTION (audit\.)?capture_0012\(',
                            ' EXECUTE FUNCTION audit.capture(');
    IF v_def !~ '^CREATE OR REPLACE TRIGGER .* EXECUTE FUNCTION audit\.capture\(' THEN
      RAISE EXCEPTION '0051: cannot re-point trigger %', pg_get_triggerdef(t.oid);
    END IF;
    EXECUTE v_def;
  END LOOP;
END
$$;

SET LOCAL ROLE tianxing_audit;
DROP FUNCTION audit.capture_0012();
RESET ROLE;
