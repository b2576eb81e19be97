// The palette commands (every ClientCommands entry but the Executions view's own): run / register the entity at
// the cursor, re-run the last run, terminate, open in the console, track an execution, answer a gate, select the
// profile, start / stop the local backend, show logs, restart the server. `commandHandlers` holds the logic over a
// narrow UI (`CommandsUi`) and the server (`ServerHost`); `registerCommands` registers them with VS Code.
import * as os from "node:os";
import * as vscode from "vscode";
import type { ServerHost } from "./host";
import { CELL_SCHEME, importsFromDisk, isCellUri, isNotebookUri, JUPYTER_NOTEBOOK } from "./notebooks";
import {
  chosenLocal,
  ClientCommands,
  DONE_PHASES,
  Methods,
  ServerCommands,
  type BackendStatus,
  type EntityItem,
  type ExecuteResult,
  type ExecutionId,
  type ExecutionInfo,
  type ExecutionsNode,
  type Gate,
} from "./protocol";
import {
  describeBackend,
  describeStatus,
  errorText,
  findConfigFiles,
  readProfileSettings,
  sameEndpoint,
  selectProfile,
  updateTarget,
  withDeadline,
  type ProfileDeps,
  type ProfileUi,
} from "./profile";
import { errorMessage, lastRun, type Memento } from "./runFlow";

export const EXECUTIONS_CONTAINER_COMMAND = "workbench.view.extension.flyte-ls";
export const REQUEST_TIMEOUT_MS = 10_000;
export const LOCAL_BACKEND_TIMEOUT_MS = 180_000;
const OPEN_CONSOLE = "Open Console";
const SHOW_EXECUTIONS = "Show Executions";
const SHOW_LOGS = "Show Logs";

/** The active editor, as the commands see it (a Python file, or a cell of a notebook). */
export interface EditorLike {
  uri: string;
  languageId: string;
  isUntitled: boolean;
  /** The cursor's line (0-based; in a cell, the cell's line). */
  line: number;
  /** Saves the document when it has unsaved changes; false when that failed. */
  save(): Thenable<boolean>;
  /** For a cell (`uri` is `vscode-notebook-cell:…`): the URI of the Jupyter notebook holding it. */
  notebookUri?: string;
}

/** The `vscode.window` (and a few other) functions the commands use: tests pass fakes. */
export interface CommandsUi extends ProfileUi {
  showInformationMessage(message: string, ...items: string[]): Thenable<string | undefined>;
  showWarningMessage(message: string, options: vscode.MessageOptions, ...items: string[]): Thenable<string | undefined>;
  showErrorMessage(message: string, ...items: string[]): Thenable<string | undefined>;
  /** Progress in the status bar while `task` runs. */
  withProgress<R>(title: string, task: () => Promise<R>): Thenable<R>;
  activeEditor(): EditorLike | undefined;
  /** Saves the open document `uri` if it has unsaved changes; false when that failed. */
  saveDocument(uri: string): Thenable<boolean>;
  /** Whether the notebook `uri` is open (its cells synced to the server). */
  notebookOpen(uri: string): boolean;
  openExternal(url: string): Thenable<boolean>;
  executeCommand(command: string, ...args: unknown[]): Thenable<unknown>;
}

export interface CommandDeps {
  /** Where runFlow keeps the last run (the same Memento src/client.ts gives executeWithPrompts). */
  memory: Memento;
  /** Default: the VS Code one (`vscodeCommandsUi`). */
  ui?: CommandsUi;
  /** Refreshed after the profile or the local backend changed. */
  statusBar?: { refresh(): Promise<void> };
  /** Settings and config-file access for Select Profile; default: VS Code's settings (`vscodeProfileSettings`). */
  profile?: Omit<ProfileDeps, "ui" | "host">;
  requestTimeoutMs?: number;
  localBackendTimeoutMs?: number;
}

interface RegisterResult {
  version: string;
  consoleUrl: string | null;
  entities?: { name: string }[];
}
interface TrackResult {
  execution: ExecutionId;
  consoleUrl: string | null;
  phase: string;
}
interface StartLocalResult {
  adminEndpoint: string | null;
  consoleUrl: string | null;
  stateDir: string;
  started: boolean;
}
interface StopLocalResult {
  stopped: boolean;
  stateDir: string;
}

// ---- pure helpers ---------------------------------------------------------------------------------------------

