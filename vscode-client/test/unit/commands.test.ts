import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type * as vscode from "vscode";
import {
  commandHandlers,
  entityAt,
  newestFirst,
  PALETTE_COMMANDS,
  registerCommands,
  trackArgument,
  validateExecutionRef,
  type CommandDeps,
  type CommandsUi,
  type EditorLike,
} from "../../src/commands";
import type { DisposableLike, ServerHost } from "../../src/host";
import type { ProfileKey } from "../../src/profile";
import type { BackendStatus, EntityItem, ExecutionInfo, ExecutionsNode, Gate } from "../../src/protocol";
import { LAST_RUN_KEY, type Memento } from "../../src/runFlow";
import { resetMock } from "../mock";

const flush = () => new Promise((r) => setImmediate(r));

function entity(name: string, start: number, end: number): EntityItem {
  const range = { start: { line: start, character: 0 }, end: { line: end, character: 0 } };
  return { name, flyteName: `wf.${name}`, kind: "task", range, selectionRange: range, inputs: [], outputs: [], module: "wf" };
}

function execution(name: string, phase: string, over: Partial<ExecutionInfo> = {}): ExecutionInfo {
  return {
    execution: { project: "flytesnacks", domain: "development", name },
    phase,
    uri: "file:///ws/wf.py",
    entity: `entity_${name}`,
    consoleUrl: `http://console/${name}`,
    startedAt: null,
    duration: null,
    nodesDone: null,
    nodesTotal: null,
    outputs: null,
    gates: [],
    ...over,
  };
}

const approveGate: Gate = { signalId: "review", nodeId: "n1", kind: "approve", type: "bool" };
const inputGate: Gate = { signalId: "title", nodeId: "n2", kind: "input", type: "str" };

class FakeHost implements ServerHost {
  running = true;
  logs: string[] = [];
  shownLogs = 0;
  restarts: (string | undefined)[] = [];
  requests: [string, unknown][] = [];
  commands: [string, Record<string, unknown>, "prompted" | "direct"][] = [];
  answers: Record<string, (params: unknown) => unknown> = {};
  readonly log = {
    info: (m: string) => this.logs.push(`info ${m}`),
    warn: (m: string) => this.logs.push(`warn ${m}`),
    error: (m: string) => this.logs.push(`error ${m}`),
  };
  showLogs(): void {
    this.shownLogs += 1;
  }
  isRunning(): boolean {
    return this.running;
  }
  onDidChangeState(): DisposableLike {
    return { dispose: () => undefined };
  }
  onNotification(): DisposableLike {
    return { dispose: () => undefined };
  }
  async restart(reason?: string): Promise<void> {
    this.restarts.push(reason);
  }
  private answer(name: string, params: unknown): Promise<never> {
    const f = this.answers[name];
    if (!f) return Promise.reject(new Error(`no answer for ${name}`));
    return new Promise((resolve, reject) => {
      try {
        resolve(f(params) as never);
      } catch (err) {
        reject(err);
      }
    });
  }
  sendRequest<R>(method: string, params: unknown): Promise<R> {
    this.requests.push([method, params]);
    return this.answer(method, params);
  }
  executeCommand<R>(command: string, arg: Record<string, unknown>): Promise<R | undefined> {
    this.commands.push([command, arg, "prompted"]);
    return this.answer(command, arg);
  }
  sendCommand<R>(command: string, arg: Record<string, unknown>): Promise<R> {
    this.commands.push([command, arg, "direct"]);
    return this.answer(command, arg);
  }
}

type Call = { fn: string; args: unknown[] };

