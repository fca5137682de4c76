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
# connection are held, nothing else.
#
# read_mixed_search: the same readers while one more client runs a slow search in a loop, real
# work this time: GET /v1/customers?q=科技&sort=name as sup.a (an industry word in about 9 % of
# the customers, of which sup.a sees two thirds; sorted by name, so the whole match is read and
# sorted for each page, about 60 000 rows at a million customers), recorded as the scenario
# slow_search (its own rate and latency, one connection). That client spends the CPU, the
# database connection and the request worker it holds, on the same 2 cores as everything else.
# report.mjs gives both p99 ratios over read_alone (target: at most 2).

MIXED_SLOW_Q="科技" # the slow search's term (see above)

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
	if (($(mixed_slow_waiting) >= 1)); then
		run_wrk full read_mixed "$readers" read.lua "/" TX_BENCH_TOKEN="$TOKEN_STAFF" TX_BENCH_IDS="$ids"
	else
		scenario_failed full read_mixed "the slow request never waited on the lock"
	fi

	kill "$slow_pid" 2>/dev/null || true
	wait "$slow_pid" 2>/dev/null || true
	psql_value "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'bench_lock'" >/dev/null
	wait "$lock_pid" 2>/dev/null || true

	# The slow search beside the readers: one wrk connection, started first and running through
	# the readers' warm-up and measured run (run_wrk: 1 s + SECS), recorded like any scenario.
	local slow_file="wrk-$SET-$ROUND-full-slow_search.txt" slow_path
	slow_path="/v1/customers?limit=50&sort=name&q=$(tx_url_encode "$MIXED_SLOW_Q")"
	env TX_BENCH_LUA_DIR="$BENCH" TX_BENCH_TOKEN="$token_sup" wrk -t1 -c1 -d"$((SECS + 3))s" --timeout 30s \
		--latency -s "$BENCH/get.lua" "http://127.0.0.1:$SVC_PORT$slow_path" >"$RAW/$slow_file" 2>&1 &
	slow_pid=$!
	sleep 1
	run_wrk full read_mixed_search "$readers" read.lua "/" TX_BENCH_TOKEN="$TOKEN_STAFF" TX_BENCH_IDS="$ids"
	if ! wait "$slow_pid"; then
		scenario_failed full slow_search "wrk of the slow search failed: $(tail -n 5 -- "$RAW/$slow_file" | tr '\n' ' ')"
		return 0
	fi
	manifest "{\"kind\":\"wrk\",\"phase\":\"full\",\"scenario\":\"slow_search\",\"connections\":1,\"file\":\"$slow_file\",\"rss_kib\":$(rss_kib VmRSS),\"customers\":$LOADED}"
	tx_note "full/slow_search (beside read_mixed_search): $(grep -E '^Requests/sec' "$RAW/$slow_file" || echo '?')"
}
