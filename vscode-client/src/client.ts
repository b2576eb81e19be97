// The running language server, as the rest of the extension sees it (`ServerHost`): one object for the whole
// session that owns the current vscode-languageclient `LanguageClient` and starts a new one on restart.
//
// A start: the interpreter (interpreter.ts; a warning with the remedy when there is none), the server command
// (serverInstall.ts; may create the private environment first, with progress), then the client with
// - initializationOptions `{flyte: <the flyte section, pythonPath filled>, pythonPath: <the interpreter>}` (the
//   server reads the top-level pythonPath as the editor's interpreter),
// - `workspace/configuration` answers with `pythonPath` filled the same way,
// - every server command VS Code runs (code lenses) going through runFlow's prompts, a failure shown with the
//   server's message and "Show Logs",
// - Python files synced as text, Python cells of Jupyter notebooks through notebook sync (notebooks.ts).
// Restarts: on `flyte.serverCommand` / `flyte.interpreter` changes and when the Python extension's interpreter
// changes. Notification handlers and state listeners are kept here, so they survive restarts.
import * as readline from "node:readline";
import * as vscode from "vscode";
import { LanguageClient, RevealOutputChannelOn, type LanguageClientOptions, type ServerOptions } from "vscode-languageclient/node";
import type { DisposableLike, Logger, ServerHost } from "./host";
import { vscodeInputUi, type InputUi, type Memento } from "./inputs";
import {
  describe as describeInterpreter,
  interpreterWarning,
  resolveInterpreter,
  runFile,
  vscodeInterpreterSources,
  warnAboutInterpreter,
  watchInterpreter,
  withDeadline,
  type Interpreter,
  type InterpreterSources,
} from "./interpreter";
import { DOCUMENT_SELECTOR, importsFromDisk } from "./notebooks";
import { Methods, SETTINGS_SECTION, type ExecutionInfo } from "./protocol";
import { errorMessage, executeWithPrompts, type FlowDeps } from "./runFlow";
import { InstallCancelled, prepareServer, type InstallUi, type Prepared } from "./serverInstall";

export const CLIENT_ID = "flyte"; // the settings' prefix: `flyte.trace.server` is read by the LanguageClient
export const CLIENT_NAME = "Flyte";
export const RUNNING_CONTEXT_KEY = "flyte-ls.serverRunning";
export const START_TIMEOUT_MS = 60_000;
export const STOP_TIMEOUT_MS = 5_000;
/** Interpreter events come in bursts (a selection fires several): wait this long for the last. */
export const INTERPRETER_DEBOUNCE_MS = 500;
/** Settings of the extension itself, not the server's: left out of what the server gets. */
export const CLIENT_ONLY_SETTINGS = ["interpreter", "serverCommand", "trace"];
const SHOW_LOGS = "Show Logs";
const RETRY = "Retry";
const OPEN_SETTINGS = "Open Settings";
const NOT_RUNNING = "The Flyte language server is not running: run Flyte: Restart Server, or see Flyte: Show Logs.";
const REQUEST_CANCELLED = -32800;

type Json = Record<string, unknown>;

/** The `flyte` section as the server gets it: client-only keys left out, `pythonPath` filled when not set. */
export function serverSettings(section: unknown, interpreterPath: string | undefined): Json {
  const out: Json = {};
  if (section && typeof section === "object" && !Array.isArray(section)) {
    for (const [key, value] of Object.entries(section as Json)) {
      if (!CLIENT_ONLY_SETTINGS.includes(key)) out[key] = value;
    }
  }
  if (!(typeof out.pythonPath === "string" && out.pythonPath.trim() !== "") && interpreterPath) out.pythonPath = interpreterPath;
  return out;
}

export function initializationOptions(section: unknown, interpreterPath: string | undefined): Json {
  const options: Json = { [SETTINGS_SECTION]: serverSettings(section, interpreterPath) };
  if (interpreterPath) options.pythonPath = interpreterPath;
  return options;
}

/** `workspace/configuration`'s answer with the `flyte` items (or the whole configuration's `flyte`) filled. */
export function fillConfiguration(items: { section?: string | null }[], results: unknown[], interpreterPath: string | undefined): unknown[] {
  return results.map((result, i) => {
    const section = items[i]?.section;
    if (section === SETTINGS_SECTION) return serverSettings(result, interpreterPath);
    if (!section && result && typeof result === "object") {
      const all = result as Json;
      return { ...all, [SETTINGS_SECTION]: serverSettings(all[SETTINGS_SECTION], interpreterPath) };
    }
    return result;
  });
}

