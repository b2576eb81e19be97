// Puts what the extension installs on first start into bundled/: a wheel of flyte-ls built from this checkout,
// the pinned constraints it is installed with, and a manifest naming both (read by src/serverInstall.ts).
// The Python that builds the wheel: $FLYTE_LS_PYTHON, else the repository's .venv, else python3.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..", "..");
const out = resolve(import.meta.dirname, "..", "bundled");
const venvPython = join(root, ".venv", "bin", "python");
const python = process.env.FLYTE_LS_PYTHON || (existsSync(venvPython) ? venvPython : "python3");

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
execFileSync(python, ["-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps", "-w", out, root], {
  stdio: "inherit",
});
const wheel = readdirSync(out).find((n) => /^flyte_ls-.*\.whl$/.test(n));
if (!wheel) throw new Error(`no flyte_ls wheel in ${out}`);
copyFileSync(join(root, "constraints.txt"), join(out, "constraints.txt"));
const sha256 = createHash("sha256").update(readFileSync(join(out, wheel))).digest("hex");
const version = /^flyte_ls-([^-]+)-/.exec(wheel)[1];
writeFileSync(join(out, "manifest.json"), JSON.stringify({ wheel, sha256, version, constraints: "constraints.txt" }, null, 2) + "\n");
console.log(`bundled/${wheel} (${version}, sha256 ${sha256.slice(0, 12)}…) and constraints.txt`);
