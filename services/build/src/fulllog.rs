//! The complete build log, kept for storage after the run: events carry batches, this
//! carries everything, gzip-compressed once it is big enough to matter.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::error::BuildError;
use crate::lines::LogLine;

/// Logs larger than this are stored gzip-compressed.
pub const GZIP_THRESHOLD: usize = 1024 * 1024;

/// Text kept at most; later lines are counted and summarised in a final line.
pub const MAX_LOG_BYTES: usize = 64 * 1024 * 1024;

/// Accumulates log lines (one per `\n`-terminated line of text).
#[derive(Debug, Default)]
pub struct FullLog {
    text: String,
    lines: u64,
    omitted: u64,
}

/// The bytes to store and how they are encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredLog {
    /// The log, UTF-8 text, possibly gzip-compressed.
    pub bytes: Vec<u8>,
    /// `Some("gzip")` when compressed (for a `Content-Encoding` header or object
    /// metadata), `None` for plain text.
    pub content_encoding: Option<&'static str>,
}

impl StoredLog {
    /// The content type of the decoded bytes.
    pub const CONTENT_TYPE: &'static str = "text/plain; charset=utf-8";
}

impl FullLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one streamed line.
    pub fn push(&mut self, line: &LogLine) {
        self.push_text(&line.text);
    }

    /// Appends a line of our own (e.g. `$ npm install` before a step's output).
    pub fn push_text(&mut self, text: &str) {
        if self.text.len() + text.len() + 1 > MAX_LOG_BYTES {
            self.omitted += 1;
            return;
        }
        self.text.push_str(text);
        self.text.push('\n');
        self.lines += 1;
    }

    /// Lines kept so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Bytes of text kept so far.
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// Whether nothing was logged.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.omitted == 0
    }

    /// The text as logged so far.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The bytes to store: plain text up to [`GZIP_THRESHOLD`], gzip above it.
    pub fn finish(mut self) -> Result<StoredLog, BuildError> {
        if self.omitted > 0 {
            let note = format!(
                "[buildwire] {} more lines omitted: log too large",
                self.omitted
            );
            self.text.push_str(&note);
            self.text.push('\n');
        }
        if self.text.len() <= GZIP_THRESHOLD {
            return Ok(StoredLog {
                bytes: self.text.into_bytes(),
                content_encoding: None,
            });
        }
        let mut gz = GzEncoder::new(
            Vec::with_capacity(self.text.len() / 4),
            Compression::default(),
        );
        gz.write_all(self.text.as_bytes())
            .map_err(BuildError::Compress)?;
        let bytes = gz.finish().map_err(BuildError::Compress)?;
        Ok(StoredLog {
            bytes,
            content_encoding: Some("gzip"),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use flate2::read::GzDecoder;

    use super::*;

    #[test]
    fn small_logs_stay_plain() {
        let mut log = FullLog::new();
        log.push_text("$ npm install");
        log.push(&LogLine::stdout("added 1 package"));
        log.push(&LogLine::stderr("npm warn x"));
        assert_eq!(log.lines(), 3);
        let stored = log.finish().expect("finish");
        assert_eq!(stored.content_encoding, None);
        assert_eq!(
            stored.bytes,
            b"$ npm install\nadded 1 package\nnpm warn x\n"
        );
    }

    #[test]
    fn large_logs_are_gzipped_and_round_trip() {
        let mut log = FullLog::new();
        for i in 0..40_000 {
            log.push(&LogLine::stdout(format!(
                "line {i}: some build output here"
            )));
        }
        assert!(log.len() > GZIP_THRESHOLD);
        let plain = log.as_str().to_owned();
        let stored = log.finish().expect("finish");
        assert_eq!(stored.content_encoding, Some("gzip"));
        assert!(stored.bytes.len() < plain.len() / 4);
        let mut back = String::new();
        GzDecoder::new(&stored.bytes[..])
            .read_to_string(&mut back)
            .expect("gunzip");
        assert_eq!(back, plain);
    }
}
