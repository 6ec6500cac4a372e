#!/usr/bin/env bash
# One-shot initialisation of the multi-machine stack, run before any scheduler or worker starts: by the
# compose file's airflow-init service, and by the native distributed test. Safe to run again.
#   1. migrate the Airflow metadata database
#   2. create the pools the DAGs use (include/pools.json)
#   3. create the ledger's tables, once, so that workers starting together do not race to create them
#   4. check every school's mapping files
# Expects `airflow` and `python` of the project's environment on PATH, and the same AIRFLOW__* and
# AIRFLOW_CONN_* variables as the other services.
set -euo pipefail
project=${SENTRAL_PROJECT_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

step() { printf '%s: %s\n' "$(date -u +%H:%M:%S)" "$1"; }

step "migrating the Airflow metadata database"
airflow db migrate

step "importing pools from include/pools.json"
airflow pools import "$project/include/pools.json"

step "creating the ledger's tables"
python "$project/scripts/stack/prepare_ledger.py"

step "checking the mapping files"
python "$project/scripts/stack/check_mappings.py" "$project/include/mappings"

step "initialised"
