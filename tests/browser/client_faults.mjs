// The browser client (clients/web/buildwire.js) against a running stack (`buildwire up`),
// in Debian's headless Chromium, with faults injected between page and edge:
//   1. a page whose Content-Security-Policy has no ws: (Chromium fails the socket with
//      `error` and no `close`), and a page whose WebSocket constructor throws (Firefox's
//      answer to the same policy, a blocked scheme, a bad URL): `auto` falls back to SSE
//      and sees the whole build, counted once in /metrics per page; `ws` ends `failed`
//      with an error saying why, and watchBuild itself never throws;
//   2. a TCP proxy that stops forwarding the stream connections without closing them (a
//      sleeping laptop, a NAT timeout), over WebSocket and over SSE: the liveness watchdog
//      fires, the client reconnects with `after=<lastSeq>`, and every stored event arrives
//      once, in order.
// Usage: BASE=http://127.0.0.1:port KEY=<service key> node client_faults.mjs
// (CLIENT_DIR=<dir>: pages get the client modules from there instead of the edge's
// /client/, e.g. an older client the checks must fail against)
import { readFile } from "node:fs/promises";
import net from "node:net";
import { join } from "node:path";
import { check, launch, main, newPage, same, settle, waitFor } from "./harness.mjs";

const base = process.env.BASE;
const key = process.env.KEY;
const BUILD_LIMIT_MS = 180000;
const LIVENESS_MS = 3000;

async function api(path, init = {}) {
  const response = await fetch(`${base}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...init.headers },
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

const submit = (prompt, userId) =>
  api("/v1/builds", { method: "POST", body: JSON.stringify({ prompt, userId }) });
const storedSeqs = async (buildId) =>
  (await api(`/v1/builds/${buildId}/events?limit=1000`)).events.map((event) => event.seq);

async function fallbacksCounted() {
  const metrics = await (await fetch(`${base}/metrics`)).text();
  return Number(/^buildwire_edge_sse_fallbacks_total (\d+)/m.exec(metrics)?.[1] ?? NaN);
}

// A page whose errors are printed, and whose client modules come from CLIENT_DIR if set.
async function faultPage(browser) {
  const page = await newPage(browser);
  if (process.env.CLIENT_DIR) {
    await page.route(/\/client\/[a-z]+\.js$/, async (route) => {
      const file = new URL(route.request().url()).pathname.split("/").pop();
      const body = await readFile(join(process.env.CLIENT_DIR, file), "utf8");
      await route.fulfill({ status: 200, contentType: "text/javascript", body });
    });
  }
  return page;
}

// Starts watchBuild in the page (imported from `moduleUrl`) as `name`, recording what it
// reports in window.watches[name]. A watchBuild that throws is recorded, not raised.
function startWatch(page, name, moduleUrl, options) {
  return page.evaluate(
    async ({ name, moduleUrl, options }) => {
      const { watchBuild } = await import(moduleUrl);
      const record = { seqs: [], states: [], times: [], threw: null, watch: null };
      window.watches ??= {};
      window.watches[name] = record;
      try {
        record.watch = watchBuild({
          ...options,
          onEvent: (event) => record.seqs.push(event.seq),
          onState: (state) => {
            record.states.push(state);
            record.times.push(Date.now());
          },
        });
      } catch (err) {
        record.threw = String(err);
      }
    },
    { name, moduleUrl, options },
  );
}

function readWatch(page, name) {
  return page.evaluate((name) => {
    const record = window.watches[name];
    const watch = record.watch;
    return {
      seqs: record.seqs,
      states: record.states,
      times: record.times,
      threw: record.threw,
      error: watch?.error ?? null,
      transport: watch?.transport ?? null,
      lastSeq: watch?.lastSeq ?? null,
    };
  }, name);
}

async function untilState(page, name, wanted, ms) {
  await waitFor(
    async () => (await readWatch(page, name)).states.at(-1) === wanted,
    async () => `${name} reaches ${wanted} (states: ${(await readWatch(page, name)).states.join(" > ")})`,
    ms,
  );
  return readWatch(page, name);
}

// 1. A page that cannot open a WebSocket.
async function unusableWebSocket(browser) {
  const accepted = await submit("Create a todo app", "faults-csp");
  const fallbacksBefore = await fallbacksCounted();
  const policy = `default-src 'self'; script-src 'self'; connect-src ${base}`;
  const cases = [
    { fault: "a CSP without ws:", headers: { "content-security-policy": policy } },
    { fault: "a throwing WebSocket constructor", headers: {}, throws: true },
  ];
  // Each case in a page of its own (the fallback is per page), side by side.
  const runs = cases.flatMap(({ fault, headers, throws }) =>
    ["auto", "ws"].map(async (transport) => {
      const page = await faultPage(browser);
      await page.route(`${base}/fault-page`, (route) =>
        route.fulfill({ status: 200, contentType: "text/html", headers, body: "<!doctype html><title>fault</title>" }),
      );
      if (throws) {
        await page.addInitScript(() => {
          window.WebSocket = class {
            constructor(url) {
              throw new DOMException(`refused to connect to ${url}`, "SecurityError");
            }
          };
        });
      }
      await page.goto(`${base}/fault-page`);
      const label = `${fault}, transport ${transport}`;
      await startWatch(page, transport, "/client/buildwire.js", {
        baseUrl: base,
        buildId: accepted.buildId,
        token: accepted.buildToken,
        transport,
      });
      if (transport === "auto") {
        const seen = await untilState(page, transport, "done", BUILD_LIMIT_MS);
        const stored = await storedSeqs(accepted.buildId);
        check(seen.threw === null, `${label}: watchBuild returns`);
        check(seen.transport === "sse", `${label}: fell back to SSE`);
        check(same(seen.seqs, stored), `${label}: every event once, in order (${stored.length})`);
        check(!seen.states.includes("failed"), `${label}: never failed (${seen.states.join(" > ")})`);
      } else {
        const seen = await untilState(page, transport, "failed", 20000);
        check(seen.threw === null, `${label}: watchBuild returns (${seen.threw})`);
        check(
          seen.error?.status === 0 && seen.error?.title === "WebSocket unavailable" && seen.error.detail?.length > 10,
          `${label}: failed with an error saying why: ${JSON.stringify(seen.error)}`,
        );
        check(!seen.error.detail.includes(accepted.buildToken), `${label}: the error does not carry the token`);
        check(seen.transport === "ws" && seen.seqs.length === 0, `${label}: no SSE behind the caller's back`);
      }
      await page.close();
    }),
  );
  await settle(runs);
  const counted = (await fallbacksCounted()) - fallbacksBefore;
  check(counted === 2, `sse_fallbacks_total counted once per falling-back page (${counted} for 2)`);
}

