// The private server environment for real: serverInstall.ts creates it in a temporary global storage from
// bundled/ (built by `npm run bundle-server` when missing) with $FLYTE_LS_PYTHON as the base Python, the installed
// server answers `initialize` over stdio, and a second start finds the environment ready and creates nothing.
// Then ServerClient starts it with the real vscode-languageclient LanguageClient (on the `vscode` stand-in), gets
// answers, restarts it and stops it. pip's cache keeps the install to seconds after the first run on a machine.
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createProtocolConnection, StreamMessageReader, StreamMessageWriter, type InitializeResult } from "vscode-languageserver-protocol/node";
import * as vscode from "vscode";
import { ServerClient } from "../../src/client";
import { resolveInterpreter, type Interpreter } from "../../src/interpreter";
import { envName, prepareServer, readManifest, runProcess, type InstallUi, type Manifest, type Prepared, type RunProcess } from "../../src/serverInstall";
import { resetMock } from "../mock";
import { cleanUp, copyExamples, python, tempDir, withDeadline } from "./harness";

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
  let interpreter: Interpreter;
  let storageRoot: string;
  let manifest: Manifest;
  let first: Prepared;
  const reports: string[] = [];
  let seconds = 0;

  before(async function () {
    if (!existsSync(join(BUNDLED, "manifest.json"))) {
      const result = await runProcess(process.execPath, [join(CLIENT, "scripts", "bundleServer.mjs")], {
        timeoutMs: 240_000,
        env: { ...process.env, FLYTE_LS_PYTHON: python() },
      });
      assert.equal(result.code, 0, `npm run bundle-server failed:\n${result.tail.join("\n")}`);
    }
    const base = python();
    interpreter = await resolveInterpreter({
      setting: () => base,
      workspaceFolder: () => undefined,
      scope: () => undefined,
      envsApi: async () => undefined,
      pythonApi: async () => undefined,
    });
    assert.ok(interpreter.version && !interpreter.problem, `the base Python ${base} runs`);
    storageRoot = join(tempDir("storage"), "server");
    const read = await readManifest(BUNDLED);
    assert.ok(read, "bundled/manifest.json");
    manifest = read;
    const started = Date.now();
    first = await prepareServer({ serverCommand: [], interpreter, bundledDir: BUNDLED, storageRoot, ui: ui(reports), log });
    seconds = (Date.now() - started) / 1000;
  });

  after(() => cleanUp());

  it("creates the private environment from the bundled wheel with pip's progress, and its server answers initialize", async () => {
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
  });

  it("finds the environment ready the next time and creates nothing", async () => {
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

  it("runs under ServerClient with the real LanguageClient: answers, restarts, stops", async () => {
    const m = resetMock();
    const workspace = copyExamples();
    Object.assign(m.env, { appName: "Visual Studio Code", language: "en", machineId: "test", sessionId: "test" });
    m.workspace.workspaceFolders = [{ uri: vscode.Uri.file(workspace), name: "examples", index: 0 }];
    m.workspace.textDocuments = [];
    const cache = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = tempDir("cache"); // the server's user cache (the child inherits it)
    const lines: string[] = [];
    const push = (level: string) => (s: unknown) => void lines.push(`${level} ${String(s)}`);
    const channel = { name: "Flyte", info: push("info"), warn: push("warn"), error: push("error"), trace: push("trace"), debug: push("debug") };
    Object.assign(channel, { append: push("append"), appendLine: push("line"), show: () => undefined, dispose: () => undefined, logLevel: 2 });
    Object.assign(channel, { onDidChangeLogLevel: () => ({ dispose: () => undefined }), replace: () => undefined, clear: () => undefined });
    const store = new Map<string, unknown>();
    const host = new ServerClient({
      channel: channel as unknown as vscode.LogOutputChannel,
      memory: { get: <T>(k: string) => store.get(k) as T, update: async (k: string, v: unknown) => void store.set(k, v) },
      bundledDir: BUNDLED,
      storageRoot,
      resolve: async () => interpreter,
      settings: () => ({ section: { local: { autoStart: false } }, serverCommand: [], workspaceFolder: workspace }),
    });
    const states: boolean[] = [];
    host.onDidChangeState((running) => states.push(running));
    try {
      await host.start();
      assert.ok(host.isRunning(), lines.join("\n"));
      assert.deepEqual(await host.sendRequest("flyte/executions", {}), []);
      await host.restart("test");
      assert.ok(host.isRunning(), lines.join("\n"));
      assert.deepEqual(await host.sendRequest("flyte/executions", {}), []);
      assert.deepEqual(states, [true, false, true]);
      assert.ok(lines.some((l) => l.includes(`Starting ${first.command} -m flyte_ls serve`)));
      assert.ok(lines.some((l) => l.includes("flyte-ls 0.1.0 initialising for Visual Studio Code")), "the server's log reaches the channel");
    } finally {
      await host.dispose();
      if (cache === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = cache;
    }
    assert.deepEqual(states, [true, false, true, false]);
    await assert.rejects(host.sendRequest("flyte/executions", {}), /not running/);
  });
});
