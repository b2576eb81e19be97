// The contract tests' harness: the real flyte-ls server over stdio and the embedded local Flyte backend, both
// run with $FLYTE_LS_PYTHON (`make vscode` sets it to the repo's .venv python, which has flyte-ls installed
// editable and flytekit). Every wait has a deadline; every process started here is stopped by its stop().
//
//   const backend = await startLocalBackend();
//   const server = await startServer({ endpoint: backend.endpoint }, await copyExamples());
//   const run = await server.executeCommand("flyte.execute", { uri, entity: "prepare", inputs: { n: 5 } });
//   await server.waitForNotification("flyte/executionChanged", (p) => ..., 120_000);
//   await server.stop(); await backend.stop();
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type ProtocolConnection,
  type InitializeResult,
} from "vscode-languageserver-protocol/node";
import type { DisposableLike, ServerHost } from "../../src/host";

/** The repository root (the directory with `flyte_ls/` and `examples/`), found upwards from this file. */
export const REPO = findRepo();

function findRepo(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "flyte_ls")) && existsSync(join(dir, "examples"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no flyte-ls checkout above ${__dirname}`);
  }
}

/** $FLYTE_LS_PYTHON, else the checkout's .venv python; a clear failure when neither exists. */
export function python(): string {
  const fromEnv = process.env.FLYTE_LS_PYTHON;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`FLYTE_LS_PYTHON=${fromEnv} does not exist`);
    return fromEnv;
  }
  const venv = join(REPO, ".venv", "bin", "python");
  if (existsSync(venv)) return venv;
  throw new Error(
    "the contract tests need a Python with flyte-ls and flytekit: set FLYTE_LS_PYTHON (make vscode does), " +
      "or run `make install` to create the checkout's .venv",
  );
}

const made: string[] = [];

/** A fresh temporary directory, removed by `cleanUp()` (call it in the suite's `after`). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `flyte-ls-contract-${prefix}-`));
  made.push(dir);
  return dir;
}

export function cleanUp(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A private copy of the repo's `examples/` project (a workspace folder the tests may edit). */
export function copyExamples(): string {
  const dest = join(tempDir("workspace"), "examples");
  cpSync(join(REPO, "examples"), dest, {
    recursive: true,
    filter: (src) => !src.includes("__pycache__") && !src.endsWith(".pyc"),
  });
  return dest;
}

export function fileUri(path: string): string {
  return pathToFileURL(path).toString();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `promise`, or a rejection naming `what` after `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Polls `cond` every 50 ms until it returns something truthy; rejects naming `what` after `ms`. */
export async function waitFor<T>(cond: () => T | undefined | null | false, what: string, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = cond();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await sleep(50);
  }
}

function remove<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}

/** The output of a child process, kept for failure messages. */
class Output {
  text = "";
  constructor(stream: NodeJS.ReadableStream | null, echo: boolean) {
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      this.text = (this.text + chunk).slice(-200_000);
      if (echo) process.stderr.write(chunk);
    });
  }
  tail(chars = 4000): string {
    return this.text.slice(-chars);
  }
}

const VERBOSE = !!process.env.FLYTE_LS_CONTRACT_VERBOSE; // echo the children's stderr

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once("exit", () => r()));
}

/** SIGTERM (or `first`), then SIGKILL when it has not exited after `graceMs`. */
async function stopProcess(child: ChildProcess, graceMs: number, first: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(first);
  try {
    await withDeadline(exited(child), graceMs, `pid ${child.pid} to exit`);
  } catch {
    child.kill("SIGKILL");
    await withDeadline(exited(child), 5000, `pid ${child.pid} to die`);
  }
}

