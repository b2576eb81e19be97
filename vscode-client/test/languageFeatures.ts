// Which documents get flyte-ls's language features and which are synced as text, decided by the real
// vscode-languageclient 11 code (its protocol converter, NotebookDocumentSyncFeature, DidOpenTextDocumentFeature
// and CodeLens / Hover / CodeAction features) over the `vscode` stand-in, with `vscode.languages.match` doing what
// VS Code's does (`score` in vs/editor/common/languageSelector.ts, ported below).
import * as vscode from "vscode";
import "vscode-languageclient/node"; // installs the runtime abstraction layer (RAL) the features use
import type { DocumentSelector, NotebookDocumentSyncOptions } from "vscode-languageserver-protocol";
import { CodeActionFeature } from "vscode-languageclient/$test/common/codeAction";
import { CodeLensFeature } from "vscode-languageclient/$test/common/codeLens";
import { HoverFeature } from "vscode-languageclient/$test/common/hover";
import { NotebookDocumentSyncFeature } from "vscode-languageclient/$test/common/notebook";
import { createConverter } from "vscode-languageclient/$test/common/protocolConverter";
import { DidOpenTextDocumentFeature } from "vscode-languageclient/$test/common/textSynchronization";
import { EventEmitter, recorder } from "./vscodeMock";

/** The server's `notebookDocumentSync` (flyte_ls/server/server.py NOTEBOOK_SYNC; the contract test checks it). */
export const SERVER_NOTEBOOK_SYNC: NotebookDocumentSyncOptions = {
  notebookSelector: [{ notebook: "jupyter-notebook", cells: [{ language: "python" }] }],
};

/** A text document as `languages.match` sees it: a cell knows its notebook. */
export interface Doc {
  uri: vscode.Uri;
  languageId: string;
  notebook?: { uri: vscode.Uri; notebookType: string };
}

export function doc(uri: string, languageId: string, notebook?: { uri: string; notebookType: string }): Doc {
  return { uri: vscode.Uri.parse(uri), languageId, notebook: notebook && { uri: vscode.Uri.parse(notebook.uri), notebookType: notebook.notebookType } };
}

interface Filter {
  language?: string;
  scheme?: string;
  pattern?: unknown;
  notebookType?: string;
}

/** VS Code's `score(selector, uri, language, isSynchronized, notebookUri, notebookType)`, for synchronized documents. */
export function score(selector: unknown, d: Doc): number {
  if (Array.isArray(selector)) {
    let best = 0;
    for (const filter of selector) {
      const value = score(filter, d);
      if (value === 10) return value;
      best = Math.max(best, value);
    }
    return best;
  }
  if (typeof selector === "string") return selector === "*" ? 5 : selector === d.languageId ? 10 : 0;
  const { language, scheme, pattern, notebookType } = selector as Filter;
  if (pattern !== undefined) throw new Error("patterns are not ported: no filter here uses one");
  // a filter on the notebook type is matched against the notebook's URI, not the cell's
  const uri = notebookType && d.notebook ? d.notebook.uri : d.uri;
  let ret = 0;
  if (scheme) {
    if (scheme === uri.scheme) ret = 10;
    else if (scheme === "*") ret = 5;
    else return 0;
  }
  if (language) {
    if (language === d.languageId) ret = 10;
    else if (language === "*") ret = Math.max(ret, 5);
    else return 0;
  }
  if (notebookType) {
    if (notebookType === d.notebook?.notebookType) ret = 10;
    else if (notebookType === "*" && d.notebook) ret = Math.max(ret, 5);
    else return 0;
  }
  return ret;
}

export interface Treatment {
  /** The code lens, hover and code action providers are asked for it. */
  features: boolean;
  /** textDocument/didOpen is sent for it (open before the client started, and opened later). */
  textSynced: boolean;
  /** Its text reaches the server through notebook sync. */
  notebookSynced: boolean;
}

/**
 * How the real language client treats each of `docs` with `documentSelector` (the client option) and the
 * server's `notebookDocumentSync`. Replaces `vscode.languages` and `vscode.workspace` members of the stand-in
 * for the time of the call.
 */
export function treatment(documentSelector: DocumentSelector, notebookSync: NotebookDocumentSyncOptions | undefined, docs: Doc[]): Treatment[] {
  const languages = vscode.languages as unknown as Record<string, unknown>;
  const workspace = vscode.workspace as unknown as Record<string, unknown>;
  const saved = { languages: { ...languages }, workspace: { ...workspace } };
  const providers: unknown[] = [];
  const opened = new EventEmitter<Doc>();
  const sent: string[] = [];
  Object.assign(languages, {
    match: (selector: unknown, d: Doc) => score(selector, d),
    registerCodeLensProvider: recorder((selector: unknown) => (providers.push(selector), new vscode.Disposable(() => undefined))),
    registerHoverProvider: recorder((selector: unknown) => (providers.push(selector), new vscode.Disposable(() => undefined))),
    registerCodeActionsProvider: recorder((selector: unknown) => (providers.push(selector), new vscode.Disposable(() => undefined))),
  });
  Object.assign(workspace, { textDocuments: docs.slice(0, 1), onDidOpenTextDocument: opened.event, notebookDocuments: [] });
  try {
    const notebook: { feature?: NotebookDocumentSyncFeature } = {};
    const client = {
      protocol2CodeConverter: createConverter(undefined, false, false, false),
      code2ProtocolConverter: { asOpenTextDocumentParams: (d: Doc) => ({ textDocument: { uri: d.uri.toString() } }) },
      clientOptions: {},
      middleware: {},
      hasDedicatedTextSynchronizationFeature: (d: Doc) => notebook.feature?.handles(d as unknown as vscode.TextDocument) ?? false,
      sendNotification: async (_type: unknown, params: { textDocument: { uri: string } }) => void sent.push(params.textDocument.uri),
      onRequest: () => new vscode.Disposable(() => undefined),
      error: (message: string) => {
        throw new Error(message);
      },
    };
    const anyClient = client as never;
    notebook.feature = new NotebookDocumentSyncFeature(anyClient);
    const capabilities = { notebookDocumentSync: notebookSync, resolvedTextDocumentSync: { openClose: true, change: 2 } };
    notebook.feature.preInitialize(capabilities as never);
    notebook.feature.initialize(capabilities as never);
    const didOpen = new DidOpenTextDocumentFeature(anyClient, new Map());
    didOpen.initialize(capabilities as never, documentSelector);
    for (const d of docs.slice(1)) opened.fire(d); // the first was open at the start; the others open later
    const serverCapabilities = { codeLensProvider: { resolveProvider: true }, hoverProvider: true, codeActionProvider: true };
    for (const feature of [new CodeLensFeature(anyClient), new HoverFeature(anyClient), new CodeActionFeature(anyClient)]) {
      feature.initialize(serverCapabilities as never, documentSelector);
    }
    if (providers.length !== 3) throw new Error(`expected 3 language providers, got ${providers.length}`);
    return docs.map((d) => ({
      features: providers.every((selector) => score(selector, d) > 0),
      textSynced: sent.includes(d.uri.toString()),
      notebookSynced: notebook.feature!.handles(d as unknown as vscode.TextDocument),
    }));
  } finally {
    for (const key of Object.keys(languages)) delete languages[key];
    for (const key of Object.keys(workspace)) delete workspace[key];
    Object.assign(languages, saved.languages);
    Object.assign(workspace, saved.workspace);
  }
}