/** A scripted UI: records every call; answers QuickPicks / InputBoxes / messages with the functions queued. */
class FakeUi implements CommandsUi {
  calls: Call[] = [];
  editor?: EditorLike;
  saved: string[] = [];
  opened: string[] = [];
  executed: unknown[][] = [];
  picks: ((items: readonly vscode.QuickPickItem[]) => vscode.QuickPickItem | undefined)[] = [];
  inputs: ((o?: vscode.InputBoxOptions) => string | undefined)[] = [];
  /** The button chosen for a message matching the key (e.g. "Terminate"). */
  buttons: [RegExp, string | undefined][] = [];
  pickItems: (readonly vscode.QuickPickItem[])[] = [];
  private button(message: string): string | undefined {
    return this.buttons.find(([re]) => re.test(message))?.[1];
  }
  showInformationMessage(message: string, ...items: string[]) {
    this.calls.push({ fn: "info", args: [message, ...items] });
    return Promise.resolve(this.button(message));
  }
  showWarningMessage(message: string, options: vscode.MessageOptions, ...items: string[]) {
    this.calls.push({ fn: "warning", args: [message, options, ...items] });
    return Promise.resolve(this.button(message));
  }
  showErrorMessage(message: string, ...items: string[]) {
    this.calls.push({ fn: "error", args: [message, ...items] });
    return Promise.resolve(this.button(message));
  }
  showQuickPick = (async (items: readonly vscode.QuickPickItem[] | Thenable<readonly vscode.QuickPickItem[]>, options?: vscode.QuickPickOptions) => {
    const resolved = await items;
    this.calls.push({ fn: "quickPick", args: [options] });
    this.pickItems.push(resolved);
    const answer = this.picks.shift();
    assert.ok(answer, `unexpected QuickPick ${options?.placeHolder ?? options?.title}`);
    return answer(resolved);
  }) as CommandsUi["showQuickPick"];
  showInputBox(options?: vscode.InputBoxOptions) {
    this.calls.push({ fn: "inputBox", args: [options] });
    const answer = this.inputs.shift();
    assert.ok(answer, "unexpected InputBox");
    return Promise.resolve(answer(options));
  }
  withProgress<R>(title: string, task: () => Promise<R>) {
    this.calls.push({ fn: "progress", args: [title] });
    return task();
  }
  activeEditor() {
    return this.editor;
  }
  saveDocument(uri: string) {
    this.saved.push(uri);
    return Promise.resolve(true);
  }
  openNotebooks = new Set<string>();
  notebookOpen(uri: string) {
    return this.openNotebooks.has(uri);
  }
  openExternal(url: string) {
    this.opened.push(url);
    return Promise.resolve(true);
  }
  executeCommand(command: string, ...args: unknown[]) {
    this.executed.push([command, ...args]);
    return Promise.resolve(undefined);
  }
  messages(fn: string): string[] {
    return this.calls.filter((c) => c.fn === fn).map((c) => c.args[0] as string);
  }
}

function memory(values: Record<string, unknown> = {}): Memento {
  const m = new Map(Object.entries(values));
  return { get: <T>(k: string) => m.get(k) as T | undefined, update: async (k, v) => void m.set(k, v) };
}

function pythonEditor(line: number, over: Partial<EditorLike> = {}): EditorLike & { saves: number } {
  const e: EditorLike & { saves: number } = {
    uri: "file:///ws/wf.py",
    languageId: "python",
    isUntitled: false,
    line,
    saves: 0,
    save: async () => {
      e.saves++;
      return true;
    },
    ...over,
  };
  return e;
}

function setup(over: Partial<CommandDeps> = {}) {
  const host = new FakeHost();
  const ui = new FakeUi();
  const refreshed = { count: 0 };
  const settings = new Map<ProfileKey, unknown>();
  const deps: CommandDeps = {
    memory: memory(),
    ui,
    statusBar: { refresh: async () => void refreshed.count++ },
    profile: {
      home: "/home/u",
      settleMs: 0,
      get: (k) => settings.get(k),
      update: async (k, v) => void settings.set(k, v),
      configFiles: async () => [],
    },
    ...over,
  };
  const handlers = commandHandlers(host, deps);
  const run = async (id: string, ...args: unknown[]) => {
    const h = handlers[id];
    assert.ok(h, `no handler for ${id}`);
    await h(...args);
    await flush();
  };
  return { host, ui, deps, run, refreshed, settings };
}

const byLabel = (re: RegExp) => (items: readonly vscode.QuickPickItem[]) => items.find((i) => re.test(i.label));

describe("commands: pure helpers", () => {
  it("finds the entity whose range holds the cursor (the innermost), else the nearest above", () => {
    const entities = [entity("outer", 10, 40), entity("inner", 20, 25), entity("first", 0, 5), entity("last", 50, 60)];
    assert.equal(entityAt(entities, 22)?.name, "inner");
    assert.equal(entityAt(entities, 30)?.name, "outer");
    assert.equal(entityAt(entities, 7)?.name, "first");
    assert.equal(entityAt(entities, 45)?.name, "outer");
    assert.equal(entityAt([entity("nested", 3, 9), entity("top", 0, 9)], 12)?.name, "top");
    assert.equal(entityAt(entities, 99)?.name, "last");
    assert.equal(entityAt([entity("later", 5, 9)], 2), undefined);
    assert.equal(entityAt([], 2), undefined);
  });

  it("validates what Track Execution accepts and turns it into flyte.trackExecution's argument", () => {
    const url = "https://flyte.example.com/console/projects/p/domains/d/executions/abc123";
    for (const ok of [url, `${url}/nodes/n0`, "ex:flytesnacks:development:abc123", "abc123", "  f-1_x  "]) assert.equal(validateExecutionRef(ok), undefined, ok);
    assert.match(validateExecutionRef("") ?? "", /Paste a console URL/);
    assert.match(validateExecutionRef("https://flyte.example.com/console") ?? "", /does not point at an execution/);
    assert.match(validateExecutionRef("s3://bucket/x") ?? "", /starts with http/);
    assert.match(validateExecutionRef("ex:p:abc") ?? "", /ex:<project>:<domain>:<name>/);
    assert.match(validateExecutionRef("two words") ?? "", /letters, digits/);
    assert.deepEqual(trackArgument(` ${url} `), { url });
    assert.deepEqual(trackArgument("ex:p:d:n"), { execution: "ex:p:d:n" });
    assert.deepEqual(trackArgument("abc"), { execution: "abc" });
  });

  it("orders executions newest first", () => {
    const list = [
      execution("a", "SUCCEEDED", { startedAt: "2026-01-01T10:00:00Z" }),
      execution("b", "RUNNING", { startedAt: "2026-01-01T12:00:00Z" }),
      execution("c", "QUEUED"),
      execution("d", "FAILED", { startedAt: "2026-01-01T11:00:00Z" }),
    ];
    assert.deepEqual(newestFirst(list).map((e) => e.execution.name), ["c", "b", "d", "a"]);
  });
});

