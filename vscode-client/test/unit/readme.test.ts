// README.md is the Marketplace page: its settings table is generated from package.json
// (scripts/settingsTable.mjs) and its commands table must name every contributed command.
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";

const root = path.resolve(__dirname, "../../..");
const script = path.join(root, "scripts", "settingsTable.mjs");

function settingsTable(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { timeout: 8000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

interface Pkg {
  contributes: { commands: { command: string; title: string }[]; configuration: { properties: Record<string, { default?: unknown }> } };
}

describe("README.md (the Marketplace page)", () => {
  it("has the settings table of package.json (else: node scripts/settingsTable.mjs)", async () => {
    const { code, stderr } = await settingsTable("--check");
    assert.equal(code, 0, stderr);
  });

  it("lists every contributed command with its title and id", async () => {
    const pkg = JSON.parse(await readFile(path.join(root, "package.json"), "utf8")) as Pkg;
    const readme = await readFile(path.join(root, "README.md"), "utf8");
    for (const { command, title } of pkg.contributes.commands) {
      assert.ok(readme.includes(`| ${title} | \`${command}\` |`), `README's commands table lacks ${title} (${command})`);
    }
  });

  describe("scripts/settingsTable.mjs", () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), "flyte-readme-"));
      await copyFile(path.join(root, "package.json"), path.join(dir, "package.json"));
      await copyFile(path.join(root, "README.md"), path.join(dir, "README.md"));
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    it("catches a setting added to package.json and rewrites the table to include it", async () => {
      const files = ["--package", path.join(dir, "package.json"), "--readme", path.join(dir, "README.md")];
      const pkg = JSON.parse(await readFile(path.join(dir, "package.json"), "utf8")) as Pkg;
      pkg.contributes.configuration.properties["flyte.example.limit"] = {
        type: "integer",
        minimum: 1,
        default: 5,
        markdownDescription: "How many | at most.\nSecond line.",
      } as { default?: unknown };
      await writeFile(path.join(dir, "package.json"), JSON.stringify(pkg, null, 2));

      const stale = await settingsTable("--check", ...files);
      assert.equal(stale.code, 1);
      assert.match(stale.stderr, /missing: {2}\| `flyte\.example\.limit` \| integer ≥ 1 \| `5` \| How many \\\| at most\. Second line\. \|/);

      const write = await settingsTable(...files);
      assert.equal(write.code, 0, write.stderr);
      assert.equal((await settingsTable("--check", ...files)).code, 0);
      const readme = await readFile(path.join(dir, "README.md"), "utf8");
      assert.ok(readme.includes("| `flyte.example.limit` |"));
      assert.ok(readme.includes("## Troubleshooting"), "the rest of README is kept");
    });

    it("refuses a README without the table's markers", async () => {
      await writeFile(path.join(dir, "README.md"), "# no table\n");
      const result = await settingsTable("--check", "--package", path.join(dir, "package.json"), "--readme", path.join(dir, "README.md"));
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /settings-table:start/);
    });
  });
});
