//! Framing of the SDK's TCP link: `"\n" + json + "\r"` in UTF-8, and the
//! `0x11` / `0x12` heartbeat.
//!
//! What this follows, from the public parkingOS cloud server
//! (`github:ParkingOS/ParkingOS_cloud`, `parkingos_cloud_api/src/main/java/parkingos/com/bolink/netty/`):
//!
//! * Every message the server writes is `("\n" + mesg + "\r").getBytes("UTF-8")`
//!   (`SensorServerHandler.java` line 474, `utlis/CommonUtils.java` line 131
//!   for pushed messages). An answer with nothing to say is written as the
//!   empty frame `"\n\r"` (`doBackMessage(backMesg)` with `backMesg = ""`,
//!   `SensorServerHandler.java` lines 298 and 385).
//! * The server reads with netty's `LineBasedFrameDecoder(1024)` and a UTF-8
//!   `StringDecoder` (`SensorServer.java` lines 113-114): its input is split
//!   at `"\n"` (a `"\r"` right before it is stripped), lines longer than
//!   1024 bytes are dropped, and empty lines are ignored
//!   (`SensorServerHandler.java` line 69).
//! * The heartbeat is the four ASCII characters `0x11`, not the byte 0x11:
//!   a line is a heartbeat when `mesg.indexOf("0x11") != -1 && mesg.length() < 6`
//!   (`SensorServerHandler.java` line 80), where `mesg` is the decoded line
//!   without its delimiter and `length()` counts UTF-16 code units. The
//!   server answers with the four characters `0x12` framed like any message
//!   (`doBackMessage("0x12", ...)`, line 87), and only on a channel that
//!   logged in (lines 84-91). The older server of
//!   `github:babyrjw/ParkingOS_cloud` (`parkingos_cloud_api/src/com/zld/sdk/tcp/SensorServerHandler.java`
//!   lines 50-51, 243) reads and writes them the same way.
//!
//! What is sent is therefore `"\n" + json + "\r\n"`: the leading `"\n"`
//! and the `"\r"` are the platform's own framing, and the final `"\n"` ends
//! the line for the server's line decoder at once (without it, a frame
//! would only be read when the next frame's `"\n"` arrives). A reader of
//! `"\n" ... "\r"` frames, like [`FrameDecoder`], sees that `"\n"` open a
//! frame that the next one's `"\n"` restarts: nothing is lost either way.

use std::fmt;

/// The heartbeat the client sends (the four ASCII characters, as the
/// public server reads it).
pub const HEARTBEAT: &[u8] = b"0x11";

/// The server's answer to a heartbeat.
pub const HEARTBEAT_ANSWER: &[u8] = b"0x12";

/// Why bytes could not be framed or read as frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A frame is longer than the limit (counted in bytes between its
    /// delimiters); the stream is out of step and the link must be
    /// re-established.
    #[error("frame over {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The content to send holds a raw CR or LF byte, which would end the
    /// frame early (valid JSON only has them as insignificant whitespace).
    #[error("a frame cannot hold a raw CR or LF byte")]
    Delimiter,
}

/// A heartbeat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Beat {
    /// `0x11`: the client's heartbeat.
    Ping,
    /// `0x12`: the server's answer.
    Pong,
}

/// One frame read from the link.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Inbound {
    /// A heartbeat or its answer.
    Beat(Beat),
    /// Any other frame: its content between the delimiters (JSON text, or
    /// empty for the server's "nothing to say").
    Message(Vec<u8>),
}

impl fmt::Debug for Inbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inbound::Beat(beat) => f.debug_tuple("Beat").field(beat).finish(),
            Inbound::Message(content) => f
                .debug_tuple("Message")
                .field(&String::from_utf8_lossy(content))
                .finish(),
        }
    }
}

