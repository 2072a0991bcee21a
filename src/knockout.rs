//! Measurement only: parts of a message's work switched off one at a time, so that the bench
//! can say what each costs in the Worker (`bench/compare.mjs`, README "Benchmarks").
//!
//! Compiled in only with the cargo feature `knockout`, which no script, test or deployment
//! sets (`bench/build-variant.sh` does, for a build folder of its own); without it every part
//! is always on and [`off`] is a constant `false`. A `knockout` build reads `MIA_KNOCKOUT`, a
//! comma list of [`Part`] names, when a Durable Object starts.

/// A part of a message's work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The moderation request: answered at once as "not flagged", without a `fetch`.
    Moderation,
    /// Every SQLite write (messages, replies, partial replies, session row, safety events).
    Storage,
    /// The partial-reply saves while a reply streams (the other writes stay).
    PartialSaves,
    /// The classifiers: safety tier (rules, model, context), age and mode.
    Classify,
}

impl Part {
    const ALL: [Part; 4] = [Part::Moderation, Part::Storage, Part::PartialSaves, Part::Classify];

    pub fn name(self) -> &'static str {
        match self {
            Part::Moderation => "moderation",
            Part::Storage => "storage",
            Part::PartialSaves => "partial-saves",
            Part::Classify => "classify",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The parts a `MIA_KNOCKOUT` value names, as a set; unknown names are an error.
pub fn parse(list: &str) -> Result<u8, String> {
    let mut set = 0;
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let part = Part::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| format!("unknown MIA_KNOCKOUT part {name:?}"))?;
        set |= part.bit();
    }
    Ok(set)
}

#[cfg(feature = "knockout")]
mod switch {
    use std::cell::Cell;

    thread_local! {
        static OFF: Cell<u8> = const { Cell::new(0) };
    }

    pub fn set(parts: u8) {
        OFF.with(|o| o.set(parts));
    }

    pub fn get() -> u8 {
        OFF.with(Cell::get)
    }
}

/// Switches off the parts `list` names (a `knockout` build only; otherwise nothing happens).
pub fn set_from(list: &str) -> Result<(), String> {
    let _parts = parse(list)?;
    #[cfg(feature = "knockout")]
    switch::set(_parts);
    Ok(())
}

/// Whether `part` is switched off: always `false` without the `knockout` feature.
#[inline(always)]
pub fn off(_part: Part) -> bool {
    #[cfg(feature = "knockout")]
    return switch::get() & _part.bit() != 0;
    #[cfg(not(feature = "knockout"))]
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_to_a_set() {
        assert_eq!(parse("").unwrap(), 0);
        assert_eq!(parse("moderation").unwrap(), Part::Moderation.bit());
        assert_eq!(parse("storage, classify").unwrap(), Part::Storage.bit() | Part::Classify.bit());
        assert!(parse("storage,everything").unwrap_err().contains("everything"));
    }

    #[cfg(not(feature = "knockout"))]
    #[test]
    fn without_the_feature_nothing_is_off() {
        set_from("moderation,storage,partial-saves,classify").unwrap();
        assert!(Part::ALL.into_iter().all(|p| !off(p)));
    }
}
