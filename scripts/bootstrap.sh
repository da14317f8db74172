#!/usr/bin/env bash
# Makes a checkout ready to run: pnpm (from the npm registry, if missing), the workspace's
# dependencies (from the committed lockfile) and the TypeScript build. Safe to run again.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PNPM_VERSION=10.34.9

command -v node >/dev/null || { echo "bootstrap: Node.js 20.19 or newer is required" >&2; exit 1; }
if ! command -v pnpm >/dev/null || [[ "$(pnpm --version)" != 10.* ]]; then
  echo "bootstrap: installing pnpm $PNPM_VERSION with npm" >&2
  npm install --global --silent "pnpm@$PNPM_VERSION"
fi
# pnpm runs only the build scripts pnpm-workspace.yaml allows (better-sqlite3's native module).
pnpm install --frozen-lockfile --reporter=append-only >&2
pnpm exec tsc -b
