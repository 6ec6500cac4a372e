#!/bin/sh
# Runs once, when the compose stack's PostgreSQL volume is first created (docker-entrypoint-initdb.d):
# the sync ledger gets a database of its own beside Airflow's metadata database, owned by the same user,
# so that resetting one never touches the other.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -c "CREATE DATABASE \"${SENTRAL_LEDGER_DB:-sentral_ledger}\" OWNER \"$POSTGRES_USER\""
