// The Flyte Executions view: the executions the server tracks (`flyte/executions`, kept live by
// `flyte/executionChanged`), newest first, each with its waiting gates and a few detail rows.
//
// ExecutionsModel holds the items and says which one changed (pure: no `vscode`); ExecutionsTreeProvider turns
// them into TreeItems; registerExecutionsView wires both to the server (ServerHost) and to VS Code, and
// registers the view's own commands (refresh, relaunch, reveal). Clicking an execution reveals its entity in
// its file, or in its cell for a run from a notebook (the console when it has no source); the inline buttons
// open the console, relaunch, terminate.
import * as vscode from "vscode";
import type { DisposableLike, ServerHost } from "./host";
import { isNotebookUri, revealInNotebook, type NotebookUi } from "./notebooks";
import {
  ClientCommands,
  DONE_PHASES,
  EXECUTIONS_VIEW_ID,
  Methods,
  ServerCommands,
  executionKey,
  type EntityItem,
  type ExecutionId,
  type ExecutionInfo,
  type ExecutionsNode,
  type Gate,
  type LspRange,
} from "./protocol";

export type ExecutionNode = Extract<ExecutionsNode, { type: "execution" }>;

const REQUEST_MS = 10_000; // flyte/executions, flyte/entities: answered from the server's memory
const COMMAND_MS = 60_000; // flyte.relaunch: one Admin call

// -- text -----------------------------------------------------------------------------------------------------
/** Like the server's lens: `850ms`, `12s`, `3m 05s`, `2h 04m`; whole seconds while running (it ticks). */
export function durationText(seconds: number, running = false): string {
  if (seconds < 1 && !running) return `${Math.round(seconds * 1000)}ms`;
  const s = running ? Math.floor(seconds) : Math.round(seconds);
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
}

/** The gist of an error message: a traceback's exception line (its last line that is not a frame), else the
 *  first line (as the server's diagnostics do). */
export function errorSummary(message: string | null | undefined): string {
  const lines = (message ?? "")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l);
  if (lines.length === 0) return "no error message";
  if (lines.some((l) => l.startsWith("Traceback (most recent call last)"))) {
    const exception = [...lines].reverse().find((l) => !/^(File |\^|~)/.test(l) && l.includes(":"));
    return truncate(exception ?? lines[lines.length - 1], 300);
  }
  return truncate(lines[0], 300);
}

function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : text.slice(0, limit - 1) + "…";
}

export function isActive(info: ExecutionInfo): boolean {
  return !DONE_PHASES.has(info.phase);
}

function waitingGates(info: ExecutionInfo): Gate[] {
  return isActive(info) ? (info.gates ?? []) : [];
}

export function hasSource(info: ExecutionInfo): boolean {
  return !!info.uri && !!info.entity;
}

/** Seconds since the start while it runs (so the view can tick), else the server's duration. */
export function elapsed(info: ExecutionInfo, now: number): number | null {
  if (isActive(info) && info.startedAt) {
    const started = Date.parse(info.startedAt);
    if (!Number.isNaN(started)) return Math.max(0, (now - started) / 1000);
  }
  return info.duration ?? null;
}

/** `SUCCEEDED`, `RUNNING 2/5`, `WAITING go`, `QUEUED`. */
export function phaseText(info: ExecutionInfo): string {
  const gates = waitingGates(info);
  if (gates.length) return "WAITING " + gates.map((g) => g.signalId).join(", ");
  if (isActive(info) && info.nodesTotal) return `${info.phase} ${info.nodesDone ?? 0}/${info.nodesTotal}`;
  return info.phase;
}

/** `phase · duration · project/domain`. */
export function description(info: ExecutionInfo, now: number): string {
  const parts = [phaseText(info)];
  const seconds = elapsed(info, now);
  if (seconds !== null) parts.push(durationText(seconds, isActive(info)));
  parts.push(`${info.execution.project}/${info.execution.domain}`);
  return parts.join(" · ");
}

/** The outputs as `[name, value]` rows: the server sends a summary string (`o0=42, o1='a'`) or an object. */
export function outputRows(outputs: ExecutionInfo["outputs"] | string): [string, string][] {
  if (outputs === null || outputs === undefined || outputs === "") return [];
  if (typeof outputs === "string") return [["outputs", outputs]];
  return Object.entries(outputs).map(([name, value]) => [name, typeof value === "string" ? value : JSON.stringify(value)]);
}

