# shellcheck shell=bash
# Backups of a local cluster with pgBackRest (issue 14, C2.2): full and incremental backups, WAL
# archiving, point-in-time recovery, an encrypted repository.
#
# Sourced after deploy/local/lib.sh, never executed. Used by deploy/local/run (backup, restore)
# and by the restore drill (tests/faults/restore_drill.test.mjs, through deploy/local/backup.sh).
#
# Layout, for a cluster in BASE (see lib.sh) and a repository directory REPO:
#   REPO                       pgBackRest's repository: backups and archived WAL, encrypted
#                              (aes-256-cbc) with the repository key
#   KEY (a file given)         the repository key: the only copy outside the cluster's own
#                              configuration; never inside REPO, so a stolen or copied repository
#                              cannot be read, and a lost key makes every backup useless
#   BASE/pgbackrest/pgbackrest.conf
#                              pgBackRest's configuration (repository path, key, cluster); it is
#                              read by archive_command too, so it belongs to the cluster's owner
#                              and no one else may read it
#   BASE/pgbackrest/log, lock  pgBackRest's logs and locks
# The stanza (pgBackRest's name for one cluster) is "tianxing".

TX_BR_STANZA=tianxing
# A marker line in postgresql.conf: the archive settings are appended once.
TX_BR_MARK='# Added by deploy/local/backup-lib.sh (WAL archiving for pgBackRest)'

tx_br_dir() { echo "$(tx_pg_real "$1")/pgbackrest"; }
tx_br_conf() { echo "$(tx_br_dir "$1")/pgbackrest.conf"; }

# pgBackRest as the cluster's owner (it reads the data directory and talks to the server on the
# socket, where peer authentication maps that OS user to the superuser).
tx_br() {
	local base=$1
	shift
	tx_pg_as_owner pgbackrest --config="$(tx_br_conf "$base")" --stanza="$TX_BR_STANZA" "$@"
}

# tx_br_key KEY: make the repository key unless it exists (48 random bytes, base64), print it.
tx_br_key() {
	local key=$1
	if [[ ! -s $key ]]; then
		mkdir -p -- "$(dirname -- "$key")"
		(
			umask 077
			openssl rand -base64 48 | tr -d '\n' >"$key"
			echo >>"$key"
		)
		tx_note "generated the backup repository key $key (keep a copy apart from the backups)"
	fi
	local k
	k=$(tr -d '\n' <"$key")
	# pgBackRest's configuration is line based: a key with a newline or '=' at the start cannot be
	# written there; base64 of random bytes never has either.
	[[ $k =~ ^[A-Za-z0-9+/=]{32,}$ ]] || {
		tx_note "the backup key in $key is not at least 32 base64 characters"
		return 1
	}
	printf '%s' "$k"
}

# tx_br_prepare_repo REPO: create REPO where the cluster's owner can write it, print its resolved
# path. As for a cluster (tx_pg_prepare_base), when root and the postgres user cannot reach REPO's
# parent (archive_command runs as that user), the repository goes to
# /var/tmp/tianxing-backups-<hash of REPO> and REPO becomes a symlink to it.
tx_br_prepare_repo() {
	local repo=$1 parent real
	if [[ -L $repo || -d $repo ]]; then
		readlink -f -- "$repo"
		return 0
	fi
	parent=$(dirname -- "$repo")
	mkdir -p -- "$parent"
	parent=$(cd -- "$parent" && pwd -P)
	repo="$parent/$(basename -- "$repo")"
	if tx_is_root && ! (cd / && runuser -u postgres -- test -x "$parent"); then
		real="/var/tmp/tianxing-backups-$(printf '%s' "$repo" | sha256sum | cut -c1-12)"
		mkdir -p -- "$real"
		chmod 0700 -- "$real"
		ln -s -- "$real" "$repo"
		tx_note "note: the postgres user cannot enter $parent; the repository lives in $real (symlinked from $repo)"
		echo "$real"
		return 0
	fi
	mkdir -p -- "$repo"
	echo "$repo"
}

