#!/usr/bin/env bash
# `npm test`: install what the tests need, type-check (strict), run every test. The last line
# counts the tests skipped for a missing prerequisite, by reason; under CI=true or
# AWS_CNI_TESTS_STRICT=1 such tests fail instead (tests/support/prerequisites.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup-host.sh
echo "== type-check (tsc --noEmit, strict)"
node_modules/.bin/tsc --noEmit -p tsconfig.json
echo "== bun test"
exec node_modules/.bin/bun tests/support/run-bun-test.ts "$@"
