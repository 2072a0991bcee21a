"""Trains the safety model's head on the training corpus; writes `head.bin`.

The features come from the Rust code itself (`mia-classify --features`), so training and
serving read messages the same way. The model: a mean-pooled static embedding through
one hidden ReLU layer, plus a linear model over hashed n-grams; one sigmoid per
category; minibatch Adam with a fixed seed (deterministic on one machine).

Thresholds: per category, from out-of-fold predictions (k-fold on the training
corpus), the lowest that keeps the false-flag rate on messages without that category
under a budget. The read evaluation sets are training data (TRAINED_SETS); rounds 19-22 (the
sets left to measure the shipped model), unseen.jsonl and the sealed sets are never read here.

The five folds and the final model are independent (each seeded alike), so
MIA_TRAIN_JOBS processes train them side by side with the same result as one by one.

usage: train.py MIA_CLASSIFY DISTILLED_EMBEDDINGS MODEL_DIR OUT_FIXTURE [--cv]
"""

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from scipy import sparse

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "training" / "data"
CATEGORIES = ["suicide", "self_harm", "abuse", "danger", "substances"]
# Hyperparameters (chosen by out-of-fold scores on the training corpus; the environment
# overrides them for experiments only).
HIDDEN = int(os.environ.get("MIA_HIDDEN", 128))
BUCKETS = 1 << int(os.environ.get("MIA_BUCKET_BITS", 15))
# 40 epochs: at 20 the model caught only 77% of its own training set's tier-3 messages at the
# chosen thresholds (underfit); on one held-out fold 40 raised tier-3 recall 0.763 -> 0.792 at
# the same tier-1 rate, 60 added nothing.
EPOCHS = int(os.environ.get("MIA_EPOCHS", 40))
LR = float(os.environ.get("MIA_LR", 0.001))
L2_DENSE = float(os.environ.get("MIA_L2_DENSE", 1e-5))
L2_SPARSE = float(os.environ.get("MIA_L2_SPARSE", 1e-5))
LR_TABLE = float(os.environ.get("MIA_LR_TABLE", 0.002))
L2_TABLE = float(os.environ.get("MIA_L2_TABLE", 1e-3))
BATCH = int(os.environ.get("MIA_BATCH", 128))
# Input dropout while training (word dropout, Iyyer et al. 2015), off in the shipped model: each
# step drops each distinct word piece of a message (the mean taken over those kept) and each
# hashed feature with these probabilities. At 0.25 each (round 18, training/ROUNDS.md) it ranked
# every evaluation set better, but flagged look-alikes whose safe word is one of many ("i cut my
# hair myself") and chose higher thresholds: fewer tier-3 catches on the blind set.
DROP_PIECES = float(os.environ.get("MIA_DROP_PIECES", 0.0))
DROP_HASHED = float(os.environ.get("MIA_DROP_HASHED", 0.0))
# Round 19 variants of the piece dropout: the rate grows with a message's distinct pieces and is
# full from DROP_FULL_AT of them (0: the same rate for every message), and only messages labelled
# tier 2 or 3 lose pieces (DROP_DANGER_ONLY), so a safe look-alike never loses its one safe word;
# messages with fewer than DROP_FROM distinct pieces lose none. Pieces only, from 16 (round 19)
# ranked the read sets best but caught 4 fewer tier-3 messages of the blind round 17.
DROP_FULL_AT = int(os.environ.get("MIA_DROP_FULL_AT", 0))
DROP_FROM = int(os.environ.get("MIA_DROP_FROM", 0))
DROP_DANGER_ONLY = os.environ.get("MIA_DROP_DANGER_ONLY", "0") == "1"
SEED = 7
# Out-of-fold share of tier-1 messages flagged, at most: of the ordinary ones (everyday
# chat, the sources below) and of all of them. Most of the training's tier-1 messages are
# written to look dangerous (safe twins of danger lines), so the budget that matters to a
# user is the ordinary one; the overall cap keeps figures of speech in check. Its value,
# 5.5%, is the largest that kept the tier-1 flags of the first four evaluation sets at 2.5%
# on average and the rules' corpus within its gate (round 9: 5.0%, 5.5%, 6.0%, 6.5% and 7.0% compared).
TIER1_BUDGET = float(os.environ.get("MIA_TIER1_BUDGET", 0.055))
ORDINARY_BUDGET = float(os.environ.get("MIA_ORDINARY_BUDGET", 0.03))
ORDINARY = ("everyday", "companion_chat")
# And of the trained evaluation sets' tier-1 messages, pooled (everyday messages by the sets'
# own writers, not safe twins; their noisy copies count as "noisy"): 2.0%, the cap
# thresholds.py held sets 1-10 to while they were untrained (round 21).
SETS_BUDGET = float(os.environ.get("MIA_SETS_BUDGET", 0.02))
FOLDS = 5
# Pieces that never occur in the training corpus keep their distilled row, which only
# the first SHORT dimensions of (the teacher's main components) are shipped for: on one
# held-out fold with the 256-dimension table, 64 scored as the whole row and 16 lost a
# few catches, while those rows are 60% of the vocabulary.
SHORT = int(os.environ.get("MIA_SHORT", 64))
# A rule flags on its own only when this share of its training matches are of its tier:
# an imprecise rule spends the tier-1 budget the model would spend better.
STANDING_PRECISION = float(os.environ.get("MIA_STANDING_PRECISION", 0.97))
STANDING_MIN = 10
# The other rules flag unless the model's probability is under the bar: the model may veto
# a rule only when fairly sure (a figure of speech); chosen out of fold with the thresholds.
# No bar above 0.5: a rule must still flag what the model cannot judge ("im suicidal",
# "kms": the model does not flag messages of one or two words, and the written corpus has
# few such plain phrasings, so out of fold a bar that silences every rule can look best).
RULE_BARS = [0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5]


