#!/usr/bin/env bash
# Builds the Worker: Rust → wasm → build/index.js (+ index_bg.wasm).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$MIA_ROOT"
[ -x "$WASM_BINDGEN_BIN" ] && [ -x node_modules/.bin/wrangler ] && [ -x node_modules/.bin/node ] || bash scripts/setup.sh
# The demo page ships the socket.io-client browser build from npm, not from a CDN.
mkdir -p public/vendor
cp node_modules/socket.io-client/dist/socket.io.min.js public/vendor/socket.io.min.js
worker-build --release
