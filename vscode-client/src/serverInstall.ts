// How the language server is started. `flyte.serverCommand` set: that command, as the user wrote it. Otherwise the
// server the extension ships (bundled/: a flyte-ls wheel, the pinned constraints, manifest.json naming both) runs
// from a private virtual environment in the extension's global storage, `server/<version>-<sha12>/`, created on
// first start: `python -m venv` with a Python ≥ 3.10 (the selected interpreter, else one on PATH), then
// `pip install -c constraints.txt <wheel>`, then a `ready` stamp written last. A directory without the stamp is a
// half-made environment: it is removed and made again. Environments of other versions are removed once unused.
//
// `serverLaunchPlan` is the decision (pure, unit-tested for every branch); `prepareServer` carries it out.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, promises as fs } from "node:fs";
import * as nodePath from "node:path";
import * as readline from "node:readline";
import type { DisposableLike, Logger } from "./host";
import { expandPath, isAtLeast, probeInterpreter, runFile, type Interpreter, type ProbeResult, type RunFile } from "./interpreter";

export interface Manifest {
  wheel: string;
  sha256: string;
  version: string;
  constraints: string;
}

export interface StoredEnv {
  name: string;
  /** The `ready` stamp is there and so is the environment's python. */
  ready: boolean;
  /** Another window is creating it right now (a fresh lock file). */
  locked: boolean;
  /** When a server last started from it (ms since the epoch). */
  lastUsed: number | undefined;
}

export interface StorageState {
  /** `<globalStorage>/server` */
  root: string;
  platform: NodeJS.Platform;
  envs: StoredEnv[];
  now: number;
}

export interface PythonCommand {
  command: string;
  args: string[];
}

export type LaunchPlan =
  | { kind: "command"; command: string; args: string[] }
  | { kind: "venv-ready"; command: string; args: string[]; envDir: string; remove: string[] }
  | { kind: "venv-create"; command: string; args: string[]; envDir: string; remove: string[]; basePythons: PythonCommand[] }
  | { kind: "unavailable"; reason: string };

/** The server's arguments after the environment's python (the client traces the protocol itself). */
export const SERVER_ARGS = ["-m", "flyte_ls", "serve"];
export const READY_STAMP = "ready";
export const LAST_USED = "last-used";
/** Another version's environment unused this long is removed (a window still running that version may use it). */
export const UNUSED_ENV_MS = 24 * 3600 * 1000;
export const TIMEOUTS = {
  probe: 10_000,
  venv: 180_000,
  pip: 15 * 60_000,
  verify: 60_000,
};
/** A lock file older than this belongs to an installer that died. */
export const LOCK_STALE_MS = TIMEOUTS.venv + TIMEOUTS.pip + TIMEOUTS.verify;

function pathFor(platform: NodeJS.Platform): nodePath.PlatformPath {
  return platform === "win32" ? nodePath.win32 : nodePath.posix;
}

export function envName(manifest: Manifest): string {
  return `${manifest.version}-${manifest.sha256.slice(0, 12)}`;
}

export function envPython(envDir: string, platform: NodeJS.Platform): string {
  const p = pathFor(platform);
  return platform === "win32" ? p.join(envDir, "Scripts", "python.exe") : p.join(envDir, "bin", "python");
}

/** The Pythons to try as the environment's base, in order; the first that is ≥ 3.10 is used. */
export function basePythonCandidates(interpreter: Interpreter, platform: NodeJS.Platform): PythonCommand[] {
  const out: PythonCommand[] = [];
  if (interpreter.path && !interpreter.problem && isAtLeast(interpreter.version, 3, 10)) {
    out.push({ command: interpreter.path, args: [] });
  }
  if (platform === "win32") {
    // The py launcher picks an installed version; python.exe may be the Store's stub, so it comes last.
    out.push(...["3.12", "3.11", "3.10"].map((v) => ({ command: "py", args: [`-${v}`] })), { command: "python", args: [] });
  } else {
    out.push(...["python3.12", "python3.11", "python3.10", "python3"].map((command) => ({ command, args: [] })));
  }
  return out;
}