# The rules' own regression corpus: plain phrasings and everyday look-alikes ("i cut my
# hair", "coke or pepsi?") that the written corpus has few of. Its lines carry a tier
# only; a danger line takes the categories its rules name (suicide when none).
LEGACY = ROOT / "tests" / "corpus" / "labelled.jsonl"
# Blind evaluation sets whose one judging is done (README, "How the sets were used"): other
# writers, ordinary tier-1 messages rather than safe twins, danger mostly told indirectly.
# Rounds 11-17 train the model from round 20 on, every read set from round 21 on but round
# 19, which judged round 21 and is left to measure the model; unseen.jsonl (labels in another
# form) and the sealed sets (tests/corpus/sealed/) stay out too.
TRAINED_SETS = ["evaluation"] + [f"evaluation-round{i}" for i in range(2, 19)]


def load_corpus():
    items = []
    for n, line in enumerate(LEGACY.read_text(encoding="utf-8").splitlines(), 1):
        item = json.loads(line) if line.strip() else {}
        if item.get("tier") in (1, 2, 3):
            cats = {1: [], 2: ["substances"], 3: None}[item["tier"]]
            items.append((item["text"], cats, "labelled"))
    sets = [ROOT / "tests" / "corpus" / f"{name}.jsonl" for name in TRAINED_SETS]
    for path in sorted(DATA.glob("*.jsonl")) + sets:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            item = json.loads(line)
            cats = item.get("categories") or []
            # The tier is worked out from the categories later, so they must agree: tier 3 names
            # a danger category, tier 2 substances only, tier 1 none.
            danger = bool(set(cats) - {"substances"})
            if (set(cats) - set(CATEGORIES) or item.get("tier") not in (1, 2, 3)
                    or (item["tier"] == 3) != danger or (item["tier"] == 2) != (cats == ["substances"])):
                raise SystemExit(f"{path.name}:{n}: bad label {item}")
            items.append((item["text"], cats, path.stem))
    noise = junk()
    items += [(text, [], "junk") for text in noise]
    # The same noise beside a tenth of the messages, label kept: a username or a
    # keyboard run next to "i want to die" must not drown it.
    rng = np.random.default_rng(SEED + 1)
    for text, cats, source in list(items[: len(items) - len(noise)]):
        if rng.random() < 0.1:
            extra = noise[rng.integers(len(noise))].replace(" ", "-" if rng.integers(2) else " ")
            both = f"{extra} {text}" if rng.integers(2) else f"{text} {extra}"
            items.append((both, cats, "noisy"))
    return items


