//! Safety reviewers' tool: classify messages, or score a labelled corpus.
//!
//! `mia-classify < messages` reads JSON lines `{"text": …}` (or plain lines) and writes
//! one JSON line each: `tier`, `categories`, `rules`, `session_tier`, `age`, `mode`,
//! `scores`. Lines that share a `"session"` are one conversation, in order: context
//! across its messages, and `session_tier` never drops.
//! `mia-classify --summary FILE` scores a labelled JSON-lines file (`{"text","tier"}`
//! and/or `{"text","age"}`) and exits 1 when a threshold is missed.

use std::collections::HashMap;
use std::io::{self, BufRead, Write};
use std::process::ExitCode;

use mia_server::evaluation;

const USAGE: &str = "usage: mia-classify [--features | --summary FILE [--min-tier3-recall R] [--min-tier2-recall R] [--max-tier1-fp R] [--min-age-accuracy R] [--misses]]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => classify_stdin(),
        Some("--summary") => match args.get(1) {
            Some(file) => summary(file, &args[2..]),
            None => usage(),
        },
        Some("--features") => features_stdin(),
        Some("-h" | "--help") => {
            let _ = writeln!(io::stdout(), "{USAGE}");
            ExitCode::SUCCESS
        }
        Some(_) => usage(),
    }
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}

fn classify_stdin() -> ExitCode {
    let stdin = io::stdin();
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut conversations: HashMap<String, evaluation::Conversation> = HashMap::new();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { return ExitCode::from(1) };
        if line.trim().is_empty() {
            continue;
        }
        let (text, session) = parse_line(&line);
        let verdict = match session {
            Some(id) => conversations.entry(id).or_default().verdict(&text),
            None => evaluation::verdict(&text),
        };
        if writeln!(out, "{}", evaluation::verdict_line(&verdict, &text, true)).is_err() {
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

/// The learned model's input features of each line, for `training/train.py`.
fn features_stdin() -> ExitCode {
    let mut out = io::BufWriter::new(io::stdout().lock());
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { return ExitCode::from(1) };
        if line.trim().is_empty() {
            continue;
        }
        let (text, _) = parse_line(&line);
        let (f, matched) = mia_server::safety::features(&text);
        let rules: Vec<(&str, &str)> = matched.iter().map(|(c, id)| (c.as_str(), *id)).collect();
        let json = serde_json::json!({ "pieces": f.pieces, "hashes": f.hashes, "rules": rules });
        if writeln!(out, "{json}").is_err() {
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

/// A JSON line's `text` (else the line itself) and its `session`, if it names one.
fn parse_line(line: &str) -> (String, Option<String>) {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
        return (line.to_string(), None);
    };
    let text = v.get("text").and_then(|t| t.as_str()).unwrap_or(line).to_string();
    let session = v.get("session").map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_string));
    (text, session)
}

fn threshold(args: &[String], name: &str, default: f64) -> Result<f64, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} needs a number")),
    }
}

fn summary(file: &str, args: &[String]) -> ExitCode {
    let contents = match std::fs::read_to_string(file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mia-classify: cannot read {file}: {e}");
            return ExitCode::from(2);
        }
    };
    let items = match evaluation::parse(&contents) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("mia-classify: {file}: {e}");
            return ExitCode::from(2);
        }
    };
    let limits = (|| -> Result<_, String> {
        Ok((
            threshold(args, "--min-tier3-recall", 0.98)?,
            threshold(args, "--min-tier2-recall", 0.95)?,
            threshold(args, "--max-tier1-fp", 0.03)?,
            threshold(args, "--min-age-accuracy", 0.9)?,
        ))
    })();
    let Ok((r3, r2, fp1, age)) = limits else {
        eprintln!("mia-classify: {}", limits.unwrap_err());
        return ExitCode::from(2);
    };
    let s = evaluation::score(&items);
    // Printing stops quietly if the reader goes away (`| head`).
    let mut out = io::stdout().lock();
    let [n1, n2, n3] = s.tier_counts;
    let _ = writeln!(
        out,
        "corpus: {file}: {} messages ({n3} tier 3, {n2} tier 2, {n1} tier 1, {} with an age label)",
        items.len(),
        s.age_count
    );
    let rows = [
        ("tier-3 recall", s.tier3_recall, r3, s.tier3_recall >= r3, ">="),
        ("tier-2 recall (flagged >= 2)", s.tier2_recall, r2, s.tier2_recall >= r2, ">="),
        (
            "tier-1 false-positive rate",
            s.tier1_false_positive_rate,
            fp1,
            s.tier1_false_positive_rate <= fp1,
            "<=",
        ),
        ("age accuracy", s.age_accuracy, age, s.age_accuracy >= age, ">="),
    ];
    for (name, value, limit, ok, op) in rows {
        let _ = writeln!(
            out,
            "{name:<30} {value:.4}  (target {op} {limit})  {}",
            if ok { "ok" } else { "MISSED" }
        );
    }
    let _ = writeln!(out, "tier-2 classified exactly 2      {:.4}", s.tier2_exact);
    let [c1, c2, c3] = s.session_counts;
    if c1 + c2 + c3 > 0 {
        let _ = writeln!(
            out,
            "conversations: {} ({c3} tier 3): tier-3 recall {:.4}, raised to 3 wrongly {:.4}",
            c1 + c2 + c3,
            s.session_tier3_recall,
            s.session_false_raise_rate
        );
    }
    if args.iter().any(|a| a == "--misses") || rows.iter().any(|r| !r.3) {
        for (want, got, text) in &s.misses {
            let _ = writeln!(out, "  miss: want {want}, got {got}: {text}");
        }
    } else {
        let _ = writeln!(out, "{} misses (--misses lists them)", s.misses.len());
    }
    if rows.iter().all(|r| r.3) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
