// Drives the demo page (served by `buildwire up` at /) and the React hook in Debian's
// headless Chromium against a running stack, with real builds:
//   1. a build from the prompt box over WebSocket, then a follow-up from the follow-up box;
//   2. a page refresh mid-build (the whole progress comes back);
//   3. the network cut mid-build and restored (a TCP proxy between page and edge drops
//      every connection and refuses new ones for a while);
//   4. WebSocket handshakes refused by an HTTP proxy: the client falls back to SSE, and
//      /metrics counts it;
//   5. useBuildProgress in a React app bundled with esbuild.
// After every build the page must hold every stored event once, in order, and draw exactly
// the lines and log lines the fold of the stored events gives; its fold must agree with
// the server's (`GET /v1/builds/{id}`); the preview link must serve the app.
// Usage: BASE=http://127.0.0.1:port KEY=<service key> node demo.mjs <artifacts dir>
import http from "node:http";
import net from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build as esbuild } from "esbuild";
import { oneReact } from "./harness.mjs";
import { chromium } from "playwright-core";
import { foldEvents } from "../../clients/web/progress.js";

const base = process.env.BASE;
const key = process.env.KEY;
const artifacts = process.argv[2];
const here = fileURLToPath(new URL(".", import.meta.url));
const BUILD_LIMIT_MS = 180000;

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function api(path, init = {}) {
  const response = await fetch(`${base}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...init.headers },
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}
const stored = async (buildId) => (await api(`/v1/builds/${buildId}/events?limit=1000`)).events;

function launch(args = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--headless", ...args],
  });
}

async function newPage(browser) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.on("pageerror", (err) => console.log(`page error: ${err.message}`));
  return page;
}

const buildIdOf = (page) => /#build=([0-9A-Z]{26})$/.exec(page.url())?.[1];

// Submits `prompt` from the prompt box (or the follow-up box) and answers the build id.
async function submitFromPage(page, prompt, box = "#prompt") {
  const before = buildIdOf(page);
  await page.fill(box, prompt);
  await page.click(box === "#prompt" ? "#build-button" : "#follow-up-button");
  await page.waitForFunction((old) => {
    const match = /#build=([0-9A-Z]{26})$/.exec(location.href);
    return match && match[1] !== old;
  }, before);
  return buildIdOf(page);
}

async function finished(page) {
  await page.waitForFunction(
    () => ["completed", "failed", "cancelled"].includes(window.buildwireDemo.progress?.status) &&
      window.buildwireDemo.connection === "done",
    null,
    { timeout: BUILD_LIMIT_MS },
  );
  await page.waitForTimeout(100); // the last frame is drawn
}

// What the page drew, against the fold of the stored events and the server's own fold.
async function verify(page, buildId, label) {
  const events = await stored(buildId);
  const fold = foldEvents(buildId, events);
  const seen = await page.evaluate(() => ({
    seqs: window.buildwireDemo.events.map((e) => e.seq),
    steps: [...document.querySelectorAll("#steps li")].map((li) => `${li.dataset.key}|${li.dataset.state}`),
    logs: Object.fromEntries(
      [...document.querySelectorAll("#logs details")].map((d) => [d.dataset.stage, d.querySelectorAll(".log-line").length]),
    ),
    preview: document.querySelector("#preview-link")?.getAttribute("href") ?? null,
    status: document.querySelector("#status").dataset.status,
  }));
  check(same(seen.seqs, events.map((e) => e.seq)), `${label}: every event once, in order (${events.length})`);
  check(
    same(seen.steps, fold.lines.map((line) => `${line.key}|${line.state}`)),
    `${label}: a line per step, each once, all finished (${seen.steps.length})`,
  );
  const logLines = Object.fromEntries(
    Object.entries(fold.logs).filter(([, lines]) => lines.length).map(([stage, lines]) => [stage, lines.length]),
  );
  check(same(seen.logs, logLines), `${label}: every log line once per stage ${JSON.stringify(seen.logs)}`);
  const server = await api(`/v1/builds/${buildId}`);
  for (const field of ["status", "steps", "completedSteps", "previewUrl", "lastSeq", "usage"]) {
    check(same(fold[field], server[field]), `${label}: the client's ${field} matches GET /v1/builds/{id}`);
  }
  check(seen.status === "completed" && seen.preview === fold.previewUrl, `${label}: shows the preview link`);
  const preview = await fetch(seen.preview);
  check(preview.status === 200 && (await preview.text()).includes("<html"), `${label}: the preview serves the app`);
  return { events, fold };
}