def junk(count=800, seed=SEED):
    """Tier-1 noise a chat box really receives: keyboard runs, random letters, repeated
    letters, digits. Generated (seeded), so the model learns that strange character
    n-grams alone are no evidence of danger. Strings holding a crisis abbreviation are skipped."""
    rng = np.random.default_rng(seed)
    rows = ["qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890"]
    letters = "abcdefghijklmnopqrstuvwxyz"
    avoid = ("kms", "kys", "ctb", "sh", "die", "cut", "od", "cvt", "d1e")
    out = set()
    while len(out) < count:
        kind = rng.integers(5)
        if kind == 0:
            row = rows[rng.integers(len(rows))]
            start = int(rng.integers(len(row) - 2))
            text = row[start : start + int(rng.integers(3, len(row) - start + 1))]
        elif kind == 1:
            text = "".join(rng.choice(list(letters), int(rng.integers(3, 13))))
        elif kind == 2:
            text = letters[rng.integers(26)] * int(rng.integers(2, 9))
        elif kind == 3:
            text = " ".join("".join(rng.choice(list(letters), int(rng.integers(2, 7)))) for _ in range(int(rng.integers(2, 4))))
        else:
            text = "".join(rng.choice(list(letters + "0123456789"), int(rng.integers(3, 10))))
        if rng.integers(3) == 0:
            text = text.upper() if rng.integers(2) else text.capitalize()
        if not any(a in text.lower() for a in avoid):
            out.add(text)
    return sorted(out)


def verdicts(binary, texts, *args):
    """What `mia-classify` (with `args`) prints for each text, one message at a time."""
    lines = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    out = subprocess.run([binary, *args], input=lines, capture_output=True, text=True, check=True)
    return [json.loads(l) for l in out.stdout.splitlines()]


def features(binary, texts):
    return verdicts(binary, texts, "--features")


def load_embeddings(path):
    """distill.py's starting table (int8 rows, one f32 scale each), as floats."""
    raw = path.read_bytes()
    count, dim = np.frombuffer(raw[:8], dtype="<u4")
    rows = np.frombuffer(raw[8:], dtype=np.uint8).reshape(count, 4 + dim)
    scale = rows[:, :4].copy().view("<f4").reshape(count)
    quant = rows[:, 4:].copy().view(np.int8).astype(np.float32)
    return (quant * scale[:, None]).astype(np.float32)


def pooling(feats, vocab_size):
    """Mean pooling as a sparse matrix: row i averages message i's word pieces."""
    rows, cols, vals = [], [], []
    for i, f in enumerate(feats):
        for piece in f["pieces"]:
            rows.append(i)
            cols.append(piece)
            vals.append(1.0 / len(f["pieces"]))
    return sparse.csr_matrix((vals, (rows, cols)), shape=(len(feats), vocab_size), dtype=np.float32)


