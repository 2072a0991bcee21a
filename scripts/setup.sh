#!/usr/bin/env bash
# Installs everything Mia needs to build, run and test, from the package registries
# only. Idempotent: each step checks first and skips what is already there.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$MIA_ROOT"

log() { printf '[setup] %s\n' "$*" >&2; }

have_wasm_target() {
  local libdir
  libdir="$(rustc --print target-libdir --target wasm32-unknown-unknown 2>/dev/null)" || return 1
  [ -d "$libdir" ] && ls "$libdir" 2>/dev/null | grep -q 'libcore\|libstd' || [ -f "$MIA_ROOT/.toolchain-debian" ]
}

apt_install() {
  if [ -z "${MIA_APT_UPDATED:-}" ]; then
    apt-get update -qq >/dev/null
    export MIA_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# 1. A Rust compiler that targets wasm32: rustup's target, else Debian's offline route.
if ! have_wasm_target; then
  log "adding the wasm32-unknown-unknown target with rustup"
  if command -v rustup >/dev/null && timeout 60 rustup target add wasm32-unknown-unknown; then
    :
  else
    log "rustup could not add the target; using Debian's rustc-web with std built from source"
    apt_install rustc-web cargo-web rust-web-src rust-web-llvm lld-22
    mkdir -p /usr/lib/rustlib/wasm32-unknown-unknown/lib
    touch "$MIA_ROOT/.toolchain-debian"
    source "$(dirname "$0")/env.sh"
    cargo fetch --target wasm32-unknown-unknown
  fi
fi

# 2. Node packages (wrangler, socket.io-client, playwright-core, binaryen …), pinned by package-lock.json.
if [ ! -x node_modules/.bin/wrangler ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing node packages"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
fi

# 3. wasm-bindgen-cli matching Cargo.lock, and worker-build.
if ! "$WASM_BINDGEN_BIN" --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi
if ! worker-build --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then
  log "installing worker-build $WORKER_BUILD_VERSION"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --force || cargo install worker-build --version "$WORKER_BUILD_VERSION" --force
fi

# 4. Chromium for the demo-page browser test.
if [ "${MIA_SKIP_BROWSER:-}" != 1 ] && ! command -v chromium >/dev/null; then
  log "installing Debian's chromium"
  apt_install chromium fonts-dejavu-core
fi

# 5. Rust dependencies, fetched once so later builds are offline.
cargo fetch >/dev/null 2>&1 || cargo fetch
log "ready"