describe("registerCommands", () => {
  it("registers every palette command of package.json but the Executions view's", () => {
    const m = resetMock();
    const context = { subscriptions: [] as DisposableLike[] };
    registerCommands(context as unknown as vscode.ExtensionContext, new FakeHost(), { memory: memory(), ui: new FakeUi() });
    const pkg = JSON.parse(readFileSync(path.resolve(__dirname, "../../../package.json"), "utf8")) as { contributes: { commands: { command: string }[] } };
    const contributed = pkg.contributes.commands.map((c) => c.command).filter((id) => !id.startsWith("flyte-ls.executions."));
    assert.deepEqual([...m.commands.registered.keys()].sort(), [...contributed].sort());
    assert.deepEqual([...PALETTE_COMMANDS].sort(), [...contributed].sort());
    assert.equal(context.subscriptions.length, contributed.length);
  });
});

describe("Run / Re-run last / Register", () => {
  it("runs the entity at the cursor after saving the file, then offers the console and the executions view", async () => {
    const t = setup();
    const editor = pythonEditor(12);
    t.ui.editor = editor;
    t.host.answers["flyte/entities"] = () => [entity("prep", 0, 8), entity("training_pipeline", 10, 30)];
    t.host.answers["flyte.execute"] = () => ({ execution: { project: "p", domain: "d", name: "f1a2" }, consoleUrl: "http://c/f1a2", version: "v1" });
    t.ui.buttons.push([/^Running/, "Open Console"]);
    await t.run("flyte-ls.run");
    assert.equal(editor.saves, 1);
    assert.deepEqual(t.host.requests, [["flyte/entities", { textDocument: { uri: "file:///ws/wf.py" } }]]);
    assert.deepEqual(t.host.commands, [["flyte.execute", { uri: "file:///ws/wf.py", entity: "training_pipeline" }, "prompted"]]);
    assert.deepEqual(t.ui.calls.find((c) => c.fn === "info")?.args, ["Running training_pipeline (f1a2)", "Open Console", "Show Executions"]);
    assert.deepEqual(t.ui.opened, ["http://c/f1a2"]);
  });

  it("logs a button's failure (no browser) instead of leaving it unhandled", async () => {
    const t = setup();
    t.ui.editor = pythonEditor(1);
    t.host.answers["flyte/entities"] = () => [entity("wf", 0, 8)];
    t.host.answers["flyte.execute"] = () => ({ execution: { project: "p", domain: "d", name: "x" }, consoleUrl: "http://c/x", version: "v" });
    t.ui.buttons.push([/^Running/, "Open Console"]);
    t.ui.openExternal = () => Promise.reject(new Error("no browser"));
    await t.run("flyte-ls.run");
    assert.ok(t.host.logs.includes("warn Running wf (x): no browser"), t.host.logs.join("\n"));
  });

  it("Show Executions reveals the Flyte view container", async () => {
    const t = setup();
    t.ui.editor = pythonEditor(1);
    t.host.answers["flyte/entities"] = () => [entity("wf", 0, 8)];
    t.host.answers["flyte.execute"] = () => ({ execution: { project: "p", domain: "d", name: "x" }, consoleUrl: null, version: "v" });
    t.ui.buttons.push([/^Running/, "Show Executions"]);
    await t.run("flyte-ls.run");
    assert.deepEqual(t.ui.calls.find((c) => c.fn === "info")?.args, ["Running wf (x)", "Show Executions"]);
    assert.deepEqual(t.ui.executed, [["workbench.view.extension.flyte-ls"]]);
  });

  it("says why nothing runs: no Python editor, an untitled file, no entity above the cursor", async () => {
    const t = setup();
    await t.run("flyte-ls.run");
    t.ui.editor = pythonEditor(3, { languageId: "markdown" });
    await t.run("flyte-ls.run");
    t.ui.editor = pythonEditor(3, { isUntitled: true });
    await t.run("flyte-ls.register");
    t.ui.editor = pythonEditor(3, { save: async () => false });
    await t.run("flyte-ls.run");
    assert.deepEqual(t.host.requests, []);
    t.ui.editor = pythonEditor(3);
    t.host.answers["flyte/entities"] = () => [entity("later", 10, 20)];
    await t.run("flyte-ls.run");
    const warnings = t.ui.messages("warning");
    assert.equal(warnings.length, 4);
    assert.match(warnings[0], /Open a Python file/);
    assert.match(warnings[1], /Open a Python file/);
    assert.match(warnings[2], /Save this file first/);
    assert.match(warnings[3], /could not be saved/);
    assert.deepEqual(t.ui.messages("info"), ["No Flyte entity at or above the cursor: put it in a @task, @workflow or launch plan."]);
    assert.deepEqual(t.host.commands, []);
  });

  it("shows the server's error as is with Show Logs, and logs it", async () => {
    const t = setup();
    t.ui.editor = pythonEditor(1);
    t.host.answers["flyte/entities"] = () => [entity("wf", 0, 8)];
    const message = "flyte.execute: cannot import wf.py: ModuleNotFoundError: No module named 'pandas'; install it in /venv/bin/python";
    t.host.answers["flyte.execute"] = () => {
      throw Object.assign(new Error(message), { code: -32603, data: { kind: "ImportError" } });
    };
    t.ui.buttons.push([/cannot import/, "Show Logs"]);
    await t.run("flyte-ls.run");
    assert.deepEqual(t.ui.calls.filter((c) => c.fn === "error").map((c) => c.args), [[message, "Show Logs"]]);
    assert.equal(t.host.shownLogs, 1);
    assert.ok(t.host.logs.includes(`error Run: ${message}`));
  });

  it("says nothing more when the user cancelled an input prompt", async () => {
    const t = setup();
    t.ui.editor = pythonEditor(1);
    t.host.answers["flyte/entities"] = () => [entity("wf", 0, 8)];
    t.host.answers["flyte.execute"] = () => undefined;
    await t.run("flyte-ls.run");
    assert.deepEqual(t.ui.calls.filter((c) => c.fn !== "quickPick"), []);
  });

  it("gives up on flyte/entities after the deadline with a message saying so", async () => {
    const t = setup({ requestTimeoutMs: 30 });
    t.ui.editor = pythonEditor(1);
    t.host.answers["flyte/entities"] = () => new Promise(() => undefined);
    const started = Date.now();
    await t.run("flyte-ls.run");
    assert.ok(Date.now() - started < 1000);
    assert.match(t.ui.messages("error")[0], /flyte\/entities did not answer within 0\.03 s/);
  });

  it("re-runs the last run's argument (inputs included), saving its file first", async () => {
    const t = setup();
    await t.run("flyte-ls.rerunLast");
    assert.match(t.ui.messages("info")[0], /Nothing to re-run yet/);
    const last = { uri: "file:///ws/wf.py", entity: "wf", inputs: { n: 3 } };
    const r = setup({ memory: memory({ [LAST_RUN_KEY]: last }) });
    r.host.answers["flyte.execute"] = () => ({ execution: { project: "p", domain: "d", name: "r2" }, consoleUrl: null, version: "v" });
    await r.run("flyte-ls.rerunLast");
    assert.deepEqual(r.ui.saved, ["file:///ws/wf.py"]);
    assert.deepEqual(r.host.commands, [["flyte.execute", last, "prompted"]]);
    assert.equal(r.ui.messages("info")[0], "Running wf (r2)");
  });

  it("registers the entity at the cursor and names the version", async () => {
    const t = setup();
    t.ui.editor = pythonEditor(4);
    t.host.answers["flyte/entities"] = () => [entity("wf", 0, 8)];
    t.host.answers["flyte.register"] = () => ({ version: "abc123def456", consoleUrl: "http://c/wf", entities: [] });
    t.ui.buttons.push([/^Registered/, "Open Console"]);
    await t.run("flyte-ls.register");
    assert.deepEqual(t.host.commands, [["flyte.register", { uri: "file:///ws/wf.py", entity: "wf" }, "direct"]]);
    assert.deepEqual(t.ui.calls.find((c) => c.fn === "info")?.args, ["Registered wf, version abc123def456", "Open Console"]);
    assert.deepEqual(t.ui.opened, ["http://c/wf"]);
  });
});

