-- 0002 audit: the append-only, hash-chained audit trail (docs/identity.md, "Audit"), and the `api`
-- schema with the helpers every module's API functions share.
-- Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`.
--
-- It comes before the org migration (0003) because every business table attaches the audit trigger
-- in the migration that creates it.
--
-- Who can do what:
--   * schema `audit` and everything in it belong to tianxing_audit (NOLOGIN). The row trigger
--     audit.capture() is SECURITY DEFINER owned by tianxing_audit: it is the only way rows get in.
--   * tianxing_app may SELECT audit.log (RLS: auditor and admin claims only) and run audit.verify();
--     it has no INSERT/UPDATE/DELETE/TRUNCATE on anything here.
--   * triggers on audit.log refuse UPDATE, DELETE and TRUNCATE for everybody. A superuser (or the
--     owner role, a member of tianxing_audit) can still disable them; audit.verify() finds the edit.

CREATE SCHEMA audit AUTHORIZATION tianxing_audit;
REVOKE ALL ON SCHEMA audit FROM PUBLIC;
GRANT USAGE ON SCHEMA audit TO tianxing_app;

SET LOCAL ROLE tianxing_audit;

CREATE TABLE audit.log (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at          timestamptz NOT NULL,
  actor_id    uuid,
  actor_roles text[] NOT NULL DEFAULT '{}',
  request_id  text,
  table_name  text NOT NULL,
  row_key     text,
  op          text NOT NULL CHECK (op IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')),
  changes     jsonb NOT NULL,
  prev_hash   bytea NOT NULL CHECK (octet_length(prev_hash) = 32),
  hash        bytea NOT NULL CHECK (octet_length(hash) = 32)
);
COMMENT ON TABLE audit.log IS
  'Append-only, hash-chained trail of every write to a business table (docs/identity.md).';
CREATE INDEX log_table_row_idx ON audit.log (table_name, row_key, id);
CREATE INDEX log_actor_idx ON audit.log (actor_id, id);
CREATE INDEX log_at_idx ON audit.log (at);

-- The chain head: the id and hash of the last entry. Appends update it, so that
--   * appends are a line even in REPEATABLE READ / SERIALIZABLE transactions (a transaction whose
--     snapshot predates the last append fails with a serialization error, which the service
--     retries, instead of chaining onto a stale predecessor), and
--   * deleting entries at the tail is detectable (the head points past the last row).
CREATE TABLE audit.head (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  last_id   bigint,
  last_hash bytea NOT NULL CHECK (octet_length(last_hash) = 32)
);
COMMENT ON TABLE audit.head IS 'The id and hash of the newest audit.log entry (one row).';

-- The chain starts from 32 zero bytes.
CREATE FUNCTION audit.genesis() RETURNS bytea
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea $$;

INSERT INTO audit.head (singleton, last_id, last_hash) VALUES (true, NULL, audit.genesis());

-- hash = sha256(prev_hash || canonical content). The canonical content is a JSON array of the
-- fields in this fixed order, rendered by jsonb's text output (deterministic, unambiguous
-- escaping); `at` enters as epoch microseconds, so neither TimeZone nor DateStyle matter:
--   [id, at_epoch_us, actor_id, actor_roles, request_id, table_name, row_key, op, changes]
CREATE FUNCTION audit.entry_hash(p_prev bytea, p_id bigint, p_at timestamptz, p_actor_id uuid,
                                 p_actor_roles text[], p_request_id text, p_table_name text,
                                 p_row_key text, p_op text, p_changes jsonb)
  RETURNS bytea
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT sha256(p_prev || convert_to(
    jsonb_build_array(p_id, (extract(epoch FROM p_at) * 1000000)::bigint, p_actor_id,
                      p_actor_roles, p_request_id, p_table_name, p_row_key, p_op,
                      p_changes)::text, 'UTF8'))
$$;

-- Appends one entry. Called only by audit.capture() (it is not executable by anyone else).
CREATE FUNCTION audit.append(p_table_name text, p_row_key text, p_op text, p_changes jsonb)
  RETURNS void
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_prev  bytea;
  v_id    bigint;
  v_at    timestamptz := now();
  v_actor uuid := NULLIF(current_setting('tx.user_id', true), '')::uuid;
  v_roles text[] := coalesce(string_to_array(NULLIF(current_setting('tx.roles', true), ''), ','),
                             '{}');
  v_req   text := NULLIF(current_setting('tx.request_id', true), '');
  v_hash  bytea;
BEGIN
  -- Serialize appends (docs/identity.md); the head row lock below would too, the advisory lock
  -- makes waiting explicit and cheap. Key: 'tianxing audit' in any stable number.
  PERFORM pg_advisory_xact_lock(7354010472261181442);
  SELECT h.last_hash INTO STRICT v_prev FROM audit.head h WHERE h.singleton FOR UPDATE;
  v_id := nextval(pg_get_serial_sequence('audit.log', 'id'));
  v_hash := audit.entry_hash(v_prev, v_id, v_at, v_actor, v_roles, v_req, p_table_name, p_row_key,
                             p_op, p_changes);
  INSERT INTO audit.log (id, at, actor_id, actor_roles, request_id, table_name, row_key, op,
                         changes, prev_hash, hash)
    OVERRIDING SYSTEM VALUE
    VALUES (v_id, v_at, v_actor, v_roles, v_req, p_table_name, p_row_key, p_op, p_changes, v_prev,
            v_hash);
  UPDATE audit.head SET last_id = v_id, last_hash = v_hash WHERE singleton;
END
$$;

-- The generic trigger. Row level: INSERT, UPDATE, DELETE; statement level: TRUNCATE.
-- TG_ARGV[0]: the primary-key columns (text[] literal), TG_ARGV[1]: columns to redact (text[]
-- literal). Changes: {field: new} for INSERT, {field: [old, new]} for the fields an UPDATE changed,
-- {field: old} for DELETE; redacted fields read "[redacted]".
-- SECURITY DEFINER (owner tianxing_audit): the caller needs no privilege on audit.log. The SET
-- clauses make the JSON rendering of row values (timestamps, intervals, floats) independent of
-- the session.
CREATE FUNCTION audit.capture() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  SET TimeZone = 'UTC'
  SET DateStyle = 'ISO, YMD'
  SET IntervalStyle = 'iso_8601'
  SET extra_float_digits = 1
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
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    PERFORM audit.append(v_table, NULL, TG_OP, '{}'::jsonb);
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' THEN v_old := to_jsonb(OLD); END IF;
  IF TG_OP <> 'DELETE' THEN v_new := to_jsonb(NEW); END IF;
  v_row := coalesce(v_new, v_old);
  SELECT string_agg(v_row ->> c.col, ',' ORDER BY c.ord) INTO v_key
    FROM unnest(v_pk) WITH ORDINALITY AS c(col, ord);

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
  PERFORM audit.append(v_table, v_key, TG_OP, v_chg);
  RETURN NULL;
END
$$;

-- Installs the audit triggers on a table (every business table calls this in the migration that
-- creates it). p_redact: columns whose values never reach the trail (secrets, hashes of secrets).
-- SECURITY INVOKER: the caller needs the TRIGGER privilege on the table (the owner has it).
CREATE FUNCTION audit.attach(p_table regclass, p_redact text[] DEFAULT '{}')
  RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_pk text[];
  v_missing text;
BEGIN
  SELECT array_agg(a.attname::text ORDER BY k.ord) INTO v_pk
    FROM pg_index i
    CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
   WHERE i.indrelid = p_table AND i.indisprimary;
  IF v_pk IS NULL THEN
    RAISE EXCEPTION 'audit.attach: % has no primary key', p_table;
  END IF;
  SELECT r INTO v_missing FROM unnest(coalesce(p_redact, '{}')) r
   WHERE NOT EXISTS (SELECT FROM pg_attribute a
                      WHERE a.attrelid = p_table AND a.attname = r AND a.attnum > 0
                        AND NOT a.attisdropped)
   LIMIT 1;
  IF v_missing IS NOT NULL THEN
    RAISE EXCEPTION 'audit.attach: % has no column % to redact', p_table, v_missing;
  END IF;
  EXECUTE format('CREATE TRIGGER audit_row AFTER INSERT OR UPDATE OR DELETE ON %s'
                 ' FOR EACH ROW EXECUTE FUNCTION audit.capture(%L, %L)',
                 p_table, v_pk::text, coalesce(p_redact, '{}')::text);
  EXECUTE format('CREATE TRIGGER audit_truncate AFTER TRUNCATE ON %s'
                 ' FOR EACH STATEMENT EXECUTE FUNCTION audit.capture(%L, %L)',
                 p_table, v_pk::text, coalesce(p_redact, '{}')::text);
END
$$;

-- Append-only: no UPDATE, DELETE or TRUNCATE of the trail, whoever asks.
CREATE FUNCTION audit.refuse_change() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  RAISE EXCEPTION 'audit.%: % is not allowed: the audit trail is append-only', TG_TABLE_NAME, TG_OP
    USING ERRCODE = '42501';
END
$$;
CREATE TRIGGER log_append_only BEFORE UPDATE OR DELETE ON audit.log
  FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER log_no_truncate BEFORE TRUNCATE ON audit.log
  FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER head_keep BEFORE INSERT OR DELETE ON audit.head
  FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER head_no_truncate BEFORE TRUNCATE ON audit.head
  FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- Walks the chain in id order: the first entry whose prev_hash is not its predecessor's hash, or
-- whose hash is not the hash of its content, is reported; then the head must point at the last
-- entry. first_broken_id is NULL when the chain is intact; `checked` counts the entries examined
-- (up to and including the broken one).
-- SECURITY INVOKER: what it sees is what the caller may read (api.audit_verify() admits auditor
-- and admin, who see every entry; tianxing_audit's members and superusers see all).
CREATE FUNCTION audit.verify()
  RETURNS TABLE (checked bigint, first_broken_id bigint, reason text)
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_total bigint;
  v_last_id bigint;
  v_last_hash bytea;
  v_head audit.head%ROWTYPE;
BEGIN
  SELECT s.id, s.why INTO first_broken_id, reason
    FROM (SELECT l.id,
                 CASE WHEN l.prev_hash IS DISTINCT FROM
                           coalesce(lag(l.hash) OVER (ORDER BY l.id), audit.genesis())
                        THEN 'prev_hash does not match the hash of the previous entry'
                      WHEN l.hash IS DISTINCT FROM
                           audit.entry_hash(l.prev_hash, l.id, l.at, l.actor_id, l.actor_roles,
                                            l.request_id, l.table_name, l.row_key, l.op,
                                            l.changes)
                        THEN 'hash does not match the entry''s content'
                 END AS why
            FROM audit.log l) s
   WHERE s.why IS NOT NULL
   ORDER BY s.id
   LIMIT 1;
  IF first_broken_id IS NOT NULL THEN
    SELECT count(*) INTO checked FROM audit.log l WHERE l.id <= first_broken_id;
    RETURN NEXT;
    RETURN;
  END IF;
  SELECT count(*) INTO v_total FROM audit.log;
  checked := v_total;
  SELECT l.id, l.hash INTO v_last_id, v_last_hash FROM audit.log l ORDER BY l.id DESC LIMIT 1;
  SELECT * INTO v_head FROM audit.head h WHERE h.singleton;
  IF FOUND AND (v_head.last_id IS DISTINCT FROM v_last_id
                OR v_head.last_hash IS DISTINCT FROM coalesce(v_last_hash, audit.genesis())) THEN
    first_broken_id := coalesce(v_head.last_id, v_last_id);
    reason := 'the chain head does not match the last entry (entries removed at the tail?)';
  END IF;
  RETURN NEXT;
END
$$;

-- Row-level security. FORCED like every table: the policies below are the only way in, for the
-- owner (tianxing_audit, used by the SECURITY DEFINER trigger) as for the runtime role.
ALTER TABLE audit.log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit.log FORCE ROW LEVEL SECURITY;
ALTER TABLE audit.head ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit.head FORCE ROW LEVEL SECURITY;
-- The trigger (running as tianxing_audit) appends and reads the head; tianxing_audit's members
-- (the owner role) and superusers can read everything, e.g. for `audit.verify()` from a shell.
CREATE POLICY log_writer_insert ON audit.log FOR INSERT TO tianxing_audit WITH CHECK (true);
CREATE POLICY log_writer_read ON audit.log FOR SELECT TO tianxing_audit USING (true);
CREATE POLICY head_writer_read ON audit.head FOR SELECT TO tianxing_audit USING (true);
CREATE POLICY head_writer_update ON audit.head FOR UPDATE TO tianxing_audit
  USING (true) WITH CHECK (true);

RESET ROLE;

-- Requests read the trail with the auditor or admin claim (docs/identity.md). These policies read
-- the tx.* claims helpers, which tianxing_audit cannot call: hence TO tianxing_app, not PUBLIC.
-- (Created by the owner role: a member of tianxing_audit, which owns the tables.)
CREATE POLICY log_read_auditor ON audit.log FOR SELECT TO tianxing_app
  USING ((SELECT tx.has_role('auditor')) OR (SELECT tx.has_role('admin')));
CREATE POLICY head_read_auditor ON audit.head FOR SELECT TO tianxing_app
  USING ((SELECT tx.has_role('auditor')) OR (SELECT tx.has_role('admin')));

REVOKE ALL ON ALL TABLES IN SCHEMA audit FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA audit FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA audit FROM PUBLIC;
GRANT SELECT ON audit.log, audit.head TO tianxing_app;
GRANT EXECUTE ON FUNCTION audit.verify() TO tianxing_app;
-- audit.verify() calls these as the invoker.
GRANT EXECUTE ON FUNCTION audit.genesis(), audit.entry_hash(bytea, bigint, timestamptz, uuid,
  text[], text, text, text, text, jsonb) TO tianxing_app;

-- ---------------------------------------------------------------------------------------------
-- Schema `api`: the functions the service's handlers call, one per operation. Owned by
-- tianxing_owner, SECURITY INVOKER (row-level security applies as to any request), executable by
-- tianxing_app only; each returns the response JSON. Errors (docs/identity.md):
--   TXVAL  "<field>: <message>" (also in the COLUMN field of the error)   -> 422
--   TXPRE  stale expected version                                          -> 412
--   TXCON  state conflict                                                  -> 409
--   P0002  not found / not visible                                         -> 404
--   42501  missing role                                                    -> 403
--   TXAUT  no authenticated employee                                       -> 401
CREATE SCHEMA api;
REVOKE ALL ON SCHEMA api FROM PUBLIC;
GRANT USAGE ON SCHEMA api TO tianxing_app;

-- RFC 3339 UTC with milliseconds, the one timestamp format of the API.
CREATE FUNCTION api.ts(p_ts timestamptz) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT to_char(p_ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

-- Raises one of the API's errors naming a field: message "<field>: <message>", COLUMN = field.
CREATE FUNCTION api.fail(p_code text, p_field text, p_message text) RETURNS void
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF p_field IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = p_code, MESSAGE = p_message;
  END IF;
  RAISE EXCEPTION USING ERRCODE = p_code, MESSAGE = p_field || ': ' || p_message,
    COLUMN = p_field;
END
$$;

-- The caller's employee id; TXAUT when the request carries none.
CREATE FUNCTION api.require_user() RETURNS uuid
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE v uuid := tx.user_id();
BEGIN
  IF v IS NULL THEN
    RAISE EXCEPTION 'authentication required' USING ERRCODE = 'TXAUT';
  END IF;
  RETURN v;
END
$$;

-- 42501 unless the caller holds one of p_roles.
CREATE FUNCTION api.require_role(VARIADIC p_roles text[]) RETURNS void
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  PERFORM api.require_user();
  IF NOT (tx.roles() && p_roles) THEN
    RAISE EXCEPTION 'this needs the role %', array_to_string(p_roles, ' or ')
      USING ERRCODE = '42501';
  END IF;
END
$$;

-- Page size: NULL means 50; 1..200 accepted.
CREATE FUNCTION api.page_limit(p_limit int) RETURNS int
  LANGUAGE plpgsql IMMUTABLE
  AS $$
BEGIN
  IF p_limit IS NULL THEN
    RETURN 50;
  END IF;
  IF p_limit < 1 OR p_limit > 200 THEN
    PERFORM api.fail('TXVAL', 'limit', 'must be between 1 and 200');
  END IF;
  RETURN p_limit;
END
$$;

-- Request bodies: an object whose keys are all in p_allowed.
CREATE FUNCTION api.body_keys(p_body jsonb, p_allowed text[]) RETURNS void
  LANGUAGE plpgsql IMMUTABLE
  AS $$
DECLARE k text;
BEGIN
  IF p_body IS NULL OR jsonb_typeof(p_body) <> 'object' THEN
    PERFORM api.fail('TXVAL', 'body', 'must be a JSON object');
  END IF;
  SELECT x INTO k FROM jsonb_object_keys(p_body) x WHERE NOT x = ANY (p_allowed) ORDER BY x LIMIT 1;
  IF k IS NOT NULL THEN
    PERFORM api.fail('TXVAL', k, 'unknown field');
  END IF;
END
$$;

-- A string field: absent or null gives NULL (TXVAL when required); no empty strings, at most
-- p_max characters.
CREATE FUNCTION api.body_text(p_body jsonb, p_field text, p_required boolean, p_max int DEFAULT 200)
  RETURNS text
  LANGUAGE plpgsql IMMUTABLE
  AS $$
DECLARE v jsonb := p_body -> p_field;
BEGIN
  IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
    IF p_required THEN
      PERFORM api.fail('TXVAL', p_field, 'is required');
    END IF;
    RETURN NULL;
  END IF;
  IF jsonb_typeof(v) <> 'string' THEN
    PERFORM api.fail('TXVAL', p_field, 'must be a string');
  END IF;
  IF btrim(v #>> '{}') = '' THEN
    PERFORM api.fail('TXVAL', p_field, 'must not be empty');
  END IF;
  IF length(v #>> '{}') > p_max THEN
    PERFORM api.fail('TXVAL', p_field, format('must be at most %s characters', p_max));
  END IF;
  RETURN v #>> '{}';
END
$$;

-- A uuid given as a string.
CREATE FUNCTION api.body_uuid(p_body jsonb, p_field text, p_required boolean) RETURNS uuid
  LANGUAGE plpgsql IMMUTABLE
  AS $$
DECLARE v jsonb := p_body -> p_field;
BEGIN
  IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
    IF p_required THEN
      PERFORM api.fail('TXVAL', p_field, 'is required');
    END IF;
    RETURN NULL;
  END IF;
  IF jsonb_typeof(v) <> 'string'
     OR (v #>> '{}') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    PERFORM api.fail('TXVAL', p_field, 'must be a UUID');
  END IF;
  RETURN (v #>> '{}')::uuid;
END
$$;

-- A calendar date as "YYYY-MM-DD".
CREATE FUNCTION api.body_date(p_body jsonb, p_field text, p_required boolean) RETURNS date
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v jsonb := p_body -> p_field;
  d date;
BEGIN
  IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
    IF p_required THEN
      PERFORM api.fail('TXVAL', p_field, 'is required');
    END IF;
    RETURN NULL;
  END IF;
  IF jsonb_typeof(v) <> 'string' OR (v #>> '{}') !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
    PERFORM api.fail('TXVAL', p_field, 'must be a date YYYY-MM-DD');
  END IF;
  BEGIN
    d := to_date(v #>> '{}', 'YYYY-MM-DD');
    IF to_char(d, 'YYYY-MM-DD') <> v #>> '{}' THEN
      RAISE EXCEPTION 'not a calendar date';
    END IF;
  EXCEPTION WHEN OTHERS THEN
    PERFORM api.fail('TXVAL', p_field, 'must be a date YYYY-MM-DD');
  END;
  RETURN d;
END
$$;

-- An array of strings (duplicates removed, order kept).
CREATE FUNCTION api.body_text_array(p_body jsonb, p_field text, p_required boolean)
  RETURNS text[]
  LANGUAGE plpgsql IMMUTABLE
  AS $$
DECLARE v jsonb := p_body -> p_field;
BEGIN
  IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
    IF p_required THEN
      PERFORM api.fail('TXVAL', p_field, 'is required');
    END IF;
    RETURN NULL;
  END IF;
  IF jsonb_typeof(v) <> 'array'
     OR EXISTS (SELECT FROM jsonb_array_elements(v) e WHERE jsonb_typeof(e) <> 'string') THEN
    PERFORM api.fail('TXVAL', p_field, 'must be an array of strings');
  END IF;
  RETURN ARRAY(SELECT e FROM jsonb_array_elements_text(v) WITH ORDINALITY AS a(e, i)
                GROUP BY e ORDER BY min(i));
END
$$;

-- The expected version of an update (the If-Match header): required, and it must be current.
CREATE FUNCTION api.check_version(p_expected int, p_current int) RETURNS void
  LANGUAGE plpgsql IMMUTABLE
  AS $$
BEGIN
  IF p_expected IS NULL THEN
    PERFORM api.fail('TXVAL', 'version', 'the expected version (If-Match) is required');
  END IF;
  IF p_expected <> p_current THEN
    RAISE EXCEPTION 'version % is not the current version %', p_expected, p_current
      USING ERRCODE = 'TXPRE';
  END IF;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Module audit: GET /v1/audit, GET /v1/audit/verify (auditor, admin).

CREATE FUNCTION api.audit_entry_json(l audit.log) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object('id', l.id, 'at', api.ts(l.at), 'actor_id', l.actor_id,
                           'actor_roles', to_json(l.actor_roles), 'request_id', l.request_id,
                           'table_name', l.table_name, 'row_key', l.row_key, 'op', l.op,
                           'changes', l.changes, 'prev_hash', encode(l.prev_hash, 'hex'),
                           'hash', encode(l.hash, 'hex'))
$$;

-- Newest first; keyset on id: the cursor is the id of the last entry of the previous page.
CREATE FUNCTION api.audit_list(p_table text, p_row_key text, p_actor_id uuid,
                               p_from timestamptz, p_to timestamptz, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int;
  v_before bigint;
  v_out json;
BEGIN
  PERFORM api.require_role('auditor', 'admin');
  v_limit := api.page_limit(p_limit);
  IF p_cursor IS NOT NULL THEN
    IF p_cursor !~ '^[0-9]{1,18}$' THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
    v_before := p_cursor::bigint;
  END IF;
  IF p_from IS NOT NULL AND p_to IS NOT NULL AND p_from > p_to THEN
    PERFORM api.fail('TXVAL', 'from', 'must not be after to');
  END IF;
  WITH page AS (
    SELECT l, l.id, row_number() OVER (ORDER BY l.id DESC) AS rn
      FROM audit.log l
     WHERE (p_table IS NULL OR l.table_name = p_table)
       AND (p_row_key IS NULL OR l.row_key = p_row_key)
       AND (p_actor_id IS NULL OR l.actor_id = p_actor_id)
       AND (p_from IS NULL OR l.at >= p_from)
       AND (p_to IS NULL OR l.at < p_to)
       AND (v_before IS NULL OR l.id < v_before)
     ORDER BY l.id DESC
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.audit_entry_json(p.l) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN (max(p.id) FILTER (WHERE p.rn = v_limit))::text END)
    INTO v_out
    FROM page p;
  RETURN v_out;
END
$$;

CREATE FUNCTION api.audit_verify() RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE r record;
BEGIN
  PERFORM api.require_role('auditor', 'admin');
  SELECT * INTO r FROM audit.verify();
  RETURN json_build_object('checked', r.checked, 'intact', r.first_broken_id IS NULL,
                           'first_broken_id', r.first_broken_id, 'reason', r.reason);
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA api FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA api TO tianxing_app;
