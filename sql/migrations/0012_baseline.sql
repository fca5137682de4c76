-- 0012 baseline: the schema of 0001-0012, collapsed once (issue 9): schemas, tables, types,
-- indexes, grants and the seed rows. Functions, policies and triggers live in sql/code/ (applied
-- after the migrations, again whenever a file changes), except the few this file runs itself:
-- the claim helpers and the audit chain that audit.attach installs on every table.
-- A database that applied the original 0001-0012 (their checksums: 0012_baseline.legacy) is moved
-- onto this baseline by `tianxingd migrate` without running it. Runs as tianxing_owner.

-- ===== from 0001_foundation.sql =====
-- 0001 foundation: the claims helpers every policy reads, and read access to the migration ledger.
-- Runs as tianxing_owner (see sql/bootstrap.sql) inside the transaction of `tianxingd migrate`.

-- Refuse to build on a runtime role that could bypass row-level security (DESIGN.md, security model).
DO $$
DECLARE r pg_roles%ROWTYPE;
BEGIN
  SELECT * INTO r FROM pg_roles WHERE rolname = 'tianxing_app';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'role tianxing_app does not exist: run sql/bootstrap.sql first';
  END IF;
  IF r.rolsuper OR r.rolbypassrls THEN
    RAISE EXCEPTION 'role tianxing_app must be NOSUPERUSER NOBYPASSRLS';
  END IF;
  IF current_user = 'tianxing_app' THEN
    RAISE EXCEPTION 'migrations must run as the owner role, not as tianxing_app';
  END IF;
END
$$;

CREATE SCHEMA tx;
REVOKE ALL ON SCHEMA tx FROM PUBLIC;
GRANT USAGE ON SCHEMA tx TO tianxing_app;

-- Claims are set per transaction by the service with set_config(name, value, true). On a pooled
-- connection a setting that was once set reads back as '' after commit, not NULL: NULLIF makes
-- "no claim" one value. STABLE so that policies can wrap calls as (SELECT tx.user_id()) and have
-- them evaluated once per statement.
CREATE FUNCTION tx.claim(name text) RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT NULLIF(current_setting('tx.' || name, true), '') $$;

CREATE FUNCTION tx.user_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT tx.claim('user_id')::uuid $$;

CREATE FUNCTION tx.department_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT tx.claim('department_id')::uuid $$;

CREATE FUNCTION tx.request_id() RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT tx.claim('request_id') $$;

CREATE FUNCTION tx.roles() RETURNS text[]
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT coalesce(string_to_array(tx.claim('roles'), ','), '{}'::text[]) $$;

CREATE FUNCTION tx.has_role(role text) RETURNS boolean
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT role = ANY (tx.roles()) $$;

-- Functions created later by the owner are not executable by everyone by default.
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- /readyz compares the applied migrations with the ones built into the binary.
GRANT USAGE ON SCHEMA tx_meta TO tianxing_app;
GRANT SELECT ON tx_meta.schema_migrations TO tianxing_app;

-- ===== from 0002_audit.sql =====
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
GRANT SELECT ON audit.log, audit.head TO tianxing_app;

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

