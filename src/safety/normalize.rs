//! Text normalisation shared by the safety and age detectors: case, quotes,
//! stretched letters, leetspeak, spaced-out words and chat abbreviations.

/// Compiles a rule pattern for the lower-cased text the detectors read, with ASCII word
/// classes: `\b`, `\w`, `\d` and `\s` mean their ASCII forms, which keeps compilation
/// fast and the wasm small (no Unicode tables).
pub fn regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(&ascii(pattern))
}

/// The pattern `regex` compiles: `\b`, `\w`, `\d` and `\s` in their ASCII forms.
pub fn ascii(pattern: &str) -> String {
    pattern
        .replace(r"\b", r"(?-u:\b)")
        .replace(r"\w", "[0-9a-z_]")
        .replace(r"\d", "[0-9]")
        .replace(r"\s", r"[ \t\n]")
}

/// Lower case, straight quotes, single spaces.
pub fn basic(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last_space = true;
    for c in text.chars() {
        let c = match c {
            '\u{2018}' | '\u{2019}' | '\u{201B}' | '\u{2032}' | '`' | '\u{00B4}' => '\'',
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{2033}' => '"',
            '\u{2013}' | '\u{2014}' => '-',
            c if c.is_whitespace() => ' ',
            c => c,
        };
        if c == ' ' {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
            continue;
        }
        last_space = false;
        out.extend(c.to_lowercase());
    }
    out.trim_end().to_string()
}

/// The form the safety rules read: `basic`, then leetspeak inside words, runs of three
/// or more of a letter cut to one, spaced or dotted single letters joined, and chat
/// abbreviations expanded.
pub fn for_safety(text: &str) -> String {
    let text = basic(text);
    let text = join_spelled_out(&text);
    let words: Vec<String> = text.split(' ').map(unleet).collect();
    let text = squeeze_runs(&words.join(" "));
    expand_abbreviations(&text)
}

fn unleet(word: &str) -> String {
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    let digits = word.chars().filter(|c| c.is_ascii_digit()).count();
    // Only words that mix letters with look-alike symbols: "k1ll", "d13", "$uicide".
    if letters == 0 || (digits == 0 && !word.contains(['@', '$', '!'])) || word.chars().all(|c| c.is_ascii_digit()) {
        return word.to_string();
    }
    let core_len = word.trim_end_matches(['!', '?', '.', ',']).len();
    word.char_indices()
        .map(|(i, c)| {
            if i >= core_len {
                return c;
            }
            match c {
                '0' => 'o',
                '1' | '!' => 'i',
                '3' => 'e',
                '4' | '@' => 'a',
                '5' | '$' => 's',
                '7' => 't',
                c => c,
            }
        })
        .collect()
}

/// "k i l l" / "k.i.l.l" / "k-i-l-l" → "kill" (three or more single letters).
fn join_spelled_out(text: &str) -> String {
    let tokens: Vec<&str> = text.split(' ').collect();
    let mut out: Vec<String> = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    let flush = |run: &mut Vec<&str>, out: &mut Vec<String>| {
        if run.len() >= 3 {
            out.push(run.concat());
        } else {
            out.extend(run.iter().map(|s| s.to_string()));
        }
        run.clear();
    };
    for tok in tokens {
        let single = tok.chars().count() == 1 && tok.chars().all(|c| c.is_alphabetic()) && tok != "i" && tok != "a";
        if single || (tok.chars().count() == 1 && !run.is_empty() && tok.chars().all(|c| c.is_alphabetic())) {
            run.push(tok);
        } else {
            flush(&mut run, &mut out);
            out.push(dotted(tok));
        }
    }
    flush(&mut run, &mut out);
    out.join(" ")
}

fn dotted(tok: &str) -> String {
    let parts: Vec<&str> = tok.split(['.', '-', '*', '_']).collect();
    if parts.len() >= 3 && parts.iter().all(|p| p.chars().count() == 1 && p.chars().all(|c| c.is_alphabetic())) {
        parts.concat()
    } else {
        tok.to_string()
    }
}

/// Runs of three or more of the same letter become one letter ("soooo" → "so").
/// Doubled letters stay, so rules write them as `l+` to match both.
fn squeeze_runs(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut j = i;
        while j < chars.len() && chars[j] == c {
            j += 1;
        }
        let n = j - i;
        if c.is_alphabetic() && n >= 3 {
            out.push(c);
        } else {
            out.extend(&chars[i..j]);
        }
        i = j;
    }
    out
}

