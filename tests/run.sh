#!/usr/bin/env bash
# `npm test`: install what the tests need, type-check (strict), run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup-host.sh
echo "== type-check (tsc --noEmit, strict)"
node_modules/.bin/tsc --noEmit -p tsconfig.json
echo "== bun test"
exec node_modules/.bin/bun test "$@"