-- ===== from 0003_org.sql =====
-- 0003 org: departments and employees (schema org), credentials and refresh tokens (schema auth),
-- tx.begin_request(), the auth.* functions the C auth core calls, and the API functions of
-- departments and employees (docs/identity.md).
-- Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`.
--
-- About the owner role and FORCE ROW LEVEL SECURITY: every table here has RLS enabled AND forced,
-- so the owner is subject to policies too. tianxing_owner never serves a request: it runs
-- migrations and owns the SECURITY DEFINER functions (tx.begin_request, auth.*), which must read
-- an employee before any claim exists (a login, the start of a request) and manage credentials
-- and tokens. Those functions are what the policies "TO tianxing_owner" below are for; each
-- checks what it needs itself. tianxing_app cannot become tianxing_owner (roles.sql proves it).

CREATE SCHEMA org;
REVOKE ALL ON SCHEMA org FROM PUBLIC;
GRANT USAGE ON SCHEMA org TO tianxing_app;

-- No table of schema auth is granted to tianxing_app; USAGE lets it call the auth.* functions.
CREATE SCHEMA auth;
REVOKE ALL ON SCHEMA auth FROM PUBLIC;
GRANT USAGE ON SCHEMA auth TO tianxing_app;

CREATE TABLE org.departments (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  code       text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$'),
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  kind       text NOT NULL CHECK (kind IN ('business', 'support', 'hr', 'risk', 'management')),
  version    int NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE org.employees (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  username       text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9._-]{2,64}$'),
  display_name   text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  email          text CHECK (length(email) <= 254 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  department_id  uuid REFERENCES org.departments (id),
  supervisor_id  uuid REFERENCES org.employees (id),
  roles          text[] NOT NULL DEFAULT '{}'
                 CHECK (roles <@ ARRAY['staff', 'supervisor', 'hr', 'risk_officer', 'auditor',
                                       'admin']::text[]
                        AND array_position(roles, NULL) IS NULL),
  active         boolean NOT NULL DEFAULT true,
  deactivated_at timestamptz,
  version        int NOT NULL DEFAULT 1,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CHECK (supervisor_id <> id),
  CHECK (active = (deactivated_at IS NULL))
);
CREATE INDEX employees_department_idx ON org.employees (department_id);
CREATE INDEX employees_supervisor_idx ON org.employees (supervisor_id);

CREATE TABLE auth.credentials (
  employee_id    uuid PRIMARY KEY REFERENCES org.employees (id),
  password_hash  text NOT NULL CHECK (starts_with(password_hash, '$scrypt$')),
  failed_count   int NOT NULL DEFAULT 0 CHECK (failed_count >= 0),
  last_failed_at timestamptz,
  locked_until   timestamptz,
  updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE auth.refresh_tokens (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  family_id   uuid NOT NULL,
  employee_id uuid NOT NULL REFERENCES org.employees (id),
  token_hash  bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
  issued_at   timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  revoked_at  timestamptz,
  CHECK (expires_at > issued_at)
);
CREATE INDEX refresh_tokens_family_idx ON auth.refresh_tokens (family_id);
CREATE INDEX refresh_tokens_employee_idx ON auth.refresh_tokens (employee_id);

-- Every write is audited; secrets never reach the trail.
SELECT audit.attach('org.departments');
SELECT audit.attach('org.employees');
SELECT audit.attach('auth.credentials', '{password_hash}');
SELECT audit.attach('auth.refresh_tokens', '{token_hash}');

-- Row-level security ------------------------------------------------------------------------
ALTER TABLE org.departments ENABLE ROW LEVEL SECURITY;
ALTER TABLE org.departments FORCE ROW LEVEL SECURITY;
ALTER TABLE org.employees ENABLE ROW LEVEL SECURITY;
ALTER TABLE org.employees FORCE ROW LEVEL SECURITY;
ALTER TABLE auth.credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.credentials FORCE ROW LEVEL SECURITY;
ALTER TABLE auth.refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.refresh_tokens FORCE ROW LEVEL SECURITY;

REVOKE ALL ON ALL TABLES IN SCHEMA org FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA auth FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON org.departments, org.employees TO tianxing_app;

-- ===== from 0004_regulations.sql =====

CREATE TABLE org.regulations (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  code           text NOT NULL CHECK (code ~ '^[a-z0-9][a-z0-9-]{1,63}$'),
  version        int NOT NULL CHECK (version >= 1),
  title          text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  status         text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'superseded')),
  effective_from date,
  based_on       uuid REFERENCES org.regulations (id),
  published_at   timestamptz,
  published_by   uuid REFERENCES org.employees (id),
  superseded_at  timestamptz,
  created_by     uuid REFERENCES org.employees (id),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  row_version    int NOT NULL DEFAULT 1,
  UNIQUE (code, version),
  CHECK (status = 'draft' OR (effective_from IS NOT NULL AND published_at IS NOT NULL)),
  CHECK ((status = 'superseded') = (superseded_at IS NOT NULL))
);

-- Exactly one published version per code at a time.
CREATE UNIQUE INDEX regulations_one_published ON org.regulations (code) WHERE status = 'published';

CREATE TABLE org.regulation_clauses (
  regulation_id uuid NOT NULL REFERENCES org.regulations (id),
  clause_id     text NOT NULL CHECK (clause_id ~ '^[GCPQRS][0-9]{1,3}(\.[0-9]{1,3})?$'),
  module        text NOT NULL CHECK (module IN ('G', 'C', 'P', 'Q', 'R', 'S')),
  title         text CHECK (length(title) BETWEEN 1 AND 200),
  text_zh       text NOT NULL CHECK (length(text_zh) BETWEEN 1 AND 10000),
  text_en       text CHECK (length(text_en) BETWEEN 1 AND 10000),
  position      int NOT NULL CHECK (position >= 1),
  PRIMARY KEY (regulation_id, clause_id),
  UNIQUE (regulation_id, position),
  CHECK (module = left(clause_id, 1))
);

CREATE TABLE org.regulation_acknowledgements (
  regulation_id   uuid NOT NULL REFERENCES org.regulations (id),
  employee_id     uuid NOT NULL REFERENCES org.employees (id),
  acknowledged_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (regulation_id, employee_id)
);
CREATE INDEX regulation_acknowledgements_employee_idx
  ON org.regulation_acknowledgements (employee_id);

SELECT audit.attach('org.regulations');
SELECT audit.attach('org.regulation_clauses');
SELECT audit.attach('org.regulation_acknowledgements');

-- Reference data: version 1 of the business-management regulations as published (REGULATIONS.md;
-- the Chinese text of G3, Q1-Q4, where REGULATIONS.md summarizes bilingually, is the source's,
-- original-zh.txt). Inserted before row-level security is turned on, by the owner, so no claim is
-- needed; the audit trail records it with no actor.
INSERT INTO org.regulations (id, code, version, title, status, effective_from, published_at)
VALUES ('5e9a0c1d-0000-4000-8000-000000000001', 'business-management', 1, '天星苑業務五項管理制度',
        'published', '2024-01-01', now());

INSERT INTO org.regulation_clauses (regulation_id, clause_id, module, title, position, text_zh,
                                    text_en)
SELECT '5e9a0c1d-0000-4000-8000-000000000001', c.clause_id, c.module, c.title, c.position,
       c.text_zh, c.text_en
  FROM (VALUES
  ('G1', 'G', '目的 Purpose', 1,
   '規范業務流程,提高工作效率,確保各項業務有序開展,保障公司和客戶的利益。',
   'Standardize business processes, raise efficiency, keep all business orderly, protect the interests of the company and its customers.'),
  ('G2', 'G', '適用范圍 Scope', 2,
   '適用于全體員工,包括但不限于業務部門、支持部門等涉及業務操作的相關人員。',
   'Applies to all employees, including but not limited to the business department, support departments and everyone involved in business operations.'),
  ('G3', 'G', '基本原則 Principles', 3,
   '合法性原則:各項制度符合國家法律法規及相關政策要求。合理性原則:制度設計合理,充分考慮實際業務情況和員工需求。規范性原則:明確業務操作流程、標準和要求,確保工作的規范性和一致性。有效性原則:制度能夠有效指導工作,促進業務發展,提升公司整體運營效率。',
   '合法性 lawful (complies with laws and policy); 合理性 reasonable (fits real business and staff needs); 規范性 standardized (explicit procedures, standards and requirements, consistent work); 有效性 effective (actually guides work, raises efficiency).'),
  ('C1.1', 'C', NULL, 4,
   '業務人員在與客戶接觸過程中,應主動收集客戶基本信息,包括但不限于客戶姓名、聯系方式、公司名稱、經營范圍等。',
   'Business staff actively collect customers'' basic information: at least name, contact details, company name, business scope.'),
  ('C1.2', 'C', NULL, 5,
   '對于潛在客戶,需詳細記錄客戶需求、關注點等信息,以便后續跟進和分析。',
   'For prospects, record their needs and concerns in detail, for follow-up and analysis.'),
  ('C1.3', 'C', NULL, 6,
   '在簽訂業務合同前,必須確保客戶信息的完整性和準確性。',
   'Before a business contract is signed, the customer''s information must be complete and accurate.'),
  ('C2.1', 'C', NULL, 7,
   '收集到的客戶信息應及時進行整理,按照統一的格式進行分類存儲。',
   'Collected information is organized promptly and stored, classified, in one uniform format.'),
  ('C2.2', 'C', NULL, 8,
   '建立電子和紙質客戶信息檔案,電子檔案應定期備份,確保數據安全。',
   'Electronic and paper customer files are kept; electronic files are backed up regularly.'),
  ('C2.3', 'C', NULL, 9,
   '對客戶信息進行加密處理,嚴格限制訪問權限,只有經過授權的人員才能查閱和使用。',
   'Customer information is encrypted; access is strictly limited to authorized people.'),
  ('C3.1', 'C', NULL, 10,
   '客戶信息僅用于公司業務相關目的,不得泄露給任何第三方。',
   'Customer information is used only for company business and never leaked to third parties.'),
  ('C3.2', 'C', NULL, 11,
   '因業務需要共享客戶信息時,必須經過客戶書面同意,并明確共享范圍和用途。',
   'Sharing for business needs requires the customer''s written consent, with an explicit scope and purpose.'),
  ('C3.3', 'C', NULL, 12,
   '在共享客戶信息時,應與接收方簽訂保密協議,確保客戶信息安全。',
   'When sharing, a confidentiality agreement (NDA) is signed with the recipient.'),
  ('C4.1', 'C', NULL, 13,
   '定期對客戶信息進行維護和更新,確保信息的時效性和準確性。',
   'Customer information is reviewed and updated periodically, to stay current and accurate.'),
  ('C4.2', 'C', NULL, 14,
   '業務人員在與客戶溝通或業務操作過程中,如發現客戶信息有變化,應及時進行更新。',
   'Staff who learn of a change during contact or operations update the record promptly.'),
  ('C4.3', 'C', NULL, 15,
   '對于不再與公司有業務往來的客戶,應妥善處理其信息,確保信息安全。',
   'Information of customers who no longer do business with the company is disposed of properly and securely.'),
  ('P1.1', 'P', NULL, 16,
   '客戶提出業務需求后,業務人員應及時接待,并詳細記錄客戶需求。',
   'Staff receive a customer''s request promptly and record the need in detail.'),
  ('P1.2', 'P', NULL, 17,
   '對客戶需求進行初步評估,判斷是否屬于公司業務范圍。',
   'A first assessment decides whether it is within the company''s business scope.'),
  ('P1.3', 'P', NULL, 18,
   '如屬于公司業務范圍,填寫業務受理單,明確業務類型、客戶信息、需求詳情等內容。',
   'If in scope, an intake form states business type, customer information and requirement details.'),
  ('P1.4', 'P', NULL, 19,
   '將業務受理單提交給業務主管進行審核,審核通過后進入業務操作流程。',
   'The intake form goes to the business supervisor for approval; once approved, operation starts.'),
  ('P2.1', 'P', NULL, 20,
   '根據業務類型和客戶需求,安排相應的業務人員或團隊進行操作。',
   'Staff or a team are assigned according to business type and need.'),
  ('P2.2', 'P', NULL, 21,
   '業務人員按照既定的操作規范和標準,開展業務工作,確保工作質量和進度。',
   'Work follows the defined operating standards; quality and schedule are ensured.'),
  ('P2.3', 'P', NULL, 22,
   '在業務操作過程中,如遇到問題或困難,及時向上級匯報,尋求解決方案。',
   'Problems met during the work are escalated to the superior promptly.'),
  ('P2.4', 'P', NULL, 23,
   '每完成一個關鍵環節,業務人員應填寫相應的工作記錄,詳細記錄工作內容、時間、結果等信息。',
   'After each key milestone, a work record states content, time and result.'),
  ('P3.1', 'P', NULL, 24,
   '業務操作完成后,由業務主管對業務結果進行審核。',
   'When the work is done, the supervisor reviews the result.'),
  ('P3.2', 'P', NULL, 25,
   '審核內容包括業務操作的準確性、合規性、完整性等方面。',
   'The review covers accuracy, compliance and completeness.'),
  ('P3.3', 'P', NULL, 26,
   '如審核發現問題,及時反饋給業務人員進行整改,整改完成后再次提交審核。',
   'Problems found go back to the staff for rectification, then the work is resubmitted for review.'),
  ('P3.4', 'P', NULL, 27,
   '審核通過后,業務人員將業務成果提交給客戶,并與客戶進行溝通確認。',
   'Once approved, the result is delivered to the customer and confirmed with them.'),
  ('P4.1', 'P', NULL, 28,
   '業務完成后,業務人員應及時整理業務相關資料,包括業務受理單、工作記錄、業務成果等。',
   'After completion, the intake form, work records and deliverables are collected.'),
  ('P4.2', 'P', NULL, 29,
   '將整理好的業務資料按照檔案管理要求進行歸檔,確保檔案的完整性和規范性。',
   'They are archived per the archive rules, complete and in standard form.'),
  ('P4.3', 'P', NULL, 30,
   '建立業務檔案索引,方便查詢和使用。',
   'An archive index makes them easy to find and use.'),
  ('Q1', 'Q', '考核指標 Indicators', 31,
   '業務完成率:考核業務人員完成既定業務任務的比例。客戶滿意度:通過客戶反饋調查,考核業務人員的服務質量和客戶滿意度。業務準確率:考核業務操作的準確性,減少錯誤率。工作效率:考核業務人員完成業務工作的時間和效率。團隊協作:考核業務人員在團隊合作中的表現和貢獻。',
   '業務完成率 completion rate (share of assigned tasks completed); 客戶滿意度 customer satisfaction (from customer feedback surveys); 業務準確率 accuracy rate (fewer errors); 工作效率 efficiency (time taken); 團隊協作 teamwork (contribution to team work).'),
  ('Q2.1', 'Q', '月度考核 Monthly', 32,
   '每月對業務人員的工作表現進行考核,統計各項考核指標完成情況。',
   'Each month every staff member''s performance is assessed and each indicator tallied.'),
  ('Q2.2', 'Q', '年度考核 Annual', 33,
   '每年對業務人員進行全面考核,綜合月度考核結果和年度工作表現,確定年度考核等級。',
   'Each year a full assessment combines the monthly results and the year''s performance into an annual grade (考核等級).'),
  ('Q3', 'Q', '考核方式 Methods', 34,
   '數據統計:通過業務系統、工作記錄等渠道收集考核數據,進行量化分析。客戶反饋:定期向客戶發放滿意度調查問卷,收集客戶對業務人員的評價和意見。上級評價:業務主管根據日常工作觀察和業務成果審核情況,對業務人員進行評價。自我評估:業務人員對自己的工作表現進行自我評價,總結經驗和不足。',
   '數據統計 statistics from the business system and work records; 客戶反饋 satisfaction questionnaires sent to customers regularly; 上級評價 supervisor evaluation from observation and review results; 自我評估 self-assessment.'),
  ('Q4', 'Q', '結果應用 Use of results', 35,
   '績效獎金發放:根據考核結果,發放相應的績效獎金,激勵業務人員提高工作績效。晉升與調薪:考核結果作為業務人員晉升、調薪的重要依據,優秀的業務人員將獲得更多的晉升機會和薪資調整。培訓與發展:針對考核結果中發現的問題和不足,為業務人員提供有針對性的培訓和發展計劃,幫助其提升業務能力。',
   '績效獎金 performance bonus by result; 晉升與調薪 promotion and salary adjustment based on results; 培訓與發展 targeted training and development plans for weaknesses found.'),
  ('R1.1', 'R', NULL, 36,
   '定期對業務進行風險識別,包括市場風險、信用風險、操作風險等。',
   'Risks are identified regularly: market, credit, operational and others.'),
  ('R1.2', 'R', NULL, 37,
   '采用定性和定量相結合的方法,對識別出的風險進行評估,確定風險等級。',
   'Qualitative and quantitative assessment sets each risk''s level.'),
  ('R1.3', 'R', NULL, 38,
   '建立風險數據庫,記錄風險識別和評估的結果。',
   'A risk database records identification and assessment results.'),
  ('R2.1', 'R', NULL, 39,
   '根據風險評估結果,制定相應的風險應對措施。',
   'Response measures follow from the assessment.'),
  ('R2.2', 'R', NULL, 40,
   '市場風險:市場調研、分析市場趨勢,提前做好應對準備。',
   'Market risk: market research and trend analysis, prepared in advance.'),
  ('R2.3', 'R', NULL, 41,
   '信用風險:加強客戶信用評估,建立信用檔案,采取風險緩釋措施,如要求客戶提供擔保、增加預付款比例等。',
   'Credit risk: customer credit assessment, credit files, mitigation such as guarantees or a higher prepayment ratio.'),
  ('R2.4', 'R', NULL, 42,
   '操作風險:完善業務操作流程和內部控制制度,加強員工培訓。',
   'Operational risk: better procedures and internal controls, staff training.'),
  ('R3.1', 'R', NULL, 43,
   '建立風險監控機制,定期對業務風險狀況進行監控和分析。',
   'Risk status is monitored and analysed regularly.'),
  ('R3.2', 'R', NULL, 44,
   '設定風險預警指標和閾值,當風險指標達到預警值時,及時發出預警信號。',
   'Warning indicators have thresholds; reaching one raises a warning at once.'),
  ('R3.3', 'R', NULL, 45,
   '對預警信號進行深入分析,采取相應的措施進行處理,防范風險擴大。',
   'Each warning is analysed and handled so the risk does not grow.'),
  ('R4.1', 'R', NULL, 46,
   '制定業務風險應急處理預案,明確應急處理流程和責任分工。',
   'Emergency response plans state the procedure and who is responsible for what.'),
  ('R4.2', 'R', NULL, 47,
   '定期對應急處理預案進行演練。',
   'Plans are drilled regularly.'),
  ('R4.3', 'R', NULL, 48,
   '及時總結應急處理經驗教訓,對應急處理預案進行修訂和完善。',
   'Lessons learned are written up and the plans revised.'),
  ('S1', 'S', NULL, 49,
   '本制度由天星苑公司人力資源部負責解釋。',
   'The HR department interprets these regulations.')
  ) AS c(clause_id, module, title, position, text_zh, text_en);

-- Row-level security ------------------------------------------------------------------------
ALTER TABLE org.regulations ENABLE ROW LEVEL SECURITY;
ALTER TABLE org.regulations FORCE ROW LEVEL SECURITY;
ALTER TABLE org.regulation_clauses ENABLE ROW LEVEL SECURITY;
ALTER TABLE org.regulation_clauses FORCE ROW LEVEL SECURITY;
ALTER TABLE org.regulation_acknowledgements ENABLE ROW LEVEL SECURITY;
ALTER TABLE org.regulation_acknowledgements FORCE ROW LEVEL SECURITY;

REVOKE ALL ON org.regulations, org.regulation_clauses, org.regulation_acknowledgements FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON org.regulations TO tianxing_app;
GRANT SELECT, INSERT ON org.regulation_clauses, org.regulation_acknowledgements TO tianxing_app;

-- ===== from 0005_policy_parameters.sql =====
-- 0005 policy parameters: the numbers and lists the regulations leave to the company (review
-- periods, assessment weights and grade bands, risk thresholds, login lockout), as dated values
-- under four-eyes control: hr proposes (S1), an admin other than the proposer approves or rejects.
-- Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`.
--
-- The value of a parameter in force on date D is the approved value with the greatest
-- effective_from <= D (org.policy_value(name, D)). Approved values are never edited: a change is a
-- new value with a later effective_from.

