//! What the LLM pipeline tests share: `buildwire up` pointed at a fake model server
//! (`buildwire-fakes`, the real wire protocols), a tiny React + TypeScript app to script
//! its answers with, and the token figures each scripted answer reports.

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use buildwire_fakes::{Fake, Frame, Reply, anthropic, openai};
use serde_json::{Value, json};

/// The key the fakes accept and the stacks send.
pub const KEY: &str = "sk-fake-0123456789";
/// The service key of the stacks.
pub const SERVICE_KEY: &str = "test-service-key-0123456789";

/// A fake model server and how the tests script it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    Anthropic,
    OpenAi,
}

/// Tokens one scripted answer reports, in Anthropic's terms (`input` excludes cached input;
/// the OpenAI fake reports `prompt_tokens = input + cache_read`, and writes no cache).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub cache_write: u64,
    pub cache_read: u64,
    pub calls: u64,
}

impl Tokens {
    /// The sum.
    pub fn plus(self, other: Tokens) -> Tokens {
        Tokens {
            input: self.input + other.input,
            output: self.output + other.output,
            cache_write: self.cache_write + other.cache_write,
            cache_read: self.cache_read + other.cache_read,
            calls: self.calls + other.calls,
        }
    }

    /// Whether `usage` (a `usage` event or `GET /v1/builds/{id}`'s `usage`) says the same.
    pub fn matches(&self, usage: &Value) -> bool {
        usage["inputTokens"] == self.input
            && usage["outputTokens"] == self.output
            && usage["cacheCreationInputTokens"] == self.cache_write
            && usage["cacheReadInputTokens"] == self.cache_read
            && usage["calls"] == self.calls
    }
}

/// The fake, scripted answer by answer; every answer reports different token counts.
pub struct Model {
    pub api: Api,
    pub fake: Fake,
    answers: AtomicU64,
}

/// `write_file` input as models write it: `path` first, so viewers learn it early.
fn file_input(path: &str, content: &str) -> String {
    format!(
        "{{\"path\": {}, \"content\": {}}}",
        json!(path),
        json!(content)
    )
}

impl Model {
    /// A fake of `api` accepting [`KEY`].
    pub async fn start(api: Api) -> Model {
        let fake = match api {
            Api::Anthropic => Fake::anthropic(KEY).await,
            Api::OpenAi => Fake::openai(Some(KEY)).await,
        };
        Model {
            api,
            fake,
            answers: AtomicU64::new(0),
        }
    }

