// The demo page: a prompt box, the plan's progress view and a follow-up box, on top of
// watchBuild and the progress fold. Submissions go through the demo-only server route
// (/demo/builds), so the page never holds a service key. The build being watched is in the
// URL (#build=<id>) and its token in sessionStorage, so a refresh restores the whole
// progress from the build's history. Files being written show under their task, auto-fix
// attempts (`FIX`) as their own steps, and the LLM tokens a build used with its outcome.
import { watchBuild } from "/client/buildwire.js";
import { STAGES, applyEvent, createProgress, lineDuration } from "/client/progress.js";

const $ = (id) => document.getElementById(id);
const STAGE_TITLES = { plan: "Plan", execute: "Files", build: "Build log", deploy: "Deploy" };

const saved = {
  key: (buildId) => `buildwire-demo:${buildId}`,
  get(buildId) {
    try {
      return JSON.parse(sessionStorage.getItem(this.key(buildId)) ?? "null");
    } catch {
      return null;
    }
  },
  put(buildId, value) {
    sessionStorage.setItem(this.key(buildId), JSON.stringify(value));
  },
};

// What tests (and curious developers) can read: window.buildwireDemo.
const view = {
  buildId: null,
  prompt: "",
  projectId: null,
  events: [],
  progress: null,
  connection: "idle",
  states: [],
  watch: null,
  session: null,
  get transport() {
    return this.watch?.transport ?? null;
  },
};
window.buildwireDemo = view;

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = !text;
}

async function post(path, body, token) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body ?? {}) });
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error(answer?.detail ?? `the server answered ${response.status}`);
  }
  return answer;
}

async function submit(prompt, followUp) {
  const body = { prompt };
  if (followUp && view.buildId) {
    body.parentBuildId = view.buildId;
    body.projectId = view.projectId;
  }
  const accepted = await post("/demo/builds", body);
  saved.put(accepted.buildId, { token: accepted.buildToken, projectId: accepted.projectId, prompt });
  location.hash = `build=${accepted.buildId}`; // opens it (hashchange)
}

function open(buildId) {
  const entry = saved.get(buildId);
  if (!entry) {
    showError(`Build ${buildId} was started in another tab; its token is not here.`);
    return;
  }
  showError("");
  view.watch?.close();
  Object.assign(view, {
    buildId,
    prompt: entry.prompt,
    projectId: entry.projectId,
    events: [],
    progress: createProgress(buildId),
    connection: "connecting",
    states: [],
  });
  resetLogs();
  const session = {}; // callbacks of an older watch must not touch this one's view
  view.session = session;
  const watch = watchBuild({
    baseUrl: location.origin,
    buildId,
    token: entry.token,
    onEvent: (event) => {
      if (view.session !== session) return;
      view.events.push(event);
      view.progress = applyEvent(view.progress, event);
      scheduleRender();
    },
    onState: (state) => {
      if (view.session !== session) return;
      view.connection = state;
      view.states.push(state);
      if (state === "failed") {
        const why = view.watch?.error;
        showError(`The stream was refused: ${why?.detail ?? why?.title ?? "unknown reason"}`);
      }
      scheduleRender();
    },
    refreshToken: async () => {
      const current = saved.get(buildId) ?? entry;
      const fresh = await post(`/demo/builds/${encodeURIComponent(buildId)}/token`, null, current.token);
      saved.put(buildId, { ...current, token: fresh.buildToken });
      return fresh.buildToken;
    },
  });
  view.watch = watch;
  $("build").hidden = false;
  render();
}

function openFromLocation() {
  const match = /^#build=([0-9A-HJKMNP-TV-Z]{26})$/i.exec(location.hash);
  if (match) open(match[1].toUpperCase());
}

// Rendering: at most once per frame, and every 250 ms while a step runs (its duration).
let frame = null;
function scheduleRender() {
  if (frame === null) frame = requestAnimationFrame(() => {
    frame = null;
    render();
  });
}
setInterval(() => {
  if (view.progress?.lines.some((line) => line.state === "active")) render();
}, 250);