export interface Icon {
  id: string;
  color?: string;
}

/** The phase's icon (codicon id and theme color). */
export function phaseIcon(info: ExecutionInfo): Icon {
  if (waitingGates(info).length) return { id: "debug-pause", color: "charts.yellow" };
  switch (info.phase) {
    case "SUCCEEDED":
      return { id: "pass", color: "testing.iconPassed" };
    case "FAILED":
      return { id: "error", color: "testing.iconFailed" };
    case "ABORTED":
      return { id: "circle-slash" };
    case "TIMED_OUT":
      return { id: "watch", color: "testing.iconFailed" };
    case "UNKNOWN":
      return { id: "question" };
    case "QUEUED":
    case "UNDEFINED":
      return { id: "clock" };
    default: // RUNNING, SUCCEEDING, FAILING, ABORTING
      return { id: "sync~spin" };
  }
}

export function contextValue(node: ExecutionsNode): string {
  switch (node.type) {
    case "execution":
      return `execution.${isActive(node.info) ? "active" : "done"}${hasSource(node.info) ? ".hasSource" : ""}`;
    case "gate":
      return node.gate.kind === "approve" ? "gate.approve" : "gate.input";
    case "detail":
      return "detail";
  }
}

/** The tooltip's Markdown: id, phase, start, nodes, error, outputs, console link. */
export function tooltipMarkdown(info: ExecutionInfo, now: number): string {
  const code = (text: string) => "`` " + text.replace(/`/g, "'") + " ``";
  const lines = [`**${escapeMarkdown(info.entity || info.execution.name)}** · ${info.phase}`, ""];
  lines.push(`Execution: ${code(executionKey(info.execution))}`);
  if (info.startedAt) {
    const started = new Date(info.startedAt);
    lines.push(`Started: ${Number.isNaN(started.getTime()) ? info.startedAt : started.toLocaleString()}`);
  }
  const seconds = elapsed(info, now);
  if (seconds !== null) lines.push(`Duration: ${durationText(seconds, isActive(info))}`);
  if (info.nodesTotal) lines.push(`Nodes: ${info.nodesDone ?? 0}/${info.nodesTotal} done`);
  for (const gate of waitingGates(info)) {
    lines.push(`Waiting: ${code(gate.signalId)} (${gate.kind === "approve" ? "approval" : `input, ${gate.type}`})`);
  }
  if (info.entity && info.uri) lines.push(`Source: ${code(info.entity)} in ${code(decodeURIComponent(info.uri.replace(/^file:\/\//, "")))}`);
  for (const [name, value] of outputRows(info.outputs)) lines.push(`Output ${code(name)}: ${code(truncate(value, 500))}`);
  const text = lines.map((l) => (l ? l + "  " : l)).join("\n");
  let more = "";
  if (info.error) {
    const kind = info.error.kind ? ` (${info.error.kind})` : "";
    more += `\n\n**Error${kind}:** ${code(errorSummary(info.error.message))}`;
    if (info.error.message) more += "\n\n```text\n" + truncate(info.error.message, 3000).replace(/```/g, "'''") + "\n```";
  }
  if (info.consoleUrl) more += `\n\n[Open in console](${info.consoleUrl})`;
  return text + more;
}

function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, "\\$&");
}

// -- the model --------------------------------------------------------------------------------------------------
/** Which part of the tree changed: one execution (its item and children), or the whole tree (undefined). */
export type ModelChange = ExecutionNode | undefined;

export class ExecutionsModel {
  // in tracking order (oldest first, as `flyte/executions` lists them); one node object per execution for
  // as long as it is tracked: VS Code finds a changed element by identity
  private nodes = new Map<string, ExecutionNode>();
  private listeners: ((change: ModelChange) => void)[] = [];

  /** The whole list (a `flyte/executions` answer, oldest tracked first). */
  replaceAll(items: ExecutionInfo[]): void {
    const next = new Map<string, ExecutionNode>();
    for (const info of items) {
      const key = executionKey(info.execution);
      const node = this.nodes.get(key) ?? { type: "execution", info };
      node.info = info;
      next.delete(key); // a repeated key moves to its last position
      next.set(key, node);
    }
    this.nodes = next;
    this.fire(undefined);
  }

  /** One execution's new state (a `flyte/executionChanged`): a new one goes on top. */
  update(info: ExecutionInfo): void {
    const key = executionKey(info.execution);
    const node = this.nodes.get(key);
    if (node) {
      node.info = info;
      this.fire(node);
    } else {
      this.nodes.set(key, { type: "execution", info });
      this.fire(undefined);
    }
  }

  /** The executions, newest first. */
  roots(): ExecutionNode[] {
    return [...this.nodes.values()].reverse();
  }

  /** An execution's waiting gates, then its details (outputs, error, nodes). */
  children(node: ExecutionsNode): ExecutionsNode[] {
    if (node.type !== "execution") return [];
    const info = node.info;
    const gates: ExecutionsNode[] = waitingGates(info).map((gate) => ({ type: "gate", info, gate }));
    const details: ExecutionsNode[] = outputRows(info.outputs).map(([label, value]) => ({ type: "detail", info, label, value }));
    if (info.error) {
      const kind = info.error.kind ? ` (${info.error.kind})` : "";
      details.push({ type: "detail", info, label: `error${kind}`, value: errorSummary(info.error.message) });
    }
    if (info.nodesTotal) {
      details.push({ type: "detail", info, label: "nodes", value: `${info.nodesDone ?? 0}/${info.nodesTotal} done` });
    }
    return [...gates, ...details];
  }

  parent(node: ExecutionsNode): ExecutionNode | undefined {
    return node.type === "execution" ? undefined : this.nodes.get(executionKey(node.info.execution));
  }

  /** The execution node of `ex:`-less key `project:domain:name` (protocol `executionKey`). */
  get(key: string): ExecutionNode | undefined {
    return this.nodes.get(key);
  }

  /** Executions not in a terminal phase, newest first. */
  active(): ExecutionInfo[] {
    return this.roots()
      .map((n) => n.info)
      .filter(isActive);
  }

  onDidChange(listener: (change: ModelChange) => void): DisposableLike {
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  }

  private fire(change: ModelChange): void {
    for (const l of [...this.listeners]) l(change);
  }
}

// -- the tree ---------------------------------------------------------------------------------------------------
function themeIcon(icon: Icon): vscode.ThemeIcon {
  return new vscode.ThemeIcon(icon.id, icon.color ? new vscode.ThemeColor(icon.color) : undefined);
}

export class ExecutionsTreeProvider implements vscode.TreeDataProvider<ExecutionsNode> {
  private readonly emitter = new vscode.EventEmitter<ExecutionsNode | ExecutionsNode[] | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly subscription: DisposableLike;

  constructor(
    private readonly model: ExecutionsModel,
    private readonly now: () => number = Date.now,
  ) {
    this.subscription = model.onDidChange((change) => this.emitter.fire(change));
  }

  getChildren(node?: ExecutionsNode): ExecutionsNode[] {
    return node ? this.model.children(node) : this.model.roots();
  }

  getParent(node: ExecutionsNode): ExecutionsNode | undefined {
    return this.model.parent(node);
  }

  getTreeItem(node: ExecutionsNode): vscode.TreeItem {
    const key = executionKey(node.info.execution);
    switch (node.type) {
      case "execution":
        return this.executionItem(node, key);
      case "gate": {
        const approve = node.gate.kind === "approve";
        const item = new vscode.TreeItem(node.gate.signalId, vscode.TreeItemCollapsibleState.None);
        item.id = `${key}/gate/${node.gate.signalId}`;
        item.description = approve ? "waiting for approval" : `waiting for input · ${node.gate.type}`;
        item.tooltip = approve
          ? `Gate ${node.gate.signalId} waits for approval: Approve or Reject.`
          : `Gate ${node.gate.signalId} waits for a ${node.gate.type} value: click to provide it.`;
        item.iconPath = new vscode.ThemeIcon(approve ? "question" : "edit");
        item.contextValue = contextValue(node);
        if (!approve) item.command = { command: ClientCommands.provideInput, title: "Provide Input…", arguments: [node] };
        return item;
      }
      case "detail": {
        const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
        item.id = `${key}/detail/${node.label}`;
        item.description = truncate(node.value.replace(/\s+/g, " "), 200);
        item.tooltip = node.value;
        item.contextValue = contextValue(node);
        return item;
      }
    }
  }

  private executionItem(node: ExecutionNode, key: string): vscode.TreeItem {
    const info = node.info;
    const children = this.model.children(node);
    const state =
      children.length === 0
        ? vscode.TreeItemCollapsibleState.None
        : children.some((c) => c.type === "gate")
          ? vscode.TreeItemCollapsibleState.Expanded
          : vscode.TreeItemCollapsibleState.Collapsed;
    const item = new vscode.TreeItem(info.entity || info.execution.name, state);
    const now = this.now();
    item.id = key;
    item.description = description(info, now);
    item.iconPath = themeIcon(phaseIcon(info));
    const tooltip = new vscode.MarkdownString(tooltipMarkdown(info, now));
    tooltip.supportThemeIcons = false;
    item.tooltip = tooltip;
    item.contextValue = contextValue(node);
    item.command = hasSource(info)
      ? { command: ClientCommands.revealEntity, title: "Reveal Entity in File", arguments: [node] }
      : { command: ClientCommands.openConsole, title: "Open in Console", arguments: [node] };
    return item;
  }

  /** Re-render these executions (their durations) without touching the rest. */
  refreshItems(nodes: ExecutionsNode[]): void {
    if (nodes.length) this.emitter.fire(nodes);
  }

  dispose(): void {
    this.subscription.dispose();
    this.emitter.dispose();
  }
}

/** Every second while something runs and the view is visible, re-render the running executions. */
export class RunningTicker {
  private timer: DisposableLike | undefined;

  constructor(
    private readonly model: ExecutionsModel,
    private readonly isVisible: () => boolean,
    private readonly tick: (nodes: ExecutionNode[]) => void,
    private readonly every: (fn: () => void, ms: number) => DisposableLike = (fn, ms) => {
      const handle = setInterval(fn, ms);
      return { dispose: () => clearInterval(handle) };
    },
  ) {}

  private running(): ExecutionNode[] {
    return this.model.roots().filter((n) => isActive(n.info) && !!n.info.startedAt);
  }

  /** Start or stop the timer after the model or the view's visibility changed. */
  update(): void {
    const needed = this.isVisible() && this.running().length > 0;
    if (needed && !this.timer) {
      this.timer = this.every(() => {
        const running = this.running();
        if (running.length && this.isVisible()) this.tick(running);
        else this.update();
      }, 1000);
    } else if (!needed && this.timer) {
      this.timer.dispose();
      this.timer = undefined;
    }
  }

  get ticking(): boolean {
    return this.timer !== undefined;
  }

  dispose(): void {
    this.timer?.dispose();
    this.timer = undefined;
  }
}

// -- actions ------------------------------------------------------------------------------------------------------
/** The `vscode.window` functions the actions use (a fake in the unit tests). */
export interface ViewUi extends NotebookUi {
  showInformationMessage(message: string, ...items: string[]): Thenable<string | undefined>;
  showErrorMessage(message: string, ...items: string[]): Thenable<string | undefined>;
  /** Opens `uri` with `selection` selected and revealed (the top of the file without one). */
  showTextDocument(uri: string, selection?: LspRange): Thenable<unknown>;
}

export function vscodeViewUi(): ViewUi {
  return {
    showInformationMessage: (message, ...items) => vscode.window.showInformationMessage(message, ...items),
    showErrorMessage: (message, ...items) => vscode.window.showErrorMessage(message, ...items),
    showTextDocument: (uri, selection) =>
      vscode.window.showTextDocument(vscode.Uri.parse(uri), {
        preview: true,
        selection: selection
          ? new vscode.Range(selection.start.line, selection.start.character, selection.end.line, selection.end.character)
          : undefined,
      }),
    showNotebook: async (uri) => {
      const notebook = await vscode.workspace.openNotebookDocument(vscode.Uri.parse(uri));
      await vscode.window.showNotebookDocument(notebook, { preview: true });
      return notebook
        .getCells()
        .filter((cell) => cell.kind === vscode.NotebookCellKind.Code)
        .map((cell) => cell.document.uri.toString());
    },
    showNotebookCell: async (notebookUri, cellUri, selection) => {
      const notebook = vscode.workspace.notebookDocuments.find((nb) => nb.uri.toString() === notebookUri);
      const cell = notebook?.getCells().find((c) => c.document.uri.toString() === cellUri);
      if (!notebook || !cell) throw new Error(`the cell ${cellUri} is no longer in the notebook`);
      const cells = new vscode.NotebookRange(cell.index, cell.index + 1);
      const editor = await vscode.window.showNotebookDocument(notebook, { selections: [cells], preview: true });
      editor.revealRange(cells, vscode.NotebookEditorRevealType.InCenterIfOutsideViewport);
      // A cell's text document opens in its notebook editor: the entity's name selected in the cell.
      const range = new vscode.Range(selection.start.line, selection.start.character, selection.end.line, selection.end.character);
      return vscode.window.showTextDocument(cell.document, { selection: range, viewColumn: editor.viewColumn, preview: true });
    },
  };
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s; see Flyte: Show Logs.`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function showFailure(host: ServerHost, ui: ViewUi, message: string): void {
  host.log.error(message);
  void ui.showErrorMessage(message, "Show Logs").then((choice) => {
    if (choice === "Show Logs") host.showLogs();
  });
}

/** The execution of a context-menu argument (or of the view's selection when called without one). */
function executionOf(node: ExecutionsNode | undefined): ExecutionInfo | undefined {
  return node?.info;
}

/**
 * Opens the file of an execution's entity with the entity's name selected (`flyte/entities`' selectionRange);
 * the top of the file when the entity is no longer in it. A run from a notebook opens the notebook editor at
 * the entity's cell (notebooks.ts). False when there was nothing to open.
 */
export async function revealEntity(host: ServerHost, ui: ViewUi, node: ExecutionsNode | undefined): Promise<boolean> {
  const info = executionOf(node);
  if (!info) {
    void ui.showInformationMessage("Select an execution in the Flyte Executions view first.");
    return false;
  }
  if (!info.uri || !info.entity) {
    void ui.showInformationMessage(
      `${info.execution.name} was tracked without its source file (started elsewhere): use Open in Console.`,
    );
    return false;
  }
  if (isNotebookUri(info.uri)) {
    // Run from a notebook (tracked under its URI): the notebook editor, at the entity in its cell.
    try {
      await revealInNotebook(host, ui, info.uri, info.entity);
      return true;
    } catch (err) {
      showFailure(host, ui, `Cannot open ${info.uri}: ${messageOf(err)}`);
      return false;
    }
  }
  let range: LspRange | undefined;
  try {
    const entities = await withDeadline(
      host.sendRequest<EntityItem[] | null>(Methods.entities, { textDocument: { uri: info.uri } }),
      REQUEST_MS,
      Methods.entities,
    );
    const found = (entities ?? []).find((e) => e.name === info.entity);
    range = found?.selectionRange;
    if (!found) void ui.showInformationMessage(`${info.entity} is no longer defined in this file.`);
  } catch (err) {
    // the file may still open (e.g. the server is restarting): say why the entity isn't selected
    host.log.warn(`Reveal ${info.entity}: ${messageOf(err)}`);
  }
  try {
    await ui.showTextDocument(info.uri, range);
    return true;
  } catch (err) {
    showFailure(host, ui, `Cannot open ${info.uri}: ${messageOf(err)}`);
    return false;
  }
}

/** `flyte.relaunch {execution}`: the same entity and inputs again; the new execution joins the view. */
export async function relaunch(host: ServerHost, ui: ViewUi, node: ExecutionsNode | undefined): Promise<ExecutionId | undefined> {
  const info = executionOf(node);
  if (!info) {
    void ui.showInformationMessage("Select an execution in the Flyte Executions view first.");
    return undefined;
  }
  const label = info.entity || info.execution.name;
  try {
    const result = await withDeadline(
      host.executeCommand<{ execution: ExecutionId; consoleUrl: string | null }>(ServerCommands.relaunch, {
        execution: info.execution,
      }),
      COMMAND_MS,
      ServerCommands.relaunch,
    );
    if (!result) return undefined;
    host.log.info(`Relaunched ${label} (${info.execution.name}) as ${result.execution.name}`);
    void ui.showInformationMessage(`Relaunched ${label} as ${result.execution.name}.`, "Open Console").then((choice) => {
      if (choice === "Open Console") {
        host.executeCommand(ServerCommands.openConsole, { execution: result.execution }).catch((err: unknown) => {
          showFailure(host, ui, messageOf(err));
        });
      }
    });
    return result.execution;
  } catch (err) {
    showFailure(host, ui, messageOf(err));
    return undefined;
  }
}

/**
 * Keeps the model in step with the server: `refresh()` asks `flyte/executions`; `flyte/executionChanged`
 * updates one item. A change that arrives while a refresh is under way is applied again after it, so an older
 * list never overwrites a newer state.
 */
export class ExecutionsSync {
  private during: ExecutionInfo[] | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly host: ServerHost,
    readonly model: ExecutionsModel,
  ) {}

  changed(info: ExecutionInfo): void {
    if (!info || typeof info !== "object" || !info.execution) {
      this.host.log.warn(`Ignored a malformed ${Methods.executionChanged}: ${JSON.stringify(info)}`);
      return;
    }
    this.during?.push(info);
    this.model.update(info);
  }

  /** One `flyte/executions` at a time; a call while one runs waits for it. Rejects with the reason. */
  refresh(): Promise<void> {
    this.inFlight ??= this.fetch().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async fetch(): Promise<void> {
    this.during = [];
    try {
      const items = await withDeadline(
        this.host.sendRequest<ExecutionInfo[] | null>(Methods.executions, {}),
        REQUEST_MS,
        Methods.executions,
      );
      const later = this.during;
      this.model.replaceAll(items ?? []);
      for (const info of later) this.model.update(info);
    } finally {
      this.during = undefined;
    }
  }
}

// -- wiring -------------------------------------------------------------------------------------------------------
export function registerExecutionsView(
  context: vscode.ExtensionContext,
  host: ServerHost,
  ui: ViewUi = vscodeViewUi(),
): { model: ExecutionsModel; refresh(): Promise<void>; dispose(): void } {
  const model = new ExecutionsModel();
  const provider = new ExecutionsTreeProvider(model);
  const sync = new ExecutionsSync(host, model);
  const view = vscode.window.createTreeView(EXECUTIONS_VIEW_ID, { treeDataProvider: provider, showCollapseAll: true });
  const ticker = new RunningTicker(model, () => view.visible !== false, (nodes) => provider.refreshItems(nodes));

  const showBadge = () => {
    const running = model.active().length;
    view.badge = running ? { value: running, tooltip: `${running} execution${running === 1 ? "" : "s"} in progress` } : undefined;
  };
  const refresh = async () => {
    try {
      await sync.refresh();
    } catch (err) {
      host.log.warn(`Flyte Executions: ${messageOf(err)}`);
      throw err;
    }
  };
  const quietRefresh = () => void refresh().catch(() => undefined); // logged by refresh

  const disposables: DisposableLike[] = [
    view,
    provider,
    ticker,
    model.onDidChange(() => {
      ticker.update();
      showBadge();
    }),
    host.onNotification(Methods.executionChanged, (params) => sync.changed(params as ExecutionInfo)),
    host.onDidChangeState((running) => {
      if (running) quietRefresh();
    }),
    vscode.commands.registerCommand(ClientCommands.refreshExecutions, async () => {
      try {
        await refresh();
      } catch (err) {
        showFailure(host, ui, `Cannot list the Flyte executions: ${messageOf(err)}`);
      }
    }),
    vscode.commands.registerCommand(ClientCommands.relaunch, (node?: ExecutionsNode) =>
      relaunch(host, ui, node ?? view.selection?.[0]),
    ),
    vscode.commands.registerCommand(ClientCommands.revealEntity, (node?: ExecutionsNode) =>
      revealEntity(host, ui, node ?? view.selection?.[0]),
    ),
  ];
  if (view.onDidChangeVisibility) disposables.push(view.onDidChangeVisibility(() => ticker.update()));
  if (host.isRunning()) quietRefresh();

  const dispose = () => {
    for (const d of disposables.splice(0)) d.dispose();
  };
  context.subscriptions.push({ dispose });
  return { model, refresh, dispose };
}