CREATE TABLE org.policy_parameters (
  name        text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{1,63}$'),
  type        text NOT NULL CHECK (type IN ('integer', 'decimal', 'text', 'json')),
  description text NOT NULL CHECK (length(description) BETWEEN 1 AND 1000),
  unit        text CHECK (length(unit) BETWEEN 1 AND 50),
  clause      text CHECK (clause ~ '^[GCPQRS][0-9]{1,3}(\.[0-9]{1,3})?$'),
  version     int NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE org.policy_values (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name            text NOT NULL REFERENCES org.policy_parameters (name),
  value           jsonb NOT NULL,
  effective_from  date NOT NULL,
  status          text NOT NULL DEFAULT 'proposed'
                  CHECK (status IN ('proposed', 'approved', 'rejected')),
  reason          text CHECK (length(reason) BETWEEN 1 AND 2000),
  proposed_by     uuid REFERENCES org.employees (id),
  proposed_at     timestamptz NOT NULL DEFAULT now(),
  decided_by      uuid REFERENCES org.employees (id),
  decided_at      timestamptz,
  decision_reason text CHECK (length(decision_reason) BETWEEN 1 AND 2000),
  version         int NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'proposed') = (decided_at IS NULL)),
  -- four eyes: nobody decides their own proposal
  CHECK (decided_by IS DISTINCT FROM proposed_by OR decided_by IS NULL)
);

