import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Interpreter, RunFile } from "../../src/interpreter";
import {
  basePythonCandidates,
  envName,
  envPython,
  InstallCancelled,
  InstallError,
  pipProgress,
  prepareServer,
  runProcess,
  scanStorage,
  serverLaunchPlan,
  type CancelToken,
  type InstallUi,
  type Manifest,
  type RunProcess,
  type StorageState,
  type StoredEnv,
} from "../../src/serverInstall";

const manifest: Manifest = { wheel: "flyte_ls-0.1.0-py3-none-any.whl", sha256: "0123456789abcdef".repeat(4), version: "0.1.0", constraints: "constraints.txt" };
const current = envName(manifest);
const py311: Interpreter = { path: "/venv/bin/python", version: [3, 11, 7], hasFlytekit: true, source: "python" };
const NOW = 1_800_000_000_000;
const HOUR = 3600 * 1000;

function storage(envs: StoredEnv[] = [], platform: NodeJS.Platform = "linux"): StorageState {
  return { root: platform === "win32" ? "C:\\Users\\u\\storage\\server" : "/gs/server", platform, envs, now: NOW };
}
const env = (name: string, over: Partial<StoredEnv> = {}): StoredEnv => ({ name, ready: true, locked: false, lastUsed: NOW - HOUR, ...over });

