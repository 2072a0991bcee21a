//! The learned classifier: a static word-piece embedding distilled from
//! all-MiniLM-L6-v2, mean-pooled, through a small MLP, plus a linear model over hashed
//! n-grams; one sigmoid per category. Pure Rust, the weights embedded in the binary
//! (`src/safety/model/`, built by `training/run.sh`), the same code natively and in wasm.

use std::sync::OnceLock;

use super::features::{self, Features, Vocab};
use super::labels::Category;

/// The categories the model scores, in the order of its outputs.
pub const CATEGORIES: [Category; 5] = [
    Category::Suicide,
    Category::SelfHarm,
    Category::Abuse,
    Category::Danger,
    Category::Substances,
];

/// One probability per category, in [`CATEGORIES`] order.
pub type Scores = [f32; 5];

const VOCAB: &str = include_str!("model/vocab.txt");
const EMBEDDINGS: &[u8] = include_bytes!("model/embeddings.bin");
const HEAD: &[u8] = include_bytes!("model/head.bin");
/// The rules precise enough on the training corpus to flag a message on their own; the
/// others need the model's probability to reach the rule bar (see [`Model::confirms`]).
const STANDING: &str = include_str!("model/standing-rules.txt");
/// The flag thresholds (training's own since round 21, chosen out of fold); at most
/// `head.bin`'s, which the conversation context reads as its reference.
const THRESHOLDS: &str = include_str!("model/thresholds.txt");

pub struct Model {
    dim: usize,
    /// Per row: its f32 scale, then two signed 4-bit values per byte (element `2j` in the
    /// low nibble, `2j + 1` in the high one): `dim` of them for a piece seen in training,
    /// only the first ones (64 in the shipped table; the rest zero) for the others, which keep
    /// their distilled meaning.
    rows: &'static [u8],
    /// Per piece: where its row starts in `rows`, and its length in bytes.
    row_at: Vec<(u32, u32)>,
    head: Head,
    /// Per category, the probability at which it is flagged (at most training's).
    flag_at: [f32; N],
    standing: Vec<&'static str>,
}

struct Head {
    hidden: usize,
    buckets: u32,
    ngram_scale: Vec<f32>,
    table: &'static [u8],
    w1: Vec<f32>,
    b1: Vec<f32>,
    w2: Vec<f32>,
    b2: Vec<f32>,
    /// Training's thresholds, chosen out of fold on the training corpus: what the
    /// conversation context reads probabilities against.
    threshold: Vec<f32>,
    /// A rule that does not stand alone flags unless the model's probability is under this.
    rule_bar: f32,
}

/// Reads little-endian values off a byte slice; a short file is a build error.
struct Reader {
    bytes: &'static [u8],
    at: usize,
}

impl Reader {
    fn take(&mut self, n: usize) -> &'static [u8] {
        let s = &self.bytes[self.at..self.at + n];
        self.at += n;
        s
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take(4).try_into().expect("4 bytes"))
    }
    fn f32s(&mut self, n: usize) -> Vec<f32> {
        self.take(4 * n)
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect()
    }
}

const N: usize = CATEGORIES.len();

impl Model {
    fn load() -> Model {
        let mut e = Reader { bytes: EMBEDDINGS, at: 0 };
        assert_eq!(e.take(4), b"MIAE", "embeddings.bin: bad magic");
        assert_eq!(e.u32(), 3, "embeddings.bin: unknown version");
        let (count, dim, short) = (e.u32() as usize, e.u32() as usize, e.u32() as usize);
        assert!(dim % 2 == 0 && short % 2 == 0 && short <= dim, "embeddings.bin: dimensions");
        let full = e.take(count.div_ceil(8));
        let mut at = 0;
        let row_at: Vec<(u32, u32)> = (0..count)
            .map(|i| {
                let values = if full[i / 8] >> (i % 8) & 1 == 1 { dim } else { short };
                let (start, len) = (at, 4 + values / 2);
                at += len;
                (start as u32, len as u32)
            })
            .collect();
        let rows = e.take(at);
        assert_eq!(e.at, EMBEDDINGS.len(), "embeddings.bin: trailing bytes");
        assert_eq!(vocab().len(), count, "vocab.txt and embeddings.bin disagree");

        let mut h = Reader { bytes: HEAD, at: 0 };
        assert_eq!(h.take(4), b"MIAH", "head.bin: bad magic");
        assert_eq!(h.u32(), 4, "head.bin: unknown version");
        assert_eq!(h.u32() as usize, N, "head.bin: category count");
        assert_eq!(h.u32() as usize, dim, "head.bin: embedding size");
        let hidden = h.u32() as usize;
        let buckets = h.u32();
        let ngram_scale = h.f32s(N);
        let table = h.take(buckets as usize * N);
        let head = Head {
            hidden,
            buckets,
            ngram_scale,
            table,
            w1: h.f32s(hidden * dim),
            b1: h.f32s(hidden),
            w2: h.f32s(N * hidden),
            b2: h.f32s(N),
            threshold: h.f32s(N),
            rule_bar: h.f32s(1)[0],
        };
        assert_eq!(h.at, HEAD.len(), "head.bin: trailing bytes");
        let flag_at = flag_thresholds(&head.threshold);
        Model {
            dim,
            rows,
            row_at,
            head,
            flag_at,
            standing: standing_rules(),
        }
    }

