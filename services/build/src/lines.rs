//! Turning raw pipe bytes into clean log lines: split on `\n`, strip ANSI escapes and
//! control bytes, decode lossy UTF-8, cap each line. Pure, so it is tested without
//! processes.

/// The longest line text we keep, in bytes; longer lines are cut and end with `…`.
pub const MAX_LINE_BYTES: usize = 4096;

/// How many raw bytes of one line we buffer before giving up on the rest of it. Larger
/// than [`MAX_LINE_BYTES`] because escape codes are removed after buffering.
const MAX_RAW_LINE_BYTES: usize = 4 * MAX_LINE_BYTES;

/// Which pipe a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// The child's standard output.
    Stdout,
    /// The child's standard error.
    Stderr,
}

/// One cleaned line of a command's output, as streamed to the caller.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogLine {
    /// Which pipe it came from.
    pub stream: Stream,
    /// The text without the newline, ANSI codes or control bytes; at most
    /// [`MAX_LINE_BYTES`] bytes.
    pub text: String,
}

impl LogLine {
    /// A line on stdout.
    pub fn stdout(text: impl Into<String>) -> Self {
        Self {
            stream: Stream::Stdout,
            text: text.into(),
        }
    }

    /// A line on stderr.
    pub fn stderr(text: impl Into<String>) -> Self {
        Self {
            stream: Stream::Stderr,
            text: text.into(),
        }
    }
}

/// Accumulates the bytes of one pipe and hands out finished, cleaned lines.
#[derive(Debug, Default)]
pub(crate) struct LineSplitter {
    buf: Vec<u8>,
    /// The current line passed [`MAX_RAW_LINE_BYTES`]; its rest is discarded.
    overflowed: bool,
}

impl LineSplitter {
    /// Feeds a chunk read from the pipe; calls `emit` for every completed line.
    pub(crate) fn push(&mut self, mut chunk: &[u8], emit: &mut impl FnMut(String)) {
        while !chunk.is_empty() {
            let (part, rest, complete) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (&chunk[..i], &chunk[i + 1..], true),
                None => (chunk, &[][..], false),
            };
            let room = MAX_RAW_LINE_BYTES.saturating_sub(self.buf.len());
            if part.len() > room {
                self.overflowed = true;
            }
            self.buf.extend_from_slice(&part[..part.len().min(room)]);
            if complete {
                emit(self.take());
            }
            chunk = rest;
        }
    }

    /// Flushes a last line that had no trailing newline.
    pub(crate) fn finish(&mut self, emit: &mut impl FnMut(String)) {
        if !self.buf.is_empty() || self.overflowed {
            emit(self.take());
        }
    }

    fn take(&mut self) -> String {
        let raw = std::mem::take(&mut self.buf);
        let overflowed = std::mem::replace(&mut self.overflowed, false);
        clean_line(&raw, overflowed)
    }
}

/// Strips escapes and control bytes, decodes lossily and caps the length.
pub(crate) fn clean_line(raw: &[u8], already_truncated: bool) -> String {
    let stripped = strip_ansi(raw);
    let text = String::from_utf8_lossy(&stripped);
    let text = text.trim_end_matches('\r');
    cap(text, already_truncated)
}

/// Cuts `text` at a char boundary so that, with the `…` marker, it fits
/// [`MAX_LINE_BYTES`].
fn cap(text: &str, truncated: bool) -> String {
    const MARK: &str = "…";
    if text.len() <= MAX_LINE_BYTES && !truncated {
        return text.to_owned();
    }
    let mut end = text.len().min(MAX_LINE_BYTES - MARK.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = String::with_capacity(end + MARK.len());
    out.push_str(&text[..end]);
    out.push_str(MARK);
    out
}

/// Where we are inside an escape sequence.
#[derive(Clone, Copy)]
enum Esc {
    /// Plain text.
    None,
    /// Just saw ESC.
    Start,
    /// ESC followed by intermediate bytes (0x20-0x2F), waiting for the final byte.
    Intermediate,
    /// Inside `ESC [` (CSI), waiting for a final byte 0x40-0x7E.
    Csi,
    /// Inside a string sequence (OSC `ESC ]`, DCS, ...), ending at BEL or `ESC \`.
    Str,
    /// Saw ESC inside a string sequence.
    StrEscape,
}

/// Removes ANSI/VT escape sequences and control bytes other than tab.
fn strip_ansi(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut state = Esc::None;
    for &b in raw {
        state = match state {
            Esc::None => match b {
                0x1b => Esc::Start,
                b'\t' => {
                    out.push(b);
                    Esc::None
                }
                0x00..=0x1f | 0x7f => Esc::None,
                _ => {
                    out.push(b);
                    Esc::None
                }
            },
            Esc::Start => match b {
                b'[' => Esc::Csi,
                b']' | b'P' | b'X' | b'^' | b'_' => Esc::Str,
                0x20..=0x2f => Esc::Intermediate,
                _ => Esc::None,
            },
            Esc::Intermediate => match b {
                0x20..=0x2f => Esc::Intermediate,
                _ => Esc::None,
            },
            Esc::Csi => match b {
                0x40..=0x7e => Esc::None,
                _ => Esc::Csi,
            },
            Esc::Str => match b {
                0x07 => Esc::None,
                0x1b => Esc::StrEscape,
                _ => Esc::Str,
            },
            Esc::StrEscape => match b {
                b'\\' => Esc::None,
                0x1b => Esc::StrEscape,
                _ => Esc::Str,
            },
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<String> {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, &mut |l| out.push(l));
        }
        s.finish(&mut |l| out.push(l));
        out
    }

    #[test]
    fn splits_across_chunks_and_flushes_the_tail() {
        assert_eq!(
            split(&[b"a\nb", b"c\r\n", b"\n", b"tail"]),
            vec!["a", "bc", "", "tail"]
        );
        assert!(split(&[b""]).is_empty());
    }

    #[test]
    fn strips_ansi_and_controls() {
        assert_eq!(
            clean_line(b"\x1b[1m\x1b[32mok\x1b[0m done\x07", false),
            "ok done"
        );
        assert_eq!(
            clean_line(b"\x1b]0;title\x07x\x1b]8;;http://a\x1b\\y\x1b(Bz", false),
            "xyz"
        );
        assert_eq!(clean_line(b"tab\there\x08", false), "tab\there");
    }

    #[test]
    fn decodes_lossily() {
        assert_eq!(clean_line(b"caf\xc3\xa9 \xff", false), "café \u{fffd}");
    }

    #[test]
    fn caps_long_lines_at_a_char_boundary() {
        let long = "é".repeat(5000);
        let out = split(&[long.as_bytes(), b"\nnext\n"]);
        assert_eq!(out.len(), 2);
        assert!(out[0].len() <= MAX_LINE_BYTES);
        assert!(out[0].ends_with('…'));
        assert_eq!(out[1], "next");

        let huge = vec![b'x'; 100_000];
        let out = split(&[&huge, &huge, b"\n"]);
        assert_eq!(out.len(), 1);
        assert!(out[0].len() <= MAX_LINE_BYTES);
    }
}