describe("serverInstall", () => {
  describe("serverLaunchPlan", () => {
    it("runs flyte.serverCommand as is (variables expanded) whatever else there is", () => {
      const plan = serverLaunchPlan(
        { serverCommand: ["${workspaceFolder}/.venv/bin/flyte-ls", "serve", "-v"], workspaceFolder: "/ws", home: "/h" },
        manifest,
        py311,
        storage([env(current)]),
      );
      assert.deepEqual(plan, { kind: "command", command: "/ws/.venv/bin/flyte-ls", args: ["serve", "-v"] });
      assert.deepEqual(serverLaunchPlan({ serverCommand: ["~/bin/flyte-ls"], home: "/h" }, undefined, py311, storage()), {
        kind: "command",
        command: "/h/bin/flyte-ls",
        args: [],
      });
    });

    it("ignores an empty serverCommand (or one whose program is blank)", () => {
      for (const serverCommand of [[], [""], ["  ", "serve"], undefined]) {
        assert.equal(serverLaunchPlan({ serverCommand }, manifest, py311, storage()).kind, "venv-create");
      }
    });

    it("is unavailable without a bundled server, and says to set flyte.serverCommand", () => {
      const plan = serverLaunchPlan({ serverCommand: [] }, undefined, py311, storage());
      assert.equal(plan.kind, "unavailable");
      assert.match((plan as { reason: string }).reason, /set flyte\.serverCommand/);
    });

    it("starts the ready private environment's python with -m flyte_ls serve", () => {
      const plan = serverLaunchPlan({ serverCommand: [] }, manifest, py311, storage([env(current)]));
      assert.deepEqual(plan, {
        kind: "venv-ready",
        command: `/gs/server/${current}/bin/python`,
        args: ["-m", "flyte_ls", "serve"],
        envDir: `/gs/server/${current}`,
        remove: [],
      });
    });

    it("creates the environment when it is missing or half made, with the interpreter first as base when ≥ 3.10", () => {
      for (const envs of [[], [env(current, { ready: false })]]) {
        const plan = serverLaunchPlan({ serverCommand: [] }, manifest, py311, storage(envs));
        assert.equal(plan.kind, "venv-create");
        if (plan.kind !== "venv-create") return;
        assert.equal(plan.envDir, `/gs/server/${current}`);
        assert.equal(plan.command, `/gs/server/${current}/bin/python`);
        assert.deepEqual(plan.basePythons[0], { command: "/venv/bin/python", args: [] });
        assert.deepEqual(
          plan.basePythons.slice(1).map((c) => c.command),
          ["python3.12", "python3.11", "python3.10", "python3"],
        );
      }
    });

    it("names the environment <version>-<sha12>", () => {
      assert.equal(current, "0.1.0-0123456789ab");
    });

    it("removes other versions' environments once unused for a day, half-made ones, but not one being created", () => {
      const envs = [
        env(current),
        env("0.0.9-aaaaaaaaaaaa", { lastUsed: NOW - 25 * HOUR }), // old: goes
        env("0.0.8-bbbbbbbbbbbb", { lastUsed: NOW - HOUR }), // another window may still run it: stays
        env("0.0.7-cccccccccccc", { ready: false }), // half made: goes
        env("0.0.6-dddddddddddd", { ready: false, locked: true }), // being made by another window: stays
        env("0.0.5-eeeeeeeeeeee", { lastUsed: undefined }), // never started: goes
      ];
      const plan = serverLaunchPlan({ serverCommand: [] }, manifest, py311, storage(envs));
      assert.equal(plan.kind, "venv-ready");
      if (plan.kind !== "venv-ready") return;
      assert.deepEqual(plan.remove, ["/gs/server/0.0.9-aaaaaaaaaaaa", "/gs/server/0.0.7-cccccccccccc", "/gs/server/0.0.5-eeeeeeeeeeee"]);
    });

    it("uses Windows paths and the py launcher on win32", () => {
      const plan = serverLaunchPlan({ serverCommand: [] }, manifest, { ...py311, path: "C:\\venv\\Scripts\\python.exe" }, storage([], "win32"));
      assert.equal(plan.kind, "venv-create");
      if (plan.kind !== "venv-create") return;
      assert.equal(plan.envDir, `C:\\Users\\u\\storage\\server\\${current}`);
      assert.equal(plan.command, `C:\\Users\\u\\storage\\server\\${current}\\Scripts\\python.exe`);
      assert.deepEqual(plan.basePythons, [
        { command: "C:\\venv\\Scripts\\python.exe", args: [] },
        { command: "py", args: ["-3.12"] },
        { command: "py", args: ["-3.11"] },
        { command: "py", args: ["-3.10"] },
        { command: "python", args: [] },
      ]);
    });

    it("does not offer an interpreter older than 3.10, one that did not run, or none as the base", () => {
      const bad: Interpreter[] = [
        { ...py311, version: [3, 9, 18] },
        { ...py311, problem: "ENOENT" },
        { path: undefined, version: undefined, hasFlytekit: false, source: "none" },
      ];
      for (const interp of bad) {
        assert.equal(basePythonCandidates(interp, "linux")[0].command, "python3.12");
      }
      assert.equal(basePythonCandidates({ ...py311, version: [3, 10, 0] }, "darwin")[0].command, "/venv/bin/python");
    });
  });

  it("pipProgress turns pip's lines into messages and a share of the bar", () => {
    const state = { collected: 0 };
    assert.deepEqual(pipProgress("Collecting pygls==2.1.1 (from flyte-ls==0.1.0)", state), { message: "collecting pygls==2.1.1 (1)", increment: 2 });
    assert.deepEqual(pipProgress("  Downloading https://files/grpcio-1.85.3-cp311.whl (6.1 MB)", state), {
      message: "downloading grpcio-1.85.3-cp311.whl",
      increment: 0,
    });
    assert.deepEqual(pipProgress("Installing collected packages: a, b, c", state), { message: "installing 3 packages", increment: 10 });
    assert.deepEqual(pipProgress("Successfully installed a-1 b-2 c-3", state), { message: "installed", increment: 10 });
    assert.equal(pipProgress("  Using cached attrs-26.1.0-py3-none-any.whl", state), undefined);
    for (let i = 0; i < 40; i++) pipProgress(`Collecting p${i}`, state);
    assert.deepEqual(pipProgress("Collecting last", state), { message: "collecting last (42)", increment: 0 });
  });

  describe("runProcess", () => {
    it("passes every output line and the exit code", async () => {
      const lines: string[] = [];
      const result = await runProcess(process.execPath, ["-e", "console.log('a\\nb'); console.error('c'); process.exit(2)"], {
        timeoutMs: 5000,
        onLine: (l) => lines.push(l),
      });
      assert.equal(result.code, 2);
      assert.deepEqual([...lines].sort(), ["a", "b", "c"]);
      assert.deepEqual([...result.tail].sort(), ["a", "b", "c"]);
    });

    it("kills the process at the deadline and on cancellation", async () => {
      const started = Date.now();
      await assert.rejects(runProcess(process.execPath, ["-e", "setTimeout(() => {}, 30000)"], { timeoutMs: 300 }), (err: Error) => {
        assert.ok(err instanceof InstallError);
        assert.match(err.message, /did not finish within 0.3 s/);
        return true;
      });
      const token = cancelToken();
      const running = runProcess(process.execPath, ["-e", "setTimeout(() => {}, 30000)"], { timeoutMs: 10000, token });
      setTimeout(() => token.cancel(), 100);
      await assert.rejects(running, InstallCancelled);
      assert.ok(Date.now() - started < 5000);
    });

    it("rejects with the reason when the program does not exist", async () => {
      await assert.rejects(runProcess("/nonexistent/python3", ["-V"], { timeoutMs: 5000 }), /ENOENT/);
    });
  });

  describe("prepareServer", () => {
    let dir: string;
    let bundled: string;
    let root: string;
    let realManifest: Manifest;
    const logLines: string[] = [];
    const log = { info: (m: string) => logLines.push(m), warn: (m: string) => logLines.push(m), error: (m: string) => logLines.push(m) };

    beforeEach(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), "flyte-install-"));
      bundled = path.join(dir, "bundled");
      root = path.join(dir, "storage", "server");
      mkdirSync(bundled, { recursive: true });
      const wheel = Buffer.from("not really a wheel");
      writeFileSync(path.join(bundled, manifest.wheel), wheel);
      writeFileSync(path.join(bundled, "constraints.txt"), "pygls==2.1.1\n");
      realManifest = { ...manifest, sha256: createHash("sha256").update(wheel).digest("hex") };
      writeFileSync(path.join(bundled, "manifest.json"), JSON.stringify(realManifest));
      logLines.length = 0;
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    /** A fake python: `-m venv DIR` makes DIR/bin/python, pip prints like pip. */
    function fakeRun(calls: string[][], fail?: { step: string; lines: string[] }): RunProcess {
      return async (command, args, options) => {
        calls.push([command, ...args]);
        const step = args.includes("venv") ? "venv" : args.includes("pip") ? "pip" : "verify";
        if (fail?.step === step) {
          fail.lines.forEach((l) => options.onLine?.(l));
          return { code: 1, tail: fail.lines };
        }
        if (step === "venv") {
          const envDir = args[args.length - 1];
          mkdirSync(path.join(envDir, "bin"), { recursive: true });
          writeFileSync(path.join(envDir, "bin", "python"), "");
        }
        if (step === "pip") {
          for (const l of ["Processing ./flyte_ls.whl", "Collecting pygls==2.1.1", "Installing collected packages: pygls, flyte-ls", "Successfully installed"]) {
            options.onLine?.(l);
          }
        }
        return { code: 0, tail: [] };
      };
    }
    const probes =
      (versions: Record<string, [number, number, number]>): RunFile =>
      async (command) => {
        const v = versions[command];
        if (!v) throw new Error(`spawn ${command} ENOENT`);
        return JSON.stringify([v, `/usr/bin/${path.basename(command)}`, false]);
      };
    function ui(reports: [string, number | undefined][] = [], token: CancelToken = cancelToken()): InstallUi {
      return { withProgress: (_title, task) => task((m, i) => reports.push([m, i]), token) };
    }

    it("creates the environment once, with progress and a ready stamp written last, then finds it ready", async () => {
      const calls: string[][] = [];
      const reports: [string, number | undefined][] = [];
      const opts = {
        serverCommand: [],
        interpreter: py311,
        bundledDir: bundled,
        storageRoot: root,
        ui: ui(reports),
        log,
        platform: "linux" as const,
        run: fakeRun(calls),
        runFile: probes({ "/venv/bin/python": [3, 11, 7] }),
      };
      const first = await prepareServer(opts);
      const envDir = path.join(root, envName(realManifest));
      assert.equal(first.plan.kind, "venv-create");
      assert.equal(first.command, path.join(envDir, "bin", "python"));
      assert.deepEqual(first.args, ["-m", "flyte_ls", "serve"]);
      assert.deepEqual(calls[0], ["/venv/bin/python", "-m", "venv", envDir]);
      assert.deepEqual(calls[1], [
        path.join(envDir, "bin", "python"),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "-c",
        path.join(bundled, "constraints.txt"),
        path.join(bundled, manifest.wheel),
      ]);
      assert.equal(calls.length, 3); // venv, pip, the import check
      const stamp = JSON.parse(readFileSync(path.join(envDir, "ready"), "utf8"));
      assert.equal(stamp.sha256, realManifest.sha256);
      assert.ok(existsSync(path.join(envDir, "last-used")));
      assert.ok(!existsSync(`${envDir}.lock`));
      assert.ok(reports.some(([m]) => m === "collecting pygls==2.1.1 (1)"));
      assert.ok(logLines.includes("  Collecting pygls==2.1.1"), "pip's output goes to the log");

      const again = await prepareServer({ ...opts, ui: ui(reports) });
      assert.equal(again.plan.kind, "venv-ready");
      assert.equal(calls.length, 3, "nothing created the second time");
    });

    it("removes a half-made environment and makes it again", async () => {
      const envDir = path.join(root, envName(realManifest));
      mkdirSync(path.join(envDir, "bin"), { recursive: true });
      writeFileSync(path.join(envDir, "leftover"), "x");
      const calls: string[][] = [];
      const result = await prepareServer({
        serverCommand: [],
        interpreter: py311,
        bundledDir: bundled,
        storageRoot: root,
        ui: ui(),
        log,
        platform: "linux",
        run: fakeRun(calls),
        runFile: probes({ "/venv/bin/python": [3, 11, 7] }),
      });
      assert.equal(result.plan.kind, "venv-create");
      assert.ok(!existsSync(path.join(envDir, "leftover")));
      assert.ok(existsSync(path.join(envDir, "ready")));
    });

    it("falls back to a Python on PATH when the interpreter is too old, and says what to do when there is none", async () => {
      const calls: string[][] = [];
      const old: Interpreter = { ...py311, version: [3, 8, 10] };
      const base = {
        serverCommand: [],
        interpreter: old,
        bundledDir: bundled,
        storageRoot: root,
        ui: ui(),
        log,
        platform: "linux" as const,
        run: fakeRun(calls),
      };
      await prepareServer({ ...base, runFile: probes({ python3: [3, 10, 12], "python3.11": [3, 9, 0] }) });
      assert.equal(calls[0][0], "python3");

      rmSync(root, { recursive: true, force: true });
      await assert.rejects(prepareServer({ ...base, runFile: probes({ python3: [3, 9, 2] }) }), (err: Error) => {
        assert.ok(err instanceof InstallError);
        assert.match(err.message, /needs Python 3\.10 or newer.*tried python3\.12, python3\.11, python3\.10, python3.*flyte\.serverCommand/);
        return true;
      });
      assert.ok(!existsSync(path.join(root, envName(realManifest))));
    });

    it("reports pip's last line, removes the environment and the lock when pip fails", async () => {
      const calls: string[][] = [];
      const envDir = path.join(root, envName(realManifest));
      await assert.rejects(
        prepareServer({
          serverCommand: [],
          interpreter: py311,
          bundledDir: bundled,
          storageRoot: root,
          ui: ui(),
          log,
          platform: "linux",
          run: fakeRun(calls, { step: "pip", lines: ["Collecting grpcio", "ERROR: No matching distribution found for grpcio==1.85.3", ""] }),
          runFile: probes({ "/venv/bin/python": [3, 11, 7] }),
        }),
        /failed while installing with pip: ERROR: No matching distribution found for grpcio==1\.85\.3\. See Show Logs; or set flyte\.serverCommand/,
      );
      assert.ok(!existsSync(envDir));
      assert.ok(!existsSync(`${envDir}.lock`));
    });

    it("refuses a bundled wheel whose sha256 differs from the manifest", async () => {
      writeFileSync(path.join(bundled, manifest.wheel), "tampered");
      await assert.rejects(
        prepareServer({ serverCommand: [], interpreter: py311, bundledDir: bundled, storageRoot: root, ui: ui(), log, platform: "linux", run: fakeRun([]) }),
        /is damaged \(its sha256 differs\): reinstall the extension/,
      );
    });

    it("stops and cleans up when the user cancels", async () => {
      const token = cancelToken();
      const run: RunProcess = async (_command, args) => {
        if (args.includes("venv")) mkdirSync(path.join(args[args.length - 1], "bin"), { recursive: true });
        if (args.includes("pip")) {
          token.cancel();
          throw new InstallCancelled();
        }
        return { code: 0, tail: [] };
      };
      await assert.rejects(
        prepareServer({
          serverCommand: [],
          interpreter: py311,
          bundledDir: bundled,
          storageRoot: root,
          ui: ui([], token),
          log,
          platform: "linux",
          run,
          runFile: probes({ "/venv/bin/python": [3, 11, 7] }),
        }),
        InstallCancelled,
      );
      assert.ok(!existsSync(path.join(root, envName(realManifest))));
    });

    it("waits for another window that is creating the same environment", async () => {
      const envDir = path.join(root, envName(realManifest));
      mkdirSync(envDir, { recursive: true });
      writeFileSync(`${envDir}.lock`, "123\n");
      const calls: string[][] = [];
      setTimeout(() => {
        mkdirSync(path.join(envDir, "bin"), { recursive: true });
        writeFileSync(path.join(envDir, "bin", "python"), "");
        writeFileSync(path.join(envDir, "ready"), "{}");
      }, 200);
      const reports: [string, number | undefined][] = [];
      const result = await prepareServer({
        serverCommand: [],
        interpreter: py311,
        bundledDir: bundled,
        storageRoot: root,
        ui: ui(reports),
        log,
        platform: "linux",
        run: fakeRun(calls),
      });
      assert.equal(result.command, path.join(envDir, "bin", "python"));
      assert.equal(calls.length, 0, "the other window made it");
      assert.match(reports[0][0], /another window is installing it/);
    });

    it("takes over a lock whose installer died", async () => {
      const envDir = path.join(root, envName(realManifest));
      mkdirSync(root, { recursive: true });
      writeFileSync(`${envDir}.lock`, "123\n");
      const old = new Date(Date.now() - 2 * 3600 * 1000);
      utimesSync(`${envDir}.lock`, old, old);
      const calls: string[][] = [];
      await prepareServer({
        serverCommand: [],
        interpreter: py311,
        bundledDir: bundled,
        storageRoot: root,
        ui: ui(),
        log,
        platform: "linux",
        run: fakeRun(calls),
        runFile: probes({ "/venv/bin/python": [3, 11, 7] }),
      });
      assert.equal(calls.length, 3);
      assert.ok(existsSync(path.join(envDir, "ready")));
    });

    it("removes old environments when starting from the ready one, and runs the user's command without touching storage", async () => {
      const envDir = path.join(root, envName(realManifest));
      const oldDir = path.join(root, "0.0.1-aaaaaaaaaaaa");
      for (const d of [envDir, oldDir]) {
        mkdirSync(path.join(d, "bin"), { recursive: true });
        writeFileSync(path.join(d, "bin", "python"), "");
        writeFileSync(path.join(d, "ready"), "{}");
      }
      const scanned = await scanStorage(root, "linux");
      assert.deepEqual(
        scanned.envs.map((e) => [e.name, e.ready, e.locked, e.lastUsed]).sort(),
        [
          ["0.0.1-aaaaaaaaaaaa", true, false, undefined],
          [envName(realManifest), true, false, undefined],
        ],
      );
      const base = { interpreter: py311, bundledDir: bundled, storageRoot: root, ui: ui(), log, platform: "linux" as const, run: fakeRun([]) };
      const user = await prepareServer({ ...base, serverCommand: ["/opt/flyte-ls", "serve"] });
      assert.deepEqual([user.command, user.args], ["/opt/flyte-ls", ["serve"]]);
      assert.ok(existsSync(oldDir));
      const result = await prepareServer({ ...base, serverCommand: [] });
      assert.equal(result.plan.kind, "venv-ready");
      assert.ok(!existsSync(oldDir));
      assert.ok(existsSync(path.join(envDir, "last-used")));
    });

    it("says flyte.serverCommand is needed when the build has no bundled server", async () => {
      rmSync(path.join(bundled, "manifest.json"));
      await assert.rejects(
        prepareServer({ serverCommand: [], interpreter: py311, bundledDir: bundled, storageRoot: root, ui: ui(), log, platform: "linux" }),
        /no bundled server.*set flyte\.serverCommand/,
      );
    });
  });

  it("envPython follows the platform's layout", () => {
    assert.equal(envPython("/a/env", "darwin"), "/a/env/bin/python");
    assert.equal(envPython("C:\\a\\env", "win32"), "C:\\a\\env\\Scripts\\python.exe");
  });
});

function cancelToken(): CancelToken & { cancel(): void } {
  const listeners: (() => unknown)[] = [];
  const token = {
    isCancellationRequested: false,
    onCancellationRequested: (l: () => unknown) => {
      listeners.push(l);
      return { dispose: () => listeners.splice(listeners.indexOf(l), 1) };
    },
    cancel: () => {
      token.isCancellationRequested = true;
      [...listeners].forEach((l) => l());
    },
  };
  return token;
}
