# shellcheck shell=bash
# mixed_scenario: the read scenario beside a request that waits in the database (issue 14's slow
# request; issue 15 target 4). Sourced by tests/bench/run, which defines run_wrk, psql_value,
# manifest and the tokens.
#
# read_alone: CONNS-1 connections reading. read_mixed: the same, while one more client sends
# GET /v1/risk-reports in a loop against a table a psql session holds ACCESS EXCLUSIVE: each of
# those requests waits inside PostgreSQL until the statement timeout (503 database_timeout, by
# design; that client is not a scenario). The lock costs no CPU, so what the comparison shows is
# how waiting in the database spreads to other connections: a request worker and one pooled
# connection are held, nothing else. report.mjs gives the p99 ratio (target: at most 2).

mixed_slow_waiting() {
	psql_value "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tianxingd'
		AND wait_event_type = 'Lock'"
}

mixed_scenario() {
	local readers=$((CONNS - 1)) ids="$TMP/ids/ids-staff.a1.txt"
	((readers >= 2)) || readers=2
	run_wrk full read_alone "$readers" read.lua "/" TX_BENCH_TOKEN="$TOKEN_STAFF" TX_BENCH_IDS="$ids"

	local token_sup
	token_sup=$(token sup.a supervisor)
	psql -X -q -d "$LOAD_URL" -c "SET application_name = 'bench_lock'" \
		-c "BEGIN" -c "LOCK TABLE risk.reports IN ACCESS EXCLUSIVE MODE" \
		-c "SELECT pg_sleep(3600)" >/dev/null 2>&1 &
	local lock_pid=$!
	local i
	for ((i = 0; i < 100; i++)); do
		[[ $(psql_value "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
			WHERE c.relname = 'reports' AND l.mode = 'AccessExclusiveLock' AND l.granted") == 1 ]] && break
		sleep 0.1
	done
	(
		while :; do
			curl -s -o /dev/null -H "Authorization: Bearer $token_sup" \
				"http://127.0.0.1:$SVC_PORT/v1/risk-reports" || true
		done
	) &
	local slow_pid=$!
	for ((i = 0; i < 100; i++)); do
		(($(mixed_slow_waiting) >= 1)) && break
		sleep 0.1
	done
	(($(mixed_slow_waiting) >= 1)) || tx_die "mixed: the slow request never waited on the lock"

	run_wrk full read_mixed "$readers" read.lua "/" TX_BENCH_TOKEN="$TOKEN_STAFF" TX_BENCH_IDS="$ids"

	kill "$slow_pid" 2>/dev/null || true
	wait "$slow_pid" 2>/dev/null || true
	psql_value "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'bench_lock'" >/dev/null
	wait "$lock_pid" 2>/dev/null || true
}
