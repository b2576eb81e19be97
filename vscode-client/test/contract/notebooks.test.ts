// A Jupyter notebook as VS Code syncs it, against the real server on the embedded local backend: cells with
// VS Code's URIs (`vscode-notebook-cell:/abs/x.ipynb#W0sZmlsZQ%3D%3D`), notebook sync as vscode-languageclient
// sends it, the Run lens of a cell clicked (through runFlow's prompts), Run Entity at Cursor in a cell editor,
// the status diagnostics in the right cell, the Executions view's reveal, and a cell added that moves nothing.
import * as assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { CodeLens } from "vscode-languageserver-protocol";
import { commandHandlers, type CommandsUi, type EditorLike } from "../../src/commands";
import { revealEntity, type ViewUi } from "../../src/executionsView";
import type { ServerHost } from "../../src/host";
import { DOCUMENT_SELECTOR } from "../../src/notebooks";
import { ClientCommands, type EntityItem, type ExecuteResult, type ExecutionInfo, type LspRange } from "../../src/protocol";
import { executeWithPrompts, type FlowDeps } from "../../src/runFlow";
import { doc, treatment } from "../languageFeatures";
import { MemoryMemento, ScriptedUi, type Step } from "../unit/fakeInputUi";
import { cleanUp, serverHost, startLocalBackend, startServer, tempDir, waitFor, type LocalBackend, type ServerSession } from "./harness";

/** A published diagnostic (the server sends plain-text messages). */
type Diagnostic = { range: LspRange; message: string; source?: string };
type Published = { uri: string; diagnostics: Diagnostic[] };
/** A cell added above the others: a task whose input has no type (a lint finding). */
const ADDED_CELL = "import math\n\n\n@task\ndef scaled(y) -> float:\n    return y * math.pi\n";
/** Longer than the server's debounce of a status rebuild after a change. */
const SETTLE_MS = 1500;

const RUN_MS = 180_000; // pickling in a fresh interpreter, registering, running on the local backend

const CELLS: { kind: "code" | "markdown"; text: string }[] = [
  { kind: "code", text: "%load_ext autoreload\nfrom flytekit import task, workflow" },
  { kind: "markdown", text: "# Tasks" },
  { kind: "code", text: "!pip list\n\n\n@task\ndef add(x: int) -> int:\n    return x + 1" }, // `def add` on line 4
  { kind: "code", text: "@workflow\ndef wf(x: int) -> int:\n    return add(x=x)" }, // `def wf` on line 1
];
const ADD_LINE = 4;
const WF_LINE = 1;

/** `notebookDocument/didOpen` and `didChange` as vscode-languageclient sends them (NotebookCellKind 1 markup, 2 code). */
function notebookCell(uri: string, kind: "code" | "markdown") {
  return { kind: kind === "code" ? 2 : 1, document: uri };
}

