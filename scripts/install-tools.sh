#!/usr/bin/env bash
# Installs the external clients the end-to-end tests drive, inside the repo (nothing global):
#   .cache/bin/grpcurl   grpcurl, built from its Go module (needs `go` on PATH)
#   .venv/bin/python     a Python venv with grpcio and grpcio-tools (needs python3 with venv)
#   .cache/bin/ferretdb  FerretDB (a MongoDB-wire server on SQLite), built from its Go module
#   .cache/bin/wit-bindgen  wit-bindgen's CLI, built from its crate (needs `cargo`), for C plugins
#   Debian packages (apt-get, as root or with sudo), only those missing: redis-server; clang-14,
#   lld-14, wasi-libc and libclang-rt-14-dev-wasm32 (C plugins: the benchmark's native guest)
# Idempotent: a tool whose pinned version is already installed is left alone, so a second run
# takes well under a second. Run from anywhere: `bash scripts/install-tools.sh`.
set -euo pipefail

GRPCURL_VERSION=v1.9.3
GRPCIO_VERSION=1.85.1
FERRETDB_VERSION=v1.24.2
WIT_BINDGEN_VERSION=0.63.0

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/.cache/bin"
VENV="$ROOT/.venv"
mkdir -p "$BIN"

log() { printf 'install-tools: %s\n' "$*" >&2; }
# true when .cache/bin/<tool> is there and its stamp says <version>
pinned() { [[ -x "$BIN/$1" && -f "$BIN/.$1-version" && "$(cat "$BIN/.$1-version")" == "$2" ]]; }

# grpcurl ---------------------------------------------------------------------------------------
if pinned grpcurl "$GRPCURL_VERSION"; then
  log "grpcurl $GRPCURL_VERSION already in .cache/bin"
else
  command -v go >/dev/null || { log "go is required to build grpcurl"; exit 1; }
  log "building grpcurl $GRPCURL_VERSION with $(go version)"
  GOBIN="$BIN" GOFLAGS=-mod=mod go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION"
  "$BIN/grpcurl" -version >/dev/null 2>&1 || { log "grpcurl did not build"; exit 1; }
  printf '%s' "$GRPCURL_VERSION" >"$BIN/.grpcurl-version"
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

# FerretDB ------------------------------------------------------------------------------------------
# `go install` of the module panics at start (its version.txt is generated at release and not in the
# module), so build it from the module's source with that file written.
if pinned ferretdb "$FERRETDB_VERSION"; then
  log "ferretdb $FERRETDB_VERSION already in .cache/bin"
else
  command -v go >/dev/null || { log "go is required to build ferretdb"; exit 1; }
  log "building ferretdb $FERRETDB_VERSION with $(go version)"
  module_dir=$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [[ -d "$module_dir" ]] || { log "could not download the FerretDB module"; exit 1; }
  src=$(mktemp -d)
  cp -r "$module_dir/." "$src"
  chmod -R u+w "$src"
  printf '%s\n' "$FERRETDB_VERSION" >"$src/build/version/version.txt"
  (cd "$src" && go build -o "$BIN/ferretdb" ./cmd/ferretdb)
  rm -rf "$src"
  "$BIN/ferretdb" --version >/dev/null 2>&1 || { log "ferretdb did not build"; exit 1; }
  printf '%s' "$FERRETDB_VERSION" >"$BIN/.ferretdb-version"
fi

# wit-bindgen ---------------------------------------------------------------------------------------
# Generates the C bindings of the source world for C plugins (plugin-sdk's buildCComponent).
if pinned wit-bindgen "$WIT_BINDGEN_VERSION"; then
  log "wit-bindgen $WIT_BINDGEN_VERSION already in .cache/bin"
else
  command -v cargo >/dev/null || { log "cargo is required to build wit-bindgen"; exit 1; }
  log "building wit-bindgen $WIT_BINDGEN_VERSION with $(cargo --version) (a few minutes, once)"
  cargo_root=$(mktemp -d)
  cargo install --quiet --locked --root "$cargo_root" wit-bindgen-cli --version "$WIT_BINDGEN_VERSION"
  mv "$cargo_root/bin/wit-bindgen" "$BIN/wit-bindgen"
  rm -rf "$cargo_root"
  "$BIN/wit-bindgen" --version >/dev/null 2>&1 || { log "wit-bindgen did not build"; exit 1; }
  printf '%s' "$WIT_BINDGEN_VERSION" >"$BIN/.wit-bindgen-version"
fi

# Debian packages ----------------------------------------------------------------------------------
# redis-server for the shared rate-limit store's tests (they start their own on a free port), and
# clang-14 with lld-14, wasi-libc and the wasm32 compiler runtime for C plugins. Only missing
# packages are installed; apt's output is shown only if the install fails.
packages=()
command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
for pkg in clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || packages+=("$pkg")
done
if ((${#packages[@]} > 0)); then
  log "installing Debian packages: ${packages[*]}"
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  apt_log=$(mktemp)
  if ! { "${sudo[@]}" apt-get update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"; } >"$apt_log" 2>&1; then
    cat "$apt_log" >&2
    log "could not install ${packages[*]}"
    exit 1
  fi
  rm -f "$apt_log"
fi