const ABBREVIATIONS: &[(&str, &str)] = &[
    ("kms", "kill myself"),
    ("kmsl", "kill myself"),
    ("sewerslide", "suicide"),
    ("sewer slide", "suicide"),
    ("self delete", "kill myself"),
    ("self-delete", "kill myself"),
    ("sh", "self harm"),
    ("idwtl", "i do not want to live"),
    ("idw2l", "i do not want to live"),
    ("wanna", "want to"),
    ("wana", "want to"),
    ("gonna", "going to"),
    ("gona", "going to"),
    ("tryna", "trying to"),
    ("im", "i am"),
    ("i'm", "i am"),
    ("iam", "i am"),
    ("ive", "i have"),
    ("i've", "i have"),
    ("i'd", "i would"),
    ("they'd", "they would"),
    ("we'd", "we would"),
    ("you'd", "you would"),
    ("he'd", "he would"),
    ("he'll", "he will"),
    ("she'll", "she will"),
    ("they'll", "they will"),
    ("she'd", "she would"),
    ("i'll", "i will"),
    ("dont", "do not"),
    ("don't", "do not"),
    ("doesnt", "does not"),
    ("doesn't", "does not"),
    ("cant", "cannot"),
    ("can't", "cannot"),
    ("wont", "will not"),
    ("won't", "will not"),
    ("wouldnt", "would not"),
    ("wouldn't", "would not"),
    ("didnt", "did not"),
    ("didn't", "did not"),
    ("isnt", "is not"),
    ("isn't", "is not"),
    ("it's", "it is"),
    ("its", "it is"),
    ("he's", "he is"),
    ("she's", "she is"),
    ("they're", "they are"),
    ("theyre", "they are"),
    ("u", "you"),
    ("ur", "your"),
    ("r", "are"),
    ("rn", "right now"),
    ("tmrw", "tomorrow"),
    ("tmr", "tomorrow"),
    ("2morrow", "tomorrow"),
    ("bc", "because"),
    ("cuz", "because"),
    ("coz", "because"),
    ("myslf", "myself"),
    ("meself", "myself"),
    ("my self", "myself"),
    ("mom's", "moms"),
    ("wasnt", "was not"),
    ("wasn't", "was not"),
    ("what's", "what is"),
    ("dad's", "dads"),
    ("nite", "night"),
    ("tonite", "tonight"),
    ("drinkin", "drinking"),
    ("smokin", "smoking"),
    ("vapin", "vaping"),
    ("gettin", "getting"),
    ("pls", "please"),
    ("plz", "please"),
    ("ppl", "people"),
    ("abt", "about"),
    ("w/", "with"),
    ("b4", "before"),
    ("2", "to"),
];

fn expand_abbreviations(text: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let tokens: Vec<&str> = text.split(' ').collect();
    let mut i = 0;
    'outer: while i < tokens.len() {
        // Two-word abbreviations first.
        if i + 1 < tokens.len() {
            let pair = format!("{} {}", tokens[i], strip_punct(tokens[i + 1]).0);
            for (from, to) in ABBREVIATIONS {
                if from.contains(' ') && pair == *from {
                    words.push(format!("{to}{}", strip_punct(tokens[i + 1]).1));
                    i += 2;
                    continue 'outer;
                }
            }
        }
        let (core, tail) = strip_punct(tokens[i]);
        // "2" alone only between words ("want 2 die"), never in numbers.
        let replaced = ABBREVIATIONS
            .iter()
            .find(|(from, _)| *from == core && (core != "2" || between_words(&tokens, i)))
            .map(|(_, to)| format!("{to}{tail}"));
        words.push(replaced.unwrap_or_else(|| tokens[i].to_string()));
        i += 1;
    }
    words.join(" ")
}

/// "want 2 die": a lone "2" before a verb that matters here.
fn between_words(tokens: &[&str], i: usize) -> bool {
    const VERBS: &[&str] = &[
        "die",
        "live",
        "be",
        "kill",
        "hurt",
        "end",
        "cut",
        "disappear",
        "exist",
        "sleep",
        "wake",
        "go",
        "stop",
    ];
    let word = |t: Option<&&str>| t.is_some_and(|t| t.chars().any(|c| c.is_alphabetic()));
    i > 0 && word(tokens.get(i - 1)) && tokens.get(i + 1).is_some_and(|t| VERBS.contains(&strip_punct(t).0))
}

fn strip_punct(tok: &str) -> (&str, &str) {
    let core = tok.trim_end_matches(|c: char| ",.!?;:)".contains(c));
    (core, &tok[core.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tricks_are_undone() {
        assert_eq!(for_safety("I wanna K1LL myselfff"), "i want to kill myself");
        assert_eq!(for_safety("k i l l  m y s e l f"), "killmyself");
        assert_eq!(for_safety("s.u.i.c.i.d.e"), "suicide");
        assert_eq!(for_safety("kms rn"), "kill myself right now");
        assert_eq!(for_safety("I’m sooooo done"), "i am so done");
        assert_eq!(for_safety("i want 2 die"), "i want to die");
        assert_eq!(for_safety("we have 2 dogs"), "we have 2 dogs");
        assert_eq!(for_safety("I'm 9!"), "i am 9!");
    }

    #[test]
    fn basic_keeps_numbers_and_folds_space() {
        assert_eq!(basic("  I’M  9\tyears "), "i'm 9 years");
    }
}
