//! Live progress of a tool call whose input JSON arrives in fragments (Anthropic's
//! `partial_json`, OpenAI's `arguments`): a small incremental scanner that picks out
//! `write_file`'s `path` as soon as it is whole and counts the decoded `content` bytes and
//! lines so far, whatever the fragment boundaries (mid-key, mid-escape, mid-`\u` code).
//! Providers turn its figures into [`crate::Delta::ToolProgress`].

use crate::tools::WRITE_FILE;

/// What a viewer sees of a call being written: `path` (once whole), bytes, lines.
pub(crate) type Figures = (Option<String>, u64, u64);

/// Progress of one tool call: feeds fragments, says when a viewer should be told.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    scan: Scanner,
    raw_bytes: u64,
    sent: Option<Figures>,
}

/// New bytes that are worth a progress update on their own.
const BYTES_STEP: u64 = 2048;

impl Progress {
    /// Feeds the next fragment of the input of tool `name`; returns figures to report
    /// when the path became known, a line was added or 2 KiB more arrived.
    pub(crate) fn feed(&mut self, name: &str, fragment: &str) -> Option<Figures> {
        self.raw_bytes += fragment.len() as u64;
        for c in fragment.chars() {
            self.scan.push(c);
        }
        let now = self.figures(name);
        let due = match &self.sent {
            None => now.0.is_some() || now.2 > 0 || now.1 >= BYTES_STEP,
            Some((path, bytes, lines)) => {
                now.0.is_some() && path.is_none() || now.2 > *lines || now.1 >= bytes + BYTES_STEP
            }
        };
        due.then(|| self.mark(now))
    }

    /// The call's input is complete: the last figures, unless already reported.
    pub(crate) fn finish(&mut self, name: &str) -> Option<Figures> {
        let now = self.figures(name);
        (self.sent.as_ref() != Some(&now)).then(|| self.mark(now))
    }

    fn mark(&mut self, figures: Figures) -> Figures {
        self.sent = Some(figures.clone());
        figures
    }

