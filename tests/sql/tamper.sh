#!/usr/bin/env bash
# sql tier, the checks pgTAP-as-tianxing_app cannot make: they need a superuser or several
# sessions at once. On a database of its own (tx_tamper_test), bootstrapped and migrated like
# tests/sql/run does, with sql/tests/fixtures.sql:
#   - audit chain under concurrency: parallel sessions appending (some rolling back), leave one
#     unbroken chain with each transaction's entries together; the chain's lock is taken at commit
#     (0043), so an open transaction with audited writes does not hold up another writer, and the
#     chain is in commit order; a REPEATABLE READ transaction whose snapshot predates the last
#     append cannot chain onto a stale head (serialization failure at its commit);
#   - one commit-time link per batch (0049): of a transaction's staged entries only the first is
#     armed (queues the link);
#   - the events outbox under concurrency (0045): concurrent customer creates (audit chain and
#     outbox positions both taken at commit) leave one chain and contiguous positions in commit
#     order, nothing from rolled-back transactions, and an open create does not hold up another;
#   - the staging tables (audit.pending, events.pending) read by key even when a session plans
#     against them vacuumed empty (issue 15 target 3);
#   - the PII read log's digests (0043): the owner deleting or editing a row of cust.pii_reads
#     (RLS and triggers switched off) is reported by audit.verify() and `tianxingd audit-verify`;
#   - tampering: a superuser who bypasses the append-only triggers (session_replication_role =
#     replica, or ALTER TABLE ... DISABLE TRIGGER) and edits, deletes inside, or deletes at the
#     tail of audit.log is reported by audit.verify() / api.audit_verify() at exactly that entry;
#   - both hash formulas (0048: 1 for entries linked before it, 2 since): an edit, an edit with the
#     hash recomputed, a deletion, an insertion, two entries swapped and the version flipped are
#     each reported at the entry where the chain breaks;
#   - TRUNCATE of an audited table leaves an entry;
#   - refresh-token rotation: two sessions rotating one token at once: the second waits for the
#     first, then sees the token used ('reused') and the family is revoked.
# Prints TAP; exits 1 when a check fails. Needs the TX_TEST_* environment (docs/interfaces.md).
set -euo pipefail

die() {
	printf 'tests/sql/tamper.sh: %s\n' "$*" >&2
	exit 1
}
for v in TX_TEST_BIN TX_TEST_PGHOST TX_TEST_PGPORT TX_TEST_PGUSER; do
	[[ -n ${!v:-} ]] || die "$v is not set: run through tests/run (see docs/interfaces.md)"
done
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)"
cd -- "$ROOT"

DB=tx_tamper_test
PGARGS=(-h "$TX_TEST_PGHOST" -p "$TX_TEST_PGPORT" -X -q -v ON_ERROR_STOP=1)
su() { PGOPTIONS="-c client_min_messages=warning" psql "${PGARGS[@]}" -U "$TX_TEST_PGUSER" "$@"; }
# One query as the superuser on $DB: unaligned, tuples only.
q() { su -d "$DB" -At <<<"$1"; }

uri_value() {
	local LC_ALL=C
	local s=$1 out="" c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[A-Za-z0-9._~/-]) out+=$c ;;
		*) out+=$(printf '%%%02X' "'$c") ;;
		esac
	done
	printf '%s' "$out"
}

n=0
failed=0
check() { # description expected actual
	n=$((n + 1))
	if [[ $2 == "$3" ]]; then
		printf 'ok %d - %s\n' "$n" "$1"
	else
		printf 'not ok %d - %s\n#   expected: %s\n#        got: %s\n' "$n" "$1" "$2" "$3"
		failed=$((failed + 1))
	fi
}