/** The log level of a line of the server's stderr ("2026-… WARNING flyte_ls.x: …"; tracebacks are errors). */
export function stderrLevel(line: string): "info" | "warn" | "error" {
  if (/^\S+ \S+ (DEBUG|INFO) /.test(line)) return "info";
  if (/^\S+ \S+ WARNING /.test(line)) return "warn";
  return "error";
}

/** What this module needs of a vscode-languageclient LanguageClient (tests pass a fake). */
export interface LanguageClientLike {
  start(): Promise<void>;
  stop(timeout?: number): Promise<void>;
  isRunning(): boolean;
  sendRequest<R>(method: string, params: unknown): Promise<R>;
  onNotification(method: string, handler: (params: unknown) => void): DisposableLike;
  onDidChangeState(listener: (event: { oldState: number; newState: number }) => unknown): DisposableLike;
}

export type ClientFactory = (serverOptions: ServerOptions, clientOptions: LanguageClientOptions) => LanguageClientLike;

/** The vscode.window / commands functions used here. */
export interface ClientUi extends InstallUi {
  showErrorMessage(message: string, ...items: string[]): PromiseLike<string | undefined>;
  showWarningMessage(message: string, ...items: string[]): PromiseLike<string | undefined>;
  executeCommand(command: string, ...args: unknown[]): PromiseLike<unknown>;
  /** Saves the open document `uri` when it has unsaved changes: false when that failed. */
  saveDocument(uri: string): PromiseLike<boolean>;
}

/** Commands that import the entity's file from disk: a lens click saves the open document first (not a
 *  notebook's: the server runs its cells as the editor has them). */
const IMPORTING_COMMANDS: ReadonlySet<string> = new Set([
  "flyte.execute",
  "flyte.register",
  "flyte.activateLaunchPlan",
  "flyte.backfill",
]);

export interface ServerClientOptions {
  /** The "Flyte" log channel (`vscode.window.createOutputChannel("Flyte", { log: true })`). */
  channel: vscode.LogOutputChannel;
  /** Where the inputs given and the last run are remembered (the workspace state). */
  memory: Memento;
  /** The extension's `bundled/` folder and `<globalStorage>/server`. */
  bundledDir: string;
  storageRoot: string;
  ui?: ClientUi;
  inputUi?: InputUi;
  sources?: InterpreterSources;
  resolve?: (sources: InterpreterSources, log: Logger) => Promise<Interpreter>;
  prepare?: (interpreter: Interpreter) => Promise<Prepared>;
  createClient?: ClientFactory;
  flow?: (deps: FlowDeps, command: string, arg: Json) => Promise<unknown>;
  /** How long the server may take to answer `initialize` (default START_TIMEOUT_MS). */
  startTimeoutMs?: number;
  /** The `flyte` section and the two settings a change of which restarts the server. */
  settings?: () => { section: unknown; serverCommand: string[] | undefined; workspaceFolder: string | undefined };
}

export function vscodeClientUi(): ClientUi {
  return {
    showErrorMessage: (message, ...items) => vscode.window.showErrorMessage(message, ...items),
    showWarningMessage: (message, ...items) => vscode.window.showWarningMessage(message, ...items),
    executeCommand: (command, ...args) => vscode.commands.executeCommand(command, ...args),
    saveDocument: async (uri) => {
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri);
      return !doc || !doc.isDirty || (await doc.save());
    },
    withProgress: (title, task) =>
      vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) =>
        task((message, increment) => progress.report({ message, increment }), token),
      ),
  };
}

function vscodeSettings(): { section: unknown; serverCommand: string[] | undefined; workspaceFolder: string | undefined } {
  const folder = vscode.workspace.workspaceFolders?.[0];
  const config = vscode.workspace.getConfiguration(undefined, folder?.uri);
  return {
    section: config.get(SETTINGS_SECTION),
    serverCommand: vscode.workspace.getConfiguration(SETTINGS_SECTION, folder?.uri).get<string[]>("serverCommand"),
    workspaceFolder: folder?.uri.fsPath,
  };
}

/** VS Code's `http.proxy` for pip, unless the environment already names a proxy. */
function proxyEnv(): NodeJS.ProcessEnv {
  const proxy = vscode.workspace.getConfiguration("http").get<string>("proxy");
  if (!proxy || process.env.HTTPS_PROXY || process.env.https_proxy) return {};
  return { HTTPS_PROXY: proxy, HTTP_PROXY: proxy };
}

