// Checks @buildwire/client as a main app gets it: packs it (`npm pack`), checks the
// tarball's file list, installs it into a scratch project, type-checks typecheck/usage.tsx
// there under Next.js's default tsconfig (bundler, jsx preserve) and under NodeNext (ESM),
// imports every entry in Node with the browser globals trapped (SSR), then runs attw
// (every resolution mode: node10, node16 from CJS and ESM, bundler; only
// `cjs-resolves-to-esm` ignored, the package being ESM-only) and publint --strict on the
// tarball.
//
//   node scripts/package.mjs          exit 1 on the first failure, with its output
//   node scripts/package.mjs --keep   keep the scratch directory (its path is printed)
//
// react and @types/react come from the npm registry (or the npm cache) at the exact
// versions of this package's lockfile; tsc is this package's own.
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(pkg, "node_modules", ".bin", name);
const tsc = join(pkg, "node_modules/typescript/bin/tsc");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const keep = process.argv.includes("--keep");

/** Runs `command`, prints how long it took, and answers its stdout; throws on failure. */
function step(what, command, args, cwd) {
  const started = Date.now();
  const out = spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", npm_config_update_notifier: "false" },
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (out.error || out.status !== 0) {
    throw new Error(`${what} failed (${seconds}s):\n${out.error ?? ""}${out.stdout}${out.stderr}`);
  }
  console.log(`ok ${what} (${seconds}s)`);
  return out.stdout;
}

for (const tool of [tsc, bin("attw"), bin("publint")]) {
  if (!existsSync(tool)) {
    console.error(`${tool} is missing: run scripts/setup (npm ci in clients/web)`);
    process.exit(1);
  }
}

const locked = JSON.parse(readFileSync(join(pkg, "package-lock.json"), "utf8")).packages;
const version = (name) => locked[`node_modules/${name}`].version;
const manifest = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8"));

const scratch = mkdtempSync(join(tmpdir(), "buildwire-client-"));
try {
  // The tarball holds the modules, their declarations, README and package.json; nothing
  // else (no demo/, scripts/, typecheck/).
  const [packed] = JSON.parse(
    step("npm pack", npm, ["pack", "--json", "--pack-destination", scratch], pkg),
  );
  const tarball = join(scratch, packed.filename);
  const files = packed.files.map((file) => file.path).sort();
  const types = readdirSync(join(pkg, "types")).filter((name) => name.endsWith(".d.ts"));
  const expected = [
    "README.md",
    "package.json",
    ...["buildwire", "progress", "react"].flatMap((name) => [`${name}.js`, `${name}.d.ts`]),
    ...types.map((name) => `types/${name}`),
  ].sort();
  if (JSON.stringify(files) !== JSON.stringify(expected)) {
    throw new Error(
      `the tarball holds\n  ${files.join("\n  ")}\nexpected\n  ${expected.join("\n  ")}`,
    );
  }

  // A Next.js app (package.json as create-next-app writes it: no "type") with an ESM
  // subproject for NodeNext; both type-check the same usage file.
  const app = join(scratch, "app");
  mkdirSync(join(app, "app"), { recursive: true });
  mkdirSync(join(app, "esm"));
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({ name: "next-app", version: "0.1.0", private: true }, null, 2),
  );
  writeFileSync(join(app, "esm/package.json"), JSON.stringify({ type: "module" }));
  cpSync(join(pkg, "typecheck/next.tsconfig.json"), join(app, "tsconfig.json"));
  cpSync(join(pkg, "typecheck/nodenext.tsconfig.json"), join(app, "esm/tsconfig.json"));
  cpSync(join(pkg, "typecheck/usage.tsx"), join(app, "app/build-progress.tsx"));
  cpSync(join(pkg, "typecheck/usage.tsx"), join(app, "esm/build-progress.tsx"));
  cpSync(join(pkg, "typecheck/ssr.mjs"), join(app, "ssr.mjs"));
  step(
    "npm install of the tarball",
    npm,
    [
      "install",
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      "--save-exact",
      tarball,
      `react@${version("react")}`,
      `@types/react@${version("@types/react")}`,
    ],
    app,
  );

  const installed = join(app, "node_modules", manifest.name);
  const react = readFileSync(join(installed, "react.js"), "utf8");
  if (!react.startsWith('"use client";')) {
    throw new Error('react.js must start with "use client"; (the hook is a client module)');
  }

  step(
    "tsc, Next.js default tsconfig (bundler, jsx preserve)",
    process.execPath,
    [tsc, "-p", "tsconfig.json"],
    app,
  );
  step("tsc, NodeNext ESM", process.execPath, [tsc, "-p", "esm/tsconfig.json"], app);
  process.stdout.write(step("node: import every entry (SSR)", process.execPath, ["ssr.mjs"], app));

  const attw = step(
    "attw",
    bin("attw"),
    [
      tarball,
      "--ignore-rules",
      "cjs-resolves-to-esm",
      "--format",
      "table-flipped",
      "--no-emoji",
      "--no-color",
    ],
    pkg,
  );
  process.stdout.write(attw);
  process.stdout.write(step("publint --strict", bin("publint"), ["run", tarball, "--strict"], pkg));
} catch (error) {
  console.error(error.message);
  process.exitCode = 1;
} finally {
  if (keep) console.log(`kept ${scratch}`);
  else rmSync(scratch, { recursive: true, force: true });
}