def hashed(feats):
    rows, cols, vals = [], [], []
    for i, f in enumerate(feats):
        buckets = sorted({h % BUCKETS for h in f["hashes"]})
        if not buckets:
            continue
        w = 1.0 / np.sqrt(len(buckets))
        rows += [i] * len(buckets)
        cols += buckets
        vals += [w] * len(buckets)
    return sparse.csr_matrix((vals, (rows, cols)), shape=(len(feats), BUCKETS), dtype=np.float32)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def adam(p, m, v2, grads, step, scratch):
    """One Adam step in place: the float32 operations of `m = 0.9 m + 0.1 g`,
    `v2 = 0.999 v2 + 0.001 g**2`, `p -= lr * mhat / (sqrt(vhat) + 1e-8)` in the same order, so
    the same numbers, without the temporaries that made the 27,623 x 256 table slow."""
    for key in p:
        lr = LR_TABLE if key == "v" else LR
        g, a, b = grads[key], scratch[key][0], scratch[key][1]
        m[key] *= 0.9
        np.multiply(g, 0.1, out=a)
        m[key] += a
        v2[key] *= 0.999
        np.multiply(g, g, out=a)
        a *= 0.001
        v2[key] += a
        np.divide(m[key], 1 - 0.9**step, out=a)
        a *= lr
        np.divide(v2[key], 1 - 0.999**step, out=b)
        np.sqrt(b, out=b)
        b += 1e-8
        a /= b
        p[key] -= a


def dropped(Pb, Xb, Yb, rng):
    """A minibatch's inputs with DROP_PIECES of each row's pieces dropped (the rate scaled per
    row by the round-19 options; the rest renormalised to a mean; a row that would lose them all
    keeps them) and DROP_HASHED of its hashed features dropped (the rest scaled up to keep the
    expected sum)."""
    if DROP_PIECES > 0:
        Pb = Pb.copy()
        count = np.diff(Pb.indptr)
        rate = np.full(Pb.shape[0], DROP_PIECES)
        if DROP_FULL_AT > 0:
            rate *= np.minimum(1.0, count / DROP_FULL_AT)
        if DROP_FROM > 0:
            rate *= count >= DROP_FROM
        if DROP_DANGER_ONLY:
            rate *= Yb.max(axis=1) > 0
        row = np.repeat(np.arange(Pb.shape[0]), count)
        keep = rng.random(Pb.nnz) >= rate[row]
        keep |= (np.bincount(row, weights=keep, minlength=Pb.shape[0]) == 0)[row]
        data = Pb.data * keep
        Pb.data = (data / np.bincount(row, weights=data, minlength=Pb.shape[0])[row]).astype(np.float32)
    if DROP_HASHED > 0:
        Xb = Xb.copy()
        Xb.data = (Xb.data * (rng.random(Xb.nnz) >= DROP_HASHED) / (1.0 - DROP_HASHED)).astype(np.float32)
    return Pb, Xb


def train(P, X, Y, V0, seed=SEED):
    """Minibatch Adam on everything, the embedding table included (kept near its
    distilled start by an L2 pull), so unseen pieces keep the teacher's meaning."""
    rng = np.random.default_rng(seed)
    n, d, k = P.shape[0], V0.shape[1], Y.shape[1]
    p = {
        "v": V0.copy(),
        "w1": (rng.standard_normal((HIDDEN, d)) * np.sqrt(2.0 / d)).astype(np.float32),
        "b1": np.zeros(HIDDEN, np.float32),
        "w2": (rng.standard_normal((k, HIDDEN)) * np.sqrt(1.0 / HIDDEN)).astype(np.float32),
        "b2": np.zeros(k, np.float32),
        "t": np.zeros((X.shape[1], k), np.float32),
    }
    # Positives weigh more where they are rare (square root of the imbalance).
    pos = Y.sum(axis=0)
    wpos = np.sqrt(np.where(pos > 0, (n - pos) / np.maximum(pos, 1), 1.0)).astype(np.float32)
    weight = np.where(Y > 0, wpos, 1.0).astype(np.float32) / n
    m = {key: np.zeros_like(v) for key, v in p.items()}
    v2 = {key: np.zeros_like(v) for key, v in p.items()}
    scratch = {key: (np.empty_like(v), np.empty_like(v)) for key, v in p.items()}
    pull = np.empty_like(V0)
    # Dropout draws from its own stream, so the batches come in the same order without it.
    drop_rng = np.random.default_rng(seed + 1)
    step = 0
    for _ in range(EPOCHS):
        order = rng.permutation(n)
        for start in range(0, n, BATCH):
            idx = order[start : start + BATCH]
            Pb, Xb, Yb = P[idx], X[idx], Y[idx]
            if DROP_PIECES > 0 or DROP_HASHED > 0:
                Pb, Xb = dropped(Pb, Xb, Yb, drop_rng)
            E = Pb @ p["v"]
            zh = E @ p["w1"].T + p["b1"]
            h = np.maximum(zh, 0)
            prob = sigmoid(h @ p["w2"].T + Xb @ p["t"] + p["b2"])
            g = (prob - Yb) * weight[idx] * (n / len(idx))
            gh = (g @ p["w2"]) * (zh > 0)
            grads = {
                "w2": g.T @ h + L2_DENSE * p["w2"],
                "b2": g.sum(axis=0),
                "t": np.asarray(Xb.T @ g) + L2_SPARSE * p["t"],
                "w1": gh.T @ E + L2_DENSE * p["w1"],
                "b1": gh.sum(axis=0),
                "v": np.asarray(Pb.T @ (gh @ p["w1"])),
            }
            # The table's pull to its start, L2_TABLE * (v - V0), without new arrays.
            np.subtract(p["v"], V0, out=pull)
            pull *= L2_TABLE
            grads["v"] += pull
            step += 1
            adam(p, m, v2, grads, step, scratch)
    # The rows training saw ship whole; the others (still their distilled start) short.
    p["full"] = np.asarray(P.getnnz(axis=0) > 0).ravel()
    return p


