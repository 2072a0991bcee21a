#!/usr/bin/env bash
# The whole test suite: formatting, lints, native Rust tests, then end-to-end tests
# against wrangler dev with the real socket.io-client.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$MIA_ROOT"
bash scripts/setup.sh --tests
echo "== cargo fmt --check"; cargo fmt --all -- --check
echo "== cargo clippy"; cargo clippy --all-targets -- -D warnings
echo "== cargo clippy (wasm32)"; cargo clippy --target wasm32-unknown-unknown --lib -- -D warnings
echo "== cargo test"; cargo test
echo "== safety corpus (targets enforced)"
cargo run -q --bin mia-classify -- --summary tests/corpus/labelled.jsonl --min-tier3-recall 0.97 --max-tier1-fp 0.03
echo "== evaluation sets (figures: written apart from training and rules; since round 21 the model trains on every tier set but round 19, and the age sets have informed age forms, README \"How the sets were used\"; cargo test holds their floors)"
for set in evaluation evaluation-round2 evaluation-round3 evaluation-round4 evaluation-round5 evaluation-round6 evaluation-round7 evaluation-round8 evaluation-round9 evaluation-round10 evaluation-round11 evaluation-round12 evaluation-round13 evaluation-round14 evaluation-round15 evaluation-round16 evaluation-round17 evaluation-round18 evaluation-round19 evaluation-age evaluation-age-round2 evaluation-age-round3 evaluation-age-round4 evaluation-age-round5 evaluation-age-round6 evaluation-age-round7 evaluation-age-round8 evaluation-age-round9 evaluation-age-round10 evaluation-age-round11 evaluation-age-round12 evaluation-sessions evaluation-sessions-round2 evaluation-sessions-round3 evaluation-sessions-round4 unseen; do
  cargo run -q --bin mia-classify -- --summary "tests/corpus/$set.jsonl" --min-tier3-recall 0 --min-tier2-recall 0 --max-tier1-fp 1 --min-age-accuracy 0 | grep -v '^  miss:\|misses (--misses'
done
echo "== build scripts"; node --test tests/build/*.test.mjs
echo "== build the Worker"; bash scripts/build.sh; node scripts/bundle-size.mjs build
# Node 22 takes files or globs, not a folder.
echo "== end-to-end tests"; node --test --test-concurrency=1 tests/e2e/*.test.mjs
