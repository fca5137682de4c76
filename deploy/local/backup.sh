#!/usr/bin/env bash
# Backup and restore of one local cluster with pgBackRest (deploy/local/backup-lib.sh): what
# `deploy/local/run backup|restore` do for .local/pg, for any cluster made by deploy/local/lib.sh.
# The restore drill (tests/faults/restore_drill.test.mjs) runs it on a cluster of its own.
#
# Usage: deploy/local/backup.sh --base BASE --repo REPO --key KEYFILE --db DB COMMAND
#   setup                   configuration, WAL archiving, stanza (idempotent)
#   backup [full|incr|diff] a backup (incr by default; full when there is none yet)
#   restore [--time T]      restore the newest backup (before T) and replay WAL to T or the end
#   record                  copy the repository's list of backups into DB's tx_meta.backups
#   info                    pgBackRest's view of the repository
set -euo pipefail

TX_PROG="deploy/local/backup.sh"
# shellcheck source=deploy/local/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=deploy/local/backup-lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/backup-lib.sh"

base="" repo="" key="" db=""
while (($# > 0)); do
	case $1 in
	--base) base=$2 ;;
	--repo) repo=$2 ;;
	--key) key=$2 ;;
	--db) db=$2 ;;
	*) break ;;
	esac
	shift 2
done
[[ -n $base && -n $repo && -n $key && -n $db ]] || {
	sed -n '6,12p' -- "${BASH_SOURCE[0]}" >&2
	exit 2
}
tx_pg_exists "$base" || tx_die "no cluster in $base"
command -v pgbackrest >/dev/null || tx_die "pgbackrest is not installed (deploy/local/lib.sh: tx_ensure_packages)"

cmd=${1:-}
shift || true
case $cmd in
setup) tx_br_setup "$base" "$repo" "$key" ;;
backup) tx_br_backup "$base" "$repo" "$key" "$db" "${1:-incr}" ;;
restore)
	time=""
	if [[ ${1:-} == --time ]]; then
		[[ -n ${2:-} ]] || tx_die "--time needs a timestamp, e.g. '2026-12-06 14:30:00+00'"
		time=$2
	elif [[ -n ${1:-} ]]; then
		tx_die "unknown restore argument: $1"
	fi
	tx_br_restore "$base" "$repo" "$key" "$time"
	tx_br_record "$base" "$db"
	;;
record) tx_br_record "$base" "$db" ;;
info)
	tx_br_setup "$base" "$repo" "$key"
	tx_br "$base" info
	;;
*)
	sed -n '6,12p' -- "${BASH_SOURCE[0]}" >&2
	exit 2
	;;
esac
