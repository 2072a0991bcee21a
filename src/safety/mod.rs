//! Safety tiers (CONTRACT §6). Tier 3: suicide, self-harm, abuse or danger. Tier 2:
//! substances. Tier 1: everything else, figures of speech and school topics included.
//!
//! Two local paths read every message: hand-written [`rules`] (each with an id) and a
//! learned [`model`] (generalises to phrasing no rule lists). A message is flagged when
//! the model flags it (messages of [`MODEL_MIN_WORDS`] words or more) or a rule matches:
//! a *standing* rule (precise enough on the training corpus, listed in
//! `model/standing-rules.txt`) always, another one unless the model's probability is under
//! the rule bar (figures of speech). Rule ids are also model features. [`context`] raises
//! the tier when danger builds over a conversation. Second opinions (moderation, the judge) run elsewhere.

pub mod age;
pub mod context;
pub mod features;
pub mod model;
pub mod normalize;
mod resources;
pub mod rules;

use serde::Serialize;

pub use resources::{default_crisis_resources, default_substance_resources, mentions_resources, resources_text, Resource};

/// How much danger a message (or a session) shows: 1 none seen, 2 substances, 3 crisis.
/// On the wire, in logs and in storage it is the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Tier(u8);

impl Tier {
    /// Tier 1: no sign of risk.
    pub const NONE: Tier = Tier(1);
    /// Tier 2: alcohol, drugs, vaping, misused medication.
    pub const SUBSTANCES: Tier = Tier(2);
    /// Tier 3: suicide, self-harm, abuse or danger from others.
    pub const CRISIS: Tier = Tier(3);

    /// A stored or reported number, clamped into 1–3.
    pub fn clamped(n: u8) -> Tier {
        Tier(n.clamp(1, 3))
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// Tier 2 or 3: a `safety_alert`, a stored safety event, help resources shown.
    pub fn alerts(self) -> bool {
        self >= Tier::SUBSTANCES
    }

    /// Tier 3: URGENCY, and every reply carries the crisis resources.
    pub fn is_crisis(self) -> bool {
        self >= Tier::CRISIS
    }
}

impl Default for Tier {
    fn default() -> Tier {
        Tier::NONE
    }
}

impl PartialEq<u8> for Tier {
    fn eq(&self, n: &u8) -> bool {
        self.0 == *n
    }
}

impl From<Tier> for u8 {
    fn from(t: Tier) -> u8 {
        t.0
    }
}

impl From<Tier> for u32 {
    fn from(t: Tier) -> u32 {
        t.0.into()
    }
}

impl From<Tier> for i64 {
    fn from(t: Tier) -> i64 {
        t.0.into()
    }
}

impl From<Tier> for serde_json::Value {
    fn from(t: Tier) -> serde_json::Value {
        t.0.into()
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Suicide,
    SelfHarm,
    Abuse,
    Danger,
    Substances,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Suicide => "suicide",
            Category::SelfHarm => "self_harm",
            Category::Abuse => "abuse",
            Category::Danger => "danger",
            Category::Substances => "substances",
        }
    }

    pub fn tier(self) -> Tier {
        match self {
            Category::Substances => Tier::SUBSTANCES,
            _ => Tier::CRISIS,
        }
    }

    /// The id a raise by the conversation context is reported under.
    pub fn context_id(self) -> &'static str {
        match self {
            Category::Suicide => "context.suicide",
            Category::SelfHarm => "context.self_harm",
            Category::Abuse => "context.abuse",
            Category::Danger => "context.danger",
            Category::Substances => "context.substances",
        }
    }

    /// The id a model flag is reported under, beside the rule ids.
    fn model_id(self) -> &'static str {
        match self {
            Category::Suicide => "model.suicide",
            Category::SelfHarm => "model.self_harm",
            Category::Abuse => "model.abuse",
            Category::Danger => "model.danger",
            Category::Substances => "model.substances",
        }
    }
}

/// The verdict for one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub tier: Tier,
    pub categories: Vec<Category>,
    /// Rule ids, and `model.<category>` for what the learned model flagged.
    pub rules: Vec<&'static str>,
    /// The model's probability per category ([`model::CATEGORIES`] order).
    #[serde(skip)]
    pub scores: model::Scores,
}

impl Assessment {
    fn new(scores: model::Scores) -> Assessment {
        Assessment {
            tier: Tier::NONE,
            categories: Vec::new(),
            rules: Vec::new(),
            scores,
        }
    }

    /// Adds a finding; the tier follows the highest category.
    pub fn flag(&mut self, category: Category, id: &'static str) {
        if !self.categories.contains(&category) {
            self.categories.push(category);
            self.categories.sort();
        }
        if !self.rules.contains(&id) {
            self.rules.push(id);
        }
        self.tier = self.tier.max(category.tier());
    }
}

/// Compiles the rules and loads the model now rather than on the first message.
pub fn prepare() {
    rules::prepare();
    model::get();
}

/// What the model reads of a message: its normalised text and the rules that matched.
pub fn features(text: &str) -> (features::Features, Vec<(Category, &'static str)>) {
    let norm = normalize::for_safety(text);
    let matched = rules::matches(&norm);
    let ids: Vec<&str> = matched.iter().map(|(_, id)| *id).collect();
    (model::features(&norm, &ids), matched)
}

/// Classifies one message on its own: the rules (a standing one always, another one
/// unless the model is fairly sure it is wrong) and the model.
pub fn classify(text: &str) -> Assessment {
    let model = model::get();
    let (features, matched) = features(text);
    let scores = model.scores(&features);
    let mut a = Assessment::new(scores);
    for (category, id) in matched {
        if model.confirms(id, category, &scores) {
            a.flag(category, id);
        }
    }
    if text.split_whitespace().count() >= MODEL_MIN_WORDS {
        for category in model.flagged(&scores) {
            a.flag(category, category.model_id());
        }
    }
    a
}

/// Below this many words the model does not flag a message alone ("again", "keep going",
/// "do it" read like the endings of crisis messages): a rule may, and the conversation
/// [`context`] still reads its scores, so a short message after worrying ones still raises.
pub const MODEL_MIN_WORDS: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assessment_names_rules_and_categories() {
        let a = classify("i wanna kill myself and i've been drinking");
        assert_eq!(a.tier, 3);
        assert_eq!(a.categories, vec![Category::Suicide, Category::Substances]);
        assert!(a.rules.contains(&"model.suicide"), "{:?}", a.rules);
        let b = classify("i have been cutting myself with a razor");
        assert!(
            b.rules.contains(&"self_harm.cutting"),
            "a standing rule names itself: {:?}",
            b.rules
        );
    }

    #[test]
    fn a_message_of_one_or_two_words_is_not_flagged_by_the_model_alone() {
        for text in ["again", "keep going", "do it", "continue"] {
            let a = classify(text);
            assert!(!a.rules.iter().any(|r| r.starts_with("model.")), "{text}: {:?}", a.rules);
        }
        // A rule still flags a short message.
        assert_eq!(classify("kms").tier, 3);
    }

    #[test]
    fn flags_raise_the_tier_and_never_repeat() {
        let mut a = Assessment::new([0.0; 5]);
        a.flag(Category::Substances, "x");
        assert_eq!(a.tier, 2);
        a.flag(Category::Abuse, "y");
        a.flag(Category::Abuse, "y");
        assert_eq!((a.tier.get(), a.categories.len(), a.rules.len()), (3, 2, 2));
    }
}
