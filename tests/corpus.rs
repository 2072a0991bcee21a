//! The labelled corpus in `tests/corpus/labelled.jsonl` (the rules' regression corpus, also
//! in training) must meet its targets: tier-3 recall ≥ 0.97 (the model may veto a rule that
//! does not stand alone), tier-2 recall ≥ 0.95, tier-1 false positives ≤ 0.03 (round 6 needed
//! 0.04; round 9 flags 7 of its 251 plain look-alikes, such as "i would never hurt myself").
//! The age corpus in `tests/corpus/age.jsonl` (about 40% lines that state no age of the
//! writer) must reach age accuracy ≥ 0.97, and so must the independently written variety
//! set `tests/corpus/age-round2.jsonl`.

use mia_server::evaluation::{parse, score};

#[test]
fn labelled_corpus_meets_the_targets() {
    let items = parse(include_str!("corpus/labelled.jsonl")).expect("corpus parses");
    assert!(items.len() >= 400, "the corpus has {} messages", items.len());
    let s = score(&items);
    let misses: Vec<String> = s.misses.iter().map(|(w, g, t)| format!("want {w}, got {g}: {t}")).collect();
    assert!(s.tier3_recall >= 0.97, "tier-3 recall {:.4}\n{}", s.tier3_recall, misses.join("\n"));
    assert!(s.tier2_recall >= 0.95, "tier-2 recall {:.4}\n{}", s.tier2_recall, misses.join("\n"));
    assert!(
        s.tier1_false_positive_rate <= 0.03,
        "tier-1 FP {:.4}\n{}",
        s.tier1_false_positive_rate,
        misses.join("\n")
    );
    assert!(s.age_accuracy >= 0.9, "age accuracy {:.4}\n{}", s.age_accuracy, misses.join("\n"));
}

/// An age variety set: at least `min_lines` lines, 30% or more stating no age of the
/// writer, and age accuracy ≥ 0.97.
fn age_set_meets_the_target(name: &str, contents: &str, min_lines: usize) {
    let items = parse(contents).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(items.len() >= min_lines, "{name} has {} messages", items.len());
    let nulls = items.iter().filter(|i| i.age == Some(None)).count();
    assert!(
        nulls * 10 >= items.len() * 3,
        "{name}: only {nulls} of {} lines state no age",
        items.len()
    );
    let s = score(&items);
    assert_eq!(s.age_count, items.len(), "{name}: every line has an age label");
    let misses: Vec<String> = s.misses.iter().map(|(w, g, t)| format!("want {w}, got {g}: {t}")).collect();
    assert!(
        s.age_accuracy >= 0.97,
        "{name}: age accuracy {:.4}\n{}",
        s.age_accuracy,
        misses.join("\n")
    );
}

#[test]
fn age_corpus_meets_the_target() {
    age_set_meets_the_target("age.jsonl", include_str!("corpus/age.jsonl"), 350);
}

/// A second, independently written variety set (`age-round2.jsonl`): the detector must
/// generalise beyond the lines it was first widened against.
#[test]
fn age_round2_corpus_meets_the_target() {
    age_set_meets_the_target("age-round2.jsonl", include_str!("corpus/age-round2.jsonl"), 400);
}

#[test]
fn a_bad_corpus_line_is_named() {
    let err = parse("{\"text\":\"ok\",\"tier\":1}\n{oops}\n").unwrap_err();
    assert!(err.starts_with("line 2:"), "{err}");
}

/// The shipped weights score the training corpus as training recorded it
/// (`training/train.py` writes every tenth message's probabilities).
#[test]
fn shipped_model_scores_as_recorded() {
    let recorded = include_str!("corpus/model-recorded.jsonl");
    let mut worst = 0f32;
    let mut count = 0;
    for line in recorded.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("recorded line parses");
        let text = v["text"].as_str().expect("text");
        let want: Vec<f32> = v["scores"]
            .as_array()
            .expect("scores")
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let got = mia_server::safety::classify(text).scores;
        for (g, w) in got.iter().zip(&want) {
            worst = worst.max((g - w).abs());
        }
        count += 1;
    }
    assert!(count >= 1000, "only {count} recorded messages");
    assert!(worst <= 1e-3, "the shipped model differs from training by up to {worst}");
}

