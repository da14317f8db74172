#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and runs `awasm serve --demo` on 127.0.0.1:7600
# with SQLite under ~/.local/share/awasm, the offline demo site and the demo plugin installed.
# Extra arguments go to `awasm serve` (for example --port 0 or --data-dir /tmp/awasm).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/bootstrap.sh"
exec "$ROOT/awasm" serve --demo "$@"
