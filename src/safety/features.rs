//! What the learned model reads of a normalised message: word pieces for the static
//! embedding, and hashed word, word-pair and character n-grams for the sparse part.
//!
//! This is the one definition of the features: training reads them from
//! `mia-classify --features`, so the shipped weights and this code cannot drift apart.

use std::collections::HashMap;

/// The word-piece vocabulary: a piece's line in `vocab.txt` is its embedding row.
pub struct Vocab {
    ids: HashMap<&'static str, u32>,
}

impl Vocab {
    pub fn parse(text: &'static str) -> Vocab {
        let ids = text.lines().enumerate().map(|(i, t)| (t, i as u32)).collect();
        Vocab { ids }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn get(&self, piece: &str) -> Option<u32> {
        self.ids.get(piece).copied()
    }
}

/// The features of one message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Features {
    /// Embedding rows of the message's word pieces, in order (unknown pieces left out).
    pub pieces: Vec<u32>,
    /// FNV-1a hashes of the distinct n-grams (the model takes them modulo its table size).
    pub hashes: Vec<u32>,
}

/// The longest word WordPiece splits; longer ones are unknown, as in BERT.
const MAX_WORD: usize = 100;

/// Features of text already passed through [`crate::safety::normalize::for_safety`], with the
/// ids of the rules that matched it (the model learns how far to trust each rule).
pub fn extract(norm: &str, vocab: &Vocab, rules: &[&str]) -> Features {
    let mut pieces = Vec::new();
    for token in basic_tokens(norm) {
        wordpiece(token, vocab, &mut pieces);
    }
    let words = ngram_words(norm);
    let mut hashes = Vec::with_capacity(words.len() * 12);
    for (i, w) in words.iter().enumerate() {
        hashes.push(fnv(&["w", w]));
        if let Some(next) = words.get(i + 1) {
            hashes.push(fnv(&["b", w, " ", next]));
        }
        let padded: Vec<char> = format!("<{w}>").chars().collect();
        for n in 3..=5 {
            for gram in padded.windows(n) {
                let gram: String = gram.iter().collect();
                hashes.push(fnv(&["c", &gram]));
            }
        }
    }
    hashes.extend(rules.iter().map(|id| fnv(&["r", id])));
    hashes.sort_unstable();
    hashes.dedup();
    Features { pieces, hashes }
}

/// BERT's basic split: whitespace, then every punctuation or symbol character alone.
fn basic_tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split_whitespace().flat_map(|word| {
        let mut out = Vec::new();
        let mut start = 0;
        for (i, c) in word.char_indices() {
            if !c.is_alphanumeric() {
                if start < i {
                    out.push(&word[start..i]);
                }
                out.push(&word[i..i + c.len_utf8()]);
                start = i + c.len_utf8();
            }
        }
        if start < word.len() {
            out.push(&word[start..]);
        }
        out
    })
}

/// The words n-grams are made of: letters and digits, apostrophes dropped ("don't" →
/// "dont"), other ASCII punctuation a break, and every other symbol (emoji) a word.
fn ngram_words(norm: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    for c in norm.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else if c != '\'' {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            if !c.is_ascii() && !c.is_whitespace() && !matches!(c, '\u{fe0f}' | '\u{200d}') {
                words.push(c.to_string());
            }
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Greedy longest-match-first WordPiece; a word with an unknown part adds nothing.
fn wordpiece(word: &str, vocab: &Vocab, out: &mut Vec<u32>) {
    if word.chars().count() > MAX_WORD {
        return;
    }
    let folded = fold_accents(word);
    let word = folded.as_str();
    let first = out.len();
    let mut start = 0;
    let mut piece = String::with_capacity(word.len() + 2);
    while start < word.len() {
        let mut end = word.len();
        let mut found = None;
        while end > start {
            if word.is_char_boundary(end) {
                piece.clear();
                if start > 0 {
                    piece.push_str("##");
                }
                piece.push_str(&word[start..end]);
                if let Some(id) = vocab.get(&piece) {
                    found = Some(id);
                    break;
                }
            }
            end -= 1;
        }
        match found {
            Some(id) => {
                out.push(id);
                start = end;
            }
            None => {
                out.truncate(first);
                return;
            }
        }
    }
}

/// Latin letters with accents to their base letter ("café" → "cafe"), as BERT's
/// uncased vocabulary expects.
fn fold_accents(word: &str) -> String {
    word.chars()
        .map(|c| match c {
            'à'..='å' => 'a',
            'ç' => 'c',
            'è'..='ë' => 'e',
            'ì'..='ï' => 'i',
            'ñ' => 'n',
            'ò'..='ö' | 'ø' => 'o',
            'ù'..='ü' => 'u',
            'ý' | 'ÿ' => 'y',
            c => c,
        })
        .collect()
}

/// 32-bit FNV-1a over the parts, in order.
fn fnv(parts: &[&str]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for part in parts {
        for b in part.bytes() {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocab {
        Vocab::parse("i\nwant\nto\nun\n##ali\n##ve\nmy\n##self\n'\nself\n!\n")
    }

    #[test]
    fn wordpiece_takes_the_longest_pieces() {
        let v = vocab();
        let f = extract("i want to unalive myself!", &v, &[]);
        assert_eq!(f.pieces, vec![0, 1, 2, 3, 4, 5, 6, 7, 10]);
    }

    #[test]
    fn unknown_words_add_no_pieces_but_keep_their_ngrams() {
        let v = vocab();
        let f = extract("i zzqx", &v, &["x.y"]);
        assert_eq!(f.pieces, vec![0]);
        assert!(f.hashes.contains(&fnv(&["w", "zzqx"])));
        assert!(f.hashes.contains(&fnv(&["b", "i", " ", "zzqx"])));
        assert!(f.hashes.contains(&fnv(&["c", "<zz"])));
        assert!(f.hashes.contains(&fnv(&["r", "x.y"])));
    }

    #[test]
    fn emoji_are_words_of_their_own() {
        let v = vocab();
        let f = extract("bye🪦", &v, &[]);
        assert!(f.hashes.contains(&fnv(&["w", "🪦"])));
        assert!(f.hashes.contains(&fnv(&["w", "bye"])));
    }

    #[test]
    fn hashes_are_distinct_and_sorted() {
        let f = extract("so so so tired", &vocab(), &[]);
        let mut sorted = f.hashes.clone();
        sorted.dedup();
        assert_eq!(sorted, f.hashes);
        assert_ne!(fnv(&["w", "ab"]), fnv(&["w", "a", "b"]));
        assert_eq!(ngram_words("don't go, ok?🪦x"), vec!["dont", "go", "ok", "🪦", "x"]);
    }
}