describe("Run / Re-run last / Register from a notebook cell", () => {
  const NB = "file:///ws/flows.ipynb";
  const CELL = "vscode-notebook-cell:/ws/flows.ipynb#W2sZmlsZQ%3D%3D";
  const cellEditor = (line: number, over: Partial<EditorLike> = {}) =>
    pythonEditor(line, { uri: CELL, notebookUri: NB, save: async () => assert.fail("a cell is never saved"), ...over });

  it("finds the entity in the cell (cell lines) and runs it by the notebook's URI, as its lens does, saving nothing", async () => {
    const t = setup();
    t.ui.editor = cellEditor(5);
    t.host.answers["flyte/entities"] = () => [entity("untyped", 0, 2), entity("wf", 5, 7)];
    t.host.answers["flyte.execute"] = () => ({ execution: { project: "p", domain: "d", name: "nb1" }, consoleUrl: null, version: "v" });
    t.host.answers["flyte.register"] = () => ({ version: "v", consoleUrl: null, entities: [] });
    await t.run("flyte-ls.run");
    t.ui.editor = cellEditor(1);
    await t.run("flyte-ls.register");
    assert.deepEqual(t.host.requests, [
      ["flyte/entities", { textDocument: { uri: CELL } }],
      ["flyte/entities", { textDocument: { uri: CELL } }],
    ]);
    assert.deepEqual(t.host.commands, [
      ["flyte.execute", { uri: NB, entity: "wf" }, "prompted"],
      ["flyte.register", { uri: NB, entity: "untyped" }, "direct"],
    ]);
    assert.deepEqual(t.ui.saved, []);
    assert.deepEqual(t.ui.messages("warning"), []);
  });

  it("says so for a cell that is in no Jupyter notebook (the Interactive Window)", async () => {
    const t = setup();
    t.ui.editor = cellEditor(1, { notebookUri: undefined });
    await t.run("flyte-ls.run");
    assert.deepEqual(t.host.requests, []);
    assert.match(t.ui.messages("warning")[0], /runs the cells of Jupyter notebooks \(\.ipynb\)/);
  });

  it("re-runs a run from an open notebook without saving anything, and asks to open a closed one first", async () => {
    const last = { uri: NB, entity: "add", inputs: { x: 1 } };
    const t = setup({ memory: memory({ [LAST_RUN_KEY]: last }) });
    t.host.answers["flyte.execute"] = () => ({ execution: { project: "p", domain: "d", name: "r3" }, consoleUrl: null, version: "v" });
    await t.run("flyte-ls.rerunLast");
    assert.deepEqual(t.host.commands, []);
    assert.deepEqual(t.ui.messages("warning"), ["Open flows.ipynb first: a notebook's entity runs from its cells as the editor has them."]);
    t.ui.openNotebooks.add(NB);
    await t.run("flyte-ls.rerunLast");
    assert.deepEqual(t.ui.saved, []);
    assert.deepEqual(t.host.commands, [["flyte.execute", last, "prompted"]]);
  });
});

