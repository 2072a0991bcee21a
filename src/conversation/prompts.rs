//! System prompts per mode. The texts live in `prompts/*.md` so they are reviewed like code.

use crate::conversation::mode::Mode;
use crate::safety::age::Band;
use crate::safety::{resources_text, Resource, Tier};

const BASE: &str = include_str!("../../prompts/base.md");

/// The safety judge's rubric: its system prompt (CONTRACT §6).
pub const SAFETY_JUDGE: &str = include_str!("../../prompts/safety-judge.md");

fn mode_text(mode: Mode) -> &'static str {
    match mode {
        Mode::Greeting => include_str!("../../prompts/greeting.md"),
        Mode::MirrorLearning => include_str!("../../prompts/mirror_learning.md"),
        Mode::Educational => include_str!("../../prompts/educational.md"),
        Mode::Urgency => include_str!("../../prompts/urgency.md"),
        Mode::Fundraising => include_str!("../../prompts/fundraising.md"),
    }
}

/// The system prompt: who Mia is, the mode, and what the model must know about this
/// person (age band, safety tier) and the resources to offer.
pub fn system_prompt(mode: Mode, age: Option<u8>, tier: Tier, crisis: &[Resource], substance: &[Resource]) -> String {
    let mut p = String::with_capacity(2048);
    p.push_str(BASE.trim_end());
    p.push_str("\n\n");
    p.push_str(mode_text(mode).trim_end());
    p.push_str("\n\nWhat you know about this person:\n");
    match age {
        Some(a) => p.push_str(&format!("- Age: {a}, {}.\n", Band::of(age).describe())),
        None => p.push_str("- Age: not known yet; use simple, gentle words that suit a child too.\n"),
    }
    p.push_str(&format!(
        "- Safety tier: {tier} of 3 ({}).\n",
        match tier.get() {
            3 => "critical: they may be at risk of harm; the crisis resources must be in your reply",
            2 => "moderate: substance use by them or around them; offer help without judgement",
            _ => "no sign of risk so far",
        }
    ));
    p.push_str(&format!("- Mode: {}.\n", mode.as_str()));
    p.push_str("\nCrisis resources (use exactly these):\n");
    p.push_str(&resources_text(crisis));
    if tier == Tier::SUBSTANCES && !substance.is_empty() {
        p.push_str("\nSubstance-use help:\n");
        p.push_str(&resources_text(substance));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::{default_crisis_resources, default_substance_resources};

    #[test]
    fn every_prompt_says_mia_is_an_ai_and_carries_context() {
        for mode in Mode::ALL {
            let p = system_prompt(
                mode,
                Some(9),
                Tier::CRISIS,
                &default_crisis_resources(),
                &default_substance_resources(),
            );
            assert!(p.contains("You are Mia, an AI companion"), "{mode:?}");
            assert!(p.contains(mode.as_str()));
            assert!(p.contains("Age: 9, a child"));
            assert!(p.contains("Safety tier: 3"));
            assert!(p.contains("988"));
        }
        let p = system_prompt(
            Mode::Educational,
            Some(16),
            Tier::SUBSTANCES,
            &default_crisis_resources(),
            &default_substance_resources(),
        );
        assert!(p.contains("1-800-662-4357"));
        assert!(p.contains("a teenager"));
    }

    #[test]
    fn the_judge_rubric_names_every_tier_and_category_and_the_answer_shape() {
        for needle in [
            "Tier 3",
            "Tier 2",
            "Tier 1",
            "C-SSRS",
            "JSON",
            r#"{"tier": 1, "categories": [], "reason": "short"}"#,
        ] {
            assert!(SAFETY_JUDGE.contains(needle), "{needle}");
        }
        for category in crate::upstream::openai::JUDGE_CATEGORIES {
            assert!(SAFETY_JUDGE.contains(&format!("`{category}`")), "{category}");
        }
    }
}
