// The Python interpreter that imports and serializes the user's code (passed to the server as `pythonPath`).
// Where it comes from, in order: the `flyte.interpreter` setting; the Python Environments extension
// (ms-python.vscode-python-envs); the Python extension (ms-python.python, through @vscode/python-extension);
// else none (the server still lints; Run and Register need it). Whatever the source, the interpreter is run once
// with a deadline to learn its version and whether it has flytekit.
import { execFile } from "node:child_process";
import * as os from "node:os";
import type { PythonExtension } from "@vscode/python-extension";
import * as vscode from "vscode";
import type { DisposableLike, Logger } from "./host";

export type InterpreterSource = "setting" | "python-envs" | "python" | "none";

export interface Interpreter {
  /** The interpreter's `sys.executable` when it ran, else the path as configured; undefined: none found. */
  path: string | undefined;
  version: [number, number, number] | undefined;
  hasFlytekit: boolean;
  source: InterpreterSource;
  /** Why the interpreter is not usable (it did not run, or gave no answer in time). */
  problem?: string;
}

/** The part of the Python Environments extension's API used here (its `PythonEnvironmentApi`). */
export interface PythonEnvsApi {
  getEnvironment(scope: unknown): Promise<PythonEnvsEnvironment | undefined>;
  onDidChangeEnvironment?: (listener: (event: unknown) => unknown) => DisposableLike;
}
export interface PythonEnvsEnvironment {
  execInfo?: { run?: { executable?: string } };
  environmentPath?: { fsPath: string };
}

/** The part of the Python extension's API used here (@vscode/python-extension's `PythonExtension`). */
export interface PythonExtApi {
  environments: {
    getActiveEnvironmentPath(resource?: unknown): { path: string };
    resolveEnvironment(environment: { path: string } | string): Promise<{ executable: { uri?: { fsPath: string } } } | undefined>;
    onDidChangeActiveEnvironmentPath: (listener: (event: unknown) => unknown) => DisposableLike;
  };
}

// The narrow interface stays compatible with the published one (a compile-time check).
export const asPythonExtApi = (api: PythonExtension): PythonExtApi => api;

/** What the lookup reads; `vscodeInterpreterSources` in extension wiring builds it from `vscode`. */
export interface InterpreterSources {
  /** `flyte.interpreter` as set (null / "" when not set). */
  setting(): string | null | undefined;
  /** The first workspace folder's path (for `${workspaceFolder}`) and its Uri (the scope asked for). */
  workspaceFolder(): string | undefined;
  scope(): unknown;
  envsApi(): Promise<PythonEnvsApi | undefined>;
  pythonApi(): Promise<PythonExtApi | undefined>;
}

export const PROBE_TIMEOUT_MS = 10_000;
/** The extensions' activation can be slow (they discover environments): wait this long, then go on without. */
export const EXTENSION_API_TIMEOUT_MS = 15_000;

/** `${workspaceFolder}`, `${userHome}` and a leading `~` expanded. */
export function expandPath(value: string, workspaceFolder: string | undefined, home = os.homedir()): string {
  let out = value.trim();
  out = out.replace(/\$\{userHome\}/g, home);
  if (workspaceFolder !== undefined) out = out.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
  if (out === "~") return home;
  if (out.startsWith("~/") || out.startsWith("~\\")) return home + out.slice(1);
  return out;
}

/** A promise's value, or `fallback` when it rejects or has not settled after `ms`. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
    timer.unref?.(); // a deadline alone does not keep the process alive (a race decided otherwise leaves it)
  });
  try {
    return await Promise.race([promise.catch(() => fallback), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Where the interpreter comes from, before running it. */
