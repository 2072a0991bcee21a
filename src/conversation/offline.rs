//! The built-in offline companion: with no OpenAI key, Mia still answers with a
//! short, warm reply that fits the mode, and at tier 3 always gives the crisis resources.

use crate::conversation::mode::Mode;
use crate::safety::{resources_text, Resource, Tier};

fn variants(mode: Mode) -> &'static [&'static str] {
    match mode {
        Mode::Greeting => &[
            "Hi, I'm Mia, an AI companion. I'm really glad you're here. How are you feeling today?",
            "Hello! I'm Mia. I'm an AI, not a person, but I'm here to listen. What's on your mind?",
            "Hey there, I'm Mia, an AI friend who likes to listen. Want to tell me a bit about your day?",
        ],
        Mode::MirrorLearning => &[
            "Thank you for telling me. It sounds like you have some big feelings. Can you tell me more about what happened?",
            "I'm listening. Feelings can be confusing sometimes, and that's okay. How does your body feel right now?",
            "That sounds like a lot. You're doing a good job sharing it. Is there a grown-up you trust who you could tell too?",
        ],
        Mode::Educational => &[
            "Thanks for sharing that with me. It sounds like a lot to carry. What feels hardest about it right now?",
            "That makes sense, and your feelings are valid. Sometimes naming what we feel helps a little. Would you like to try that together?",
            "I hear you. When things pile up, small steps help: a short walk, a glass of water, a message to someone you trust. What might help you today?",
        ],
        Mode::Urgency => &[
            "I'm really glad you told me. You matter, and you don't have to go through this alone. Please reach out to someone who can help right now.",
            "Thank you for trusting me with this. I'm an AI and can't call anyone, but people are ready to help you right now.",
        ],
        Mode::Fundraising => &[
            "That's a kind thing to want to do! Let's plan it step by step. Who are you hoping to help, and how much would you like to raise?",
            "I love that idea. A good start is a clear goal and a trusted adult to help with the money side. What's the cause you care about?",
        ],
    }
}

/// Picks a reply for this turn. `turn` varies the wording from one message to the next.
pub fn reply(mode: Mode, tier: Tier, turn: u64, crisis: &[Resource], substance: &[Resource]) -> String {
    let options = variants(mode);
    let mut text = options[(turn as usize) % options.len()].to_string();
    if tier.is_crisis() {
        text.push_str("\n\n");
        text.push_str(&resources_text(crisis));
        text.push_str("\n\nAre you safe right now?");
    } else if tier == Tier::SUBSTANCES && !substance.is_empty() {
        text.push_str("\n\nIf you'd like to talk to someone about alcohol or drugs, this is free and confidential:\n");
        text.push_str(&resources_text(substance));
    }
    text
}

/// Splits a reply into word-sized chunks that concatenate back to it.
pub fn chunks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        current.push(c);
        if c == ' ' || c == '\n' {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::{default_crisis_resources, default_substance_resources, mentions_resources};

    #[test]
    fn tier_three_always_carries_resources() {
        let crisis = default_crisis_resources();
        for mode in Mode::ALL {
            for turn in 0..4 {
                let r = reply(mode, Tier::CRISIS, turn, &crisis, &[]);
                assert!(mentions_resources(&r, &crisis), "{mode:?} {turn}");
            }
        }
    }

    #[test]
    fn replies_vary_and_chunks_reassemble() {
        let crisis = default_crisis_resources();
        let a = reply(Mode::Educational, Tier::NONE, 0, &crisis, &[]);
        let b = reply(Mode::Educational, Tier::NONE, 1, &crisis, &[]);
        assert_ne!(a, b);
        assert_eq!(chunks(&a).concat(), a);
        assert!(chunks(&a).len() > 5);
        assert!(reply(Mode::Educational, Tier::SUBSTANCES, 0, &crisis, &default_substance_resources()).contains("1-800-662-4357"));
    }
}
