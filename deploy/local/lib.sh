# shellcheck shell=bash
# Shared helpers for deploy/local/run, tests/run and tests/deploy/check.
#
# Sourced, never executed: the callers own `set -euo pipefail` and their traps.
# Everything here is written so that it also works under `set -e` (explicit
# `if`/`||` around commands whose failure is an answer, not an error).
#
# PostgreSQL refuses to run as root. When the caller is root, each cluster
# directory belongs to the `postgres` OS user and initdb/pg_ctl run through
# `runuser -u postgres --`; otherwise they run as the caller. psql is a client
# and runs as the caller in both cases. Local connections use `peer` with a map
# that lets only the caller (and, when root, the postgres user) be the
# cluster's roles, through a socket directory only the cluster's owner can
# enter (see tx_pg_secure).

# Repository root, from this file's location, so callers may run from anywhere.
TX_ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)"
TX_PG_BIN=/usr/lib/postgresql/15/bin
# Set to 1 by tx_pg_start when it started the cluster (0 when it was running):
# callers use it to leave a cluster as they found it.
# shellcheck disable=SC2034 # read by the callers
TX_PG_STARTED=0

tx_note() { printf '%s: %s\n' "${TX_PROG:-tianxing}" "$*" >&2; }
tx_die() {
	tx_note "error: $*"
	exit 1
}
tx_is_root() { [[ $(id -u) -eq 0 ]]; }

# ---------------------------------------------------------------------------
# Packages

