#!/usr/bin/env bash
# Installs the external clients the end-to-end tests drive, inside the repo (nothing global):
#   .cache/bin/grpcurl   grpcurl, built from its Go module (needs `go` on PATH)
#   .venv/bin/python     a Python venv with grpcio and grpcio-tools (needs python3 with venv)
# Idempotent: a tool whose pinned version is already installed is left alone, so a second run
# takes well under a second. Run from anywhere: `bash scripts/install-tools.sh`.
set -euo pipefail

GRPCURL_VERSION=v1.9.3
GRPCIO_VERSION=1.85.1

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/.cache/bin"
VENV="$ROOT/.venv"
mkdir -p "$BIN"

log() { printf 'install-tools: %s\n' "$*" >&2; }

# grpcurl ---------------------------------------------------------------------------------------
grpcurl_stamp="$BIN/.grpcurl-version"
if [[ -x "$BIN/grpcurl" && -f "$grpcurl_stamp" && "$(cat "$grpcurl_stamp")" == "$GRPCURL_VERSION" ]]; then
  log "grpcurl $GRPCURL_VERSION already in .cache/bin"
else
  command -v go >/dev/null || { log "go is required to build grpcurl"; exit 1; }
  log "building grpcurl $GRPCURL_VERSION with $(go version)"
  GOBIN="$BIN" GOFLAGS=-mod=mod go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION"
  "$BIN/grpcurl" -version >/dev/null 2>&1 || { log "grpcurl did not build"; exit 1; }
  printf '%s' "$GRPCURL_VERSION" >"$grpcurl_stamp"
fi

# Python venv with grpcio -------------------------------------------------------------------------
venv_stamp="$VENV/.awasm-tools"
want="grpcio==$GRPCIO_VERSION grpcio-tools==$GRPCIO_VERSION"
if [[ -x "$VENV/bin/python" && -f "$venv_stamp" && "$(cat "$venv_stamp")" == "$want" ]]; then
  log "python venv with $want already in .venv"
else
  PY=${PYTHON:-python3}
  command -v "$PY" >/dev/null || { log "$PY is required for the Python client tests"; exit 1; }
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating .venv with $("$PY" --version)"
    "$PY" -m venv "$VENV"
  fi
  log "installing $want"
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $want
  "$VENV/bin/python" -c 'import grpc, grpc_tools.protoc' || { log "grpcio did not install"; exit 1; }
  printf '%s' "$want" >"$venv_stamp"
fi
