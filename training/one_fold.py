"""Compares candidate training data on one held-out fold: trains on four fifths of the corpus in
DATA_DIR (plus the labelled corpus and the junk, as train.py does) and prints, per evaluation
set, the model's tier-3 AUC and its tier-3 and tier-2 recall at 3% tier-1 flags (the model
alone, each set's own threshold, so that candidates compare without the thresholds training
would choose). Used to choose which written data joins `training/data/` (README, "How the sets
were used"). It measures round 19, the one set training does not read, unless others are
named; a named set that training reads (TRAINED_SETS) is left out of the training for the run.

usage: one_fold.py MIA_CLASSIFY DISTILLED_EMBEDDINGS DATA_DIR [SET ...]
"""

import json
import sys
from pathlib import Path

import numpy as np

import train as T

SETS = ["evaluation-round19"]


def main():
    binary, T.DATA = sys.argv[1], Path(sys.argv[3])
    sets = sys.argv[4:] or SETS
    T.TRAINED_SETS = [name for name in T.TRAINED_SETS if name not in sets]
    items, _, Y, P, X, V0 = T.prepare(binary, Path(sys.argv[2]))
    train = np.ones(len(Y), bool)
    train[T.folds(len(Y), T.FOLDS)[0]] = False
    p = T.train(P[train], X[train], Y[train], V0)
    recalls = []
    for name in sets:
        lines = [json.loads(l) for l in (T.ROOT / "tests" / "corpus" / f"{name}.jsonl").read_text().splitlines() if l.strip()]
        lines = [l for l in lines if l.get("tier") in (1, 2, 3)]
        f = T.features(binary, [l["text"] for l in lines])
        prob = T.predict(p, T.pooling(f, len(V0)), T.hashed(f))
        tiers = np.array([l["tier"] for l in lines])
        danger, anything = prob[:, :4].max(axis=1), prob.max(axis=1)
        r3 = (danger[tiers == 3] > np.quantile(danger[tiers == 1], 0.97)).mean()
        r2 = (prob[tiers == 2, 4] > np.quantile(anything[tiers == 1], 0.97)).mean()
        recalls.append(r3)
        print(f"{name}: tier-3 AUC {T.auc(danger, tiers == 3):.4f}, at 3% tier-1 flags tier-3 {r3:.3f} tier-2 {r2:.3f}")
    print(f"{len(items)} messages; mean tier-3 recall at 3% tier-1 flags {np.mean(recalls):.4f}")


if __name__ == "__main__":
    main()
