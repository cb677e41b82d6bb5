//! Printing results: one table per scenario (a row per target, then the edge's ratios to
//! each baseline), in a terminal layout or as Markdown for `bench/README.md`.

use comfy_table::presets::{ASCII_MARKDOWN, UTF8_FULL_CONDENSED};
use comfy_table::{CellAlignment, Table};
use hdrhistogram::Histogram;

/// How tables are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Box drawing for a terminal.
    Text,
    /// GitHub Markdown.
    Markdown,
}

/// A titled table with notes under it.
#[derive(Debug, Default)]
pub struct Report {
    /// Heading.
    pub title: String,
    /// Column names.
    pub header: Vec<String>,
    /// Cells.
    pub rows: Vec<Vec<String>>,
    /// Lines printed under the table.
    pub notes: Vec<String>,
}

impl Report {
    /// An empty table with `title` and `header`.
    pub fn new(title: impl Into<String>, header: &[&str]) -> Report {
        Report {
            title: title.into(),
            header: header.iter().map(|h| (*h).to_string()).collect(),
            ..Report::default()
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Adds a note.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// The table as text.
    pub fn render(&self, format: Format) -> String {
        let mut table = Table::new();
        table.load_preset(match format {
            Format::Text => UTF8_FULL_CONDENSED,
            Format::Markdown => ASCII_MARKDOWN,
        });
        // A `|` inside a Markdown cell would split it.
        let cell = |text: &String| match format {
            Format::Text => text.clone(),
            Format::Markdown => text.replace('|', "\\|"),
        };
        table.set_header(self.header.iter().map(cell).collect::<Vec<_>>());
        for row in &self.rows {
            table.add_row(row.iter().map(cell).collect::<Vec<_>>());
        }
        for index in 1..self.header.len() {
            if let Some(column) = table.column_mut(index) {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
        let heading = match format {
            Format::Text => format!("== {} ==", self.title),
            Format::Markdown => format!("#### {}", self.title),
        };
        let mut text = format!("{heading}\n\n{table}\n");
        for note in &self.notes {
            text.push_str(&match format {
                Format::Text => format!("  {note}\n"),
                Format::Markdown => format!("\n- {note}"),
            });
        }
        if format == Format::Markdown && !self.notes.is_empty() {
            text.push('\n');
        }
        text
    }
}

/// Milliseconds with a precision that suits the value.
pub fn ms(value: f64) -> String {
    if !value.is_finite() {
        "n/a".into()
    } else if value < 10.0 {
        format!("{value:.2}")
    } else if value < 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

/// A count with thousands separators.
pub fn count(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".into();
    }
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `a / b` as `1.23x`, or `n/a`.
pub fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b > 0.0 {
        format!("{:.2}x", a / b)
    } else {
        "n/a".into()
    }
}

/// A share of one core as a percentage.
pub fn percent(share: f64) -> String {
    format!("{:.0} %", share * 100.0)
}

/// p50, p99 and max of a latency histogram in microseconds, as milliseconds (NaN when
/// empty).
pub fn percentiles(histogram: &Histogram<u64>) -> (f64, f64, f64) {
    if histogram.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let at = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    (at(0.5), at(0.99), histogram.max() as f64 / 1000.0)
}

/// A target's verdict line.
pub fn verdict(met: bool) -> String {
    if met { "met" } else { "missed" }.into()
}