/// Whether a frame's content is a heartbeat, by the public server's own
/// test: it contains `0x11` (or `0x12`) and is shorter than 6 UTF-16 code
/// units once decoded as UTF-8 (Java's `String.length()` after netty's
/// `StringDecoder`, which replaces malformed bytes as `from_utf8_lossy`
/// does).
pub fn beat_of(content: &[u8]) -> Option<Beat> {
    // More than 6 UTF-8 bytes can still be fewer than 6 code units (CJK
    // text is 3 bytes a code unit), so the test decodes; but a long frame
    // is never a heartbeat and is not decoded for nothing.
    if content.len() > 6 * 4 {
        return None;
    }
    let text = String::from_utf8_lossy(content);
    if text.encode_utf16().count() >= 6 {
        return None;
    }
    if text.contains("0x11") {
        Some(Beat::Ping)
    } else if text.contains("0x12") {
        Some(Beat::Pong)
    } else {
        None
    }
}

/// Frames `content` for the wire: `"\n" + content + "\r\n"` (see the
/// module docs for the final `"\n"`).
///
/// # Errors
/// [`FrameError::Delimiter`] when `content` holds a raw CR or LF byte.
pub fn encode(content: &[u8]) -> Result<Vec<u8>, FrameError> {
    if content.iter().any(|&b| b == b'\r' || b == b'\n') {
        return Err(FrameError::Delimiter);
    }
    let mut out = Vec::with_capacity(content.len() + 3);
    out.push(b'\n');
    out.extend_from_slice(content);
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

/// Reassembles `"\n" ... "\r"` frames from a byte stream split anywhere.
///
/// * Bytes outside a frame (before its `"\n"`, after its `"\r"`) are
///   skipped, as the server skips what its decoder cannot use.
/// * A `"\n"` inside a frame starts the frame again: what came before it
///   was not a complete frame (the platform writes compact JSON, which
///   never holds a raw newline).
/// * A run of content longer than the limit is [`FrameError::TooLarge`],
///   whatever the split: the decoder then forgets everything buffered, and
///   the link should be re-established.
///
/// Feed it with [`push`](Self::push), then call
/// [`next_frame`](Self::next_frame) until it returns `Ok(None)`; it then
/// holds at most `limit` bytes of an unfinished frame.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    limit: usize,
    /// Unread bytes; when inside a frame, its content so far starts at 0.
    buf: Vec<u8>,
    /// Inside a frame (its `"\n"` was seen).
    inside: bool,
    /// How far `buf` was already searched for a delimiter.
    scanned: usize,
    /// Bytes skipped outside frames and in restarted frames.
    skipped: u64,
}

impl FrameDecoder {
    /// A decoder that refuses frames longer than `limit` bytes.
    pub fn new(limit: usize) -> FrameDecoder {
        FrameDecoder {
            limit,
            buf: Vec::new(),
            inside: false,
            scanned: 0,
            skipped: 0,
        }
    }

