//! The demo's terminal view of a build, as in the plan's sketch: a line per step with a
//! spinner while it runs, then a tick (or a cross) and its duration. Without a terminal
//! (CI, pipes) the same lines are printed plainly when each step ends. A file the model is
//! writing shows beside its task ("Creating src/App.tsx... 120 lines"), auto-fix attempts
//! as their own steps, and the tokens a build used with its result.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::Value;

/// Renders one build's events.
pub struct Progress {
    multi: MultiProgress,
    tty: bool,
    current: Option<Step>,
    started: Instant,
    /// LLM tokens reported so far (`usage` events).
    tokens: u64,
}

struct Step {
    bar: ProgressBar,
    label: String,
    since: Instant,
}

/// The plan's emoji for a status code ("Analyzing your requirements... 🤔").
fn status_emoji(code: &str) -> &'static str {
    match code {
        "QUEUED" => "⏳",
        "ANALYZE" => "🤔",
        "STRUCT" => "🧱",
        "WRITE" => "✍️",
        "INSTALL" => "📦",
        "COMPILE" | "LINT" | "TEST" => "🧪",
        "BUILD" | "OPTIMIZE" => "🔨",
        "DEPLOY" => "🚀",
        "FIX" => "🩹",
        _ => "•",
    }
}

/// "Creating src/components/TodoList.tsx... 120 lines".
fn file_line(path: &str, lines: u64) -> String {
    let unit = if lines == 1 { "line" } else { "lines" };
    format!("Creating {path}... {lines} {unit}")
}

fn seconds(elapsed: Duration) -> String {
    format!("{:.1}s", elapsed.as_secs_f64())
}

impl Progress {
    /// A view on stderr.
    pub fn new(title: &str) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let progress = Progress {
            multi: MultiProgress::new(),
            tty,
            current: None,
            started: Instant::now(),
            tokens: 0,
        };
        progress.line(&format!("▶ {title}"));
        progress
    }

    fn line(&self, text: &str) {
        if self.tty {
            let _ = self.multi.println(text);
        } else {
            eprintln!("{text}");
        }
    }

    fn start(&mut self, label: &str) {
        self.finish("✔");
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("  {spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(label.to_string());
        bar.enable_steady_tick(Duration::from_millis(100));
        self.current = Some(Step {
            bar,
            label: label.to_string(),
            since: Instant::now(),
        });
    }

    fn finish(&mut self, mark: &str) {
        if let Some(step) = self.current.take() {
            step.bar.finish_and_clear();
            self.line(&format!(
                "  {mark} {} ({})",
                step.label,
                seconds(step.since.elapsed())
            ));
        }
    }

    /// Applies one event; returns the preview URL on `complete`, or the reason on a
    /// failure/cancel (`Err`), and `None` while the build runs.
    pub fn event(&mut self, event: &Value) -> Option<Result<String, String>> {
        let text = |field: &str| event[field].as_str().unwrap_or_default().to_string();
        match event["type"].as_str().unwrap_or_default() {
            "status" => {
                let emoji = status_emoji(event["code"].as_str().unwrap_or_default());
                self.start(&format!("{emoji} {}", text("message")));
            }
            "plan_generated" => {
                let tasks = event["plan"]["tasks"].as_array().map_or(0, Vec::len);
                self.finish("✔");
                self.line(&format!("  ✔ Plan: {tasks} tasks"));
            }
            "task_started" => self.start(&text("taskName")),
            "task_completed" => {
                let count = |f: &str| event["details"][f].as_array().map_or(0, Vec::len);
                if let Some(step) = &mut self.current {
                    step.label = format!(
                        "{} (+{} new, {} changed)",
                        step.label,
                        count("filesCreated"),
                        count("filesModified")
                    );
                }
                self.finish("✔");
            }
            "file_progress" => {
                if let Some(step) = &self.current {
                    step.bar.set_message(format!(
                        "{}  {}",
                        step.label,
                        file_line(&text("path"), event["lines"].as_u64().unwrap_or(0))
                    ));
                }
            }
            "usage" => {
                self.tokens += [
                    "inputTokens",
                    "outputTokens",
                    "cacheCreationInputTokens",
                    "cacheReadInputTokens",
                ]
                .iter()
                .filter_map(|field| event[*field].as_u64())
                .sum::<u64>();
            }
            "build_progress" => {
                if let (Some(step), Some(last)) = (
                    &self.current,
                    event["logs"]
                        .as_array()
                        .and_then(|l| l.last())
                        .and_then(Value::as_str),
                ) {
                    let last: String = last.chars().take(60).collect();
                    step.bar.set_message(format!("{}  {last}", step.label));
                }
            }
            "task_failed" | "plan_failed" | "execute_failed" | "build_failed" | "deploy_failed" => {
                self.finish("✖");
                let reason = event["details"]["error"]
                    .as_str()
                    .or(event["error"].as_str())
                    .unwrap_or_default()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                self.line(&format!(
                    "  ✖ {}: {reason}",
                    event["type"].as_str().unwrap_or_default()
                ));
            }
            "complete" => {
                self.finish("✔");
                let tokens = match self.tokens {
                    0 => String::new(),
                    n => format!(", {n} LLM tokens"),
                };
                self.line(&format!(
                    "✔ {} (in {}{tokens})",
                    text("message"),
                    seconds(self.started.elapsed())
                ));
                return Some(Ok(text("previewUrl")));
            }
            "failed" | "cancelled" => {
                self.finish("✖");
                self.line(&format!("✖ {}", text("message")));
                return Some(Err(text("message")));
            }
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_being_written_reads_like_the_plan() {
        assert_eq!(
            file_line("src/components/TodoList.tsx", 120),
            "Creating src/components/TodoList.tsx... 120 lines"
        );
        assert_eq!(file_line("a.ts", 1), "Creating a.ts... 1 line");
        assert_eq!(status_emoji("FIX"), "🩹");
    }
}
