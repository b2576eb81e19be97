import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import {
  ExecutionsModel,
  ExecutionsSync,
  ExecutionsTreeProvider,
  RunningTicker,
  durationText,
  errorSummary,
  registerExecutionsView,
  relaunch,
  revealEntity,
  tooltipMarkdown,
  type ExecutionNode,
  type ViewUi,
} from "../../src/executionsView";
import type { DisposableLike, ServerHost } from "../../src/host";
import { entityInCells } from "../../src/notebooks";
import { ClientCommands, type EntityItem, type ExecutionInfo, type ExecutionsNode } from "../../src/protocol";
import { resetMock } from "../mock";

const NOW = Date.parse("2026-01-02T03:04:05Z");
const URI = "file:///ws/workflows/pipeline.py";
const CONSOLE = "http://127.0.0.1:30081/console/projects/flytesnacks/domains/development/executions/";
const TRACEBACK = [
  "Trace:",
  "",
  "    Traceback (most recent call last):",
  '      File "/x/checks.py", line 9, in require_at_least',
  '        raise ValueError(f"need at least {minimum} values, got {len(values)}")',
  "        ^^^^^^^^^^^^^^^^^^^^^^^^^",
  "    ValueError: need at least 10 values, got 3",
  "",
  "Message:",
  "",
  "    ValueError: need at least 10 values, got 3",
].join("\n");

function info(name: string, phase: string, extra: Partial<ExecutionInfo> = {}): ExecutionInfo {
  return {
    execution: { project: "flytesnacks", domain: "development", name },
    phase,
    uri: URI,
    entity: "prepare",
    consoleUrl: CONSOLE + name,
    startedAt: new Date(NOW - 12_000).toISOString(),
    duration: 12,
    nodesDone: null,
    nodesTotal: null,
    outputs: null,
    gates: [],
    ...extra,
  };
}

interface FakeHost extends ServerHost {
  logged: string[];
  requests: { method: string; params: unknown }[];
  commands: { command: string; arg: Record<string, unknown> }[];
  handlers: Map<string, (params: unknown) => void>;
  stateListeners: ((running: boolean) => void)[];
  logsShown: number;
  answer: (method: string, params: unknown) => Promise<unknown>;
  commandAnswer: (command: string, arg: Record<string, unknown>) => Promise<unknown>;
  running: boolean;
}

function fakeHost(): FakeHost {
  const host: FakeHost = {
    logged: [],
    requests: [],
    commands: [],
    handlers: new Map(),
    stateListeners: [],
    logsShown: 0,
    running: false,
    answer: async () => [],
    commandAnswer: async () => undefined,
    log: {
      info: (m) => host.logged.push(`info: ${m}`),
      warn: (m) => host.logged.push(`warn: ${m}`),
      error: (m) => host.logged.push(`error: ${m}`),
    },
    showLogs: () => void host.logsShown++,
    isRunning: () => host.running,
    onDidChangeState: (listener) => {
      host.stateListeners.push(listener);
      return { dispose: () => (host.stateListeners = host.stateListeners.filter((l) => l !== listener)) };
    },
    sendRequest: <R>(method: string, params: unknown) => {
      host.requests.push({ method, params });
      return host.answer(method, params) as Promise<R>;
    },
    executeCommand: <R>(command: string, arg: Record<string, unknown>) => {
      host.commands.push({ command, arg });
      return host.commandAnswer(command, arg) as Promise<R>;
    },
    sendCommand: <R>(command: string, arg: Record<string, unknown>) => host.commandAnswer(command, arg) as Promise<R>,
    onNotification: (method, handler) => {
      host.handlers.set(method, handler);
      return { dispose: () => host.handlers.delete(method) };
    },
    restart: async () => undefined,
  };
  return host;
}

interface FakeUi extends ViewUi {
  infos: string[];
  errors: { message: string; items: string[] }[];
  shown: { uri: string; selection?: unknown }[];
  choice: string | undefined;
  /** The code cells `showNotebook` answers with, by notebook URI. */
  notebooks: Map<string, string[]>;
}

