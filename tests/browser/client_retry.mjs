// The browser client (clients/web/buildwire.js, react.js) in Debian's headless Chromium
// against purpose-built stand-in edges (node:http), where the fault needs a server that
// misbehaves on purpose. Three scenarios run side by side:
//   1. SSE that drops after every response: the client closes the EventSource and comes
//      back on its own backoff (0.5 s doubling, jitter 50-100 %) with `after=<lastSeq>`,
//      not on EventSource's fixed `retry:` with Last-Event-ID; `fallback=1` is sent once
//      per fallback decision (once per page), and the WebSocket is tried once per page;
//   2. a token refresher that fails, hands back the same token, or a token with the same
//      expiry: refreshed on a growing backoff, not every second; a working refresher is
//      called once and its token is used on the next reconnect;
//   3. the React hook: without a refresher a 401 ends in `failed` at once (no pretend
//      refresh and second attempt), and a new token prop is used on the next reconnect.
// Usage: node client_retry.mjs (CLIENT_DIR=<dir>: the client modules from there, e.g. an
// older client the checks must fail against)
import http from "node:http";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build as esbuild } from "esbuild";
import { check, fakeToken, launch, main, newPage, oneReact, settle, sleep, waitFor } from "./harness.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const clientDir = process.env.CLIENT_DIR || join(here, "../../clients/web");
const MODULES = new Set(["buildwire.js", "progress.js", "react.js"]);
const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" };