/** What to start: the user's command, the ready private environment, or one to create first. */
export function serverLaunchPlan(
  settings: { serverCommand: readonly string[] | undefined; workspaceFolder?: string; home?: string },
  manifest: Manifest | undefined,
  interpreter: Interpreter,
  storage: StorageState,
): LaunchPlan {
  const command = (settings.serverCommand ?? []).filter((part) => typeof part === "string");
  if (command.length > 0 && command[0].trim() !== "") {
    const [exe, ...args] = command.map((part) => expandPath(part, settings.workspaceFolder, settings.home));
    return { kind: "command", command: exe, args };
  }
  if (!manifest) {
    return {
      kind: "unavailable",
      reason:
        "This build of the extension has no bundled server (bundled/manifest.json is missing): set flyte.serverCommand " +
        'to a flyte-ls you installed, e.g. ["/path/to/venv/bin/flyte-ls", "serve"].',
    };
  }
  const p = pathFor(storage.platform);
  const name = envName(manifest);
  const envDir = p.join(storage.root, name);
  const remove = storage.envs
    .filter((env) => env.name !== name && !env.locked)
    .filter((env) => !env.ready || env.lastUsed === undefined || storage.now - env.lastUsed > UNUSED_ENV_MS)
    .map((env) => p.join(storage.root, env.name));
  const python = envPython(envDir, storage.platform);
  const current = storage.envs.find((env) => env.name === name);
  if (current?.ready) return { kind: "venv-ready", command: python, args: SERVER_ARGS, envDir, remove };
  return {
    kind: "venv-create",
    command: python,
    args: SERVER_ARGS,
    envDir,
    remove,
    basePythons: basePythonCandidates(interpreter, storage.platform),
  };
}

// ---- Reading the storage and the bundle ------------------------------------------------------------------------

export async function readManifest(bundledDir: string): Promise<Manifest | undefined> {
  try {
    const raw = JSON.parse(await fs.readFile(nodePath.join(bundledDir, "manifest.json"), "utf8")) as Partial<Manifest>;
    if (raw.wheel && raw.sha256 && raw.version && raw.constraints) return raw as Manifest;
  } catch {
    // missing or unreadable: a build without the bundle
  }
  return undefined;
}

async function mtime(path: string): Promise<number | undefined> {
  try {
    return (await fs.stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

export async function scanStorage(root: string, platform: NodeJS.Platform = process.platform, now = Date.now()): Promise<StorageState> {
  let names: string[] = [];
  try {
    const entries = await fs.readdir(root, { withFileTypes: true });
    names = entries.filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    // no storage yet
  }
  const envs = await Promise.all(
    names.map(async (name): Promise<StoredEnv> => {
      const dir = nodePath.join(root, name);
      const lock = await mtime(nodePath.join(root, `${name}.lock`));
      return {
        name,
        ready: existsSync(nodePath.join(dir, READY_STAMP)) && existsSync(envPython(dir, platform)),
        locked: lock !== undefined && now - lock < LOCK_STALE_MS,
        lastUsed: await mtime(nodePath.join(dir, LAST_USED)),
      };
    }),
  );
  return { root, platform, envs, now };
}

// ---- Carrying the plan out -------------------------------------------------------------------------------------

export class InstallError extends Error {}
export class InstallCancelled extends Error {
  constructor() {
    super("The server installation was cancelled.");
  }
}

export interface CancelToken {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => unknown): DisposableLike;
}

export interface InstallUi {
  /** A cancellable progress notification around `task`. */
  withProgress<T>(
    title: string,
    task: (report: (message: string, increment?: number) => void, token: CancelToken) => Promise<T>,
  ): PromiseLike<T>;
}

export interface ProcessResult {
  code: number | null;
  tail: string[];
}

/** Runs a process to its end with a deadline; every output line goes to `onLine`. Rejects when cancelled. */
export type RunProcess = (
  command: string,
  args: string[],
  options: { timeoutMs: number; token?: CancelToken; onLine?: (line: string) => void; env?: NodeJS.ProcessEnv },
) => Promise<ProcessResult>;

export const runProcess: RunProcess = (command, args, options) =>
  new Promise((resolve, reject) => {
    const tail: string[] = [];
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(command, args, { env: options.env ?? process.env, windowsHide: true, stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      reject(err);
      return;
    }
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      cancelSub?.dispose();
      fn();
    };
    const onLine = (line: string) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      options.onLine?.(line);
    };
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) readline.createInterface({ input: stream, crlfDelay: Infinity }).on("line", onLine);
    }
    const timer = setTimeout(() => {
      child.kill();
      finish(() => reject(new InstallError(`${nodePath.basename(command)} ${args.join(" ")} did not finish within ${options.timeoutMs / 1000} s`)));
    }, options.timeoutMs);
    const cancelSub = options.token?.onCancellationRequested(() => {
      child.kill();
      finish(() => reject(new InstallCancelled()));
    });
    child.on("error", (err) => finish(() => reject(new InstallError(`${command}: ${err.message}`))));
    child.on("close", (code) => finish(() => resolve({ code, tail })));
  });

