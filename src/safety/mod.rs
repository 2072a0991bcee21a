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
pub mod labels;
pub mod model;
pub mod normalize;
mod resources;
pub mod rules;

use serde::Serialize;

pub use resources::{default_crisis_resources, default_substance_resources, mentions_resources, resources_text, Resource};

pub use labels::{Category, Tier};

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
