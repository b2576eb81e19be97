// Bundles the extension (dist/extension.js) or, with --tests, every test file (out/test/**.js) with esbuild.
// `vscode` stays external: VS Code provides it; the tests replace it with test/vscodeMock.ts (test/setup.ts).
import { build } from "esbuild";
import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

const production = process.argv.includes("--production");
const tests = process.argv.includes("--tests");

function files(dir, suffix) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path, suffix);
    return path.endsWith(suffix) ? [path] : [];
  });
}

const common = { bundle: true, platform: "node", format: "cjs", target: "node20", external: ["vscode"], logLevel: "warning" };

if (tests) {
  rmSync("out", { recursive: true, force: true });
  await build({
    ...common,
    entryPoints: ["test/setup.ts", ...files("test", ".test.ts")],
    outdir: "out/test",
    outbase: "test",
    external: ["vscode", "mocha"],
    sourcemap: "inline",
  });
} else {
  await build({
    ...common,
    entryPoints: ["src/extension.ts"],
    outfile: "dist/extension.js",
    minify: production,
    sourcemap: !production,
  });
}