/** Runs a command to its end with a deadline: its exit code and output. */
export function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { env: options.env, cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${command} ${args.join(" ")} did not finish within ${timeoutMs / 1000} s: ${stderr}`));
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

// -- the local backend ----------------------------------------------------------------------------------------
export interface LocalBackend {
  /** Admin's gRPC `host:port` (insecure). */
  endpoint: string;
  /** The console's base URL, e.g. `http://127.0.0.1:40123/console`. */
  consoleUrl: string;
  stateDir: string;
  /** The backend's stderr so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

const BACKEND_START_MS = 90_000; // the interpreter check imports flytekit: seconds on a busy machine

/**
 * `$FLYTE_LS_PYTHON -m flyte_ls local start --port 0` on a temporary state dir (tasks run with the same python),
 * ready when `flyte-ls local status --json` says it runs.
 */
export async function startLocalBackend(): Promise<LocalBackend> {
  const py = python();
  const stateDir = join(tempDir("backend"), "state");
  const args = ["-m", "flyte_ls", "local", "start", "--port", "0", "--state-dir", stateDir, "--python", py];
  const child = spawn(py, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env } });
  const out = new Output(child.stderr, VERBOSE);
  new Output(child.stdout, false);
  const stop = () => stopProcess(child, 20_000);
  try {
    const end = Date.now() + BACKEND_START_MS;
    for (;;) {
      if (child.exitCode !== null) {
        throw new Error(`the local backend exited with ${child.exitCode}: ${out.tail()}`);
      }
      // status.json appears once the backend listens; only then is `local status` worth a python start
      if (existsSync(join(stateDir, "status.json"))) {
        const status = await run(py, ["-m", "flyte_ls", "local", "status", "--json", "--state-dir", stateDir], {
          timeoutMs: 30_000,
        });
        if (status.code === 0) {
          const report = JSON.parse(status.stdout) as { admin_endpoint: string; console_url: string; pid: number };
          if (report.pid === child.pid) {
            return { endpoint: report.admin_endpoint, consoleUrl: report.console_url, stateDir, log: () => out.text, stop };
          }
        }
      }
      if (Date.now() > end) {
        throw new Error(`the local backend did not start within ${BACKEND_START_MS / 1000} s: ${out.tail()}`);
      }
      await sleep(100);
    }
  } catch (err) {
    await stop();
    throw err;
  }
}

// -- the language server --------------------------------------------------------------------------------------
export interface Received {
  method: string;
  params: unknown;
}

export interface ServerSession {
  connection: ProtocolConnection;
  initializeResult: InitializeResult;
  /** Every notification and server-to-client request received, in order. */
  notifications: Received[];
  /** The URIs `window/showDocument` was asked to show. */
  shownDocuments: { uri: string; external?: boolean }[];
  /** The server's stderr so far. */
  log(): string;
  request<R>(method: string, params: unknown, ms?: number): Promise<R>;
  /** `workspace/executeCommand` with one argument object. */
  executeCommand<R>(command: string, arg: Record<string, unknown>, ms?: number): Promise<R>;
  /** Calls `handler` with each later notification of `method` (one of those the harness records). */
  onNotification(method: string, handler: (params: unknown) => void): DisposableLike;
  /** The first notification (already received or future) of `method` whose params satisfy `match`. */
  waitForNotification<P>(method: string, match: (params: P) => boolean, ms: number): Promise<P>;
  /** Sends `workspace/didChangeConfiguration`; `workspace/configuration` answers with `settings` from now on. */
  changeSettings(settings: Record<string, unknown>): void;
  stop(): Promise<void>;
}

/** Notifications the harness records (a ProtocolConnection has no catch-all handler). */
const RECORDED_NOTIFICATIONS = [
  "window/logMessage",
  "window/showMessage",
  "textDocument/publishDiagnostics",
  "$/progress",
  "$/logTrace",
  "telemetry/event",
  "flyte/executionChanged",
];

const REQUEST_MS = 30_000;