describe("Terminate / Open in console / Track execution", () => {
  const tracked = () => [
    execution("old", "SUCCEEDED", { startedAt: "2026-01-01T09:00:00Z" }),
    execution("run1", "RUNNING", { startedAt: "2026-01-01T10:00:00Z" }),
    execution("run2", "QUEUED", { startedAt: "2026-01-01T11:00:00Z" }),
  ];

  it("terminates the tree's execution after a modal confirmation", async () => {
    const t = setup();
    t.host.answers["flyte.terminate"] = () => ({});
    const node: ExecutionsNode = { type: "execution", info: execution("run1", "RUNNING") };
    t.ui.buttons.push([/^Terminate/, "Terminate"]);
    await t.run("flyte-ls.terminate", node);
    const confirm = t.ui.calls.find((c) => c.fn === "warning");
    assert.equal(confirm?.args[0], "Terminate entity_run1 (run1)?");
    assert.equal((confirm?.args[1] as vscode.MessageOptions).modal, true);
    assert.deepEqual(t.host.commands, [["flyte.terminate", { execution: node.info.execution, cause: "Terminated from VS Code" }, "direct"]]);
  });

  it("does not terminate when the confirmation is dismissed", async () => {
    const t = setup();
    await t.run("flyte-ls.terminate", { type: "execution", info: execution("run1", "RUNNING") });
    assert.deepEqual(t.host.commands, []);
  });

  it("from the palette, offers the active executions newest first", async () => {
    const t = setup();
    t.host.answers["flyte/executions"] = tracked;
    t.host.answers["flyte.terminate"] = () => ({});
    t.ui.picks.push((items) => items[1]);
    t.ui.buttons.push([/^Terminate/, "Terminate"]);
    await t.run("flyte-ls.terminate");
    assert.deepEqual(t.ui.pickItems[0].map((i) => [i.label, i.description]), [
      ["entity_run2", "QUEUED · run2"],
      ["entity_run1", "RUNNING · run1"],
    ]);
    assert.equal((t.host.commands[0][1].execution as { name: string }).name, "run1");
  });

  it("says so when nothing runs", async () => {
    const t = setup();
    t.host.answers["flyte/executions"] = () => [execution("old", "FAILED")];
    await t.run("flyte-ls.terminate");
    assert.deepEqual(t.ui.messages("info"), ["No tracked execution is running."]);
  });

  it("opens the console of the tree's execution, of the entity at the cursor, or of a picked execution", async () => {
    const t = setup();
    t.host.answers["flyte.openConsole"] = (arg) => ({ consoleUrl: "http://c/x", shown: "uri" in (arg as object) });
    await t.run("flyte-ls.openConsole", { type: "gate", info: execution("run1", "RUNNING"), gate: approveGate });
    assert.deepEqual(t.host.commands.at(-1)?.[1], { execution: { project: "flytesnacks", domain: "development", name: "run1" } });
    assert.deepEqual(t.ui.opened, ["http://c/x"]); // the server did not show it

    t.ui.editor = pythonEditor(2);
    t.host.answers["flyte/entities"] = () => [entity("wf", 0, 8)];
    await t.run("flyte-ls.openConsole");
    assert.deepEqual(t.host.commands.at(-1)?.[1], { uri: "file:///ws/wf.py", entity: "wf" });
    assert.equal(t.ui.opened.length, 1);

    t.ui.editor = undefined;
    t.host.answers["flyte/executions"] = tracked;
    t.ui.picks.push(byLabel(/entity_old/));
    await t.run("flyte-ls.openConsole");
    assert.equal(t.ui.pickItems[0].length, 3);
    assert.deepEqual(t.host.commands.at(-1)?.[1], { execution: { project: "flytesnacks", domain: "development", name: "old" } });
    assert.deepEqual(t.ui.messages("warning"), []);
  });

  it("tracks a pasted console URL or an execution id", async () => {
    const t = setup();
    const url = "https://flyte.example.com/console/projects/p/domains/d/executions/abc";
    t.host.answers["flyte.trackExecution"] = () => ({ execution: { project: "p", domain: "d", name: "abc" }, consoleUrl: url, phase: "RUNNING" });
    t.ui.inputs.push((o) => {
      assert.equal(o?.validateInput?.("https://x/"), validateExecutionRef("https://x/") as unknown);
      return url;
    });
    t.ui.buttons.push([/^Tracking/, "Show Executions"]);
    await t.run("flyte-ls.trackExecution");
    assert.deepEqual(t.host.commands, [["flyte.trackExecution", { url }, "direct"]]);
    assert.deepEqual(t.ui.calls.find((c) => c.fn === "info")?.args, ["Tracking abc (RUNNING)", "Show Executions", "Open Console"]);
    assert.deepEqual(t.ui.executed, [["workbench.view.extension.flyte-ls"]]);

    t.ui.inputs.push(() => "ex:p:d:abc");
    await t.run("flyte-ls.trackExecution");
    assert.deepEqual(t.host.commands.at(-1)?.[1], { execution: "ex:p:d:abc" });
    t.ui.inputs.push(() => undefined);
    await t.run("flyte-ls.trackExecution");
    assert.equal(t.host.commands.length, 2);
  });
});