    /// The mean of the pieces' embedding rows (zero when there are none).
    pub fn embed(&self, pieces: &[u32]) -> Vec<f32> {
        let mut sum = vec![0f32; self.dim];
        for &p in pieces {
            let (at, len) = self.row_at[p as usize];
            let row = &self.rows[at as usize..(at + len) as usize];
            let scale = f32::from_le_bytes(row[..4].try_into().expect("4 bytes"));
            for (pair, &byte) in sum.chunks_exact_mut(2).zip(&row[4..]) {
                pair[0] += scale * f32::from(nibble(byte));
                pair[1] += scale * f32::from(nibble(byte >> 4));
            }
        }
        if !pieces.is_empty() {
            let n = pieces.len() as f32;
            sum.iter_mut().for_each(|v| *v /= n);
        }
        sum
    }

    /// The model's probability for each category.
    pub fn scores(&self, f: &Features) -> Scores {
        let h = &self.head;
        let emb = self.embed(&f.pieces);
        let mut logits = [0f32; N];
        logits.copy_from_slice(&h.b2);
        let mut hidden = vec![0f32; h.hidden];
        for (j, out) in hidden.iter_mut().enumerate() {
            let w = &h.w1[j * self.dim..(j + 1) * self.dim];
            let z = h.b1[j] + w.iter().zip(&emb).map(|(a, b)| a * b).sum::<f32>();
            *out = z.max(0.0);
        }
        for (c, logit) in logits.iter_mut().enumerate() {
            let w = &h.w2[c * h.hidden..(c + 1) * h.hidden];
            *logit += w.iter().zip(&hidden).map(|(a, b)| a * b).sum::<f32>();
        }
        if !f.hashes.is_empty() {
            let mut sparse = [0i32; N];
            let mut buckets: Vec<u32> = f.hashes.iter().map(|x| x % h.buckets).collect();
            buckets.sort_unstable();
            buckets.dedup();
            for b in &buckets {
                let row = &h.table[*b as usize * N..(*b as usize + 1) * N];
                for (s, &q) in sparse.iter_mut().zip(row) {
                    *s += i32::from(q as i8);
                }
            }
            let norm = (buckets.len() as f32).sqrt();
            for c in 0..N {
                logits[c] += h.ngram_scale[c] * sparse[c] as f32 / norm;
            }
        }
        logits.map(|z| 1.0 / (1.0 + (-z).exp()))
    }

    /// The categories whose probability reaches their threshold.
    pub fn flagged(&self, scores: &Scores) -> Vec<Category> {
        CATEGORIES
            .iter()
            .zip(scores)
            .zip(&self.flag_at)
            .filter(|((_, p), t)| **p >= **t)
            .map(|((c, _), _)| *c)
            .collect()
    }

    /// Whether a matching rule flags the message: a standing rule always, another one
    /// unless the model's probability for its category is under the rule bar.
    pub fn confirms(&self, rule: &str, category: Category, scores: &Scores) -> bool {
        let c = CATEGORIES.iter().position(|x| *x == category).expect("a scored category");
        self.standing.contains(&rule) || scores[c] >= self.head.rule_bar
    }

    /// Per category, the probability the conversation context reads scores against
    /// (training's thresholds, with which its constants were calibrated).
    pub fn context_reference(&self) -> &[f32] {
        &self.head.threshold
    }
}

/// The signed value (-8..=7) of a byte's low four bits.
fn nibble(byte: u8) -> i8 {
    ((byte << 4) as i8) >> 4
}

/// `thresholds.txt`: one line per category, in [`CATEGORIES`] order, "name value"; `#` starts
/// a comment. A value may only lower training's threshold.
fn flag_thresholds(training: &[f32]) -> [f32; N] {
    let mut out = [0f32; N];
    let lines: Vec<&str> = entries(THRESHOLDS).collect();
    assert_eq!(lines.len(), N, "thresholds.txt: one line per category");
    for (i, line) in lines.iter().enumerate() {
        let (name, value) = line.split_once(' ').expect("thresholds.txt: name value");
        assert_eq!(name, CATEGORIES[i].as_str(), "thresholds.txt: category order");
        out[i] = value.trim().parse().expect("thresholds.txt: a number");
        assert!(out[i] > 0.0 && out[i] <= training[i], "thresholds.txt: {name} above training's");
    }
    out
}

