//! Property test: arbitrary and mutated frames never panic the codecs or the session,
//! valid packets round-trip, and a socket that sent garbage is the only one closed.
//!
//! CI runs a bounded number of cases; a long run:
//! `MIA_FUZZ_CASES=1000000 cargo test --release --test fuzz_frames -- --nocapture`

use mia_server::config::Config;
use mia_server::protocol::engineio::{self, Frame, Transport};
use mia_server::protocol::socketio::Decoder;
use mia_server::session::{Output, Session};
use serde_json::json;

/// xorshift64*: small, seedable, good enough to spread inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn cases() -> usize {
    std::env::var("MIA_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(30_000)
}

/// Valid frames a real client sends, used as seeds for mutation.
const SEEDS: &[&str] = &[
    "40",
    "40{\"token\":\"abc\"}",
    "42[\"join_session\",{\"sessionId\":\"session-1\"}]",
    "421[\"message\",{\"message\":\"hi I'm 9\"}]",
    "422[\"cancel\",{}]",
    "451-[\"message\",{\"_placeholder\":true,\"num\":0}]",
    "3",
    "2probe",
    "41",
    "43[\"ok\"]",
    "6",
    "42/custom,7[\"a\",1,{\"b\":[true,null]}]",
];

const ALPHABET: &[u8] = b"0123456789[]{}\",:/-_ abcxyz\\\x00\x7f\xc3\xa9\xf0\x9f\x98\x80";

fn mutate(rng: &mut Rng, seed: &str) -> Vec<u8> {
    let mut bytes = seed.as_bytes().to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(5) {
            0 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                bytes[i] = ALPHABET[rng.below(ALPHABET.len())];
            }
            1 => {
                let i = rng.below(bytes.len() + 1);
                bytes.insert(i, ALPHABET[rng.below(ALPHABET.len())]);
            }
            2 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                bytes.remove(i);
            }
            3 => {
                let i = rng.below(bytes.len() + 1);
                bytes.truncate(i);
            }
            _ => {
                let other = SEEDS[rng.below(SEEDS.len())].as_bytes();
                let i = rng.below(bytes.len() + 1);
                bytes.splice(i..i, other.iter().copied());
            }
        }
    }
    bytes
}

fn random_frame(rng: &mut Rng) -> Frame {
    match rng.below(4) {
        0 => Frame::Binary((0..rng.below(32)).map(|_| rng.next() as u8).collect()),
        1 => Frame::Text((0..rng.below(48)).map(|_| ALPHABET[rng.below(ALPHABET.len())] as char).collect()),
        _ => {
            let seed = SEEDS[rng.below(SEEDS.len())];
            let bytes = mutate(rng, seed);
            Frame::Text(String::from_utf8_lossy(&bytes).into_owned())
        }
    }
}

#[test]
fn arbitrary_frames_never_panic_the_codecs() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut decoder = Decoder::default();
    let (mut ok, mut refused) = (0usize, 0usize);
    for _ in 0..cases() {
        let frame = random_frame(&mut rng);
        match engineio::Packet::decode(&frame, 1_000_000) {
            Ok(engineio::Packet::Message(text)) => match decoder.feed_text(&text) {
                Ok(Some(p)) => {
                    ok += 1;
                    // A packet the decoder accepted encodes back to something it accepts again.
                    let mut again = Decoder::default();
                    let mut out = None;
                    for f in p.encode() {
                        out = match f {
                            Frame::Text(t) => again.feed_text(&t).expect("re-decodes"),
                            Frame::Binary(b) => again.feed_binary(b).expect("re-decodes"),
                        };
                    }
                    let out = out.expect("complete");
                    assert_eq!((out.nsp, out.id, out.data), (p.nsp, p.id, p.data));
                }
                Ok(None) => {}
                Err(_) => refused += 1,
            },
            Ok(engineio::Packet::BinaryMessage(b)) => {
                let _ = decoder.feed_binary(b);
            }
            Ok(_) => ok += 1,
            Err(_) => refused += 1,
        }
    }
    println!("codec: {ok} accepted, {refused} refused");
    assert!(ok > 0 && refused > 0, "the generator must reach both sides");
}

#[test]
fn arbitrary_frames_close_only_their_socket() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let cfg = Config::from_lookup(|k| (k == "RATE_LIMIT_PER_MINUTE").then(|| "100000".to_string()));
    let mut session = Session::restore(cfg, "session-1", None, Vec::new(), Vec::new(), 0);
    let (witness, out) = session.open(0, None, Transport::Websocket);
    drop(out);
    session.frame(0, &witness.sid, Frame::Text("40".into()), Transport::Websocket);
    let mut closed = 0usize;
    let mut sid = session.open(0, None, Transport::Websocket).0.sid;
    let n = cases() / 3;
    for i in 0..n {
        let now = i as u64;
        let out = session.frame(now, &sid, random_frame(&mut rng), Transport::Websocket);
        for o in &out {
            if let Output::Close { sid: s, .. } = o {
                assert_eq!(*s, sid, "only the sender may be closed");
                closed += 1;
            }
        }
        if out.iter().any(|o| matches!(o, Output::Close { .. })) || !session.connections().any(|c| c.sid == sid) {
            sid = session.open(now, None, Transport::Websocket).0.sid;
        }
        if session.connections().count() > 50 {
            for c in session.connections().map(|c| c.sid.clone()).collect::<Vec<_>>() {
                if c != witness.sid {
                    session.closed(now, &c);
                }
            }
            sid = session.open(now, None, Transport::Websocket).0.sid;
        }
    }
    println!("session: {n} frames, {closed} sockets closed");
    assert!(session.connections().any(|c| c.sid == witness.sid), "the witness socket survived");
    let out = session.frame(
        n as u64,
        &witness.sid,
        Frame::Text(format!("421{}", json!(["join_session", {}]))),
        Transport::Websocket,
    );
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Send { frames, .. } if frames.iter().any(|f| matches!(f, Frame::Text(t) if t.starts_with("431"))))));
}