export async function findInterpreter(
  src: InterpreterSources,
  log?: Logger,
  apiTimeoutMs = EXTENSION_API_TIMEOUT_MS,
): Promise<{ path: string | undefined; source: InterpreterSource }> {
  const setting = src.setting();
  if (typeof setting === "string" && setting.trim() !== "") {
    return { path: expandPath(setting, src.workspaceFolder()), source: "setting" };
  }
  try {
    const envs = await src.envsApi();
    const env = envs ? await withDeadline(envs.getEnvironment(src.scope()), apiTimeoutMs, undefined) : undefined;
    const executable = env?.execInfo?.run?.executable || env?.environmentPath?.fsPath;
    if (executable) return { path: executable, source: "python-envs" };
  } catch (err) {
    log?.warn(`The Python Environments extension did not answer: ${String(err)}`);
  }
  try {
    const python = await src.pythonApi();
    if (python) {
      const active = python.environments.getActiveEnvironmentPath(src.scope());
      const resolved = await withDeadline(python.environments.resolveEnvironment(active), apiTimeoutMs, undefined);
      const executable = resolved?.executable.uri?.fsPath || active?.path;
      if (executable) return { path: executable, source: "python" };
    }
  } catch (err) {
    log?.warn(`The Python extension did not answer: ${String(err)}`);
  }
  return { path: undefined, source: "none" };
}

export interface ProbeResult {
  version: [number, number, number];
  executable: string;
  hasFlytekit: boolean;
}

/** Runs a command with arguments; resolves with its stdout, rejects on a non-zero exit or the deadline. */
export type RunFile = (command: string, args: string[], timeoutMs: number) => Promise<string>;

export const runFile: RunFile = (command, args, timeoutMs) =>
  new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, windowsHide: true, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const detail = String(stderr).trim().split(/\r?\n/).pop();
        const why = err.killed ? `no answer within ${timeoutMs / 1000} s` : detail || err.message;
        reject(new Error(why));
      } else {
        resolve(String(stdout));
      }
    });
  });

// find_spec does not import flytekit (which takes seconds); it only looks for it on sys.path.
const PROBE_SCRIPT =
  "import sys, json, importlib.util; " +
  "print(json.dumps([list(sys.version_info[:3]), sys.executable, importlib.util.find_spec('flytekit') is not None]))";

/** Runs the interpreter once: its version, `sys.executable` and whether flytekit is importable. */
export async function probeInterpreter(
  pythonPath: string,
  run: RunFile = runFile,
  timeoutMs = PROBE_TIMEOUT_MS,
  prefixArgs: string[] = [],
): Promise<ProbeResult> {
  const out = await run(pythonPath, [...prefixArgs, "-c", PROBE_SCRIPT], timeoutMs);
  const line = out.trim().split(/\r?\n/).pop() ?? "";
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(`unexpected answer ${JSON.stringify(line.slice(0, 200))}`);
  }
  if (!Array.isArray(parsed) || !Array.isArray(parsed[0]) || parsed[0].length !== 3) {
    throw new Error(`unexpected answer ${JSON.stringify(line.slice(0, 200))}`);
  }
  const [major, minor, micro] = parsed[0].map(Number);
  return { version: [major, minor, micro], executable: String(parsed[1] || pythonPath), hasFlytekit: parsed[2] === true };
}

export async function resolveInterpreter(src: InterpreterSources, run: RunFile = runFile, log?: Logger): Promise<Interpreter> {
  const found = await findInterpreter(src, log);
  if (!found.path) return { path: undefined, version: undefined, hasFlytekit: false, source: "none" };
  try {
    const probe = await probeInterpreter(found.path, run);
    return { path: probe.executable, version: probe.version, hasFlytekit: probe.hasFlytekit, source: found.source };
  } catch (err) {
    return {
      path: found.path,
      version: undefined,
      hasFlytekit: false,
      source: found.source,
      problem: err instanceof Error ? err.message : String(err),
    };
  }
}

export function isAtLeast(version: readonly number[] | undefined, major: number, minor: number): boolean {
  if (!version) return false;
  return version[0] > major || (version[0] === major && version[1] >= minor);
}

export function describe(interp: Interpreter): string {
  const version = interp.version ? ` (Python ${interp.version.join(".")})` : "";
  const from = { setting: "flyte.interpreter", "python-envs": "Python Environments", python: "the Python extension", none: "" }[
    interp.source
  ];
  return interp.path ? `${interp.path}${version}${from ? ` from ${from}` : ""}` : "no interpreter";
}