/** What a line of pip's output says about its progress (a message, and a share of the bar). */
export function pipProgress(line: string, state: { collected: number }): { message: string; increment: number } | undefined {
  const text = line.trim();
  let m = /^Collecting (\S+)/.exec(text);
  if (m) {
    state.collected += 1;
    // ~30 packages to collect: 2 % each, up to 60 % of the bar.
    return { message: `collecting ${m[1]} (${state.collected})`, increment: state.collected <= 30 ? 2 : 0 };
  }
  m = /^Downloading (\S+)/.exec(text);
  if (m) return { message: `downloading ${nodePath.basename(m[1])}`, increment: 0 };
  m = /^Installing collected packages: (.*)$/.exec(text);
  if (m) return { message: `installing ${m[1].split(",").length} packages`, increment: 10 };
  if (/^Successfully installed /.test(text)) return { message: "installed", increment: 10 };
  return undefined;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export interface PrepareOptions {
  serverCommand: readonly string[] | undefined;
  workspaceFolder?: string;
  interpreter: Interpreter;
  bundledDir: string;
  /** `<globalStorage>/server` */
  storageRoot: string;
  ui: InstallUi;
  log: Logger;
  platform?: NodeJS.Platform;
  env?: NodeJS.ProcessEnv;
  run?: RunProcess;
  runFile?: RunFile;
}

export interface Prepared {
  command: string;
  args: string[];
  plan: LaunchPlan;
}

/** The command that starts the server, after creating the private environment when it is missing. */
export async function prepareServer(opts: PrepareOptions): Promise<Prepared> {
  const platform = opts.platform ?? process.platform;
  const manifest = await readManifest(opts.bundledDir);
  const storage = await scanStorage(opts.storageRoot, platform);
  const plan = serverLaunchPlan({ serverCommand: opts.serverCommand, workspaceFolder: opts.workspaceFolder }, manifest, opts.interpreter, storage);
  switch (plan.kind) {
    case "unavailable":
      throw new InstallError(plan.reason);
    case "command":
      opts.log.info(`Server: flyte.serverCommand ${JSON.stringify([plan.command, ...plan.args])}`);
      return { command: plan.command, args: plan.args, plan };
    case "venv-ready":
      opts.log.info(`Server: the private environment ${plan.envDir}`);
      await touch(nodePath.join(plan.envDir, LAST_USED));
      await removeAll(plan.remove, opts.log);
      return { command: plan.command, args: plan.args, plan };
    case "venv-create":
      await opts.ui.withProgress("Flyte: installing the language server (first start)", (report, token) =>
        createEnvironment(plan, manifest as Manifest, { ...opts, platform }, report, token),
      );
      return { command: plan.command, args: plan.args, plan };
  }
}

async function touch(path: string): Promise<void> {
  try {
    await fs.writeFile(path, new Date().toISOString() + "\n");
  } catch {
    // the stamp only decides when another version's environment may go
  }
}

async function removeAll(dirs: string[], log: Logger): Promise<void> {
  for (const dir of dirs) {
    try {
      await fs.rm(dir, { recursive: true, force: true });
      log.info(`Removed the old server environment ${dir}`);
    } catch (err) {
      log.warn(`Could not remove the old server environment ${dir}: ${String(err)}`);
    }
  }
}

type Report = (message: string, increment?: number) => void;

async function createEnvironment(
  plan: Extract<LaunchPlan, { kind: "venv-create" }>,
  manifest: Manifest,
  opts: PrepareOptions & { platform: NodeJS.Platform },
  report: Report,
  token: CancelToken,
): Promise<void> {
  const { log } = opts;
  const root = nodePath.dirname(plan.envDir);
  await fs.mkdir(root, { recursive: true });
  const lock = `${plan.envDir}.lock`;
  if (!(await takeLock(lock))) {
    report("another window is installing it; waiting");
    log.info(`Another window is creating ${plan.envDir}; waiting for it.`);
    await waitForReady(plan.envDir, lock, opts.platform, token);
    return;
  }
  try {
    await fs.rm(plan.envDir, { recursive: true, force: true }); // a half-made one
    await removeAll(plan.remove, log);
    await install(plan, manifest, opts, report, token);
  } catch (err) {
    await fs.rm(plan.envDir, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  } finally {
    await fs.rm(lock, { force: true }).catch(() => undefined);
  }
}

async function takeLock(lock: string): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(lock, `${process.pid}\n`, { flag: "wx" });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const age = Date.now() - ((await mtime(lock)) ?? 0);
      if (age < LOCK_STALE_MS) return false;
      await fs.rm(lock, { force: true }); // its installer died
    }
  }
  return false;
}