function formatDuration(ms) {
  if (ms === null) return "";
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} m ${String(seconds % 60).padStart(2, "0")} s`;
}

function render() {
  const p = view.progress;
  if (!p) return;
  $("build-title").textContent = view.prompt;
  $("status").textContent = p.status;
  $("status").dataset.status = p.status;
  $("connection").textContent = view.connection;
  $("connection").dataset.state = view.connection;
  $("bar-fill").style.width = `${p.percent}%`;
  renderSteps(p);
  renderOutcome(p);
  renderLogs(p);
  $("follow-up-form").hidden = p.status !== "completed";
}

function renderSteps(p) {
  const now = Date.now();
  const items = p.lines.map((line) => {
    const li = document.createElement("li");
    li.className = `step ${line.kind}`;
    li.dataset.key = line.key;
    li.dataset.state = line.state;
    const icon = document.createElement("span");
    icon.className = "icon";
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = line.label;
    if (line.detail) {
      // The file the model is writing: "Creating src/components/TodoList.tsx... 120 lines".
      const detail = document.createElement("span");
      detail.className = "detail";
      detail.textContent = line.detail;
      label.append(detail);
    }
    const duration = document.createElement("span");
    duration.className = "duration";
    duration.textContent = formatDuration(lineDuration(line, now));
    li.append(icon, label, duration);
    return li;
  });
  $("steps").replaceChildren(...items);
}

function renderOutcome(p) {
  const outcome = $("outcome");
  outcome.className = "outcome";
  if (p.status === "completed") {
    const link = document.createElement("a");
    link.id = "preview-link";
    link.href = p.previewUrl;
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = "View Preview";
    outcome.replaceChildren(`\u{1F389} ${p.message ?? "Your app is ready!"}`, link);
    if (p.usage) {
      const tokens = document.createElement("span");
      tokens.className = "tokens";
      tokens.id = "tokens";
      const total = p.usage.inputTokens + p.usage.outputTokens + p.usage.cacheCreationInputTokens + p.usage.cacheReadInputTokens;
      tokens.textContent = `${total.toLocaleString("en")} LLM tokens (${p.usage.model})`;
      outcome.append(tokens);
    }
    if (p.buildLogUrl) {
      const log = document.createElement("a");
      log.href = p.buildLogUrl;
      log.target = "_blank";
      log.rel = "noopener";
      log.textContent = "Full build log";
      outcome.append(log);
    }
    outcome.hidden = false;
  } else if (p.status === "failed" || p.status === "cancelled") {
    outcome.classList.add("failed");
    outcome.replaceChildren(`\u2717 ${p.errorMessage ?? p.status}`);
    outcome.hidden = false;
  } else {
    outcome.hidden = true;
  }
}

// One <details> per stage, kept across renders (so it stays open), appended to line by line.
const logViews = new Map();
function resetLogs() {
  logViews.clear();
  $("logs").replaceChildren();
}

function renderLogs(p) {
  for (const stage of STAGES) {
    const lines = p.logs[stage];
    if (!lines.length) continue;
    let entry = logViews.get(stage);
    if (!entry) {
      const details = document.createElement("details");
      details.dataset.stage = stage;
      const summary = document.createElement("summary");
      const pre = document.createElement("pre");
      details.append(summary, pre);
      $("logs").append(details);
      entry = { summary, pre, shown: 0 };
      logViews.set(stage, entry);
    }
    for (const line of lines.slice(entry.shown)) {
      const row = document.createElement("div");
      row.className = `log-line ${line.level}`;
      row.textContent = line.text;
      entry.pre.append(row);
    }
    entry.shown = lines.length;
    entry.summary.textContent = `${STAGE_TITLES[stage]} \u00b7 ${lines.length} line${lines.length === 1 ? "" : "s"}`;
  }
}

$("prompt-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const prompt = $("prompt").value.trim();
  if (!prompt) return;
  $("build-button").disabled = true;
  try {
    await submit(prompt, false);
  } catch (err) {
    showError(err.message);
  } finally {
    $("build-button").disabled = false;
  }
});

$("follow-up-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const prompt = $("follow-up").value.trim();
  if (!prompt) return;
  $("follow-up-button").disabled = true;
  try {
    await submit(prompt, true);
    $("follow-up").value = "";
  } catch (err) {
    showError(err.message);
  } finally {
    $("follow-up-button").disabled = false;
  }
});

window.addEventListener("hashchange", openFromLocation);
openFromLocation();
