import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import type { DisposableLike } from "../../src/host";
import {
  expandPath,
  findInterpreter,
  interpreterWarning,
  probeInterpreter,
  resolveInterpreter,
  runFile,
  vscodeInterpreterSources,
  warnAboutInterpreter,
  watchInterpreter,
  withDeadline,
  type Interpreter,
  type InterpreterSources,
  type PythonEnvsApi,
  type PythonExtApi,
  type RunFile,
} from "../../src/interpreter";
import { resetMock } from "../mock";

function sources(over: Partial<InterpreterSources> = {}): InterpreterSources {
  return {
    setting: () => null,
    workspaceFolder: () => "/ws",
    scope: () => "scope",
    envsApi: async () => undefined,
    pythonApi: async () => undefined,
    ...over,
  };
}

function event(): { on: (l: (e: unknown) => unknown) => DisposableLike; fire: () => void; count: () => number } {
  let listeners: ((e: unknown) => unknown)[] = [];
  return {
    on: (l) => {
      listeners.push(l);
      return { dispose: () => (listeners = listeners.filter((x) => x !== l)) };
    },
    fire: () => listeners.forEach((l) => l({})),
    count: () => listeners.length,
  };
}

function pythonApi(active: string, resolved: string | undefined, changed = event()): PythonExtApi {
  return {
    environments: {
      getActiveEnvironmentPath: () => ({ path: active }),
      resolveEnvironment: async () => (resolved ? { executable: { uri: { fsPath: resolved } } } : undefined),
      onDidChangeActiveEnvironmentPath: changed.on,
    },
  };
}

const probeOk =
  (version = [3, 11, 7], flytekit = true): RunFile =>
  async (command) =>
    JSON.stringify([version, `/resolved${command}`, flytekit]) + "\n";