-- One approved value per parameter and date.
CREATE UNIQUE INDEX policy_values_one_approved ON org.policy_values (name, effective_from)
  WHERE status = 'approved';
CREATE INDEX policy_values_name_idx ON org.policy_values (name, effective_from DESC);

SELECT audit.attach('org.policy_parameters');
SELECT audit.attach('org.policy_values');

-- Reference data: the parameters and their initial values, effective 2024-01-01 (the date the
-- regulations took effect). Inserted by the owner before row-level security is on.
INSERT INTO org.policy_parameters (name, type, description, unit, clause) VALUES
  ('customer_review_period_days', 'integer',
   'Customer information is reviewed and updated at least this often (C4.1).', 'days', 'C4.1'),
  ('customer_required_fields', 'json',
   'Customer fields that must be complete before a business contract is signed (C1.3).', NULL,
   'C1.3'),
  ('assessment_weights', 'json',
   'Weights of the assessment indicators: completion rate, satisfaction, accuracy, efficiency, '
   'teamwork (Q1); they sum to 1.', NULL, 'Q1'),
  ('assessment_grade_bands', 'json',
   'Annual grade (考核等級) by minimum score, highest first (Q2.2).', 'points', 'Q2.2'),
  ('risk_warning_thresholds', 'json',
   'Risk warning indicators and their thresholds (R3.2).', NULL, 'R3.2'),
  ('login_lock_threshold', 'integer',
   'Failed logins in a row after which an account is locked.', 'attempts', NULL),
  ('login_lock_seconds', 'integer', 'How long a locked account stays locked.', 'seconds', NULL);

