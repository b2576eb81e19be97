// The private server environment for real: serverInstall.ts creates it in a temporary global storage from
// bundled/ (built by `npm run bundle-server` when missing) with $FLYTE_LS_PYTHON as the base Python, the installed
// server answers `initialize` over stdio, and a second start finds the environment ready and creates nothing.
// pip's cache keeps the install to seconds after the first run on a machine.
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createProtocolConnection, StreamMessageReader, StreamMessageWriter, type InitializeResult } from "vscode-languageserver-protocol/node";
import { resolveInterpreter } from "../../src/interpreter";
import { envName, prepareServer, readManifest, type InstallUi, type RunProcess, runProcess } from "../../src/serverInstall";
import { cleanUp, python, tempDir, withDeadline } from "./harness";

const CLIENT = resolve(__dirname, "..", "..", "..");
const BUNDLED = join(CLIENT, "bundled");

const log = {
  lines: [] as string[],
  info(m: string) {
    this.lines.push(m);
  },
  warn(m: string) {
    this.lines.push(m);
  },
  error(m: string) {
    this.lines.push(m);
  },
};

function ui(reports: string[]): InstallUi {
  const token = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose: () => undefined }) };
  return { withProgress: (_title, task) => task((message) => reports.push(message), token) };
}

async function initialize(command: string, args: string[], cwd: string): Promise<InitializeResult> {
  const child = spawn(command, args, { cwd, stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, XDG_CACHE_HOME: tempDir("cache") } });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += String(d)));
  const connection = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  connection.listen();
  try {
    return await withDeadline(
      connection.sendRequest<InitializeResult>("initialize", {
        processId: process.pid,
        rootUri: null,
        workspaceFolders: null,
        capabilities: {},
        initializationOptions: { local: { autoStart: false } },
      }),
      60_000,
      `initialize from the installed server (stderr: ${stderr})`,
    );
  } finally {
    await withDeadline(connection.sendRequest("shutdown"), 10_000, "shutdown").catch(() => undefined);
    connection.sendNotification("exit").catch(() => undefined);
    const exited = new Promise((ok) => child.once("exit", ok));
    await withDeadline(exited, 10_000, "the server to exit").catch(() => child.kill("SIGKILL"));
    connection.dispose();
  }
}

describe("installing the bundled server (contract)", function () {
  this.timeout(300_000);

  before(async function () {
    if (existsSync(join(BUNDLED, "manifest.json"))) return;
    const result = await runProcess(process.execPath, [join(CLIENT, "scripts", "bundleServer.mjs")], {
      timeoutMs: 240_000,
      env: { ...process.env, FLYTE_LS_PYTHON: python() },
    });
    assert.equal(result.code, 0, `npm run bundle-server failed:\n${result.tail.join("\n")}`);
  });

  after(() => cleanUp());

  it("creates the private environment, starts the server from it, and reuses it the next time", async () => {
    const base = python();
    const interpreter = await resolveInterpreter({
      setting: () => base,
      workspaceFolder: () => undefined,
      scope: () => undefined,
      envsApi: async () => undefined,
      pythonApi: async () => undefined,
    });
    assert.ok(interpreter.version && !interpreter.problem, `the base Python ${base} runs`);
    const storageRoot = join(tempDir("storage"), "server");
    const manifest = await readManifest(BUNDLED);
    assert.ok(manifest, "bundled/manifest.json");

    const reports: string[] = [];
    const started = Date.now();
    const first = await prepareServer({ serverCommand: [], interpreter, bundledDir: BUNDLED, storageRoot, ui: ui(reports), log });
    const seconds = (Date.now() - started) / 1000;
    assert.equal(first.plan.kind, "venv-create", log.lines.join("\n"));
    const envDir = join(storageRoot, envName(manifest));
    assert.equal(first.command, join(envDir, process.platform === "win32" ? "Scripts\\python.exe" : "bin/python"));
    assert.equal(JSON.parse(readFileSync(join(envDir, "ready"), "utf8")).sha256, manifest.sha256);
    assert.ok(reports.some((r) => r.startsWith("installing ")), `pip's progress reported: ${reports.join(" | ")}`);
    assert.ok(log.lines.some((l) => l.startsWith("$ ") && l.includes("pip install")), "the pip command is logged");
    process.stderr.write(`      (created in ${seconds.toFixed(1)} s)\n`);

    const result = await initialize(first.command, first.args, envDir);
    assert.equal(result.serverInfo?.name, "flyte-ls");
    assert.ok(result.capabilities.executeCommandProvider?.commands?.includes("flyte.execute"));

    const calls: string[][] = [];
    const recording: RunProcess = async (command, args, options) => {
      calls.push([command, ...args]);
      return runProcess(command, args, options);
    };
    const second = await prepareServer({ serverCommand: [], interpreter, bundledDir: BUNDLED, storageRoot, ui: ui([]), log, run: recording });
    assert.equal(second.plan.kind, "venv-ready");
    assert.equal(second.command, first.command);
    assert.deepEqual(calls, [], "nothing is created the second time");
  });
});
