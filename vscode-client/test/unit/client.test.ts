import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import type { LanguageClientOptions, ServerOptions } from "vscode-languageclient/node";
import {
  fillConfiguration,
  initializationOptions,
  RUNNING_CONTEXT_KEY,
  ServerClient,
  serverSettings,
  stderrLevel,
  type ClientUi,
  type LanguageClientLike,
  type ServerClientOptions,
} from "../../src/client";
import type { DisposableLike } from "../../src/host";
import type { InputUi, Memento } from "../../src/inputs";
import type { Interpreter, InterpreterSources } from "../../src/interpreter";
import { InstallCancelled, InstallError, type Prepared } from "../../src/serverInstall";
import { resetMock } from "../mock";

type Handler = (params: unknown) => void;

class FakeClient implements LanguageClientLike {
  running = false;
  stopped = false;
  requests: { method: string; params: unknown }[] = [];
  answer: (method: string, params: unknown) => unknown = () => null;
  failStart: Error | undefined;
  hangStart = false;
  private notifications = new Map<string, Set<Handler>>();
  private stateListeners = new Set<(e: { oldState: number; newState: number }) => unknown>();

  constructor(
    readonly serverOptions: ServerOptions,
    readonly clientOptions: LanguageClientOptions,
  ) {}

  async start(): Promise<void> {
    if (this.hangStart) return new Promise(() => undefined);
    if (this.failStart) throw this.failStart;
    this.running = true;
    this.stateListeners.forEach((l) => l({ oldState: 3, newState: 2 }));
  }
  async stop(): Promise<void> {
    this.running = false;
    this.stopped = true;
    this.stateListeners.forEach((l) => l({ oldState: 2, newState: 1 }));
  }
  isRunning(): boolean {
    return this.running;
  }
  async sendRequest<R>(method: string, params: unknown): Promise<R> {
    this.requests.push({ method, params });
    return (await this.answer(method, params)) as R;
  }
  onNotification(method: string, handler: Handler): DisposableLike {
    if (!this.notifications.has(method)) this.notifications.set(method, new Set());
    this.notifications.get(method)!.add(handler);
    return { dispose: () => this.notifications.get(method)!.delete(handler) };
  }
  onDidChangeState(listener: (e: { oldState: number; newState: number }) => unknown): DisposableLike {
    this.stateListeners.add(listener);
    return { dispose: () => this.stateListeners.delete(listener) };
  }
  emit(method: string, params: unknown): void {
    this.notifications.get(method)?.forEach((h) => h(params));
  }
  crash(): void {
    this.running = false;
    this.stateListeners.forEach((l) => l({ oldState: 2, newState: 1 }));
  }
}

class FakeUi implements ClientUi {
  errors: { message: string; items: string[] }[] = [];
  warnings: { message: string; items: string[] }[] = [];
  commands: unknown[][] = [];
  errorChoice: string | undefined;
  async showErrorMessage(message: string, ...items: string[]): Promise<string | undefined> {
    this.errors.push({ message, items });
    const choice = this.errorChoice;
    this.errorChoice = undefined;
    return choice;
  }
  async showWarningMessage(message: string, ...items: string[]): Promise<string | undefined> {
    this.warnings.push({ message, items });
    return undefined;
  }
  async executeCommand(command: string, ...args: unknown[]): Promise<unknown> {
    this.commands.push([command, ...args]);
    return undefined;
  }
  saved: string[] = [];
  saveFails = false;
  async saveDocument(uri: string): Promise<boolean> {
    this.saved.push(uri);
    return !this.saveFails;
  }
  withProgress<T>(): PromiseLike<T> {
    throw new Error("not used: prepare is faked");
  }
  context(): boolean[] {
    return this.commands.filter((c) => c[0] === "setContext" && c[1] === RUNNING_CONTEXT_KEY).map((c) => c[2] as boolean);
  }
}

function memento(): Memento & { data: Map<string, unknown> } {
  const data = new Map<string, unknown>();
  return { data, get: <T>(key: string) => data.get(key) as T | undefined, update: async (key: string, value: unknown) => void data.set(key, value) };
}