    fn figures(&self, name: &str) -> Figures {
        if name == WRITE_FILE {
            (self.scan.path.clone(), self.scan.bytes, self.scan.lines())
        } else {
            (None, self.raw_bytes, 0)
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
enum State {
    #[default]
    Start,
    /// Inside the top-level object, before a key (or `}`).
    Key,
    InKey {
        escaped: bool,
    },
    Colon,
    Value,
    Str,
    /// Inside a nested array or object value: skipped.
    Nested {
        depth: u32,
        in_string: bool,
        escaped: bool,
    },
    Scalar,
    After,
    Done,
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
enum Field {
    #[default]
    Other,
    Path,
    Content,
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
enum Escape {
    #[default]
    None,
    Backslash,
    Unicode {
        value: u32,
        digits: u8,
    },
}

/// An incremental reader of a flat JSON object that keeps `path` and measures `content`.
#[derive(Debug, Default)]
struct Scanner {
    state: State,
    key: String,
    field: Field,
    escape: Escape,
    high_surrogate: Option<u32>,
    path_buf: String,
    path: Option<String>,
    bytes: u64,
    newlines: u64,
    ends_with_newline: bool,
}

impl Scanner {
    fn lines(&self) -> u64 {
        self.newlines + u64::from(self.bytes > 0 && !self.ends_with_newline)
    }

    fn push(&mut self, c: char) {
        self.state = match self.state {
            State::Start if c == '{' => State::Key,
            State::Key => match c {
                '"' => {
                    self.key.clear();
                    State::InKey { escaped: false }
                }
                '}' => State::Done,
                _ => State::Key,
            },
            State::InKey { escaped: true } => {
                self.key.push(c);
                State::InKey { escaped: false }
            }
            State::InKey { escaped: false } => match c {
                '\\' => State::InKey { escaped: true },
                '"' => State::Colon,
                _ => {
                    self.key.push(c);
                    State::InKey { escaped: false }
                }
            },
            State::Colon if c == ':' => State::Value,
            State::Value => match c {
                '"' => {
                    self.field = match self.key.as_str() {
                        "path" => Field::Path,
                        "content" => Field::Content,
                        _ => Field::Other,
                    };
                    if self.field == Field::Path {
                        self.path_buf.clear();
                    }
                    State::Str
                }
                '{' | '[' => State::Nested {
                    depth: 1,
                    in_string: false,
                    escaped: false,
                },
                c if c.is_whitespace() => State::Value,
                _ => State::Scalar,
            },
            State::Str => self.string_char(c),
            State::Nested {
                depth,
                in_string,
                escaped,
            } => nested(depth, in_string, escaped, c),
            State::Scalar => match c {
                ',' => State::Key,
                '}' => State::Done,
                _ => State::Scalar,
            },
            State::After => match c {
                ',' => State::Key,
                '}' => State::Done,
                _ => State::After,
            },
            other => other,
        };
    }

    fn string_char(&mut self, c: char) -> State {
        match self.escape {
            Escape::None => match c {
                '\\' => self.escape = Escape::Backslash,
                '"' => {
                    self.flush_surrogate();
                    if self.field == Field::Path {
                        self.path = Some(self.path_buf.clone());
                    }
                    return State::After;
                }
                c => self.decoded(c),
            },
            Escape::Backslash => {
                self.escape = Escape::None;
                match c {
                    'u' => {
                        self.escape = Escape::Unicode {
                            value: 0,
                            digits: 0,
                        }
                    }
                    'n' => self.decoded('\n'),
                    't' => self.decoded('\t'),
                    'r' => self.decoded('\r'),
                    'b' => self.decoded('\u{8}'),
                    'f' => self.decoded('\u{c}'),
                    other => self.decoded(other),
                }
            }
            Escape::Unicode { value, digits } => match c.to_digit(16) {
                Some(digit) if digits < 3 => {
                    self.escape = Escape::Unicode {
                        value: value * 16 + digit,
                        digits: digits + 1,
                    }
                }
                Some(digit) => {
                    self.escape = Escape::None;
                    self.code_unit(value * 16 + digit);
                }
                None => {
                    self.escape = Escape::None;
                    self.decoded(char::REPLACEMENT_CHARACTER);
                }
            },
        }
        State::Str
    }

    fn code_unit(&mut self, unit: u32) {
        match (self.high_surrogate.take(), unit) {
            (None, 0xD800..=0xDBFF) => self.high_surrogate = Some(unit),
            (Some(high), 0xDC00..=0xDFFF) => {
                let code = 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00);
                self.push_decoded(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            (pending, unit) => {
                if pending.is_some() {
                    self.push_decoded(char::REPLACEMENT_CHARACTER);
                }
                if (0xD800..=0xDBFF).contains(&unit) {
                    self.high_surrogate = Some(unit);
                } else {
                    self.push_decoded(char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER));
                }
            }
        }
    }

    fn flush_surrogate(&mut self) {
        if self.high_surrogate.take().is_some() {
            self.push_decoded(char::REPLACEMENT_CHARACTER);
        }
    }

    fn decoded(&mut self, c: char) {
        self.flush_surrogate();
        self.push_decoded(c);
    }

    fn push_decoded(&mut self, c: char) {
        match self.field {
            Field::Path => self.path_buf.push(c),
            Field::Content => {
                self.bytes += c.len_utf8() as u64;
                self.ends_with_newline = c == '\n';
                self.newlines += u64::from(c == '\n');
            }
            Field::Other => {}
        }
    }
}

/// One character inside a nested value that is being skipped.
fn nested(depth: u32, in_string: bool, escaped: bool, c: char) -> State {
    let (depth, in_string, escaped) = match (in_string, escaped, c) {
        (true, true, _) => (depth, true, false),
        (true, false, '\\') => (depth, true, true),
        (true, false, '"') => (depth, false, false),
        (true, false, _) => (depth, true, false),
        (false, _, '"') => (depth, true, false),
        (false, _, '{' | '[') => (depth + 1, false, false),
        (false, _, '}' | ']') => (depth.saturating_sub(1), false, false),
        (false, _, _) => (depth, false, false),
    };
    if depth == 0 {
        State::After
    } else {
        State::Nested {
            depth,
            in_string,
            escaped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(fragments: &[&str]) -> (Progress, Vec<Figures>) {
        let mut progress = Progress::default();
        let mut seen: Vec<Figures> = fragments
            .iter()
            .filter_map(|f| progress.feed(WRITE_FILE, f))
            .collect();
        seen.extend(progress.finish(WRITE_FILE));
        (progress, seen)
    }

    #[test]
    fn every_split_gives_the_same_path_and_counts() {
        let content = "import x from \"y\";\n\tlet é = '\u{1F600}';\r\nend";
        let input =
            json!({"path": "src/a \"b\".tsx", "meta": {"k": [1, "}"]}, "n": 3, "content": content})
                .to_string()
                .replace('\u{1F600}', "\\ud83d\\ude00");
        let chars: Vec<char> = input.chars().collect();
        for cut in 0..chars.len() {
            let (a, b): (String, String) =
                (chars[..cut].iter().collect(), chars[cut..].iter().collect());
            let (progress, seen) = run(&["", &a, &b]);
            let last = seen.last().expect("a final figure");
            assert_eq!(last.0.as_deref(), Some("src/a \"b\".tsx"), "cut at {cut}");
            assert_eq!(last.1, content.len() as u64, "cut at {cut}");
            assert_eq!(last.2, 3, "cut at {cut}");
            assert_eq!(progress.scan.state, State::Done);
        }
    }

    #[test]
    fn reports_the_path_early_and_each_new_line() {
        let (_, seen) = run(&["{\"path\":\"a.ts\"", ",\"content\":\"x", "\\ny", "\\n\"}"]);
        assert_eq!(
            seen,
            vec![
                (Some("a.ts".into()), 0, 0),
                (Some("a.ts".into()), 1, 1),
                (Some("a.ts".into()), 3, 2),
                (Some("a.ts".into()), 4, 2),
            ]
        );
        let (_, seen) = run(&["{\"content\":\"x\\n\",", "\"path\":\"late.ts\"}"]);
        assert_eq!(seen.first(), Some(&(None, 2, 1)));
        assert_eq!(seen.last(), Some(&(Some("late.ts".into()), 2, 1)));
    }

    #[test]
    fn other_tools_count_raw_json_every_two_kib() {
        let mut progress = Progress::default();
        assert_eq!(progress.feed("submit_plan", "{\"tasks\":"), None);
        let big = "x".repeat(2100);
        assert_eq!(progress.feed("submit_plan", &big), Some((None, 2109, 0)));
        assert_eq!(progress.finish("submit_plan"), None);
    }
}