/** The entity whose range holds `line` (the innermost), else the nearest one above it (the last to end). */
export function entityAt(entities: EntityItem[], line: number): EntityItem | undefined {
  const span = (e: EntityItem) => e.range.end.line - e.range.start.line;
  const holding = entities.filter((e) => e.range.start.line <= line && line <= e.range.end.line).sort((a, b) => span(a) - span(b));
  if (holding.length) return holding[0];
  let above: EntityItem | undefined;
  for (const e of entities) {
    if (e.range.end.line >= line) continue;
    if (!above || e.range.end.line > above.range.end.line || (e.range.end.line === above.range.end.line && span(e) > span(above))) above = e;
  }
  return above;
}

const EXECUTION_URL = /^https?:\/\/[^/\s]+\/.*projects\/[^/?#\s]+\/domains\/[^/?#\s]+\/executions\/[^/?#\s]+/i;

/** The InputBox validation of Track Execution's text. */
export function validateExecutionRef(text: string): string | undefined {
  const value = text.trim();
  if (!value) return "Paste a console URL, or type ex:<project>:<domain>:<name> or an execution name.";
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    if (!/^https?:\/\//i.test(value)) return "A console URL starts with http:// or https://.";
    if (!EXECUTION_URL.test(value)) return "This URL does not point at an execution: it should contain /projects/<project>/domains/<domain>/executions/<name>.";
    return undefined;
  }
  if (value.startsWith("ex:")) {
    return /^ex:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+$/.test(value) ? undefined : "Write it as ex:<project>:<domain>:<name>, e.g. ex:flytesnacks:development:f8a1b2c3.";
  }
  if (!/^[A-Za-z0-9_-]+$/.test(value)) return "An execution name has letters, digits, - and _ only (or paste a console URL).";
  return undefined;
}

/** `flyte.trackExecution`'s argument for a valid text. */
export function trackArgument(text: string): { url: string } | { execution: string } {
  const value = text.trim();
  return /^https?:\/\//i.test(value) ? { url: value } : { execution: value };
}

export function executionLabel(info: ExecutionInfo): string {
  return `${info.entity ?? info.execution.name} (${info.execution.name})`;
}

function isActive(info: ExecutionInfo): boolean {
  return !DONE_PHASES.has(info.phase);
}

function isApproval(gate: Gate): boolean {
  return gate.kind === "approve";
}

export function isExecutionsNode(value: unknown): value is ExecutionsNode {
  const v = value as { type?: unknown; info?: { execution?: unknown } } | null;
  return typeof v === "object" && v !== null && ["execution", "gate", "detail"].includes(v.type as string) && typeof v.info?.execution === "object";
}

/** Newest first: by start time, executions not started yet first, then the order tracked (newest last). */
export function newestFirst(executions: ExecutionInfo[]): ExecutionInfo[] {
  return executions
    .map((info, i) => ({ info, i, t: info.startedAt ? Date.parse(info.startedAt) : Infinity }))
    .sort((a, b) => b.t - a.t || b.i - a.i)
    .map((x) => x.info);
}

// ---- the commands ---------------------------------------------------------------------------------------------

type Handler = (...args: unknown[]) => Promise<void>;
type Actions = Record<string, () => unknown>;

export function commandHandlers(host: ServerHost, deps: CommandDeps): Record<string, Handler> {
  const ui = deps.ui ?? vscodeCommandsUi();
  const requestTimeout = deps.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const request = <R>(method: string, params: unknown) => withDeadline(host.sendRequest<R>(method, params), requestTimeout, method);

  async function fail(what: string, err: unknown): Promise<void> {
    const message = errorMessage(err);
    host.log.error(`${what}: ${message}`);
    if ((await ui.showErrorMessage(message, SHOW_LOGS)) === SHOW_LOGS) host.showLogs();
  }

  /** Runs `body`, showing its failure (the server's message as is) with "Show Logs". */
  function guarded(what: string, body: (...args: unknown[]) => Promise<void>): Handler {
    return async (...args) => {
      try {
        await body(...args);
      } catch (err) {
        await fail(what, err);
      }
    };
  }

  /** A message with buttons; the buttons act when chosen, without holding the command up. */
  function offer(message: string, actions: Actions): void {
    void Promise.resolve(ui.showInformationMessage(message, ...Object.keys(actions)))
      .then((choice) => (choice ? actions[choice]?.() : undefined))
      .catch((err: unknown) => host.log.warn(`${message}: ${errorText(err)}`));
  }

  const openUrl = (url: string | null | undefined): Actions => (url ? { [OPEN_CONSOLE]: () => ui.openExternal(url) } : {});
  const showExecutions: Actions = { [SHOW_EXECUTIONS]: () => ui.executeCommand(EXECUTIONS_CONTAINER_COMMAND) };

  /**
   * `{uri, entity}` at the cursor of the Python editor, the file saved; undefined (after saying why) if none. In
   * a notebook cell: the notebook's URI (as the lenses send it; the server runs the cells as the editor has
   * them, so nothing is saved) and the entity found in the cell.
   */
  async function entityAtCursor(opts: { save: boolean; quiet?: boolean }): Promise<{ uri: string; entity: string } | undefined> {
    const editor = ui.activeEditor();
    if (!editor || editor.languageId !== "python") {
      if (!opts.quiet) void ui.showWarningMessage("Open a Python file or notebook cell and put the cursor in a Flyte task, workflow or launch plan.", {});
      return undefined;
    }
    if (isCellUri(editor.uri)) {
      if (!editor.notebookUri) {
        if (!opts.quiet) void ui.showWarningMessage("flyte-ls runs the cells of Jupyter notebooks (.ipynb): this cell is not in one.", {});
        return undefined;
      }
    } else if (opts.save && editor.isUntitled) {
      void ui.showWarningMessage("Save this file first: flyte-ls imports your code from disk.", {});
      return undefined;
    }
    if (opts.save && !isCellUri(editor.uri) && !(await editor.save())) {
      void ui.showWarningMessage("The file could not be saved, and flyte-ls imports your code from disk: save it, then try again.", {});
      return undefined;
    }
    const entities = (await request<EntityItem[] | null>(Methods.entities, { textDocument: { uri: editor.uri } })) ?? [];
    const entity = entityAt(entities, editor.line);
    if (!entity) {
      if (!opts.quiet) void ui.showInformationMessage("No Flyte entity at or above the cursor: put it in a @task, @workflow or launch plan.");
      return undefined;
    }
    return { uri: editor.notebookUri ?? editor.uri, entity: entity.name };
  }

  async function execute(arg: Record<string, unknown>): Promise<void> {
    const result = await host.executeCommand<ExecuteResult>(ServerCommands.execute, arg);
    if (!result) return; // a prompt was cancelled
    const entity = typeof arg.entity === "string" ? arg.entity : "the entity";
    host.log.info(`Running ${entity}: ${result.execution.name} ${result.consoleUrl ?? ""}`);
    offer(`Running ${entity} (${result.execution.name})`, { ...openUrl(result.consoleUrl), ...showExecutions });
  }

  async function pickExecution(placeHolder: string, keep: (info: ExecutionInfo) => boolean, none: string): Promise<ExecutionInfo | undefined> {
    const executions = newestFirst(((await request<ExecutionInfo[] | null>(Methods.executions, {})) ?? []).filter(keep));
    if (!executions.length) {
      void ui.showInformationMessage(none);
      return undefined;
    }
    const picked = await ui.showQuickPick(
      executions.map((info) => ({
        label: info.entity ?? info.execution.name,
        description: `${info.phase} · ${info.execution.name}`,
        detail: `${info.execution.project}/${info.execution.domain}${info.startedAt ? ` · started ${info.startedAt}` : ""}`,
        info,
      })),
      { placeHolder, matchOnDescription: true, matchOnDetail: true },
    );
    return picked?.info;
  }

  /** The gate to answer: the node's, else one picked among the tracked executions' waiting gates of that kind. */
  async function pickGate(node: unknown, approval: boolean, verb: string): Promise<{ info: ExecutionInfo; gate: Gate } | undefined> {
    const kind = approval ? "approval gate" : "input gate";
    if (isExecutionsNode(node) && node.type === "gate") {
      if (isApproval(node.gate) === approval) return { info: node.info, gate: node.gate };
      void ui.showWarningMessage(
        approval ? `${node.gate.signalId} waits for an input value: use Provide Input.` : `${node.gate.signalId} is an approval gate: use Approve or Reject.`,
        {},
      );
      return undefined;
    }
    const executions = isExecutionsNode(node) ? [node.info] : ((await request<ExecutionInfo[] | null>(Methods.executions, {})) ?? []);
    const gates = newestFirst(executions.filter(isActive)).flatMap((info) => info.gates.filter((g) => isApproval(g) === approval).map((gate) => ({ info, gate })));
    if (!gates.length) {
      void ui.showInformationMessage(`No ${kind} is waiting in the tracked executions.`);
      return undefined;
    }
    const picked = await ui.showQuickPick(
      gates.map((g) => ({ label: g.gate.signalId, description: executionLabel(g.info), detail: `${g.gate.type} · node ${g.gate.nodeId}`, g })),
      { placeHolder: `The ${kind} to ${verb}`, matchOnDescription: true },
    );
    return picked?.g;
  }

  const profileDeps = (): ProfileDeps => ({ ...(deps.profile ?? vscodeProfileSettings()), ui, host });

  async function refreshStatus(): Promise<void> {
    await deps.statusBar?.refresh().catch((err) => host.log.warn(`Status bar: ${errorText(err)}`));
  }

  return {
    [ClientCommands.run]: guarded("Run", async () => {
      const target = await entityAtCursor({ save: true });
      if (target) await execute(target);
    }),

    [ClientCommands.rerunLast]: guarded("Re-run last", async () => {
      const arg = lastRun(deps.memory);
      if (!arg) {
        void ui.showInformationMessage("Nothing to re-run yet: run an entity first (▶ Run, or Flyte: Run Entity at Cursor).");
        return;
      }
      if (typeof arg.uri === "string" && isNotebookUri(arg.uri) && !ui.notebookOpen(arg.uri)) {
        const name = decodeURIComponent(arg.uri.replace(/^.*\//, ""));
        void ui.showWarningMessage(`Open ${name} first: a notebook's entity runs from its cells as the editor has them.`, {});
        return;
      }
      if (typeof arg.uri === "string" && importsFromDisk(arg.uri) && !(await ui.saveDocument(arg.uri))) {
        void ui.showWarningMessage("The file could not be saved, and flyte-ls imports your code from disk: save it, then try again.", {});
        return;
      }
      await execute(arg);
    }),

    [ClientCommands.register]: guarded("Register", async () => {
      const target = await entityAtCursor({ save: true });
      if (!target) return;
      const result = await host.sendCommand<RegisterResult>(ServerCommands.register, target);
      host.log.info(`Registered ${target.entity} as version ${result.version}`);
      offer(`Registered ${target.entity}, version ${result.version}`, openUrl(result.consoleUrl));
    }),

    [ClientCommands.terminate]: guarded("Terminate", async (node?: unknown) => {
      const info = isExecutionsNode(node)
        ? node.info
        : await pickExecution("The execution to terminate", isActive, "No tracked execution is running.");
      if (!info) return;
      const answer = await ui.showWarningMessage(
        `Terminate ${executionLabel(info)}?`,
        { modal: true, detail: `It is ${info.phase} in ${info.execution.project}/${info.execution.domain}; its running nodes are aborted.` },
        "Terminate",
      );
      if (answer !== "Terminate") return;
      await host.sendCommand(ServerCommands.terminate, { execution: info.execution, cause: "Terminated from VS Code" });
      void ui.showInformationMessage(`Terminating ${executionLabel(info)}`);
    }),

    [ClientCommands.openConsole]: guarded("Open in console", async (node?: unknown) => {
      let arg: Record<string, unknown> | undefined;
      if (isExecutionsNode(node)) arg = { execution: node.info.execution };
      else arg = await entityAtCursor({ save: false, quiet: true });
      if (!arg) {
        const info = await pickExecution("The execution to open in the console", () => true, "No execution is tracked: run an entity, or Flyte: Track Execution….");
        if (!info) return;
        arg = { execution: info.execution };
      }
      const result = await host.sendCommand<{ consoleUrl: string | null; shown: boolean }>(ServerCommands.openConsole, arg);
      if (!result.shown && result.consoleUrl) await ui.openExternal(result.consoleUrl);
    }),

    [ClientCommands.trackExecution]: guarded("Track execution", async () => {
      const text = await ui.showInputBox({
        title: "Track a Flyte execution",
        prompt: "A console URL, ex:<project>:<domain>:<name>, or an execution name (in the profile's project and domain)",
        placeHolder: "https://flyte.example.com/console/projects/flytesnacks/domains/development/executions/f8a1b2c3",
        ignoreFocusOut: true,
        validateInput: validateExecutionRef,
      });
      if (!text) return;
      const result = await host.sendCommand<TrackResult>(ServerCommands.trackExecution, trackArgument(text));
      offer(`Tracking ${result.execution.name} (${result.phase})`, { ...showExecutions, ...openUrl(result.consoleUrl) });
    }),

    [ClientCommands.approve]: guarded("Approve", async (node?: unknown) => {
      const found = await pickGate(node, true, "approve");
      if (!found) return;
      await host.sendCommand(ServerCommands.approve, { execution: found.info.execution, signalId: found.gate.signalId });
      void ui.showInformationMessage(`Approved ${found.gate.signalId} of ${executionLabel(found.info)}`);
    }),

    [ClientCommands.reject]: guarded("Reject", async (node?: unknown) => {
      const found = await pickGate(node, true, "reject");
      if (!found) return;
      await host.sendCommand(ServerCommands.reject, { execution: found.info.execution, signalId: found.gate.signalId });
      void ui.showInformationMessage(`Rejected ${found.gate.signalId} of ${executionLabel(found.info)}`);
    }),

    [ClientCommands.provideInput]: guarded("Provide input", async (node?: unknown) => {
      const found = await pickGate(node, false, "answer");
      if (!found) return;
      // No `value`: runFlow asks for it by the gate's type.
      const result = await host.executeCommand(ServerCommands.setInput, { execution: found.info.execution, signalId: found.gate.signalId });
      if (result !== undefined) void ui.showInformationMessage(`Sent ${found.gate.signalId} to ${executionLabel(found.info)}`);
    }),

    [ClientCommands.selectProfile]: guarded("Select profile", async () => {
      const p = profileDeps();
      const changes = await selectProfile(p);
      if (!changes?.length) return;
      await refreshStatus();
      // What the server now uses, as it says (with flyte.backend = auto, a config file found by flytekit's
      // discovery outranks the local backend).
      const s = readProfileSettings(p.get);
      const status = await request<BackendStatus>(Methods.backendStatus, { refresh: true }).catch(() => undefined);
      const where = status ? describeStatus(status) : describeBackend(s, p.home);
      const problem = status?.error ? ` ${status.error}` : "";
      void ui.showInformationMessage(`Flyte profile: ${where} · ${s.project}/${s.domain}.${problem}`);
    }),

    [ClientCommands.startLocalBackend]: guarded("Start local backend", async () => {
      const timeout = deps.localBackendTimeoutMs ?? LOCAL_BACKEND_TIMEOUT_MS;
      const result = await ui.withProgress("Starting the local Flyte backend…", () =>
        withDeadline(host.sendCommand<StartLocalResult>(ServerCommands.startLocalBackend, {}), timeout, ServerCommands.startLocalBackend),
      );
      await refreshStatus();
      const where = `Admin at ${result.adminEndpoint ?? "?"}${result.consoleUrl ? `, console at ${result.consoleUrl}` : ""}`;
      // Whether Run and Register use it: the server says (a discovered config file may name another backend).
      const s = readProfileSettings(profileDeps().get);
      const status = await request<BackendStatus>(Methods.backendStatus, { refresh: true }).catch(() => undefined);
      const usesIt = status
        ? chosenLocal(status) || sameEndpoint(status.endpoint, result.adminEndpoint)
        : s.backend === "local" || !(s.endpoint || s.configFile);
      const elsewhere = usesIt ? "" : " Your profile names another backend: Select Profile → Local backend to use this one.";
      offer(`${result.started ? "Local Flyte backend started" : "The local Flyte backend is already running"}: ${where}.${elsewhere}`, {
        ...openUrl(result.consoleUrl),
        ...(elsewhere ? { "Select Profile": () => ui.executeCommand(ClientCommands.selectProfile) } : {}),
      });
    }),

    [ClientCommands.stopLocalBackend]: guarded("Stop local backend", async () => {
      const timeout = deps.localBackendTimeoutMs ?? LOCAL_BACKEND_TIMEOUT_MS;
      const result = await ui.withProgress("Stopping the local Flyte backend…", () =>
        withDeadline(host.sendCommand<StopLocalResult>(ServerCommands.stopLocalBackend, {}), timeout, ServerCommands.stopLocalBackend),
      );
      await refreshStatus();
      void ui.showInformationMessage(
        result.stopped ? `Local Flyte backend stopped (its state stays in ${result.stateDir}).` : `No local Flyte backend was running (${result.stateDir}).`,
      );
    }),

    [ClientCommands.showLogs]: async () => host.showLogs(),

    [ClientCommands.restartServer]: guarded("Restart server", async () => {
      await ui.withProgress("Restarting flyte-ls…", () => host.restart("Restart Server command"));
    }),
  };
}

/** The commands of the palette (every ClientCommands entry but the Executions view's). */
export const PALETTE_COMMANDS: readonly string[] = Object.values(ClientCommands).filter((id) => !id.startsWith("flyte-ls.executions."));

export function registerCommands(context: vscode.ExtensionContext, host: ServerHost, deps: CommandDeps): void {
  for (const [id, handler] of Object.entries(commandHandlers(host, deps))) {
    context.subscriptions.push(vscode.commands.registerCommand(id, handler));
  }
}

// ---- VS Code --------------------------------------------------------------------------------------------------

export function vscodeCommandsUi(): CommandsUi {
  const w = vscode.window;
  return {
    showInformationMessage: (message, ...items) => w.showInformationMessage(message, ...items),
    showWarningMessage: (message, options, ...items) => w.showWarningMessage(message, options, ...items),
    showErrorMessage: (message, ...items) => w.showErrorMessage(message, ...items),
    showQuickPick: (items, options) => w.showQuickPick(items, options),
    showInputBox: (options) => w.showInputBox(options),
    withProgress: (title, task) => w.withProgress({ location: vscode.ProgressLocation.Window, title }, task),
    activeEditor: () => {
      const editor = w.activeTextEditor;
      if (editor) {
        const doc = editor.document;
        return {
          uri: doc.uri.toString(),
          languageId: doc.languageId,
          isUntitled: doc.isUntitled,
          line: editor.selection.active.line,
          save: async () => !doc.isDirty || doc.save(),
          notebookUri: doc.uri.scheme === CELL_SCHEME ? jupyterNotebookOf(doc.uri.toString())?.uri.toString() : undefined,
        };
      }
      // A notebook whose selected cell is not being edited: that cell, as if the cursor were at its end.
      const notebook = w.activeNotebookEditor;
      const jupyter = notebook?.notebook.notebookType === JUPYTER_NOTEBOOK && notebook.notebook.cellCount > 0;
      const cell = jupyter ? notebook.notebook.cellAt(notebook.selection.start) : undefined;
      if (!notebook || !cell || cell.kind !== vscode.NotebookCellKind.Code) return undefined;
      return {
        uri: cell.document.uri.toString(),
        languageId: cell.document.languageId,
        isUntitled: false,
        line: Math.max(0, cell.document.lineCount - 1),
        save: async () => true,
        notebookUri: notebook.notebook.uri.toString(),
      };
    },
    saveDocument: async (uri) => {
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri);
      return !doc || !doc.isDirty || doc.save();
    },
    notebookOpen: (uri) => vscode.workspace.notebookDocuments.some((nb) => nb.uri.toString() === uri),
    openExternal: (url) => vscode.env.openExternal(vscode.Uri.parse(url)),
    executeCommand: (command, ...args) => vscode.commands.executeCommand(command, ...args),
  };
}

/** The open Jupyter notebook that holds the cell document `cellUri`. */
function jupyterNotebookOf(cellUri: string): vscode.NotebookDocument | undefined {
  return vscode.workspace.notebookDocuments.find(
    (nb) => nb.notebookType === JUPYTER_NOTEBOOK && nb.getCells().some((c) => c.document.uri.toString() === cellUri),
  );
}

/** Select Profile's settings: the `flyte` section of the active editor's folder (else the first folder). */
export function vscodeProfileSettings(): Omit<ProfileDeps, "ui" | "host"> {
  const editorUri = vscode.window.activeTextEditor?.document.uri;
  const folder = (editorUri && vscode.workspace.getWorkspaceFolder(editorUri)) || vscode.workspace.workspaceFolders?.[0];
  const config = () => vscode.workspace.getConfiguration("flyte", folder?.uri);
  const home = os.homedir();
  return {
    home,
    get: (key) => config().get(key),
    update: (key, value) => {
      const c = config();
      const target = updateTarget(c.inspect(key), Boolean(vscode.workspace.workspaceFolders?.length), Boolean(folder));
      return c.update(key, value, vscode.ConfigurationTarget[target]);
    },
    configFiles: () =>
      findConfigFiles({
        env: process.env,
        home,
        folders: (vscode.workspace.workspaceFolders ?? []).map((f) => ({ name: f.name, path: f.uri.fsPath })),
      }),
  };
}