function fakeUi(): FakeUi {
  const ui: FakeUi = {
    infos: [],
    errors: [],
    shown: [],
    choice: undefined,
    showInformationMessage: async (message) => {
      ui.infos.push(message);
      return ui.choice;
    },
    showErrorMessage: async (message, ...items) => {
      ui.errors.push({ message, items });
      return ui.choice;
    },
    showTextDocument: async (uri, selection) => {
      ui.shown.push({ uri, selection });
      return undefined;
    },
    notebooks: new Map(),
    showNotebook: async (uri) => {
      ui.shown.push({ uri });
      const cells = ui.notebooks.get(uri);
      if (!cells) throw new Error("no such notebook");
      return cells;
    },
    showNotebookCell: async (uri, cell, selection) => {
      ui.shown.push({ uri: `${uri} ${cell}`, selection });
      return undefined;
    },
  };
  return ui;
}

const tick = () => new Promise((r) => setImmediate(r));

function item(provider: ExecutionsTreeProvider, node: ExecutionsNode): vscode.TreeItem {
  return provider.getTreeItem(node);
}

function icon(treeItem: vscode.TreeItem): { id: string; color?: string } {
  const i = treeItem.iconPath as vscode.ThemeIcon;
  return { id: i.id, ...(i.color ? { color: (i.color as unknown as { id: string }).id } : {}) };
}

describe("executionsView: text", () => {
  it("writes durations like the server's lens, whole seconds while running", () => {
    assert.deepEqual(
      [0.25, 12, 185, 7440].map((s) => durationText(s)),
      ["250ms", "12s", "3m 05s", "2h 04m"],
    );
    assert.deepEqual(
      [0.4, 59.9, 61.2].map((s) => durationText(s, true)),
      ["0s", "59s", "1m 01s"],
    );
  });

  it("sums an error up by a traceback's exception line, else its first line", () => {
    assert.equal(errorSummary(TRACEBACK), "ValueError: need at least 10 values, got 3");
    assert.equal(errorSummary("\n  Execution aborted by user\nmore"), "Execution aborted by user");
    assert.equal(errorSummary(null), "no error message");
    assert.equal(errorSummary("x".repeat(400)).length, 300);
  });
});

describe("executionsView: model", () => {
  it("lists executions newest first and updates one in place, firing only its node", () => {
    const model = new ExecutionsModel();
    const changes: (ExecutionNode | undefined)[] = [];
    model.onDidChange((c) => changes.push(c));
    model.replaceAll([info("a", "SUCCEEDED"), info("b", "RUNNING")]);
    assert.deepEqual(
      model.roots().map((n) => n.info.execution.name),
      ["b", "a"],
    );
    assert.deepEqual(changes, [undefined]);
    const b = model.get("flytesnacks:development:b")!;
    model.update(info("b", "SUCCEEDED"));
    assert.equal(changes.length, 2);
    assert.equal(changes[1], b, "the same node object as the tree holds");
    assert.equal(b.info.phase, "SUCCEEDED");
    assert.equal(model.roots()[0], b, "an update keeps its place");
    model.update(info("c", "QUEUED"));
    assert.equal(changes[2], undefined, "a new execution changes the roots");
    assert.deepEqual(
      model.roots().map((n) => n.info.execution.name),
      ["c", "b", "a"],
    );
    assert.deepEqual(
      model.active().map((i) => i.execution.name),
      ["c"],
    );
  });

  it("keeps node objects across replaceAll and drops executions no longer tracked", () => {
    const model = new ExecutionsModel();
    model.replaceAll([info("a", "RUNNING"), info("b", "RUNNING")]);
    const a = model.get("flytesnacks:development:a");
    model.replaceAll([info("a", "SUCCEEDED")]);
    assert.equal(model.get("flytesnacks:development:a"), a);
    assert.equal(a!.info.phase, "SUCCEEDED");
    assert.equal(model.get("flytesnacks:development:b"), undefined);
    assert.equal(model.roots().length, 1);
  });

  it("gives an execution its waiting gates, then outputs, error and node rows", () => {
    const model = new ExecutionsModel();
    const gates = [
      { signalId: "go", nodeId: "n1", kind: "approve", type: "bool" },
      { signalId: "threshold", nodeId: "n2", kind: "input", type: "float" },
    ];
    model.replaceAll([
      info("w", "RUNNING", { gates, nodesDone: 1, nodesTotal: 3 }),
      info("s", "SUCCEEDED", { outputs: { o0: 42, o1: "x" } }),
      info("f", "FAILED", { error: { message: TRACEBACK, kind: "USER", frames: [] } }),
      info("t", "SUCCEEDED", { outputs: "o0=[0.5, 0.25]" } as unknown as Partial<ExecutionInfo>),
      info("d", "ABORTED", { gates }),
    ]);
    const rows = (name: string) =>
      model.children(model.get(`flytesnacks:development:${name}`)!).map((n) =>
        n.type === "gate" ? `gate ${n.gate.signalId}` : n.type === "detail" ? `${n.label}=${n.value}` : "?",
      );
    assert.deepEqual(rows("w"), ["gate go", "gate threshold", "nodes=1/3 done"]);
    assert.deepEqual(rows("s"), ["o0=42", "o1=x"], "strings as they are, other values as JSON");
    assert.deepEqual(rows("f"), ["error (USER)=ValueError: need at least 10 values, got 3"]);
    assert.deepEqual(rows("t"), ["outputs=o0=[0.5, 0.25]"], "the server's summary string");
    assert.deepEqual(rows("d"), [], "a finished execution has no gates to act on");
    const gate = model.children(model.get("flytesnacks:development:w")!)[0];
    assert.equal(model.parent(gate), model.get("flytesnacks:development:w"));
  });
});