/** Calls `listener` when either Python extension says the selected environment changed. */
export async function watchInterpreter(src: InterpreterSources, listener: () => void): Promise<DisposableLike> {
  const subs: DisposableLike[] = [];
  try {
    const envs = await src.envsApi();
    if (envs?.onDidChangeEnvironment) subs.push(envs.onDidChangeEnvironment(() => listener()));
  } catch {
    // not installed or not ready: nothing to watch
  }
  try {
    const python = await src.pythonApi();
    if (python) subs.push(python.environments.onDidChangeActiveEnvironmentPath(() => listener()));
  } catch {
    // not installed
  }
  return { dispose: () => subs.forEach((s) => s.dispose()) };
}

export interface InterpreterUi {
  showWarningMessage(message: string, ...items: string[]): PromiseLike<string | undefined>;
  executeCommand(command: string, ...args: unknown[]): PromiseLike<unknown>;
}

export const SELECT_INTERPRETER = "Select Interpreter";
export const OPEN_SETTINGS = "Open Settings";

/** The warning to show for an interpreter, or undefined when it is fine. */
export function interpreterWarning(interp: Interpreter): { message: string; actions: string[] } | undefined {
  const actions = [SELECT_INTERPRETER, OPEN_SETTINGS];
  if (!interp.path) {
    return {
      message:
        "Flyte: no Python interpreter found. Select one that has flytekit (Python: Select Interpreter) or set " +
        "flyte.interpreter; until then linting works, but Run and Register do not.",
      actions,
    };
  }
  if (interp.problem) {
    return {
      message: `Flyte: the interpreter ${interp.path} did not run (${interp.problem}). Select another one or fix flyte.interpreter; Run and Register need it.`,
      actions,
    };
  }
  if (!interp.hasFlytekit) {
    return {
      message: `Flyte: flytekit is not installed in ${interp.path}. Run and Register need it: \`${interp.path} -m pip install flytekit\`, or select an interpreter that has it.`,
      actions,
    };
  }
  return undefined;
}

/** Shows the interpreter's warning (if any) and runs the remedy the user picks. */
export async function warnAboutInterpreter(ui: InterpreterUi, interp: Interpreter): Promise<void> {
  const warning = interpreterWarning(interp);
  if (!warning) return;
  const choice = await ui.showWarningMessage(warning.message, ...warning.actions);
  if (choice === SELECT_INTERPRETER) await ui.executeCommand("python.setInterpreter");
  else if (choice === OPEN_SETTINGS) await ui.executeCommand("workbench.action.openSettings", "flyte.interpreter");
}

export const PYTHON_ENVS_EXTENSION_ID = "ms-python.vscode-python-envs";
export const PYTHON_EXTENSION_ID = "ms-python.python";

/** The extension's exports once active (activation waited for with a deadline), else undefined. */
async function extensionApi<T>(id: string, isApi: (exports: unknown) => boolean): Promise<T | undefined> {
  const extension = vscode.extensions.getExtension(id);
  if (!extension) return undefined;
  const activate = async (): Promise<unknown> => (extension.isActive ? extension.exports : await extension.activate());
  const exports = await withDeadline(activate(), EXTENSION_API_TIMEOUT_MS, undefined);
  return isApi(exports) ? (exports as T) : undefined;
}

/** The sources as VS Code has them (the extensions' APIs are looked up once per call). */
export function vscodeInterpreterSources(): InterpreterSources {
  const folder = () => vscode.workspace.workspaceFolders?.[0];
  return {
    setting: () => vscode.workspace.getConfiguration("flyte").get<string | null>("interpreter"),
    workspaceFolder: () => folder()?.uri.fsPath,
    scope: () => folder()?.uri,
    envsApi: () =>
      extensionApi<PythonEnvsApi>(PYTHON_ENVS_EXTENSION_ID, (e) => typeof (e as PythonEnvsApi | undefined)?.getEnvironment === "function"),
    pythonApi: () =>
      extensionApi<PythonExtApi>(
        PYTHON_EXTENSION_ID,
        (e) => typeof (e as PythonExtApi | undefined)?.environments?.getActiveEnvironmentPath === "function",
      ),
  };
}
