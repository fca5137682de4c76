#!/usr/bin/env bash
# tests/hang_report.sh CTEST_PID OUT AFTER_S: started by tests/run beside ctest. Every test that
# has run for AFTER_S seconds gets one snapshot in OUT: what each of its processes waits for, the
# JavaScript stack and open handles of its node processes, and the busy sessions and lock waits of
# the test cluster. tests/run prints OUT only when ctest fails.
#
# Why: two api tests hung once each (README, after "tests/run accepts ctest arguments"), silent
# until ctest's timeout killed them, and could not be made to hang again by hand. ctest keeps
# nothing of a test it kills but the output the test wrote itself; this keeps what the next hang
# was waiting for.
#
# Needs: ps (procps), gdb, psql and the TX_TEST_PG* variables of tests/run, and node processes
# started with NODE_OPTIONS="--report-on-signal --report-signal=SIGUSR2 --report-directory=DIR"
# (the node reports are read from DIR, named by TX_HANG_REPORT_NODE_DIR).
set -uo pipefail

ctest_pid=${1:?ctest pid} out=${2:?output file} after_s=${3:?seconds}
node_dir=${TX_HANG_REPORT_NODE_DIR:-}

# The test cluster's sessions that are doing something or waiting, and the locks not granted.
pg_state() {
	[[ -n ${TX_TEST_PGHOST:-} && -n ${TX_TEST_PGPORT:-} ]] || return 0
	PGCONNECT_TIMEOUT=5 timeout 20 psql -X -q -h "$TX_TEST_PGHOST" -p "$TX_TEST_PGPORT" \
		-U "${TX_TEST_PGUSER:-postgres}" -d postgres -c "
SELECT pid, datname, usename, application_name AS app, state, wait_event_type AS wait_type,
       wait_event, round(extract(epoch FROM now() - xact_start)) AS xact_s,
       left(regexp_replace(query, '\s+', ' ', 'g'), 100) AS query
  FROM pg_stat_activity
 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
   AND (state <> 'idle' OR xact_start IS NOT NULL)
 ORDER BY xact_start" -c "
SELECT l.pid, l.locktype, l.mode, l.relation::regclass AS relation, l.objid,
       pg_blocking_pids(l.pid) AS blocked_by
  FROM pg_locks l WHERE NOT l.granted" 2>&1
}

# A node report (process.report's JSON), shortened to what says where it waits: the JavaScript
# stack and the libuv handles that keep its loop alive.
node_summary() {
	# shellcheck disable=SC2016 # JavaScript, not shell
	node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
console.log("javascript stack:", (r.javascriptStack?.stack || []).slice(0, 20).join("\n  ") || "(idle)");
for (const h of r.libuv || []) {
  if (!h.is_active || !["tcp", "udp", "timer", "process", "pipe", "fs_event"].includes(h.type)) continue;
  const what = Object.entries(h).filter(([k]) => !["address", "is_active", "is_referenced", "type"].includes(k))
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" ");
  console.log(`handle ${h.type}: ${what}`);
}' "$1" 2>&1
}

# A process's user and system CPU time so far, in clock ticks (empty once it is gone).
cpu_ticks() {
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null
}

snapshot() {
	local test_pid=$1 elapsed=$2 p list
	local -a tree
	printf '=== %s: test process %s running for %s s: %s\n' "$(date -u +%FT%TZ)" "$test_pid" \
		"$elapsed" "$(ps -o args= -p "$test_pid")"
	# The test's processes: itself and its descendants (ctest's session holds only its tests).
	mapfile -t tree < <(ps -s "$ctest_pid" -o pid=,ppid= | awk -v root="$test_pid" '
		{ parent[$1] = $2; pids[NR] = $1 }
		END { for (i in pids) { p = pids[i]; while (p != "" && p != root && p in parent) p = parent[p];
		      if (p == root) print pids[i] } }')
	((${#tree[@]})) || return 0
	list=$(
		IFS=,
		echo "${tree[*]}"
	)
	ps -o pid,ppid,etimes,stat,wchan:28,args --forest -p "$list"
	echo "--- threads: how many wait where in the kernel (- : running)"
	ps -L -o pid=,comm=,wchan:40= -p "$list" | sort | uniq -c | awk '{ printf "%6s %-16s %3d x %s\n", $2, $3, $1, $4 }'
	# Where each thread of a service under test is, not only which kernel call it sleeps in. gdb
	# stops the process while it reads the stacks (a second or two): only a service that is idle
	# (under 0.1 s of CPU in 2 s) is looked at, so that a long healthy test (a benchmark pair)
	# is not stalled into pool timeouts by its own snapshot.
	for p in "${tree[@]}"; do
		[[ $(ps -o comm= -p "$p") == tianxingd ]] || continue
		local cpu0 cpu1
		cpu0=$(cpu_ticks "$p")
		sleep 2
		cpu1=$(cpu_ticks "$p")
		if [[ -z $cpu0 || -z $cpu1 ]]; then
			continue
		elif ((cpu1 - cpu0 >= $(getconf CLK_TCK) / 10)); then
			echo "--- tianxingd $p: busy ($((cpu1 - cpu0)) ticks of CPU in 2 s): stacks not taken"
		else
			echo "--- tianxingd $p: idle; thread stacks"
			timeout 30 gdb -p "$p" -batch -nx -ex 'thread apply all bt 30' 2>&1 | grep -E '^(Thread|#)'
		fi
	done
	if [[ -n $node_dir ]]; then
		for p in "${tree[@]}"; do
			[[ $(ps -o comm= -p "$p") == node ]] || continue
			kill -USR2 "$p" 2>/dev/null || continue
			local f="" i
			for ((i = 0; i < 20; i++)); do
				f=$(find "$node_dir" -name "report.*.$p.*.json" -print -quit 2>/dev/null)
				[[ -n $f ]] && break
				sleep 0.25
			done
			echo "--- node $p"
			if [[ -n $f ]]; then
				node_summary "$f"
			else
				# A blocked main thread answers no signal: its native stack says on what it waits
				# (a Node.js crypto self-deadlock looked exactly like this, identity.mjs keyPair).
				echo "(no report within 5 s: its loop is blocked); the main thread's native stack:"
				timeout 30 gdb -p "$p" -batch -nx -ex 'thread 1' -ex 'bt 30' 2>&1 | grep -E '^#'
			fi
		done
	fi
	echo "--- the test cluster"
	pg_state
}

declare -A seen=()
while kill -0 "$ctest_pid" 2>/dev/null; do
	# ctest's direct children are the tests it runs.
	while read -r pid elapsed; do
		if [[ -z $pid || -n ${seen[$pid]:-} ]] || ((elapsed < after_s)); then continue; fi
		seen[$pid]=1
		snapshot "$pid" "$elapsed" >>"$out" 2>&1
	done < <(ps --ppid "$ctest_pid" -o pid=,etimes= 2>/dev/null)
	sleep 5
done
