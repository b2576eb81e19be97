// The Flyte Executions view against the real server on the embedded local backend: executions started with
// flyte.execute reach the view through the real flyte/executionChanged notifications, flyte/executions gives
// the same tree, reveal finds the entity with the real flyte/entities and relaunch's argument is the server's.
import * as assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as vscode from "vscode";
import { registerExecutionsView, type ExecutionsTreeProvider } from "../../src/executionsView";
import type { DisposableLike } from "../../src/host";
import { ClientCommands, executionKey, type ExecuteResult, type ExecutionId, type ExecutionsNode } from "../../src/protocol";
import { resetMock, type Mock } from "../mock";
import {
  cleanUp,
  copyExamples,
  fileUri,
  serverHost,
  startLocalBackend,
  startServer,
  waitFor,
  type LocalBackend,
  type ServerSession,
} from "./harness";

const RUN_MS = 120_000;

// A workflow that runs long enough to be seen running, and for the view's one-second ticker to tick.
const NAPPING = `"""Contract-test fixture: a workflow that takes a few seconds."""

import time

from flytekit import task, workflow


@task
def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@workflow
def napped(seconds: float = 2.5) -> float:
    return nap(seconds=seconds)
`;

interface Shown {
  label: string;
  description: string;
  icon: string;
  contextValue: string;
  tooltip: string;
  children: { label: string; description: string; contextValue: string }[];
}