    /// The environment pointing `buildwire up` at this fake.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        match self.api {
            Api::Anthropic => vec![
                ("BUILDWIRE_LLM", "anthropic".into()),
                ("ANTHROPIC_BASE_URL", self.fake.base_url()),
                ("ANTHROPIC_API_KEY", KEY.into()),
                ("ANTHROPIC_MODEL", "claude-under-test".into()),
            ],
            Api::OpenAi => vec![
                ("BUILDWIRE_LLM", "openai".into()),
                ("OPENAI_BASE_URL", self.fake.base_url()),
                ("OPENAI_API_KEY", KEY.into()),
                ("OPENAI_MODEL", "model-under-test".into()),
            ],
        }
    }

    /// The model name the fake answers with (what usage reports).
    pub fn model_name(&self) -> &'static str {
        match self.api {
            Api::Anthropic => "claude-fake",
            Api::OpenAi => "fake-model",
        }
    }

    /// The next answer's token counts.
    fn tokens(&self) -> Tokens {
        let n = self.answers.fetch_add(1, Ordering::Relaxed) + 1;
        Tokens {
            input: 1000 + 7 * n,
            output: 100 + 3 * n,
            cache_write: if self.api == Api::Anthropic {
                50 + n
            } else {
                0
            },
            cache_read: 20 + n,
            calls: 1,
        }
    }

    fn push(&self, reply: Reply) {
        self.fake.push(reply);
    }

    /// Queues one answer: text, then tool calls `(name, raw JSON input)`; `slow` pauses
    /// after every piece of tool input (a model writing slowly); `hang` keeps the stream
    /// open after the calls (pings or keep-alive comments) instead of ending the turn.
    fn answer(
        &self,
        text: &str,
        calls: &[(&str, String)],
        slow: Option<Duration>,
        hang: bool,
    ) -> Tokens {
        let tokens = self.tokens();
        let reply = match self.api {
            Api::Anthropic => {
                let mut message = anthropic::message().text(text).usage(anthropic::Usage {
                    input_tokens: tokens.input,
                    output_tokens: tokens.output,
                    cache_creation_input_tokens: tokens.cache_write,
                    cache_read_input_tokens: tokens.cache_read,
                });
                for (index, (name, raw)) in calls.iter().enumerate() {
                    message = message.tool_use_raw(&format!("toolu_{index:02}"), name, raw);
                }
                if hang {
                    message = message.hang();
                }
                message.fragment(24).reply()
            }
            Api::OpenAi => {
                let mut chunks = openai::chunks().text(text).usage(Some(openai::Usage {
                    prompt_tokens: tokens.input + tokens.cache_read,
                    completion_tokens: tokens.output,
                    cached_tokens: tokens.cache_read,
                }));
                for (index, (name, raw)) in calls.iter().enumerate() {
                    chunks = chunks.tool_call_raw(&format!("call_{index:02}"), name, raw);
                }
                if hang {
                    chunks = chunks.hang();
                }
                chunks.fragment(24).reply()
            }
        };
        self.push(match slow {
            Some(pause) => slowly(reply, pause),
            None => reply,
        });
        tokens
    }

    /// Queues a plan of `tasks` (`(id, name)`); its tokens.
    pub fn plan(&self, tasks: &[(&str, &str)]) -> Tokens {
        let tasks: Vec<Value> = tasks
            .iter()
            .map(|(id, name)| {
                json!({"id": id, "name": name, "description": format!("{name}: the files it needs"), "estimatedDuration": 3000})
            })
            .collect();
        let input = json!({ "tasks": tasks }).to_string();
        self.answer("Here is the plan.", &[("submit_plan", input)], None, false)
    }

    /// Queues a task (or an auto-fix) writing `files`, then the turn that ends it; the
    /// tokens of both turns.
    pub fn task(&self, files: &[(&str, &str)], slow: Option<Duration>) -> Tokens {
        let calls: Vec<(&str, String)> = files
            .iter()
            .map(|(path, content)| ("write_file", file_input(path, content)))
            .collect();
        let writes = self.answer("Writing the files.", &calls, slow, false);
        writes.plus(self.answer("Done.", &[], None, false))
    }

    /// Queues a task answer that writes `path` slowly and then hangs, keeping its stream
    /// open until the client goes away.
    pub fn hanging_task(&self, path: &str, content: &str) {
        let call = ("write_file", file_input(path, content));
        self.answer("Writing.", &[call], Some(Duration::from_millis(60)), true);
    }

    /// Queues an Anthropic task answer cut off by `max_tokens` in the middle of writing
    /// `path` (`stop_reason: max_tokens`); its tokens.
    pub fn truncated_task(&self, path: &str, content: &str) -> Tokens {
        assert_eq!(self.api, Api::Anthropic, "scripted for Anthropic only");
        let tokens = self.tokens();
        let input = json!({"path": path, "content": content});
        self.push(
            anthropic::message()
                .text("Writing.")
                .usage(anthropic::Usage {
                    input_tokens: tokens.input,
                    output_tokens: tokens.output,
                    cache_creation_input_tokens: tokens.cache_write,
                    cache_read_input_tokens: tokens.cache_read,
                })
                .truncated_tool_use("toolu_00", "write_file", &input, 3)
                .reply(),
        );
        tokens
    }

    /// Queues a raw reply (an error answer).
    pub fn reply(&self, reply: Reply) {
        self.push(reply);
    }
}

/// `reply` with a pause after every frame carrying tool input.
pub fn slowly(reply: Reply, pause: Duration) -> Reply {
    match reply {
        Reply::Stream { frames, end } => Reply::Stream {
            frames: frames
                .into_iter()
                .flat_map(|frame| {
                    let input = matches!(&frame, Frame::Text(text)
                        if text.contains("input_json_delta") || text.contains("\"arguments\""));
                    std::iter::once(frame).chain(input.then_some(Frame::Pause(pause)))
                })
                .collect(),
            end,
        },
        other => other,
    }
}

/// `buildwire up` against a test's nats-server, with its log kept for failures.
pub struct Stack {
    pub base: String,
    pub http: reqwest::Client,
    pub data: tempfile::TempDir,
    _up: tokio::process::Child,
}

/// The npm cache every stack of these tests shares (kept across runs, so only the first
/// run downloads packages).
pub fn npm_cache() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("llm-pipeline-npm-cache")
}

