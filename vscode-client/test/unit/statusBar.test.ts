import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import type { DisposableLike } from "../../src/host";
import type { BackendStatus } from "../../src/protocol";
import { createStatusBar, failureView, md, serverDownView, StatusBarController, statusView, type StatusItemLike } from "../../src/statusBar";
import { recorder } from "../vscodeMock";
import { resetMock } from "../mock";

function status(over: Partial<BackendStatus> = {}): BackendStatus {
  return {
    endpoint: null,
    source: "none",
    setting: null,
    reachable: false,
    error: null,
    project: "flytesnacks",
    domain: "development",
    consoleUrl: null,
    configFile: null,
    local: { stateDir: "/cache/flyte-ls/local", running: false, adminEndpoint: null, consoleUrl: null, pid: null },
    autoStart: true,
    ...over,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fakeItem(): StatusItemLike & { shown: number; disposed: boolean } {
  return {
    text: "",
    tooltip: undefined,
    command: undefined,
    shown: 0,
    disposed: false,
    show() {
      this.shown += 1;
    },
    dispose() {
      this.disposed = true;
    },
  };
}

/** A server whose `flyte/backendStatus` answers with `answer()` (a value, a throw, or a never-settling promise). */
function fakeHost(answer: () => Promise<BackendStatus>, running = true) {
  const listeners: ((running: boolean) => void)[] = [];
  const host = {
    running,
    requests: 0,
    warnings: [] as string[],
    log: { info: () => undefined, warn: (m: string) => host.warnings.push(m), error: () => undefined },
    isRunning: () => host.running,
    onDidChangeState: (l: (running: boolean) => void): DisposableLike => {
      listeners.push(l);
      return { dispose: () => listeners.splice(listeners.indexOf(l), 1) };
    },
    sendRequest: <R>(method: string, params: unknown): Promise<R> => {
      assert.equal(method, "flyte/backendStatus");
      assert.deepEqual(params, { refresh: true }); // not the server's few-seconds cache: settings may just have changed
      host.requests += 1;
      return answer() as Promise<R>;
    },
    setRunning(r: boolean) {
      host.running = r;
      listeners.forEach((l) => l(r));
    },
    listeners,
  };
  return host;
}

describe("status bar: what it shows", () => {
  it("a reachable remote backend: project/domain · endpoint ✓, with source, console and config in the tooltip", () => {
    const v = statusView(
      status({
        endpoint: "dns:///flyte.example.com:443",
        source: "from ~/.flyte/config.yaml, found by flytekit's config discovery",
        reachable: true,
        project: "ml",
        domain: "staging",
        consoleUrl: "https://flyte.example.com/console",
        configFile: "/home/u/.flyte/config.yaml",
      }),
    );
    assert.equal(v.text, "$(cloud) ml/staging · flyte.example.com:443 $(check)");
    assert.equal(v.command, "flyte-ls.selectProfile");
    assert.match(v.tooltip, /answers/);
    assert.match(v.tooltip, /\[https:\/\/flyte\.example\.com\/console\]\(https:\/\/flyte.example.com\/console\)|\(https:\/\/flyte\.example\.com\/console\)/);
    assert.match(v.tooltip, /`\/home\/u\/\.flyte\/config\.yaml`/);
    assert.match(v.tooltip, /found by flytekit's config discovery/);
    assert.match(v.tooltip, /\(command:flyte-ls\.selectProfile\)/);
    assert.doesNotMatch(v.tooltip, /Local backend/);
  });

  it("the local backend not started yet: `local` with no warning, and the tooltip says it starts on the first Run", () => {
    const v = statusView(status({ setting: "flyte.endpoint", error: "Nothing is configured: the first Run or Register starts the local backend" }));
    assert.equal(v.text, "$(cloud) flytesnacks/development · local");
    assert.match(v.tooltip, /starts on the first Run/);
    assert.match(v.tooltip, /\$\(info\) Nothing is configured/);
    assert.doesNotMatch(v.tooltip, /\$\(warning\)/);
    assert.match(v.tooltip, /`\/cache\/flyte-ls\/local`/);
    const running = statusView(
      status({
        endpoint: "127.0.0.1:30080",
        source: "local backend (flyte-ls local, state in /cache/flyte-ls/local)",
        reachable: true,
        local: { stateDir: "/cache/flyte-ls/local", running: true, adminEndpoint: "127.0.0.1:30080", consoleUrl: "http://127.0.0.1:30081/console", pid: 42 },
      }),
    );
    assert.equal(running.text, "$(cloud) flytesnacks/development · local $(check)");
    assert.match(running.tooltip, /running at `127\.0\.0\.1:30080` \(pid 42\)/);
    // the sandbox probe answered, and it is the local backend on the sandbox's port
    const onSandboxPort = statusView(
      status({
        endpoint: "localhost:30080",
        source: "sandbox localhost:30080",
        reachable: true,
        local: { stateDir: "/s", running: true, adminEndpoint: "127.0.0.1:30080", consoleUrl: null, pid: 42 },
      }),
    );
    assert.equal(onSandboxPort.text, "$(cloud) flytesnacks/development · local $(check)");
    const realSandbox = statusView(status({ endpoint: "localhost:30080", source: "sandbox localhost:30080", reachable: true }));
    assert.equal(realSandbox.text, "$(cloud) flytesnacks/development · localhost:30080 $(check)");
  });

  it("a local backend with auto-start off offers to start it", () => {
    const v = statusView(status({ autoStart: false }));
    assert.equal(v.text, "$(cloud) flytesnacks/development · local $(warning)");
    assert.match(v.tooltip, /\(command:flyte-ls\.startLocalBackend\)/);
  });

  it("the local backend chosen by flyte.backend starts on the first Run whatever auto-start says", () => {
    const chosen = { source: "local backend chosen by flyte.backend (flyte-ls local, state in /c)", setting: "flyte.backend", autoStart: false };
    const waiting = statusView(status({ ...chosen, error: "The local Flyte backend (chosen by flyte.backend) is not running: the first Run or Register starts it." }));
    assert.equal(waiting.text, "$(cloud) flytesnacks/development · local");
    assert.match(waiting.tooltip, /starts on the first Run/);
    assert.doesNotMatch(waiting.tooltip, /autoStart/);
    const running = statusView(
      status({ ...chosen, endpoint: "127.0.0.1:4000", reachable: true, local: { stateDir: "/c", running: true, adminEndpoint: "127.0.0.1:4000", consoleUrl: null, pid: 7 } }),
    );
    assert.equal(running.text, "$(cloud) flytesnacks/development · local $(check)");
  });

  it("a configured backend that does not answer: ⚠, the error (escaped) and the setting to change", () => {
    const v = statusView(
      status({ endpoint: "prod:443", source: "setting flyte.endpoint", setting: "flyte.endpoint", error: "UNAVAILABLE *prod:443* [refused]; fix flyte.endpoint" }),
    );
    assert.equal(v.text, "$(cloud) flytesnacks/development · prod:443 $(warning)");
    assert.match(v.tooltip, /does not answer/);
    assert.ok(v.tooltip.includes(md("UNAVAILABLE *prod:443* [refused]; fix flyte.endpoint")));
    assert.ok(v.tooltip.includes("\\*prod:443\\* \\[refused\\]"));
    assert.match(v.tooltip, /Setting to change: `flyte\.endpoint`/);
  });

  it("no status: `⚠ flyte-ls` with the reason; server down: a click shows the logs", () => {
    assert.equal(failureView("boom").text, "$(warning) flyte-ls");
    assert.match(failureView("boom").tooltip, /boom/);
    assert.equal(serverDownView().command, "flyte-ls.showLogs");
    assert.match(serverDownView().tooltip, /command:flyte-ls\.restartServer/);
  });
});

describe("status bar: when it asks", () => {
  const controllers: StatusBarController[] = [];
  afterEach(() => controllers.splice(0).forEach((c) => c.dispose()));
  const make = (item: StatusItemLike, host: ReturnType<typeof fakeHost>, options = {}) => {
    const c = new StatusBarController(item, host, options);
    controllers.push(c);
    return c;
  };

  it("shows the status on refresh, and the server being down without asking", async () => {
    const item = fakeItem();
    const host = fakeHost(async () => status({ endpoint: "x:1", reachable: true }));
    const c = make(item, host);
    assert.equal(item.shown, 1);
    await c.refresh();
    assert.equal(item.text, "$(cloud) flytesnacks/development · x:1 $(check)");
    host.running = false;
    await c.refresh();
    assert.equal(item.text, "$(warning) flyte-ls");
    assert.equal(item.command, "flyte-ls.showLogs");
    assert.equal(host.requests, 1);
  });

  it("refreshes when the server starts and shows it down when it stops", async () => {
    const item = fakeItem();
    const host = fakeHost(async () => status({ reachable: true, local: { stateDir: "/s", running: true, adminEndpoint: "a:1", consoleUrl: null, pid: 1 } }), false);
    make(item, host);
    assert.equal(item.text, "$(warning) flyte-ls");
    host.setRunning(true);
    await sleep(10);
    assert.equal(host.requests, 1);
    assert.match(item.text, /· local \$\(check\)$/);
    host.setRunning(false);
    assert.equal(item.text, "$(warning) flyte-ls");
  });

  it("gives up after the deadline, and logs a repeated failure once", async () => {
    const item = fakeItem();
    const host = fakeHost(() => new Promise(() => undefined));
    const c = make(item, host, { timeoutMs: 30 });
    const started = Date.now();
    await c.refresh();
    assert.ok(Date.now() - started < 1000);
    assert.equal(item.text, "$(warning) flyte-ls");
    assert.ok(String(item.tooltip).includes(md("flyte/backendStatus did not answer within 0.03 s")));
    await c.refresh();
    assert.equal(host.warnings.length, 1);
  });

  it("logs a failure again after a success in between", async () => {
    let fail = true;
    const host = fakeHost(async () => {
      if (fail) throw new Error("The server is not running: Restart Server");
      return status();
    });
    const c = make(fakeItem(), host);
    await c.refresh();
    fail = false;
    await c.refresh();
    fail = true;
    await c.refresh();
    assert.deepEqual(host.warnings, ["Status bar: The server is not running: Restart Server", "Status bar: The server is not running: Restart Server"]);
  });

  it("asks once at a time: calls during a request make one more request after it", async () => {
    let release: () => void = () => undefined;
    const host = fakeHost(() => new Promise((r) => (release = () => r(status()))));
    const c = make(fakeItem(), host);
    const first = c.refresh();
    const second = c.refresh();
    const third = c.refresh();
    assert.equal(second, third);
    release();
    await first;
    await sleep(1);
    assert.equal(host.requests, 2);
    release();
    await second;
    assert.equal(host.requests, 2);
  });

  it("polls only while visible", async () => {
    const host = fakeHost(async () => status());
    const c = make(fakeItem(), host, { intervalMs: 25 });
    c.setVisible(true);
    assert.ok(c.isPolling());
    await sleep(90);
    const whileVisible = host.requests;
    assert.ok(whileVisible >= 3, `asked ${whileVisible} times`);
    c.setVisible(false);
    assert.ok(!c.isPolling());
    await sleep(80);
    assert.equal(host.requests, whileVisible);
  });

  it("asks once after a burst of settings changes", async () => {
    const host = fakeHost(async () => status());
    const c = make(fakeItem(), host, { settleMs: 20 });
    c.configurationChanged();
    c.configurationChanged();
    c.configurationChanged();
    assert.equal(host.requests, 0);
    await sleep(60);
    assert.equal(host.requests, 1);
  });

  it("stops asking and updating once disposed", async () => {
    const item = fakeItem();
    const host = fakeHost(async () => status());
    const c = new StatusBarController(item, host, { intervalMs: 10, settleMs: 5 });
    c.setVisible(true);
    c.configurationChanged();
    c.dispose();
    const before = host.requests;
    await sleep(40);
    assert.equal(host.requests, before);
    assert.ok(item.disposed);
    assert.equal(host.listeners.length, 0);
  });
});

describe("createStatusBar", () => {
  it("puts a left item that selects the profile, and refreshes after a flyte.* settings change only", async () => {
    const m = resetMock();
    const items: StatusItemLike[] = [];
    m.window.createStatusBarItem.impl = () => {
      const item = fakeItem();
      items.push(item);
      return item;
    };
    Object.assign(m.window, { state: { focused: false }, onDidChangeWindowState: recorder(() => new vscode.Disposable(() => undefined)) });
    const host = Object.assign(fakeHost(async () => status({ reachable: true })), { restart: async () => undefined, showLogs: () => undefined, executeCommand: async () => undefined, sendCommand: async () => undefined, onNotification: () => ({ dispose: () => undefined }) });
    const context = { subscriptions: [] as { dispose(): unknown }[] };
    const bar = createStatusBar(context as unknown as vscode.ExtensionContext, host as never);
    try {
      const [id, alignment] = m.window.createStatusBarItem.calls[0];
      assert.equal(id, "flyte-ls.status");
      assert.equal(alignment, vscode.StatusBarAlignment.Left);
      assert.equal(context.subscriptions.length, 1);
      await bar.refresh();
      assert.equal(items[0].command, "flyte-ls.selectProfile");
      assert.ok(items[0].tooltip instanceof vscode.MarkdownString);
      const onConfig = (m.workspace.onDidChangeConfiguration as ReturnType<typeof recorder>).calls[0][0] as (e: { affectsConfiguration(s: string): boolean }) => void;
      const before = host.requests;
      onConfig({ affectsConfiguration: (s) => s === "python" });
      onConfig({ affectsConfiguration: (s) => s === "flyte" });
      await sleep(700);
      assert.equal(host.requests, before + 1);
    } finally {
      bar.dispose();
    }
  });
});