describe("Approve / Reject / Provide input", () => {
  const waiting = () => [
    execution("a", "RUNNING", { gates: [approveGate, inputGate], startedAt: "2026-01-01T10:00:00Z" }),
    execution("b", "RUNNING", { gates: [{ ...approveGate, signalId: "deploy" }], startedAt: "2026-01-01T11:00:00Z" }),
    execution("c", "FAILED", { gates: [approveGate] }),
  ];

  it("approves and rejects the tree's gate", async () => {
    const t = setup();
    t.host.answers["flyte.approve"] = () => ({});
    t.host.answers["flyte.reject"] = () => ({});
    const node: ExecutionsNode = { type: "gate", info: execution("a", "RUNNING"), gate: approveGate };
    await t.run("flyte-ls.approve", node);
    await t.run("flyte-ls.reject", node);
    assert.deepEqual(t.host.commands, [
      ["flyte.approve", { execution: node.info.execution, signalId: "review" }, "direct"],
      ["flyte.reject", { execution: node.info.execution, signalId: "review" }, "direct"],
    ]);
    assert.deepEqual(t.ui.messages("info"), ["Approved review of entity_a (a)", "Rejected review of entity_a (a)"]);
  });

  it("from the palette, offers the approval gates waiting in active executions", async () => {
    const t = setup();
    t.host.answers["flyte/executions"] = waiting;
    t.host.answers["flyte.approve"] = () => ({});
    t.ui.picks.push(byLabel(/^deploy$/));
    await t.run("flyte-ls.approve");
    assert.deepEqual(t.ui.pickItems[0].map((i) => [i.label, i.description]), [
      ["deploy", "entity_b (b)"],
      ["review", "entity_a (a)"],
    ]);
    assert.deepEqual(t.host.commands, [["flyte.approve", { execution: waiting()[1].execution, signalId: "deploy" }, "direct"]]);
  });

  it("provides an input through the prompting path, without a value", async () => {
    const t = setup();
    t.host.answers["flyte/executions"] = waiting;
    t.host.answers["flyte.setInput"] = () => ({ execution: {}, signalId: "title" });
    t.ui.picks.push((items) => items[0]);
    await t.run("flyte-ls.provideInput");
    assert.deepEqual(t.ui.pickItems[0].map((i) => i.label), ["title"]);
    assert.deepEqual(t.host.commands, [["flyte.setInput", { execution: waiting()[0].execution, signalId: "title" }, "prompted"]]);
    assert.deepEqual(t.ui.messages("info"), ["Sent title to entity_a (a)"]);
    t.host.answers["flyte.setInput"] = () => undefined; // the value prompt was cancelled
    await t.run("flyte-ls.provideInput", { type: "gate", info: waiting()[0], gate: inputGate });
    assert.equal(t.ui.messages("info").length, 1);
  });

  it("says so when no gate of that kind waits, and when the node's gate is of the other kind", async () => {
    const t = setup();
    t.host.answers["flyte/executions"] = () => [execution("a", "RUNNING", { gates: [approveGate] })];
    await t.run("flyte-ls.provideInput");
    assert.deepEqual(t.ui.messages("info"), ["No input gate is waiting in the tracked executions."]);
    await t.run("flyte-ls.approve", { type: "gate", info: execution("a", "RUNNING"), gate: inputGate });
    assert.match(t.ui.messages("warning")[0], /title waits for an input value: use Provide Input/);
    assert.deepEqual(t.host.commands, []);
  });
});

