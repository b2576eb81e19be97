// Control of the `vscode` stand-in (test/vscodeMock.ts) from a test: reset() before each test installs recording
// defaults; a test replaces the functions it needs (e.g. `ui.window.showInputBox.impl = async () => "3"`).
import * as vscode from "vscode";
import { recorder, type Recorder } from "./vscodeMock";

type AnyFn = Recorder<any[], any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface MockWindow {
  showInformationMessage: AnyFn;
  showWarningMessage: AnyFn;
  showErrorMessage: AnyFn;
  showInputBox: AnyFn;
  showQuickPick: AnyFn;
  showOpenDialog: AnyFn;
  showTextDocument: AnyFn;
  withProgress: AnyFn;
  createOutputChannel: AnyFn;
  createStatusBarItem: AnyFn;
  createTreeView: AnyFn;
  registerTreeDataProvider: AnyFn;
  activeTextEditor: unknown;
}

export interface Mock {
  window: MockWindow & Record<string, unknown>;
  workspace: Record<string, unknown>;
  commands: Record<string, unknown> & { registered: Map<string, (...args: unknown[]) => unknown> };
  env: Record<string, unknown>;
  extensions: Record<string, unknown>;
  settings: Map<string, unknown>; // "flyte.interpreter" -> value, read by workspace.getConfiguration
}

const disposable = () => new vscode.Disposable(() => undefined);

export function resetMock(): Mock {
  const v = vscode as unknown as Mock;
  const settings = new Map<string, unknown>();
  const registered = new Map<string, (...args: unknown[]) => unknown>();
  Object.assign(v.window, {
    showInformationMessage: recorder(async () => undefined),
    showWarningMessage: recorder(async () => undefined),
    showErrorMessage: recorder(async () => undefined),
    showInputBox: recorder(async () => undefined),
    showQuickPick: recorder(async () => undefined),
    showOpenDialog: recorder(async () => undefined),
    showTextDocument: recorder(async () => undefined),
    withProgress: recorder(async (_opts: unknown, task: (p: unknown, t: unknown) => unknown) =>
      task({ report: () => undefined }, new vscode.CancellationTokenSource().token),
    ),
    createOutputChannel: recorder((name: string) => ({
      name,
      lines: [] as string[],
      append(this: { lines: string[] }, s: string) {
        this.lines.push(s);
      },
      appendLine(this: { lines: string[] }, s: string) {
        this.lines.push(s);
      },
      info(this: { lines: string[] }, s: string) {
        this.lines.push(s);
      },
      warn(this: { lines: string[] }, s: string) {
        this.lines.push(s);
      },
      error(this: { lines: string[] }, s: string) {
        this.lines.push(String(s));
      },
      show: () => undefined,
      dispose: () => undefined,
    })),
    createStatusBarItem: recorder(() => ({
      text: "",
      tooltip: undefined,
      command: undefined,
      backgroundColor: undefined,
      show: () => undefined,
      hide: () => undefined,
      dispose: () => undefined,
    })),
    createTreeView: recorder(() => ({ dispose: () => undefined, reveal: async () => undefined })),
    registerTreeDataProvider: recorder(disposable),
    activeTextEditor: undefined,
  });
  Object.assign(v.workspace, {
    getConfiguration: recorder((section?: string) => ({
      get: (key: string, fallback?: unknown) => {
        const full = section ? `${section}.${key}` : key;
        return settings.has(full) ? settings.get(full) : fallback;
      },
      inspect: (key: string) => ({ key, workspaceValue: settings.get(section ? `${section}.${key}` : key) }),
      update: recorder(async (key: string, value: unknown) => {
        settings.set(section ? `${section}.${key}` : key, value);
      }),
      has: (key: string) => settings.has(section ? `${section}.${key}` : key),
    })),
    onDidChangeConfiguration: recorder(disposable),
    workspaceFolders: undefined,
    openTextDocument: recorder(async () => undefined),
    isTrusted: true,
  });
  Object.assign(v.commands, {
    registered,
    registerCommand: recorder((id: string, fn: (...args: unknown[]) => unknown) => {
      registered.set(id, fn);
      return new vscode.Disposable(() => registered.delete(id));
    }),
    executeCommand: recorder(async (id: string, ...args: unknown[]) => registered.get(id)?.(...args)),
  });
  Object.assign(v.env, { openExternal: recorder(async () => true), clipboard: { writeText: recorder(async () => undefined) } });
  Object.assign(v.extensions, { getExtension: recorder(() => undefined) });
  (v as unknown as { settings: Map<string, unknown> }).settings = settings;
  return v as unknown as Mock;
}

export function mock(): Mock {
  return vscode as unknown as Mock;
}
