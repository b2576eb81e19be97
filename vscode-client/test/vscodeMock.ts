// A stand-in for the `vscode` module, which only exists inside VS Code (VS Code itself cannot be installed here:
// see docs/roadmap.md). Concrete classes for the values our code constructs or compares; namespaces whose functions
// record their calls and can be replaced per test; a recursive Proxy for everything else, so that
// `class X extends vscode.Y` in a dependency (vscode-languageclient) still loads.
//
// Tests reach it through `import * as vscode from "vscode"` (kept external by the test build) and control it
// through `mockControl()` from test/mock.ts.

type Listener<T> = (e: T) => unknown;

export class Disposable {
  constructor(private readonly callOnDispose: () => unknown = () => undefined) {}
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => items.forEach((d) => d.dispose()));
  }
  dispose(): void {
    this.callOnDispose();
  }
}

export class EventEmitter<T> {
  private listeners: Listener<T>[] = [];
  readonly event = (listener: Listener<T>): Disposable => {
    this.listeners.push(listener);
    return new Disposable(() => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    });
  };
  fire(data: T): void {
    for (const l of [...this.listeners]) l(data);
  }
  dispose(): void {
    this.listeners = [];
  }
}

export class CancellationTokenSource {
  private emitter = new EventEmitter<void>();
  token = { isCancellationRequested: false, onCancellationRequested: this.emitter.event };
  cancel(): void {
    this.token.isCancellationRequested = true;
    this.emitter.fire();
  }
  dispose(): void {
    this.emitter.dispose();
  }
}

export class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}

export class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(a: Position | number, b: Position | number, c?: number, d?: number) {
    this.start = typeof a === "number" ? new Position(a, b as number) : a;
    this.end = typeof a === "number" ? new Position(c ?? 0, d ?? 0) : (b as Position);
  }
  contains(p: Position): boolean {
    const after = p.line > this.start.line || (p.line === this.start.line && p.character >= this.start.character);
    const before = p.line < this.end.line || (p.line === this.end.line && p.character <= this.end.character);
    return after && before;
  }
}

export class Selection extends Range {
  constructor(
    readonly anchor: Position,
    readonly active: Position,
  ) {
    super(anchor, active);
  }
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly authority: string,
    readonly path: string,
    readonly query = "",
    readonly fragment = "",
  ) {}
  static file(path: string): Uri {
    return new Uri("file", "", path);
  }
  static parse(value: string): Uri {
    const m = /^([a-zA-Z][\w+.-]*):(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/.exec(value);
    if (!m) return new Uri("file", "", value);
    return new Uri(m[1], m[2] ?? "", decodeURIComponent(m[3] ?? ""), m[4] ?? "", m[5] ?? "");
  }
  static joinPath(base: Uri, ...parts: string[]): Uri {
    return new Uri(base.scheme, base.authority, [base.path.replace(/\/$/, ""), ...parts].join("/"));
  }
  get fsPath(): string {
    return this.path;
  }
  with(change: { scheme?: string; path?: string }): Uri {
    return new Uri(change.scheme ?? this.scheme, this.authority, change.path ?? this.path, this.query, this.fragment);
  }
  toString(): string {
    const auth = this.scheme === "file" || this.authority ? `//${this.authority}` : "";
    const path = this.scheme === "file" ? encodeURI(this.path) : this.path;
    return `${this.scheme}:${auth}${path}${this.query ? "?" + this.query : ""}${this.fragment ? "#" + this.fragment : ""}`;
  }
}

export class ThemeIcon {
  static readonly File = new ThemeIcon("file");
  static readonly Folder = new ThemeIcon("folder");
  constructor(
    readonly id: string,
    readonly color?: ThemeColor,
  ) {}
}

export class ThemeColor {
  constructor(readonly id: string) {}
}

