//! Classification time per message (safety + age + mode), natively.
//! `cargo bench --bench classify` prints the figures; nothing is asserted.

use std::hint::black_box;
use std::time::Instant;

fn main() {
    let corpus = include_str!("../tests/corpus/labelled.jsonl");
    let items = mia_server::evaluation::parse(corpus).expect("corpus parses");
    let texts: Vec<&str> = items.iter().map(|i| i.text.as_str()).collect();
    let t0 = Instant::now();
    mia_server::session::prepare_classifiers();
    let compile = t0.elapsed();

    let rounds = 50;
    let mut per_message = Vec::with_capacity(texts.len() * rounds);
    for _ in 0..rounds {
        for t in &texts {
            let start = Instant::now();
            black_box(mia_server::evaluation::verdict(black_box(t)));
            per_message.push(start.elapsed().as_nanos() as f64 / 1000.0);
        }
    }
    per_message.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| per_message[((per_message.len() as f64 - 1.0) * p) as usize];
    let mean = per_message.iter().sum::<f64>() / per_message.len() as f64;
    // Mean µs of 20 calls.
    let time = |f: &dyn Fn()| {
        let start = Instant::now();
        for _ in 0..20 {
            f();
        }
        start.elapsed().as_nanos() as f64 / 20.0 / 1000.0
    };
    let long = "I have been feeling really low lately and I don't know who to talk to. ".repeat(55);
    let long_us = time(&|| {
        black_box(mia_server::evaluation::verdict(black_box(&long)));
    });
    println!("classify (safety + age + mode), native, {} messages x {rounds}:", texts.len());
    println!("  rule compilation, once per process: {:.1} ms", compile.as_secs_f64() * 1000.0);
    println!(
        "  mean {mean:.1} µs   p50 {:.1} µs   p99 {:.1} µs   max {:.1} µs",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    println!("  a {}-character message: {long_us:.1} µs", long.len());
    // The age detector's worst case: a number or a school word in every sentence, none the
    // writer's own age, so every pattern is tried on every sentence.
    let numbers: String = "my brother is 8 and in year 4, we have 2 dogs and the bus takes 45 minutes. "
        .repeat(60)
        .chars()
        .take(4000)
        .collect();
    let all_us = time(&|| {
        black_box(mia_server::evaluation::verdict(black_box(&numbers)));
    });
    let age_us = time(&|| {
        black_box(mia_server::safety::age::detect(black_box(&numbers)));
    });
    println!("  4,000 characters with a number in every sentence: {all_us:.1} µs, of which age {age_us:.1} µs");
}