su -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
su -d postgres -v db="$DB" -f sql/bootstrap.sql >/dev/null
owner_url="postgresql:///$DB?host=$(uri_value "$TX_TEST_PGHOST")&port=$TX_TEST_PGPORT&user=tianxing_owner"
work=$(mktemp -d)
cleanup() {
	rm -rf -- "$work"
	su -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" ||
		true
}
trap cleanup EXIT
(cd -- "$work" && env -i PATH="$PATH" ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"} \
	${UBSAN_OPTIONS:+UBSAN_OPTIONS="$UBSAN_OPTIONS"} \
	TIANXING_DATABASE_URL="$owner_url" TIANXING_MIGRATE_DATABASE_URL="$owner_url" \
	"$TX_TEST_BIN" migrate >/dev/null 2>&1) || die "tianxingd migrate failed on $DB"
psql "${PGARGS[@]}" -U tianxing_owner -d "$DB" -f sql/tests/fixtures.sql >/dev/null
q "CREATE EXTENSION dblink" >/dev/null
APPCONN="host=$TX_TEST_PGHOST port=$TX_TEST_PGPORT dbname=$DB user=tianxing_app"
# For the "does not wait" checks: whether dblink connection c (its backend pid) finishes its
# query, polled for up to 30 s, or is seen waiting on a lock first. A fixed sleep before one look
# said "busy" for a create that was merely slow (an ASan build on a loaded machine).
finished_sql="CREATE FUNCTION pg_temp.finished(c text, p_pid int) RETURNS text LANGUAGE plpgsql AS \$f\$
BEGIN
  FOR i IN 1..300 LOOP
    IF dblink_is_busy(c) = 0 THEN RETURN 'busy=0'; END IF;
    IF EXISTS (SELECT FROM pg_stat_activity a WHERE a.pid = p_pid AND a.wait_event_type = 'Lock') THEN
      RETURN 'busy=1 (waiting on a lock)';
    END IF;
    PERFORM pg_sleep(0.1);
  END LOOP;
  RETURN 'busy=1 (still running after 30 s)';
END \$f\$;"

echo "TAP version 13"

# --- concurrent appends --------------------------------------------------------------------
before=$(q "SELECT count(*) FROM audit.log")
pids=()
for s in 1 2 3 4; do
	{
		for i in $(seq 1 25); do
			printf "BEGIN;\nSELECT tx.begin_request('admin', 'admin', 'load-%s-%s');\n" "$s" "$i"
			printf "SELECT api.department_create('{\"code\": \"L%s-%s\", \"name\": \"load\", \"kind\": \"support\"}');\nCOMMIT;\n" "$s" "$i"
		done
	} >"$work/load$s.sql"
	psql "${PGARGS[@]}" -U tianxing_app -d "$DB" -f "$work/load$s.sql" >/dev/null &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || die "a load session failed"; done
check "four sessions x 25 concurrent writes: 100 entries" "100" \
	"$(q "SELECT count(*) - $before FROM audit.log")"
check "... each with its request id" "100" "$(q "SELECT count(DISTINCT request_id) FROM audit.log WHERE request_id LIKE 'load-%'")"
check "... one unbroken chain" "|" "$(q "SELECT first_broken_id, reason FROM audit.verify()")"
check "... ids in chain order (prev_hash = the previous entry's hash)" "0" \
	"$(q "SELECT count(*) FROM (SELECT prev_hash, lag(hash) OVER (ORDER BY id) AS p FROM audit.log) s WHERE p IS NOT NULL AND p <> prev_hash")"

# Many writers at once, each transaction writing two audited rows, one in five rolled back: the
# committed ones are all linked, each transaction's entries next to each other, one chain.
before=$(q "SELECT count(*) FROM audit.log")
pids=()
for s in 1 2 3 4 5 6 7 8; do
	{
		for i in $(seq 1 20); do
			printf "BEGIN;\nSELECT tx.begin_request('admin', 'admin', 'many-%s-%s');\n" "$s" "$i"
			printf "SELECT api.department_create('{\"code\": \"M%s-%s-a\", \"name\": \"many\", \"kind\": \"support\"}');\n" "$s" "$i"
			printf "SELECT api.department_create('{\"code\": \"M%s-%s-b\", \"name\": \"many\", \"kind\": \"support\"}');\n" "$s" "$i"
			if ((i % 5 == 0)); then echo "ROLLBACK;"; else echo "COMMIT;"; fi
		done
	} >"$work/many$s.sql"
	psql "${PGARGS[@]}" -U tianxing_app -d "$DB" -f "$work/many$s.sql" >/dev/null &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || die "a load session failed"; done
check "eight sessions x 20 transactions x 2 writes, 1 in 5 rolled back: 256 entries" "256" \
	"$(q "SELECT count(*) - $before FROM audit.log")"
check "... none from a rolled-back transaction" "0" \
	"$(q "SELECT count(*) FROM audit.log WHERE request_id ~ '^many-[0-9]+-(5|10|15|20)$'")"
check "... each transaction's two entries next to each other" "0" \
	"$(q "SELECT count(*) FROM (SELECT request_id, max(id) - min(id) AS d FROM audit.log WHERE request_id LIKE 'many-%' GROUP BY request_id) s WHERE d <> 1")"
check "... one unbroken chain" "|" "$(q "SELECT first_broken_id, reason FROM audit.verify()")"
check "... nothing left staged" "0" "$(q "SELECT count(*) FROM audit.pending")"

# --- one commit-time link per batch (0049) ----------------------------------------------------
# Only the first entry a transaction stages queues the link (armed); the others ride on its
# firing. Seen before the commit, as the superuser (the runtime role cannot read audit.pending).
check "three audited writes in one transaction: one armed entry of three staged" "1|3" \
	"$(q "BEGIN; SET LOCAL ROLE tianxing_app; SELECT tx.begin_request('admin', 'admin', 'armed') IS NOT NULL;
	      SELECT api.department_create('{\"code\": \"AR1\", \"name\": \"Armed one\", \"kind\": \"support\"}') IS NOT NULL;
	      SELECT api.department_create('{\"code\": \"AR2\", \"name\": \"Armed two\", \"kind\": \"support\"}') IS NOT NULL;
	      SELECT api.department_create('{\"code\": \"AR3\", \"name\": \"Armed three\", \"kind\": \"support\"}') IS NOT NULL;
	      RESET ROLE; SELECT count(*) FILTER (WHERE armed) || '|' || count(*) FROM audit.pending; ROLLBACK" | tail -n 1)"

# The chain's lock is taken at commit (0043): an open transaction with audited writes does not
# hold up a second writer, and the chain is in commit order (b committed first).
out=$(q "$finished_sql
SELECT dblink_connect('a', '$APPCONN'), dblink_connect('b', '$APPCONN');
SELECT dblink_exec('a', 'BEGIN');
SELECT * FROM dblink('a', \$\$SELECT tx.begin_request('admin', 'admin', 'lock-a') IS NOT NULL\$\$) t(x boolean);
SELECT * FROM dblink('a', \$\$SELECT api.department_create('{\"code\": \"LA\", \"name\": \"a\", \"kind\": \"support\"}') IS NOT NULL\$\$) t(x boolean);
SELECT p AS bpid FROM dblink('b', 'SELECT pg_backend_pid()') t(p int) \gset
SELECT dblink_send_query('b', \$\$WITH c AS MATERIALIZED (SELECT tx.begin_request('admin', 'admin', 'lock-b'))
  SELECT api.department_create('{\"code\": \"LB\", \"name\": \"b\", \"kind\": \"support\"}')::text FROM c\$\$);
SELECT pg_temp.finished('b', :bpid);
SELECT count(*) FROM dblink_get_result('b') t(x text);
SELECT dblink_exec('a', 'COMMIT');
SELECT dblink_disconnect('a'), dblink_disconnect('b');
")
check "a second writer does not wait for an open transaction's audited write" "busy=0" "$(grep '^busy=' <<<"$out")"
check "... then both entries chain" "|" "$(q "SELECT first_broken_id, reason FROM audit.verify()")"
check "... in commit order" "lock-b,lock-a" \
	"$(q "SELECT string_agg(request_id, ',' ORDER BY id) FROM audit.log WHERE request_id IN ('lock-a', 'lock-b')")"

# --- the events outbox's positions at commit (0045) ----------------------------------------
# Customer creates (each writes audited rows and a customer.created event, so its commit takes
# both locks: the chain's, then events.head) and department creates (audit only), from eight
# sessions at once, one create transaction in five rolled back: no deadlock, one chain, and the
# outbox's positions contiguous, one per committed create, in commit order (the order of the
# chain's ids, which are taken at commit under the chain's lock).
cust_body() { # session, transaction -> a customer body (the fixtures' master key mk1)
	printf '{"id": "42000000-0000-4000-8000-%04d%08d", "name": "race %s-%s", "dek": {"key_id": "mk1", "wrapped": "\\\\x01%s"}}' \
		"$1" "$2" "$1" "$2" "$(printf 'ab%.0s' $(seq 1 59))"
}
before=$(q "SELECT count(*) FROM events.outbox")
pids=()
for s in 1 2 3 4 5 6 7 8; do
	{
		for i in $(seq 1 15); do
			printf "BEGIN;\n"
			if ((s % 2 == 0)); then # half the sessions write an audit-only row first (as admin)
				printf "SELECT tx.begin_request('admin', 'admin', 'race-%s-%s');\n" "$s" "$i"
				printf "SELECT api.department_create('{\"code\": \"R%s-%s\", \"name\": \"race\", \"kind\": \"support\"}');\n" "$s" "$i"
			fi
			printf "SELECT tx.begin_request('staff.a1', 'staff', 'race-%s-%s');\n" "$s" "$i"
			printf "SELECT api.customer_create('%s');\n" "$(cust_body "$s" "$i")"
			if ((i % 5 == 0)); then echo "ROLLBACK;"; else echo "COMMIT;"; fi
		done
	} >"$work/race$s.sql"
	psql "${PGARGS[@]}" -U tianxing_app -d "$DB" -f "$work/race$s.sql" >/dev/null &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || die "a race session failed"; done
check "eight sessions x 15 creates, 1 in 5 rolled back: 96 events" "96" \
	"$(q "SELECT count(*) - $before FROM events.outbox")"
check "... none from a rolled-back transaction" "0" \
	"$(q "SELECT count(*) FROM events.outbox WHERE request_id ~ '^race-[0-9]+-(5|10|15)$'")"
check "... positions 1..N with no gap, the head at N" "t" \
	"$(q "SELECT count(*) = max(position) AND max(position) = (SELECT position FROM events.head) FROM events.outbox")"
check "... in commit order (the chain's order of the same transactions)" "0" \
	"$(q "SELECT count(*) FROM (SELECT a.first_id, lag(a.first_id) OVER (ORDER BY o.position) AS prev
	        FROM events.outbox o
	        JOIN (SELECT request_id, min(id) AS first_id FROM audit.log WHERE request_id LIKE 'race-%' GROUP BY request_id) a
	          USING (request_id)) s WHERE prev > first_id")"
check "... one unbroken chain" "|" "$(q "SELECT first_broken_id, reason FROM audit.verify()")"
check "... nothing left staged" "0|0" "$(q "SELECT (SELECT count(*) FROM audit.pending), (SELECT count(*) FROM events.pending)")"

# The staging tables are read by key (issue 15 target 3; audit.append in sql/code/audit/
# 030_link.sql says why). Vacuumed while nothing is staged, their heaps are cut to nothing and
# their statistics say empty: the moment a session's plans for them would be sequential scans,
# kept for its life and run over every dead page the heap gains before autovacuum's next visit.
# A create planned now must read neither table but by index, nor must its links. They run as at
# commit: deferred past the create, then fired by SET CONSTRAINTS (linked at each statement's end
# instead, the link would run inside audit.append's call and take its settings from there).
q "VACUUM audit.pending, events.pending"
check "... vacuumed with nothing staged, both staging heaps are cut to nothing" "0|0" \
	"$(q "SELECT pg_relation_size('audit.pending'), pg_relation_size('events.pending')")"
out=$(psql "${PGARGS[@]}" -U tianxing_app -d "$DB" -At <<SQL
BEGIN;
SELECT tx.begin_request('staff.a1', 'staff', 'scan-1') IS NOT NULL;
SELECT api.customer_create('$(cust_body 93 1)') IS NOT NULL;
SELECT 'staged=' || (n_tup_ins > 0 AND n_tup_del = 0)::text FROM pg_stat_xact_all_tables WHERE relid = 'audit.pending'::regclass;
SET CONSTRAINTS audit.link_at_commit, events.position_at_commit IMMEDIATE;
SELECT 'linked=' || (n_tup_del = n_tup_ins)::text FROM pg_stat_xact_all_tables WHERE relid = 'audit.pending'::regclass;
SELECT 'scans=' || sum(seq_scan) || ',by_key=' || (sum(idx_scan) > 0)::text
  FROM pg_stat_xact_all_tables WHERE relid IN ('audit.pending'::regclass, 'events.pending'::regclass);
COMMIT;
SQL
)
check "a create planned against empty staging tables: its entries staged, then linked as at commit" \
	"staged=true,linked=true" "$(grep '^staged=' <<<"$out"),$(grep '^linked=' <<<"$out")"
check "... and both tables read by key only" "scans=0,by_key=true" "$(grep '^scans=' <<<"$out")"

# The outbox's lock is taken at commit too: an open transaction that created a customer does not
# hold up a second create, and the positions follow the commits (b committed first).
out=$(q "$finished_sql
SELECT dblink_connect('a', '$APPCONN'), dblink_connect('b', '$APPCONN');
SELECT dblink_exec('a', 'BEGIN');
SELECT * FROM dblink('a', \$\$SELECT tx.begin_request('staff.a1', 'staff', 'ev-a') IS NOT NULL\$\$) t(x boolean);
SELECT * FROM dblink('a', \$\$SELECT api.customer_create('$(cust_body 91 1)') IS NOT NULL\$\$) t(x boolean);
SELECT p AS bpid FROM dblink('b', 'SELECT pg_backend_pid()') t(p int) \gset
SELECT dblink_send_query('b', \$\$WITH c AS MATERIALIZED (SELECT tx.begin_request('staff.a1', 'staff', 'ev-b'))
  SELECT api.customer_create('$(cust_body 92 1)')::text FROM c\$\$);
SELECT pg_temp.finished('b', :bpid);
SELECT count(*) FROM dblink_get_result('b') t(x text);
SELECT dblink_exec('a', 'COMMIT');
SELECT dblink_disconnect('a'), dblink_disconnect('b');
")
check "a second create does not wait for an open transaction's event" "busy=0" "$(grep '^busy=' <<<"$out")"
check "... positions in commit order" "ev-b,ev-a" \
	"$(q "SELECT string_agg(request_id, ',' ORDER BY position) FROM events.outbox WHERE request_id IN ('ev-a', 'ev-b')")"

# REPEATABLE READ: a snapshot older than the last append must not chain onto a stale head.
out=$(q "
SELECT dblink_connect('a', '$APPCONN'), dblink_connect('b', '$APPCONN');
SELECT dblink_exec('a', 'BEGIN ISOLATION LEVEL REPEATABLE READ');
SELECT * FROM dblink('a', \$\$SELECT tx.begin_request('admin', 'admin', 'rr-a') IS NOT NULL\$\$) t(x boolean);
SELECT * FROM dblink('a', 'SELECT count(*) FROM org.departments') t(n bigint);
SELECT dblink_exec('b', \$\$BEGIN; SELECT tx.begin_request('admin', 'admin', 'rr-b');
  SELECT api.department_create('{\"code\": \"RB\", \"name\": \"b\", \"kind\": \"support\"}'); COMMIT\$\$);
SELECT 'write=' || dblink_exec('a', \$q\$DO \$do\$ BEGIN PERFORM api.department_create('{\"code\": \"RA\", \"name\": \"a\", \"kind\": \"support\"}'); END \$do\$\$q\$, false);
SELECT 'result=' || dblink_exec('a', 'COMMIT', false);
SELECT 'error=' || dblink_error_message('a');
SELECT dblink_exec('a', 'ROLLBACK');
SELECT dblink_disconnect('a'), dblink_disconnect('b');
")
check "REPEATABLE READ with a stale snapshot: the write itself goes through (nothing linked yet)" "write=DO" \
	"$(grep '^write=' <<<"$out")"
check "... its commit, which links, fails" "result=ERROR" "$(grep '^result=' <<<"$out")"
check "... as a serialization failure (the service retries it)" "1" \
	"$(grep -c '^error=.*could not serialize access' <<<"$out" || true)"
check "... and the chain stays intact" "|" "$(q "SELECT first_broken_id, reason FROM audit.verify()")"
check "... without the rolled-back entry" "0" "$(q "SELECT count(*) FROM audit.log WHERE request_id = 'rr-a'")"

# --- TRUNCATE ----------------------------------------------------------------------------
q "CREATE TABLE public.tx_truncate_probe (id int PRIMARY KEY); SELECT audit.attach('public.tx_truncate_probe');
   INSERT INTO public.tx_truncate_probe VALUES (1), (2); TRUNCATE public.tx_truncate_probe" >/dev/null
check "TRUNCATE of an audited table leaves an entry" "TRUNCATE||{}" \
	"$(q "SELECT op, row_key, changes FROM audit.log WHERE table_name = 'public.tx_truncate_probe' ORDER BY id DESC LIMIT 1")"
q "DROP TABLE public.tx_truncate_probe" >/dev/null
check "the chain is intact before tampering" "|" "$(q "SELECT first_broken_id, reason FROM audit.verify()")"

# --- tampering (each in a transaction rolled back afterwards) ---------------------------------
mid=$(q "SELECT id FROM audit.log WHERE request_id = 'load-2-7' ORDER BY id LIMIT 1")
last=$(q "SELECT max(id) FROM audit.log")
next=$(q "SELECT min(id) FROM audit.log WHERE id > $mid")
tamper() { # SQL done with the triggers bypassed; prints "first_broken_id|reason"
	q "BEGIN; SET LOCAL session_replication_role = replica; $1; SET LOCAL session_replication_role = origin;
	   SELECT first_broken_id || '|' || reason FROM audit.verify(); ROLLBACK" | tail -n 1
}
check "the append-only triggers stop even a superuser" "refused" \
	"$(q "UPDATE audit.log SET changes = '{}' WHERE id = $mid" 2>/dev/null && echo accepted || echo refused)"
# The PII read log (0011: outside the chain, append-only by its own triggers). A superuser passes
# row-level security and every grant: only the triggers stand in the way. One row to refuse
# (put in with its numbering trigger skipped, so with a seq of its own; all rolled back).
pii_log() {
	q "BEGIN; SET LOCAL session_replication_role = replica;
	   INSERT INTO cust.pii_reads (customer_id, reader_id, seq) VALUES (gen_random_uuid(), gen_random_uuid(), -1);
	   SET LOCAL session_replication_role = origin; $1; ROLLBACK" 2>&1 | grep -o 'append-only' | head -n 1
}
check "the PII read log refuses DELETE even from a superuser" "append-only" "$(pii_log "DELETE FROM cust.pii_reads")"
check "... and UPDATE" "append-only" "$(pii_log "UPDATE cust.pii_reads SET request_id = 'forged'")"
check "... and TRUNCATE" "append-only" \
	"$(q "TRUNCATE cust.pii_reads" 2>&1 | grep -o 'append-only' | head -n 1)"
check "an edited entry is reported by id" "$mid|hash does not match the entry's content" \
	"$(tamper "UPDATE audit.log SET changes = jsonb_set(changes, '{name}', '\"forged\"') WHERE id = $mid")"
check "an edited actor is reported" "$mid|hash does not match the entry's content" \
	"$(tamper "UPDATE audit.log SET actor_id = '20000000-0000-4000-8000-000000000004' WHERE id = $mid")"
check "an edited time is reported" "$mid|hash does not match the entry's content" \
	"$(tamper "UPDATE audit.log SET at = at + interval '1 microsecond' WHERE id = $mid")"
check "an edit with a recomputed hash breaks the link to the next entry" \
	"$next|prev_hash does not match the hash of the previous entry" \
	"$(tamper "UPDATE audit.log SET changes = '{}' WHERE id = $mid; UPDATE audit.log l SET hash = audit.entry_hash_of(l) WHERE id = $mid")"
check "a deleted entry is reported at the next one" "$next|prev_hash does not match the hash of the previous entry" \
	"$(tamper "DELETE FROM audit.log WHERE id = $mid")"
check "deleted entries at the tail are reported (the head points past them)" \
	"$last|the chain head does not match the last entry (entries removed at the tail?)" \
	"$(tamper "DELETE FROM audit.log WHERE id = $last")"
check "ALTER TABLE ... DISABLE TRIGGER then an edit: reported too" "$mid|hash does not match the entry's content" \
	"$(q "BEGIN; ALTER TABLE audit.log DISABLE TRIGGER log_append_only; UPDATE audit.log SET op = 'DELETE' WHERE id = $mid;
	      SELECT first_broken_id || '|' || reason FROM audit.verify(); ROLLBACK" | tail -n 1)"
check "api.audit_verify, as the auditor through the runtime role, reports it" \
	"{\"checked\" : $(q "SELECT count(*) FROM audit.log WHERE id <= $mid"), \"intact\" : false, \"first_broken_id\" : $mid, \"reason\" : \"hash does not match the entry's content\"}" \
	"$(q "BEGIN; SET LOCAL session_replication_role = replica; UPDATE audit.log SET request_id = 'x' WHERE id = $mid;
	      SET LOCAL session_replication_role = origin; SET LOCAL ROLE tianxing_app;
	      SELECT tx.begin_request('auditor', 'auditor', 'verify') IS NOT NULL; SELECT api.audit_verify(); ROLLBACK" | tail -n 1)"
check "after the rollbacks the chain is intact again" "|" "$(q "SELECT first_broken_id, reason FROM audit.verify()")"

# --- both hash formulas (0048) ---------------------------------------------------------------
# Entries linked before 0048 keep formula 1 (here: those the migrations wrote through the
# baseline's audit.append); entries linked by audit.link since follow formula 2 (the content's
# digest taken at staging, only its link to the previous hash under the lock). Each kind of
# tampering is detected in both, at the entry where the chain breaks.
check "the chain holds entries of both formulas" "t|t" \
	"$(q "SELECT bool_or(hash_v = 1), bool_or(hash_v = 2) FROM audit.log")"
check "... every entry after the first of formula 2 follows formula 2" "0" \
	"$(q "SELECT count(*) FROM audit.log WHERE hash_v = 1 AND id > (SELECT min(id) FROM audit.log WHERE hash_v = 2)")"
check "... the one tampered with above ($mid) follows formula 2" "2" "$(q "SELECT hash_v FROM audit.log WHERE id = $mid")"
# An entry of each formula whose successor has the same formula, and that successor.
pair() { q "SELECT id || ' ' || nx FROM (SELECT id, hash_v, lead(id) OVER (ORDER BY id) AS nx,
                                                lead(hash_v) OVER (ORDER BY id) AS nv FROM audit.log) s
            WHERE hash_v = $1 AND nv = $1 ORDER BY id OFFSET 3 LIMIT 1"; }
# Moves the entries after $1 one id up (the identity column cannot be updated: deleted and put
# back with their ids plus one), leaving $1 + 1 free.
shift_after() {
	printf '%s' "CREATE TEMP TABLE moved AS SELECT * FROM audit.log WHERE id > $1;
	DELETE FROM audit.log WHERE id > $1;
	INSERT INTO audit.log (id, at, actor_id, actor_roles, request_id, table_name, row_key, op, changes, prev_hash, hash, hash_v)
	  OVERRIDING SYSTEM VALUE
	  SELECT id + 1, at, actor_id, actor_roles, request_id, table_name, row_key, op, changes, prev_hash, hash, hash_v FROM moved"
}
for v in 1 2; do
	read -r m nx <<<"$(pair "$v")"
	[[ -n $m && -n $nx ]] || die "no two consecutive entries of formula $v"
	check "formula $v: an edited entry is reported by id" "$m|hash does not match the entry's content" \
		"$(tamper "UPDATE audit.log SET changes = changes || '{\"forged\": true}' WHERE id = $m")"
	check "formula $v: an edited request id is reported" "$m|hash does not match the entry's content" \
		"$(tamper "UPDATE audit.log SET request_id = coalesce(request_id, '') || 'x' WHERE id = $m")"
	check "formula $v: the version flipped is reported (the other formula does not give the hash)" \
		"$m|hash does not match the entry's content" \
		"$(tamper "UPDATE audit.log SET hash_v = 3 - hash_v WHERE id = $m")"
	check "formula $v: an edit with the hash recomputed by its formula breaks the link to the next entry" \
		"$nx|prev_hash does not match the hash of the previous entry" \
		"$(tamper "UPDATE audit.log SET changes = '{}' WHERE id = $m; UPDATE audit.log l SET hash = audit.entry_hash_of(l) WHERE id = $m")"
	check "formula $v: a deleted entry is reported at the next one" \
		"$nx|prev_hash does not match the hash of the previous entry" \
		"$(tamper "DELETE FROM audit.log WHERE id = $m")"
	# An entry slipped in after $m, chained onto $m's hash and hashed by the formula: the
	# entry after it (moved one up) no longer follows.
	check "formula $v: an inserted entry, correctly hashed, is reported at the entry after it" \
		"$((nx + 1))|prev_hash does not match the hash of the previous entry" \
		"$(tamper "$(shift_after "$m");
		   INSERT INTO audit.log (id, at, actor_id, actor_roles, request_id, table_name, row_key, op, changes, prev_hash, hash, hash_v)
		     OVERRIDING SYSTEM VALUE
		     SELECT $m + 1, at, actor_id, actor_roles, 'forged', table_name, row_key, op, '{}', hash, hash, hash_v
		       FROM audit.log WHERE id = $m;
		   UPDATE audit.log l SET hash = audit.entry_hash_of(l) WHERE id = $m + 1")"
	# Two neighbours swapped (their ids exchanged): the first no longer follows its predecessor.
	check "formula $v: two entries swapped are reported at the first" \
		"$m|prev_hash does not match the hash of the previous entry" \
		"$(tamper "CREATE TEMP TABLE two AS SELECT * FROM audit.log WHERE id IN ($m, $nx);
		   DELETE FROM audit.log WHERE id IN ($m, $nx);
		   INSERT INTO audit.log (id, at, actor_id, actor_roles, request_id, table_name, row_key, op, changes, prev_hash, hash, hash_v)
		     OVERRIDING SYSTEM VALUE
		     SELECT CASE id WHEN $m THEN $nx ELSE $m END, at, actor_id, actor_roles, request_id, table_name, row_key, op,
		            changes, prev_hash, hash, hash_v FROM two")"
done
check "after the rollbacks the chain is intact again (both formulas)" "|" "$(q "SELECT first_broken_id, reason FROM audit.verify()")"

# --- refresh-token rotation in two sessions at once --------------------------------------
q "SELECT auth.refresh_issue('20000000-0000-4000-8000-000000000007', NULL, sha256('conc-1'), 3600)" >/dev/null
out=$(q "
SELECT dblink_connect('a', '$APPCONN'), dblink_connect('b', '$APPCONN');
SELECT dblink_exec('a', 'BEGIN');
SELECT 'a=' || o FROM dblink('a', \$\$SELECT outcome FROM auth.refresh_rotate(sha256('conc-1'), sha256('conc-2a'), 60)\$\$) t(o text);
SELECT dblink_send_query('b', \$\$SELECT outcome FROM auth.refresh_rotate(sha256('conc-1'), sha256('conc-2b'), 60)\$\$);
SELECT pg_sleep(0.5);
SELECT 'busy=' || dblink_is_busy('b');
SELECT dblink_exec('a', 'COMMIT');
SELECT 'b=' || o FROM dblink_get_result('b') t(o text);
SELECT dblink_disconnect('a'), dblink_disconnect('b');
")
check "rotation: the first session rotates" "a=ok" "$(grep '^a=' <<<"$out")"
check "rotation: the second waits on the token's row lock" "busy=1" "$(grep '^busy=' <<<"$out")"
check "rotation: then sees the token used: reuse" "b=reused" "$(grep '^b=' <<<"$out")"
check "rotation: the reuse revoked the family, the winner's new token included" "invalid" \
	"$(q "SELECT outcome FROM auth.refresh_rotate(sha256('conc-2a'), sha256('conc-3'), 60)")"
check "rotation: the loser's token was never issued" "invalid" \
	"$(q "SELECT outcome FROM auth.refresh_rotate(sha256('conc-2b'), sha256('conc-4'), 60)")"
check "the chain is intact at the end" "|" "$(q "SELECT first_broken_id, reason FROM audit.verify()")"

# --- the PII read log under the chain's digests (0043) -------------------------------------------
# Three full reads by the customer's owner, then the digest job's function: one DIGEST entry.
app() { psql "${PGARGS[@]}" -U tianxing_app -d "$DB" -At <<<"$1"; }
app "BEGIN; SELECT tx.begin_request('staff.a1', 'staff', 'pii-setup') IS NOT NULL;
     SELECT api.customer_create(jsonb_build_object('id', '4d000000-0000-4000-8000-0000000000d1', 'name', '吳雅婷',
       'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', '\\x01' || repeat('ef', 59)))) IS NOT NULL; COMMIT;" >/dev/null
# (The second is rolled back: its number is a gap inside the digested range.)
for i in 1 gap 2 3; do
	app "BEGIN; SELECT tx.begin_request('staff.a1', 'staff', 'pii-read-$i') IS NOT NULL;
	     SELECT api.customer_get('4d000000-0000-4000-8000-0000000000d1') ->> 'pii_access';
	     $([[ $i == gap ]] && echo ROLLBACK || echo COMMIT);" >/dev/null
done
check "three full reads logged" "3" "$(q "SELECT count(*) FROM cust.pii_reads WHERE request_id LIKE 'pii-read-%'")"
check "the digest covers them" "3" \
	"$(app "BEGIN; SELECT tx.begin_request('staff.a1', 'staff', 'pii-digest') IS NOT NULL; SELECT audit.pii_reads_digest() ->> 'count'; COMMIT;" | sed -n 2p)"
digest=$(q "SELECT id FROM audit.log WHERE table_name = 'cust.pii_reads' AND op = 'DIGEST' ORDER BY id DESC LIMIT 1")
check "... and is linked into an intact chain" "|" "$(q "SELECT first_broken_id, reason FROM audit.verify()")"
# The owner role (not a superuser) switches off what stands in its way: row-level security and
# the append-only trigger.
owner() { PGOPTIONS="-c client_min_messages=warning" psql "${PGARGS[@]}" -U tianxing_owner -d "$DB" -At <<<"$1"; }
unguard="ALTER TABLE cust.pii_reads NO FORCE ROW LEVEL SECURITY; ALTER TABLE cust.pii_reads DISABLE TRIGGER pii_reads_append_only;"
pii_reason="the PII read log no longer matches this digest (a row deleted, altered or added)"
check "the owner deletes a digested PII read: reported at the digest" "$digest|$pii_reason" \
	"$(owner "BEGIN; $unguard DELETE FROM cust.pii_reads WHERE request_id = 'pii-read-2';
	          SELECT first_broken_id || '|' || reason FROM audit.verify(); ROLLBACK" | tail -n 1)"
check "the owner edits one (who read): reported" "$digest|$pii_reason" \
	"$(owner "BEGIN; $unguard UPDATE cust.pii_reads SET reader_id = '20000000-0000-4000-8000-000000000001' WHERE request_id = 'pii-read-1';
	          SELECT first_broken_id || '|' || reason FROM audit.verify(); ROLLBACK" | tail -n 1)"
check "the owner slips one into a digested range: reported" "$digest|$pii_reason" \
	"$(owner "BEGIN; $unguard ALTER TABLE cust.pii_reads DISABLE TRIGGER pii_reads_number;
	          INSERT INTO cust.pii_reads (customer_id, reader_id, request_id, seq)
	          SELECT customer_id, reader_id, 'forged', seq + 1 FROM cust.pii_reads WHERE request_id = 'pii-read-1';
	          SELECT first_broken_id || '|' || reason FROM audit.verify(); ROLLBACK" | tail -n 1)"
check "after the rollbacks the chain and digests verify" "|" "$(q "SELECT first_broken_id, reason FROM audit.verify()")"
# Last, for good (this database is dropped afterwards): a deletion committed, then the command.
owner "BEGIN; $unguard DELETE FROM cust.pii_reads WHERE request_id = 'pii-read-2'; COMMIT" >/dev/null
verify_out=$(cd -- "$work" && env -i PATH="$PATH" ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"} \
	${UBSAN_OPTIONS:+UBSAN_OPTIONS="$UBSAN_OPTIONS"} TIANXING_DATABASE_URL="$owner_url" \
	"$TX_TEST_BIN" audit-verify 2>&1) && verify_rc=0 || verify_rc=$?
check "tianxingd audit-verify exits 1 on the deleted PII read" "1" "$verify_rc"
check "... and names the digest" "1" "$(grep -c "\"first_broken_id\" : $digest, \"reason\" : \"$pii_reason\"" <<<"$verify_out" || true)"

echo "1..$n"
if ((failed)); then
	printf '# tests/sql/tamper.sh: %d of %d checks failed\n' "$failed" "$n"
	exit 1
fi
printf '# tests/sql/tamper.sh: all %d checks passed\n' "$n"
