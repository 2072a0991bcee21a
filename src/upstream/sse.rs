//! Server-sent events parser, fed bytes split anywhere (inside a line, inside a
//! UTF-8 character).

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub event: Option<String>,
    pub data: String,
}

/// A line longer than this is an upstream fault, not something to buffer forever.
pub const MAX_LINE: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineTooLong;

#[derive(Debug, Default)]
pub struct Parser {
    buf: Vec<u8>,
    skip_lf: bool,
    event: Option<String>,
    data: Option<String>,
}

impl Parser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns the events completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Event>, LineTooLong> {
        let mut out = Vec::new();
        for &b in bytes {
            if self.skip_lf {
                self.skip_lf = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' | b'\r' => {
                    self.skip_lf = b == b'\r';
                    let line = std::mem::take(&mut self.buf);
                    self.line(&line, &mut out);
                }
                _ => {
                    if self.buf.len() >= MAX_LINE {
                        return Err(LineTooLong);
                    }
                    self.buf.push(b);
                }
            }
        }
        Ok(out)
    }

    /// Ends the stream: a last line without a newline, and an event without its blank line,
    /// are still delivered.
    pub fn finish(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        if !self.buf.is_empty() {
            let line = std::mem::take(&mut self.buf);
            self.line(&line, &mut out);
        }
        self.line(b"", &mut out);
        out
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<Event>) {
        if line.is_empty() {
            if let Some(data) = self.data.take() {
                out.push(Event {
                    event: self.event.take(),
                    data,
                });
            }
            self.event = None;
            return;
        }
        if line[0] == b':' {
            return;
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.find(':') {
            Some(i) => {
                let v = &text[i + 1..];
                (&text[..i], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (&text[..], ""),
        };
        match field {
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            "event" => self.event = Some(value.to_string()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<Event> {
        let mut p = Parser::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(p.feed(c).unwrap());
        }
        out.extend(p.finish());
        out
    }

    fn data(events: &[Event]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn split_at_every_byte_offset_gives_the_same_events() {
        let stream =
            "data: {\"a\":\"héllo 🌍\"}\n\n: keep-alive\n\nevent: x\r\ndata: line1\r\ndata:line2\r\n\r\ndata: [DONE]\n\n".as_bytes();
        let whole = parse_all(&[stream]);
        assert_eq!(data(&whole), vec!["{\"a\":\"héllo 🌍\"}", "line1\nline2", "[DONE]"]);
        assert_eq!(whole[1].event.as_deref(), Some("x"));
        for i in 0..=stream.len() {
            assert_eq!(parse_all(&[&stream[..i], &stream[i..]]), whole, "split at {i}");
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(parse_all(&bytes), whole);
    }

    #[test]
    fn comments_and_unknown_fields_are_ignored() {
        assert!(parse_all(&[b": ping\n\nid: 3\nretry: 10\n\n"]).is_empty());
    }

    #[test]
    fn a_last_event_without_blank_line_is_kept() {
        assert_eq!(data(&parse_all(&[b"data: tail"])), vec!["tail"]);
    }

    #[test]
    fn endless_lines_are_refused() {
        let mut p = Parser::new();
        let big = vec![b'x'; MAX_LINE + 1];
        assert_eq!(p.feed(&big), Err(LineTooLong));
    }
}