describe("executionsView: tree items", () => {
  beforeEach(() => resetMock());

  function render(i: ExecutionInfo, now = NOW) {
    const model = new ExecutionsModel();
    model.replaceAll([i]);
    const provider = new ExecutionsTreeProvider(model, () => now);
    const node = model.roots()[0];
    return { model, provider, node, treeItem: item(provider, node) };
  }

  it("shows a running execution with its progress, elapsed time and a spinning icon", () => {
    const { treeItem } = render(info("r", "RUNNING", { nodesDone: 1, nodesTotal: 2, duration: 0.01 }), NOW + 3_400);
    assert.equal(treeItem.label, "prepare");
    assert.equal(treeItem.id, "flytesnacks:development:r");
    assert.equal(treeItem.description, "RUNNING 1/2 · 15s · flytesnacks/development");
    assert.deepEqual(icon(treeItem), { id: "sync~spin" });
    assert.equal(treeItem.contextValue, "execution.active.hasSource");
    assert.equal(treeItem.collapsibleState, vscode.TreeItemCollapsibleState.Collapsed);
    assert.equal(treeItem.command?.command, ClientCommands.revealEntity, "a click reveals the entity");
  });

  it("colours successes and failures and marks them done", () => {
    const ok = render(info("s", "SUCCEEDED", { duration: 0.075, outputs: { o0: 1 } })).treeItem;
    assert.equal(ok.description, "SUCCEEDED · 75ms · flytesnacks/development");
    assert.deepEqual(icon(ok), { id: "pass", color: "testing.iconPassed" });
    assert.equal(ok.contextValue, "execution.done.hasSource");
    const failed = render(info("f", "FAILED", { duration: 4.2, error: { message: TRACEBACK, kind: "USER", frames: [] } }));
    assert.deepEqual(icon(failed.treeItem), { id: "error", color: "testing.iconFailed" });
    assert.equal(failed.treeItem.description, "FAILED · 4s · flytesnacks/development");
    const [errorRow] = failed.model.children(failed.node);
    const errorItem = item(failed.provider, errorRow);
    assert.equal(errorItem.label, "error (USER)");
    assert.equal(errorItem.description, "ValueError: need at least 10 values, got 3");
    assert.equal(errorItem.contextValue, "detail");
  });

  it("has an icon for every other phase", () => {
    const ids = ["QUEUED", "UNDEFINED", "ABORTED", "TIMED_OUT", "UNKNOWN", "SUCCEEDING"].map(
      (p) => icon(render(info("x", p)).treeItem).id,
    );
    assert.deepEqual(ids, ["clock", "clock", "circle-slash", "watch", "question", "sync~spin"]);
    const queued = render(info("q", "QUEUED", { startedAt: null, duration: null })).treeItem;
    assert.equal(queued.description, "QUEUED · flytesnacks/development");
    assert.equal(queued.collapsibleState, vscode.TreeItemCollapsibleState.None);
  });

  it("opens the console on a click when the execution has no source", () => {
    const t = render(info("n", "SUCCEEDED", { uri: "", entity: "" })).treeItem;
    assert.equal(t.label, "n");
    assert.equal(t.contextValue, "execution.done");
    assert.equal(t.command?.command, ClientCommands.openConsole);
  });

  it("pauses on a waiting gate, expanded, with approve and input gates as package.json's menus expect", () => {
    const gates = [
      { signalId: "go", nodeId: "n1", kind: "approve", type: "bool" },
      { signalId: "n", nodeId: "n2", kind: "signal", type: "int" },
      { signalId: "label", nodeId: "n3", kind: "input", type: "str" },
    ];
    const { model, provider, node, treeItem } = render(info("w", "RUNNING", { gates }));
    assert.deepEqual(icon(treeItem), { id: "debug-pause", color: "charts.yellow" });
    assert.equal(treeItem.description, "WAITING go, n, label · 12s · flytesnacks/development");
    assert.equal(treeItem.collapsibleState, vscode.TreeItemCollapsibleState.Expanded);
    const items = model.children(node).map((c) => item(provider, c));
    assert.deepEqual(
      items.map((i) => i.contextValue),
      ["gate.approve", "gate.input", "gate.input"],
    );
    assert.equal(items[0].command, undefined, "approving takes a deliberate button press");
    assert.equal(items[1].command?.command, ClientCommands.provideInput);
    assert.equal(items[1].description, "waiting for input · int");
    assert.deepEqual(items[1].command?.arguments, [model.children(node)[1]]);
  });

  it("puts id, phase, nodes, error, outputs and the console link in the tooltip", () => {
    const md = tooltipMarkdown(
      info("f", "FAILED", {
        nodesDone: 1,
        nodesTotal: 2,
        error: { message: TRACEBACK, kind: "USER", frames: [] },
        outputs: { o0: 5 },
      }),
      NOW,
    );
    assert.match(md, /^\*\*prepare\*\* · FAILED/);
    assert.ok(md.includes("Execution: `` flytesnacks:development:f ``"), md);
    assert.ok(md.includes("Nodes: 1/2 done"), md);
    assert.ok(md.includes("**Error (USER):** `` ValueError: need at least 10 values, got 3 ``"), md);
    assert.ok(md.includes("Output `` o0 ``: `` 5 ``"), md);
    assert.ok(md.includes("Traceback (most recent call last)"), "the whole message in a code block");
    assert.ok(md.endsWith(`[Open in console](${CONSOLE}f)`), md);
    assert.ok(md.includes("Started: "), md);
  });

  it("fires the changed execution's node only, and the roots for a new one", () => {
    const model = new ExecutionsModel();
    const provider = new ExecutionsTreeProvider(model, () => NOW);
    const fired: unknown[] = [];
    provider.onDidChangeTreeData((e) => fired.push(e));
    model.replaceAll([info("a", "RUNNING"), info("b", "RUNNING")]);
    const a = model.get("flytesnacks:development:a")!;
    model.update(info("a", "SUCCEEDED"));
    model.update(info("c", "RUNNING"));
    assert.deepEqual(fired, [undefined, a, undefined]);
    assert.equal(fired[1], provider.getChildren()[2], "the element the tree got from getChildren");
    assert.deepEqual(provider.getChildren(a), []);
    provider.refreshItems([a]);
    assert.deepEqual(fired[3], [a]);
  });
});