def quantise_rows(v):
    """4-bit rows (-8..7) with one f32 scale each, as embeddings.bin stores them. Each row's
    scale is the one of a few clipping points that loses the least (squared error)."""
    peak = np.abs(v).max(axis=1)
    peak[peak == 0] = 1.0
    scales = np.stack([(peak * clip / 7.0).astype(np.float32) for clip in (1.0, 0.9, 0.8, 0.7, 0.6)])
    qs = np.stack([np.clip(np.rint(v / s[:, None]), -8, 7).astype(np.int8) for s in scales])
    errs = np.stack([((q * s[:, None] - v) ** 2).sum(axis=1) for q, s in zip(qs, scales)])
    best, rows = errs.argmin(axis=0), np.arange(len(v))
    return qs[best, rows], scales[best, rows]


def quantise(p):
    """The n-gram table as int8 with one scale per category, as head.bin stores it."""
    scale = np.abs(p["t"]).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(p["t"] / scale), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def stored_rows(v, full):
    """The table as embeddings.bin stores it: per row its 4-bit values and scale, all
    dimensions for a full row, the first SHORT (the rest zero) for the others."""
    q, scale = quantise_rows(v)
    qs, ss = quantise_rows(v[:, :SHORT])
    q[~full] = 0
    q[~full, :SHORT] = qs[~full]
    scale[~full] = ss[~full]
    return q, scale


def shipped(p):
    """The parameters as the Rust code reads them back (quantised)."""
    q, scale = quantise(p)
    qv, vscale = stored_rows(p["v"], p["full"])
    return {**p, "t": q.astype(np.float32) * scale, "v": qv.astype(np.float32) * vscale[:, None]}


def predict(p, P, X):
    p = shipped(p)
    h = np.maximum((P @ p["v"]) @ p["w1"].T + p["b1"], 0)
    return sigmoid(h @ p["w2"].T + X @ p["t"] + p["b2"])


def quantile_thresholds(oof, tiers, budget):
    """Per category, the probability that flags `budget` of the messages where a flag would
    raise the tier: below tier 3 for a danger category, tier 1 for substances."""
    out = []
    for c in range(oof.shape[1]):
        below = tiers < (2 if CATEGORIES[c] == "substances" else 3)
        neg = np.sort(oof[below, c])[::-1]
        at = min(int(len(neg) * budget), len(neg) - 1)
        out.append(min(max(float(neg[at]) + 1e-6, 0.05), 0.9999))
    return np.array(out, np.float32)


