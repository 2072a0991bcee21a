#!/usr/bin/env bash
# Builds the Worker: Rust → wasm → build/index.js (+ index_bg.wasm).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$MIA_ROOT"
[ -x "$WASM_BINDGEN_BIN" ] && [ -x node_modules/.bin/wrangler ] || bash scripts/setup.sh
worker-build --release
