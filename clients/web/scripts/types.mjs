// Generates clients/web/types/*.d.ts from the JSON Schemas in schemas/json (themselves
// generated from the Rust types), so the client's types cannot drift from the wire.
//
//   node scripts/types.mjs           rewrite the files
//   node scripts/types.mjs --check   fail (exit 1) when a file differs from what it would be
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { compile } from "json-schema-to-typescript";

const here = dirname(fileURLToPath(import.meta.url));
const schemas = join(here, "../../../schemas/json");
const out = join(here, "../types");
const FILES = {
  "event.schema.json": "event.d.ts",
  "build-progress.schema.json": "build-progress.d.ts",
  "build-accepted.schema.json": "build-accepted.d.ts",
  "submit-build.schema.json": "submit-build.d.ts",
  "build-token.schema.json": "build-token.d.ts",
  "problem.schema.json": "problem.d.ts",
  "client-message.schema.json": "client-message.d.ts",
  "disconnect.schema.json": "disconnect.d.ts",
};

const pascal = (text) =>
  text.split("_").map((word) => word[0].toUpperCase() + word.slice(1)).join("");

// schemars writes each tagged variant as `{ properties: { type: const }, $ref: body }`;
// JSON Schema 2020-12 reads both, but json-schema-to-typescript drops the sibling of a
// `$ref`. `allOf` says the same thing in a form it follows, and names each variant.
function tagVariants(schema) {
  for (const variant of schema.oneOf ?? []) {
    const tag = variant.properties?.type?.const;
    if (!variant.$ref || !tag) continue;
    const ref = variant.$ref;
    variant.allOf = [
      { type: "object", properties: variant.properties, required: variant.required },
      { $ref: ref },
    ];
    variant.title = `${pascal(tag)}${schema.title ?? ""}`;
    delete variant.$ref;
    delete variant.properties;
    delete variant.required;
    delete variant.type;
  }
  return schema;
}

const check = process.argv.includes("--check");
let drifted = [];
mkdirSync(out, { recursive: true });
for (const [source, target] of Object.entries(FILES)) {
  const schema = tagVariants(JSON.parse(readFileSync(join(schemas, source), "utf8")));
  const text = await compile(schema, schema.title, {
    bannerComment: `// Generated from schemas/json/${source} by clients/web/scripts/types.mjs: do not edit.`,
    additionalProperties: false,
    format: true,
  });
  const path = join(out, target);
  let current = null;
  try {
    current = readFileSync(path, "utf8");
  } catch {}
  if (current === text) continue;
  if (check) drifted.push(target);
  else writeFileSync(path, text);
}
if (drifted.length) {
  console.error(
    `types drifted from schemas/json: ${drifted.join(", ")} (run: npm run types --prefix clients/web)`,
  );
  process.exit(1);
}