/// The ids in `standing-rules.txt`: the first word of each line, `#` starts a comment.
fn standing_rules() -> Vec<&'static str> {
    entries(STANDING).filter_map(|l| l.split_whitespace().next()).collect()
}

/// The non-empty lines of a shipped text file, each without its `#` comment, trimmed.
fn entries(text: &'static str) -> impl Iterator<Item = &'static str> {
    text.lines()
        .filter_map(|l| l.split('#').next())
        .map(str::trim)
        .filter(|l| !l.is_empty())
}

/// The word-piece vocabulary, loaded once per process. Features need only this, so
/// `mia-classify --features` works before any head has been trained.
pub fn vocab() -> &'static Vocab {
    static VOCAB_MAP: OnceLock<Vocab> = OnceLock::new();
    VOCAB_MAP.get_or_init(|| Vocab::parse(VOCAB))
}

/// What the model reads of a normalised message, with the ids of the rules that matched.
pub fn features(norm: &str, rules: &[&str]) -> Features {
    features::extract(norm, vocab(), rules)
}

/// The shipped model, loaded once per process.
pub fn get() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(Model::load)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::normalize::for_safety;

    #[test]
    fn shipped_weights_load_and_agree_in_size() {
        let m = get();
        assert!(vocab().len() > 20_000);
        assert_eq!(m.head.table.len(), m.head.buckets as usize * N);
    }

    #[test]
    fn empty_and_unknown_text_score_low() {
        let m = get();
        for text in ["", "zzqxv"] {
            let s = m.scores(&features(&for_safety(text), &[]));
            assert!(m.flagged(&s).is_empty(), "{text}: {s:?}");
        }
    }

    #[test]
    fn standing_rules_are_rules_that_exist() {
        let m = get();
        assert!(!m.standing.is_empty());
        for id in &m.standing {
            assert!(crate::safety::rules::ids().contains(id), "{id} is not a rule");
        }
    }

    #[test]
    fn flag_thresholds_only_lower_training_ones_and_decide_flags() {
        let m = get();
        for c in 0..N {
            assert!(m.flag_at[c] > 0.0 && m.flag_at[c] <= m.context_reference()[c]);
            let mut scores = [0f32; N];
            scores[c] = m.flag_at[c];
            assert_eq!(m.flagged(&scores), vec![CATEGORIES[c]]);
            scores[c] = m.flag_at[c] * 0.99;
            assert!(m.flagged(&scores).is_empty());
        }
    }

    #[test]
    fn nibbles_are_signed_four_bit_values() {
        assert_eq!(nibble(0x00), 0);
        assert_eq!(nibble(0x07), 7);
        assert_eq!(nibble(0x08), -8);
        assert_eq!(nibble(0x0F), -1);
        assert_eq!(nibble(0xF3), 3);
        assert_eq!(nibble(0xA5 >> 4), -6);
    }

    #[test]
    fn pieces_outside_training_have_short_rows() {
        let m = get();
        let full_len = 4 + m.dim as u32 / 2;
        let (short, &(_, len)) = m.row_at.iter().enumerate().find(|(_, r)| r.1 < full_len).expect("a short row");
        let full = m.row_at.iter().position(|r| r.1 == full_len).expect("a full row") as u32;
        let dims = (len as usize - 4) * 2;
        assert!(dims < m.dim);
        let e = m.embed(&[short as u32]);
        assert!(e[..dims].iter().any(|v| *v != 0.0));
        assert!(e[dims..].iter().all(|v| *v == 0.0));
        assert!(m.embed(&[full])[dims..].iter().any(|v| *v != 0.0));
    }

    #[test]
    fn embedding_is_the_mean_of_the_rows() {
        let m = get();
        let pieces = features("hello there friend", &[]).pieces;
        assert_eq!(pieces.len(), 3);
        let each: Vec<Vec<f32>> = pieces.iter().map(|p| m.embed(&[*p])).collect();
        let mean = m.embed(&pieces);
        for (i, v) in mean.iter().enumerate() {
            let want = each.iter().map(|e| e[i]).sum::<f32>() / 3.0;
            assert!((v - want).abs() < 1e-5);
        }
        assert!(m.embed(&[]).iter().all(|v| *v == 0.0));
    }
}