/**
 * `$FLYTE_LS_PYTHON -m flyte_ls serve` over stdio with `workspace` as its one workspace folder, initialized like
 * VS Code does (work-done progress, showDocument, configuration pull, code lens refresh). `settings` is the
 * `flyte` section (initializationOptions and `workspace/configuration`); `pythonPath` defaults to
 * $FLYTE_LS_PYTHON and `local.autoStart` to false. The server's user cache is a temporary XDG_CACHE_HOME.
 * `options.capabilities` adds top-level client capabilities (e.g. VS Code's `notebookDocument`).
 */
export async function startServer(
  settings: Record<string, unknown>,
  workspace: string,
  options: { extraNotifications?: string[]; args?: string[]; capabilities?: Record<string, unknown> } = {},
): Promise<ServerSession> {
  const py = python();
  let current: Record<string, unknown> = { pythonPath: py, local: { autoStart: false }, ...settings };
  const env = { ...process.env, XDG_CACHE_HOME: tempDir("cache") };
  const child = spawn(py, ["-m", "flyte_ls", "serve", ...(options.args ?? [])], {
    cwd: workspace,
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const err = new Output(child.stderr, VERBOSE);
  const spawned = new Promise<void>((ok, fail) => {
    child.once("spawn", () => ok());
    child.once("error", fail);
  });
  await withDeadline(spawned, 10_000, `${py} to start`);

  const connection = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin), {
    error: (m) => (err.text += `\n[client] ${m}`),
    warn: (m) => (err.text += `\n[client] ${m}`),
    info: () => undefined,
    log: () => undefined,
  });
  const notifications: Received[] = [];
  const shownDocuments: { uri: string; external?: boolean }[] = [];
  const waiters: (() => void)[] = [];
  const handlers: { method: string; handler: (params: unknown) => void }[] = [];
  const record = (method: string, params: unknown) => {
    notifications.push({ method, params });
    for (const h of handlers.filter((h) => h.method === method)) h.handler(params);
    for (const w of [...waiters]) w();
  };
  for (const method of [...RECORDED_NOTIFICATIONS, ...(options.extraNotifications ?? [])]) {
    connection.onNotification(method, (params: unknown) => record(method, params));
  }
  connection.onRequest("workspace/configuration", (params: { items: { section?: string }[] }) => {
    record("workspace/configuration", params);
    return params.items.map((item) => {
      if (item.section === "flyte") return current;
      if (!item.section) return { flyte: current };
      return null;
    });
  });
  for (const method of [
    "client/registerCapability",
    "client/unregisterCapability",
    "window/workDoneProgress/create",
    "workspace/codeLens/refresh",
    "workspace/diagnostic/refresh",
    "workspace/inlayHint/refresh",
    "workspace/semanticTokens/refresh",
    "window/showMessageRequest",
  ]) {
    connection.onRequest(method, (params: unknown) => {
      record(method, params);
      return null;
    });
  }
  connection.onRequest("window/showDocument", (params: { uri: string; external?: boolean }) => {
    record("window/showDocument", params);
    shownDocuments.push({ uri: params.uri, external: params.external });
    return { success: true };
  });
  let closed = false;
  connection.onClose(() => {
    closed = true;
    for (const w of [...waiters]) w();
  });
  connection.listen();

  const request = <R>(method: string, params: unknown, ms = REQUEST_MS): Promise<R> =>
    withDeadline(connection.sendRequest<R>(method, params), ms, `the answer to ${method}`).catch((e: unknown) => {
      if (closed) throw new Error(`the server exited during ${method}: ${err.tail()}`);
      throw e;
    });

  const waitForNotification = <P>(method: string, match: (params: P) => boolean, ms: number): Promise<P> => {
    let seen = 0;
    let listener: (() => void) | undefined;
    const found = new Promise<P>((ok, fail) => {
      listener = () => {
        for (; seen < notifications.length; seen++) {
          const n = notifications[seen];
          if (n.method === method && match(n.params as P)) return ok(n.params as P);
        }
        if (closed) fail(new Error(`the server exited before ${method}: ${err.tail()}`));
      };
      waiters.push(listener);
      listener();
    });
    return withDeadline(found, ms, `${method}`).finally(() => remove(waiters, listener!));
  };

  const stop = async () => {
    if (!closed && child.exitCode === null) {
      try {
        await withDeadline(connection.sendRequest("shutdown"), 10_000, "the answer to shutdown");
        await connection.sendNotification("exit");
        await withDeadline(exited(child), 10_000, "the server to exit");
      } catch {
        // fall through to the signals
      }
    }
    connection.dispose();
    await stopProcess(child, 5_000);
  };

  try {
    const initializeResult = await request<InitializeResult>(
      "initialize",
      {
        processId: process.pid,
        clientInfo: { name: "flyte-ls contract tests", version: "0" },
        rootUri: fileUri(workspace),
        workspaceFolders: [{ uri: fileUri(workspace), name: "workspace" }],
        initializationOptions: { ...current },
        capabilities: {
          general: { positionEncodings: ["utf-16"] },
          window: { workDoneProgress: true, showDocument: { support: true }, showMessage: {} },
          workspace: {
            configuration: true,
            workspaceFolders: true,
            didChangeConfiguration: { dynamicRegistration: true },
            didChangeWatchedFiles: { dynamicRegistration: true },
            codeLens: { refreshSupport: true },
            executeCommand: { dynamicRegistration: false },
          },
          textDocument: {
            synchronization: { didSave: true, dynamicRegistration: false },
            codeLens: { dynamicRegistration: false },
            hover: { contentFormat: ["markdown", "plaintext"] },
            publishDiagnostics: { relatedInformation: true, codeDescriptionSupport: true, dataSupport: true },
            codeAction: { dataSupport: true, resolveSupport: { properties: ["edit"] } },
          },
          ...options.capabilities,
        },
      },
      60_000,
    );
    await connection.sendNotification("initialized", {});
    return {
      connection,
      initializeResult,
      notifications,
      shownDocuments,
      log: () => err.text,
      request,
      executeCommand: <R>(command: string, arg: Record<string, unknown>, ms = 180_000) =>
        request<R>("workspace/executeCommand", { command, arguments: [arg] }, ms),
      waitForNotification,
      onNotification: (method, handler) => {
        const entry = { method, handler };
        handlers.push(entry);
        return { dispose: () => remove(handlers, entry) };
      },
      changeSettings: (next) => {
        current = { pythonPath: py, local: { autoStart: false }, ...next };
        void connection.sendNotification("workspace/didChangeConfiguration", { settings: { flyte: current } });
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}


/**
 * A ServerHost (src/host.ts) around a session, for features under contract test: `executeCommand` sends the
 * command as is (no prompts: src/runFlow.ts is what adds them in the extension); log lines go to `lines`.
 */
export function serverHost(session: ServerSession): ServerHost & { lines: string[] } {
  const lines: string[] = [];
  let running = true;
  const stateListeners: ((running: boolean) => void)[] = [];
  session.connection.onClose(() => {
    running = false;
    for (const l of [...stateListeners]) l(false);
  });
  return {
    lines,
    log: {
      info: (m) => lines.push(`[info] ${m}`),
      warn: (m) => lines.push(`[warn] ${m}`),
      error: (m) => lines.push(`[error] ${m}`),
    },
    showLogs: () => undefined,
    isRunning: () => running,
    onDidChangeState: (listener) => {
      stateListeners.push(listener);
      return { dispose: () => remove(stateListeners, listener) };
    },
    sendRequest: <R>(method: string, params: unknown) => session.request<R>(method, params),
    executeCommand: <R>(command: string, arg: Record<string, unknown>) => session.executeCommand<R>(command, arg),
    sendCommand: <R>(command: string, arg: Record<string, unknown>) => session.executeCommand<R>(command, arg),
    onNotification: (method, handler) => session.onNotification(method, handler),
    restart: async () => {
      throw new Error("the contract harness does not restart servers: start a new session");
    },
  };
}
