# Sourced by the other scripts: pinned versions and the environment the wasm build needs.
# shellcheck shell=bash
MIA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MIA_ROOT

WORKER_BUILD_VERSION="0.8.7"
# Must equal the wasm-bindgen version in Cargo.lock.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/, ""); print; exit}' "$MIA_ROOT/Cargo.lock")"
export WORKER_BUILD_VERSION WASM_BINDGEN_VERSION

export PATH="$HOME/.cargo/bin:$MIA_ROOT/node_modules/.bin:$PATH"
# The offline Debian route leaves a marker; then Debian's cargo builds std from source.
if [ -f "$MIA_ROOT/.toolchain-debian" ]; then
  export PATH="/usr/bin:$PATH"
  export RUSTC_BOOTSTRAP=1
  export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
fi
export WASM_BINDGEN_BIN="$HOME/.cargo/bin/wasm-bindgen"
export ESBUILD_BIN="$MIA_ROOT/node_modules/@esbuild/linux-x64/bin/esbuild"
export WASM_OPT_BIN="$MIA_ROOT/node_modules/.bin/wasm-opt"
export WRANGLER_SEND_METRICS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false
export WRANGLER_LOG_PATH="$MIA_ROOT/.wrangler/logs"
