//! Socket.IO v5 packets, carried inside Engine.IO messages.
//!
//! Text form: `<type>[<attachments>-][<nsp>,][<ack id>][<json>]`. Binary packets
//! (BINARY_EVENT, BINARY_ACK) keep `{"_placeholder":true,"num":N}` markers in
//! their JSON and carry the attachments as separate binary messages.

use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

use crate::protocol::engineio::Frame;

/// Largest ack id a JavaScript client can represent exactly.
const MAX_ACK_ID: u64 = (1 << 53) - 1;
/// More attachments than this in one packet is treated as an attack.
pub const MAX_ATTACHMENTS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    Connect,
    Disconnect,
    Event,
    Ack,
    ConnectError,
    BinaryEvent,
    BinaryAck,
}

impl PacketType {
    fn from_char(c: char) -> Option<Self> {
        Some(match c {
            '0' => PacketType::Connect,
            '1' => PacketType::Disconnect,
            '2' => PacketType::Event,
            '3' => PacketType::Ack,
            '4' => PacketType::ConnectError,
            '5' => PacketType::BinaryEvent,
            '6' => PacketType::BinaryAck,
            _ => return None,
        })
    }

    fn digit(self) -> char {
        match self {
            PacketType::Connect => '0',
            PacketType::Disconnect => '1',
            PacketType::Event => '2',
            PacketType::Ack => '3',
            PacketType::ConnectError => '4',
            PacketType::BinaryEvent => '5',
            PacketType::BinaryAck => '6',
        }
    }

    fn is_binary(self) -> bool {
        matches!(self, PacketType::BinaryEvent | PacketType::BinaryAck)
    }
}

/// A complete Socket.IO packet (binary attachments included).
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    pub kind: PacketType,
    pub nsp: String,
    pub id: Option<u64>,
    pub data: Option<Value>,
    pub attachments: Vec<Vec<u8>>,
}

/// Why an Engine.IO message is not a valid Socket.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    Empty,
    UnknownType(char),
    BadAttachmentCount,
    TooManyAttachments(usize),
    BadNamespace,
    BadAckId,
    BadJson(String),
    InvalidPayload(&'static str),
    UnexpectedBinary,
    UnexpectedText,
    /// The attachments of one packet add up to more than the decoder's limit.
    AttachmentsTooLarge(usize),
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Empty => write!(f, "empty socket.io packet"),
            ProtocolError::UnknownType(c) => write!(f, "unknown socket.io packet type {c:?}"),
            ProtocolError::BadAttachmentCount => write!(f, "malformed attachment count"),
            ProtocolError::TooManyAttachments(n) => write!(f, "{n} attachments is too many"),
            ProtocolError::BadNamespace => write!(f, "malformed namespace"),
            ProtocolError::BadAckId => write!(f, "malformed ack id"),
            ProtocolError::BadJson(e) => write!(f, "invalid JSON payload: {e}"),
            ProtocolError::InvalidPayload(why) => write!(f, "invalid payload: {why}"),
            ProtocolError::UnexpectedBinary => {
                write!(f, "binary data with no packet waiting for it")
            }
            ProtocolError::UnexpectedText => {
                write!(f, "text packet while attachments were awaited")
            }
            ProtocolError::AttachmentsTooLarge(max) => {
                write!(f, "binary attachments over {max} bytes")
            }
        }
    }
}

impl std::error::Error for ProtocolError {}

impl Packet {
    pub fn new(kind: PacketType, nsp: &str, data: Option<Value>) -> Self {
        Packet {
            kind,
            nsp: nsp.to_string(),
            id: None,
            data,
            attachments: Vec::new(),
        }
    }

    /// `EVENT` with the event name first, then the arguments.
    pub fn event(nsp: &str, name: &str, args: Vec<Value>) -> Self {
        let mut arr = Vec::with_capacity(args.len() + 1);
        arr.push(Value::String(name.to_string()));
        arr.extend(args);
        Packet::new(PacketType::Event, nsp, Some(Value::Array(arr)))
    }

