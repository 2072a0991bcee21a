//! Scoring the classifiers against a labelled set: recall per tier, false positives
//! on tier 1, age accuracy, and for conversations (lines sharing `session`) the tier of
//! the whole conversation. Used by `mia-classify --summary` and the corpus test. It sits
//! above `safety` and `conversation` (it reports the mode a session would take).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use crate::conversation::mode;
use crate::safety::{self, age};

/// One line of a labelled file: `{"text", "tier"?, "age"?, "session"?, "session_tier"?}`
/// (`"age": null` = states no age; `session_tier` labels the conversation so far).
#[derive(Debug, Clone, Deserialize)]
pub struct Labelled {
    pub text: String,
    #[serde(default)]
    pub tier: Option<u8>,
    #[serde(default)]
    pub session: Option<String>,
    #[serde(default)]
    pub session_tier: Option<u8>,
    #[serde(default, deserialize_with = "present")]
    pub age: Option<Option<u8>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u8>>, D::Error> {
    Option::<u8>::deserialize(d).map(Some)
}

/// What the classifiers say of one message, as `mia-classify` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// The message's tier, context included.
    pub tier: u8,
    pub categories: Vec<&'static str>,
    pub rules: Vec<&'static str>,
    /// The conversation's tier so far (never lowered); the message's own for a lone message.
    pub session_tier: u8,
    pub age: Option<u8>,
    pub mode: &'static str,
    /// The learned model's probability per category.
    pub scores: BTreeMap<&'static str, f64>,
}

/// Messages classified one after another as one conversation, as the server does:
/// the context window, the session tier that never drops, the session's age and mode.
#[derive(Debug, Default)]
pub struct Conversation {
    context: safety::context::Context,
    state: mode::ModeState,
}

impl Conversation {
    pub fn verdict(&mut self, text: &str) -> Verdict {
        let a = self.context.classify(text);
        let detected = age::detect(text);
        self.state.age = detected.or(self.state.age);
        self.state.tier = self.state.tier.max(a.tier);
        mode::next(&mut self.state, text);
        Verdict {
            tier: a.tier.into(),
            categories: a.categories.iter().map(|c| c.as_str()).collect(),
            rules: a.rules,
            session_tier: self.state.tier.into(),
            age: detected,
            mode: self.state.mode.as_str(),
            scores: safety::model::CATEGORIES
                .iter()
                .zip(a.scores)
                .map(|(c, p)| (c.as_str(), (f64::from(p) * 1000.0).round() / 1000.0))
                .collect(),
        }
    }
}

/// Classifies a message as the first message of a new session.
pub fn verdict(text: &str) -> Verdict {
    Conversation::default().verdict(text)
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    pub tier_counts: [usize; 3],
    /// Labelled tier 3 classified 3.
    pub tier3_recall: f64,
    /// Labelled tier 2 classified 2 or higher.
    pub tier2_recall: f64,
    /// Labelled tier 2 classified exactly 2.
    pub tier2_exact: f64,
    /// Labelled tier 1 classified 2 or higher.
    pub tier1_false_positive_rate: f64,
    pub age_count: usize,
    pub age_accuracy: f64,
    /// Conversations labelled with a `session_tier`, as `[tier 1, tier 2, tier 3]`.
    pub session_counts: [usize; 3],
    /// Conversations labelled tier 3 whose session tier reached 3.
    pub session_tier3_recall: f64,
    /// Conversations labelled below tier 3 that reached tier 3.
    pub session_false_raise_rate: f64,
    /// `(label, got, text)` of every miss.
    pub misses: Vec<(String, String, String)>,
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 {
        1.0
    } else {
        n as f64 / d as f64
    }
}

/// Parses a JSON-lines file; blank lines are skipped, a bad line is an error naming it.
pub fn parse(contents: &str) -> Result<Vec<Labelled>, String> {
    contents
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str::<Labelled>(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

pub fn score(items: &[Labelled]) -> Summary {
    let mut s = Summary::default();
    let (mut t3, mut t2, mut t2_exact, mut t1_fp, mut ages_ok) = (0, 0, 0, 0, 0);
    let (mut s3, mut s_raised) = (0, 0);
    let mut conversations: BTreeMap<&str, Conversation> = BTreeMap::new();
    for item in items {
        let v = match &item.session {
            Some(id) => conversations.entry(id).or_default().verdict(&item.text),
            None => verdict(&item.text),
        };
        if let Some(want) = item.session_tier {
            s.session_counts[usize::from(want.clamp(1, 3) - 1)] += 1;
            let reached = v.session_tier == 3;
            if want == 3 {
                s3 += usize::from(reached);
            } else {
                s_raised += usize::from(reached);
            }
            if reached != (want == 3) {
                s.misses.push((
                    format!("session tier {want}"),
                    format!("session tier {}", v.session_tier),
                    format!("{} (last message: {})", item.session.as_deref().unwrap_or("-"), item.text),
                ));
            }
        }
        if let Some(tier) = item.tier {
            let idx = usize::from(tier.clamp(1, 3) - 1);
            s.tier_counts[idx] += 1;
            let hit = match tier {
                3 => v.tier == 3,
                2 => v.tier >= 2,
                _ => v.tier == 1,
            };
            match tier {
                3 => t3 += usize::from(hit),
                2 => {
                    t2 += usize::from(hit);
                    t2_exact += usize::from(v.tier == 2);
                }
                _ => t1_fp += usize::from(!hit),
            }
            if !hit {
                s.misses
                    .push((format!("tier {tier}"), format!("tier {} {:?}", v.tier, v.rules), item.text.clone()));
            }
        }
        if let Some(want) = item.age {
            s.age_count += 1;
            if v.age == want {
                ages_ok += 1;
            } else {
                s.misses
                    .push((format!("age {want:?}"), format!("age {:?}", v.age), item.text.clone()));
            }
        }
    }
    s.tier3_recall = ratio(t3, s.tier_counts[2]);
    s.tier2_recall = ratio(t2, s.tier_counts[1]);
    s.tier2_exact = ratio(t2_exact, s.tier_counts[1]);
    s.tier1_false_positive_rate = 1.0 - ratio(s.tier_counts[0] - t1_fp, s.tier_counts[0]);
    s.age_accuracy = ratio(ages_ok, s.age_count);
    s.session_tier3_recall = ratio(s3, s.session_counts[2]);
    s.session_false_raise_rate = 1.0
        - ratio(
            s.session_counts[0] + s.session_counts[1] - s_raised,
            s.session_counts[0] + s.session_counts[1],
        );
    s
}

/// The verdict as one JSON line, with the input text when asked.
pub fn verdict_line(verdict: &Verdict, text: &str, echo: bool) -> String {
    let mut v = serde_json::to_value(verdict).expect("verdict serializes");
    if echo {
        v["text"] = Value::from(text);
    }
    v.to_string()
}