    /// The frame size limit, in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes held for frames not yet returned.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Bytes skipped so far as not belonging to any frame.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Adds bytes read from the link.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.inside || !self.buf.is_empty() {
            self.buf.extend_from_slice(bytes);
            return;
        }
        // Outside a frame with nothing buffered: junk before the next
        // frame is never stored.
        match bytes.iter().position(|&b| b == b'\n') {
            Some(at) => {
                self.skipped += at as u64;
                self.inside = true;
                self.scanned = 0;
                self.buf.extend_from_slice(&bytes[at + 1..]);
            }
            None => self.skipped += bytes.len() as u64,
        }
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed.
    ///
    /// # Errors
    /// [`FrameError::TooLarge`] when a frame runs over the limit; the
    /// decoder is then empty.
    pub fn next_frame(&mut self) -> Result<Option<Inbound>, FrameError> {
        loop {
            if !self.inside {
                match self.buf.iter().position(|&b| b == b'\n') {
                    Some(at) => {
                        self.skipped += at as u64;
                        self.buf.drain(..=at);
                        self.inside = true;
                        self.scanned = 0;
                    }
                    None => {
                        self.skipped += self.buf.len() as u64;
                        self.buf.clear();
                        return Ok(None);
                    }
                }
            }
            let found = self.buf[self.scanned..]
                .iter()
                .position(|&b| b == b'\r' || b == b'\n')
                .map(|at| self.scanned + at);
            let Some(end) = found else {
                if self.buf.len() > self.limit {
                    return Err(self.overflow());
                }
                self.scanned = self.buf.len();
                return Ok(None);
            };
            // The same check for a frame that ended and one still open, so
            // that the outcome never depends on how the stream was split.
            if end > self.limit {
                return Err(self.overflow());
            }
            if self.buf[end] == b'\n' {
                // A new frame starts; the unfinished one was junk.
                self.skipped += end as u64;
                self.buf.drain(..=end);
                self.scanned = 0;
                continue;
            }
            let content: Vec<u8> = self.buf.drain(..=end).take(end).collect();
            self.inside = false;
            self.scanned = 0;
            let frame = match beat_of(&content) {
                Some(beat) => Inbound::Beat(beat),
                None => Inbound::Message(content),
            };
            return Ok(Some(frame));
        }
    }

    fn overflow(&mut self) -> FrameError {
        self.skipped += self.buf.len() as u64;
        self.buf = Vec::new();
        self.inside = false;
        self.scanned = 0;
        FrameError::TooLarge { limit: self.limit }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Decodes `chunks` in order, stopping at the first error.
    fn decode(limit: usize, chunks: &[&[u8]]) -> Vec<Result<Inbound, FrameError>> {
        let mut decoder = FrameDecoder::new(limit);
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.push(chunk);
            loop {
                match decoder.next_frame() {
                    Ok(Some(frame)) => out.push(Ok(frame)),
                    Ok(None) => break,
                    Err(e) => {
                        out.push(Err(e));
                        return out;
                    }
                }
            }
            assert!(
                decoder.buffered() <= limit,
                "{} bytes buffered over a limit of {limit}",
                decoder.buffered()
            );
        }
        out
    }

    fn message(text: &str) -> Result<Inbound, FrameError> {
        Ok(Inbound::Message(text.as_bytes().to_vec()))
    }

    #[test]
    fn frames_as_the_server_writes_them() {
        let wire = "\n{\"state\":1,\"token\":\"t\",\"service_name\":\"login\"}\r\n0x12\r\n\r";
        assert_eq!(
            decode(1024, &[wire.as_bytes()]),
            vec![
                message("{\"state\":1,\"token\":\"t\",\"service_name\":\"login\"}"),
                Ok(Inbound::Beat(Beat::Pong)),
                // doBackMessage("") answers an answer with an empty frame.
                message(""),
            ]
        );
    }

    #[test]
    fn heartbeats_are_read_as_the_server_reads_them() {
        assert_eq!(beat_of(b"0x11"), Some(Beat::Ping));
        assert_eq!(beat_of(b"0x12"), Some(Beat::Pong));
        // "length < 6": up to one character more is still a heartbeat ...
        assert_eq!(beat_of(b" 0x12"), Some(Beat::Pong));
        // ... counted in UTF-16 code units, not bytes.
        assert_eq!(beat_of("0x12京".as_bytes()), Some(Beat::Pong));
        assert_eq!(beat_of(b"0x12ab"), None);
        assert_eq!(beat_of("0x12京京".as_bytes()), None);
        // Not the byte 0x11.
        assert_eq!(beat_of(&[0x11]), None);
        assert_eq!(beat_of(b"{\"x\":\"0x12\"}"), None);
        assert_eq!(beat_of(b""), None);
    }

    #[test]
    fn encoded_frames_end_the_server_line_and_decode_back() {
        let framed = encode(b"{\"a\":1}").unwrap();
        assert_eq!(framed, b"\n{\"a\":1}\r\n");
        let twice = [framed.clone(), encode(HEARTBEAT).unwrap()].concat();
        assert_eq!(
            decode(64, &[&twice]),
            vec![message("{\"a\":1}"), Ok(Inbound::Beat(Beat::Ping))]
        );
        assert_eq!(encode(b"{\n}"), Err(FrameError::Delimiter));
        assert_eq!(encode(b"{\r}"), Err(FrameError::Delimiter));
    }

    #[test]
    fn junk_between_frames_is_skipped() {
        let wire = b"garbage\r\r\n{\"a\":1}\rmore junk\n\nhalf a frame\n{\"b\":2}\r";
        let mut decoder = FrameDecoder::new(64);
        decoder.push(wire);
        assert_eq!(decoder.next_frame().transpose(), Some(message("{\"a\":1}")));
        assert_eq!(decoder.next_frame().transpose(), Some(message("{\"b\":2}")));
        assert_eq!(decoder.next_frame(), Ok(None));
        assert!(decoder.skipped() > 0);
    }

    #[test]
    fn a_frame_over_the_limit_is_an_error_at_every_split() {
        let wire = b"\n{\"ok\":1}\r\n0123456789ABCDEF\r\n{\"after\":1}\r";
        for split in 0..=wire.len() {
            let (a, b) = wire.split_at(split);
            let out = decode(10, &[a, b]);
            assert_eq!(
                out,
                vec![
                    message("{\"ok\":1}"),
                    Err(FrameError::TooLarge { limit: 10 })
                ],
                "split at {split}"
            );
        }
        // Exactly at the limit is fine.
        assert_eq!(
            decode(10, &[b"\n0123456789\r"]),
            vec![message("0123456789")]
        );
    }

    #[test]
    fn a_frame_split_at_every_byte_position_is_reassembled() {
        let wire =
            "\n{\"service_name\":\"in_park\",\"state\":1,\"car_number\":\"京A12345\"}\r\n0x12\r"
                .as_bytes();
        let expected = decode(1024, &[wire]);
        assert_eq!(expected.len(), 2);
        for split in 0..=wire.len() {
            let (a, b) = wire.split_at(split);
            assert_eq!(decode(1024, &[a, b]), expected, "split at {split}");
        }
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(decode(1024, &bytes), expected);
    }

    /// Frame contents the platform could write: no CR or LF.
    fn content() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(HEARTBEAT_ANSWER.to_vec()),
            Just(Vec::new()),
            proptest::collection::vec(
                any::<u8>().prop_filter("no delimiter", |b| *b != b'\r' && *b != b'\n'),
                0..80
            ),
            "[ -~京]{0,40}".prop_map(|s| s.into_bytes()),
        ]
    }

    /// Junk between frames: anything without LF (which would open a frame).
    fn junk() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>().prop_filter("no LF", |b| *b != b'\n'), 0..8)
    }

    /// Splits `bytes` at the given (unsorted, repeated) positions.
    fn split<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut out = Vec::new();
        let mut from = 0;
        for cut in cuts {
            out.push(&bytes[from..cut]);
            from = cut;
        }
        out.push(&bytes[from..]);
        out
    }

    proptest! {
        #[test]
        fn any_bytes_any_split_never_panic_and_do_not_depend_on_the_split(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
            limit in 0usize..100,
        ) {
            let whole = decode(limit, &[&bytes]);
            let pieces = decode(limit, &split(&bytes, &cuts));
            prop_assert_eq!(pieces, whole);
        }

        #[test]
        fn valid_frames_with_junk_between_them_come_back_whatever_the_split(
            frames in proptest::collection::vec((junk(), content()), 0..12),
            cuts in proptest::collection::vec(any::<usize>(), 0..16),
        ) {
            let mut wire = Vec::new();
            for (junk, content) in &frames {
                wire.extend_from_slice(junk);
                wire.push(b'\n');
                wire.extend_from_slice(content);
                wire.push(b'\r');
            }
            let expected: Vec<Result<Inbound, FrameError>> = frames
                .iter()
                .map(|(_, content)| Ok(match beat_of(content) {
                    Some(beat) => Inbound::Beat(beat),
                    None => Inbound::Message(content.clone()),
                }))
                .collect();
            prop_assert_eq!(decode(1024, &split(&wire, &cuts)), expected);
        }
    }
}