describe("the Flyte Executions view on the real server (contract)", function () {
  this.timeout(240_000);
  let backend: LocalBackend;
  let server: ServerSession;
  let workspace: string;
  let mock: Mock;
  let view: ReturnType<typeof registerExecutionsView>;
  let provider: ExecutionsTreeProvider;
  const events: (ExecutionsNode | ExecutionsNode[] | undefined)[] = [];
  const history = new Map<string, Shown[]>(); // execution name -> how the tree showed it, change after change
  const subscriptions: DisposableLike[] = [];

  function show(node: ExecutionsNode): Shown {
    const item = provider.getTreeItem(node);
    const icon = item.iconPath as vscode.ThemeIcon;
    return {
      label: String(item.label),
      description: String(item.description),
      icon: icon.id + (icon.color ? ` ${(icon.color as unknown as { id: string }).id}` : ""),
      contextValue: String(item.contextValue),
      tooltip: (item.tooltip as vscode.MarkdownString).value,
      children: provider.getChildren(node).map((c) => {
        const child = provider.getTreeItem(c);
        return { label: String(child.label), description: String(child.description), contextValue: String(child.contextValue) };
      }),
    };
  }

  function root(name: string): ExecutionsNode | undefined {
    return provider.getChildren().find((n) => n.info.execution.name === name);
  }

  async function execute(file: string, entity: string, inputs: Record<string, unknown>): Promise<ExecuteResult> {
    const uri = fileUri(join(workspace, "workflows", file));
    return server.executeCommand<ExecuteResult>("flyte.execute", { uri, entity, inputs }, RUN_MS);
  }

  async function finished(name: string): Promise<Shown> {
    await waitFor(() => { const n = root(name); return n && !n.info.phase.match(/^(QUEUED|RUNNING|UNDEFINED|SUCCEEDING|FAILING)$/); }, `${name} to end in the view`, RUN_MS);
    return show(root(name)!);
  }

  before(async () => {
    [backend, workspace] = await Promise.all([startLocalBackend(), Promise.resolve(copyExamples())]);
    writeFileSync(join(workspace, "workflows", "napping.py"), NAPPING);
    server = await startServer({ endpoint: backend.endpoint, insecure: true }, workspace);
    mock = resetMock();
    const treeView = { visible: true, badge: undefined, selection: [], onDidChangeVisibility: new vscode.EventEmitter().event, dispose: () => undefined };
    mock.window.createTreeView.impl = () => treeView;
    view = registerExecutionsView({ subscriptions: [] } as unknown as vscode.ExtensionContext, serverHost(server));
    provider = (mock.window.createTreeView.calls[0][1] as { treeDataProvider: ExecutionsTreeProvider }).treeDataProvider;
    subscriptions.push(
      provider.onDidChangeTreeData((change) => {
        events.push(change);
        const nodes = change === undefined ? provider.getChildren() : Array.isArray(change) ? change : [change];
        for (const node of nodes) {
          const name = node.info.execution.name;
          history.set(name, [...(history.get(name) ?? []), show(node)]);
        }
      }),
    );
  });

  after(async () => {
    for (const s of subscriptions) s.dispose();
    view?.dispose();
    await server?.stop();
    await backend?.stop();
    cleanUp();
  });

  it("shows a run running, ticking, then SUCCEEDED with its outputs and console link", async () => {
    const run = await execute("napping.py", "napped", { seconds: 2.5 });
    const name = run.execution.name;
    // the console on the Admin port (the backend serves both on it, as flytekit's sandbox URLs expect)
    assert.equal(run.consoleUrl, `http://${backend.endpoint}/console/projects/flytesnacks/domains/development/executions/${name}`);
    const done = await finished(name);

    const seen = history.get(name)!;
    const running = seen.find((s) => s.contextValue === "execution.active.hasSource");
    assert.ok(running, `seen running: ${JSON.stringify(seen.map((s) => s.description))}`);
    assert.equal(running.label, "napped");
    assert.equal(running.icon, "sync~spin");
    assert.match(running.description, /^RUNNING( \d\/1)? · \d+s · flytesnacks\/development$/);
    assert.ok(
      events.some((e) => Array.isArray(e) && e.some((n) => n.info.execution.name === name)),
      "the ticker re-rendered the running execution",
    );
    assert.ok(
      events.some((e) => e === root(name)),
      "a change to a shown execution fires its node only",
    );

    assert.equal(done.label, "napped");
    assert.equal(done.icon, "pass testing.iconPassed");
    assert.equal(done.contextValue, "execution.done.hasSource");
    assert.match(done.description, /^SUCCEEDED · (2|3)s · flytesnacks\/development$/);
    assert.deepEqual(done.children, [
      { label: "outputs", description: "o0=2.5", contextValue: "detail" },
      { label: "nodes", description: "1/1 done", contextValue: "detail" },
    ]);
    assert.ok(done.tooltip.includes(`[Open in console](${run.consoleUrl})`), done.tooltip);
    assert.ok(done.tooltip.includes(`Execution: \`\` ${executionKey(run.execution)} \`\``), done.tooltip);
    assert.equal(view.model.active().length, 0);
  });

  it("shows a failing entity FAILED with its error", async () => {
    const run = await execute("failing.py", "strict_count", { n: 3 });
    const done = await finished(run.execution.name);
    assert.equal(done.label, "strict_count");
    assert.equal(done.icon, "error testing.iconFailed");
    assert.match(done.description, /^FAILED · \d+m?s · flytesnacks\/development$/);
    assert.deepEqual(done.children[0], {
      label: "error (USER)",
      description: "ValueError: need at least 10 values, got 3",
      contextValue: "detail",
    });
    assert.ok(done.tooltip.includes("**Error (USER):** `` ValueError: need at least 10 values, got 3 ``"), done.tooltip);
    assert.ok(done.tooltip.includes("Traceback (most recent call last)"), done.tooltip);
  });

  it("gets the same tree from flyte/executions", async () => {
    const before = provider.getChildren();
    const shownBefore = before.map(show);
    assert.equal(before.length, 2);
    await view.refresh();
    const after = provider.getChildren();
    assert.deepEqual(after.map(show), shownBefore);
    assert.ok(after.every((n, i) => n === before[i]), "the same node objects: VS Code keeps their state");
    assert.deepEqual(
      after.map((n) => n.info.entity),
      ["strict_count", "napped"],
      "newest first",
    );
  });

  it("reveals an execution's entity at its name (flyte/entities)", async () => {
    const node = provider.getChildren().find((n) => n.info.entity === "napped")!;
    assert.equal(provider.getTreeItem(node).command?.command, ClientCommands.revealEntity);
    assert.equal(await mock.commands.registered.get(ClientCommands.revealEntity)!(node), true);
    const [[uri, options]] = mock.window.showTextDocument.calls as [vscode.Uri, { selection: vscode.Range }][];
    assert.equal(uri.fsPath, join(workspace, "workflows", "napping.py"));
    const line = readFileSync(join(workspace, "workflows", "napping.py"), "utf8").split("\n").indexOf("def napped(seconds: float = 2.5) -> float:");
    assert.deepEqual(
      [options.selection.start.line, options.selection.start.character, options.selection.end.character],
      [line, 4, 4 + "napped".length],
    );
  });

  it("relaunches an execution (flyte.relaunch), which joins the view on top", async () => {
    const failed = provider.getChildren().find((n) => n.info.entity === "strict_count")!;
    const next = (await mock.commands.registered.get(ClientCommands.relaunch)!(failed)) as ExecutionId;
    assert.ok(next?.name && next.name !== failed.info.execution.name, JSON.stringify(next));
    const shown = await finished(next.name);
    assert.equal(provider.getChildren()[0].info.execution.name, next.name);
    assert.equal(shown.label, "strict_count");
    assert.equal(shown.icon, "error testing.iconFailed", "the same inputs fail the same way");
    assert.deepEqual(mock.window.showInformationMessage.calls.at(-1)?.slice(0, 1), [`Relaunched strict_count as ${next.name}.`]);
  });
});