describe("Select profile / local backend / server", () => {
  it("selects a profile, refreshes the status bar and names the new profile", async () => {
    const t = setup();
    const projects = { projects: [{ id: "ml", name: "ml" }], domains: [{ id: "development", name: "development" }] };
    t.host.answers["flyte/backendStatus"] = () =>
      ({ endpoint: "localhost:30080", source: "setting flyte.endpoint", configFile: null, reachable: true, error: null }) as Partial<BackendStatus>;
    t.host.answers["flyte/projects"] = () => projects;
    t.ui.picks.push(byLabel(/^Sandbox/), byLabel(/^ml$/), (items) => items[0]);
    await t.run("flyte-ls.selectProfile");
    assert.equal(t.settings.get("endpoint"), "localhost:30080");
    assert.equal(t.settings.get("project"), "ml");
    assert.equal(t.refreshed.count, 1);
    assert.deepEqual(t.ui.messages("info"), ["Flyte profile: localhost:30080 (setting flyte.endpoint) · ml/development."]);
  });

  it("names the backend the server actually uses after the change, and why it does not answer", async () => {
    const t = setup();
    t.settings.set("endpoint", "prod:443");
    const discovered = "from /home/u/.flyte/config.yaml, found by flytekit's config discovery";
    t.host.answers["flyte/backendStatus"] = () =>
      ({ endpoint: "dns:///flyte.acme.io", source: discovered, configFile: "/home/u/.flyte/config.yaml", reachable: false, error: "UNAVAILABLE: start it, or change flyte.endpoint." }) as Partial<BackendStatus>;
    t.host.answers["flyte/projects"] = () => {
      throw new Error("down");
    };
    t.ui.picks.push(byLabel(/Local backend/), () => undefined);
    await t.run("flyte-ls.selectProfile");
    assert.equal(t.settings.get("endpoint"), null);
    assert.deepEqual(t.ui.messages("info"), [`Flyte profile: dns:///flyte.acme.io (${discovered}) · flytesnacks/development. UNAVAILABLE: start it, or change flyte.endpoint.`]);
  });

  it("names the local backend chosen by flyte.backend after Local backend, over a discovered config file", async () => {
    const t = setup();
    t.settings.set("endpoint", "prod:443");
    t.host.answers["flyte/backendStatus"] = () =>
      ({
        endpoint: null,
        source: "local backend chosen by flyte.backend (flyte-ls local, state in /c)",
        setting: "flyte.backend",
        configFile: null,
        reachable: false,
        error: "The local Flyte backend (chosen by flyte.backend) is not running: the first Run or Register starts it.",
        project: "flytesnacks",
        domain: "development",
      }) as Partial<BackendStatus>;
    t.host.answers["flyte/projects"] = () => ({ projects: [], domains: [] });
    t.ui.picks.push(byLabel(/Local backend/), () => undefined);
    await t.run("flyte-ls.selectProfile");
    assert.equal(t.settings.get("backend"), "local");
    assert.equal(t.settings.get("endpoint"), null);
    assert.deepEqual(t.ui.messages("info"), [
      "Flyte profile: local backend (chosen by flyte.backend) · flytesnacks/development. The local Flyte backend (chosen by flyte.backend) is not running: the first Run or Register starts it.",
    ]);
  });

  it("changes nothing and says nothing when the first step is dismissed", async () => {
    const t = setup();
    t.ui.picks.push(() => undefined);
    await t.run("flyte-ls.selectProfile");
    assert.equal(t.settings.size, 0);
    assert.equal(t.refreshed.count, 0);
    assert.deepEqual(t.ui.messages("info"), []);
  });

  it("starts the local backend with progress, names its endpoints and refreshes the status bar", async () => {
    const t = setup();
    t.host.answers["flyte.startLocalBackend"] = () => ({ adminEndpoint: "127.0.0.1:30080", consoleUrl: "http://127.0.0.1:30081/console", stateDir: "/s", started: true });
    await t.run("flyte-ls.startLocalBackend");
    assert.deepEqual(t.ui.messages("progress"), ["Starting the local Flyte backend…"]);
    assert.equal(t.refreshed.count, 1);
    assert.deepEqual(t.ui.calls.find((c) => c.fn === "info")?.args, [
      "Local Flyte backend started: Admin at 127.0.0.1:30080, console at http://127.0.0.1:30081/console.",
      "Open Console",
    ]);
  });

  it("says when the profile points elsewhere than the local backend just started", async () => {
    const t = setup();
    t.settings.set("endpoint", "prod:443");
    t.host.answers["flyte.startLocalBackend"] = () => ({ adminEndpoint: "127.0.0.1:30080", consoleUrl: null, stateDir: "/s", started: false });
    t.ui.buttons.push([/already running/, "Select Profile"]);
    await t.run("flyte-ls.startLocalBackend");
    assert.match(t.ui.messages("info")[0], /^The local Flyte backend is already running: Admin at 127\.0\.0\.1:30080\. Your profile names another backend/);
    assert.deepEqual(t.ui.executed, [["flyte-ls.selectProfile"]]);
  });

  it("asks the server whether Run uses the local backend just started", async () => {
    const start = () => ({ adminEndpoint: "127.0.0.1:30080", consoleUrl: null, stateDir: "/s", started: true });
    // nothing in the settings, but a config file found by flytekit's discovery wins: say so
    const discovered = setup();
    discovered.host.answers["flyte.startLocalBackend"] = start;
    discovered.host.answers["flyte/backendStatus"] = () =>
      ({ endpoint: "dns:///prod", source: "from /home/u/.flyte/config.yaml, found by flytekit's config discovery", setting: "flyte.endpoint or flyte.configFile" }) as Partial<BackendStatus>;
    await discovered.run("flyte-ls.startLocalBackend");
    assert.match(discovered.ui.messages("info")[0], /Your profile names another backend: Select Profile → Local backend/);
    // flyte.backend = local (an endpoint setting left over is ignored): nothing to say
    const chosen = setup();
    chosen.settings.set("endpoint", "prod:443");
    chosen.settings.set("backend", "local");
    chosen.host.answers["flyte.startLocalBackend"] = start;
    chosen.host.answers["flyte/backendStatus"] = () => ({ endpoint: "127.0.0.1:30080", source: "local backend chosen by flyte.backend (…)", setting: "flyte.backend" }) as Partial<BackendStatus>;
    await chosen.run("flyte-ls.startLocalBackend");
    assert.deepEqual(chosen.ui.messages("info"), ["Local Flyte backend started: Admin at 127.0.0.1:30080."]);
  });

  it("stops the local backend, or says none ran", async () => {
    const t = setup();
    t.host.answers["flyte.stopLocalBackend"] = () => ({ stopped: true, stateDir: "/s" });
    await t.run("flyte-ls.stopLocalBackend");
    t.host.answers["flyte.stopLocalBackend"] = () => ({ stopped: false, stateDir: "/s" });
    await t.run("flyte-ls.stopLocalBackend");
    assert.deepEqual(t.ui.messages("info"), ["Local Flyte backend stopped (its state stays in /s).", "No local Flyte backend was running (/s)."]);
    assert.equal(t.refreshed.count, 2);
  });

  it("gives up on starting the local backend after the deadline", async () => {
    const t = setup({ localBackendTimeoutMs: 30 });
    t.host.answers["flyte.startLocalBackend"] = () => new Promise(() => undefined);
    await t.run("flyte-ls.startLocalBackend");
    assert.match(t.ui.messages("error")[0], /flyte\.startLocalBackend did not answer within 0\.03 s/);
    assert.equal(t.refreshed.count, 0);
  });

  it("shows the logs and restarts the server", async () => {
    const t = setup();
    await t.run("flyte-ls.showLogs");
    await t.run("flyte-ls.restartServer");
    assert.equal(t.host.shownLogs, 1);
    assert.equal(t.host.restarts.length, 1);
  });
});
