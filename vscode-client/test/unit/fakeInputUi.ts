// A scripted InputUi and an in-memory Memento for the prompt tests (test/unit/inputs.test.ts, runFlow.test.ts).
// Each prompt takes the next step of the script and fails the test if it is of another kind. An InputBox step
// types its texts in order: each is validated with the prompt's validateInput like VS Code does (rejected texts
// and their messages are recorded); the first accepted one is returned, none accepted = Escape.
import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import type { InputUi, Memento } from "../../src/inputs";

export type Step =
  | { input: string[] | undefined } // undefined: Escape
  | { pick: string | undefined } // the first item whose label contains the text; undefined: Escape
  | { open: string | undefined }; // the path chosen; undefined: Escape

export interface Call {
  kind: "input" | "pick" | "open";
  options: Record<string, unknown>;
  labels?: string[];
  descriptions?: (string | undefined)[];
  rejected?: { text: string; message: string }[];
}

export class ScriptedUi implements InputUi {
  readonly calls: Call[] = [];
  constructor(private readonly script: Step[]) {}

  private next(kind: Call["kind"]): Step {
    const step = this.script.shift();
    assert.ok(step, `a ${kind} prompt the script did not expect (calls so far: ${JSON.stringify(this.calls.map((c) => c.kind))})`);
    assert.ok(kind in step, `expected a ${Object.keys(step)[0]} prompt, got ${kind}`);
    return step;
  }

  get remaining(): number {
    return this.script.length;
  }

  async showInputBox(options: vscode.InputBoxOptions): Promise<string | undefined> {
    const step = this.next("input") as { input: string[] | undefined };
    const call: Call = { kind: "input", options: { ...options }, rejected: [] };
    this.calls.push(call);
    for (const text of step.input ?? []) {
      const message = await options.validateInput?.(text);
      if (message) call.rejected?.push({ text, message: typeof message === "string" ? message : message.message });
      else return text;
    }
    return undefined;
  }

  async showQuickPick<T extends vscode.QuickPickItem>(items: readonly T[], options: vscode.QuickPickOptions): Promise<T | undefined> {
    const step = this.next("pick") as { pick: string | undefined };
    this.calls.push({ kind: "pick", options: { ...options }, labels: items.map((i) => i.label), descriptions: items.map((i) => i.description) });
    if (step.pick === undefined) return undefined;
    const found = items.find((i) => i.label.includes(step.pick as string));
    assert.ok(found, `no item ${JSON.stringify(step.pick)} in ${JSON.stringify(items.map((i) => i.label))}`);
    return found;
  }

  async showOpenDialog(options: vscode.OpenDialogOptions): Promise<vscode.Uri[] | undefined> {
    const step = this.next("open") as { open: string | undefined };
    this.calls.push({ kind: "open", options: { ...options } });
    return step.open === undefined ? undefined : [vscode.Uri.file(step.open)];
  }
}

export class MemoryMemento implements Memento {
  readonly data = new Map<string, unknown>();
  get<T>(key: string): T | undefined {
    const v = this.data.get(key);
    return v === undefined ? undefined : (JSON.parse(JSON.stringify(v)) as T); // a copy, as VS Code returns
  }
  async update(key: string, value: unknown): Promise<void> {
    this.data.set(key, JSON.parse(JSON.stringify(value)));
  }
}