describe("executionsView: running ticker", () => {
  function manualClock() {
    const timers: { fn: () => void; ms: number; disposed: boolean }[] = [];
    const every = (fn: () => void, ms: number): DisposableLike => {
      const t = { fn, ms, disposed: false };
      timers.push(t);
      return { dispose: () => (t.disposed = true) };
    };
    return { timers, every, live: () => timers.filter((t) => !t.disposed) };
  }

  it("ticks the running executions every second only while the view is visible", () => {
    const model = new ExecutionsModel();
    let visible = true;
    const ticked: string[][] = [];
    const clock = manualClock();
    const ticker = new RunningTicker(model, () => visible, (nodes) => ticked.push(nodes.map((n) => n.info.execution.name)), clock.every);
    model.onDidChange(() => ticker.update());
    model.replaceAll([info("done", "SUCCEEDED")]);
    assert.equal(ticker.ticking, false, "nothing runs");
    model.update(info("r", "RUNNING"));
    model.update(info("q", "QUEUED", { startedAt: null }));
    assert.equal(clock.live().length, 1);
    assert.equal(clock.live()[0].ms, 1000);
    clock.live()[0].fn();
    assert.deepEqual(ticked, [["r"]], "only what has a start to count from");
    visible = false;
    ticker.update();
    assert.equal(ticker.ticking, false, "hidden: no timer");
    visible = true;
    ticker.update();
    assert.equal(clock.live().length, 1);
    model.update(info("r", "SUCCEEDED"));
    assert.equal(ticker.ticking, false, "stops when nothing runs");
    assert.equal(clock.live().length, 0);
    ticker.dispose();
  });
});

