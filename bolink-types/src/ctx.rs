//! The context threaded through decoding and validation: the current path and
//! the violations found so far.

use crate::report::{Report, Slip, SlipKind, Violation, ViolationKind};

#[derive(Debug, Clone, Copy)]
enum Segment {
    Field(&'static str),
    Index(usize),
}

/// How deep a path stays off the heap; messages nest two or three levels.
const INLINE_DEPTH: usize = 8;

/// The current path: a fixed inline stack, spilling to the heap only past
/// `INLINE_DEPTH`, so that decoding a clean message allocates nothing here.
#[derive(Debug)]
struct Path {
    inline: [Segment; INLINE_DEPTH],
    deeper: Vec<Segment>,
    len: usize,
}

impl Default for Path {
    fn default() -> Self {
        Path {
            inline: [Segment::Index(0); INLINE_DEPTH],
            deeper: Vec::new(),
            len: 0,
        }
    }
}

impl Path {
    fn push(&mut self, segment: Segment) {
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = segment,
            None => self.deeper.push(segment),
        }
        self.len += 1;
    }

    fn pop(&mut self) {
        if self.len > INLINE_DEPTH {
            self.deeper.pop();
        }
        self.len = self.len.saturating_sub(1);
    }

    fn iter(&self) -> impl Iterator<Item = Segment> + '_ {
        self.inline[..self.len.min(INLINE_DEPTH)]
            .iter()
            .chain(&self.deeper)
            .copied()
    }
}

/// Collects violations with their paths. Paths are built only when a
/// violation is recorded, so a clean message pays for a few pushes and pops.
#[derive(Debug, Default)]
pub struct Ctx {
    path: Path,
    violations: Vec<Violation>,
    slips: Vec<Slip>,
    /// Length in characters of the last scalar as received, for `max_len`:
    /// set by the scalar readers, taken by the field reader right after.
    received_len: Option<usize>,
}

impl Ctx {
    /// An empty context at the root of a message.
    pub fn new() -> Ctx {
        Ctx::default()
    }

    /// Enters a field.
    pub fn push_field(&mut self, name: &'static str) {
        self.path.push(Segment::Field(name));
    }

    /// Enters an array element.
    pub fn push_index(&mut self, index: usize) {
        self.path.push(Segment::Index(index));
    }

    /// Leaves the field or element entered last.
    pub fn pop(&mut self) {
        self.path.pop();
    }

    /// Records a violation at the current path.
    pub fn report(&mut self, kind: ViolationKind) {
        let path = self.path_string(None);
        self.violations.push(Violation { path, kind });
    }

    /// Records a violation at a field of the current object.
    pub fn report_field(&mut self, field: &'static str, kind: ViolationKind) {
        let path = self.path_string(Some(field));
        self.violations.push(Violation { path, kind });
    }

    /// Records a lenient reading at the current path.
    pub fn slip(&mut self, received: String, read_as: SlipKind) {
        let path = self.path_string(None);
        self.slips.push(Slip {
            path,
            received,
            read_as,
        });
    }

    /// Records a key the current object's table does not have.
    pub fn slip_unknown_key(&mut self, key: &str, received: String) {
        let mut path = self.path_string(None);
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
        self.slips.push(Slip {
            path,
            received,
            read_as: SlipKind::UnknownKey,
        });
    }

    /// The lenient readings recorded so far.
    pub fn slips(&self) -> &[Slip] {
        &self.slips
    }

    #[doc(hidden)]
    pub fn set_received_len(&mut self, len: usize) {
        self.received_len = Some(len);
    }

    #[doc(hidden)]
    pub fn take_received_len(&mut self) -> Option<usize> {
        self.received_len.take()
    }

    /// How many violations were recorded so far; compare two marks to learn
    /// whether a part of the message was clean.
    pub fn mark(&self) -> usize {
        self.violations.len()
    }

    /// Whether nothing was recorded.
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    /// The violations found, as a report.
    pub fn into_report(self) -> Report {
        self.into_parts().0
    }

    /// The violations found, as a report, and the lenient readings.
    pub fn into_parts(self) -> (Report, Vec<Slip>) {
        (
            Report {
                violations: self.violations,
            },
            self.slips,
        )
    }

    fn path_string(&self, last: Option<&'static str>) -> String {
        let mut out = String::new();
        let segments = self.path.iter().chain(last.map(Segment::Field));
        for segment in segments {
            match segment {
                Segment::Field(name) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(name);
                }
                Segment::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}
