// What the client fault tests share: Debian's Chromium through playwright-core (never a
// downloaded browser), checks that print as they pass, and small HTTP helpers.
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

/** Chromium's flags on these machines: no sandbox (containers), nothing phoning home. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--headless",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Launches Debian's Chromium (`CHROMIUM_PATH` overrides /usr/bin/chromium). */
export function launch(args = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: [...CHROMIUM_ARGS, ...args],
  });
}

/** A page whose errors are printed with the test's output. */
export async function newPage(browser) {
  const page = await browser.newPage();
  page.on("pageerror", (err) => console.log(`page error: ${err.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") {
      console.log(`page console.${message.type()}: ${message.text()}`);
    }
  });
  return page;
}

/** Throws `what` unless `condition`; prints it when it holds. */
export function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}

export const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves when `predicate()` holds (polled every 50 ms), or throws after `ms` saying
 * `what` (a string, or a function answering one then). */
export async function waitFor(predicate, what, ms) {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) {
      const said = typeof what === "function" ? await what() : what;
      throw new Error(`timed out after ${ms} ms: ${said}`);
    }
    await sleep(50);
  }
}

/** A JWT-shaped token expiring at `exp` (seconds); the fake servers never check its signature. */
export function fakeToken(exp, nonce = "") {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "HS256", kid: "test" })}.${part({ exp, sub: "fake", nonce })}.sig`;
}

/** Waits for every promise; throws (after printing each failure) when any failed, so
 * every case is reported, not only the first. */
export async function settle(promises) {
  const failed = (await Promise.allSettled(promises)).filter((r) => r.status === "rejected");
  for (const { reason } of failed) console.error(String(reason?.stack ?? reason));
  if (failed.length) throw new Error(`${failed.length} of ${promises.length} cases failed`);
}

/** Runs `body` with every function pushed on `cleanups` run afterwards, newest first; sets
 * the exit code when it throws. */
export async function main(body) {
  const cleanups = [];
  try {
    await body(cleanups);
  } catch (err) {
    console.error(String(err?.stack ?? err));
    process.exitCode = 1;
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        console.error(`cleanup: ${err}`);
      }
    }
  }
}

// An esbuild plugin that resolves react and react-dom to tests/browser's copies, whichever
// directory imports them: clients/web has React of its own (a dev dependency for its type
// checks), and two Reacts in one bundle break every hook.
export function oneReact() {
  const require = createRequire(import.meta.url);
  return {
    name: "one-react",
    setup(build) {
      build.onResolve({ filter: /^react(-dom)?(\/.*)?$/ }, (args) => ({ path: require.resolve(args.path) }));
    },
  };
}
