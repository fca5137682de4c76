#!/usr/bin/env bash
# Run by the postgres image once, when its data volume is new: the roles and the database of
# sql/bootstrap.sql, with the passwords from docker/.env. Migrations are the migrate service's.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
	-v db=tianxing \
	-v owner_password="$TIANXING_OWNER_PASSWORD" \
	-v app_password="$TIANXING_APP_PASSWORD" \
	-f /tianxing/bootstrap.sql
