// The extension's entry point: the server (src/client.ts: interpreter, install, start, restarts) and the features
// that use it through `ServerHost` — the Flyte Executions view, the palette commands, the status bar item. They
// hold on to the one ServerClient, so a server restart keeps them (they refresh when it runs again).
import * as path from "node:path";
import * as vscode from "vscode";
import { ServerClient } from "./client";
import { registerCommands } from "./commands";
import { registerExecutionsView } from "./executionsView";
import { createStatusBar } from "./statusBar";

export interface FlyteExtensionApi {
  host: ServerClient;
}

let host: ServerClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<FlyteExtensionApi> {
  const channel = vscode.window.createOutputChannel("Flyte", { log: true });
  context.subscriptions.push(channel);
  const server = new ServerClient({
    channel,
    memory: context.workspaceState,
    bundledDir: context.asAbsolutePath("bundled"),
    storageRoot: path.join(context.globalStorageUri.fsPath, "server"),
  });
  host = server;
  registerExecutionsView(context, server);
  const statusBar = createStatusBar(context, server);
  registerCommands(context, server, { memory: context.workspaceState, statusBar });
  // Not awaited: the first start may install the server (minutes, with its own progress); activation returns now.
  void server.start();
  return { host: server };
}

/** Stops the server; executions in flight stay tracked (the server persists them) and show again next time. */
export async function deactivate(): Promise<void> {
  const server = host;
  host = undefined;
  await server?.dispose();
}
