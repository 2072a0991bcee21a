//! Self-declared age (CONTRACT §7): "I'm 9", "I am nine", "9yo", "my age is 9",
//! "I just turned 13", "almost 14", "turning 10 tomorrow", school grades. Numbers
//! about other people, the past, time, scores or levels are not ages.

use regex::{Captures, Regex};
use std::sync::OnceLock;

use crate::normalize;

const NUM: &str = r"(\d{1,3}|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[ -](?:one|two|three|four|five|six|seven|eight|nine))?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen)";
/// What may follow a number that is an age (end, punctuation, or ordinary words).
const AFTER: &str = r"(?:$|[\s,.!?;)]|\s*(?:years?|yrs?|yo\b|y/o|y\.o))";
/// What, after the number, shows it is not an age.
const NOT_AGE_AFTER: &str = r"^\s*(?:%|percent|minutes?|mins?|hours?|hrs?|seconds?|secs?|days?|weeks?|months?|o'?clock|am\b|pm\b|:\d|out of|/\s*\d|of (?:\d|ten)|points?|pts|feet|foot|ft|inches|in\b|cm|kg|lbs?|pounds?|miles?|km|dollars|bucks|times|th\b|st\b|nd\b|rd\b|x\b|-\d|\.\d|[''\x22]\s*\d|steps?|blocks?|stars?|kids|children|people|friends|followers)";

struct Pattern {
    re: Regex,
    /// Added to the stated number: "almost 14" → 13.
    offset: i32,
}

fn patterns() -> &'static [Pattern] {
    static P: OnceLock<Vec<Pattern>> = OnceLock::new();
    P.get_or_init(|| {
        let p = |s: &str, offset| Pattern {
            re: crate::normalize::regex(&s.replace("{N}", NUM).replace("{AFTER}", AFTER)).unwrap_or_else(|e| panic!("{s}: {e}")),
            offset,
        };
        vec![
            p(r"\b(?:i'?m|i am|iam) (?:almost|nearly|about to (?:be|turn)) {N}{AFTER}", -1),
            p(r"(?:^|\b(?:and|but|im|i'?m|i am|tho|though)\s)(?:almost|nearly) {N}{AFTER}", -1),
            p(r"\b(?:i'?m |i am |im )?turning {N} (?:tomorrow|next|soon|this|on|in)\b", -1),
            p(r"\bi (?:just |recently )?turned {N}{AFTER}", 0),
            p(r"\b(?:i'?m|i am|iam) (?:only |just |now |actually |really )?{N}{AFTER}", 0),
            p(r"\b(?:my age is|my age'?s|age is|age:|age) {N}\b", 0),
            p(
                r"(?:^|\bi'?m |\bi am |\bim |\band |,\s*){N} ?(?:years? old|yrs? old|yo\b|y/o|y\.o\.?)",
                0,
            ),
            p(r"^{N}\s*(?:$|[!.]|years|yrs|yo\b)", 0),
        ]
    })
}

fn grades() -> &'static [(Regex, u8)] {
    static G: OnceLock<Vec<(Regex, u8)>> = OnceLock::new();
    G.get_or_init(|| {
        vec![
            (crate::normalize::regex(r"\b(?:in|a|an) (?:the )?(1st|2nd|3rd|\d{1,2}th|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth) grade(?:r)?\b|\b(1st|2nd|3rd|\d{1,2}th|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth) grader\b|\bin grade (\d{1,2})\b").unwrap(), 0),
            (crate::normalize::regex(r"\b(?:in|a) (?:the )?year (\d{1,2})\b").unwrap(), 1),
            (crate::normalize::regex(r"\b(?:in|at) (?:kindergarten|kinder)\b").unwrap(), 2),
            (crate::normalize::regex(r"\b(?:in|at|go to|started) (?:middle school|junior high)\b|\bmiddle schooler\b").unwrap(), 3),
            (crate::normalize::regex(r"\b(?:i'?m|i am|im) a freshman\b|\bfreshman (?:in|at) high school\b|\bfreshman year\b|^freshman\b").unwrap(), 4),
            (crate::normalize::regex(r"\b(?:i'?m|i am|im) a sophomore\b|\bsophomore (?:in|at) high school\b").unwrap(), 5),
            (crate::normalize::regex(r"\bjunior (?:in|at) high school\b|\b(?:i'?m|i am|im) a junior in high\b").unwrap(), 6),
            (crate::normalize::regex(r"\bsenior (?:in|at) high school\b|\b(?:i'?m|i am|im) a senior in high\b").unwrap(), 7),
        ]
    })
}

/// Earlier in the sentence: someone else, or the past.
fn third_party_or_past() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        crate::normalize::regex(r"\b(?:my|his|her|their|our|your) (?:\w+ )?(?:brother|sister|sis|bro|friend|cousin|mom|mum|dad|son|daughter|kid|baby|dog|cat|pet|grandma|grandpa|teacher|neighbou?r|boyfriend|girlfriend|classmate|bff)\w*(?: is| was|'s| turned| turns)?\s*$|\b(?:he|she|they|it|who|which)(?:'s| is| was| are| were| turned| turns)?\s*$|\b(?:i was|when i was|back when|used to be|was in|when i turned)\b[^.!?]{0,30}$|\b(?:level|lvl|page|chapter|room|bus|number|no\.|#|score|grade of|got a|got an|rated|rate it|version|season|episode|ep|day|week|in|for|about|over|under|than|like|size|gen|generation|team|top|class of)\s*$").unwrap()
    })
}