def decide(prob, R, th, bar):
    """What the Rust code flags: the model; a standing rule (R = 2); another rule (R = 1)
    unless the model is fairly sure it is wrong (its probability under `bar`). The Rust code
    also leaves messages of one or two words to the rules and the context (MODEL_MIN_WORDS in
    src/safety/mod.rs); the out-of-fold figures here do not apply that guard."""
    return (prob >= th) | (R >= 2) | ((R >= 1) & (prob >= bar))


def choose(oof, R, tiers, sources):
    """The thresholds and rule bar with the best tier-3 recall (tier 2 counting half) whose
    out-of-fold tier-1 flag rates, rules included, stay within ORDINARY_BUDGET on ordinary
    messages, SETS_BUDGET on the trained sets' and TIER1_BUDGET on all."""
    best = None
    ordinary = (tiers == 1) & np.isin(sources, ORDINARY)
    sets = (tiers == 1) & np.isin(sources, TRAINED_SETS)
    for bar in RULE_BARS:
        for budget in np.arange(0.001, 0.05, 0.001):
            th = quantile_thresholds(oof, tiers, budget)
            flags = decide(oof, R, th, bar)
            fp = flags.any(axis=1)[tiers == 1].mean()
            fp_ordinary = flags.any(axis=1)[ordinary].mean()
            fp_sets = flags.any(axis=1)[sets].mean() if sets.any() else 0.0
            recall = flags[:, :4].any(axis=1)[tiers == 3].mean() + 0.5 * flags.any(axis=1)[tiers == 2].mean()
            if (fp <= TIER1_BUDGET and fp_ordinary <= ORDINARY_BUDGET and fp_sets <= SETS_BUDGET
                    and (best is None or recall > best[0])):
                best = (recall, th, bar)
    if best is None:
        raise SystemExit(f"train: no thresholds keep tier-1 flags within {TIER1_BUDGET} (all), "
                         f"{ORDINARY_BUDGET} (ordinary) and {SETS_BUDGET} (the sets)")
    return best[1], best[2]


def standing_rules(feats, tiers):
    """The rules whose matches on the training corpus are at least STANDING_PRECISION of
    the rule's tier or above (and match at least STANDING_MIN messages): they flag alone."""
    seen = {}
    for f, tier in zip(feats, tiers):
        for category, rule in {tuple(r) for r in f["rules"]}:
            need = 2 if category == "substances" else 3
            hits, n = seen.get((rule, category), (0, 0))
            seen[(rule, category)] = (hits + (tier >= need), n + 1)
    standing = {}
    for (rule, category), (hits, n) in sorted(seen.items()):
        precision = hits / n
        kept = n >= STANDING_MIN and precision >= STANDING_PRECISION
        print(f"train: rule {rule:28} {hits:5}/{n:<5} {precision:.3f} {'stands' if kept else 'feature only'}",
              file=sys.stderr)
        if kept:
            standing[rule] = (hits, n)
    return standing


def write_standing(path, standing):
    head = (
        "# Rules that flag a message on their own (written by training/train.py): on the\n"
        f"# training corpus at least {STANDING_PRECISION} of their matches are of the rule's tier,\n"
        f"# over at least {STANDING_MIN} matches. The other rules flag unless the model's\n"
        "# probability is under the rule bar (head.bin), and all are features of the model.\n"
    )
    with open(path, "w", encoding="utf-8") as f:
        f.write(head)
        for rule, (hits, n) in sorted(standing.items()):
            f.write(f"{rule}  # {hits}/{n}\n")


def folds(n, k, seed=SEED):
    order = np.random.default_rng(seed).permutation(n)
    return [order[i::k] for i in range(k)]