export class MarkdownString {
  isTrusted = false;
  supportThemeIcons = false;
  constructor(public value = "") {}
  appendMarkdown(text: string): this {
    this.value += text;
    return this;
  }
  appendText(text: string): this {
    this.value += text.replace(/[\\`*_{}[\]()#+\-.!|]/g, "\\$&");
    return this;
  }
  appendCodeblock(code: string, language = ""): this {
    this.value += "\n```" + language + "\n" + code + "\n```\n";
    return this;
  }
}

export class TreeItem {
  id?: string;
  description?: string | boolean;
  tooltip?: string | MarkdownString;
  iconPath?: ThemeIcon | Uri;
  contextValue?: string;
  command?: { command: string; title: string; arguments?: unknown[] };
  resourceUri?: Uri;
  constructor(
    public label: string | { label: string },
    public collapsibleState: TreeItemCollapsibleState = TreeItemCollapsibleState.None,
  ) {}
}

export enum TreeItemCollapsibleState {
  None = 0,
  Collapsed = 1,
  Expanded = 2,
}
export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}
export enum ConfigurationTarget {
  Global = 1,
  Workspace = 2,
  WorkspaceFolder = 3,
}
export enum ProgressLocation {
  SourceControl = 1,
  Window = 10,
  Notification = 15,
}
export enum QuickPickItemKind {
  Separator = -1,
  Default = 0,
}
export enum DiagnosticSeverity {
  Error = 0,
  Warning = 1,
  Information = 2,
  Hint = 3,
}
export enum ViewColumn {
  Active = -1,
  Beside = -2,
  One = 1,
}
export enum TextEditorRevealType {
  Default = 0,
  InCenter = 1,
}
export enum ExtensionMode {
  Production = 1,
  Development = 2,
  Test = 3,
}

/** A function that records its calls; `impl` can be replaced by a test. */
export interface Recorder<A extends unknown[] = unknown[], R = unknown> {
  (...args: A): R;
  calls: A[];
  impl: (...args: A) => R;
}

export function recorder<A extends unknown[] = unknown[], R = unknown>(impl: (...args: A) => R): Recorder<A, R> {
  const f = ((...args: A) => {
    f.calls.push(args);
    return f.impl(...args);
  }) as Recorder<A, R>;
  f.calls = [];
  f.impl = impl;
  return f;
}

function anything(path: string): unknown {
  // A callable, constructible object whose every property is again such an object.
  const target = function () {};
  return new Proxy(target, {
    get: (_t, prop) => {
      if (prop === "then") return undefined; // not a thenable
      if (prop === Symbol.toPrimitive) return () => path;
      if (prop === "prototype") return {};
      return anything(`${path}.${String(prop)}`);
    },
    apply: () => anything(`${path}()`),
    construct: () => anything(`new ${path}`) as object,
  });
}

/** Namespaces whose members are recorders (see test/mock.ts for the defaults tests rely on). */
function namespace(members: Record<string, unknown>, path: string): Record<string, unknown> {
  return new Proxy(members, {
    get: (t, prop: string) => (prop in t ? t[prop] : anything(`${path}.${prop}`)),
    set: (t, prop: string, value) => {
      t[prop] = value;
      return true;
    },
  });
}

export function createMock(): Record<string, unknown> {
  const classes = {
    Disposable,
    EventEmitter,
    CancellationTokenSource,
    Position,
    Range,
    Selection,
    Uri,
    ThemeIcon,
    ThemeColor,
    MarkdownString,
    TreeItem,
    TreeItemCollapsibleState,
    StatusBarAlignment,
    ConfigurationTarget,
    ProgressLocation,
    QuickPickItemKind,
    DiagnosticSeverity,
    ViewColumn,
    TextEditorRevealType,
    ExtensionMode,
  };
  const state: Record<string, unknown> = {
    ...classes,
    window: namespace({}, "vscode.window"),
    workspace: namespace({}, "vscode.workspace"),
    commands: namespace({}, "vscode.commands"),
    env: namespace({}, "vscode.env"),
    extensions: namespace({}, "vscode.extensions"),
    languages: namespace({}, "vscode.languages"),
    version: "1.91.0",
  };
  return new Proxy(state, { get: (t, prop: string) => (prop in t ? t[prop] : anything(`vscode.${prop}`)) });
}