const realClient: ClientFactory = (serverOptions, clientOptions) => new LanguageClient(CLIENT_ID, CLIENT_NAME, serverOptions, clientOptions);

export class ServerClient implements ServerHost, vscode.Disposable {
  readonly log: Logger;
  private client: LanguageClientLike | undefined;
  private clientSubs: DisposableLike[] = [];
  private readonly handlers = new Map<string, Set<(params: unknown) => void>>();
  private readonly attached = new Set<string>(); // methods with a dispatcher on the current client
  private readonly stateListeners = new Set<(running: boolean) => void>();
  private running = false;
  private interpreter: Interpreter | undefined;
  private readonly warned = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  private pendingRestart = false;
  private abortStart: (() => void) | undefined; // ends the wait for a starting client when it is stopped
  private watchers: DisposableLike[] = [];
  private debounce: NodeJS.Timeout | undefined;
  private disposed = false;
  private readonly ui: ClientUi;
  private readonly sources: InterpreterSources;
  private readonly settings: NonNullable<ServerClientOptions["settings"]>;

  constructor(private readonly options: ServerClientOptions) {
    this.log = options.channel;
    this.ui = options.ui ?? vscodeClientUi();
    this.sources = options.sources ?? vscodeInterpreterSources();
    this.settings = options.settings ?? vscodeSettings;
  }

  /** The interpreter of the last start. */
  get currentInterpreter(): Interpreter | undefined {
    return this.interpreter;
  }

  // ---- ServerHost ------------------------------------------------------------------------------------------

  showLogs(): void {
    this.options.channel.show(true);
  }

  isRunning(): boolean {
    return this.running && (this.client?.isRunning() ?? false);
  }

  onDidChangeState(listener: (running: boolean) => void): DisposableLike {
    this.stateListeners.add(listener);
    return { dispose: () => this.stateListeners.delete(listener) };
  }

  async sendRequest<R>(method: string, params: unknown): Promise<R> {
    const client = this.client;
    if (!client || !this.isRunning()) throw new Error(NOT_RUNNING);
    return client.sendRequest<R>(method, params);
  }

  sendCommand<R>(command: string, arg: Json): Promise<R> {
    return this.sendRequest<R>("workspace/executeCommand", { command, arguments: [arg] });
  }

  async executeCommand<R>(command: string, arg: Json): Promise<R | undefined> {
    const flow = this.options.flow ?? executeWithPrompts;
    return (await flow(this.flowDeps(), command, arg)) as R | undefined;
  }

  onNotification(method: string, handler: (params: unknown) => void): DisposableLike {
    let set = this.handlers.get(method);
    if (!set) this.handlers.set(method, (set = new Set()));
    set.add(handler);
    if (this.client) this.attach(this.client, method);
    return { dispose: () => set.delete(handler) };
  }

  /** Stops the server and starts it again; restarts asked for while one runs make one more. */
  restart(reason?: string): Promise<void> {
    if (this.pendingRestart) return this.queue;
    this.pendingRestart = true;
    this.queue = this.queue.then(async () => {
      this.pendingRestart = false;
      if (this.disposed) return;
      this.log.info(`Restarting the server${reason ? `: ${reason}` : ""}.`);
      await this.stopClient();
      await this.startClient();
    });
    return this.queue;
  }

  // ---- Lifecycle -------------------------------------------------------------------------------------------

  /** The first start, and the watches that restart the server. Never rejects: failures are shown and logged. */
  start(): Promise<void> {
    if (this.watchers.length === 0) void this.watch();
    this.queue = this.queue.then(() => this.startClient());
    return this.queue;
  }

  /** Stops the server (executions in flight stay tracked: the server persists them). */
  stop(): Promise<void> {
    this.queue = this.queue.then(() => this.stopClient());
    return this.queue;
  }

  /** Stops the server at once (also one still starting); queued starts and restarts then do nothing. */
  async dispose(): Promise<void> {
    this.disposed = true;
    clearTimeout(this.debounce);
    this.watchers.forEach((w) => w.dispose());
    this.watchers = [];
    await this.stopClient();
  }

