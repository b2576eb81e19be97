// The status bar item: the active profile (project/domain · endpoint or `local`) and whether the backend answers
// (`flyte/backendStatus`); a click selects the profile. What it shows is a pure function of the status
// (`statusView`); `StatusBarController` decides when to ask (server start, settings change, every minute while the
// window has focus, on demand) with a deadline per request; `createStatusBar` wires it to VS Code.
import * as vscode from "vscode";
import type { DisposableLike, ServerHost } from "./host";
import { chosenLocal, ClientCommands, Methods, type BackendStatus } from "./protocol";
import { errorText, sameEndpoint, withDeadline } from "./profile";

export const STATUS_TIMEOUT_MS = 5_000;
export const STATUS_INTERVAL_MS = 60_000;
const LINK_COMMANDS = [ClientCommands.selectProfile, ClientCommands.showLogs, ClientCommands.startLocalBackend, ClientCommands.restartServer];

export interface StatusView {
  text: string;
  /** Markdown (command links to LINK_COMMANDS allowed). */
  tooltip: string;
  command: string;
}

/** Markdown-escapes text that comes from the server or the user. */
export function md(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, "\\$&");
}

function code(text: string): string {
  return "`" + text.replace(/`/g, "'") + "`";
}

function link(label: string, target: string): string {
  return `[${md(label)}](${target.replace(/[()\s]/g, encodeURIComponent)})`;
}

/** Whether the status names the embedded local backend (chosen by `flyte.backend`, or the default when nothing
 * is configured). */
export function isLocal(s: BackendStatus): boolean {
  if (chosenLocal(s)) return true;
  if (s.source.toLowerCase().startsWith("local")) return true;
  if (s.local.running && sameEndpoint(s.endpoint, s.local.adminEndpoint)) return true;
  return !s.endpoint && !s.configFile;
}

export function statusView(s: BackendStatus): StatusView {
  const local = isLocal(s);
  // The first Run starts it: with flyte.local.autoStart, or whatever that says when flyte.backend chose it.
  const startsOnRun = chosenLocal(s) || s.autoStart;
  const waitingForFirstRun = local && !s.reachable && !s.local.running && startsOnRun;
  const where = local ? "local" : s.endpoint ? s.endpoint.replace(/^dns:\/\/\//, "") : "no backend";
  const icon = s.reachable ? " $(check)" : waitingForFirstRun ? "" : " $(warning)";
  const lines: string[] = [];
  const state = s.reachable ? "answers" : waitingForFirstRun ? "starts on the first Run" : "does not answer";
  lines.push(`**Flyte backend** ${local ? "(local)" : ""} — ${state}`, "");
  if (s.endpoint) lines.push(`- Endpoint: ${code(s.endpoint)}`);
  lines.push(`- Source: ${md(s.source)}`);
  lines.push(`- Project / domain: ${code(s.project)} / ${code(s.domain)}`);
  if (s.configFile) lines.push(`- Config file: ${code(s.configFile)}`);
  if (s.consoleUrl) lines.push(`- Console: ${link(s.consoleUrl, s.consoleUrl)}`);
  if (local || s.local.running) {
    const where = s.local.running
      ? `running at ${code(s.local.adminEndpoint ?? "?")}${s.local.pid ? ` (pid ${s.local.pid})` : ""}`
      : startsOnRun
        ? "not running; starts on the first Run or Register"
        : `not running, and ${code("flyte.local.autoStart")} is off: ${link("Start Local Backend", `command:${ClientCommands.startLocalBackend}`)}`;
    lines.push(`- Local backend: ${where}; state in ${code(s.local.stateDir)}`);
  }
  if (s.error) {
    lines.push("", `${waitingForFirstRun ? "$(info)" : "$(warning)"} ${md(s.error)}`);
    if (s.setting) lines.push("", `Setting to change: ${code(s.setting)}`);
  }
  lines.push("", `${link("Select Profile…", `command:${ClientCommands.selectProfile}`)} · ${link("Show Logs", `command:${ClientCommands.showLogs}`)}`);
  return { text: `$(cloud) ${s.project}/${s.domain} · ${where}${icon}`, tooltip: lines.join("\n"), command: ClientCommands.selectProfile };
}

export function failureView(message: string): StatusView {
  return {
    text: "$(warning) flyte-ls",
    tooltip: [
      "**Flyte backend**: no status", "",
      `$(warning) ${md(message)}`, "",
      `${link("Show Logs", `command:${ClientCommands.showLogs}`)} · ${link("Select Profile…", `command:${ClientCommands.selectProfile}`)}`,
    ].join("\n"),
    command: ClientCommands.selectProfile,
  };
}

export function serverDownView(): StatusView {
  return {
    text: "$(warning) flyte-ls",
    tooltip: [
      "**flyte-ls** is not running.", "",
      `${link("Restart Server", `command:${ClientCommands.restartServer}`)} · ${link("Show Logs", `command:${ClientCommands.showLogs}`)}`,
    ].join("\n"),
    command: ClientCommands.showLogs,
  };
}

/** What the controller needs of a `vscode.StatusBarItem`. */
export interface StatusItemLike {
  text: string;
  tooltip: string | vscode.MarkdownString | undefined;
  command: string | vscode.Command | undefined;
  show(): void;
  dispose(): void;
}

export interface StatusOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** The quiet time after a `flyte.*` settings change before asking (the server pulls the new settings first). */
  settleMs?: number;
  tooltip?: (markdown: string) => string | vscode.MarkdownString;
}

export class StatusBarController {
  private current?: Promise<void>;
  private next?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private settleTimer?: NodeJS.Timeout;
  private lastLogged?: string;
  private visible = false;
  private lastRefresh = 0;
  private readonly subscription: DisposableLike;
  private disposed = false;

  constructor(
    private readonly item: StatusItemLike,
    private readonly host: Pick<ServerHost, "sendRequest" | "log" | "isRunning" | "onDidChangeState">,
    private readonly options: StatusOptions = {},
  ) {
    this.subscription = host.onDidChangeState((running) => {
      if (running) void this.refresh();
      else this.show(serverDownView());
    });
    this.show(host.isRunning() ? { text: "$(sync~spin) flyte-ls", tooltip: "Asking the Flyte backend…", command: ClientCommands.selectProfile } : serverDownView());
    item.show();
  }

  /** Asks the server for the backend status now (one request at a time; a call during one asks again after it). */
  refresh(): Promise<void> {
    if (this.disposed) return Promise.resolve();
    if (!this.current) {
      this.current = this.ask().finally(() => {
        this.current = undefined;
      });
      return this.current;
    }
    this.next ??= this.current.then(() => {
      this.next = undefined;
      return this.refresh();
    });
    return this.next;
  }

  /** A `flyte.*` setting changed: ask once things settle. */
  configurationChanged(): void {
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => void this.refresh(), this.options.settleMs ?? 500);
  }

  /** Poll only while the window is visible (focused); catch up at once when it comes back. */
  setVisible(visible: boolean): void {
    const interval = this.options.intervalMs ?? STATUS_INTERVAL_MS;
    this.visible = visible;
    clearInterval(this.timer);
    this.timer = undefined;
    if (!visible || this.disposed) return;
    if (Date.now() - this.lastRefresh >= interval) void this.refresh();
    this.timer = setInterval(() => void this.refresh(), interval);
  }

  isPolling(): boolean {
    return this.visible && this.timer !== undefined;
  }

  dispose(): void {
    this.disposed = true;
    clearInterval(this.timer);
    clearTimeout(this.settleTimer);
    this.subscription.dispose();
    this.item.dispose();
  }

  private async ask(): Promise<void> {
    this.lastRefresh = Date.now();
    if (!this.host.isRunning()) {
      this.show(serverDownView());
      return;
    }
    try {
      const status = await withDeadline(
        this.host.sendRequest<BackendStatus>(Methods.backendStatus, { refresh: true }),
        this.options.timeoutMs ?? STATUS_TIMEOUT_MS,
        Methods.backendStatus,
      );
      this.lastLogged = undefined;
      this.show(statusView(status));
    } catch (err) {
      const message = errorText(err);
      if (message !== this.lastLogged) {
        this.host.log.warn(`Status bar: ${message}`);
        this.lastLogged = message;
      }
      this.show(failureView(message));
    }
  }

  private show(view: StatusView): void {
    if (this.disposed) return;
    this.item.text = view.text;
    this.item.tooltip = this.options.tooltip ? this.options.tooltip(view.tooltip) : view.tooltip;
    this.item.command = view.command;
  }
}

function markdown(text: string): vscode.MarkdownString {
  const m = new vscode.MarkdownString(text, true);
  m.isTrusted = { enabledCommands: LINK_COMMANDS };
  return m;
}

export function createStatusBar(context: vscode.ExtensionContext, host: ServerHost): { refresh(): Promise<void>; dispose(): void } {
  const item = vscode.window.createStatusBarItem("flyte-ls.status", vscode.StatusBarAlignment.Left, -100);
  item.name = "Flyte Backend";
  const controller = new StatusBarController(item, host, { tooltip: markdown });
  const subscriptions = [
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("flyte")) controller.configurationChanged();
    }),
    vscode.window.onDidChangeWindowState((state) => controller.setVisible(state.focused)),
  ];
  controller.setVisible(vscode.window.state.focused);
  const handle = {
    refresh: () => controller.refresh(),
    dispose: () => {
      subscriptions.forEach((s) => s.dispose());
      controller.dispose();
    },
  };
  context.subscriptions.push(handle);
  return handle;
}
