//! Engine.IO v4 packets over a WebSocket: one packet per frame, text frames
//! carry a one-digit type prefix, binary frames are binary messages.

use serde::Serialize;
use std::fmt;

/// A WebSocket frame as the transport sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
}

impl Frame {
    pub fn len(&self) -> usize {
        match self {
            Frame::Text(s) => s.len(),
            Frame::Binary(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How a client is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Polling,
    #[default]
    Websocket,
}

/// The record separator between packets in a long-polling payload.
pub const SEPARATOR: char = '\u{1e}';

/// Joins frames into a long-polling payload; binary frames become `b` + base64.
pub fn encode_payload(frames: &[Frame]) -> String {
    let mut out = String::new();
    for (i, f) in frames.iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        match f {
            Frame::Text(t) => out.push_str(t),
            Frame::Binary(b) => {
                out.push('b');
                out.push_str(&base64_encode(b));
            }
        }
    }
    out
}

/// Splits a long-polling payload into frames, refusing bodies over `max_payload` bytes.
pub fn decode_payload(body: &str, max_payload: usize) -> Result<Vec<Frame>, EngineError> {
    if body.len() > max_payload {
        return Err(EngineError::TooLarge {
            len: body.len(),
            max: max_payload,
        });
    }
    if body.is_empty() {
        return Err(EngineError::Empty);
    }
    body.split(SEPARATOR)
        .map(|part| match part.strip_prefix('b') {
            Some(b64) => base64_decode(b64).map(Frame::Binary).ok_or(EngineError::BadBase64),
            None if part.is_empty() => Err(EngineError::Empty),
            None => Ok(Frame::Text(part.to_string())),
        })
        .collect()
}

/// Standard base64 with padding (Engine.IO's binary-over-text form).
pub fn base64_encode(bytes: &[u8]) -> String {
    crate::protocol::base64::encode(bytes, crate::protocol::base64::STANDARD, true)
}

pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    crate::protocol::base64::decode(s, crate::protocol::base64::STANDARD)
}

/// One Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// Handshake data (JSON), sent by the server once.
    Open(String),
    Close,
    Ping(String),
    Pong(String),
    Message(String),
    BinaryMessage(Vec<u8>),
    Upgrade(String),
    Noop,
}

/// Why a frame is not a valid Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineError {
    Empty,
    UnknownType(char),
    TooLarge { len: usize, max: usize },
    BadBase64,
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::Empty => write!(f, "empty engine.io packet"),
            EngineError::UnknownType(c) => write!(f, "unknown engine.io packet type {c:?}"),
            EngineError::BadBase64 => write!(f, "invalid base64 in a binary packet"),
            EngineError::TooLarge { len, max } => {
                write!(f, "engine.io packet of {len} bytes exceeds maxPayload {max}")
            }
        }
    }
}

impl std::error::Error for EngineError {}

/// The handshake sent in the open packet.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Handshake {
    pub sid: String,
    pub upgrades: Vec<String>,
    pub ping_interval: u64,
    pub ping_timeout: u64,
    pub max_payload: u64,
}

impl Packet {
    /// Decodes a frame received from a client, refusing frames over `max_payload` bytes.
    pub fn decode(frame: &Frame, max_payload: usize) -> Result<Packet, EngineError> {
        if frame.len() > max_payload {
            return Err(EngineError::TooLarge {
                len: frame.len(),
                max: max_payload,
            });
        }
        match frame {
            Frame::Binary(bytes) => Ok(Packet::BinaryMessage(bytes.clone())),
            Frame::Text(text) => {
                let mut chars = text.chars();
                let kind = chars.next().ok_or(EngineError::Empty)?;
                let rest = chars.as_str().to_string();
                Ok(match kind {
                    '0' => Packet::Open(rest),
                    '1' => Packet::Close,
                    '2' => Packet::Ping(rest),
                    '3' => Packet::Pong(rest),
                    '4' => Packet::Message(rest),
                    '5' => Packet::Upgrade(rest),
                    '6' => Packet::Noop,
                    other => return Err(EngineError::UnknownType(other)),
                })
            }
        }
    }

    pub fn encode(&self) -> Frame {
        let text = |kind: char, data: &str| Frame::Text(format!("{kind}{data}"));
        match self {
            Packet::Open(data) => text('0', data),
            Packet::Close => text('1', ""),
            Packet::Ping(data) => text('2', data),
            Packet::Pong(data) => text('3', data),
            Packet::Message(data) => text('4', data),
            Packet::BinaryMessage(bytes) => Frame::Binary(bytes.clone()),
            Packet::Upgrade(data) => text('5', data),
            Packet::Noop => text('6', ""),
        }
    }

    pub fn open(handshake: &Handshake) -> Packet {
        Packet::Open(serde_json::to_string(handshake).expect("handshake serializes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips() {
        let packets = [
            Packet::Open("{\"sid\":\"x\"}".into()),
            Packet::Close,
            Packet::Ping(String::new()),
            Packet::Ping("probe".into()),
            Packet::Pong("probe".into()),
            Packet::Message("2[\"hi\"]".into()),
            Packet::BinaryMessage(vec![0, 1, 255]),
            Packet::Upgrade(String::new()),
            Packet::Noop,
        ];
        for p in packets {
            assert_eq!(Packet::decode(&p.encode(), 1000).unwrap(), p);
        }
    }

    #[test]
    fn malformed_frames_are_typed_errors() {
        assert_eq!(Packet::decode(&Frame::Text(String::new()), 10), Err(EngineError::Empty));
        assert_eq!(Packet::decode(&Frame::Text("9x".into()), 10), Err(EngineError::UnknownType('9')));
        assert_eq!(Packet::decode(&Frame::Text("é".into()), 10), Err(EngineError::UnknownType('é')));
        assert_eq!(
            Packet::decode(&Frame::Text("4hello".into()), 3),
            Err(EngineError::TooLarge { len: 6, max: 3 })
        );
    }

    #[test]
    fn polling_payloads_round_trip() {
        let frames = vec![
            Frame::Text("2".into()),
            Frame::Binary(vec![1, 2, 3, 255]),
            Frame::Text("42[\"a\"]".into()),
        ];
        let body = encode_payload(&frames);
        assert_eq!(body, "2\u{1e}bAQID/w==\u{1e}42[\"a\"]");
        assert_eq!(decode_payload(&body, 100).unwrap(), frames);
        assert_eq!(decode_payload("bnot base64!", 100), Err(EngineError::BadBase64));
        assert_eq!(decode_payload("", 100), Err(EngineError::Empty));
        assert_eq!(decode_payload("2\u{1e}", 100), Err(EngineError::Empty));
        assert!(matches!(decode_payload("4xxxx", 3), Err(EngineError::TooLarge { .. })));
        assert_eq!(base64_encode(b"foob"), "Zm9vYg==");
    }

    #[test]
    fn handshake_uses_wire_names() {
        let open = Packet::open(&Handshake {
            sid: "abc".into(),
            upgrades: vec![],
            ping_interval: 25000,
            ping_timeout: 20000,
            max_payload: 1_000_000,
        });
        assert_eq!(
            open.encode(),
            Frame::Text("0{\"sid\":\"abc\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}".into())
        );
    }
}
