// The status bar, Select Profile and Start / Stop Local Backend against the real server: what flyte/backendStatus,
// flyte/projects and flyte.startLocalBackend / flyte.stopLocalBackend really answer, through src/statusBar.ts,
// src/profile.ts and src/commands.ts (with a scripted UI). Settings changes reach the server as VS Code sends
// them (workspace/didChangeConfiguration, then its workspace/configuration pull), so the wait in selectProfile
// for the server to apply a new backend is exercised for real — also Local backend over a ~/.flyte/config.yaml
// that flytekit's discovery finds (flyte.backend = local).
import * as assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as vscode from "vscode";
import { commandHandlers, type CommandsUi } from "../../src/commands";
import type { ProfileKey } from "../../src/profile";
import type { BackendStatus } from "../../src/protocol";
import { StatusBarController, type StatusItemLike } from "../../src/statusBar";
import { cleanUp, copyExamples, python, serverHost, startServer, type ServerSession } from "./harness";

type PickAnswer = (items: readonly vscode.QuickPickItem[]) => vscode.QuickPickItem | undefined;

/** A UI that answers QuickPicks and InputBoxes from queues and records messages. */
function scriptedUi() {
  const ui = {
    picks: [] as PickAnswer[],
    inputs: [] as string[],
    pickItems: [] as (readonly vscode.QuickPickItem[])[],
    messages: [] as string[],
    showInformationMessage: async (m: string) => void ui.messages.push(m),
    showWarningMessage: async (m: string) => void ui.messages.push(`warning: ${m}`),
    showErrorMessage: async (m: string) => void ui.messages.push(`error: ${m}`),
    showQuickPick: async (items: readonly vscode.QuickPickItem[] | Thenable<readonly vscode.QuickPickItem[]>) => {
      const resolved = await items;
      ui.pickItems.push(resolved);
      const answer = ui.picks.shift();
      assert.ok(answer, `unexpected QuickPick: ${resolved.map((i) => i.label).join(", ")}`);
      return answer(resolved);
    },
    showInputBox: async (o?: vscode.InputBoxOptions) => {
      const text = ui.inputs.shift();
      assert.ok(text !== undefined, `unexpected InputBox ${o?.title}`);
      assert.equal(o?.validateInput?.(text), undefined);
      return text;
    },
    withProgress: <R>(_title: string, task: () => Promise<R>) => task(),
    activeEditor: () => undefined,
    saveDocument: async () => true,
    openExternal: async () => true,
    executeCommand: async () => undefined,
  };
  return ui;
}

const label = (re: RegExp): PickAnswer => (items) => items.find((i) => re.test(i.label));