# tx_br_setup BASE REPO KEY: configuration, WAL archiving (restarts a running cluster once, when
# archiving is first switched on: archive_mode needs a restart) and the stanza. Idempotent.
tx_br_setup() {
	local base=$1 repo=$2 key=$3 real dir pass su
	real=$(tx_pg_real "$base")
	dir=$(tx_br_dir "$base")
	pass=$(tx_br_key "$key") || return 1
	su=$(tx_pg_superuser)
	repo=$(tx_br_prepare_repo "$repo") || return 1
	if [[ $repo == "$real"/data || $repo == "$real"/data/* ]]; then
		tx_note "the repository must not be inside the data directory"
		return 1
	fi
	tx_pg_as_owner mkdir -p -- "$dir/log" "$dir/lock"
	if tx_is_root; then chown -R postgres:postgres -- "$repo" "$dir"; fi
	tx_pg_as_owner chmod 0700 -- "$repo" "$dir"
	# Rewritten each time (the port or the key file may have changed); written by the owner so
	# that it is never readable by others, even for a moment.
	# shellcheck disable=SC2016 # $1 is the inner shell's
	tx_pg_as_owner sh -c 'umask 077 && cat >"$1"' sh "$(tx_br_conf "$base")" <<EOF
# Written by deploy/local/backup-lib.sh; holds the repository key: owner-only.
[global]
repo1-path=$repo
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=$pass
# Two full backups (and what depends on them: incrementals, WAL) are kept.
repo1-retention-full=2
# lz4: the fastest; the repository is encrypted either way.
compress-type=lz4
start-fast=y
archive-timeout=60
log-path=$dir/log
lock-path=$dir/lock
log-level-console=warn
log-level-file=info

[$TX_BR_STANZA]
pg1-path=$real/data
pg1-socket-path=$real/run
pg1-port=$(tx_pg_port "$base")
pg1-user=$su
EOF
	if ! grep -qF -- "$TX_BR_MARK" "$real/data/postgresql.conf"; then
		tx_pg_as_owner tee -a -- "$real/data/postgresql.conf" >/dev/null <<EOF

$TX_BR_MARK
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --config=$(tx_br_conf "$base") --stanza=$TX_BR_STANZA archive-push %p'
# A quiet database still closes a WAL segment every minute, so a point in time is at most that
# far from being recoverable.
archive_timeout = 60
EOF
		if tx_pg_status "$base"; then
			tx_note "restarting the cluster to switch WAL archiving on"
			tx_pg_stop "$base"
			tx_pg_start "$base"
		fi
	fi
	tx_pg_start "$base"
	# Creates the stanza, or checks that the repository's matches this cluster.
	tx_br "$base" stanza-create >/dev/null
}

# tx_br_record BASE DB: copies the repository's list of backups into DB's tx_meta.backups (what
# /readyz and /metrics report), so the table follows the repository even after a restore to a
# time before some of them. Backups already there are left alone.
tx_br_record() {
	local base=$1 db=$2 info
	info=$(tx_br "$base" info --output=json)
	tx_pg_psql "$base" -X -q -d "$db" -v ON_ERROR_STOP=1 -v info="$info" >/dev/null <<'SQL'
INSERT INTO tx_meta.backups (label, kind, started_at, stopped_at, wal_start, wal_stop)
SELECT b->>'label', b->>'type', to_timestamp((b->'timestamp'->>'start')::bigint),
       to_timestamp((b->'timestamp'->>'stop')::bigint), b->'archive'->>'start', b->'archive'->>'stop'
  FROM jsonb_array_elements(:'info'::jsonb) s, jsonb_array_elements(s->'backup') b
ON CONFLICT (label) DO NOTHING;
SQL
}

# tx_br_backup BASE REPO KEY DB [full|incr|diff]: a backup (incr by default; pgBackRest makes a
# full one when there is none to build on), then records it in DB.
tx_br_backup() {
	local base=$1 repo=$2 key=$3 db=$4 type=${5:-incr}
	case $type in
	full | incr | diff) ;;
	*)
		tx_note "backup type must be full, incr or diff (got \"$type\")"
		return 2
		;;
	esac
	tx_br_setup "$base" "$repo" "$key"
	if ! tx_br "$base" backup --type="$type"; then
		tx_note "pgBackRest made no backup (log: $(tx_br_dir "$base")/log)"
		return 1
	fi
	tx_br_record "$base" "$db"
	tx_br "$base" info --set="$(tx_br_last_label "$base")" | sed -n '/backup:/,$p' >&2
}

tx_br_last_label() {
	local base=$1
	tx_br "$base" info --output=json | sed -n 's/.*"label":"\([^"]*\)".*/\1/p' | tail -n 1
}

# tx_br_restore BASE REPO KEY [TIME]: replaces the cluster's data with the newest backup and
# replays the archived WAL, up to TIME (a PostgreSQL timestamp with time zone) when given, else to
# the end of the archive. The cluster is running afterwards, promoted (writable, on a new
# timeline). Every change after TIME is gone from the cluster (not from the repository).
tx_br_restore() {
	local base=$1 repo=$2 key=$3 time=${4:-} real
	real=$(tx_pg_real "$base")
	tx_br_setup "$base" "$repo" "$key"
	if [[ -n $time ]]; then
		# Checked and made absolute (UTC) by the server while it runs: a bad or zone-less time would
		# otherwise only show as a server that does not start after the files were replaced.
		time=$(tx_pg_psql "$base" -X -A -t -q -d postgres -v ON_ERROR_STOP=1 -v t="$time" <<'SQL'
SET TIME ZONE 'UTC';
SELECT to_char(:'t'::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00';
SQL
		) || {
			tx_note "not a time PostgreSQL understands: $4"
			return 2
		}
		tx_note "restoring to $time"
	fi
	# The WAL up to now must be in the archive: the segment being written holds the last commits
	# (and, for a point in time, the first commit after it, where the replay stops). `check`
	# switches to a new segment and waits until the old one is archived.
	tx_br "$base" check
	tx_pg_stop "$base"
	local -a target=()
	if [[ -n $time ]]; then
		target=(--type=time "--target=$time" --target-action=promote)
	fi
	# --delta: files that match the backup are kept (checksums), the rest rewritten or removed.
	if ! tx_br "$base" restore --delta "${target[@]}"; then
		tx_note "pgBackRest restore failed (log: $(tx_br_dir "$base")/log); the cluster is stopped"
		return 1
	fi
	tx_pg_start "$base"
	# pg_ctl returns once connections are allowed; the replay may go on (hot standby) until the
	# target, then promotes. Wait for that, with a deadline.
	local i state
	for ((i = 0; i < 600; i++)); do
		state=$(tx_pg_psql "$base" -X -A -t -q -d postgres -c 'SELECT pg_is_in_recovery()' 2>/dev/null || true)
		[[ $state == f ]] && return 0
		if ! tx_pg_status "$base"; then
			tail -n 30 -- "$real/postgresql.log" >&2 || true
			tx_note "the cluster stopped during the replay (log: $real/postgresql.log)"
			return 1
		fi
		sleep 0.2
	done
	tx_note "the cluster is still replaying WAL after 120 s (log: $real/postgresql.log)"
	return 1
}