# The Debian packages needed to build and test. openssl and iproute2 (ss) are
# used by these scripts themselves, procps (ps) and gdb (the service's thread stacks) by
# tests/hang_report.sh and the tests' harness, shellcheck by tests/deploy/check, clang (libFuzzer) by
# tests/fuzz/run, pg_prove (libtap-parser-sourcehandler-pgtap-perl: only a "recommends" of
# postgresql-15-pgtap, so --no-install-recommends leaves it out) by tests/sql/run, wrk by
# tests/bench/run, pgbackrest by deploy/local/backup-lib.sh (backup, restore and the restore drill),
# libcurl4-gnutls-dev by the webhook deliverer (src/modules/events/deliver.c): the GnuTLS flavour,
# because libulfius-dev depends on it and Debian 12 installs one libcurl -dev flavour at a time
# (asking for libcurl4-openssl-dev removes libulfius-dev).
# chromium (headless, driven by playwright-core) by the browser tier (tests/browser), with
# fonts-wqy-microhei so that its screenshots show the Chinese text of the pages and charts.
tx_ensure_packages() {
	local -a wanted=(build-essential cmake pkg-config libulfius-dev libjansson-dev
		libjwt-dev libpq-dev libssl-dev libmicrohttpd-dev libcmocka-dev libicu-dev libcurl4-gnutls-dev
		postgresql-15 postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
		postgresql-client-15 yamllint curl libxml2-utils
		openssl iproute2 procps gdb shellcheck clang libclang-rt-14-dev wrk pgbackrest chromium
		fonts-wqy-microhei)
	# Node 20/npm 11 usually come from elsewhere (e.g. nodesource, whose nodejs
	# bundles npm): Debian's npm would conflict with or downgrade them.
	if ! command -v node >/dev/null 2>&1; then
		wanted+=(nodejs npm)
	elif ! command -v npm >/dev/null 2>&1; then
		wanted+=(npm)
	fi
	if ! command -v dpkg-query >/dev/null 2>&1; then
		tx_note "not a Debian system: not checking packages (${wanted[*]})"
		return 0
	fi
	local -a missing=()
	local p
	for p in "${wanted[@]}"; do
		if [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) != installed ]]; then
			missing+=("$p")
		fi
	done
	((${#missing[@]} == 0)) && return 0
	if ! tx_is_root; then
		tx_note "missing packages; install them with:"
		printf '  sudo apt-get update && sudo apt-get install -y --no-install-recommends %s\n' "${missing[*]}" >&2
		return 1
	fi
	tx_note "installing ${missing[*]}"
	# Upgrading -dev packages may upgrade the postgresql-15 server in place;
	# callers start their clusters after this, so that is harmless.
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# The test tooling from npm (tests/package.json): tests/run and tests/bench/run both need it.
# npm ci wipes node_modules and reinstalls, which costs time on every local run:
# skip it while package.json and the lock are unchanged since the last install.
# Runs from the project root ($TX_ROOT).
tx_ensure_node_modules() {
	if [[ ! -f tests/package.json ]]; then
		tx_note "tests/package.json does not exist yet: skipping npm ci"
		return 0
	fi
	local stamp=tests/node_modules/.tx-installed want
	want=$({
		cat tests/package.json
		cat tests/package-lock.json 2>/dev/null || true
	} | sha256sum)
	if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then return 0; fi
	if [[ -f tests/package-lock.json ]]; then
		npm ci --prefix tests --no-audit --no-fund
	else
		# npm ci needs the lock; install without writing one into the tree.
		tx_note "tests/package-lock.json missing: npm install without a lock"
		npm install --prefix tests --no-audit --no-fund --no-save --no-package-lock
	fi
	mkdir -p tests/node_modules
	printf '%s\n' "$want" >"$stamp"
}

# ---------------------------------------------------------------------------
# Build

# tx_build TYPE DIR [extra cmake args...]; DIR relative to the repository root.
tx_build() {
	local type=$1 dir=$2
	shift 2
	[[ $dir == /* ]] || dir="$TX_ROOT/$dir"
	cmake -S "$TX_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE="$type" "$@"
	cmake --build "$dir" -j"$(nproc)"
}

# ---------------------------------------------------------------------------
# PostgreSQL clusters
#
# A cluster lives in a base directory BASE:
#   BASE/data            the data directory
#   BASE/run             the unix socket directory
#   BASE/postgresql.log  the server log (pg_ctl -l)
#   BASE/port            the TCP port chosen at init (the socket name uses it too)
#   BASE/initdb.log      initdb's output, shown when initdb fails
# BASE may be a symlink to a directory under /var/tmp (see tx_pg_prepare_base).

tx_pg_superuser() {
	if tx_is_root; then echo postgres; else id -un; fi
}

# Run a server-side PostgreSQL program as the user that owns the clusters.
# From / because `postgres` may not be allowed into the caller's directory, and
# initdb/pg_ctl fail when they cannot resolve the current directory.
tx_pg_as_owner() {
	if tx_is_root; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

# Resolved (symlink-free) path of an existing cluster base.
tx_pg_real() { readlink -f -- "$1" || printf "%s\n" "$1"; }
tx_pg_port() { cat -- "$(tx_pg_real "$1")/port"; }
tx_pg_sockdir() { echo "$(tx_pg_real "$1")/run"; }
tx_pg_log() { echo "$(tx_pg_real "$1")/postgresql.log"; }
tx_pg_exists() { [[ -f "$(tx_pg_real "$1")/data/PG_VERSION" ]]; }

# True when nothing listens on TCP port $1 (any address).
tx_port_free() {
	[[ -z $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
}

# First free TCP port from $1 upward (at most 200 tries).
tx_pick_free_port() {
	local p=$1
	while ((p < $1 + 200)); do
		if tx_port_free "$p"; then
			echo "$p"
			return 0
		fi
		p=$((p + 1))
	done
	tx_note "no free TCP port in $1..$((p - 1))"
	return 1
}

# tx_pg_prepare_base BASE PORT: create BASE (if needed) where the server can
# use it, print its resolved path. Two things can stop the server from using
# BASE itself: when root, the `postgres` user may be unable to traverse to it
# (a clone under /root, mode 700); and a unix socket path is limited to 107
# bytes. In both cases the cluster goes to /var/tmp/tianxing-pg-<hash of BASE>
# and BASE becomes a symlink to it, so callers keep using BASE.
tx_pg_prepare_base() {
	local base=$1 port=$2 parent real
	if [[ -L $base || -d $base ]]; then
		tx_pg_real "$base"
		return 0
	fi
	parent=$(dirname -- "$base")
	mkdir -p -- "$parent"
	parent=$(cd -- "$parent" && pwd -P)
	base="$parent/$(basename -- "$base")"
	local why=""
	if tx_is_root && ! (cd / && runuser -u postgres -- test -x "$parent"); then
		why="the postgres user cannot enter $parent"
	elif ((${#base} + ${#port} + 16 > 107)); then
		why="the socket path under $base would be too long"
	fi
	if [[ -z $why ]]; then
		mkdir -p -- "$base"
		real=$base
	else
		real="/var/tmp/tianxing-pg-$(printf '%s' "$base" | sha256sum | cut -c1-12)"
		if [[ -e $real ]]; then
			# Left over from a BASE that was deleted (e.g. `rm -rf .local` to
			# start afresh): its cluster is unreachable by name, so wipe it.
			tx_note "removing stale $real"
			if [[ -f $real/data/PG_VERSION ]]; then
				tx_pg_as_owner "$TX_PG_BIN/pg_ctl" -D "$real/data" -m immediate -w stop >/dev/null 2>&1 || true
			fi
			rm -rf -- "$real"
		fi
		mkdir -m 0700 -- "$real"
		ln -s -- "$real" "$base"
		tx_note "note: $why; the cluster lives in $real (symlinked from $base)"
	fi
	if tx_is_root; then chown postgres:postgres -- "$real"; fi
	echo "$real"
}

# tx_pg_remove BASE: delete a stopped cluster's files, also where tx_pg_prepare_base put them
# behind a symlink (removing BASE alone would leave them in /var/tmp).
tx_pg_remove() {
	if [[ -L $1 ]]; then rm -rf -- "$(readlink -f -- "$1")"; fi
	rm -rf -- "$1"
}

# tx_pg_init BASE PORT [SETTING...]: create a cluster unless BASE already has
# one. Each SETTING is a postgresql.conf line (e.g. "fsync = off").
tx_pg_init() {
	local base=$1 port=$2
	shift 2
	local real su
	real=$(tx_pg_prepare_base "$base" "$port") || return 1
	if [[ -f $real/data/PG_VERSION ]]; then return 0; fi
	su=$(tx_pg_superuser)
	tx_pg_as_owner mkdir -p -- "$real/data" "$real/run"
	tx_pg_as_owner chmod 0700 -- "$real/data"
	if ! tx_pg_as_owner "$TX_PG_BIN/initdb" -D "$real/data" -E UTF8 --locale=C.UTF-8 \
		-U "$su" --auth-local=peer --auth-host=scram-sha-256 >"$real/initdb.log" 2>&1; then
		cat -- "$real/initdb.log" >&2
		tx_note "initdb failed in $real/data"
		return 1
	fi
	# Appended, so these win over initdb's defaults. TCP only on loopback: the
	# service and tests use the socket; 127.0.0.1 is for tools that need TCP.
	{
		printf '\n# Added by deploy/local/lib.sh (tx_pg_init)\n'
		printf "listen_addresses = '127.0.0.1'\n"
		printf 'port = %s\n' "$port"
		printf "unix_socket_directories = '%s'\n" "$real/run"
		printf 'unix_socket_permissions = 0700\n'
		local s
		for s in "$@"; do printf '%s\n' "$s"; done
	} >>"$real/data/postgresql.conf"
	printf '%s\n' "$port" >"$real/port"
}

# tx_pg_secure BASE: who may connect on the socket. Only the OS users that run
# these scripts (the caller; when root, root and postgres) may log in, and only
# as the cluster superuser or the service's two roles (peer + pg_ident map);
# other local users cannot even enter the socket directory. TCP (loopback)
# needs a password. Re-applied at every start, so clusters made with the older
# `trust` setting are closed too.
tx_pg_secure() {
	local real su
	real=$(tx_pg_real "$1")
	su=$(tx_pg_superuser)
	local -a os_users=("$(id -un)")
	if tx_is_root; then os_users+=(postgres); fi
	local ident="" u role
	for u in "${os_users[@]}"; do
		for role in "$su" tianxing_owner tianxing_app; do
			ident+="tianxing $u $role"$'\n'
		done
	done
	tx_pg_as_owner tee -- "$real/data/pg_ident.conf" >/dev/null <<<"# Written by deploy/local/lib.sh (tx_pg_secure)
# MAPNAME SYSTEM-USERNAME PG-USERNAME
$ident"
	tx_pg_as_owner tee -- "$real/data/pg_hba.conf" >/dev/null <<'EOF'
# Written by deploy/local/lib.sh (tx_pg_secure): never `trust`.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 peer map=tianxing
host    all       all   127.0.0.1/32  scram-sha-256
host    all       all   ::1/128       scram-sha-256
EOF
	tx_pg_as_owner chmod 0700 -- "$real/run"
}

# tx_pg_status BASE: pg_ctl's code: 0 running, 3 stopped, 4 no data directory.
tx_pg_status() {
	local real
	real=$(tx_pg_real "$1")
	[[ -f $real/data/PG_VERSION ]] || return 4
	local rc=0
	tx_pg_as_owner "$TX_PG_BIN/pg_ctl" -D "$real/data" status >/dev/null 2>&1 || rc=$?
	return "$rc"
}

# tx_pg_start BASE: start unless running; sets TX_PG_STARTED.
tx_pg_start() {
	local real port
	real=$(tx_pg_real "$1")
	TX_PG_STARTED=0
	local rc=0
	tx_pg_status "$1" || rc=$?
	case $rc in
	0) return 0 ;;
	4)
		tx_note "no cluster in $real"
		return 1
		;;
	esac
	port=$(tx_pg_port "$1")
	tx_pg_secure "$1"
	if ! tx_port_free "$port"; then
		tx_note "TCP port $port is taken by another program (cluster $real)"
		return 1
	fi
	if ! tx_pg_as_owner "$TX_PG_BIN/pg_ctl" -D "$real/data" -l "$real/postgresql.log" \
		-w -t 60 start >/dev/null; then
		tail -n 30 -- "$real/postgresql.log" >&2 || true
		tx_note "PostgreSQL did not start (log: $real/postgresql.log)"
		return 1
	fi
	# shellcheck disable=SC2034 # read by the callers
	TX_PG_STARTED=1
}

# tx_pg_stop BASE: stop if running ("fast": roll back open transactions, no
# waiting for clients to leave).
tx_pg_stop() {
	local real
	real=$(tx_pg_real "$1")
	if ! tx_pg_status "$1"; then return 0; fi
	tx_pg_as_owner "$TX_PG_BIN/pg_ctl" -D "$real/data" -m fast -w -t 60 stop >/dev/null
}

# tx_pg_psql BASE [psql args...]: psql as the cluster superuser on the socket.
tx_pg_psql() {
	local base=$1
	shift
	psql -h "$(tx_pg_sockdir "$base")" -p "$(tx_pg_port "$base")" -U "$(tx_pg_superuser)" "$@"
}

# tx_bootstrap_db BASE DB [OWNER_PASSWORD [APP_PASSWORD]]: run sql/bootstrap.sql
# (roles tianxing_owner/tianxing_app, database DB). Empty passwords mean none.
tx_bootstrap_db() {
	local base=$1 db=$2 owner_pw=${3:-} app_pw=${4:-}
	local sql="$TX_ROOT/sql/bootstrap.sql"
	if [[ ! -f $sql ]]; then
		tx_note "$sql does not exist yet: cannot create the database"
		return 1
	fi
	# stdout dropped: query results there may echo the passwords; errors go
	# to stderr.
	tx_pg_psql "$base" -X -q -d postgres -v ON_ERROR_STOP=1 -v db="$db" \
		-v owner_password="$owner_pw" -v app_password="$app_pw" -f "$sql" >/dev/null
}

# tx_url_encode STRING: percent-encode for a postgresql:// URL query value.
tx_url_encode() {
	# Bytewise, so that non-ASCII paths encode as UTF-8 octets.
	local LC_ALL=C
	local s=$1 out="" c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[A-Za-z0-9/._~-]) out+=$c ;;
		*) out+=$(printf '%%%02X' "'$c") ;;
		esac
	done
	printf '%s' "$out"
}
