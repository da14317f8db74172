#!/usr/bin/env bash
# The whole test suite: installs what is missing (pnpm, dependencies, grpcurl, a Python venv with
# grpcio), builds, lints, and runs every test. Exit status 0 means everything passed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/bootstrap.sh
bash scripts/install-tools.sh
pnpm exec biome check .
# Test files are not part of the package builds; type-check them too.
pnpm exec tsc -p tsconfig.tests.json
pnpm exec vitest run "$@"
