import * as assert from "node:assert/strict";
import { DOCUMENT_SELECTOR, importsFromDisk, isCellUri, isNotebookUri } from "../../src/notebooks";
import { doc, SERVER_NOTEBOOK_SYNC, treatment } from "../languageFeatures";

const NB = { uri: "file:///ws/flows.ipynb", notebookType: "jupyter-notebook" };
const CELL = "vscode-notebook-cell:/ws/flows.ipynb#W0sZmlsZQ%3D%3D";

describe("notebooks: the document selector, through vscode-languageclient's own code", () => {
  const docs = [
    doc("file:///ws/wf.py", "python"),
    doc("untitled:Untitled-1", "python"),
    doc(CELL, "python", NB),
    doc("vscode-notebook-cell:/ws/flows.ipynb#W1sZmlsZQ%3D%3D", "markdown", NB),
    doc("vscode-notebook-cell:/ws/Interactive-1.interactive#W0sdW50aXRsZWQ%3D", "python", { uri: "untitled:/ws/Interactive-1.interactive", notebookType: "interactive" }),
    doc("file:///ws/README.md", "markdown"),
  ];
  const row = (features: boolean, textSynced: boolean, notebookSynced: boolean) => ({ features, textSynced, notebookSynced });

  it("gives Python files and Python cells of Jupyter notebooks the features; cells are synced only as notebooks", () => {
    assert.deepEqual(treatment(DOCUMENT_SELECTOR, SERVER_NOTEBOOK_SYNC, docs), [
      row(true, true, false), // a Python file: text sync (it was open before the client started)
      row(true, true, false), // untitled Python
      row(true, false, true), // a Python cell of a .ipynb: lenses, hover, code actions; text only through notebook sync
      row(false, false, false), // a Markdown cell
      row(false, false, false), // the Interactive Window's cells: not a notebook the server syncs
      row(false, false, false),
    ]);
  });

  it("needs the notebook filter: with file/untitled alone no cell gets a lens", () => {
    const fileOnly = DOCUMENT_SELECTOR.filter((f) => typeof f === "object" && "scheme" in f);
    assert.equal(fileOnly.length, 2);
    assert.deepEqual(treatment(fileOnly, SERVER_NOTEBOOK_SYNC, docs)[2], row(false, false, true));
  });

  it("would sync cells twice (as text too) with a server that did not sync notebooks", () => {
    assert.deepEqual(treatment(DOCUMENT_SELECTOR, undefined, docs)[2], row(true, true, false));
  });
});

describe("notebooks: URIs", () => {
  it("tells cells and notebooks from files", () => {
    assert.equal(isCellUri(CELL), true);
    assert.equal(isCellUri(NB.uri), false);
    assert.equal(isNotebookUri(NB.uri), true);
    assert.equal(isNotebookUri("untitled:Untitled-1.ipynb"), true);
    assert.equal(isNotebookUri("file:///ws/A%20B.IPYNB"), true);
    assert.equal(isNotebookUri(CELL), false);
    assert.equal(isNotebookUri("file:///ws/wf.py"), false);
    assert.equal(isNotebookUri("file:///ws/ipynb.py#x.ipynb"), false);
  });

  it("saves files before Run / Register, never a notebook or a cell (the server runs the editor's cells)", () => {
    assert.equal(importsFromDisk("file:///ws/wf.py"), true);
    assert.equal(importsFromDisk(NB.uri), false);
    assert.equal(importsFromDisk(CELL), false);
  });
});
