import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import { resetMock } from "../mock";

describe("the vscode stand-in", () => {
  beforeEach(() => resetMock());

  it("fires events to listeners until they are disposed", () => {
    const emitter = new vscode.EventEmitter<number>();
    const seen: number[] = [];
    const sub = emitter.event((n) => seen.push(n));
    emitter.fire(1);
    sub.dispose();
    emitter.fire(2);
    assert.deepEqual(seen, [1]);
  });

  it("records window calls and lets a test answer them", async () => {
    const m = resetMock();
    m.window.showInputBox.impl = async () => "42";
    assert.equal(await vscode.window.showInputBox({ prompt: "n" }), "42");
    assert.equal(m.window.showInputBox.calls.length, 1);
  });

  it("loads vscode-languageclient, which extends vscode classes", async () => {
    const lc = await import("vscode-languageclient/node");
    assert.equal(typeof lc.LanguageClient, "function");
  });

  it("reads settings a test sets", () => {
    const m = resetMock();
    m.settings.set("flyte.interpreter", "/usr/bin/python3");
    assert.equal(vscode.workspace.getConfiguration("flyte").get("interpreter"), "/usr/bin/python3");
  });
});