describe("interpreter", () => {
  beforeEach(() => resetMock());

  describe("expandPath", () => {
    it("expands ${workspaceFolder}, ${userHome} and a leading ~", () => {
      assert.equal(expandPath("${workspaceFolder}/.venv/bin/python", "/ws", "/home/u"), "/ws/.venv/bin/python");
      assert.equal(expandPath("~/venv/bin/python", "/ws", "/home/u"), "/home/u/venv/bin/python");
      assert.equal(expandPath("${userHome}/py", undefined, "/home/u"), "/home/u/py");
      assert.equal(expandPath(" ~ ", undefined, "/home/u"), "/home/u");
      assert.equal(expandPath("~\\venv\\python.exe", undefined, "C:\\Users\\u"), "C:\\Users\\u\\venv\\python.exe");
    });

    it("leaves ${workspaceFolder} when there is no folder, and ~ inside a path", () => {
      assert.equal(expandPath("${workspaceFolder}/py", undefined, "/h"), "${workspaceFolder}/py");
      assert.equal(expandPath("/opt/~x/python", "/ws", "/h"), "/opt/~x/python");
    });
  });

  describe("findInterpreter", () => {
    it("takes flyte.interpreter first, expanded", async () => {
      const found = await findInterpreter(
        sources({ setting: () => "${workspaceFolder}/.venv/bin/python", pythonApi: async () => pythonApi("/p", "/p") }),
      );
      assert.deepEqual(found, { path: "/ws/.venv/bin/python", source: "setting" });
    });

    it("asks the Python Environments extension for the scope's environment before the Python extension", async () => {
      const scopes: unknown[] = [];
      const envs: PythonEnvsApi = {
        getEnvironment: async (scope) => {
          scopes.push(scope);
          return { execInfo: { run: { executable: "/envs/bin/python" } } };
        },
      };
      const found = await findInterpreter(sources({ setting: () => "  ", envsApi: async () => envs, pythonApi: async () => pythonApi("/p", "/p") }));
      assert.deepEqual(found, { path: "/envs/bin/python", source: "python-envs" });
      assert.deepEqual(scopes, ["scope"]);
    });

    it("falls back to the Python extension when the environments extension has no environment or fails", async () => {
      const none: PythonEnvsApi = { getEnvironment: async () => undefined };
      assert.deepEqual(await findInterpreter(sources({ envsApi: async () => none, pythonApi: async () => pythonApi("/a", "/a/bin/python") })), {
        path: "/a/bin/python",
        source: "python",
      });
      const warnings: string[] = [];
      const log = { info: () => undefined, warn: (m: string) => warnings.push(m), error: () => undefined };
      const broken = async (): Promise<PythonEnvsApi> => {
        throw new Error("boom");
      };
      assert.deepEqual(await findInterpreter(sources({ envsApi: broken, pythonApi: async () => pythonApi("/b", undefined) }), log), {
        path: "/b",
        source: "python",
      });
      assert.match(warnings[0], /Python Environments extension did not answer: Error: boom/);
    });

    it("gives up on an extension that does not answer within the deadline", async () => {
      const hanging: PythonEnvsApi = { getEnvironment: () => new Promise(() => undefined) };
      const started = Date.now();
      const found = await findInterpreter(sources({ envsApi: async () => hanging }), undefined, 50);
      assert.deepEqual(found, { path: undefined, source: "none" });
      assert.ok(Date.now() - started < 2000);
    });

    it("says none when nothing is configured", async () => {
      assert.deepEqual(await findInterpreter(sources()), { path: undefined, source: "none" });
    });
  });

  describe("probing", () => {
    it("reads version, sys.executable and flytekit from the interpreter's answer", async () => {
      const calls: string[][] = [];
      const run: RunFile = async (command, args) => {
        calls.push([command, ...args]);
        return 'noise from sitecustomize\n[[3, 12, 1], "/usr/bin/python3.12", false]\n';
      };
      assert.deepEqual(await probeInterpreter("python3", run, 1000, ["-X", "utf8"]), {
        version: [3, 12, 1],
        executable: "/usr/bin/python3.12",
        hasFlytekit: false,
      });
      assert.deepEqual(calls[0].slice(0, 4), ["python3", "-X", "utf8", "-c"]);
      assert.match(calls[0][4], /find_spec\('flytekit'\)/);
    });

    it("rejects an answer it cannot read", async () => {
      await assert.rejects(probeInterpreter("py", async () => "Python 2.7\n"), /unexpected answer "Python 2.7"/);
      await assert.rejects(probeInterpreter("py", async () => "[1, 2]\n"), /unexpected answer/);
    });

    it("resolves to sys.executable, or keeps the path with the problem when it does not run", async () => {
      const ok = await resolveInterpreter(sources({ setting: () => "/x/python" }), probeOk([3, 11, 7], true));
      assert.deepEqual(ok, { path: "/resolved/x/python", version: [3, 11, 7], hasFlytekit: true, source: "setting" });
      const bad = await resolveInterpreter(sources({ setting: () => "/x/python" }), async () => {
        throw new Error("spawn /x/python ENOENT");
      });
      assert.deepEqual(bad, { path: "/x/python", version: undefined, hasFlytekit: false, source: "setting", problem: "spawn /x/python ENOENT" });
      const none = await resolveInterpreter(sources(), probeOk());
      assert.deepEqual(none, { path: undefined, version: undefined, hasFlytekit: false, source: "none" });
    });

    it("runs a real process with a deadline and reports its stderr when it fails", async () => {
      assert.equal(await runFile(process.execPath, ["-e", "console.log('hi')"], 5000), "hi\n");
      await assert.rejects(runFile(process.execPath, ["-e", "console.error('bad thing'); process.exit(3)"], 5000), /bad thing/);
      const started = Date.now();
      await assert.rejects(runFile(process.execPath, ["-e", "setTimeout(() => {}, 20000)"], 300), /no answer within 0.3 s/);
      assert.ok(Date.now() - started < 5000);
      await assert.rejects(runFile("/nonexistent/python", ["-c", "1"], 1000), /ENOENT/);
    });
  });

  describe("warnings", () => {
    const base: Interpreter = { path: "/v/bin/python", version: [3, 11, 0], hasFlytekit: true, source: "python" };

    it("has none for a usable interpreter with flytekit", () => {
      assert.equal(interpreterWarning(base), undefined);
    });

    it("names the remedy for no interpreter, one that does not run, and one without flytekit", () => {
      assert.match(interpreterWarning({ ...base, path: undefined, source: "none" })!.message, /no Python interpreter found.*flyte\.interpreter/);
      assert.match(interpreterWarning({ ...base, problem: "ENOENT" })!.message, /\/v\/bin\/python did not run \(ENOENT\)/);
      const noFlytekit = interpreterWarning({ ...base, hasFlytekit: false })!;
      assert.match(noFlytekit.message, /flytekit is not installed in \/v\/bin\/python.*-m pip install flytekit/);
      assert.deepEqual(noFlytekit.actions, ["Select Interpreter", "Open Settings"]);
    });

    it("runs the remedy the user picks", async () => {
      const commands: unknown[][] = [];
      const ui = (choice: string | undefined) => ({
        showWarningMessage: async () => choice,
        executeCommand: async (...args: unknown[]) => commands.push(args),
      });
      const none: Interpreter = { path: undefined, version: undefined, hasFlytekit: false, source: "none" };
      await warnAboutInterpreter(ui("Select Interpreter"), none);
      await warnAboutInterpreter(ui("Open Settings"), none);
      await warnAboutInterpreter(ui(undefined), none);
      await warnAboutInterpreter(ui("Select Interpreter"), base); // nothing to warn about
      assert.deepEqual(commands, [["python.setInterpreter"], ["workbench.action.openSettings", "flyte.interpreter"]]);
    });
  });

  it("watches both extensions until disposed", async () => {
    const envsChanged = event();
    const pythonChanged = event();
    let calls = 0;
    const envs: PythonEnvsApi = { getEnvironment: async () => undefined, onDidChangeEnvironment: envsChanged.on };
    const sub = await watchInterpreter(
      sources({ envsApi: async () => envs, pythonApi: async () => pythonApi("/p", "/p", pythonChanged) }),
      () => calls++,
    );
    envsChanged.fire();
    pythonChanged.fire();
    assert.equal(calls, 2);
    sub.dispose();
    envsChanged.fire();
    pythonChanged.fire();
    assert.equal(calls, 2);
    assert.equal(envsChanged.count() + pythonChanged.count(), 0);
  });

  it("withDeadline answers the fallback for a rejected or slow promise", async () => {
    assert.equal(await withDeadline(Promise.resolve(1), 1000, 0), 1);
    assert.equal(await withDeadline(Promise.reject(new Error("x")), 1000, 0), 0);
    assert.equal(await withDeadline(new Promise<number>(() => undefined), 20, 0), 0);
  });

  describe("vscodeInterpreterSources", () => {
    it("reads flyte.interpreter and the first workspace folder", () => {
      const m = resetMock();
      m.settings.set("flyte.interpreter", "~/py");
      m.workspace.workspaceFolders = [{ uri: vscode.Uri.file("/ws"), name: "ws", index: 0 }];
      const src = vscodeInterpreterSources();
      assert.equal(src.setting(), "~/py");
      assert.equal(src.workspaceFolder(), "/ws");
      assert.equal((src.scope() as vscode.Uri).fsPath, "/ws");
    });

    it("activates the extensions and uses their exports only when they look like the API", async () => {
      const m = resetMock();
      const envs: PythonEnvsApi = { getEnvironment: async () => ({ execInfo: { run: { executable: "/e/python" } } }) };
      let activated = 0;
      m.extensions.getExtension = (id: string) => {
        if (id === "ms-python.vscode-python-envs") {
          return {
            isActive: false,
            exports: undefined,
            activate: async () => {
              activated++;
              return envs;
            },
          };
        }
        if (id === "ms-python.python") return { isActive: true, exports: { somethingElse: true } };
        return undefined;
      };
      const src = vscodeInterpreterSources();
      assert.equal(await src.envsApi(), envs);
      assert.equal(activated, 1);
      assert.equal(await src.pythonApi(), undefined);
      assert.deepEqual(await findInterpreter(src), { path: "/e/python", source: "python-envs" });
    });
  });
});
