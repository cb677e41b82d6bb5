// Imports every entry of the installed @buildwire/client as a server render would (Next.js
// SSR evaluates client components' imports on the server): no browser global may be read
// at module load. Run from the scratch project by scripts/package.mjs.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import "react"; // the hook's peer, loaded before the traps: only the package is under test

const BROWSER = [
  "window",
  "self",
  "document",
  "location",
  "history",
  "navigator",
  "localStorage",
  "sessionStorage",
  "WebSocket",
  "EventSource",
];
const touched = [];
for (const name of BROWSER) {
  const had = Object.getOwnPropertyDescriptor(globalThis, name);
  if (had && !had.configurable) continue;
  Object.defineProperty(globalThis, name, {
    configurable: true,
    get() {
      touched.push(`${name}\n${new Error().stack}`);
      throw new ReferenceError(`${name} read at module load`);
    },
  });
}

const require = createRequire(import.meta.url);
const manifest = JSON.parse(
  readFileSync(require.resolve("@buildwire/client/package.json"), "utf8"),
);
const EXPECTED = {
  ".": ["watchBuild"],
  "./progress": [
    "STAGES",
    "TERMINAL_STATUSES",
    "applyEvent",
    "createProgress",
    "foldEvents",
    "lineDuration",
  ],
  "./react": ["useBuildProgress"],
};
const entries = Object.keys(manifest.exports).filter((key) => !key.endsWith(".json"));
const missing = Object.keys(EXPECTED).filter((key) => !entries.includes(key));
if (missing.length) throw new Error(`exports lost ${missing.join(", ")}`);
for (const entry of entries) {
  const specifier = `@buildwire/client${entry.slice(1)}`;
  const module = await import(specifier);
  for (const name of EXPECTED[entry] ?? []) {
    if (module[name] === undefined) throw new Error(`${specifier} does not export ${name}`);
  }
  console.log(`imported ${specifier}: ${Object.keys(module).sort().join(", ")}`);
}
if (touched.length) throw new Error(`browser globals read at module load:\n${touched.join("\n")}`);