    pub fn ack(nsp: &str, id: u64, args: Vec<Value>) -> Self {
        let mut p = Packet::new(PacketType::Ack, nsp, Some(Value::Array(args)));
        p.id = Some(id);
        p
    }

    /// The event name of an EVENT / BINARY_EVENT.
    pub fn event_name(&self) -> Option<&str> {
        match (&self.kind, &self.data) {
            (PacketType::Event | PacketType::BinaryEvent, Some(Value::Array(a))) => a.first()?.as_str(),
            _ => None,
        }
    }

    /// The arguments after the event name.
    pub fn event_args(&self) -> &[Value] {
        match &self.data {
            Some(Value::Array(a)) if !a.is_empty() => &a[1..],
            _ => &[],
        }
    }

    /// Encodes into Engine.IO message payloads: the text first, then each attachment.
    pub fn encode(&self) -> Vec<Frame> {
        let mut kind = self.kind;
        if !self.attachments.is_empty() {
            kind = match kind {
                PacketType::Event => PacketType::BinaryEvent,
                PacketType::Ack => PacketType::BinaryAck,
                k => k,
            };
        }
        let mut s = String::new();
        s.push(kind.digit());
        if kind.is_binary() {
            s.push_str(&self.attachments.len().to_string());
            s.push('-');
        }
        if self.nsp != "/" && !self.nsp.is_empty() {
            s.push_str(&self.nsp);
            s.push(',');
        }
        if let Some(id) = self.id {
            s.push_str(&id.to_string());
        }
        if let Some(data) = &self.data {
            s.push_str(&serde_json::to_string(data).expect("JSON value serializes"));
        }
        let mut frames = vec![Frame::Text(s)];
        frames.extend(self.attachments.iter().cloned().map(Frame::Binary));
        frames
    }
}

/// Parses the text part of a packet. Binary packets come back with no attachments yet
/// and the expected count.
pub fn decode_text(s: &str) -> Result<(Packet, usize), ProtocolError> {
    let mut rest = s;
    let first = rest.chars().next().ok_or(ProtocolError::Empty)?;
    let kind = PacketType::from_char(first).ok_or(ProtocolError::UnknownType(first))?;
    rest = &rest[first.len_utf8()..];

    let mut expected = 0usize;
    if kind.is_binary() {
        let dash = rest.find('-').ok_or(ProtocolError::BadAttachmentCount)?;
        let digits = &rest[..dash];
        if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProtocolError::BadAttachmentCount);
        }
        expected = digits.parse().map_err(|_| ProtocolError::BadAttachmentCount)?;
        if expected > MAX_ATTACHMENTS {
            return Err(ProtocolError::TooManyAttachments(expected));
        }
        rest = &rest[dash + 1..];
    }

    let mut nsp = "/".to_string();
    if rest.starts_with('/') {
        let end = rest.find(',').unwrap_or(rest.len());
        let name = &rest[..end];
        if name.len() > 256 || name.chars().any(|c| c.is_control()) {
            return Err(ProtocolError::BadNamespace);
        }
        nsp = name.to_string();
        rest = rest.get(end + 1..).unwrap_or("");
    }

    let digits = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
    let mut id = None;
    if digits > 0 {
        if digits > 16 {
            return Err(ProtocolError::BadAckId);
        }
        let n: u64 = rest[..digits].parse().map_err(|_| ProtocolError::BadAckId)?;
        if n > MAX_ACK_ID {
            return Err(ProtocolError::BadAckId);
        }
        id = Some(n);
        rest = &rest[digits..];
    }

    let data = if rest.is_empty() {
        None
    } else {
        let json = replace_lone_surrogates(rest);
        Some(serde_json::from_str::<Value>(&json).map_err(|e| ProtocolError::BadJson(e.to_string()))?)
    };

    validate(kind, id, &data)?;
    if kind.is_binary() && count_placeholders(data.as_ref()) != expected {
        return Err(ProtocolError::InvalidPayload("placeholders do not match the attachment count"));
    }
    Ok((
        Packet {
            kind,
            nsp,
            id,
            data,
            attachments: Vec::new(),
        },
        expected,
    ))
}