describe("status bar and profiles on the real server", function () {
  this.timeout(240_000);
  let session: ServerSession;
  let home: string;
  const saved = { HOME: process.env.HOME, FLYTECTL_CONFIG: process.env.FLYTECTL_CONFIG };
  const settings = new Map<ProfileKey, unknown>();

  /** The `flyte` section the server pulls: the harness's defaults plus what the profile wrote. */
  function section(): Record<string, unknown> {
    const out: Record<string, unknown> = { pythonPath: python(), local: { autoStart: true } };
    for (const [key, value] of settings) out[key] = value;
    return out;
  }

  before(async () => {
    // No config file of this machine's user may be found by flytekit's discovery.
    home = mkdtempSync(join(tmpdir(), "flyte-status-home-"));
    process.env.HOME = home;
    delete process.env.FLYTECTL_CONFIG;
    session = await startServer({ local: { autoStart: true } }, copyExamples());
  });

  after(async () => {
    try {
      await session?.executeCommand("flyte.stopLocalBackend", {}, 60_000);
    } finally {
      await session?.stop();
      process.env.HOME = saved.HOME;
      if (saved.FLYTECTL_CONFIG !== undefined) process.env.FLYTECTL_CONFIG = saved.FLYTECTL_CONFIG;
      cleanUp();
    }
  });

  /** The status bar and the commands over the session, with the scripted UI and the settings map. */
  function extension() {
    const host = serverHost(session);
    const item: StatusItemLike = { text: "", tooltip: undefined, command: undefined, show: () => undefined, dispose: () => undefined };
    const bar = new StatusBarController(item, host);
    const ui = scriptedUi();
    const handlers = commandHandlers(host, {
      memory: { get: () => undefined, update: async () => undefined },
      ui: ui as unknown as CommandsUi,
      statusBar: bar,
      profile: {
        home,
        get: (key) => settings.get(key),
        update: async (key, value) => {
          settings.set(key, value);
          session.changeSettings(section());
        },
        configFiles: async () => [],
      },
    });
    return { host, item, bar, ui, handlers };
  }

  it("shows the local backend, starts it, switches the profile to its endpoint and back, and stops it", async () => {
    const { host, item, bar, ui, handlers } = extension();
    try {
      // Nothing configured, nothing started: the local backend will start on the first Run (no warning).
      await bar.refresh();
      assert.equal(item.text, "$(cloud) flytesnacks/development · local", String(item.tooltip));
      assert.match(String(item.tooltip), /starts on the first Run/);

      await handlers["flyte-ls.startLocalBackend"]();
      const started = ui.messages.at(-1) ?? "";
      assert.match(started, /^Local Flyte backend started: Admin at (127\.0\.0\.1:\d+), console at http:\/\/\S+\.$/, ui.messages.join("\n"));
      const endpoint = /Admin at (\S+?),/.exec(started)?.[1] ?? "";
      assert.equal(item.text, "$(cloud) flytesnacks/development · local $(check)", String(item.tooltip));
      const status = await host.sendRequest<BackendStatus>("flyte/backendStatus", { refresh: true });
      assert.equal(status.local.adminEndpoint, endpoint);

      // Point the profile at that endpoint explicitly, then pick a project and domain the backend lists.
      ui.picks.push(label(/^Enter endpoint/), label(/^Plaintext/), label(/flytesnacks/), label(/staging/));
      ui.inputs.push(endpoint);
      await handlers["flyte-ls.selectProfile"]();
      assert.equal(settings.get("endpoint"), endpoint);
      assert.equal(settings.get("insecure"), true);
      assert.equal(settings.get("domain"), "staging");
      assert.ok(ui.pickItems[2].some((i) => /flytesnacks/.test(i.label)), "projects from the backend");
      assert.deepEqual(ui.pickItems[3].map((i) => i.label.replace("$(check) ", "")).filter((l) => !l.startsWith("Enter")).sort(), ["development", "production", "staging"]);
      assert.equal(ui.messages.at(-1), `Flyte profile: ${endpoint} (setting flyte.endpoint) · flytesnacks/staging.`);
      assert.equal(item.text, `$(cloud) flytesnacks/staging · local $(check)`, String(item.tooltip));

      // Back to the local backend: flyte.backend = local, the endpoint setting cleared.
      ui.picks.push(label(/Local backend/), label(/flytesnacks/), label(/development/));
      await handlers["flyte-ls.selectProfile"]();
      assert.equal(settings.get("backend"), "local");
      assert.equal(settings.get("endpoint"), null);
      assert.equal(settings.get("domain"), "development");
      assert.equal(ui.messages.at(-1), `Flyte profile: local backend at ${endpoint} (chosen by flyte.backend) · flytesnacks/development.`);

      await handlers["flyte-ls.stopLocalBackend"]();
      assert.match(ui.messages.at(-1) ?? "", /^Local Flyte backend stopped \(its state stays in .+\)\.$/, ui.messages.join("\n"));
      assert.doesNotMatch(item.text, /\$\(check\)/);
      assert.match(item.text, /· local/);
      assert.deepEqual(host.lines.filter((l) => l.startsWith("[error]")), []);
    } finally {
      bar.dispose();
    }
  });

  it("chooses the local backend over a ~/.flyte/config.yaml that flytekit's discovery finds", async () => {
    const { host, item, bar, ui, handlers } = extension();
    try {
      // The user's cluster, where nothing answers (port 1), found by discovery: with flyte.backend = auto it wins.
      const cluster = join(home, ".flyte", "config.yaml");
      mkdirSync(join(home, ".flyte"), { recursive: true });
      writeFileSync(cluster, "admin:\n  endpoint: dns:///127.0.0.1:1\n  insecure: true\n");
      settings.set("backend", "auto");
      settings.set("endpoint", null);
      session.changeSettings(section());
      const until = Date.now() + 30_000;
      let status = await host.sendRequest<BackendStatus>("flyte/backendStatus", { refresh: true });
      while (!status.source.includes(cluster) && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 200));
        status = await host.sendRequest<BackendStatus>("flyte/backendStatus", { refresh: true });
      }
      assert.equal(status.source, `from ${cluster}, found by flytekit's config discovery`, JSON.stringify(status));
      await bar.refresh();
      assert.equal(item.text, "$(cloud) flytesnacks/development · 127.0.0.1:1 $(warning)", String(item.tooltip));

      // Select Profile → Local backend: the server reports the local backend chosen by flyte.backend; the project
      // step lists the local backend's projects (flyte/projects starts it, like a Run).
      ui.picks.push(label(/Local backend/), label(/flytesnacks/), label(/development/));
      await handlers["flyte-ls.selectProfile"]();
      assert.equal(settings.get("backend"), "local");
      assert.ok(ui.pickItems.at(-2)?.some((i) => /flytesnacks/.test(i.label)), "projects from the local backend");
      const local = await host.sendRequest<BackendStatus>("flyte/backendStatus", { refresh: true });
      assert.equal(local.setting, "flyte.backend");
      assert.equal(local.source, `local backend chosen by flyte.backend (flyte-ls local, state in ${local.local.stateDir})`);
      assert.ok(local.reachable && local.endpoint, JSON.stringify(local));
      assert.equal(ui.messages.at(-1), `Flyte profile: local backend at ${local.endpoint} (chosen by flyte.backend) · flytesnacks/development.`);
      assert.equal(item.text, "$(cloud) flytesnacks/development · local $(check)", String(item.tooltip));

      // Start Local Backend finds it running and does not send the user to Select Profile.
      await handlers["flyte-ls.startLocalBackend"]();
      assert.match(ui.messages.at(-1) ?? "", /^The local Flyte backend is already running: Admin at \S+, console at \S+\.$/);
      assert.deepEqual(host.lines.filter((l) => l.startsWith("[error]")), []);
    } finally {
      bar.dispose();
    }
  });
});
