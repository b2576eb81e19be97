import * as assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import { activate, deactivate } from "../../src/extension";
import { ClientCommands } from "../../src/protocol";
import { resetMock } from "../mock";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("extension", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "flyte-ext-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("registers every contributed command, starts the server in the background and stops it on deactivate", async () => {
    const m = resetMock();
    Object.assign(m.window, { state: { focused: false }, onDidChangeWindowState: () => ({ dispose: () => undefined }) });
    const store = new Map<string, unknown>();
    const memento = { get: (k: string) => store.get(k), update: async (k: string, v: unknown) => void store.set(k, v), keys: () => [...store.keys()] };
    const subscriptions: { dispose(): unknown }[] = [];
    const context = {
      subscriptions,
      workspaceState: memento,
      globalState: memento,
      // No bundled/ here: the server cannot be installed, which the extension must say (and not hang).
      asAbsolutePath: (p: string) => path.join(dir, p),
      globalStorageUri: vscode.Uri.file(path.join(dir, "storage")),
      extensionPath: dir,
    } as unknown as vscode.ExtensionContext;

    const api = await activate(context);
    const contributed = JSON.parse(readFileSync(path.resolve(__dirname, "..", "..", "..", "package.json"), "utf8")).contributes.commands.map(
      (c: { command: string }) => c.command,
    );
    assert.deepEqual([...m.commands.registered.keys()].sort(), [...contributed].sort());
    assert.deepEqual([...contributed].sort(), Object.values(ClientCommands).sort());

    for (let i = 0; i < 50 && m.window.showErrorMessage.calls.length === 0; i++) await sleep(20);
    const [message] = m.window.showErrorMessage.calls[0] as [string];
    assert.match(message, /no bundled server.*set flyte\.serverCommand/);
    assert.equal(api.host.isRunning(), false);

    await deactivate();
    subscriptions.forEach((s) => s.dispose());
    assert.equal(m.commands.registered.size, 0);
  });
});