function channel() {
  const lines: string[] = [];
  let shown = 0;
  return {
    lines,
    shown: () => shown,
    info: (m: string) => lines.push(`info ${m}`),
    warn: (m: string) => lines.push(`warn ${m}`),
    error: (m: string) => lines.push(`error ${String(m)}`),
    show: () => void shown++,
  };
}

const interp: Interpreter = { path: "/venv/bin/python", version: [3, 11, 7], hasFlytekit: true, source: "python" };
const prepared: Prepared = { command: "/gs/server/0.1.0-abc/bin/python", args: ["-m", "flyte_ls", "serve"], plan: { kind: "venv-ready", command: "", args: [], envDir: "", remove: [] } };

interface Setup {
  host: ServerClient;
  clients: FakeClient[];
  ui: FakeUi;
  log: ReturnType<typeof channel>;
  memory: ReturnType<typeof memento>;
  interpreters: Interpreter[];
  prepares: Interpreter[];
  fireInterpreterChange: () => void;
}

function setup(over: Partial<ServerClientOptions> & { interpreter?: () => Interpreter; setting?: () => string | null; section?: unknown } = {}): Setup {
  const clients: FakeClient[] = [];
  const ui = new FakeUi();
  const log = channel();
  const memory = memento();
  const interpreters: Interpreter[] = [];
  const prepares: Interpreter[] = [];
  let changed: (() => unknown) | undefined;
  const sources: InterpreterSources = {
    setting: over.setting ?? (() => null),
    workspaceFolder: () => "/ws",
    scope: () => undefined,
    envsApi: async () => undefined,
    pythonApi: async () => ({
      environments: {
        getActiveEnvironmentPath: () => ({ path: "/p" }),
        resolveEnvironment: async () => undefined,
        onDidChangeActiveEnvironmentPath: (l: (e: unknown) => unknown) => {
          changed = () => l({});
          return { dispose: () => (changed = undefined) };
        },
      },
    }),
  };
  const host = new ServerClient({
    channel: log as unknown as vscode.LogOutputChannel,
    memory,
    bundledDir: "/ext/bundled",
    storageRoot: "/gs/server",
    ui,
    sources,
    resolve: async () => {
      const i = over.interpreter ? over.interpreter() : interp;
      interpreters.push(i);
      return i;
    },
    prepare: async (i) => {
      prepares.push(i);
      return prepared;
    },
    createClient: (serverOptions, clientOptions) => {
      const c = new FakeClient(serverOptions, clientOptions);
      clients.push(c);
      return c;
    },
    settings: () => ({ section: over.section ?? { endpoint: "localhost:30080", interpreter: "x", serverCommand: [], trace: { server: "off" } }, serverCommand: [], workspaceFolder: "/ws" }),
    ...over,
  });
  return { host, clients, ui, log, memory, interpreters, prepares, fireInterpreterChange: () => changed?.() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("client", () => {
  let configListeners: ((e: { affectsConfiguration(key: string): boolean }) => unknown)[];

  beforeEach(() => {
    const m = resetMock();
    configListeners = [];
    (m.workspace.onDidChangeConfiguration as unknown as { impl: unknown }).impl = (l: (typeof configListeners)[number]) => {
      configListeners.push(l);
      return { dispose: () => configListeners.splice(configListeners.indexOf(l), 1) };
    };
    m.workspace.getWorkspaceFolder = () => undefined;
  });

  describe("settings for the server", () => {
    it("fills pythonPath from the interpreter when flyte.pythonPath is not set, and leaves the client's own settings out", () => {
      assert.deepEqual(serverSettings({ endpoint: "e", interpreter: "/i", serverCommand: ["x"], trace: { server: "verbose" } }, "/venv/python"), {
        endpoint: "e",
        pythonPath: "/venv/python",
      });
      assert.deepEqual(serverSettings({ pythonPath: "/mine/python" }, "/venv/python"), { pythonPath: "/mine/python" });
      assert.deepEqual(serverSettings({ pythonPath: "" }, "/venv/python"), { pythonPath: "/venv/python" });
      assert.deepEqual(serverSettings(undefined, undefined), {});
    });

    it("sends the section under flyte and the editor's interpreter at the top level", () => {
      assert.deepEqual(initializationOptions({ pythonPath: "/mine" }, "/venv/python"), { flyte: { pythonPath: "/mine" }, pythonPath: "/venv/python" });
      assert.deepEqual(initializationOptions({}, undefined), { flyte: {} });
    });

    it("fills workspace/configuration answers for the flyte section and the whole configuration only", () => {
      const items = [{ section: "flyte" }, { section: null }, { section: "python" }];
      const results = [{ project: "p" }, { flyte: { domain: "d" }, other: 1 }, { x: 1 }];
      assert.deepEqual(fillConfiguration(items, results, "/py"), [
        { project: "p", pythonPath: "/py" },
        { flyte: { domain: "d", pythonPath: "/py" }, other: 1 },
        { x: 1 },
      ]);
    });

    it("maps the server's stderr lines to log levels", () => {
      assert.equal(stderrLevel("2026-01-02 10:00:00,123 WARNING flyte_ls.server: slow"), "warn");
      assert.equal(stderrLevel("2026-01-02 10:00:00,123 INFO flyte_ls.server: hi"), "info");
      assert.equal(stderrLevel("2026-01-02 10:00:00,123 ERROR pygls: boom"), "error");
      assert.equal(stderrLevel("Traceback (most recent call last):"), "error");
    });
  });

  it("starts the server from the prepared command with the interpreter in its settings, and says it runs", async () => {
    const { host, clients, ui, interpreters, prepares } = setup();
    const states: boolean[] = [];
    host.onDidChangeState((running) => states.push(running));
    await host.start();
    assert.equal(clients.length, 1);
    const options = clients[0].serverOptions as { command: string; args: string[]; options: { cwd: string } };
    assert.equal(options.command, "/gs/server/0.1.0-abc/bin/python");
    assert.deepEqual(options.args, ["-m", "flyte_ls", "serve"]);
    assert.equal(options.options.cwd, "/ws");
    const init = (clients[0].clientOptions.initializationOptions as () => unknown)();
    assert.deepEqual(init, { flyte: { endpoint: "localhost:30080", pythonPath: "/venv/bin/python" }, pythonPath: "/venv/bin/python" });
    assert.deepEqual(clients[0].clientOptions.documentSelector, [
      { scheme: "file", language: "python" },
      { scheme: "untitled", language: "python" },
      { notebook: "jupyter-notebook", language: "python" }, // cells: features, not text sync (test/unit/notebooks.test.ts)
    ]);
    assert.deepEqual(interpreters, [interp]);
    assert.deepEqual(prepares, [interp]);
    assert.ok(host.isRunning());
    assert.deepEqual(states, [true]);
    assert.deepEqual(ui.context(), [true]);
    await host.dispose();
    assert.deepEqual(states, [true, false]);
    assert.deepEqual(ui.context(), [true, false]);
    assert.ok(clients[0].stopped);
  });

  it("answers workspace/configuration with pythonPath filled", async () => {
    const { host, clients } = setup();
    await host.start();
    const middleware = clients[0].clientOptions.middleware!.workspace!.configuration!;
    const next = async () => [{ endpoint: "e", interpreter: "/x" }];
    const token = new vscode.CancellationTokenSource().token;
    const result = await middleware({ items: [{ section: "flyte" }] }, token as never, next as never);
    assert.deepEqual(result, [{ endpoint: "e", pythonPath: "/venv/bin/python" }]);
    await host.dispose();
  });

  it("sends requests and commands to the running server, and refuses with what to do when it is not running", async () => {
    const { host, clients } = setup();
    await assert.rejects(host.sendRequest("flyte/executions", {}), /not running: run Flyte: Restart Server/);
    await host.start();
    clients[0].answer = (method) => (method === "flyte/executions" ? [] : { ok: true });
    assert.deepEqual(await host.sendRequest("flyte/executions", {}), []);
    assert.deepEqual(await host.sendCommand("flyte.terminate", { execution: "ex:p:d:n" }), { ok: true });
    assert.deepEqual(clients[0].requests[1], { method: "workspace/executeCommand", params: { command: "flyte.terminate", arguments: [{ execution: "ex:p:d:n" }] } });
    clients[0].crash();
    assert.equal(host.isRunning(), false);
    await assert.rejects(host.sendCommand("flyte.terminate", {}), /not running/);
    await host.dispose();
  });

  describe("server commands run by VS Code (code lenses)", () => {
    it("go through the prompts: a lens whose entity lacks inputs asks for them and sends again", async () => {
      const inputUi: InputUi = {
        showInputBox: async (options) => {
          assert.equal(await options.validateInput?.("x"), await options.validateInput?.("x")); // validation exists
          return "3";
        },
        showQuickPick: async () => undefined,
        showOpenDialog: async () => undefined,
      };
      const { host, clients, ui } = setup({ inputUi });
      await host.start();
      let sends = 0;
      clients[0].answer = (_method, params) => {
        const arg = (params as { arguments: Record<string, unknown>[] }).arguments[0];
        if (sends++ === 0) {
          throw Object.assign(new Error("missing required inputs: n (int)"), {
            code: -32602,
            data: { missingInputs: [{ name: "n", type: "int", typeInfo: { kind: "int" } }] },
          });
        }
        return { execution: { project: "p", domain: "d", name: "abc" }, consoleUrl: null, version: "v1", got: arg };
      };
      const middleware = clients[0].clientOptions.middleware!.executeCommand!;
      const next = async () => assert.fail("next is not used for one object argument");
      const result = (await middleware("flyte.execute", [{ uri: "file:///ws/wf.py", entity: "wf" }], next)) as { got: unknown };
      assert.deepEqual(result.got, { uri: "file:///ws/wf.py", entity: "wf", inputs: { n: 3 } });
      assert.equal(ui.errors.length, 0);
      await host.dispose();
    });

    it("show a failure with the server's message and Show Logs, and open the logs when asked", async () => {
      const { host, clients, ui, log } = setup();
      await host.start();
      clients[0].answer = () => {
        throw Object.assign(new Error("The backend at localhost:30080 does not answer: start it (Flyte: Start Local Backend)."), { code: -32803 });
      };
      ui.errorChoice = "Show Logs";
      const middleware = clients[0].clientOptions.middleware!.executeCommand!;
      assert.equal(await middleware("flyte.register", [{ uri: "file:///a.py", entity: "t" }], async () => undefined), undefined);
      assert.deepEqual(ui.errors, [{ message: "The backend at localhost:30080 does not answer: start it (Flyte: Start Local Backend).", items: ["Show Logs"] }]);
      await sleep(0);
      assert.equal(log.shown(), 1);
      await host.dispose();
    });

    it("save the entity's open document before a command that imports it, and stop when it cannot be saved", async () => {
      const { host, clients, ui } = setup();
      await host.start();
      const sent: string[] = [];
      clients[0].answer = (_method, params) => {
        sent.push((params as { command: string }).command);
        return { version: "v1" };
      };
      const middleware = clients[0].clientOptions.middleware!.executeCommand!;
      await middleware("flyte.register", [{ uri: "file:///ws/wf.py", entity: "wf" }], async () => undefined);
      await middleware("flyte.terminate", [{ execution: "ex:p:d:n" }], async () => undefined);
      assert.deepEqual(ui.saved, ["file:///ws/wf.py"]);
      assert.deepEqual(sent, ["flyte.register", "flyte.terminate"]);
      ui.saveFails = true;
      assert.equal(await middleware("flyte.execute", [{ uri: "file:///ws/wf.py", entity: "wf" }], async () => undefined), undefined);
      assert.deepEqual(sent, ["flyte.register", "flyte.terminate"], "nothing is sent when the file could not be saved");
      assert.match(ui.errors.at(-1)!.message, /could not be saved/);
      await host.dispose();
    });

    it("save nothing for a lens of a notebook's entity: the server runs the cells as the editor has them", async () => {
      const { host, clients, ui } = setup();
      await host.start();
      const sent: unknown[] = [];
      clients[0].answer = (_method, params) => {
        sent.push((params as { arguments: unknown[] }).arguments[0]);
        return { version: "v1" };
      };
      ui.saveFails = true;
      const middleware = clients[0].clientOptions.middleware!.executeCommand!;
      await middleware("flyte.register", [{ uri: "file:///ws/flows.ipynb", entity: "add" }], async () => undefined);
      await middleware("flyte.register", [{ uri: "vscode-notebook-cell:/ws/flows.ipynb#W2sZmlsZQ%3D%3D", entity: "add" }], async () => undefined);
      assert.deepEqual(ui.saved, []);
      assert.equal(sent.length, 2);
      assert.equal(ui.errors.length, 0);
      await host.dispose();
    });

    it("say nothing when the request was cancelled, and pass other argument shapes through", async () => {
      const { host, clients, ui } = setup();
      await host.start();
      clients[0].answer = () => {
        throw Object.assign(new Error("cancelled"), { code: -32800 });
      };
      const middleware = clients[0].clientOptions.middleware!.executeCommand!;
      assert.equal(await middleware("flyte.register", [{ uri: "u" }], async () => undefined), undefined);
      assert.equal(ui.errors.length, 0);
      const passed: unknown[][] = [];
      const next = async (command: string, args: unknown[]) => passed.push([command, ...args]);
      await middleware("flyte.entity.info", ["a", "b"], next);
      assert.deepEqual(passed, [["flyte.entity.info", "a", "b"]]);
      await host.dispose();
    });
  });

  it("keeps notification handlers across restarts and attaches late ones", async () => {
    const { host, clients } = setup();
    const early: unknown[] = [];
    const late: unknown[] = [];
    host.onNotification("flyte/executionChanged", (p) => early.push(p));
    await host.start();
    clients[0].emit("flyte/executionChanged", 1);
    const sub = host.onNotification("flyte/executionChanged", (p) => late.push(p));
    clients[0].emit("flyte/executionChanged", 2);
    await host.restart("test");
    assert.equal(clients.length, 2);
    assert.ok(clients[0].stopped);
    clients[0].emit("flyte/executionChanged", "old client"); // ignored: its subscription was dropped
    clients[1].emit("flyte/executionChanged", 3);
    sub.dispose();
    clients[1].emit("flyte/executionChanged", 4);
    assert.deepEqual(early, [1, 2, 3, 4]);
    assert.deepEqual(late, [2, 3]);
    await host.dispose();
  });

  it("reports state changes on restart and on a crash", async () => {
    const { host, clients, ui } = setup();
    const states: boolean[] = [];
    host.onDidChangeState((running) => states.push(running));
    await host.start();
    await host.restart();
    clients[1].crash();
    assert.deepEqual(states, [true, false, true, false]);
    assert.deepEqual(ui.context(), [true, false, true, false]);
    await host.dispose();
  });

  it("restarts when flyte.serverCommand or flyte.interpreter changes, not for other settings", async () => {
    const { host, clients } = setup();
    await host.start();
    await sleep(0); // the watches are set up
    const fire = (key: string) => configListeners.forEach((l) => l({ affectsConfiguration: (k: string) => k === key || key.startsWith(`${k}.`) }));
    fire("flyte.endpoint");
    fire("python.defaultInterpreterPath");
    await sleep(10);
    assert.equal(clients.length, 1);
    fire("flyte.serverCommand");
    await sleep(10);
    assert.equal(clients.length, 2);
    fire("flyte.interpreter");
    await sleep(10);
    assert.equal(clients.length, 3);
    assert.ok(host.isRunning());
    await host.dispose();
    assert.equal(configListeners.length, 0, "the watch is disposed");
  });

  it("restarts once when the selected interpreter changes to another one, not when it stays", async function () {
    this.timeout(5000);
    let path = "/venv/bin/python";
    const { host, clients, fireInterpreterChange } = setup({ interpreter: () => ({ ...interp, path }) });
    await host.start();
    await sleep(10);
    fireInterpreterChange();
    fireInterpreterChange();
    await sleep(700);
    assert.equal(clients.length, 1, "same interpreter: no restart");
    path = "/other/bin/python";
    fireInterpreterChange();
    fireInterpreterChange();
    await sleep(700);
    assert.equal(clients.length, 2);
    const init = (clients[1].clientOptions.initializationOptions as () => { pythonPath: string })();
    assert.equal(init.pythonPath, "/other/bin/python");
    await host.dispose();
  });

  it("ignores the Python extension's selection while flyte.interpreter is set", async function () {
    this.timeout(5000);
    let path = "/a/python";
    const { host, clients, fireInterpreterChange } = setup({ interpreter: () => ({ ...interp, path }), setting: () => "/a/python" });
    await host.start();
    await sleep(10);
    path = "/b/python";
    fireInterpreterChange();
    await sleep(700);
    assert.equal(clients.length, 1);
    await host.dispose();
  });

  it("warns once about an interpreter without flytekit, and still starts the server", async () => {
    const { host, clients, ui } = setup({ interpreter: () => ({ ...interp, hasFlytekit: false }) });
    await host.start();
    await host.restart();
    assert.equal(clients.length, 2);
    assert.equal(ui.warnings.length, 1);
    assert.match(ui.warnings[0].message, /flytekit is not installed in \/venv\/bin\/python/);
    assert.deepEqual(ui.warnings[0].items, ["Select Interpreter", "Open Settings"]);
    await host.dispose();
  });

  it("shows an install failure with Retry, Show Logs and Open Settings; Retry tries again", async () => {
    let attempts = 0;
    const { host, clients, ui } = setup({
      prepare: async () => {
        if (attempts++ === 0) throw new InstallError("flyte-ls needs Python 3.10 or newer to install its server");
        return prepared;
      },
    });
    ui.errorChoice = "Retry";
    await host.start();
    assert.equal(clients.length, 0);
    assert.deepEqual(ui.errors[0], { message: "Flyte: flyte-ls needs Python 3.10 or newer to install its server", items: ["Retry", "Show Logs", "Open Settings"] });
    await sleep(10); // the queued retry
    assert.equal(attempts, 2);
    assert.equal(clients.length, 1);
    assert.ok(host.isRunning());
    await host.dispose();
  });

  it("opens flyte.serverCommand from an install failure, and only offers Retry after a cancelled install", async () => {
    let cancelled = true;
    const { host, ui } = setup({
      prepare: async () => {
        throw cancelled ? new InstallCancelled() : new InstallError("boom");
      },
    });
    await host.start();
    assert.deepEqual(ui.warnings[0].items, ["Retry"]);
    cancelled = false;
    ui.errorChoice = "Open Settings";
    await host.restart();
    await sleep(0);
    assert.deepEqual(ui.commands.filter((c) => c[0] === "workbench.action.openSettings"), [["workbench.action.openSettings", "flyte.serverCommand"]]);
    await host.dispose();
  });

  it("says the server did not start, with the reason, and is not running", async () => {
    const made: FakeClient[] = [];
    const { host, ui } = setup({
      createClient: (s, c) => {
        const client = new FakeClient(s, c);
        client.failStart = new Error("Launching server using command /nope failed.");
        made.push(client);
        return client;
      },
    });
    await host.start();
    assert.equal(host.isRunning(), false);
    assert.match(ui.errors[0].message, /did not start: Launching server using command \/nope failed\./);
    assert.deepEqual(ui.errors[0].items, ["Retry", "Show Logs", "Open Settings"]);
    assert.ok(made[0].stopped, "the half-started client is stopped");
    await host.dispose();
  });

  it("gives up on a server that does not answer initialize in time", async () => {
    const made: FakeClient[] = [];
    const { host, ui } = setup({
      startTimeoutMs: 100,
      createClient: (s, c) => {
        const client = new FakeClient(s, c);
        client.hangStart = true;
        made.push(client);
        return client;
      },
    });
    await host.start();
    assert.equal(host.isRunning(), false);
    assert.match(ui.errors[0].message, /did not start: it did not answer within 0\.1 s/);
    assert.ok(made[0].stopped);
    await host.dispose();
  });

  it("stops a server that is still starting when disposed", async () => {
    const made: FakeClient[] = [];
    const { host } = setup({
      createClient: (s, c) => {
        const client = new FakeClient(s, c);
        client.hangStart = true;
        made.push(client);
        return client;
      },
    });
    const starting = host.start();
    await sleep(10);
    await host.dispose();
    assert.ok(made[0].stopped);
    await host.restart("after dispose");
    assert.equal(made.length, 1, "nothing starts after dispose");
    void starting;
  });

  it("coalesces restarts asked for while one is under way", async () => {
    const { host, clients } = setup();
    await host.start();
    await Promise.all([host.restart("a"), host.restart("b"), host.restart("c")]);
    assert.equal(clients.length, 2);
    await host.dispose();
  });
});
