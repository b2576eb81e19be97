// The settings table of README.md (the Marketplace page), made from package.json's
// contributes.configuration.properties and kept between the markers below. `node scripts/settingsTable.mjs`
// rewrites it; `--check` exits 1 naming what differs (test/unit/readme.test.ts runs the check).
// `--package FILE` / `--readme FILE` read and write other files (the tests use copies).
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const START = "<!-- settings-table:start -->";
export const END = "<!-- settings-table:end -->";

function cell(text) {
  return String(text).replace(/\r?\n+/g, " ").replace(/\|/g, "\\|").trim();
}

function typeText(schema) {
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => "`" + JSON.stringify(v).replace(/^"|"$/g, "") + "`").join(" | ");
  const types = Array.isArray(schema.type) ? schema.type : [schema.type ?? "any"];
  const names = types.map((t) => {
    if (t === "array") return schema.items?.type ? `array of ${schema.items.type}s` : "array";
    if (t === "integer" || t === "number") {
      const bounds = [];
      if (schema.minimum !== undefined) bounds.push(`≥ ${schema.minimum}`);
      if (schema.maximum !== undefined) bounds.push(`≤ ${schema.maximum}`);
      return [t, ...bounds].join(" ");
    }
    return t;
  });
  return names.join(" or ");
}

/** The Markdown table of every contributed setting, in package.json's order. */
export function settingsTable(pkg) {
  const properties = pkg.contributes?.configuration?.properties ?? {};
  const rows = Object.entries(properties).map(([key, schema]) => {
    const def = schema.default === undefined ? "" : "`" + JSON.stringify(schema.default) + "`";
    const doc = schema.markdownDescription ?? schema.description ?? "";
    return `| \`${key}\` | ${cell(typeText(schema))} | ${cell(def)} | ${cell(doc)} |`;
  });
  return ["| setting | type | default | description |", "|---|---|---|---|", ...rows].join("\n");
}

/** README with the table between the markers replaced; throws when the markers are missing. */
export function withTable(readme, table) {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README has no ${START} … ${END} section`);
  return readme.slice(0, start + START.length) + "\n" + table + "\n" + readme.slice(end);
}

function option(args, name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
}

function main(args) {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const pkgFile = option(args, "--package", join(root, "package.json"));
  const readmeFile = option(args, "--readme", join(root, "README.md"));
  const readme = readFileSync(readmeFile, "utf8");
  const wanted = withTable(readme, settingsTable(JSON.parse(readFileSync(pkgFile, "utf8"))));
  if (wanted === readme) return 0;
  if (!args.includes("--check")) {
    writeFileSync(readmeFile, wanted);
    console.log(`${readmeFile}: settings table updated`);
    return 0;
  }
  const section = (text) => text.slice(text.indexOf(START), text.indexOf(END)).split("\n");
  const have = section(readme);
  const want = section(wanted);
  const report = [
    ...want.filter((line) => !have.includes(line)).map((line) => `  missing:  ${line}`),
    ...have.filter((line) => !want.includes(line)).map((line) => `  outdated: ${line}`),
  ];
  console.error(
    `${readmeFile}: the settings table is out of step with ${pkgFile}; run \`node scripts/settingsTable.mjs\`.\n` + report.join("\n"),
  );
  return 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
