"""Chooses the conversation-context constants in `src/safety/context.rs`.

Reads the calibration conversations (`training/sessions/*.jsonl`), has `mia-classify`
score every message (the model's per-category probabilities and the message's own
tier), then replays the context rule for a grid of window, decay, raise level and floor.
Prints the best settings: the most dangerous conversations raised to tier 3 while the
context raises at most EXTRA_FALSE_RAISE more of the safe ones than messages alone do. The evaluation conversations are never read.

usage: calibrate_context.py MIA_CLASSIFY MODEL_DIR
"""

import itertools
import json
import re
import sys
from pathlib import Path

import numpy as np

import train as T

ROOT, CATEGORIES = T.ROOT, T.CATEGORIES
SESSIONS = ROOT / "training" / "sessions"
# Safe conversations the context may raise, beyond those a single message already does.
EXTRA_FALSE_RAISE = 0.05


def raised(scores, th, window, decay, raise_at, floor):
    """Whether the context rule raises any danger category at some message."""
    rel = np.minimum(scores[:, :4] / th[:4], 1.0)
    for i in range(len(rel)):
        recent = rel[max(0, i - window + 1) : i + 1][::-1]
        weights = decay ** np.arange(len(recent))
        earlier = (weights[1:, None] * recent[1:]).sum(axis=0)
        if ((recent[0] >= floor) & (earlier >= floor) & (recent[0] + earlier >= raise_at)).any():
            return True
    return False


def main():
    binary, model_dir = sys.argv[1], Path(sys.argv[2])
    lines = [json.loads(l) for p in sorted(SESSIONS.glob("*.jsonl")) for l in p.read_text().splitlines() if l.strip()]
    verdicts = T.verdicts(binary, [l["text"] for l in lines])
    sessions = {}
    for line, v in zip(lines, verdicts):
        s = sessions.setdefault(line["session"], {"scores": [], "own": 1, "want": None})
        s["scores"].append([v["scores"][c] for c in CATEGORIES])
        s["own"] = max(s["own"], v["tier"])
        if "session_tier" in line:
            s["want"] = line["session_tier"]
    th = T.head_thresholds(model_dir)
    danger = [s for s in sessions.values() if s["want"] == 3]
    safe = [s for s in sessions.values() if s["want"] in (1, 2)]
    base3 = np.mean([s["own"] == 3 for s in danger])
    base_false = np.mean([s["own"] == 3 for s in safe])
    print(f"{len(danger)} dangerous, {len(safe)} safe conversations; messages alone: "
          f"recall {base3:.3f}, false raises {base_false:.3f}")

    def rates(*args):
        """Shares of the dangerous and of the safe conversations that reach tier 3."""
        return [np.mean([s["own"] == 3 or raised(np.array(s["scores"]), th, *args) for s in group]) for group in (danger, safe)]

    results = []
    for window, decay, raise_at, floor in itertools.product([3, 4, 6, 8], [0.6, 0.7, 0.8, 0.9], [0.8, 1.0, 1.2, 1.5, 1.8, 2.1], [0.2, 0.4, 0.6]):
        recall, false = rates(window, decay, raise_at, floor)
        results.append((recall, -false, window, decay, raise_at, floor, false))
    ok = sorted((r for r in results if r[6] <= base_false + EXTRA_FALSE_RAISE + 1e-9), reverse=True)
    for recall, _, window, decay, raise_at, floor, false in ok[:10]:
        print(f"window {window} decay {decay} raise_at {raise_at} floor {floor}: recall {recall:.3f}, false raises {false:.3f}")
    # The constants the Rust code ships, for comparison with the grid's best.
    code = (ROOT / "src" / "safety" / "context.rs").read_text()
    shipped = [float(re.search(rf"pub const {name}: \w+ = ([0-9.]+);", code).group(1)) for name in ("WINDOW", "DECAY", "RAISE_AT", "FLOOR")]
    recall, false = rates(int(shipped[0]), *shipped[1:])
    print(f"shipped: window {int(shipped[0])} decay {shipped[1]} raise_at {shipped[2]} floor {shipped[3]}: recall {recall:.3f}, false raises {false:.3f}")


if __name__ == "__main__":
    main()
