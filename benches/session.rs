//! The session core's cost per streamed chunk: SSE bytes in, Socket.IO frames out,
//! for 1 and 5 sockets on a session. `cargo bench --bench session` prints figures.

use mia_server::config::Config;
use mia_server::conversation::{UpstreamCommand, UpstreamEvent};
use mia_server::protocol::engineio::{Frame, Transport};
use mia_server::session::{Output, Session};
use std::hint::black_box;
use std::time::Instant;

fn run(sockets: usize) {
    let cfg = Config::from_lookup(|k| match k {
        "OPENAI_API_KEY" => Some("sk".into()),
        "RATE_LIMIT_PER_MINUTE" => Some("100000".into()),
        "LOG_LEVEL" => Some("warn".into()),
        "MAX_SOCKETS_PER_SESSION" => Some("100".into()),
        _ => None,
    });
    let mut s = Session::restore(cfg, "bench-session", None, Vec::new(), Vec::new(), 0);
    let mut sids = Vec::new();
    for _ in 0..sockets {
        let (c, _) = s.open(0, None, Transport::Websocket);
        s.frame(0, &c.sid, Frame::Text("40".into()), Transport::Websocket);
        sids.push(c.sid);
    }
    let chunk = b"data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"[t=1700000000000.123] \"}}]}\n\n".to_vec();
    let (replies, per_reply) = (200, 100);
    let mut frames = 0usize;
    let start = Instant::now();
    for i in 0..replies {
        let out = s.frame(
            i,
            &sids[0],
            Frame::Text(format!("42[\"message\",{{\"message\":\"hello {i}\"}}]")),
            Transport::Websocket,
        );
        let job = out
            .into_iter()
            .find_map(|o| match o {
                Output::Upstream(UpstreamCommand::Start(j)) => Some(j),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no reply started for message {i}"));
        s.upstream(
            i,
            &job.reply_id,
            0,
            UpstreamEvent::Status {
                code: 200,
                retry_after_ms: None,
            },
        );
        for _ in 0..per_reply {
            let out = s.upstream(i, &job.reply_id, 0, UpstreamEvent::Bytes(chunk.clone()));
            frames += out.iter().filter(|o| matches!(o, Output::Send { .. })).count();
            black_box(out);
        }
        s.upstream(i, &job.reply_id, 0, UpstreamEvent::Bytes(b"data: [DONE]\n\n".to_vec()));
    }
    let per_chunk = start.elapsed().as_nanos() as f64 / (replies * per_reply) as f64 / 1000.0;
    println!("  {sockets} socket(s): {per_chunk:.2} µs per chunk (message, classification and storage included), {frames} frames");
}

fn main() {
    println!("session core, native:");
    run(1);
    run(5);
}