// A TCP proxy that can stop forwarding the stream connections (WebSocket, SSE) without
// closing them: what a NAT that forgot them does. New connections are forwarded. It logs
// every HTTP request line it forwards, with its time.
async function stallingProxy(target) {
  const connections = new Set();
  const requests = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    const conn = { client, upstream, stream: false, frozen: false };
    connections.add(conn);
    client.on("data", (chunk) => {
      if (conn.frozen) return; // into the void
      const line = /^(?:GET|POST|HEAD|OPTIONS) (\S+) HTTP\/1\.1/.exec(chunk.toString("latin1", 0, 2048));
      if (line) {
        requests.push({ at: Date.now(), path: line[1] });
        conn.stream = /^\/(ws\/builds|events)\//.test(line[1]);
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (!conn.frozen) client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      connections.delete(conn);
    };
    client.on("error", end).on("close", end);
    // A frozen connection's end is not passed on either: the browser must find out alone.
    upstream.on("error", () => conn.frozen || end()).on("close", () => conn.frozen || end());
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    stall() {
      let frozen = 0;
      for (const conn of connections) {
        if (conn.stream) {
          conn.frozen = true;
          frozen += 1;
        }
      }
      return frozen;
    },
    close() {
      server.close();
      for (const conn of connections) {
        conn.client.destroy();
        conn.upstream.destroy();
      }
    },
  };
}

// 2. Stream connections that die without closing.
async function deadConnections(browser, cleanups) {
  const proxy = await stallingProxy(new URL(base));
  cleanups.push(() => proxy.close());
  const accepted = await submit("Create a counter app", "faults-stall");
  const page = await faultPage(browser);
  await page.goto(`${proxy.url}/healthz`);
  const names = ["ws", "sse"];
  for (const transport of names) {
    await startWatch(page, transport, `${proxy.url}/client/buildwire.js`, {
      baseUrl: proxy.url,
      buildId: accepted.buildId,
      token: accepted.buildToken,
      transport,
      livenessTimeoutMs: LIVENESS_MS,
    });
  }
  for (const name of names) {
    await waitFor(
      async () => {
        const seen = await readWatch(page, name);
        return seen.seqs.length > 0 && seen.states.at(-1) === "live";
      },
      `${name} is live with events`,
      BUILD_LIMIT_MS,
    );
  }
  const frozen = proxy.stall();
  const stalledAt = Date.now();
  const atStall = Object.fromEntries(
    await Promise.all(names.map(async (name) => [name, (await readWatch(page, name)).lastSeq])),
  );
  check(frozen >= 2, `the proxy stopped forwarding ${frozen} stream connections without closing them`);
  const stored = await (async () => {
    for (const name of names) await untilState(page, name, "done", BUILD_LIMIT_MS);
    return storedSeqs(accepted.buildId);
  })();
  check(atStall.ws < stored.at(-1) && atStall.sse < stored.at(-1), "the stall came before the end of the build");
  for (const name of names) {
    const seen = await readWatch(page, name);
    const woke = seen.times.findIndex((at, i) => at >= stalledAt && seen.states[i] === "reconnecting");
    const firedAfter = seen.times[woke] - stalledAt;
    check(
      woke >= 0 && firedAfter <= LIVENESS_MS + 1500,
      `${name}: the watchdog closed the dead connection ${firedAfter} ms after the stall (livenessTimeoutMs ${LIVENESS_MS})`,
    );
    const prefix = name === "ws" ? "/ws/builds/" : "/events/";
    const resumed = proxy.requests.find((r) => r.at >= stalledAt && r.path.startsWith(prefix));
    const after = Number(new URL(resumed?.path ?? "/", base).searchParams.get("after"));
    // Frames already on their way when the proxy stalled may still land: `>=`.
    check(
      after > 0 && after >= atStall[name],
      `${name}: resumed with after=${after} (its lastSeq at the stall: ${atStall[name]})`,
    );
    check(same(seen.seqs, stored), `${name}: every event once, in order (${stored.length})`);
    check(seen.transport === name && seen.states.at(-1) === "done", `${name}: still on ${name}, done`);
  }
  await page.close();
}

await main(async (cleanups) => {
  const browser = await launch();
  cleanups.push(() => browser.close());
  await settle([unusableWebSocket(browser), deadConnections(browser, cleanups)]);
});