// A stand-in edge: a blank page at /page, the client modules at /client/*, `/events/<id>`
// answered by `stream(req, res, url, buildId)` and WebSocket upgrades by
// `upgrade(req, socket, url, buildId)`.
async function fakeEdge({ stream, upgrade }) {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://fake");
    const [, head, name] = url.pathname.split("/");
    if (url.pathname === "/page") {
      res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>fake edge</title>");
    } else if (head === "client" && MODULES.has(name)) {
      const body = await readFile(join(clientDir, name));
      res.writeHead(200, { "content-type": "text/javascript", "cache-control": "no-store" }).end(body);
    } else if (head === "events" && name) {
      stream(req, res, url, name);
    } else {
      res.writeHead(404).end();
    }
  });
  server.on("upgrade", (req, socket) => {
    const url = new URL(req.url, "http://fake");
    upgrade(req, socket, url, url.pathname.split("/")[3]);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

const refuseUpgrade = (socket, status = "403 Forbidden", body = "") =>
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: application/problem+json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );

const isEventSource = (req) => (req.headers.accept ?? "").includes("text/event-stream");

// Starts watchBuild in the page as window.watches[name], with a refresher made from `refresher`.
function startWatch(page, name, options, refresher = null) {
  return page.evaluate(
    async ({ name, options, refresher }) => {
      const { watchBuild } = await import("/client/buildwire.js");
      const record = { seqs: [], states: [], refreshCalls: [] };
      window.watches ??= {};
      window.watches[name] = record;
      const refreshToken = refresher && (async () => {
        record.refreshCalls.push(Date.now());
        if (refresher.throws) throw new Error("the refresher is down");
        return refresher.answer;
      });
      record.watch = watchBuild({
        ...options,
        baseUrl: location.origin,
        refreshToken,
        onEvent: (event) => record.seqs.push(event.seq),
        onState: (state) => record.states.push(state),
      });
    },
    { name, options, refresher },
  );
}

const readWatch = (page, name) =>
  page.evaluate((name) => {
    const { seqs, states, refreshCalls } = window.watches[name];
    return { seqs, states, refreshCalls };
  }, name);

// 1. SSE that drops after every response.
async function sseDrops(browser, cleanups) {
  const requests = []; // EventSource requests: { at, buildId, after, fallback, lastEventId }
  let upgrades = 0;
  const edge = await fakeEdge({
    upgrade: (req, socket) => {
      upgrades += 1;
      refuseUpgrade(socket); // as a proxy that refuses WebSocket does
    },
    stream: (req, res, url, buildId) => {
      res.writeHead(200, SSE_HEADERS);
      if (!isEventSource(req)) return res.write(": the client's probe: a live stream\n\n");
      requests.push({
        at: Date.now(),
        buildId,
        after: url.searchParams.get("after"),
        fallback: url.searchParams.get("fallback"),
        lastEventId: req.headers["last-event-id"] ?? null,
      });
      const first = requests.filter((r) => r.buildId === buildId).length === 1;
      const event = { seq: 7, buildId, type: "status", timestamp: new Date().toISOString(), requestId: "r", code: "planning", message: "Planning" };
      // `retry: 100` invites EventSource to come back every 100 ms; the client must not.
      res.end(`retry: 100\n\n${first ? `id: 7\ndata: ${JSON.stringify(event)}\n\n` : ": nothing new\n\n"}`);
    },
  });
  cleanups.push(() => edge.close());
  const page = await newPage(browser);
  await page.goto(`${edge.url}/page`);
  const ids = ["DROPS1", "DROPS2", "DROPS3"];
  await startWatch(page, ids[0], { buildId: ids[0], token: "t" });
  await waitFor(() => requests.length > 0, "the first watch falls back to SSE", 10000);
  for (const id of ids.slice(1)) await startWatch(page, id, { buildId: id, token: "t" });
  const GAPS = 5; // backoff 0.5, 1, 2, 4, 8 s at most
  const of = (id) => requests.filter((r) => r.buildId === id);
  await waitFor(() => ids.every((id) => of(id).length > GAPS), "six attempts per watch", 60000);
  await page.evaluate(() => Object.values(window.watches).forEach((w) => w.watch.close()));

  check(upgrades === 1, `WebSocket tried once for the page, then remembered (${upgrades} upgrades for 3 watches)`);
  const flagged = requests.filter((r) => r.fallback === "1");
  check(flagged.length === 1 && flagged[0] === of(ids[0])[0], `fallback=1 sent once, on the first SSE request (${flagged.length})`);
  const ratios = [];
  for (const id of ids) {
    const attempts = of(id).slice(0, GAPS + 1);
    const reconnects = attempts.slice(1);
    check(
      reconnects.every((r) => r.after === "7" && r.lastEventId === null),
      `${id}: every reconnect is the client's own, after=7 (${reconnects.map((r) => `after=${r.after} Last-Event-ID=${r.lastEventId}`).join(", ")})`,
    );
    const gaps = attempts.slice(1).map((r, i) => r.at - attempts[i].at);
    gaps.forEach((gap, k) => {
      const full = 500 * 2 ** k;
      ratios.push(gap / full);
      // Timers fire late under load, never early: a wide upper margin, a tight lower one.
      check(gap >= full / 2 - 50 && gap <= full + 1000, `${id}: reconnect ${k + 1} after ${gap} ms (backoff ${full / 2}-${full} ms)`);
    });
    check((await readWatch(page, id)).seqs.join() === "7", `${id}: the event once`);
  }
  const spread = Math.max(...ratios) - Math.min(...ratios);
  check(spread > 0.1, `the delays are jittered (gap/backoff from ${Math.min(...ratios).toFixed(2)} to ${Math.max(...ratios).toFixed(2)})`);
}

// 2. Token refreshers that do not deliver.
async function refreshBackoff(browser, cleanups) {
  const open = new Set();
  const tokens = {}; // buildId -> tokens of its EventSource requests, in order
  const edge = await fakeEdge({
    upgrade: (req, socket) => refuseUpgrade(socket),
    stream: (req, res, url, buildId) => {
      (tokens[buildId] ??= []).push(url.searchParams.get("token"));
      res.writeHead(200, SSE_HEADERS).write(": open\n\n");
      open.add(res);
      res.on("close", () => open.delete(res));
    },
  });
  cleanups.push(() => edge.close());
  const page = await newPage(browser);
  await page.goto(`${edge.url}/page`);
  const soon = Math.floor(Date.now() / 1000) + 30; // inside the refresh minute already
  const token = fakeToken(soon);
  const fresh = fakeToken(soon + 3600, "fresh");
  const refreshers = {
    REJECTS: { throws: true },
    SAME: { answer: token },
    SAMEEXP: { answer: fakeToken(soon, "another token, the same expiry") },
    FRESH: { answer: fresh },
  };
  const started = Date.now();
  for (const [id, refresher] of Object.entries(refreshers)) {
    await startWatch(page, id, { buildId: id, token, transport: "sse" }, refresher);
  }
  await sleep(14000);
  for (const id of ["REJECTS", "SAME", "SAMEEXP"]) {
    const calls = (await readWatch(page, id)).refreshCalls.map((at) => at - started);
    const gaps = calls.slice(1).map((at, i) => at - calls[i]);
    check(
      calls.length >= 2 && calls.length <= 4 && gaps.every((gap, i) => gap >= 2400 && gap >= (gaps[i - 1] ?? 0) - 50),
      `${id}: a refresher that does not deliver is retried on a growing backoff (calls at ${calls.join(", ")} ms)`,
    );
  }
  check((await readWatch(page, "FRESH")).refreshCalls.length === 1, "FRESH: a working refresher is called once");
  for (const res of open) res.end(); // every stream drops: reconnects carry the token in use
  await waitFor(() => tokens.FRESH.length > 1 && tokens.REJECTS.length > 1, "the watches reconnect", 10000);
  check(tokens.FRESH[0] === token && tokens.FRESH[1] === fresh, "FRESH: the refreshed token is used on the reconnect");
  check(tokens.REJECTS[1] === token, "REJECTS: the old token is kept");
  await page.evaluate(() => Object.values(window.watches).forEach((w) => w.watch.close()));
}

// 3. The React hook's tokens.
async function hookTokens(browser, cleanups) {
  const bundle = await esbuild({
    stdin: {
      contents: `
        import { createRoot } from "react-dom/client";
        import { useBuildProgress } from ${JSON.stringify(join(clientDir, "react.js"))};
        function View({ buildId, token, transport }) {
          const { connection } = useBuildProgress(buildId, token, { baseUrl: location.origin, transport });
          return <p id="hook" data-connection={connection}>{connection}</p>;
        }
        let root;
        window.renderHook = (props) => {
          root ??= createRoot(document.body.appendChild(document.createElement("div")));
          root.render(<View {...props} />);
        };`,
      loader: "jsx",
      resolveDir: here,
    },
    bundle: true,
    write: false,
    format: "iife",
    jsx: "automatic",
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "silent",
    plugins: [oneReact()],
  });
  const upgrades = {};
  const probes = {};
  const tokens = [];
  let held = null;
  const expired = JSON.stringify({ type: "about:blank", title: "Unauthorized", status: 401, code: "TOKEN_EXPIRED", retryable: false, detail: "the build token has expired" });
  const edge = await fakeEdge({
    upgrade: (req, socket, url, buildId) => {
      upgrades[buildId] = (upgrades[buildId] ?? 0) + 1;
      refuseUpgrade(socket, "401 Unauthorized", expired);
    },
    stream: (req, res, url, buildId) => {
      if (buildId === "EXPIRED") {
        probes[buildId] = (probes[buildId] ?? 0) + 1;
        return res.writeHead(401, { "content-type": "application/problem+json" }).end(expired);
      }
      tokens.push(url.searchParams.get("token"));
      held = res.writeHead(200, SSE_HEADERS);
      held.write(": open\n\n");
    },
  });
  cleanups.push(() => edge.close());
  const page = await newPage(browser);
  await page.goto(`${edge.url}/page`);
  await page.addScriptTag({ content: bundle.outputFiles[0].text });
  const later = Math.floor(Date.now() / 1000) + 3600;
  await page.evaluate((token) => window.renderHook({ buildId: "EXPIRED", token }), fakeToken(later));
  await page.waitForSelector('#hook[data-connection="failed"]', { timeout: 10000 });
  await sleep(1500); // room for a second attempt, were there one
  check(
    upgrades.EXPIRED === 1 && probes.EXPIRED === 1,
    `hook without a refresher: a 401 ends in failed after one attempt (${upgrades.EXPIRED} upgrades, ${probes.EXPIRED} probes)`,
  );

  const first = fakeToken(later, "first");
  const second = fakeToken(later + 60, "second");
  await page.evaluate((token) => window.renderHook({ buildId: "TOKENS", token, transport: "sse" }), first);
  await waitFor(() => tokens.length === 1, "the hook's stream opens", 10000);
  await page.evaluate((token) => window.renderHook({ buildId: "TOKENS", token, transport: "sse" }), second);
  await sleep(200);
  held.end();
  await waitFor(() => tokens.length === 2, "the hook reconnects", 10000);
  check(tokens[0] === first && tokens[1] === second, "hook: a new token prop is used on the next reconnect");
}

await main(async (cleanups) => {
  const browser = await launch();
  cleanups.push(() => browser.close());
  await settle([sseDrops(browser, cleanups), refreshBackoff(browser, cleanups), hookTokens(browser, cleanups)]);
});
