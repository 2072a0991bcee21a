//! Conversation context: danger that builds over several messages raises the tier even
//! when no single message reaches it ("nothing gets better" one day, "thanks for
//! everything, bye" a few messages later).
//!
//! For each danger category (tier 3) the model's probability of each recent user
//! message is read relative to training's threshold for that category (the one these
//! constants were calibrated with, [`model::Model::context_reference`]), capped at 1, and summed
//! with a decay per message back: `evidence = Σₖ DECAY^k · min(pₖ / threshold, 1)` over
//! the last [`WINDOW`] messages, the current one at k = 0. The category is raised when
//! the evidence reaches [`RAISE_AT`], and both the current message and the earlier ones
//! (their decayed sum) reach [`FLOOR`]: the message that tips it leans the same way, and
//! something before it did too. Calibrated on
//! `training/sessions/` by `training/calibrate_context.py`; the session tier that
//! results is never lowered.

use std::collections::VecDeque;

use super::labels::Category;
use super::model::{self, Scores, CATEGORIES};
use super::Assessment;

/// How many user messages the context reads, the current one included (3, a decay of 0.6,
/// a raise at 1.0 and a floor of 0.2 for the round-21 model: 128 of 136 dangerous
/// calibration conversations, 34 of 97 safe ones raised).
pub const WINDOW: usize = 3;
/// Weight of a message one step further back.
pub const DECAY: f32 = 0.6;
/// Evidence that raises a category.
pub const RAISE_AT: f32 = 1.0;
/// What the current message must reach on its own, relative to the threshold.
pub const FLOOR: f32 = 0.2;

/// The recent user messages' scores of one conversation, newest last.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    recent: VecDeque<Scores>,
}

impl Context {
    /// A context that has already seen these scores, oldest first.
    pub fn from_scores(scores: impl IntoIterator<Item = Scores>) -> Context {
        let mut recent: VecDeque<Scores> = scores.into_iter().collect();
        while recent.len() > WINDOW {
            recent.pop_front();
        }
        Context { recent }
    }

    /// Classifies a message of this conversation: the message on its own
    /// ([`super::classify`]), then the danger categories the window raises with it
    /// (reported as `context.<category>`).
    pub fn classify(&mut self, text: &str) -> Assessment {
        let mut a = super::classify(text);
        for category in self.observe(a.scores) {
            a.flag(category, category.context_id());
        }
        a
    }

    /// Adds the current message's scores; the danger categories the window now raises.
    fn observe(&mut self, scores: Scores) -> Vec<Category> {
        if self.recent.len() == WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(scores);
        self.raised(model::get().context_reference())
    }

    fn raised(&self, thresholds: &[f32]) -> Vec<Category> {
        let Some(current) = self.recent.back() else { return Vec::new() };
        CATEGORIES
            .iter()
            .enumerate()
            .filter(|(_, c)| c.tier() == 3)
            .filter(|&(i, _)| {
                let rel = |s: &Scores| (s[i] / thresholds[i]).min(1.0);
                let earlier: f32 = self
                    .recent
                    .iter()
                    .rev()
                    .enumerate()
                    .skip(1)
                    .map(|(k, s)| DECAY.powi(k as i32) * rel(s))
                    .sum();
                rel(current) >= FLOOR && earlier >= FLOOR && rel(current) + earlier >= RAISE_AT
            })
            .map(|(_, c)| *c)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TH: [f32; 5] = [0.5; 5];

    fn ctx(history: &[f32]) -> Context {
        Context {
            recent: history.iter().map(|&p| [p, 0.0, 0.0, 0.0, 0.0]).collect(),
        }
    }

    #[test]
    fn one_leaning_message_alone_raises_nothing() {
        assert!(ctx(&[0.3]).raised(&TH).is_empty());
    }

    #[test]
    fn leaning_messages_in_a_row_raise_suicide() {
        // Relative 0.6 each: 0.6 + 0.6·0.6 + 0.36·0.6 = 1.18 ≥ 1.0; two alone make 0.96.
        assert!(ctx(&[0.3, 0.3]).raised(&TH).is_empty());
        assert_eq!(ctx(&[0.3, 0.3, 0.3]).raised(&TH), vec![Category::Suicide]);
    }

    #[test]
    fn a_message_flagged_alone_needs_no_context() {
        // Nothing before it: the context adds nothing (the model flags it by itself).
        assert!(ctx(&[0.9]).raised(&TH).is_empty());
        assert!(ctx(&[0.0, 0.0, 0.9]).raised(&TH).is_empty());
    }

    #[test]
    fn the_tipping_message_must_lean_too() {
        // Earlier messages at the threshold, the current one neutral: no raise from it.
        assert!(ctx(&[0.5, 0.5, 0.05]).raised(&TH).is_empty());
        // The same current message leaning a little more tips it.
        assert_eq!(ctx(&[0.5, 0.5, 0.3]).raised(&TH), vec![Category::Suicide]);
    }

    #[test]
    fn old_messages_fade_and_leave_the_window() {
        let with = |gap: usize| {
            let mut h = vec![0.5];
            h.extend(vec![0.0; gap]);
            h.push(0.5);
            Context::from_scores(h.into_iter().map(|p| [p, 0.0, 0.0, 0.0, 0.0]))
        };
        // A message at the threshold WINDOW - 1 messages back still counts, faded...
        assert_eq!(with(WINDOW - 2).raised(&TH), vec![Category::Suicide]);
        // ...one more back, it has left the window.
        let gone = with(WINDOW - 1);
        assert_eq!(gone.recent.len(), WINDOW);
        assert!(gone.raised(&TH).is_empty());
    }

    #[test]
    fn substances_are_never_raised_by_context() {
        let c = Context {
            recent: vec![[0.0, 0.0, 0.0, 0.0, 0.4]; 4].into(),
        };
        assert!(c.raised(&TH).is_empty());
    }

    #[test]
    fn observe_keeps_at_most_the_window() {
        let mut c = Context::default();
        for _ in 0..WINDOW + 3 {
            c.observe([0.0; 5]);
        }
        assert_eq!(c.recent.len(), WINDOW);
    }
}
