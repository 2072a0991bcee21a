#!/usr/bin/env bash
# Builds the Worker as scripts/build.sh does, into a folder of its own, for bench/compare.mjs
# (MIA_BENCH_BUILD): bench/build-variant.sh OUT_DIR [CARGO_FEATURES]
# e.g. bench/build-variant.sh /tmp/mia-builds/knockout knockout. build/ is left alone.
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
cd "$MIA_ROOT"
out="${1:?usage: bench/build-variant.sh OUT_DIR [CARGO_FEATURES]}"
features="${2:-}"
WASM_BINDGEN_USE_JS_SYS=1 cargo build --lib --release --target wasm32-unknown-unknown ${features:+--features "$features"}
node scripts/bundle-worker.mjs "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/mia_server.wasm" "$out"