impl Stack {
    /// Starts `buildwire up` with `env`, once it printed its ready line.
    pub async fn start(nats_url: &str, env: &[(&str, String)]) -> Stack {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let data = tempfile::tempdir().expect("tmp");
        let log = std::fs::File::create(data.path().join("up.log")).expect("log file");
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_buildwire"));
        command
            .arg("up")
            .env("NATS_URL", nats_url)
            .env("BUILDWIRE_DATA_DIR", data.path())
            .env("BUILDWIRE_HTTP_ADDR", "127.0.0.1:0")
            .env("BUILDWIRE_SERVICE_KEYS", SERVICE_KEY)
            .env("BUILDWIRE_LOG_FORMAT", "json")
            .env("BUILDWIRE_NPM_CACHE", npm_cache())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true);
        for (name, value) in env {
            command.env(name, value);
        }
        let mut up = command.spawn().expect("buildwire up starts");
        let base = crate::common::ready(&mut up, Duration::from_secs(60)).await;
        Stack {
            base,
            http: reqwest::Client::new(),
            data,
            _up: up,
        }
    }

    /// The end of the stack's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.data.path().join("up.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Submits `body`; the build id.
    pub async fn submit(&self, body: Value) -> String {
        crate::common::submit(&self.http, &self.base, SERVICE_KEY, &body).await
    }

    /// `GET <path>` with the service key, as JSON.
    pub async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(SERVICE_KEY)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json")
    }

    /// Every stored event of the build.
    pub async fn events(&self, id: &str) -> Vec<Value> {
        crate::common::events(&self.http, &self.base, SERVICE_KEY, id).await
    }

    /// The events once one matches `until`, within `limit`.
    pub async fn wait_for(
        &self,
        id: &str,
        limit: Duration,
        until: impl Fn(&Value) -> bool,
    ) -> Vec<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let events = self.events(id).await;
            if events.iter().any(&until) {
                return events;
            }
            assert!(
                Instant::now() < deadline,
                "timed out; events so far: {:#?}\nlog:\n{}",
                summary(&events),
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The events once the build ended.
    pub async fn finished(&self, id: &str) -> Vec<Value> {
        self.wait_for(id, Duration::from_secs(180), |e| {
            matches!(
                e["type"].as_str(),
                Some("complete" | "failed" | "cancelled")
            )
        })
        .await
    }

    /// `GET /v1/builds/{id}` once `until` holds for it (the recorder may trail).
    pub async fn progress_when(&self, id: &str, until: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let progress = self.get(&format!("/v1/builds/{id}")).await;
            if until(&progress) || Instant::now() > deadline {
                return progress;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The app a preview serves: its `index.html` (200) and its script's text.
    pub async fn preview(&self, url: &str) -> (String, String) {
        let page = self.http.get(url).send().await.expect("preview");
        assert_eq!(page.status().as_u16(), 200, "{url}");
        let html = page.text().await.expect("html");
        let script = html
            .split("src=\"./")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("a relative script in {html}"));
        let js = self
            .http
            .get(format!("{url}{script}"))
            .send()
            .await
            .expect("script")
            .text()
            .await
            .expect("js");
        (html, js)
    }
}

/// `type code` per event, for failure messages.
pub fn summary(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let code = e["code"].as_str().unwrap_or_default();
            let task = e["taskId"].as_str().unwrap_or_default();
            format!("{} {code}{task}", e["type"].as_str().unwrap_or_default())
        })
        .collect()
}

/// The events of `kind`.
pub fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

/// The tiny app the scripted model writes: React 19 + TypeScript 7 on Vite 8 (versions the
/// offline provider's apps install here), `tsc --noEmit && vite build`.
pub mod app {
    /// `package.json` with `scripts` (JSON object members, the `build` script included).
    pub fn package_json(scripts: &str) -> String {
        format!(
            r#"{{
  "name": "tiny-todo",
  "private": true,
  "version": "0.1.0",
  "type": "module",
  "scripts": {{ {scripts} }},
  "dependencies": {{ "react": "19.2.0", "react-dom": "19.2.0" }},
  "devDependencies": {{
    "@types/react": "19.2.2",
    "@types/react-dom": "19.2.2",
    "typescript": "7.0.2",
    "vite": "8.4.0"
  }}
}}
"#
        )
    }

    /// The usual build script.
    pub const BUILD: &str = r#""build": "tsc --noEmit && vite build""#;

    pub const TSCONFIG: &str = r#"{
  "compilerOptions": {
    "target": "ES2020",
    "lib": ["ES2020", "DOM"],
    "module": "ESNext",
    "moduleResolution": "bundler",
    "jsx": "react-jsx",
    "strict": true,
    "skipLibCheck": true,
    "noEmit": true
  },
  "include": ["src"]
}
"#;

    pub const VITE_CONFIG: &str = "import { defineConfig } from \"vite\";\n\nexport default defineConfig({ base: \"./\" });\n";

    pub const INDEX_HTML: &str = r#"<!doctype html>
<html lang="en">
  <head><meta charset="UTF-8" /><title>Tiny Todo</title></head>
  <body><div id="root"></div><script type="module" src="/src/main.tsx"></script></body>
</html>
"#;

    pub const MAIN_TSX: &str = r#"import { createRoot } from "react-dom/client";
import App from "./App";

createRoot(document.getElementById("root")!).render(<App />);
"#;

    /// `src/App.tsx` titled `title`; `broken` assigns a list to a number (TS2322).
    pub fn app_tsx(title: &str, broken: bool) -> String {
        let count = if broken { "items" } else { "items.length" };
        format!(
            r#"import {{ useState }} from "react";

export default function App() {{
  const [items, setItems] = useState<string[]>([]);
  const count: number = {count};
  return (
    <main>
      <h1>{title}</h1>
      <button onClick={{() => setItems([...items, `item ${{count + 1}}`])}}>Add</button>
      <ul>
        {{items.map((item) => (
          <li key={{item}}>{{item}}</li>
        ))}}
      </ul>
    </main>
  );
}}
"#
        )
    }

    /// The scaffold: every file but `src/App.tsx`.
    pub fn scaffold(package_json: &str) -> Vec<(&'static str, String)> {
        vec![
            ("package.json", package_json.to_string()),
            ("tsconfig.json", TSCONFIG.into()),
            ("vite.config.ts", VITE_CONFIG.into()),
            ("index.html", INDEX_HTML.into()),
            ("src/main.tsx", MAIN_TSX.into()),
        ]
    }
}