async function waitForReady(envDir: string, lock: string, platform: NodeJS.Platform, token: CancelToken): Promise<void> {
  const deadline = Date.now() + LOCK_STALE_MS;
  while (Date.now() < deadline) {
    if (token.isCancellationRequested) throw new InstallCancelled();
    if (existsSync(nodePath.join(envDir, READY_STAMP)) && existsSync(envPython(envDir, platform))) return;
    if (!existsSync(lock)) break; // the other window gave up
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  if (existsSync(nodePath.join(envDir, READY_STAMP))) return;
  throw new InstallError("Another window's installation of the server did not finish: run Flyte: Restart Server to try again.");
}

const SERVER_COMMAND_HINT = 'set flyte.serverCommand to a flyte-ls you installed, e.g. ["/path/to/venv/bin/flyte-ls", "serve"]';

async function install(
  plan: Extract<LaunchPlan, { kind: "venv-create" }>,
  manifest: Manifest,
  opts: PrepareOptions & { platform: NodeJS.Platform },
  report: Report,
  token: CancelToken,
): Promise<void> {
  const { log } = opts;
  const run = opts.run ?? runProcess;
  const wheel = nodePath.join(opts.bundledDir, manifest.wheel);
  const constraints = nodePath.join(opts.bundledDir, manifest.constraints);
  const started = Date.now();
  log.info(`Creating the server environment ${plan.envDir} (flyte-ls ${manifest.version}).`);

  report("checking the bundled server");
  let digest: string;
  try {
    digest = await sha256File(wheel);
  } catch (err) {
    throw new InstallError(`The bundled server ${manifest.wheel} cannot be read (${String(err)}): reinstall the extension, or ${SERVER_COMMAND_HINT}.`);
  }
  if (digest !== manifest.sha256) {
    throw new InstallError(`The bundled server ${manifest.wheel} is damaged (its sha256 differs): reinstall the extension, or ${SERVER_COMMAND_HINT}.`);
  }

  report("looking for Python ≥ 3.10", 2);
  const base = await pickBasePython(plan.basePythons, opts.runFile ?? runFile, log);
  if (token.isCancellationRequested) throw new InstallCancelled();
  if (!base) {
    const tried = plan.basePythons.map((c) => [c.command, ...c.args].join(" ")).join(", ");
    throw new InstallError(
      `flyte-ls needs Python 3.10 or newer to install its server, and none was found (tried ${tried}). Select an ` +
        `interpreter ≥ 3.10 (Python: Select Interpreter), install one, or ${SERVER_COMMAND_HINT}.`,
    );
  }
  const baseLabel = [base.command.command, ...base.command.args].join(" ");
  log.info(`Base Python: ${baseLabel} (${base.probe.version.join(".")}).`);

  const step = async (what: string, args: string[], command: string, timeoutMs: number, onLine?: (line: string) => void) => {
    log.info(`$ ${[command, ...args].join(" ")}`);
    const result = await run(command, args, {
      timeoutMs,
      token,
      env: { ...process.env, ...opts.env, PIP_NO_INPUT: "1", PYTHONUNBUFFERED: "1" },
      onLine: (line) => {
        log.info(`  ${line}`);
        onLine?.(line);
      },
    });
    if (result.code !== 0) {
      const last = result.tail.filter((l) => l.trim()).slice(-1)[0]?.trim() ?? `exit code ${result.code}`;
      throw new InstallError(`Installing the server failed while ${what}: ${last}. See Show Logs; or ${SERVER_COMMAND_HINT}.`);
    }
  };

  report(`creating a virtual environment with Python ${base.probe.version.slice(0, 2).join(".")}`, 3);
  await step("creating the virtual environment", [...base.command.args, "-m", "venv", plan.envDir], base.command.command, TIMEOUTS.venv);
  report("installing flyte-ls and its dependencies", 5);
  const pip = { collected: 0 };
  await step(
    "installing with pip",
    ["-m", "pip", "install", "--disable-pip-version-check", "-c", constraints, wheel],
    plan.command,
    TIMEOUTS.pip,
    (line) => {
      const progress = pipProgress(line, pip);
      if (progress) report(progress.message, progress.increment);
    },
  );
  report("checking the installed server");
  await step("checking the installed server", ["-c", "import flyte_ls.server.app"], plan.command, TIMEOUTS.verify);
  const stamp = { version: manifest.version, sha256: manifest.sha256, python: base.probe.executable, created: new Date().toISOString() };
  await fs.writeFile(nodePath.join(plan.envDir, READY_STAMP), JSON.stringify(stamp, null, 2) + "\n");
  await touch(nodePath.join(plan.envDir, LAST_USED));
  log.info(`The server environment is ready (${((Date.now() - started) / 1000).toFixed(1)} s).`);
}

async function pickBasePython(
  candidates: PythonCommand[],
  run: RunFile,
  log: Logger,
): Promise<{ command: PythonCommand; probe: ProbeResult } | undefined> {
  for (const command of candidates) {
    try {
      const probe = await probeInterpreter(command.command, run, TIMEOUTS.probe, command.args);
      if (isAtLeast(probe.version, 3, 10)) return { command, probe };
      log.info(`${command.command} is Python ${probe.version.join(".")}: too old for the server (3.10+).`);
    } catch {
      // not on PATH, or does not run: try the next
    }
  }
  return undefined;
}