  private async watch(): Promise<void> {
    this.watchers.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        for (const key of ["serverCommand", "interpreter"]) {
          if (e.affectsConfiguration(`${SETTINGS_SECTION}.${key}`)) {
            void this.restart(`${SETTINGS_SECTION}.${key} changed`);
            return;
          }
        }
      }),
    );
    const sub = await watchInterpreter(this.sources, () => this.interpreterEvent());
    if (this.disposed) sub.dispose();
    else this.watchers.push(sub);
  }

  /** The Python extension's selection changed: restart when it changes the interpreter the server uses. */
  interpreterEvent(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.checkInterpreter(), INTERPRETER_DEBOUNCE_MS);
  }

  private async checkInterpreter(): Promise<void> {
    const setting = this.sources.setting();
    if (typeof setting === "string" && setting.trim() !== "") return; // flyte.interpreter overrides the selection
    const next = await this.resolveInterpreter();
    if (next.path !== this.interpreter?.path) {
      await this.restart(`the Python interpreter changed to ${describeInterpreter(next)}`);
    }
  }

  private resolveInterpreter(): Promise<Interpreter> {
    return this.options.resolve ? this.options.resolve(this.sources, this.log) : resolveInterpreter(this.sources, runFile, this.log);
  }

  private async startClient(): Promise<void> {
    if (this.disposed) return;
    const interpreter = await this.resolveInterpreter();
    this.interpreter = interpreter;
    this.log.info(`Interpreter: ${describeInterpreter(interpreter)}${interpreter.hasFlytekit ? ", with flytekit" : ""}.`);
    this.warnOnce(interpreter);

    let prepared: Prepared;
    try {
      prepared = await (this.options.prepare ?? ((i) => this.prepare(i)))(interpreter);
      if (this.disposed) return;
    } catch (err) {
      if (err instanceof InstallCancelled) {
        this.log.warn(err.message);
        void this.offerRetry("Flyte: the language server was not installed (cancelled). Lenses, lints and Run need it.");
      } else {
        const message = errorMessage(err);
        this.log.error(message);
        void this.offerRetry(`Flyte: ${message}`, true, "serverCommand");
      }
      return;
    }

    const settings = this.settings();
    const serverOptions: ServerOptions = {
      command: prepared.command,
      args: prepared.args,
      options: { cwd: settings.workspaceFolder, env: { ...process.env, PYTHONUNBUFFERED: "1" } },
    };
    const client = (this.options.createClient ?? realClient)(serverOptions, this.clientOptions());
    this.client = client;
    this.attached.clear();
    for (const method of this.handlers.keys()) this.attach(client, method);
    this.clientSubs.push(
      client.onDidChangeState((e) => {
        if (this.client === client) this.setRunning(e.newState === 2 /* State.Running */);
      }),
    );
    this.log.info(`Starting ${[prepared.command, ...prepared.args].join(" ")}`);
    const started = Date.now();
    const timeoutMs = this.options.startTimeoutMs ?? START_TIMEOUT_MS;
    const stopped = new Promise<"stopped">((resolve) => (this.abortStart = () => resolve("stopped")));
    const result = await Promise.race([
      withDeadline(
        client.start().then(
          () => "started" as const,
          (err: unknown) => err,
        ),
        timeoutMs,
        "timeout" as const,
      ),
      stopped,
    ]);
    this.abortStart = undefined;
    if (result === "stopped" || this.client !== client) return; // stopped while starting (dispose)
    if (result === "started") {
      this.log.info(`The server is running (started in ${((Date.now() - started) / 1000).toFixed(1)} s).`);
      this.setRunning(true);
      return;
    }
    const why = result === "timeout" ? `it did not answer within ${timeoutMs / 1000} s` : errorMessage(result);
    this.log.error(`The server did not start: ${why}`);
    await this.stopClient();
    const hint = prepared.plan.kind === "command" ? " Check flyte.serverCommand." : "";
    void this.offerRetry(`Flyte: the language server did not start: ${why}.${hint}`, true, "serverCommand");
  }

  private async stopClient(): Promise<void> {
    this.abortStart?.();
    const client = this.client;
    this.client = undefined;
    this.clientSubs.forEach((s) => s.dispose());
    this.clientSubs = [];
    this.attached.clear();
    this.setRunning(false);
    if (!client) return;
    try {
      await withDeadline(client.stop(STOP_TIMEOUT_MS), STOP_TIMEOUT_MS + 1000, undefined);
    } catch (err) {
      this.log.warn(`Stopping the server: ${errorMessage(err)}`);
    }
  }

  private prepare(interpreter: Interpreter): Promise<Prepared> {
    const settings = this.settings();
    return prepareServer({
      serverCommand: settings.serverCommand,
      workspaceFolder: settings.workspaceFolder,
      interpreter,
      bundledDir: this.options.bundledDir,
      storageRoot: this.options.storageRoot,
      ui: this.ui,
      log: this.log,
      env: proxyEnv(),
    });
  }

  clientOptions(): LanguageClientOptions {
    return {
      documentSelector: DOCUMENT_SELECTOR,
      outputChannel: this.options.channel,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: () => initializationOptions(this.settings().section, this.interpreter?.path),
      synchronize: { configurationSection: SETTINGS_SECTION },
      stdioOptions: {
        stdout: (input, channel) => readline.createInterface({ input, crlfDelay: Infinity }).on("line", (l) => channel.info(l)),
        stderr: (input, channel) => readline.createInterface({ input, crlfDelay: Infinity }).on("line", (l) => channel[stderrLevel(l)](l)),
      },
      middleware: {
        workspace: {
          configuration: async (params, token, next) => {
            const results = await next(params, token);
            if (!Array.isArray(results)) return results;
            return fillConfiguration(params.items, results, this.interpreter?.path);
          },
        },
        executeCommand: (command, args, next) => this.executeFromEditor(command, args, next),
      },
    };
  }

  /** A server command run by VS Code (a code lens): through the prompts, a failure shown. */
  async executeFromEditor(command: string, args: unknown[], next: (command: string, args: unknown[]) => unknown): Promise<unknown> {
    const arg = args.length === 1 && args[0] && typeof args[0] === "object" && !Array.isArray(args[0]) ? (args[0] as Json) : undefined;
    try {
      const uri = arg?.uri;
      if (IMPORTING_COMMANDS.has(command) && typeof uri === "string" && importsFromDisk(uri) && !(await this.ui.saveDocument(uri))) {
        throw new Error(`${uri} could not be saved, and flyte-ls imports your code from disk: save it, then try again.`);
      }
      return arg ? await this.executeCommand(command, arg) : await next(command, args);
    } catch (err) {
      if ((err as { code?: unknown } | null)?.code === REQUEST_CANCELLED) return undefined;
      const message = errorMessage(err);
      this.log.warn(`${command}: ${message}`);
      void this.ui.showErrorMessage(message, SHOW_LOGS).then((choice) => {
        if (choice === SHOW_LOGS) this.showLogs();
      });
      return undefined;
    }
  }

  private flowDeps(): FlowDeps {
    return {
      ui: this.options.inputUi ?? vscodeInputUi(),
      memory: this.options.memory,
      send: (command, arg) => this.sendCommand(command, arg),
      executions: () => this.sendRequest<ExecutionInfo[]>(Methods.executions, {}),
      workspaceFolder: (uri) => {
        try {
          return vscode.workspace.getWorkspaceFolder(vscode.Uri.parse(uri))?.uri.fsPath;
        } catch {
          return undefined;
        }
      },
    };
  }

  private attach(client: LanguageClientLike, method: string): void {
    if (this.attached.has(method)) return;
    this.attached.add(method);
    this.clientSubs.push(
      client.onNotification(method, (params) => {
        for (const handler of [...(this.handlers.get(method) ?? [])]) {
          try {
            handler(params);
          } catch (err) {
            this.log.error(`A handler of ${method} failed: ${errorMessage(err)}`);
          }
        }
      }),
    );
  }

  private setRunning(running: boolean): void {
    if (this.running === running) return;
    this.running = running;
    void Promise.resolve(this.ui.executeCommand("setContext", RUNNING_CONTEXT_KEY, running)).catch(() => undefined);
    for (const listener of [...this.stateListeners]) {
      try {
        listener(running);
      } catch (err) {
        this.log.error(`A server state listener failed: ${errorMessage(err)}`);
      }
    }
  }

  private warnOnce(interpreter: Interpreter): void {
    const warning = interpreterWarning(interpreter);
    if (!warning) return;
    this.log.warn(warning.message);
    const key = `${interpreter.path ?? ""}\n${warning.message}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    void warnAboutInterpreter(this.ui, interpreter);
  }

  /** A failure to start, with the remedies: Retry (a restart), Show Logs, and the setting to open. */
  private async offerRetry(message: string, error = false, setting?: string): Promise<void> {
    const actions = error ? [RETRY, SHOW_LOGS, ...(setting ? [OPEN_SETTINGS] : [])] : [RETRY];
    const choice = await (error ? this.ui.showErrorMessage(message, ...actions) : this.ui.showWarningMessage(message, ...actions));
    if (choice === SHOW_LOGS) this.showLogs();
    else if (choice === OPEN_SETTINGS) await this.ui.executeCommand("workbench.action.openSettings", `${SETTINGS_SECTION}.${setting}`);
    else if (choice === RETRY) await this.restart("retry");
  }
}
