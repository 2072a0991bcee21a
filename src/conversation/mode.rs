//! Conversation modes (CONTRACT §8) and the rules that move between them.
//! Priority: URGENCY > FUNDRAISING > age > GREETING. URGENCY is sticky.

use regex::Regex;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

use crate::safety::{normalize, Tier};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Mode {
    Greeting,
    MirrorLearning,
    Educational,
    Urgency,
    Fundraising,
}

impl Mode {
    pub const ALL: [Mode; 5] = [
        Mode::Greeting,
        Mode::MirrorLearning,
        Mode::Educational,
        Mode::Urgency,
        Mode::Fundraising,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Greeting => "GREETING",
            Mode::MirrorLearning => "MIRROR_LEARNING",
            Mode::Educational => "EDUCATIONAL",
            Mode::Urgency => "URGENCY",
            Mode::Fundraising => "FUNDRAISING",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// How many later messages a fundraising topic keeps FUNDRAISING mode without a new mention.
pub const FUNDRAISING_STICKS_FOR: u8 = 5;

/// What the mode depends on, kept with the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModeState {
    pub mode: Mode,
    pub age: Option<u8>,
    pub tier: Tier,
    /// Messages left before FUNDRAISING lapses.
    pub fundraising_left: u8,
}

impl Default for ModeState {
    fn default() -> Self {
        ModeState {
            mode: Mode::Greeting,
            age: None,
            tier: Tier::NONE,
            fundraising_left: 0,
        }
    }
}

fn urgent() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        crate::safety::normalize::regex(r"\b(?:urgent|urgently|emergency|emergencies|help me now|need help right now|sos)\b").unwrap()
    })
}

fn not_urgent() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| crate::safety::normalize::regex(r"\b(?:not|no|nothing|isn'?t|is not|wasn'?t) (?:an? )?(?:urgent|emergency)\b|\bemergency (?:room visit|drill|contact|exit|kit|brake)s?\b").unwrap())
}

fn fundraising() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        crate::safety::normalize::regex(r"\b(?:fundrais\w*|donat(?:e|es|ed|ing|ion|ions)|sponsor(?:s|ed|ing|ship)?|charity|charities|crowdfund\w*|gofundme|bake sale|(?:raise|raising|raised) (?:some |enough |more )?(?:money|funds|cash|\$\d+|\d+ dollars)|(?:build|building|make|making) (?:a|an|the|some) (?:\w+ ){0,2}for (?:the )?(?:homeless|animals|animal shelter|shelter|community|charity|kids in need|children in need|refugees|orphans|village|hospital|cause|people in need))").unwrap()
    })
}

/// The reason a mode was chosen, as sent in `mode_changed`.
pub type Reason = &'static str;

/// Compiles the mode patterns now rather than on the first message.
pub fn prepare() {
    urgent();
    not_urgent();
    fundraising();
}

/// Updates the mode for one message, given the session's age and tier after it.
pub fn next(state: &mut ModeState, text: &str) -> Option<(Mode, Mode, Reason)> {
    let norm = normalize::basic(text);
    let previous = state.mode;
    let said_urgent = urgent().is_match(&norm) && !not_urgent().is_match(&norm);
    if fundraising().is_match(&norm) {
        state.fundraising_left = FUNDRAISING_STICKS_FOR;
    } else {
        state.fundraising_left = state.fundraising_left.saturating_sub(1);
    }
    let (mode, reason) = if previous == Mode::Urgency {
        (Mode::Urgency, "urgency stays for the rest of the session")
    } else if state.tier.is_crisis() {
        (Mode::Urgency, "safety tier 3")
    } else if said_urgent {
        (Mode::Urgency, "the user said it is urgent")
    } else if state.fundraising_left > 0 {
        (Mode::Fundraising, "fundraising topic")
    } else {
        match state.age {
            Some(a) if a <= 12 => (Mode::MirrorLearning, "age 12 or younger"),
            Some(_) => (Mode::Educational, "age 13 or older"),
            None => (Mode::Greeting, "age not known yet"),
        }
    };
    state.mode = mode;
    (mode != previous).then_some((mode, previous, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(state: &mut ModeState, text: &str) -> Mode {
        next(state, text);
        state.mode
    }

    #[test]
    fn priority_and_stickiness() {
        let mut s = ModeState::default();
        assert_eq!(run(&mut s, "hi"), Mode::Greeting);
        s.age = Some(9);
        assert_eq!(run(&mut s, "i'm 9"), Mode::MirrorLearning);
        assert_eq!(run(&mut s, "we want to raise money to build a well"), Mode::Fundraising);
        assert_eq!(run(&mut s, "how do we start?"), Mode::Fundraising);
        assert_eq!(run(&mut s, "this is urgent"), Mode::Urgency);
        assert_eq!(run(&mut s, "never mind, it's fine"), Mode::Urgency);
        let mut t = ModeState {
            age: Some(15),
            ..Default::default()
        };
        assert_eq!(run(&mut t, "hello"), Mode::Educational);
        t.tier = Tier::CRISIS;
        assert_eq!(run(&mut t, "..."), Mode::Urgency);
    }

    #[test]
    fn fundraising_needs_whole_words() {
        for t in [
            "I want a refund",
            "that's fundamental",
            "I like building blocks",
            "donuts are great",
        ] {
            let mut s = ModeState::default();
            assert_eq!(run(&mut s, t), Mode::Greeting, "{t}");
        }
        for t in [
            "we're having a fundraiser",
            "can I donate my toys",
            "my mom will sponsor me",
            "we want to raise money to build a school",
            "building a house for the homeless",
        ] {
            let mut s = ModeState::default();
            assert_eq!(run(&mut s, t), Mode::Fundraising, "{t}");
        }
    }

    #[test]
    fn the_change_is_reported_once() {
        let mut s = ModeState {
            age: Some(30),
            ..Default::default()
        };
        assert_eq!(next(&mut s, "hi"), Some((Mode::Educational, Mode::Greeting, "age 13 or older")));
        assert_eq!(next(&mut s, "hi again"), None);
        assert_eq!(next(&mut s, "it's not an emergency"), None);
    }
}