fn number(word: &str) -> Option<i32> {
    if let Ok(n) = word.parse::<i32>() {
        return Some(n);
    }
    const UNITS: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 8] = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
    if let Some(i) = UNITS.iter().position(|u| *u == word) {
        return Some(i as i32);
    }
    let mut parts = word.split([' ', '-']);
    let tens = TENS.iter().position(|t| Some(*t) == parts.next())? as i32;
    let unit = match parts.next() {
        Some(u) => UNITS.iter().position(|x| *x == u)? as i32,
        None => 0,
    };
    Some(20 + tens * 10 + unit)
}

fn ordinal(word: &str) -> Option<i32> {
    const ORD: [&str; 12] = [
        "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth",
    ];
    if let Some(i) = ORD.iter().position(|o| *o == word) {
        return Some(i as i32 + 1);
    }
    word.trim_end_matches(|c: char| c.is_alphabetic()).parse().ok()
}

/// Compiles every pattern now rather than on the first message.
pub fn prepare() {
    patterns();
    grades();
    third_party_or_past();
    detect_in("");
}

/// The age a message states about its writer, if any (3–120).
pub fn detect(text: &str) -> Option<u8> {
    let norm = normalize::basic(text);
    for sentence in norm.split(['.', '!', '?', ';', '\n']) {
        if let Some(age) = detect_in(sentence.trim()) {
            return Some(age);
        }
    }
    None
}

fn detect_in(s: &str) -> Option<u8> {
    static NOT_AFTER: OnceLock<Regex> = OnceLock::new();
    let not_after = NOT_AFTER.get_or_init(|| crate::normalize::regex(NOT_AGE_AFTER).unwrap());
    for p in patterns() {
        for caps in p.re.captures_iter(s) {
            let whole = caps.get(0)?;
            let n = caps.get(1)?;
            if third_party_or_past().is_match(&s[..whole.start()]) {
                continue;
            }
            let after = &s[n.end()..];
            let says_years = after.trim_start().starts_with("year")
                || after.trim_start().starts_with("yr")
                || after.trim_start().starts_with("yo")
                || after.trim_start().starts_with("y/o");
            if !says_years && not_after.is_match(after) {
                continue;
            }
            if let Some(age) = number(n.as_str()).map(|v| v + p.offset).filter(|a| (3..=120).contains(a)) {
                return Some(age as u8);
            }
        }
    }
    for (re, kind) in grades() {
        if let Some(caps) = re.captures(s) {
            if third_party_or_past().is_match(&s[..caps.get(0)?.start()]) {
                continue;
            }
            if let Some(age) = grade_age(*kind, &caps) {
                return Some(age);
            }
        }
    }
    None
}

fn grade_age(kind: u8, caps: &Captures) -> Option<u8> {
    let grade = || (1..=3).find_map(|i| caps.get(i)).and_then(|m| ordinal(m.as_str()));
    let age = match kind {
        0 => grade()? + 5,
        1 => grade()? + 4,
        2 => 5,
        3 => 12,
        4 => 14,
        5 => 15,
        6 => 16,
        _ => 17,
    };
    (4..=19).contains(&age).then_some(age as u8)
}

/// Age band for prompts and modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Band {
    Unknown,
    Child,
    Teen,
    Adult,
}

impl Band {
    pub fn of(age: Option<u8>) -> Band {
        match age {
            None => Band::Unknown,
            Some(a) if a <= 12 => Band::Child,
            Some(a) if a <= 17 => Band::Teen,
            Some(_) => Band::Adult,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Band::Unknown => "unknown age",
            Band::Child => "a child (12 or younger)",
            Band::Teen => "a teenager (13 to 17)",
            Band::Adult => "an adult (18 or older)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_ages() {
        let cases: &[(&str, u8)] = &[
            ("I'm 9", 9),
            ("im 9", 9),
            ("I\u{2019}m 9", 9),
            ("I am nine", 9),
            ("9 years old", 9),
            ("9yo", 9),
            ("age: 9", 9),
            ("my age is 9", 9),
            ("I just turned 13", 13),
            ("almost 14", 13),
            ("turning 10 tomorrow", 9),
            ("I'm in 3rd grade", 8),
            ("in 3rd grade", 8),
            ("I'm in middle school", 12),
            ("I'm a freshman", 14),
        ];
        for (t, want) in cases {
            assert_eq!(detect(t), Some(*want), "{t}");
        }
    }

    #[test]
    fn contract_non_ages() {
        for t in [
            "5 minutes away",
            "I'm 100% sure",
            "7 out of 10",
            "level 12",
            "my brother is 8",
            "I was 8 when we moved",
            "it's 9 o'clock",
            "I'm 5 minutes away",
            "we have 2 dogs",
        ] {
            assert_eq!(detect(t), None, "{t}");
        }
    }
}
