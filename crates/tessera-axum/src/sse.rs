//! Just enough of the Server-Sent Events format (WHATWG HTML §9.2) to follow Tessera's feed:
//! lines split on LF (or CRLF), `event`, `data`, `id` fields, comments, blank line dispatch.

/// One dispatched event.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct SseEvent {
    pub event: String,
    pub data: String,
    pub id: Option<String>,
}

/// Bytes in, events out. Keeps a partial line between chunks.
#[derive(Default)]
pub(crate) struct SseParser {
    line: Vec<u8>,
    current: SseEvent,
    has_data: bool,
}

/// A line, or an event's data over all its lines, longer than this is garbage, not a feed
/// entry: the connection is dropped.
const MAX_LINE: usize = 64 * 1024;

impl SseParser {
    /// Feeds a chunk; returns the events it completed, or `Err` on a line or an event too long
    /// to be ours.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, ()> {
        let mut out = Vec::new();
        for &b in chunk {
            if b == b'\n' {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if let Some(e) = self.line_done(&line)? {
                    out.push(e);
                }
            } else {
                if self.line.len() >= MAX_LINE {
                    return Err(());
                }
                self.line.push(b);
            }
        }
        Ok(out)
    }

    fn line_done(&mut self, line: &[u8]) -> Result<Option<SseEvent>, ()> {
        if line.is_empty() {
            let event = std::mem::take(&mut self.current);
            let had = std::mem::replace(&mut self.has_data, false);
            return Ok((had || !event.event.is_empty()).then_some(event));
        }
        if line[0] == b':' {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (text.as_ref(), ""),
        };
        match field {
            "event" => self.current.event = value.to_owned(),
            "data" => {
                if self.current.data.len() + value.len() >= MAX_LINE {
                    return Err(());
                }
                if self.has_data {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(value);
                self.has_data = true;
            }
            "id" => self.current.id = Some(value.to_owned()),
            _ => {}
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_comments_and_crlf() {
        let mut p = SseParser::default();
        assert!(p.push(b": heartbeat\n\nevent: revoc").unwrap().is_empty());
        let got = p
            .push(b"ation\r\nid: 7\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\nevent: reset\ndata: {}\n\n")
            .unwrap();
        assert_eq!(
            got,
            vec![
                SseEvent {
                    event: "revocation".into(),
                    data: "{\"a\":\n1}".into(),
                    id: Some("7".into())
                },
                SseEvent {
                    event: "reset".into(),
                    data: "{}".into(),
                    id: None
                },
            ]
        );
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut p = SseParser::default();
        assert!(p.push(&vec![b'a'; MAX_LINE + 1]).is_err());
    }

    #[test]
    fn an_endless_event_of_short_data_lines_is_refused() {
        let mut p = SseParser::default();
        let line = format!("data: {}\n", "a".repeat(1000));
        let mut refused = false;
        for _ in 0..100 {
            if p.push(line.as_bytes()).is_err() {
                refused = true;
                break;
            }
        }
        assert!(refused, "100 KB of data lines were kept");
    }
}