INSERT INTO org.policy_values (name, value, effective_from, status, reason, decided_at) VALUES
  ('customer_review_period_days', '180', '2024-01-01', 'approved', 'initial value', now()),
  ('customer_required_fields', '["name", "company_name", "business_scope", "contacts", "credit_code"]',
   '2024-01-01', 'approved', 'initial value', now()),
  ('assessment_weights',
   '{"completion_rate": 0.3, "satisfaction": 0.25, "accuracy": 0.2, "efficiency": 0.15, "teamwork": 0.1}',
   '2024-01-01', 'approved', 'initial value', now()),
  ('assessment_grade_bands',
   '[{"grade": "A", "min": 90}, {"grade": "B", "min": 80}, {"grade": "C", "min": 70}, {"grade": "D", "min": 60}, {"grade": "E", "min": 0}]',
   '2024-01-01', 'approved', 'initial value', now()),
  ('risk_warning_thresholds', '{"credit_overdue_days": 30, "prepayment_ratio_min": 0.3}',
   '2024-01-01', 'approved', 'initial value', now()),
  ('login_lock_threshold', '5', '2024-01-01', 'approved', 'initial value', now()),
  ('login_lock_seconds', '900', '2024-01-01', 'approved', 'initial value', now());

-- Row-level security ------------------------------------------------------------------------
ALTER TABLE org.policy_parameters ENABLE ROW LEVEL SECURITY;
ALTER TABLE org.policy_parameters FORCE ROW LEVEL SECURITY;
ALTER TABLE org.policy_values ENABLE ROW LEVEL SECURITY;
ALTER TABLE org.policy_values FORCE ROW LEVEL SECURITY;

REVOKE ALL ON org.policy_parameters, org.policy_values FROM PUBLIC;
GRANT SELECT ON org.policy_parameters TO tianxing_app;
GRANT SELECT, INSERT ON org.policy_values TO tianxing_app;
GRANT UPDATE (status, decided_by, decided_at, decision_reason) ON org.policy_values TO tianxing_app;