/// One independent set's floors: at least this many tier-3 and tier-1 messages, and its figures.
struct Floors {
    tier3: usize,
    tier1: usize,
    recall3: f64,
    recall2: f64,
    flagged1: f64,
    age: Option<f64>,
}

fn holds(name: &str, contents: &str, f: Floors) {
    let s = score(&parse(contents).unwrap_or_else(|e| panic!("{name}: {e}")));
    assert!(
        s.tier_counts[2] >= f.tier3 && s.tier_counts[0] >= f.tier1,
        "{name}: {:?}",
        s.tier_counts
    );
    assert!(s.tier3_recall >= f.recall3, "{name}: tier-3 recall {:.4}", s.tier3_recall);
    assert!(s.tier2_recall >= f.recall2, "{name}: tier-2 recall {:.4}", s.tier2_recall);
    assert!(
        s.tier1_false_positive_rate <= f.flagged1,
        "{name}: tier-1 flagged {:.4}",
        s.tier1_false_positive_rate
    );
    if let Some(age) = f.age {
        assert!(s.age_accuracy >= age, "{name}: age accuracy {:.4}", s.age_accuracy);
    }
}

/// The evaluation sets, each written blind by writers who saw no rule or training file, and
/// read only after it judged one change (README "How the sets were used"). Since round 21 the
/// model trains on every one of them but rounds 19–22 (sets 11–17 since round 20), so their floors
/// only catch a regression: 0.03 under the round-21 model's in-sample tier-3 recall, 0.04 under
/// its tier-2 recall, 0.02 over its tier-1 flags (more than a rebuild on another machine moves
/// them, README "Data, training and figures"). Rounds 19-22, each sealed until it judged one
/// candidate (rounds 21-24), are the sets here this model did not train on: tier-3 recall
/// 0.903, 0.897, 0.873 and 0.878, tier-2 0.892, 0.878, 0.843 and 0.894, tier-1 flagged 0.022,
/// 0.022, 0.028 and 0.016, age 0.946, 0.969, 0.946 and 0.990 (floors about 0.03 under, 0.013 over).
#[test]
fn evaluation_sets_hold_their_floors() {
    #[rustfmt::skip]
    let sets = [
        ("evaluation", include_str!("corpus/evaluation.jsonl"),
         Floors { tier3: 250, tier1: 250, recall3: 0.87, recall2: 0.93, flagged1: 0.04, age: None }),
        ("evaluation-round2", include_str!("corpus/evaluation-round2.jsonl"),
         Floors { tier3: 300, tier1: 240, recall3: 0.93, recall2: 0.90, flagged1: 0.04, age: Some(0.97) }),
        ("evaluation-round3", include_str!("corpus/evaluation-round3.jsonl"),
         Floors { tier3: 340, tier1: 280, recall3: 0.90, recall2: 0.90, flagged1: 0.05, age: Some(0.95) }),
        ("evaluation-round4", include_str!("corpus/evaluation-round4.jsonl"),
         Floors { tier3: 370, tier1: 300, recall3: 0.93, recall2: 0.85, flagged1: 0.03, age: Some(0.95) }),
        ("evaluation-round5", include_str!("corpus/evaluation-round5.jsonl"),
         Floors { tier3: 390, tier1: 330, recall3: 0.88, recall2: 0.89, flagged1: 0.03, age: Some(0.94) }),
        ("evaluation-round6", include_str!("corpus/evaluation-round6.jsonl"),
         Floors { tier3: 430, tier1: 360, recall3: 0.88, recall2: 0.87, flagged1: 0.03, age: Some(0.95) }),
        ("evaluation-round7", include_str!("corpus/evaluation-round7.jsonl"),
         Floors { tier3: 370, tier1: 300, recall3: 0.88, recall2: 0.90, flagged1: 0.03, age: Some(0.95) }),
        ("evaluation-round8", include_str!("corpus/evaluation-round8.jsonl"),
         Floors { tier3: 370, tier1: 290, recall3: 0.85, recall2: 0.86, flagged1: 0.03, age: Some(0.95) }),
        ("evaluation-round9", include_str!("corpus/evaluation-round9.jsonl"),
         Floors { tier3: 380, tier1: 360, recall3: 0.87, recall2: 0.89, flagged1: 0.04, age: Some(0.97) }),
        ("evaluation-round10", include_str!("corpus/evaluation-round10.jsonl"),
         Floors { tier3: 440, tier1: 360, recall3: 0.89, recall2: 0.91, flagged1: 0.03, age: Some(0.97) }),
        ("evaluation-round11", include_str!("corpus/evaluation-round11.jsonl"),
         Floors { tier3: 400, tier1: 370, recall3: 0.90, recall2: 0.87, flagged1: 0.02, age: Some(0.96) }),
        ("evaluation-round12", include_str!("corpus/evaluation-round12.jsonl"),
         Floors { tier3: 430, tier1: 370, recall3: 0.90, recall2: 0.90, flagged1: 0.03, age: Some(0.97) }),
        ("evaluation-round13", include_str!("corpus/evaluation-round13.jsonl"),
         Floors { tier3: 430, tier1: 360, recall3: 0.87, recall2: 0.89, flagged1: 0.03, age: Some(0.96) }),
        ("evaluation-round14", include_str!("corpus/evaluation-round14.jsonl"),
         Floors { tier3: 440, tier1: 360, recall3: 0.86, recall2: 0.82, flagged1: 0.04, age: Some(0.97) }),
        ("evaluation-round15", include_str!("corpus/evaluation-round15.jsonl"),
         Floors { tier3: 430, tier1: 360, recall3: 0.88, recall2: 0.91, flagged1: 0.04, age: Some(0.95) }),
        ("evaluation-round16", include_str!("corpus/evaluation-round16.jsonl"),
         Floors { tier3: 440, tier1: 350, recall3: 0.87, recall2: 0.89, flagged1: 0.04, age: Some(0.94) }),
        ("evaluation-round17", include_str!("corpus/evaluation-round17.jsonl"),
         Floors { tier3: 430, tier1: 360, recall3: 0.89, recall2: 0.88, flagged1: 0.03, age: Some(0.95) }),
        ("evaluation-round18", include_str!("corpus/evaluation-round18.jsonl"),
         Floors { tier3: 430, tier1: 370, recall3: 0.85, recall2: 0.90, flagged1: 0.03, age: Some(0.94) }),
        ("evaluation-round19", include_str!("corpus/evaluation-round19.jsonl"),
         Floors { tier3: 430, tier1: 360, recall3: 0.87, recall2: 0.86, flagged1: 0.035, age: Some(0.93) }),
        ("evaluation-round20", include_str!("corpus/evaluation-round20.jsonl"),
         Floors { tier3: 430, tier1: 360, recall3: 0.86, recall2: 0.84, flagged1: 0.035, age: Some(0.95) }),
        ("evaluation-round21", include_str!("corpus/evaluation-round21.jsonl"),
         Floors { tier3: 430, tier1: 350, recall3: 0.84, recall2: 0.81, flagged1: 0.04, age: Some(0.93) }),
        ("evaluation-round22", include_str!("corpus/evaluation-round22.jsonl"),
         Floors { tier3: 430, tier1: 360, recall3: 0.85, recall2: 0.86, flagged1: 0.03, age: Some(0.97) }),
    ];
    for (name, contents, floors) in sets {
        holds(name, contents, floors);
    }

    // The age sets (measured after round 15's age forms: 0.977, 0.996, 0.991, 0.991, 0.998,
    // 0.991, 0.996, 0.995, 0.984, 0.986, 0.980 and 0.980; each from the fifth to the eleventh
    // judged one pass of age forms blind, the twelfth measured the result, training/ROUNDS.md).
    let age_sets = [
        ("evaluation-age", include_str!("corpus/evaluation-age.jsonl"), 200, 0.95),
        (
            "evaluation-age-round2",
            include_str!("corpus/evaluation-age-round2.jsonl"),
            550,
            0.97,
        ),
        (
            "evaluation-age-round3",
            include_str!("corpus/evaluation-age-round3.jsonl"),
            550,
            0.97,
        ),
        (
            "evaluation-age-round4",
            include_str!("corpus/evaluation-age-round4.jsonl"),
            550,
            0.97,
        ),
        (
            "evaluation-age-round5",
            include_str!("corpus/evaluation-age-round5.jsonl"),
            550,
            0.97,
        ),
        (
            "evaluation-age-round6",
            include_str!("corpus/evaluation-age-round6.jsonl"),
            540,
            0.97,
        ),
        (
            "evaluation-age-round7",
            include_str!("corpus/evaluation-age-round7.jsonl"),
            540,
            0.97,
        ),
        (
            "evaluation-age-round8",
            include_str!("corpus/evaluation-age-round8.jsonl"),
            540,
            0.97,
        ),
        (
            "evaluation-age-round9",
            include_str!("corpus/evaluation-age-round9.jsonl"),
            540,
            0.96,
        ),
        (
            "evaluation-age-round10",
            include_str!("corpus/evaluation-age-round10.jsonl"),
            540,
            0.96,
        ),
        (
            "evaluation-age-round11",
            include_str!("corpus/evaluation-age-round11.jsonl"),
            540,
            0.96,
        ),
        (
            "evaluation-age-round12",
            include_str!("corpus/evaluation-age-round12.jsonl"),
            540,
            0.96,
        ),
    ];
    for (name, contents, count, floor) in age_sets {
        let ages = score(&parse(contents).unwrap_or_else(|e| panic!("{name}: {e}")));
        assert!(
            ages.age_count >= count && ages.age_accuracy >= floor,
            "{name}: age accuracy {:.4} over {}",
            ages.age_accuracy,
            ages.age_count
        );
    }

    // Conversations: at least this many dangerous ones, the share reaching tier 3, the share
    // of the others raised to 3 (measured: the second set 79/80 and 20/65, the third 72/73
    // and 24/59, the fourth 76/76 and 22/57).
    let conversations = [
        (
            "evaluation-sessions",
            include_str!("corpus/evaluation-sessions.jsonl"),
            25,
            0.84,
            0.45,
        ),
        (
            "evaluation-sessions-round2",
            include_str!("corpus/evaluation-sessions-round2.jsonl"),
            80,
            0.93,
            0.40,
        ),
        (
            "evaluation-sessions-round3",
            include_str!("corpus/evaluation-sessions-round3.jsonl"),
            73,
            0.93,
            0.45,
        ),
        (
            "evaluation-sessions-round4",
            include_str!("corpus/evaluation-sessions-round4.jsonl"),
            76,
            0.95,
            0.45,
        ),
    ];
    for (name, contents, dangerous, reach, raised) in conversations {
        let talks = score(&parse(contents).unwrap_or_else(|e| panic!("{name}: {e}")));
        assert!(talks.session_counts[2] >= dangerous, "{name}: {:?}", talks.session_counts);
        assert!(
            talks.session_tier3_recall >= reach,
            "{name}: conversations reaching 3: {:.4}",
            talks.session_tier3_recall
        );
        assert!(
            talks.session_false_raise_rate <= raised,
            "{name}: safe conversations raised: {:.4}",
            talks.session_false_raise_rate
        );
    }
}
