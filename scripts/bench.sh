#!/usr/bin/env bash
# Benchmarks: the classifier (native), the wasm size, then the server under load.
# Extra arguments go to bench/run.mjs (e.g. -- --url http://host:port --only "100 sessions").
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$MIA_ROOT"
bash scripts/setup.sh
echo "== classifier"; cargo bench -q --bench classify 2>/dev/null | grep -v '^$'
bash scripts/build.sh >/dev/null 2>&1
echo "== wasm: $(stat -c %s build/index_bg.wasm) bytes raw, $(gzip -9 -c build/index_bg.wasm | wc -c) bytes gzipped"
echo "== server"; node bench/run.mjs "$@"
