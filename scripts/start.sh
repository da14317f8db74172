#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and runs `awasm serve --demo` on 127.0.0.1:7600
# with SQLite under ~/.local/share/awasm, the offline demo site and the demo plugin installed.
# Extra arguments go to `awasm serve` (for example --port 0 or --data-dir /tmp/awasm).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Say what is happening: a first run installs, builds and then builds the demo plugin (about a minute).
echo "start: installing what is missing and building aWASM (first run: about a minute)..." >&2
bash "$ROOT/scripts/bootstrap.sh"
echo "start: starting awasm serve --demo..." >&2
exec "$ROOT/awasm" serve --demo "$@"