fn validate(kind: PacketType, id: Option<u64>, data: &Option<Value>) -> Result<(), ProtocolError> {
    match kind {
        PacketType::Connect => match data {
            None | Some(Value::Object(_)) if id.is_none() => Ok(()),
            _ => Err(ProtocolError::InvalidPayload("CONNECT takes an object")),
        },
        PacketType::Disconnect => match data {
            None => Ok(()),
            _ => Err(ProtocolError::InvalidPayload("DISCONNECT takes no payload")),
        },
        PacketType::Event | PacketType::BinaryEvent => match data {
            Some(Value::Array(a)) if matches!(a.first(), Some(Value::String(_))) => Ok(()),
            _ => Err(ProtocolError::InvalidPayload("EVENT takes an array starting with a name")),
        },
        PacketType::Ack | PacketType::BinaryAck => match data {
            Some(Value::Array(_)) if id.is_some() => Ok(()),
            _ => Err(ProtocolError::InvalidPayload("ACK takes an id and an array")),
        },
        PacketType::ConnectError => match data {
            Some(Value::Object(_)) | Some(Value::String(_)) => Ok(()),
            _ => Err(ProtocolError::InvalidPayload("CONNECT_ERROR takes an object")),
        },
    }
}

fn count_placeholders(v: Option<&Value>) -> usize {
    match v {
        Some(Value::Object(m)) if m.get("_placeholder") == Some(&Value::Bool(true)) => 1,
        Some(Value::Object(m)) => m.values().map(|v| count_placeholders(Some(v))).sum(),
        Some(Value::Array(a)) => a.iter().map(|v| count_placeholders(Some(v))).sum(),
        _ => 0,
    }
}

/// Replaces `\uXXXX` escapes of unpaired UTF-16 surrogates with `\uFFFD`, as JavaScript
/// (whose strings may hold them, and `JSON.stringify` escapes them) and the reference
/// server accept them while serde_json refuses the whole document. An escaped backslash
/// (`\\u…`) is left alone: escapes are read pairwise from the left.
pub fn replace_lone_surrogates(json: &str) -> Cow<'_, str> {
    fn surrogate_at(b: &[u8], i: usize) -> Option<u16> {
        if b.get(i) != Some(&b'\\') || b.get(i + 1) != Some(&b'u') {
            return None;
        }
        let hex = std::str::from_utf8(b.get(i + 2..i + 6)?).ok()?;
        let unit = u16::from_str_radix(hex, 16).ok()?;
        (0xD800..=0xDFFF).contains(&unit).then_some(unit)
    }
    let b = json.as_bytes();
    if !json.contains("\\u") {
        return Cow::Borrowed(json);
    }
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        match surrogate_at(b, i) {
            // A high surrogate followed by a low one is a proper pair.
            Some(0xD800..=0xDBFF) if matches!(surrogate_at(b, i + 6), Some(0xDC00..=0xDFFF)) => i += 12,
            Some(_) => {
                let o = out.get_or_insert_with(|| String::with_capacity(json.len()));
                o.push_str(&json[copied..i]);
                o.push_str("\\uFFFD");
                i += 6;
                copied = i;
            }
            // Any other escape, `\\` included, is two characters (`\uXXXX` checked above).
            None => i += 2,
        }
    }
    match out {
        Some(mut o) => {
            o.push_str(&json[copied.min(json.len())..]);
            Cow::Owned(o)
        }
        None => Cow::Borrowed(json),
    }
}

/// Reassembles packets from Engine.IO messages, binary attachments included.
#[derive(Debug, Default)]
pub struct Decoder {
    pending: Option<(Packet, usize)>,
    /// Bytes of attachments one packet may hold in waiting; 0 = no limit.
    max_pending: usize,
}

impl Decoder {
    /// A decoder that refuses a packet whose attachments add up to more than `max_bytes`,
    /// so one connection never holds more than that in waiting.
    pub fn with_limit(max_bytes: usize) -> Self {
        Decoder {
            pending: None,
            max_pending: max_bytes,
        }
    }

