// Drives the browser client (/client/buildwire.js) in Debian's headless Chromium against a
// running stack: a real build watched over WebSocket, then one watched with WebSocket
// handshakes blocked by the browser (falls back to SSE). Every event must arrive once, in
// order, ending with the preview link.
// Usage: BASE=http://127.0.0.1:port KEY=<service key> node client.mjs [screenshot.png]
import http from "node:http";
import { chromium } from "playwright-core";

const base = process.env.BASE;
const key = process.env.KEY;
const screenshot = process.argv[2];

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}

async function submit(prompt) {
  const response = await fetch(`${base}/v1/builds`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ prompt, userId: "browser-test" }),
  });
  if (response.status !== 202) throw new Error(`submit: ${response.status}`);
  return response.json();
}

async function stored(buildId) {
  const response = await fetch(`${base}/v1/builds/${buildId}/events?limit=1000`, {
    headers: { authorization: `Bearer ${key}` },
  });
  return (await response.json()).events.map((e) => e.seq);
}

async function watch(page, accepted) {
  await page.goto(`${base}/healthz`);
  return page.evaluate(
    async ({ base, buildId, token }) => {
      const { watchBuild } = await import(`${base}/client/buildwire.js`);
      const events = [];
      const states = [];
      await new Promise((resolve) => {
        const w = watchBuild({
          baseUrl: base,
          buildId,
          token,
          onEvent: (e) => events.push(e),
          onState: (s) => {
            states.push(s);
            if (s === "done") resolve();
          },
        });
        window.__watch = w;
        setTimeout(resolve, 120000);
      });
      document.body.innerHTML = `<h1>Build ${buildId}</h1><ol>${events
        .map((e) => `<li>${e.type} ${e.message || e.taskName || e.previewUrl || ""}</li>`)
        .join("")}</ol>`;
      return { events, states, transport: window.__watch.transport };
    },
    { base, buildId: accepted.buildId, token: accepted.buildToken },
  );
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--headless"],
});
try {
  // 1. WebSocket.
  const page = await browser.newPage();
  const first = await submit("Create a todo app with dark mode");
  const seen = await watch(page, first);
  const seqs = seen.events.filter((e) => typeof e.seq === "number").map((e) => e.seq);
  check(seen.transport === "ws", "watched over WebSocket");
  check(JSON.stringify(seqs) === JSON.stringify(await stored(first.buildId)), `every event once, in order (${seqs.length})`);
  const last = seen.events[seen.events.length - 1];
  check(last.type === "complete" && last.previewUrl.includes("/preview/"), "ends with the preview link");
  check(seen.states.includes("live") && seen.states.at(-1) === "done", "states: connecting, live, done");
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });

  // 2. Through a proxy that refuses WebSocket upgrades (as some corporate proxies do):
  // the handshake fails, the client falls back to SSE.
  const proxy = http.createServer((req, res) => {
    const target = new URL(req.url);
    const upstream = http.request(
      { host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  proxy.on("upgrade", (req, socket) => {
    socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
  });
  await new Promise((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const proxied = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--headless",
      `--proxy-server=http://127.0.0.1:${proxy.address().port}`,
      "--proxy-bypass-list=<-loopback>",
    ],
  });
  const blocked = await proxied.newPage();
  const second = await submit("Create a notes app");
  const fallback = await watch(blocked, second);
  const fallbackSeqs = fallback.events.filter((e) => typeof e.seq === "number").map((e) => e.seq);
  check(fallback.transport === "sse", "fell back to SSE");
  check(
    JSON.stringify(fallbackSeqs) === JSON.stringify(await stored(second.buildId)),
    `every event once over SSE (${fallbackSeqs.length})`,
  );
  const metrics = await (await fetch(`${base}/metrics`)).text();
  check(/buildwire_edge_sse_fallbacks_total [1-9]/.test(metrics), "the fallback is counted in /metrics");
  await proxied.close();
  proxy.close();
} catch (err) {
  console.error(String(err));
  process.exitCode = 1;
} finally {
  await browser.close();
}