-- ===== from 0006_customers.sql =====
-- 0006 customers: module C, first slice (docs/customers.md): customers, contacts, team, data keys,
-- follow-ups, contracts and the log of full-PII reads (schema cust), and the API functions the C
-- handlers call.
-- Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`.
--
-- PII never reaches SQL in clear (C2.3): address, credit code, phone and e-mail arrive encrypted
-- by the C side (AES-256-GCM under a per-customer data key) with blind indexes (HMAC-SHA256) for
-- the exact-match look-ups. SQL checks only their presence and length. Bytes travel in the JSON
-- as text "\x<hex>" both ways.
--
-- Errors, besides those of 0002 (TXVAL, TXPRE, P0002, 42501, TXAUT):
--   TXDUP  a duplicate credit code, phone or e-mail                                 -> 409
--   TXINC  the fields that keep a contract from being signed (C1.3)                 -> 422
--   Both carry a JSON object in DETAIL (errors[] and extension members): see api.field_error in
--   sql/code/kit/010_errors.sql.
--
-- The owner role and FORCE ROW LEVEL SECURITY: as in 0003, the few SECURITY DEFINER functions
-- below (owned by tianxing_owner, fixed search_path) read across row-level security for one
-- narrow purpose each, through the policies "TO tianxing_owner"; none returns more than ids or
-- an owner/department pair.
--
-- The name search and its page: sql/code/customers/060_search.sql.

CREATE SCHEMA cust;
REVOKE ALL ON SCHEMA cust FROM PUBLIC;
GRANT USAGE ON SCHEMA cust TO tianxing_app;

-- Tables ------------------------------------------------------------------------------------
-- Encrypted field = 0x01 || 12-byte nonce || ciphertext || 16-byte tag: 29 bytes + the plaintext
-- (at least 1 byte). The upper bounds follow the plaintext limits of docs/customers.md
-- (address 500 characters <= 2000 bytes, credit code 18, E.164 phone 16, e-mail 254).
-- Blind index = HMAC-SHA256: 32 bytes.

CREATE TABLE cust.customers (
  id               uuid PRIMARY KEY,
  name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  company_name     text CHECK (length(company_name) BETWEEN 1 AND 200),
  business_scope   text CHECK (length(business_scope) BETWEEN 1 AND 2000),
  address_enc      bytea CHECK (octet_length(address_enc) BETWEEN 30 AND 2029),
  credit_code_enc  bytea CHECK (octet_length(credit_code_enc) BETWEEN 30 AND 47),
  credit_code_bidx bytea CHECK (octet_length(credit_code_bidx) = 32),
  status           text NOT NULL DEFAULT 'prospect'
                   CHECK (status IN ('prospect', 'active', 'inactive')),
  tags             text[] NOT NULL DEFAULT '{}'
                   CHECK (cardinality(tags) <= 20 AND array_position(tags, NULL) IS NULL),
  source           text CHECK (length(source) BETWEEN 1 AND 200),
  needs            text CHECK (length(needs) BETWEEN 1 AND 2000),
  concerns         text CHECK (length(concerns) BETWEEN 1 AND 2000),
  owner_id         uuid NOT NULL REFERENCES org.employees (id),
  department_id    uuid REFERENCES org.departments (id),
  last_verified_at timestamptz,
  search_bigrams   text[] NOT NULL DEFAULT '{}',
  version          int NOT NULL DEFAULT 1,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CHECK ((credit_code_enc IS NULL) = (credit_code_bidx IS NULL))
);
COMMENT ON TABLE cust.customers IS
  'Customers (module C). *_enc: AES-256-GCM ciphertext made by the C side; *_bidx: blind indexes.';

-- The last line of defence against duplicates (the API reports TXDUP before). When disposal
-- (C4.3) arrives, this becomes unique among customers not disposed of.
CREATE UNIQUE INDEX customers_credit_code_bidx_key ON cust.customers (credit_code_bidx);
-- The walk of the default sort reads these columns from the index alone (cust.search_page).
-- search_bigrams in a B-tree entry: at most 299 bigrams (name 100 + company 200 characters), 12
-- bytes each at worst, compressed below the 2704-byte entry limit (sql/tests/customers.sql
-- creates the worst cases); a database refusing a value answers 422, never 500.
CREATE INDEX customers_updated_idx ON cust.customers (updated_at, id)
  INCLUDE (owner_id, department_id, status, search_bigrams);
CREATE INDEX customers_name_idx ON cust.customers (name, id);
CREATE INDEX customers_owner_idx ON cust.customers (owner_id);
CREATE INDEX customers_department_idx ON cust.customers (department_id);

-- The review queue's order: the date the review period runs from.
CREATE INDEX customers_review_idx ON cust.customers ((coalesce(last_verified_at, created_at)), id);
CREATE INDEX customers_search_idx ON cust.customers USING gin (search_bigrams);

CREATE TABLE cust.contacts (
  id          uuid PRIMARY KEY,
  customer_id uuid NOT NULL REFERENCES cust.customers (id),
  seq         int NOT NULL CHECK (seq >= 0),
  name        text CHECK (length(name) BETWEEN 1 AND 100),
  position    text CHECK (length(position) BETWEEN 1 AND 100),
  phone_enc   bytea CHECK (octet_length(phone_enc) BETWEEN 30 AND 45),
  phone_bidx  bytea CHECK (octet_length(phone_bidx) = 32),
  email_enc   bytea CHECK (octet_length(email_enc) BETWEEN 30 AND 283),
  email_bidx  bytea CHECK (octet_length(email_bidx) = 32),
  created_at  timestamptz NOT NULL DEFAULT now(),
  CHECK ((phone_enc IS NULL) = (phone_bidx IS NULL)),
  CHECK ((email_enc IS NULL) = (email_bidx IS NULL)),
  CHECK (name IS NOT NULL OR phone_enc IS NOT NULL OR email_enc IS NOT NULL)
);
COMMENT ON TABLE cust.contacts IS
  'Contact people of a customer; phone and e-mail encrypted, each belonging to one customer only.';
CREATE INDEX contacts_customer_idx ON cust.contacts (customer_id, seq);

-- A phone or an e-mail belongs to one customer (one contact) only.
CREATE UNIQUE INDEX contacts_phone_bidx_key ON cust.contacts (phone_bidx);
CREATE UNIQUE INDEX contacts_email_bidx_key ON cust.contacts (email_bidx);

-- Staff who work on a customer besides its owner.
CREATE TABLE cust.team (
  customer_id uuid NOT NULL REFERENCES cust.customers (id),
  employee_id uuid NOT NULL REFERENCES org.employees (id),
  added_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, employee_id)
);
CREATE INDEX team_employee_idx ON cust.team (employee_id);

-- The customer's data key, wrapped (AES-256-GCM: 12-byte nonce || 32-byte key || 16-byte tag)
-- under the master key key_id.
CREATE TABLE cust.data_keys (
  customer_id uuid PRIMARY KEY REFERENCES cust.customers (id),
  key_id      text NOT NULL CHECK (key_id ~ '^[A-Za-z0-9._:-]{1,64}$'),
  wrapped     bytea NOT NULL CHECK (octet_length(wrapped) = 60),
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- "on" is a reserved word: the column is on_date, the API member "on".
CREATE TABLE cust.follow_ups (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id uuid NOT NULL REFERENCES cust.customers (id),
  on_date     date NOT NULL,
  channel     text NOT NULL
              CHECK (channel IN ('visit', 'phone', 'email', 'message', 'meeting', 'other')),
  summary     text NOT NULL CHECK (length(summary) BETWEEN 1 AND 2000),
  next_on     date CHECK (next_on >= on_date),
  author_id   uuid NOT NULL REFERENCES org.employees (id),
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX follow_ups_customer_idx ON cust.follow_ups (customer_id, on_date DESC, at DESC, id DESC);
CREATE INDEX follow_ups_author_idx ON cust.follow_ups (author_id);

CREATE TABLE cust.contracts (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id      uuid NOT NULL REFERENCES cust.customers (id),
  amount           numeric(18, 2) NOT NULL CHECK (amount > 0),
  currency         char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  prepayment_ratio numeric(5, 4) CHECK (prepayment_ratio BETWEEN 0 AND 1),
  term_months      int CHECK (term_months BETWEEN 1 AND 600),
  signed_on        date NOT NULL,
  status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
  created_by       uuid NOT NULL REFERENCES org.employees (id),
  version          int NOT NULL DEFAULT 1,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contracts_customer_idx ON cust.contracts (customer_id);
CREATE INDEX contracts_created_by_idx ON cust.contracts (created_by);

-- Every full-PII read (api.customer_get with pii_access "full").
CREATE TABLE cust.pii_reads (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id uuid NOT NULL REFERENCES cust.customers (id),
  reader_id   uuid NOT NULL REFERENCES org.employees (id),
  at          timestamptz NOT NULL DEFAULT now(),
  request_id  text
);
CREATE INDEX pii_reads_customer_idx ON cust.pii_reads (customer_id, at);
CREATE INDEX pii_reads_reader_idx ON cust.pii_reads (reader_id, at);

-- Audit: ciphertext and blind indexes may enter the trail (never plaintext: SQL has none); the
-- wrapped data key may not, so that destroying a customer's data key (disposal, C4.3) leaves
-- its ciphertext unreadable everywhere, the append-only trail included.
-- Personal plain fields and the blind indexes are redacted in the trail: it records that they
-- changed, not what they were, so that disposal (C4.3) leaves nothing personal behind in it.
SELECT audit.attach('cust.customers', '{name,needs,concerns,credit_code_bidx,search_bigrams}');
SELECT audit.attach('cust.contacts', '{name,position,phone_bidx,email_bidx}');
SELECT audit.attach('cust.team');
SELECT audit.attach('cust.data_keys', '{wrapped}');
SELECT audit.attach('cust.follow_ups');
SELECT audit.attach('cust.contracts');

-- Row-level security ------------------------------------------------------------------------
ALTER TABLE cust.customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE cust.customers FORCE ROW LEVEL SECURITY;
ALTER TABLE cust.contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE cust.contacts FORCE ROW LEVEL SECURITY;
ALTER TABLE cust.team ENABLE ROW LEVEL SECURITY;
ALTER TABLE cust.team FORCE ROW LEVEL SECURITY;
ALTER TABLE cust.data_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE cust.data_keys FORCE ROW LEVEL SECURITY;
ALTER TABLE cust.follow_ups ENABLE ROW LEVEL SECURITY;
ALTER TABLE cust.follow_ups FORCE ROW LEVEL SECURITY;
ALTER TABLE cust.contracts ENABLE ROW LEVEL SECURITY;
ALTER TABLE cust.contracts FORCE ROW LEVEL SECURITY;
ALTER TABLE cust.pii_reads ENABLE ROW LEVEL SECURITY;
ALTER TABLE cust.pii_reads FORCE ROW LEVEL SECURITY;

REVOKE ALL ON ALL TABLES IN SCHEMA cust FROM PUBLIC;
GRANT SELECT, INSERT ON cust.customers TO tianxing_app;
GRANT UPDATE (name, company_name, business_scope, address_enc, credit_code_enc, credit_code_bidx,
              status, tags, source, needs, concerns, owner_id, last_verified_at)
  ON cust.customers TO tianxing_app;
GRANT SELECT, INSERT, DELETE ON cust.contacts, cust.team TO tianxing_app;
GRANT UPDATE (status) ON cust.contracts TO tianxing_app;
GRANT SELECT, INSERT ON cust.data_keys, cust.follow_ups, cust.contracts, cust.pii_reads
  TO tianxing_app;

-- One contact of a body, as given.
CREATE TYPE cust.contact_input AS (
  seq int, id uuid, name text, position text, phone_enc bytea, phone_bidx bytea,
  email_enc bytea, email_bidx bytea);

-- ===== from 0007_customer_sharing.sql =====
-- 0007 customer sharing and disposal: module C, second slice (docs/customers.md, "Second slice"):
-- recipients and their NDAs (C3.3), the customers' written consents with scope and purpose
-- (C3.2), the append-only ledger of disclosures (C3.1: nothing leaves without a ledger row), the
-- legal hold, deactivation and disposal by crypto-shredding (C4.3).
-- Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`. Builds on 0006.
--
-- Errors, besides those of 0002 and 0006:
--   TXDEN  a disclosure refused; MESSAGE = the reason, safe to show             -> 403 forbidden
--   TXCON  disposal or deactivation refused (open contracts, legal hold, status), a disposed
--          customer changed, a consent or NDA revoked twice                      -> 409 conflict
--
-- Who may do what (RLS and the API functions):
--   recipients, NDAs   read: every signed-in employee; create (and revoke an NDA): supervisor,
--                      admin.
--   consents           read: whoever sees the customer; create and revoke: whoever may update
--                      the customer (admin, owner, team, the department's supervisor).
--   disclosures        read: whoever sees the customer; create: whoever has full access to the
--                      customer's PII (pii_access "full" = the same people who may update it).
--                      Append-only: no UPDATE/DELETE/TRUNCATE grant, and triggers refuse them.
--   legal hold         admin, risk_officer (risk officers may not update customers otherwise:
--                      the write goes through cust.set_legal_hold, SECURITY DEFINER, one column).
--   deactivate         whoever may update the customer.
--   dispose            admin only (irreversible; the department's supervisor may deactivate,
--                      which is the business decision, but not destroy). Enforced by the API
--                      and by the trigger cust.customers_disposal().
--
-- Disposal = crypto-shredding: the data key row goes (its wrapped bytes never entered the audit
-- trail: 0006 redacts them), so every ciphertext, the trail's included, is unreadable; sealed
-- columns and blind indexes become NULL; the personal plain fields are replaced. The business
-- record stays (company, scope, contracts, follow-ups). A disposed customer never changes again.
--
-- Concurrency ("revoking a consent stops disclosures at once"): a disclosure reads the consent and
-- the NDA it relies on FOR SHARE; a revocation updates that row, so it waits for disclosures in
-- flight, and a disclosure that starts after the revocation committed sees it (READ COMMITTED:
-- every statement a new snapshot, and a row locked while being revoked is re-checked).

-- Customers: legal hold, disposal -------------------------------------------------------------

ALTER TABLE cust.customers
  ADD COLUMN legal_hold_reason text CHECK (length(legal_hold_reason) BETWEEN 1 AND 2000),
  ADD COLUMN disposed_at timestamptz,
  ADD COLUMN disposed_by uuid REFERENCES org.employees (id);
ALTER TABLE cust.customers DROP CONSTRAINT customers_status_check;
ALTER TABLE cust.customers ADD CONSTRAINT customers_status_check
  CHECK (status IN ('prospect', 'active', 'inactive', 'disposed'));

-- A disposed customer holds nothing personal any more. The unique index on credit_code_bidx
-- (0006) thereby is "unique among customers not disposed of": disposed rows hold NULL.
ALTER TABLE cust.customers ADD CONSTRAINT customers_disposed_check
  CHECK ((status = 'disposed') = (disposed_at IS NOT NULL)
         AND (disposed_at IS NULL) = (disposed_by IS NULL)
         AND (status <> 'disposed'
              OR (name = 'disposed customer' AND address_enc IS NULL AND credit_code_enc IS NULL
                  AND credit_code_bidx IS NULL AND needs IS NULL AND concerns IS NULL
                  AND legal_hold_reason IS NULL)));
GRANT UPDATE (disposed_at, disposed_by) ON cust.customers TO tianxing_app;
GRANT UPDATE (name, position, phone_enc, phone_bidx, email_enc, email_bidx) ON cust.contacts
  TO tianxing_app;
GRANT DELETE ON cust.data_keys TO tianxing_app;

-- Writes of a disposed customer are refused in cust.writable itself (with TXCON, before anything
-- else is looked at): see its final form in 0010, which also refuses merged customers.

-- Tables --------------------------------------------------------------------------------------

-- Who customer information may be shared with.
CREATE TABLE cust.recipients (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  kind       text NOT NULL CHECK (kind IN ('company', 'person', 'government')),
  contact    text CHECK (length(contact) BETWEEN 1 AND 500),
  created_by uuid NOT NULL REFERENCES org.employees (id),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recipients_name_idx ON cust.recipients (name, id);

-- Confidentiality agreements signed with a recipient (C3.3): in force from signed_on (included)
-- to expires_on (excluded), unless revoked. document_sha256: SHA-256 of the signed document.
CREATE TABLE cust.ndas (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  recipient_id    uuid NOT NULL REFERENCES cust.recipients (id),
  signed_on       date NOT NULL,
  expires_on      date NOT NULL,
  document_sha256 bytea NOT NULL CHECK (octet_length(document_sha256) = 32),
  created_by      uuid NOT NULL REFERENCES org.employees (id),
  created_at      timestamptz NOT NULL DEFAULT now(),
  revoked_at      timestamptz,
  revoked_by      uuid REFERENCES org.employees (id),
  UNIQUE (id, recipient_id),
  CHECK (expires_on > signed_on),
  CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE INDEX ndas_recipient_idx ON cust.ndas (recipient_id, created_at DESC);

-- The customer's written consent (C3.2) to share allowed_fields with a recipient for a purpose,
-- valid from valid_from to valid_until (both included), unless revoked. purpose is stored
-- trimmed and matched case-insensitively.
CREATE TABLE cust.consents (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id     uuid NOT NULL REFERENCES cust.customers (id),
  recipient_id    uuid NOT NULL REFERENCES cust.recipients (id),
  purpose         text NOT NULL CHECK (length(purpose) BETWEEN 1 AND 500 AND purpose = btrim(purpose)),
  allowed_fields  text[] NOT NULL
                  CHECK (cardinality(allowed_fields) >= 1
                         AND array_position(allowed_fields, NULL) IS NULL
                         AND allowed_fields <@ ARRAY['name', 'company_name', 'business_scope',
                                                     'address', 'credit_code', 'contacts.name',
                                                     'contacts.position', 'contacts.phone',
                                                     'contacts.email']::text[]),
  document_sha256 bytea NOT NULL CHECK (octet_length(document_sha256) = 32),
  valid_from      date NOT NULL,
  valid_until     date NOT NULL,
  created_by      uuid NOT NULL REFERENCES org.employees (id),
  created_at      timestamptz NOT NULL DEFAULT now(),
  revoked_at      timestamptz,
  revoked_by      uuid REFERENCES org.employees (id),
  UNIQUE (id, customer_id, recipient_id),
  CHECK (valid_until >= valid_from),
  CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE INDEX consents_lookup_idx ON cust.consents (customer_id, recipient_id, lower(purpose));
CREATE INDEX consents_recipient_idx ON cust.consents (recipient_id);

-- The ledger (C3.1): one row per disclosure, with the consent and the NDA it relied on (of the
-- same customer and recipient: composite foreign keys) and the fields that left.
CREATE TABLE cust.disclosures (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id  uuid NOT NULL REFERENCES cust.customers (id),
  recipient_id uuid NOT NULL REFERENCES cust.recipients (id),
  consent_id   uuid NOT NULL,
  nda_id       uuid NOT NULL,
  purpose      text NOT NULL CHECK (length(purpose) BETWEEN 1 AND 500),
  fields       text[] NOT NULL CHECK (cardinality(fields) >= 1),
  disclosed_by uuid NOT NULL REFERENCES org.employees (id),
  at           timestamptz NOT NULL DEFAULT now(),
  request_id   text,
  FOREIGN KEY (consent_id, customer_id, recipient_id)
    REFERENCES cust.consents (id, customer_id, recipient_id),
  FOREIGN KEY (nda_id, recipient_id) REFERENCES cust.ndas (id, recipient_id)
);
CREATE INDEX disclosures_customer_idx ON cust.disclosures (customer_id, at DESC, id DESC);
CREATE INDEX disclosures_recipient_idx ON cust.disclosures (recipient_id, at);
CREATE INDEX disclosures_consent_idx ON cust.disclosures (consent_id);
CREATE INDEX disclosures_nda_idx ON cust.disclosures (nda_id);

SELECT audit.attach('cust.recipients');
SELECT audit.attach('cust.ndas');
SELECT audit.attach('cust.consents');
SELECT audit.attach('cust.disclosures');

-- Row-level security --------------------------------------------------------------------------
ALTER TABLE cust.recipients ENABLE ROW LEVEL SECURITY;
ALTER TABLE cust.recipients FORCE ROW LEVEL SECURITY;
ALTER TABLE cust.ndas ENABLE ROW LEVEL SECURITY;
ALTER TABLE cust.ndas FORCE ROW LEVEL SECURITY;
ALTER TABLE cust.consents ENABLE ROW LEVEL SECURITY;
ALTER TABLE cust.consents FORCE ROW LEVEL SECURITY;
ALTER TABLE cust.disclosures ENABLE ROW LEVEL SECURITY;
ALTER TABLE cust.disclosures FORCE ROW LEVEL SECURITY;

REVOKE ALL ON cust.recipients, cust.ndas, cust.consents, cust.disclosures FROM PUBLIC;
GRANT SELECT, INSERT ON cust.recipients, cust.ndas, cust.consents, cust.disclosures
  TO tianxing_app;
GRANT UPDATE (revoked_at, revoked_by) ON cust.ndas, cust.consents TO tianxing_app;

-- ===== from 0008_customer_history.sql =====

-- ===== from 0009_idempotency.sql =====
-- 0009 Idempotency-Key on creates (DESIGN.md, issue 4): a client that retries a create with the
-- same key gets the first answer again instead of a second record.
--
-- One row per (employee, key) for 24 hours. The row is written by the create's own statement, in
-- its transaction: either both the record and the key exist, or neither. Two concurrent retries
-- collide on the primary key; the loser's transaction, record included, rolls back and it
-- answers with the winner's result.

CREATE TABLE tx_meta.idempotency (
  employee_id  uuid NOT NULL,
  key          text NOT NULL CHECK (key ~ '^[\x21-\x7e]{1,255}$'),
  route        text NOT NULL,
  request_hash text NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
  status       int NOT NULL,
  body         text,       -- NULL where the answer is rebuilt from the resource (customers: PII)
  resource_id  text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (employee_id, key)
);
CREATE INDEX idempotency_created_idx ON tx_meta.idempotency (created_at);

-- Each employee sees and writes only their own keys.
ALTER TABLE tx_meta.idempotency ENABLE ROW LEVEL SECURITY;
ALTER TABLE tx_meta.idempotency FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, DELETE ON tx_meta.idempotency TO tianxing_app;

-- ===== from 0010_customer_team_merge.sql =====

-- Merge --------------------------------------------------------------------------------------

ALTER TABLE cust.customers ADD COLUMN merged_into uuid REFERENCES cust.customers (id);
ALTER TABLE cust.customers DROP CONSTRAINT customers_status_check;
ALTER TABLE cust.customers ADD CONSTRAINT customers_status_check
  CHECK (status IN ('prospect', 'active', 'inactive', 'disposed', 'merged'));
ALTER TABLE cust.customers ADD CONSTRAINT customers_merged_check
  CHECK ((status = 'merged') = (merged_into IS NOT NULL)
         AND (status <> 'merged' OR (address_enc IS NULL AND credit_code_enc IS NULL
                                     AND credit_code_bidx IS NULL)));
CREATE INDEX customers_merged_into_idx ON cust.customers (merged_into) WHERE merged_into IS NOT NULL;

-- Moving a customer's records to the merge target, and dropping the source's data key.
GRANT UPDATE (merged_into) ON cust.customers TO tianxing_app;
GRANT UPDATE (customer_id) ON cust.follow_ups, cust.contracts, cust.consents TO tianxing_app;


-- Who may execute the functions above (the catalog of a database at 0012).
REVOKE ALL ON FUNCTION audit.append(text,text,text,jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit.attach(regclass,text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit.capture() FROM PUBLIC;
REVOKE ALL ON FUNCTION audit.entry_hash(bytea,bigint,timestamp with time zone,uuid,text[],text,text,text,text,jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.entry_hash(bytea,bigint,timestamp with time zone,uuid,text[],text,text,text,text,jsonb) TO tianxing_app;
REVOKE ALL ON FUNCTION audit.genesis() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.genesis() TO tianxing_app;
REVOKE ALL ON FUNCTION tx.claim(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tx.claim(text) TO tianxing_app;
REVOKE ALL ON FUNCTION tx.department_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tx.department_id() TO tianxing_app;
REVOKE ALL ON FUNCTION tx.has_role(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tx.has_role(text) TO tianxing_app;
REVOKE ALL ON FUNCTION tx.request_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tx.request_id() TO tianxing_app;
REVOKE ALL ON FUNCTION tx.roles() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tx.roles() TO tianxing_app;
REVOKE ALL ON FUNCTION tx.user_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tx.user_id() TO tianxing_app;