// A TCP proxy between the page and the edge whose "network" can be cut: every open
// connection is dropped and new ones are refused until it is restored.
async function cuttableProxy(target) {
  const sockets = new Set();
  let down = false;
  const server = net.createServer((client) => {
    if (down) return client.destroy();
    const upstream = net.connect(Number(target.port), target.hostname);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
    };
    sockets.add(client);
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    cut() {
      down = true;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    restore() {
      down = false;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

// An HTTP proxy that forwards plain requests and refuses every WebSocket upgrade, as
// some corporate proxies do.
async function websocketRefusingProxy() {
  const proxy = http.createServer((req, res) => {
    const target = new URL(req.url);
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method: req.method,
        headers: req.headers,
        agent: false, // no pooled upstream sockets outliving the test
      },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  proxy.on("upgrade", (req, socket) => socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"));
  await new Promise((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  return proxy;
}

const browser = await launch();
const cleanups = [];
try {
  // 1. A build from the prompt box, then a follow-up.
  const page = await newPage(browser);
  await page.goto(`${base}/`);
  const first = await submitFromPage(page, "Create a todo app with dark mode");
  await finished(page);
  await verify(page, first, "prompt box");
  check((await page.evaluate(() => window.buildwireDemo.transport)) === "ws", "prompt box: watched over WebSocket");
  await page.click('details[data-stage="build"] summary');
  await page.screenshot({ path: join(artifacts, "demo-progress.png"), fullPage: true });
  const second = await submitFromPage(page, "Add a search feature", "#follow-up");
  await finished(page);
  await verify(page, second, "follow-up");
  const followUp = await (await fetch((await api(`/v1/builds/${second}`)).previewUrl)).text();
  check(followUp.includes("<html"), "follow-up: the updated preview serves");

  // 2. Refresh mid-build.
  const third = await submitFromPage(page, "Create a notes app");
  await page.waitForFunction(() => window.buildwireDemo.progress?.status === "building", null, { timeout: BUILD_LIMIT_MS });
  const beforeRefresh = await page.evaluate(() => window.buildwireDemo.events.length);
  await page.reload();
  check(buildIdOf(page) === third, "refresh: the page reopens the same build");
  await finished(page);
  const { events: refreshed } = await verify(page, third, "refresh");
  check(beforeRefresh < refreshed.length, `refresh: it happened mid-build (${beforeRefresh} of ${refreshed.length} events)`);

  // 3. The network cut mid-build, then restored.
  const proxy = await cuttableProxy(new URL(base));
  cleanups.push(() => proxy.close());
  const cutPage = await newPage(browser);
  await cutPage.goto(`${proxy.url}/`);
  const fourth = await submitFromPage(cutPage, "Create a counter app");
  await cutPage.waitForFunction(() => window.buildwireDemo.progress?.status === "building", null, { timeout: BUILD_LIMIT_MS });
  proxy.cut();
  const atCut = await cutPage.evaluate(() => window.buildwireDemo.events.length);
  await cutPage.waitForSelector('#connection[data-state="reconnecting"]', { timeout: 10000 });
  await sleep(2500);
  proxy.restore();
  await finished(cutPage);
  const { events: cutEvents } = await verify(cutPage, fourth, "network cut");
  const states = await cutPage.evaluate(() => window.buildwireDemo.states);
  check(atCut < cutEvents.length, `network cut: it happened mid-build (${atCut} of ${cutEvents.length} events)`);
  check(states.includes("reconnecting") && states.at(-1) === "done", `network cut: reconnected (${states.join(" > ")})`);
  check((await cutPage.evaluate(() => window.buildwireDemo.transport)) === "ws", "network cut: still on WebSocket after the cut");

  // 4. WebSocket refused by a proxy: SSE.
  const refusing = await websocketRefusingProxy();
  cleanups.push(() => {
    refusing.closeAllConnections();
    refusing.close();
  });
  const proxied = await launch([
    `--proxy-server=http://127.0.0.1:${refusing.address().port}`,
    "--proxy-bypass-list=<-loopback>",
  ]);
  cleanups.push(() => proxied.close());
  const ssePage = await newPage(proxied);
  await ssePage.goto(`${base}/`);
  const fifth = await submitFromPage(ssePage, "Create a notes app");
  await finished(ssePage);
  await verify(ssePage, fifth, "WebSocket refused");
  check((await ssePage.evaluate(() => window.buildwireDemo.transport)) === "sse", "WebSocket refused: fell back to SSE");
  const metrics = await (await fetch(`${base}/metrics`)).text();
  check(/buildwire_edge_sse_fallbacks_total [1-9]/.test(metrics), "WebSocket refused: the fallback is counted in /metrics");

  // 5. The React hook.
  const bundle = await esbuild({
    entryPoints: [join(here, "hook/app.jsx")],
    bundle: true,
    write: false,
    format: "iife",
    jsx: "automatic",
    nodePaths: [join(here, "node_modules")],
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "silent",
    plugins: [oneReact()],
  });
  const accepted = await api("/v1/builds", {
    method: "POST",
    body: JSON.stringify({ prompt: "Create a todo app", userId: "hook-test" }),
  });
  const hookPage = await newPage(browser);
  await hookPage.goto(`${base}/healthz`);
  await hookPage.addScriptTag({ content: bundle.outputFiles[0].text });
  await hookPage.evaluate(
    ({ buildId, token, baseUrl }) => window.mountBuildView({ buildId, token, baseUrl }),
    { buildId: accepted.buildId, token: accepted.buildToken, baseUrl: base },
  );
  await hookPage.waitForSelector('#hook[data-connection="done"]', { timeout: BUILD_LIMIT_MS });
  const hook = await hookPage.evaluate(() => ({
    ...window.hookSeen,
    lines: document.querySelectorAll("#hook .line").length,
    link: document.querySelector("#hook-preview")?.getAttribute("href"),
  }));
  const hookEvents = await stored(accepted.buildId);
  const hookFold = foldEvents(accepted.buildId, hookEvents);
  check(same(hook.seqs, hookEvents.map((e) => e.seq)), `hook: events in order, each once (${hook.seqs.length})`);
  check(hook.status === "completed", "hook: status completed");
  check(
    hook.connections[0] === "connecting" && hook.connections.includes("live") && hook.connections.at(-1) === "done",
    `hook: connection state ${hook.connections.join(" > ")}`,
  );
  check(hook.lines === hookFold.lines.length && hook.link === hookFold.previewUrl, "hook: renders every step and the preview link");
} catch (err) {
  console.error(String(err?.stack ?? err));
  process.exitCode = 1;
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await browser.close();
}
