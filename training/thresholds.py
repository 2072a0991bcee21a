"""Chooses the flag thresholds on the evaluation sets; writes `thresholds.txt`.

Training chooses each category's threshold out of fold on the training corpus, whose tier-1
lines are mostly safe twins written to look dangerous, so those thresholds flag fewer of the
sets' ordinary tier-1 messages than the budget allows. This step lowers them (never raises
them), one step at a time, taking each time the step that gains most (tier-3 recall plus half
the tier-2 recall, pooled over the sets), while the pooled tier-1 flags stay within POOLED, no
set goes above max(PER_SET, its rate before) and the rules' corpus within LABELLED. The
training thresholds stay in `head.bin` as the conversation context's reference, which was
calibrated with them. Sets 1-10 are its validation sets; round 11 was written after the rule
and judged it (README, "How the sets were used"). It reads the scores mia-classify prints
(three decimals), so a message within 0.0005 of a threshold may count the other way than in
the Rust code (one of round 10's, measured).

usage: thresholds.py MIA_CLASSIFY MODEL_DIR
"""

import json
import re
import sys
from pathlib import Path

import numpy as np

import train as T

ROOT, CATEGORIES = T.ROOT, T.CATEGORIES
SETS = ["evaluation"] + [f"evaluation-round{i}" for i in range(2, 11)]
POOLED, PER_SET, LABELLED = 0.020, 0.035, 0.025
STEPS = [0.98, 0.95, 0.9]
# The model flags nothing alone in a message of fewer words (read from the Rust code).
MODEL_MIN_WORDS = int(re.search(r"pub const MODEL_MIN_WORDS: usize = (\d+);",
                                (ROOT / "src" / "safety" / "mod.rs").read_text()).group(1))


def load(binary, name):
    """Per message: the model's probabilities, the categories rules flagged, whether the
    model may flag alone, and the label."""
    lines = [json.loads(l) for l in (ROOT / "tests" / "corpus" / f"{name}.jsonl").read_text().splitlines() if l.strip()]
    lines = [l for l in lines if l.get("tier") in (1, 2, 3)]
    out = T.verdicts(binary, [l["text"] for l in lines])
    ruled = [{r.split(".")[0] for r in o["rules"] if not r.startswith(("model.", "context."))} for o in out]
    return {
        "p": np.array([[o["scores"][c] for c in CATEGORIES] for o in out]),
        "rule": np.array([[c in r for c in CATEGORIES] for r in ruled]),
        "alone": np.array([len(l["text"].split()) >= MODEL_MIN_WORDS for l in lines]),
        "tier": np.array([l["tier"] for l in lines]),
    }


def tiers(d, th):
    flags = d["rule"] | (d["alone"][:, None] & (d["p"] >= th))
    return np.where(flags[:, :4].any(axis=1), 3, np.where(flags[:, 4], 2, 1))


def rates(data, th):
    """Pooled tier-3 and tier-2 recall and tier-1 flags, and each set's tier-1 flags."""
    hit = {3: 0, 2: 0, 1: 0}
    count = {3: 0, 2: 0, 1: 0}
    per = {}
    for name, d in data.items():
        t = tiers(d, th)
        for tier in (3, 2, 1):
            mask = d["tier"] == tier
            hit[tier] += int((t[mask] == 3).sum() if tier == 3 else (t[mask] >= 2).sum())
            count[tier] += int(mask.sum())
        per[name] = (t[d["tier"] == 1] >= 2).mean()
    return hit[3] / count[3], hit[2] / count[2], hit[1] / count[1], per


def main():
    binary, model_dir = sys.argv[1], Path(sys.argv[2])
    reference = T.head_thresholds(model_dir).astype(np.float64)
    data = {name: load(binary, name) for name in SETS}
    labelled = {"labelled": load(binary, "labelled")}
    before = rates(data, reference)[3]

    def allowed(th):
        _, _, pooled, per = rates(data, th)
        return (pooled <= POOLED and all(per[n] <= max(PER_SET, before[n]) + 1e-12 for n in SETS)
                and rates(labelled, th)[2] <= LABELLED)

    def gain(th):
        r3, r2, _, _ = rates(data, th)
        return r3 + 0.5 * r2

    th = reference.copy()
    while True:
        best = None
        for c in range(len(CATEGORIES)):
            for step in STEPS:
                cand = th.copy()
                cand[c] = th[c] * step
                if allowed(cand):
                    g = gain(cand) - gain(th)
                    if g > 1e-9 and (best is None or g > best[0]):
                        best = (g, cand)
        if best is None:
            break
        th = best[1]
    for label, t in (("training thresholds", reference), ("chosen", th)):
        r3, r2, r1, _ = rates(data, t)
        print(f"thresholds: {label} {np.round(t, 4).tolist()}: sets 1-10 tier-3 {r3:.4f} tier-2 {r2:.4f} "
              f"tier-1 flagged {r1:.4f}", file=sys.stderr)
    T.write_thresholds(model_dir / "thresholds.txt", th,
                       "# Flag thresholds, chosen on evaluation sets 1-10 by training/thresholds.py;\n"
                       "# head.bin keeps training's, which the conversation context reads.\n")


if __name__ == "__main__":
    main()
