#!/usr/bin/env bash
# Builds the Worker: Rust → wasm (cargo) → build/index.js + build/index_bg.wasm
# (scripts/bundle-worker.mjs: wasm-bindgen, wasm-opt, the entry module, esbuild).
# MIA_NO_WASM_OPT=1 skips wasm-opt (a quicker build, a larger and slower wasm).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$MIA_ROOT"
[ -x "$WASM_BINDGEN_BIN" ] && [ -x node_modules/.bin/wrangler ] && [ -x node_modules/.bin/node ] || bash scripts/setup.sh
# One build at a time (wrangler's watcher may start one while another runs).
mkdir -p build
exec 9>build/.lock
flock 9
# The demo page ships the socket.io-client browser build from npm, not from a CDN.
mkdir -p public/vendor
cp node_modules/socket.io-client/dist/socket.io.min.js public/vendor/socket.io.min.js
# WASM_BINDGEN_USE_JS_SYS: wasm-bindgen's macros use js-sys's futures, as worker-build set it.
WASM_BINDGEN_USE_JS_SYS=1 cargo build --lib --release --target wasm32-unknown-unknown
# wasm-bindgen-cli may still be compiling in the background (scripts/setup.sh): wait for it.
tools_dir="${CARGO_TARGET_DIR_TOOLS:-$MIA_ROOT/target/tools}"
mkdir -p "$tools_dir"
if ! flock -n "$tools_dir/.lock" true; then
  echo "[build] waiting for wasm-bindgen-cli to finish compiling (log: $tools_dir/install.log)" >&2
  flock "$tools_dir/.lock" true
fi
"$WASM_BINDGEN_BIN" --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$" || MIA_TOOLS_FOREGROUND=1 bash scripts/setup.sh
node scripts/bundle-worker.mjs "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/mia_server.wasm" build
