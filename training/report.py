"""Prints the figures of the shipped classifier on the evaluation sets, with 95% Wilson
intervals, as a Markdown table for the README. Reads `mia-classify` output only; the sets
are measured, never tuned on.

usage: report.py MIA_CLASSIFY
"""

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"


def wilson(k, n, z=1.96):
    if n == 0:
        return (float("nan"),) * 3
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return p, max(0.0, centre - half), min(1.0, centre + half)


def verdicts(binary, lines):
    out = subprocess.run(
        [binary], input="".join(json.dumps(l) + "\n" for l in lines), capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return [json.loads(o) for o in out]


def row(name, k, n):
    p, lo, hi = wilson(k, n)
    return f"| {name} | {p:.3f} ({lo:.3f}–{hi:.3f}) | {k}/{n} |"


def main():
    binary = sys.argv[1]
    rows = ["| figure | value (95% interval) | count |", "|---|---|---|"]
    # Every set of single messages (the age set too): the evaluation rounds in order, then the
    # earlier small set.
    singles = sorted(CORPUS.glob("evaluation*.jsonl"), key=lambda p: (len(p.stem), p.stem))
    for path in [p for p in singles if p.stem != "evaluation-sessions"] + [CORPUS / "unseen.jsonl"]:
        name = path.stem
        lines = [json.loads(l) for l in path.read_text().splitlines() if l.strip()]
        got = verdicts(binary, [{"text": l["text"]} for l in lines])
        t3 = [g["tier"] == 3 for l, g in zip(lines, got) if l.get("tier") == 3]
        t2 = [g["tier"] >= 2 for l, g in zip(lines, got) if l.get("tier") == 2]
        t1 = [g["tier"] >= 2 for l, g in zip(lines, got) if l.get("tier") == 1]
        if t3:
            rows.append(row(f"`{name}.jsonl` tier-3 recall", sum(t3), len(t3)))
        if t2:
            rows.append(row(f"`{name}.jsonl` tier-2 recall (flagged ≥ 2)", sum(t2), len(t2)))
        if t1:
            rows.append(row(f"`{name}.jsonl` tier-1 flagged", sum(t1), len(t1)))
        ages = [(l["age"], g["age"]) for l, g in zip(lines, got) if "age" in l]
        if ages:
            rows.append(row(f"`{name}.jsonl` age accuracy", sum(w == g for w, g in ages), len(ages)))
    lines = [json.loads(l) for l in (CORPUS / "evaluation-sessions.jsonl").read_text().splitlines() if l.strip()]
    got = verdicts(binary, [{"text": l["text"], "session": l["session"]} for l in lines])
    ends = [(l["session_tier"], g["session_tier"]) for l, g in zip(lines, got) if "session_tier" in l]
    danger = [g == 3 for w, g in ends if w == 3]
    safe = [g == 3 for w, g in ends if w < 3]
    rows.append(row("`evaluation-sessions.jsonl` conversations reaching tier 3", sum(danger), len(danger)))
    rows.append(row("`evaluation-sessions.jsonl` safe conversations raised to 3", sum(safe), len(safe)))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