def auc(score, positive):
    """Area under the ROC curve (the Mann-Whitney statistic, ties counted half)."""
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    s = score[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    npos = positive.sum()
    nneg = len(positive) - npos
    return (ranks[positive].sum() - npos * (npos + 1) / 2) / (npos * nneg)


def rate(hits, mask):
    return f"{hits[mask].mean():.3f}" if mask.any() else "  -  "


def report(name, prob, R, Y, tiers, th, bar):
    flags = decide(prob, R, th, bar)
    if not len(Y):
        return
    t3 = tiers == 3
    t2 = tiers == 2
    t1 = tiers == 1
    any3 = flags[:, :4].any(axis=1)
    any2 = flags.any(axis=1)
    print(
        f"{name}: tier-3 recall {rate(any3, t3)}  tier-2 recall {rate(any2, t2)}  "
        f"tier-1 flagged {rate(any2, t1)}  (n={len(Y)})",
        file=sys.stderr,
    )


def write_embeddings(path, v, full):
    """MIAE, version 3: rows, dim, SHORT; a bitmap of the full rows (bit i of byte i/8);
    then per row its f32 scale and two 4-bit values per byte (element 2j in the low
    nibble, 2j+1 in the high one), dim of them for a full row, SHORT for the others."""
    q, scale = stored_rows(v, full)
    nibbles = (q.astype(np.uint8) & 0x0F)
    packed = (nibbles[:, 0::2] | (nibbles[:, 1::2] << 4)).astype(np.uint8)
    with open(path, "wb") as f:
        f.write(b"MIAE")
        f.write(np.array([3, v.shape[0], v.shape[1], SHORT], dtype="<u4").tobytes())
        f.write(np.packbits(full, bitorder="little").tobytes())
        for row in range(len(v)):
            f.write(scale[row].astype("<f4").tobytes())
            f.write(packed[row, : v.shape[1] // 2 if full[row] else SHORT // 2].tobytes())


def write_head(path, p, th, bar, dim):
    q, scale = quantise(p)
    k = len(CATEGORIES)
    with open(path, "wb") as f:
        f.write(b"MIAH")
        f.write(np.array([4, k, dim, HIDDEN, BUCKETS], dtype="<u4").tobytes())
        f.write(scale.astype("<f4").tobytes())
        f.write(q.tobytes())
        f.write(p["w1"].astype("<f4").tobytes())
        f.write(p["b1"].astype("<f4").tobytes())
        f.write(p["w2"].astype("<f4").tobytes())
        f.write(p["b2"].astype("<f4").tobytes())
        f.write(th.astype("<f4").tobytes())
        f.write(np.float32(bar).astype("<f4").tobytes())


def head_thresholds(model_dir):
    """Training's per-category thresholds as `write_head` stored them: the five f32 before
    head.bin's last (the rule bar)."""
    return np.frombuffer((model_dir / "head.bin").read_bytes()[-24:-4], dtype="<f4")


def write_thresholds(path, th, note):
    """thresholds.txt: the flag thresholds the Rust code uses, one "category value" line each
    (at most head.bin's, which the conversation context reads). Training writes its own."""
    with open(path, "w") as f:
        f.write(note)
        for c, t in zip(CATEGORIES, th):
            f.write(f"{c} {float(np.float32(t)):.9g}\n")


def prepare(binary, distilled):
    """The corpus with its features and labels (a labelled-corpus danger line takes the
    categories its rules name), and the model's inputs: pooling, hashed buckets, starting table."""
    items = load_corpus()
    feats = features(binary, [t for t, _, _ in items])
    for i, (text, cats, source) in enumerate(items):
        if cats is None:
            named = sorted({r[0] for r in feats[i]["rules"]} - {"substances"}) or ["suicide"]
            items[i] = (text, named, source)
    Y = np.array([[1.0 if c in cats else 0.0 for c in CATEGORIES] for _, cats, _ in items], np.float32)
    V0 = load_embeddings(distilled)
    # Scaled so that a pooled message is about unit length at the start.
    P, X = pooling(feats, len(V0)), hashed(feats)
    V0 = V0 / np.median(np.linalg.norm(P @ V0, axis=1))
    return items, feats, Y, P, X, V0


# The inputs every training job reads; forked workers inherit them without a copy.
_SHARED = {}


def fit(held):
    """One job: a fold's out-of-fold predictions (`held` the indices left out), or the
    final model's parameters (`held` None)."""
    P, X, Y, V0 = (_SHARED[k] for k in ("P", "X", "Y", "V0"))
    if held is None:
        return train(P, X, Y, V0)
    mask = np.ones(len(Y), bool)
    mask[held] = False
    p = train(P[mask], X[mask], Y[mask], V0)
    return predict(p, P[held], X[held])


def fit_all(jobs):
    """The jobs' results in order, MIA_TRAIN_JOBS at a time (default 1)."""
    n = max(1, int(os.environ.get("MIA_TRAIN_JOBS", 1)))
    if n == 1:
        return [fit(held) for held in jobs]
    with multiprocessing.get_context("fork").Pool(min(n, len(jobs))) as pool:
        return pool.map(fit, jobs, chunksize=1)


def main():
    binary, distilled, model_dir, fixture = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    items, feats, Y, P, X, V0 = prepare(binary, distilled)
    texts = [t for t, _, _ in items]
    sources = np.array([s for _, _, s in items])
    tiers = np.array([3 if any(Y[i, :4]) else 2 if Y[i, 4] else 1 for i in range(len(Y))])
    standing = standing_rules(feats, tiers)
    R = np.array([[max([2.0 if r[1] in standing else 1.0 for r in f["rules"] if r[0] == c], default=0.0)
                   for c in CATEGORIES] for f in feats], np.float32)
    print(f"train: {len(items)} messages; per category {Y.sum(axis=0).astype(int).tolist()}", file=sys.stderr)

    oof = np.zeros_like(Y)
    held_out = list(folds(len(Y), FOLDS))
    _SHARED.update(P=P, X=X, Y=Y, V0=V0)
    results = fit_all(held_out + ([] if "--cv" in sys.argv else [None]))
    for i, held in enumerate(held_out):
        oof[held] = results[i]
    print(f"train: {FOLDS} folds trained", file=sys.stderr)
    th, bar = choose(oof, R, tiers, sources)
    print(f"train: thresholds {dict(zip(CATEGORIES, np.round(th, 3).tolist()))}, rule bar {bar}", file=sys.stderr)
    report("rules alone", np.zeros_like(oof), R, Y, tiers, np.full_like(th, 2.0), 0.0)
    report("out-of-fold", oof, R, Y, tiers, th, bar)
    auc3 = auc(oof[:, :4].max(axis=1), tiers == 3)
    print(f"train: out-of-fold AUC, tier 3 against the rest: {auc3:.4f}", file=sys.stderr)
    for source in sorted(set(sources)):
        mask = sources == source
        report(f"  {source}", oof[mask], R[mask], Y[mask], tiers[mask], th, bar)
    if os.environ.get("MIA_DUMP_OOF"):
        np.savez(os.environ["MIA_DUMP_OOF"], oof=oof, Y=Y, tiers=tiers, sources=sources,
                 rules=np.array([json.dumps(f["rules"]) for f in feats]))
    if "--cv" in sys.argv:
        return

    p = results[-1]
    if os.environ.get("MIA_DUMP_PARAMS"):
        np.savez(os.environ["MIA_DUMP_PARAMS"], th=th, bar=bar, standing=np.array(sorted(standing)), **p)
    write_embeddings(model_dir / "embeddings.bin", p["v"], p["full"])
    write_head(model_dir / "head.bin", p, th, bar, V0.shape[1])
    write_thresholds(model_dir / "thresholds.txt", th, "# Flag thresholds: training's own (training/train.py).\n")
    write_standing(model_dir / "standing-rules.txt", standing)
    prob = predict(p, P, X)
    report("training set", prob, R, Y, tiers, th, bar)
    # What the Rust code must reproduce: every 10th message's probabilities.
    with open(fixture, "w", encoding="utf-8") as f:
        for i in range(0, len(texts), 10):
            f.write(json.dumps({"text": texts[i], "scores": [round(float(x), 6) for x in prob[i]]}) + "\n")


if __name__ == "__main__":
    main()
