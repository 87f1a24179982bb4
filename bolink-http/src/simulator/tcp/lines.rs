//! The server's line reader: netty's `LineBasedFrameDecoder(1024)` with its
//! defaults (strip the delimiter, do not fail fast), as the public server
//! builds its pipeline (ParkingOS_cloud `netty/SensorServer.java` lines
//! 112-115), written here from netty's rules rather than taken from the
//! client crate, so that the two sides check each other:
//!
//! * a line ends at `\n`; a `\r` right before it belongs to the delimiter;
//! * a line longer than the limit (delimiter excluded) is dropped whole;
//! * when no delimiter is buffered and more than the limit is, the decoder
//!   discards everything up to the next `\n` (that line is dropped too);
//! * empty lines come out as empty lines (the handler ignores them).

use crate::simulator::TCP_LINE_LIMIT;

/// One line out of the decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line {
    /// A line's bytes, without the delimiter.
    Text(Vec<u8>),
    /// A line over the limit was dropped (netty's `TooLongFrameException`,
    /// which the public server only logs).
    TooLong,
}

/// Reassembles lines from a byte stream split anywhere; holds at most
/// [`TCP_LINE_LIMIT`] bytes between calls.
#[derive(Debug, Default)]
pub(crate) struct LineDecoder {
    buf: Vec<u8>,
    discarding: bool,
}

impl LineDecoder {
    /// Feeds `bytes`; returns the lines they complete.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<Line> {
        let mut lines = Vec::new();
        let mut rest = bytes;
        while let Some(at) = rest.iter().position(|&b| b == b'\n') {
            let (head, tail) = (&rest[..at], &rest[at + 1..]);
            rest = tail;
            if std::mem::take(&mut self.discarding) {
                self.buf.clear();
                lines.push(Line::TooLong);
                continue;
            }
            let mut line = std::mem::take(&mut self.buf);
            line.extend_from_slice(head);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            lines.push(if line.len() > TCP_LINE_LIMIT {
                Line::TooLong
            } else {
                Line::Text(line)
            });
        }
        if !self.discarding {
            self.buf.extend_from_slice(rest);
            // netty counts the readable bytes, a pending `\r` included.
            if self.buf.len() > TCP_LINE_LIMIT {
                self.buf = Vec::new();
                self.discarding = true;
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Line {
        Line::Text(s.as_bytes().to_vec())
    }

    #[test]
    fn frames_split_anywhere_come_out_whole() {
        let wire = b"\n{\"a\":1}\r\n\n{\"b\":2}\r\n";
        let mut whole = LineDecoder::default();
        let all = whole.push(wire);
        assert_eq!(
            all,
            [text(""), text("{\"a\":1}"), text(""), text("{\"b\":2}")]
        );
        for split in 0..wire.len() {
            let mut decoder = LineDecoder::default();
            let mut lines = decoder.push(&wire[..split]);
            lines.extend(decoder.push(&wire[split..]));
            assert_eq!(lines, all, "split at {split}");
        }
        // The platform's own framing, `\n` json `\r`: a line only ends at
        // the next frame's `\n`, and keeps its `\r` until then.
        let mut decoder = LineDecoder::default();
        assert_eq!(decoder.push(b"\n{}\r"), [text("")]);
        assert_eq!(decoder.push(b"\n"), [text("{}")]);
    }

    #[test]
    fn lines_over_the_limit_are_dropped_and_the_next_one_read() {
        let long = "x".repeat(TCP_LINE_LIMIT + 1);
        let exact = "y".repeat(TCP_LINE_LIMIT);
        let mut decoder = LineDecoder::default();
        let wire = format!("{long}\r\n{exact}\r\nok\n");
        assert_eq!(
            decoder.push(wire.as_bytes()),
            [Line::TooLong, text(&exact), text("ok")]
        );
        // Without a delimiter in sight the decoder discards, bounded.
        let mut decoder = LineDecoder::default();
        for _ in 0..100 {
            assert!(decoder.push(&[b'z'; 4096]).is_empty());
            assert!(decoder.buf.len() <= TCP_LINE_LIMIT);
        }
        assert_eq!(decoder.push(b"tail\nnext\n"), [Line::TooLong, text("next")]);
    }
}