describe("executionsView: sync with the server", () => {
  it("replaces the list from flyte/executions and re-applies changes that arrived meanwhile", async () => {
    const host = fakeHost();
    const model = new ExecutionsModel();
    const sync = new ExecutionsSync(host, model);
    let answer!: (items: ExecutionInfo[]) => void;
    host.answer = () => new Promise((r) => (answer = r));
    const refreshed = sync.refresh();
    const again = sync.refresh();
    sync.changed(info("a", "SUCCEEDED"));
    answer([info("a", "RUNNING"), info("b", "FAILED")]);
    await Promise.all([refreshed, again]);
    assert.equal(host.requests.length, 1, "one request at a time");
    assert.deepEqual(host.requests[0], { method: "flyte/executions", params: {} });
    assert.equal(model.get("flytesnacks:development:a")!.info.phase, "SUCCEEDED", "the newer state wins");
    assert.equal(model.roots().length, 2);
    sync.changed(undefined as unknown as ExecutionInfo);
    assert.ok(host.logged.some((l) => l.startsWith("warn: Ignored a malformed flyte/executionChanged")));
  });
});

describe("executionsView: actions", () => {
  const entity = (name: string, line: number): EntityItem => ({
    name,
    flyteName: `workflows.pipeline.${name}`,
    kind: "workflow",
    range: { start: { line: line - 1, character: 0 }, end: { line: line + 4, character: 0 } },
    selectionRange: { start: { line, character: 4 }, end: { line, character: 4 + name.length } },
    inputs: [],
    outputs: [],
    module: "workflows.pipeline",
  });
  const node = (i: ExecutionInfo): ExecutionsNode => ({ type: "execution", info: i });

  it("reveals the entity at its selection range from flyte/entities", async () => {
    const host = fakeHost();
    const ui = fakeUi();
    host.answer = async () => [entity("is_large", 11), entity("prepare", 22)];
    assert.equal(await revealEntity(host, ui, node(info("a", "SUCCEEDED"))), true);
    assert.deepEqual(host.requests, [{ method: "flyte/entities", params: { textDocument: { uri: URI } } }]);
    assert.deepEqual(ui.shown, [{ uri: URI, selection: entity("prepare", 22).selectionRange }]);
  });

  it("opens the file at the top when the entity is gone or the server cannot answer", async () => {
    const host = fakeHost();
    const ui = fakeUi();
    host.answer = async () => [entity("is_large", 11)];
    await revealEntity(host, ui, node(info("a", "SUCCEEDED")));
    assert.deepEqual(ui.infos, ["prepare is no longer defined in this file."]);
    host.answer = async () => Promise.reject(new Error("The Flyte server is not running: Restart Server."));
    await revealEntity(host, ui, node(info("a", "SUCCEEDED")));
    assert.deepEqual(ui.shown, [
      { uri: URI, selection: undefined },
      { uri: URI, selection: undefined },
    ]);
    assert.ok(host.logged.includes("warn: Reveal prepare: The Flyte server is not running: Restart Server."));
  });

  it("says why there is nothing to reveal, and fails visibly when the file cannot open", async () => {
    const host = fakeHost();
    const ui = fakeUi();
    assert.equal(await revealEntity(host, ui, node(info("a", "SUCCEEDED", { uri: "", entity: "" }))), false);
    assert.match(ui.infos[0], /^a was tracked without its source file/);
    assert.equal(await revealEntity(host, ui, undefined), false);
    assert.equal(ui.infos[1], "Select an execution in the Flyte Executions view first.");
    ui.showTextDocument = async () => Promise.reject(new Error("file not found"));
    ui.choice = "Show Logs";
    assert.equal(await revealEntity(host, ui, node(info("a", "SUCCEEDED"))), false);
    assert.deepEqual(ui.errors, [{ message: `Cannot open ${URI}: file not found`, items: ["Show Logs"] }]);
    await tick();
    assert.equal(host.logsShown, 1);
  });

  describe("an execution run from a notebook (tracked under the .ipynb's URI)", () => {
    const NB = "file:///ws/flows.ipynb";
    const CELLS = ["vscode-notebook-cell:/ws/flows.ipynb#W0sZmlsZQ%3D%3D", "vscode-notebook-cell:/ws/flows.ipynb#W2sZmlsZQ%3D%3D"];
    const fromNotebook = (entityName: string) => node(info("nb", "SUCCEEDED", { uri: NB, entity: entityName }));

    it("opens the notebook editor (not the .ipynb's text) and selects the entity in the cell that defines it", async () => {
      const host = fakeHost();
      const ui = fakeUi();
      ui.notebooks.set(NB, CELLS);
      // the server answers flyte/entities of a cell with that cell's entities, in cell lines
      host.answer = async (_m, params) => ((params as { textDocument: { uri: string } }).textDocument.uri === CELLS[1] ? [entity("wf", 6)] : [entity("add", 4)]);
      assert.equal(await revealEntity(host, ui, fromNotebook("wf")), true);
      assert.deepEqual(
        host.requests.map((r) => r.params),
        CELLS.map((uri) => ({ textDocument: { uri } })),
      );
      assert.deepEqual(ui.shown, [{ uri: NB }, { uri: `${NB} ${CELLS[1]}`, selection: entity("wf", 6).selectionRange }]);
      assert.deepEqual(ui.infos, []);
    });

    it("asks again while the server does not know the cells yet (a notebook just opened), then finds the entity", async () => {
      const host = fakeHost();
      const ui = fakeUi();
      ui.notebooks.set(NB, CELLS);
      let calls = 0;
      host.answer = async (_m, params) => {
        if (calls++ < CELLS.length) throw new Error("flyte/entities: not open and not a file: URI");
        return (params as { textDocument: { uri: string } }).textDocument.uri === CELLS[0] ? [entity("add", 4)] : [];
      };
      assert.equal(await revealEntity(host, ui, fromNotebook("add")), true);
      assert.equal(host.requests.length, 2 * CELLS.length);
      assert.deepEqual(ui.shown.at(-1), { uri: `${NB} ${CELLS[0]}`, selection: entity("add", 4).selectionRange });
    });

    it("leaves the notebook open with a word when no cell defines the entity any more, or the server cannot say", async () => {
      const host = fakeHost();
      const ui = fakeUi();
      ui.notebooks.set(NB, CELLS);
      host.answer = async () => [entity("other", 1)];
      assert.equal(await revealEntity(host, ui, fromNotebook("gone")), true);
      assert.deepEqual(ui.infos, ["gone is no longer defined in this notebook."]);
      assert.deepEqual(ui.shown, [{ uri: NB }]);
      await assert.rejects(
        entityInCells({ sendRequest: async () => Promise.reject(new Error("server down")) }, CELLS, "add", { attempts: 2, waitMs: 1 }),
        /server down/,
      );
    });

    it("fails visibly when the notebook cannot be opened", async () => {
      const host = fakeHost();
      const ui = fakeUi();
      ui.choice = "Show Logs";
      assert.equal(await revealEntity(host, ui, fromNotebook("wf")), false);
      assert.deepEqual(ui.errors, [{ message: `Cannot open ${NB}: no such notebook`, items: ["Show Logs"] }]);
      assert.deepEqual(host.requests, []);
    });
  });

  it("relaunches with flyte.relaunch {execution} and offers the new execution's console", async () => {
    const host = fakeHost();
    const ui = fakeUi();
    const next = { project: "flytesnacks", domain: "development", name: "next" };
    host.commandAnswer = async (command) =>
      command === "flyte.relaunch" ? { execution: next, consoleUrl: CONSOLE + "next" } : { consoleUrl: "", shown: true };
    ui.choice = "Open Console";
    const i = info("a", "FAILED");
    assert.deepEqual(await relaunch(host, ui, node(i)), next);
    assert.deepEqual(host.commands[0], { command: "flyte.relaunch", arg: { execution: i.execution } });
    assert.deepEqual(ui.infos, ["Relaunched prepare as next."]);
    await tick();
    assert.deepEqual(host.commands[1], { command: "flyte.openConsole", arg: { execution: next } });
  });

  it("shows the server's error as is, with Show Logs", async () => {
    const host = fakeHost();
    const ui = fakeUi();
    host.commandAnswer = async () => Promise.reject(new Error("flyte.relaunch: execution a not found; is the backend right?"));
    assert.equal(await relaunch(host, ui, node(info("a", "FAILED"))), undefined);
    assert.deepEqual(ui.errors, [{ message: "flyte.relaunch: execution a not found; is the backend right?", items: ["Show Logs"] }]);
    host.commandAnswer = async () => undefined; // the user cancelled a prompt
    assert.equal(await relaunch(host, ui, node(info("a", "FAILED"))), undefined);
    assert.equal(ui.errors.length, 1);
  });
});

