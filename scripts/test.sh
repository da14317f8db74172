#!/usr/bin/env bash
# The whole test suite: installs what is missing (pnpm, dependencies, grpcurl, a Python venv with
# grpcio), builds, lints, and runs every test. Exit status 0 means everything passed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/bootstrap.sh
bash scripts/install-tools.sh
pnpm exec biome check .
# buf breaking: proto/ as it is now against proto/ before its newest commit, so the last committed
# change and any uncommitted one on top are both checked (comparing with that commit itself would
# check only uncommitted edits, which a clean CI clone never has).
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  if [ "$(git rev-parse --is-shallow-repository)" = true ]; then git fetch --quiet --unshallow; fi
  proto_commit=$(git log -1 --format=%H -- proto)
  if [ -n "$proto_commit" ] && git rev-parse --verify --quiet "${proto_commit}^" >/dev/null; then
    pnpm exec buf breaking --against ".git#ref=${proto_commit}^"
  fi
else
  echo "test.sh: not a git checkout, buf breaking skipped (it compares with proto/ in the git history)" >&2
fi
# Test files are not part of the package builds; type-check them too.
pnpm exec tsc -p tsconfig.tests.json
pnpm exec vitest run "$@"
