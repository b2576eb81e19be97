// Jupyter notebooks in the extension. The server syncs a notebook with LSP notebook sync (its
// `notebookDocumentSync` names `jupyter-notebook`s with Python cells) and analyses it as one module of its code
// cells; lenses, hovers, code actions and diagnostics come per cell URI (`vscode-notebook-cell:…`). What the
// extension adds: a document selector that lets those features reach cells, Run / Register from a cell editor
// without saving (the server runs the cells as the editor has them), and revealing an entity in its cell.
import type { DocumentSelector } from "vscode-languageclient";
import type { ServerHost } from "./host";
import { Methods, type EntityItem, type LspRange } from "./protocol";

/** VS Code's scheme for the text document of a notebook cell. */
export const CELL_SCHEME = "vscode-notebook-cell";
/** The notebook type of `.ipynb` files in VS Code (the Interactive Window's is `interactive`). */
export const JUPYTER_NOTEBOOK = "jupyter-notebook";

/**
 * The language client's document selector. Python files (saved and untitled) are synced as text documents.
 * Python cells of Jupyter notebooks match the third filter, so the language features (code lens, hover, code
 * actions) are asked for them; their text is *not* also synced as text documents: vscode-languageclient skips
 * text sync for a cell its NotebookDocumentSyncFeature handles (`hasDedicatedTextSynchronizationFeature`), and
 * the server's notebook selector (`jupyter-notebook`, Python cells) covers every cell this filter matches. A
 * filter without `notebook` would not do: VS Code matches a `scheme` against the cell's own URI
 * (`vscode-notebook-cell:`), and one on the notebook type against the notebook's URI.
 */
export const DOCUMENT_SELECTOR: DocumentSelector = [
  { scheme: "file", language: "python" },
  { scheme: "untitled", language: "python" },
  { notebook: JUPYTER_NOTEBOOK, language: "python" },
];

function scheme(uri: string): string {
  return /^([a-zA-Z][\w+.-]*):/.exec(uri)?.[1] ?? "";
}

/** The URI's path, without query and fragment. */
function pathOf(uri: string): string {
  return uri.replace(/[?#].*$/, "");
}

/** A notebook cell's text document (`vscode-notebook-cell:/abs/x.ipynb#W0sZmlsZQ%3D%3D`). */
export function isCellUri(uri: string): boolean {
  return scheme(uri) === CELL_SCHEME;
}

/** A Jupyter notebook's own URI (`file:///abs/x.ipynb`, `untitled:Untitled-1.ipynb`), not one of its cells. */
export function isNotebookUri(uri: string): boolean {
  return !isCellUri(uri) && /\.ipynb$/i.test(pathOf(uri));
}

/**
 * Whether Run / Register of an entity of `uri` imports it from disk, so that the document must be saved first.
 * Not for a notebook or a cell: the server pickles the notebook's cells as it has them from the editor
 * (notebook sync), saved or not.
 */
export function importsFromDisk(uri: string): boolean {
  return !isCellUri(uri) && !isNotebookUri(uri);
}

// -- revealing an entity in its cell ------------------------------------------------------------------------------
/** The deadline of one `flyte/entities` request (answered from the server's memory). */
const ENTITIES_MS = 10_000;
/** A notebook the view has just opened is synced to the server right after: ask again this often, this long. */
export const SYNC_ATTEMPTS = 5;
export const SYNC_WAIT_MS = 300;

/** What revealing in a notebook needs of `vscode.window` (a fake in the unit tests). */
export interface NotebookUi {
  showInformationMessage(message: string, ...items: string[]): Thenable<string | undefined>;
  /** Opens the notebook `uri` in the notebook editor: the URIs of its code cells, in order. */
  showNotebook(uri: string): Thenable<string[]>;
  /** Reveals the cell `cellUri` of the notebook `notebookUri` with `selection` (in the cell's lines) selected. */
  showNotebookCell(notebookUri: string, cellUri: string, selection: LspRange): Thenable<unknown>;
}

function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s; see Flyte: Show Logs.`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * The cell (of `cells`, code-cell URIs) that defines `entity`, and the entity's selection range in it: the
 * server answers `flyte/entities` of a cell with the entities defined in that cell, in the cell's lines. null
 * when every cell answered and none defines it. While some cells are unknown to the server (a notebook opened
 * a moment ago is not synced yet) it asks again, `attempts` times; then it rejects with the server's error.
 */
export async function entityInCells(
  host: Pick<ServerHost, "sendRequest">,
  cells: string[],
  entity: string,
  options: { attempts?: number; waitMs?: number } = {},
): Promise<{ cell: string; range: LspRange } | null> {
  const attempts = options.attempts ?? SYNC_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    const answers = await Promise.allSettled(
      cells.map((uri) => deadline(host.sendRequest<EntityItem[] | null>(Methods.entities, { textDocument: { uri } }), ENTITIES_MS, Methods.entities)),
    );
    for (const [i, answer] of answers.entries()) {
      const found = answer.status === "fulfilled" ? (answer.value ?? []).find((e) => e.name === entity) : undefined;
      if (found) return { cell: cells[i], range: found.selectionRange };
    }
    const failed = answers.find((a): a is PromiseRejectedResult => a.status === "rejected");
    if (!failed) return null;
    if (attempt >= attempts) throw failed.reason;
    await new Promise((r) => setTimeout(r, options.waitMs ?? SYNC_WAIT_MS));
  }
}

/**
 * Opens the notebook `uri` and reveals `entity` in the cell that defines it (the notebook alone, with a word,
 * when no cell does any more). Rejects when the notebook cannot be opened or the cell revealed; a server that
 * cannot say where the entity is leaves the notebook open and is logged.
 */
export async function revealInNotebook(host: ServerHost, ui: NotebookUi, uri: string, entity: string): Promise<void> {
  const cells = await ui.showNotebook(uri);
  let found: { cell: string; range: LspRange } | null;
  try {
    found = await entityInCells(host, cells, entity);
  } catch (err) {
    host.log.warn(`Reveal ${entity}: ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  if (!found) {
    void ui.showInformationMessage(`${entity} is no longer defined in this notebook.`);
    return;
  }
  await ui.showNotebookCell(uri, found.cell, found.range);
}