describe("executionsView: registration", () => {
  function fakeView() {
    const visibility = new vscode.EventEmitter<{ visible: boolean }>();
    return {
      visible: true,
      badge: undefined as { value: number; tooltip: string } | undefined,
      selection: [] as ExecutionsNode[],
      onDidChangeVisibility: visibility.event,
      dispose: () => undefined,
      reveal: async () => undefined,
    };
  }

  it("fetches when the server runs, follows flyte/executionChanged and registers the view's commands", async () => {
    const m = resetMock();
    const view = fakeView();
    m.window.createTreeView.impl = () => view;
    const host = fakeHost();
    host.running = true;
    host.answer = async () => [info("a", "SUCCEEDED")];
    const context = { subscriptions: [] as DisposableLike[] } as unknown as vscode.ExtensionContext;
    const ui = fakeUi();
    const registered = registerExecutionsView(context, host, ui);
    assert.equal(m.window.createTreeView.calls[0][0], "flyte-ls.executions");
    await tick();
    assert.deepEqual(
      registered.model.roots().map((n) => n.info.execution.name),
      ["a"],
    );
    for (const id of [ClientCommands.refreshExecutions, ClientCommands.relaunch, ClientCommands.revealEntity]) {
      assert.ok(m.commands.registered.has(id), id);
    }
    host.handlers.get("flyte/executionChanged")!(info("b", "RUNNING"));
    assert.equal(registered.model.roots()[0].info.execution.name, "b");
    assert.deepEqual(view.badge, { value: 1, tooltip: "1 execution in progress" });

    host.answer = async () => [info("a", "SUCCEEDED"), info("b", "SUCCEEDED")];
    for (const l of host.stateListeners) l(true); // a restart
    await tick();
    assert.equal(registered.model.active().length, 0);
    assert.equal(view.badge, undefined);

    host.answer = async () => Promise.reject(new Error("The Flyte server is not running."));
    await m.commands.registered.get(ClientCommands.refreshExecutions)!();
    assert.deepEqual(ui.errors, [
      { message: "Cannot list the Flyte executions: The Flyte server is not running.", items: ["Show Logs"] },
    ]);
    assert.equal(registered.model.roots().length, 2, "a failed refresh keeps what the view shows");

    view.selection = [registered.model.roots()[0]];
    host.answer = async () => [];
    assert.equal(await m.commands.registered.get(ClientCommands.revealEntity)!(), true, "the selection when no argument");

    assert.equal(context.subscriptions.length, 1);
    registered.dispose();
    assert.equal(m.commands.registered.size, 0);
    assert.equal(host.handlers.size, 0);
  });

  it("waits for the server before fetching", async () => {
    const m = resetMock();
    m.window.createTreeView.impl = () => fakeView();
    const host = fakeHost();
    registerExecutionsView({ subscriptions: [] } as unknown as vscode.ExtensionContext, host, fakeUi());
    await tick();
    assert.equal(host.requests.length, 0);
    for (const l of host.stateListeners) l(false);
    assert.equal(host.requests.length, 0);
    for (const l of host.stateListeners) l(true);
    assert.equal(host.requests.length, 1);
  });
});