    /// Feeds a text message; a complete packet comes back, or `None` while attachments are due.
    pub fn feed_text(&mut self, s: &str) -> Result<Option<Packet>, ProtocolError> {
        if self.pending.is_some() {
            self.pending = None;
            return Err(ProtocolError::UnexpectedText);
        }
        let (packet, expected) = decode_text(s)?;
        if expected == 0 {
            return Ok(Some(packet));
        }
        self.pending = Some((packet, expected));
        Ok(None)
    }

    /// Feeds a binary message (an attachment).
    pub fn feed_binary(&mut self, bytes: Vec<u8>) -> Result<Option<Packet>, ProtocolError> {
        let (mut packet, expected) = self.pending.take().ok_or(ProtocolError::UnexpectedBinary)?;
        if self.max_pending > 0 {
            let held: usize = packet.attachments.iter().map(Vec::len).sum();
            if held + bytes.len() > self.max_pending {
                return Err(ProtocolError::AttachmentsTooLarge(self.max_pending));
            }
        }
        packet.attachments.push(bytes);
        if packet.attachments.len() == expected {
            Ok(Some(packet))
        } else {
            self.pending = Some((packet, expected));
            Ok(None)
        }
    }

    pub fn is_waiting(&self) -> bool {
        self.pending.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text_of(p: &Packet) -> String {
        match &p.encode()[0] {
            Frame::Text(s) => s.clone(),
            Frame::Binary(_) => panic!("text first"),
        }
    }

    #[test]
    fn wire_forms_match_the_reference_parser() {
        assert_eq!(text_of(&Packet::new(PacketType::Connect, "/", None)), "0");
        assert_eq!(
            text_of(&Packet::new(PacketType::Connect, "/admin", Some(json!({"sid": "x"})))),
            "0/admin,{\"sid\":\"x\"}"
        );
        assert_eq!(text_of(&Packet::event("/", "hello", vec![json!(1)])), "2[\"hello\",1]");
        assert_eq!(text_of(&Packet::ack("/", 12, vec![json!("ok")])), "312[\"ok\"]");
        assert_eq!(
            text_of(&Packet::new(PacketType::ConnectError, "/x", Some(json!({"message": "no"})))),
            "4/x,{\"message\":\"no\"}"
        );
    }

    #[test]
    fn every_type_round_trips() {
        let mut with_id = Packet::event("/chat", "m", vec![json!({"a": [1, 2]})]);
        with_id.id = Some(42);
        let mut bin = Packet::event("/", "up", vec![json!({"_placeholder": true, "num": 0})]);
        bin.attachments = vec![vec![1, 2, 3]];
        let mut bin_ack = Packet::ack(
            "/",
            7,
            vec![json!({"_placeholder": true, "num": 0}), json!({"_placeholder": true, "num": 1})],
        );
        bin_ack.attachments = vec![vec![], vec![9]];
        let packets = vec![
            Packet::new(PacketType::Connect, "/", None),
            Packet::new(PacketType::Connect, "/", Some(json!({"token": "t"}))),
            Packet::new(PacketType::Disconnect, "/custom", None),
            Packet::event("/", "message", vec![json!({"message": "hi"})]),
            with_id,
            Packet::ack("/", 0, vec![]),
            Packet::new(PacketType::ConnectError, "/", Some(json!({"message": "bad"}))),
            bin,
            bin_ack,
        ];
        for p in packets {
            let mut d = Decoder::default();
            let mut out = None;
            for frame in p.encode() {
                out = match frame {
                    Frame::Text(s) => d.feed_text(&s).unwrap(),
                    Frame::Binary(b) => d.feed_binary(b).unwrap(),
                };
            }
            let mut got = out.expect("complete packet");
            // The encoder upgrades EVENT/ACK with attachments to their binary types.
            if !p.attachments.is_empty() {
                got.kind = p.kind;
            }
            assert_eq!(got, p);
        }
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        let cases = [
            (r#"["message","cut emoji \ud83d"]"#, "cut emoji \u{FFFD}"),
            (r#"["message","\ude00 low first"]"#, "\u{FFFD} low first"),
            (r#"["message","pair \ud83d\ude00 ok"]"#, "pair \u{1F600} ok"),
            (r#"["message","two highs \uD83D\uD83D\uDE00"]"#, "two highs \u{FFFD}\u{1F600}"),
            (r#"["message","escaped \\ud83d stays text"]"#, "escaped \\ud83d stays text"),
            (r#"["message","\\\ud83d"]"#, "\\\u{FFFD}"),
            (r#"["message","end \ud83d"]"#, "end \u{FFFD}"),
            (r#"["message","é \u00e9 \ud83d é"]"#, "é é \u{FFFD} é"),
        ];
        for (json, want) in cases {
            let (p, _) = decode_text(&format!("2{json}")).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(p.event_args()[0], json!(want), "{json}");
        }
        assert!(matches!(replace_lone_surrogates(r#"["a","no escapes"]"#), Cow::Borrowed(_)));
        assert!(matches!(decode_text("2[\"a\",\"\\ud83\"]"), Err(ProtocolError::BadJson(_))));
    }

    #[test]
    fn pending_attachments_are_bounded() {
        let mut d = Decoder::with_limit(10);
        assert_eq!(
            d.feed_text(r#"52-["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#),
            Ok(None)
        );
        assert_eq!(d.feed_binary(vec![0; 6]), Ok(None));
        assert_eq!(d.feed_binary(vec![0; 5]), Err(ProtocolError::AttachmentsTooLarge(10)));
        assert!(!d.is_waiting());
        let mut d = Decoder::with_limit(10);
        d.feed_text(r#"51-["up",{"_placeholder":true,"num":0}]"#).unwrap();
        assert_eq!(d.feed_binary(vec![0; 10]).unwrap().unwrap().attachments[0].len(), 10);
    }

    #[test]
    fn malformed_packets_are_typed_errors() {
        let cases: &[(&str, ProtocolError)] = &[
            ("", ProtocolError::Empty),
            ("7", ProtocolError::UnknownType('7')),
            ("x", ProtocolError::UnknownType('x')),
            ("2", ProtocolError::InvalidPayload("EVENT takes an array starting with a name")),
            ("2{}", ProtocolError::InvalidPayload("EVENT takes an array starting with a name")),
            ("2[]", ProtocolError::InvalidPayload("EVENT takes an array starting with a name")),
            ("2[1]", ProtocolError::InvalidPayload("EVENT takes an array starting with a name")),
            ("0[]", ProtocolError::InvalidPayload("CONNECT takes an object")),
            ("1{}", ProtocolError::InvalidPayload("DISCONNECT takes no payload")),
            ("3[]", ProtocolError::InvalidPayload("ACK takes an id and an array")),
            ("5[\"a\"]", ProtocolError::BadAttachmentCount),
            ("5x-[\"a\"]", ProtocolError::BadAttachmentCount),
            ("599-[\"a\"]", ProtocolError::TooManyAttachments(99)),
            ("99999999999999999999[\"a\"]", ProtocolError::UnknownType('9')),
            ("299999999999999999[\"a\"]", ProtocolError::BadAckId),
            ("2/a\u{1},[\"a\"]", ProtocolError::BadNamespace),
        ];
        for (input, want) in cases {
            assert_eq!(decode_text(input).map(|_| ()), Err(want.clone()), "input {input:?}");
        }
        assert!(matches!(decode_text("2[\"a\""), Err(ProtocolError::BadJson(_))));
        assert!(matches!(decode_text("51-[\"a\"]"), Err(ProtocolError::InvalidPayload(_))));
    }

    #[test]
    fn attachments_out_of_turn_are_refused() {
        let mut d = Decoder::default();
        assert_eq!(d.feed_binary(vec![1]), Err(ProtocolError::UnexpectedBinary));
        assert_eq!(d.feed_text("51-[\"a\",{\"_placeholder\":true,\"num\":0}]"), Ok(None));
        assert!(d.is_waiting());
        assert_eq!(d.feed_text("2[\"b\"]"), Err(ProtocolError::UnexpectedText));
        assert!(!d.is_waiting());
    }
}
