#!/usr/bin/env bash
# Runs the whole suite. PostgreSQL- and Redis-backed tests use the servers named below; on a machine
# without them they skip with the reason, or fail when CI is set.
set -uo pipefail
cd "$(dirname "$0")/.."
export SENTRAL_TEST_POSTGRES_URL=${SENTRAL_TEST_POSTGRES_URL:-postgresql+psycopg2://postgres@127.0.0.1:5432/test}
export SENTRAL_TEST_REDIS_URL=${SENTRAL_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
.venv/bin/python -m pytest "$@"
status=$?
if [[ $status -eq 5 ]]; then
  echo "pytest collected no tests"
fi
exit $status