describe("a Jupyter notebook on the real server (contract)", function () {
  this.timeout(240_000);
  let backend: LocalBackend;
  let server: ServerSession;
  let host: ServerHost;
  let notebookUri: string;
  let cellUris: string[];
  let version = 1;
  const memory = new MemoryMemento();

  /** VS Code's URI of the notebook's cell of handle `handle`. */
  const cellUri = (handle: number) => `vscode-notebook-cell:${new URL(notebookUri).pathname}#W${handle}sZmlsZQ%3D%3D`;

  function flow(script: Step[]): FlowDeps {
    return {
      ui: new ScriptedUi(script),
      memory,
      send: (command, arg) => server.executeCommand(command, arg, RUN_MS),
      executions: () => server.request<ExecutionInfo[]>("flyte/executions", {}),
    };
  }

  function lastDiagnostics(uri: string, after = 0): Diagnostic[] | undefined {
    const published = server.notifications
      .slice(after)
      .filter((n) => n.method === "textDocument/publishDiagnostics" && (n.params as Published).uri === uri);
    return (published.at(-1)?.params as Published | undefined)?.diagnostics;
  }

  const execDiagnostics = (uri: string, after = 0) => (lastDiagnostics(uri, after) ?? []).filter((d) => d.source === "flyte-exec");

  async function succeeded(name: string): Promise<ExecutionInfo> {
    return server.waitForNotification<ExecutionInfo>(
      "flyte/executionChanged",
      (p) => {
        if (p.execution.name === name && ["FAILED", "ABORTED", "TIMED_OUT"].includes(p.phase)) {
          throw new Error(`${name} ended ${p.phase}: ${JSON.stringify(p.error)}`);
        }
        return p.execution.name === name && p.phase === "SUCCEEDED";
      },
      RUN_MS,
    );
  }

  before(async () => {
    const workspace = tempDir("notebook");
    const path = join(workspace, "flows.ipynb");
    const ipynb = CELLS.map((c) => ({ cell_type: c.kind, metadata: {}, source: c.text, ...(c.kind === "code" ? { outputs: [], execution_count: null } : {}) }));
    writeFileSync(path, JSON.stringify({ cells: ipynb, metadata: {}, nbformat: 4, nbformat_minor: 5 }));
    notebookUri = pathToFileURL(path).toString();
    cellUris = CELLS.map((_c, i) => cellUri(i));
    backend = await startLocalBackend();
    server = await startServer({ endpoint: backend.endpoint, insecure: true }, workspace, {
      capabilities: { notebookDocument: { synchronization: { dynamicRegistration: true, executionSummarySupport: true } } },
    });
    host = { ...serverHost(server), executeCommand: <R>(c: string, a: Record<string, unknown>) => executeWithPrompts(flow([{ input: ["41"] }]), c, a) as Promise<R> };
    await server.connection.sendNotification("notebookDocument/didOpen", {
      notebookDocument: { uri: notebookUri, notebookType: "jupyter-notebook", version, cells: CELLS.map((c, i) => notebookCell(cellUris[i], c.kind)) },
      cellTextDocuments: CELLS.map((c, i) => ({ uri: cellUris[i], languageId: c.kind === "code" ? "python" : "markdown", version: 1, text: c.text })),
    });
  });

  after(async () => {
    await server?.stop();
    await backend?.stop();
    cleanUp();
  });

  it("syncs Python cells of Jupyter notebooks as notebooks only, and the extension's selector gives them the features", () => {
    const sync = server.initializeResult.capabilities.notebookDocumentSync;
    assert.ok(sync, "the server advertises notebookDocumentSync");
    const cell = doc(cellUris[2], "python", { uri: notebookUri, notebookType: "jupyter-notebook" });
    const [file, inCell] = treatment(DOCUMENT_SELECTOR, sync as never, [doc("file:///ws/wf.py", "python"), cell]);
    assert.deepEqual(file, { features: true, textSynced: true, notebookSynced: false });
    assert.deepEqual(inCell, { features: true, textSynced: false, notebookSynced: true });
  });

  it("answers codeLens on a cell with its entities' lenses, in the cell's lines, Run sending the notebook's URI", async () => {
    const lenses = async (uri: string) => (await server.request<CodeLens[] | null>("textDocument/codeLens", { textDocument: { uri } })) ?? [];
    const runs = (found: CodeLens[]) => found.filter((l) => l.command?.command === "flyte.execute");
    const inAdd = runs(await lenses(cellUris[2])); // didOpen is handled before the request: no wait
    assert.equal(inAdd.length, 1, JSON.stringify(inAdd));
    assert.deepEqual(inAdd[0].command?.arguments, [{ uri: notebookUri, entity: "add" }]);
    assert.equal(inAdd[0].range.start.line, ADD_LINE - 1, "on the decorator's line of the cell");
    const inWf = runs(await lenses(cellUris[3]));
    assert.deepEqual(inWf.map((l) => [l.range.start.line, l.command?.arguments]), [[WF_LINE - 1, [{ uri: notebookUri, entity: "wf" }]]]);
    assert.deepEqual(runs(await lenses(cellUris[0])), []);
  });

  it("runs a cell's task from its Run lens (the missing input asked) to SUCCEEDED, the status on that cell's URI", async () => {
    const lens = ((await server.request<CodeLens[]>("textDocument/codeLens", { textDocument: { uri: cellUris[2] } })) ?? []).find(
      (l) => l.command?.command === "flyte.execute",
    )!;
    const deps = flow([{ input: ["41"] }]);
    const started = (await executeWithPrompts(deps, lens.command!.command, lens.command!.arguments![0] as Record<string, unknown>)) as ExecuteResult;
    assert.equal((deps.ui as ScriptedUi).remaining, 0, "x was asked for");
    const done = await succeeded(started.execution.name);
    assert.equal(done.uri, notebookUri, "tracked under the notebook's URI");
    assert.equal(done.entity, "add");
    const status = await waitFor(() => execDiagnostics(cellUris[2]).find((d) => d.message.includes("SUCCEEDED")), "the SUCCEEDED diagnostic in cell 2", 60_000);
    assert.equal(status.range.start.line, ADD_LINE);
    assert.match(status.message, /^add: SUCCEEDED/);
    assert.match(status.message, /o0=42/);
    for (const other of [0, 1, 3]) assert.deepEqual(execDiagnostics(cellUris[other]), [], `no status in cell ${other}`);
  });

  it("runs the workflow at the cursor of a cell editor, and the Executions view reveals it in its cell", async () => {
    const infos: string[] = [];
    const editor: EditorLike = {
      uri: cellUris[3],
      languageId: "python",
      isUntitled: false,
      line: 2,
      save: async () => assert.fail("a cell is never saved"),
      notebookUri,
    };
    const ui = {
      activeEditor: () => editor,
      showInformationMessage: async (message: string) => void infos.push(message),
      showWarningMessage: async (message: string) => assert.fail(`warning: ${message}`),
      showErrorMessage: async (message: string) => assert.fail(`error: ${message}`),
      saveDocument: async () => assert.fail("nothing is saved"),
    } as unknown as CommandsUi;
    await commandHandlers(host, { memory, ui, requestTimeoutMs: 30_000 })[ClientCommands.run]();
    const name = /^Running wf \((\w+)\)$/.exec(infos[0] ?? "")?.[1];
    assert.ok(name, `the run was announced: ${JSON.stringify(infos)}`);
    const done = await succeeded(name);
    assert.equal(done.entity, "wf");
    const status = await waitFor(() => execDiagnostics(cellUris[3]).find((d) => d.message.includes("SUCCEEDED")), "the SUCCEEDED diagnostic in cell 3", 60_000);
    assert.equal(status.range.start.line, WF_LINE);
    assert.match(status.message, /^wf: SUCCEEDED.*o0=42/);

    const shown: unknown[] = [];
    const viewUi: ViewUi = {
      showInformationMessage: async (message) => assert.fail(`info: ${message}`),
      showErrorMessage: async (message) => assert.fail(`error: ${message}`),
      showTextDocument: async (uri) => assert.fail(`${uri} opened as text`),
      showNotebook: async (uri) => (shown.push(uri), CELLS.flatMap((c, i) => (c.kind === "code" ? [cellUris[i]] : []))),
      showNotebookCell: async (uri, cell, selection) => shown.push([uri, cell, selection]),
    };
    assert.equal(await revealEntity(host, viewUi, { type: "execution", info: done }), true);
    const [nb, [inNb, cell, selection]] = shown as [string, [string, string, LspRange]];
    assert.equal(nb, notebookUri);
    assert.deepEqual([inNb, cell, selection.start.line], [notebookUri, cellUris[3], WF_LINE]);
  });

  it("moves nothing in the other cells when a cell is added above them", async () => {
    const entities = (uri: string) => server.request<EntityItem[]>("flyte/entities", { textDocument: { uri } });
    const before = { add: execDiagnostics(cellUris[2]), wf: execDiagnostics(cellUris[3]), entities: await entities(cellUris[3]) };
    assert.equal(before.add.length, 1);
    const added = cellUri(9);
    const mark = server.notifications.length;
    await server.connection.sendNotification("notebookDocument/didChange", {
      notebookDocument: { uri: notebookUri, version: ++version },
      change: {
        cells: {
          structure: {
            array: { start: 1, deleteCount: 0, cells: [notebookCell(added, "code")] },
            didOpen: [{ uri: added, languageId: "python", version: 1, text: ADDED_CELL }],
          },
        },
      },
    });
    // A lint pass ran: the added cell's finding (its untyped input) is published there. The server publishes
    // only the cells whose diagnostics changed, so the old cells get nothing new: what they show stays right.
    await waitFor(() => (lastDiagnostics(added, mark) ?? []).length > 0, "the lint finding of the added cell", 30_000);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS)); // past the status rebuild's debounce
    const shown = (d: Diagnostic) => [d.range, d.message];
    assert.deepEqual(execDiagnostics(cellUris[2]).map(shown), before.add.map(shown));
    assert.deepEqual(execDiagnostics(cellUris[3]).map(shown), before.wf.map(shown));
    assert.deepEqual(lastDiagnostics(cellUris[2], mark), undefined, "cell 2 unchanged: not published again");
    assert.deepEqual(execDiagnostics(added), []);
    assert.deepEqual(await entities(cellUris[3]), before.entities);
    assert.deepEqual((await entities(added)).map((e) => e.name), ["scaled"]);
  });
});
