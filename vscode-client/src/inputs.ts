// Typed prompts for an entity's missing inputs (`flyte.execute`'s `missingInputs`) and a gate's value
// (`flyte.setInput`): an InputBox validated by type, a QuickPick for bools, enums and recent values, an open
// dialog for files and folders, or an inputs file for all of them. Values come from src/inputValues.ts (what the
// server's literal conversion accepts). The last values given are remembered per entity and input in a Memento
// and offered first. Escape anywhere cancels the whole prompt (undefined).
import * as path from "node:path";
import * as vscode from "vscode";
import type { MissingInput, TypeInfo } from "./protocol";
import { exampleJson, formatValue, parseValue } from "./inputValues";
import { optionalOf, typeInfoFromString, typeName } from "./typeNames";

export { formatValue, parseValue } from "./inputValues";
export { typeInfoFromString, typeName } from "./typeNames";

/** The `vscode.window` functions the prompts use (tests pass fakes). */
export interface InputUi {
  showInputBox(options: vscode.InputBoxOptions): Thenable<string | undefined>;
  showQuickPick<T extends vscode.QuickPickItem>(items: readonly T[], options: vscode.QuickPickOptions): Thenable<T | undefined>;
  showOpenDialog(options: vscode.OpenDialogOptions): Thenable<vscode.Uri[] | undefined>;
}

/** What the prompts keep between runs (a `vscode.Memento`: the workspace state). */
export interface Memento {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): Thenable<void>;
}

export function vscodeInputUi(): InputUi {
  return {
    showInputBox: (options) => vscode.window.showInputBox(options),
    showQuickPick: (items, options) => vscode.window.showQuickPick(items, options),
    showOpenDialog: (options) => vscode.window.showOpenDialog(options),
  };
}

/** Where the prompts are: the workspace folder (relative paths, the open dialog's start) and the step. */
export interface PromptOptions {
  folder?: string;
  step?: { index: number; total: number };
}

// -- memory ---------------------------------------------------------------------------------------------------------
export const HISTORY_KEY = "flyte-ls.inputHistory";
export const INPUTS_FILE_KEY = "flyte-ls.inputsFiles";
const RECENT_VALUES = 5;
const RECENT_KEYS = 100; // entities remembered
const MAX_REMEMBERED_CHARS = 10_000; // a bigger value is used but not kept

type History = Record<string, Record<string, unknown[]>>;

/** The values given before for input `name` of `key` (`uri#entity`), newest first. */
export function recentValues(memory: Memento, key: string, name: string): unknown[] {
  return memory.get<History>(HISTORY_KEY)?.[key]?.[name] ?? [];
}

/** Remember `value` as the newest for input `name` of `key` (a few per input, the most recent entities). */
export async function rememberValue(memory: Memento, key: string, name: string, value: unknown): Promise<void> {
  const text = JSON.stringify(value);
  if (text === undefined || text.length > MAX_REMEMBERED_CHARS) return;
  const history: History = { ...(memory.get<History>(HISTORY_KEY) ?? {}) };
  const entry = { ...(history[key] ?? {}) };
  const values = (entry[name] ?? []).filter((v) => JSON.stringify(v) !== text);
  entry[name] = [value, ...values].slice(0, RECENT_VALUES);
  delete history[key]; // re-inserted last: the most recently used entity
  history[key] = entry;
  const keys = Object.keys(history);
  for (const old of keys.slice(0, Math.max(0, keys.length - RECENT_KEYS))) delete history[old];
  await memory.update(HISTORY_KEY, history);
}

// -- the prompts --------------------------------------------------------------------------------------------------
const CANCEL = Symbol("cancel");
type Answer = { value: unknown } | typeof CANCEL;

function title(name: string, info: TypeInfo, options: PromptOptions): string {
  const step = options.step && options.step.total > 1 ? ` (${options.step.index}/${options.step.total})` : "";
  return `${name}: ${typeName(info)}${step}`;
}

function hint(info: TypeInfo): string {
  const opt = optionalOf(info);
  if (opt) return `${hint(opt)} — leave empty for None`;
  switch (info.kind) {
    case "int":
      return "An integer, e.g. 42 or -7";
    case "float":
      return "A number, e.g. 3.14, -2 or 1e-3";
    case "str":
      return "Text, sent as typed";
    case "datetime":
      return "A date-time in ISO 8601, e.g. 2024-01-31T12:00:00Z or 2024-01-31 (no offset means UTC), or now";
    case "duration":
      return "A duration: 90s, 5m, 1h30m, 2d, PT1H30M, 1:30:00 or a number of seconds";
    case "list":
    case "dict":
      return `JSON: ${typeName(info)}`;
    case "struct":
      return `JSON: an object for ${info.title ?? "dict"}${fieldsOf(info)}`;
    case "union":
      return `A value for one of ${(info.variants ?? []).map(typeName).join(", ")} (tried in this order); JSON for lists and objects`;
    case "binary":
      return "bytes cannot be typed here: press Escape and use a YAML inputs file (`name: !!binary <base64>`)";
    case "file":
    case "directory":
    case "structuredDataset":
    case "schema":
      return "A URI (s3://…, gs://…) or a local path (uploaded)";
    default:
      return "A JSON value (text that is not JSON is sent as a string)";
  }
}

function fieldsOf(info: TypeInfo): string {
  const properties = info.jsonSchema?.properties;
  if (typeof properties !== "object" || properties === null) return "";
  const required = new Set(Array.isArray(info.jsonSchema?.required) ? (info.jsonSchema.required as string[]) : []);
  const fields = Object.entries(properties as Record<string, { type?: unknown }>).map(
    ([k, v]) => `${k}${required.has(k) ? "" : "?"}${typeof v?.type === "string" ? `: ${v.type}` : ""}`,
  );
  return ` with ${fields.join(", ")}`;
}

function placeholder(info: TypeInfo): string | undefined {
  const opt = optionalOf(info);
  const base = opt ?? info;
  const examples: Partial<Record<TypeInfo["kind"], string>> = {
    int: "42",
    float: "3.14",
    datetime: "2024-01-31T12:00:00Z",
    duration: "1h30m",
    file: "s3://bucket/data.csv or ./data.csv",
    directory: "s3://bucket/folder or ./folder",
  };
  if (["list", "dict", "struct"].includes(base.kind)) return exampleJson(base);
  return examples[base.kind];
}

/** Values a QuickPick offers for a bool or enum (optionally None), the recent ones first. */
function choiceItems(info: TypeInfo, recent: unknown[]): { label: string; description?: string; value: unknown }[] {
  const opt = optionalOf(info);
  const base = opt ?? info;
  const values: unknown[] = base.kind === "bool" ? [true, false] : [...(base.choices ?? [])];
  if (opt) values.push(null);
  const used = recent.filter((r) => values.some((v) => v === r));
  const ordered = [...used, ...values.filter((v) => !used.includes(v))];
  return ordered.map((value) => ({
    label: value === null ? "None" : String(value),
    description: used.includes(value) ? (value === used[0] ? "last used" : "used before") : undefined,
    value,
  }));
}

/** A remembered value as a QuickPick label: its text; None; or an empty string made visible. */
function labelOf(value: unknown, info: TypeInfo): string {
  if (value === null) return "None";
  return formatValue(value, info) || '""  (empty text)';
}

function isLocation(kind: TypeInfo["kind"]): boolean {
  return kind === "file" || kind === "directory" || kind === "structuredDataset" || kind === "schema";
}

/**
 * Ask for the value of input (or signal) `name` of type `info`; `key` (`uri#entity`) scopes the remembered
 * values. Undefined when the user cancelled.
 */
export async function promptForValue(
  ui: InputUi,
  memory: Memento,
  key: string,
  name: string,
  type: string,
  typeInfo?: TypeInfo,
  options: PromptOptions = {},
): Promise<{ value: unknown } | undefined> {
  const info = typeInfo ?? typeInfoFromString(type);
  const recent = recentValues(memory, key, name).filter((v) => "value" in parseValue(formatValue(v, info), info));
  const answer = await ask(ui, info, name, recent, options);
  if (answer === CANCEL) return undefined;
  await rememberValue(memory, key, name, answer.value);
  return answer;
}

async function ask(ui: InputUi, info: TypeInfo, name: string, recent: unknown[], options: PromptOptions): Promise<Answer> {
  const base = optionalOf(info) ?? info;
  if (info.kind === "none") return { value: null };
  if (base.kind === "bool" || base.kind === "enum") {
    const picked = await ui.showQuickPick(choiceItems(info, recent), {
      title: title(name, info, options),
      placeHolder: base.kind === "bool" ? "true or false" : "Pick a value",
      ignoreFocusOut: true,
    });
    return picked ? { value: picked.value } : CANCEL;
  }
  if (isLocation(base.kind)) return askLocation(ui, info, base, name, recent, options);
  if (recent.length > 1) {
    // more than one value remembered: offer them first (the InputBox prefills only the last)
    const items = [
      ...recent.map((value, i) => ({ label: labelOf(value, info), description: i === 0 ? "last used" : "used before", value })),
      { label: "$(edit) Enter a value…", description: hint(info), value: undefined as unknown },
    ];
    const picked = await ui.showQuickPick(items, { title: title(name, info, options), placeHolder: "A value used before, or a new one", ignoreFocusOut: true });
    if (!picked) return CANCEL;
    if (picked.value !== undefined) return { value: picked.value };
  }
  return askText(ui, info, name, recent[0], options);
}

async function askText(ui: InputUi, info: TypeInfo, name: string, last: unknown, options: PromptOptions): Promise<Answer> {
  const text = await ui.showInputBox({
    title: title(name, info, options),
    prompt: hint(info),
    placeHolder: placeholder(info),
    value: last === undefined ? undefined : formatValue(last, info),
    ignoreFocusOut: true,
    validateInput: (t) => {
      const parsed = parseValue(t, info);
      return "error" in parsed ? parsed.error : undefined;
    },
  });
  if (text === undefined) return CANCEL;
  const parsed = parseValue(text, info);
  if ("error" in parsed) return CANCEL; // the InputBox does not accept an invalid value; a fake UI might
  return { value: resolveLocal(parsed.value, info, options.folder) };
}

/** A relative local path for a file-like input, made absolute against the workspace folder (the server imports
 * and uploads from there, whatever its own working directory). */
function resolveLocal(value: unknown, info: TypeInfo, folder: string | undefined): unknown {
  const base = optionalOf(info) ?? info;
  if (!folder || typeof value !== "string" || !isLocation(base.kind)) return value;
  if (/^[A-Za-z][A-Za-z0-9+.-]+:\/\//.test(value) || path.isAbsolute(value)) return value;
  return path.join(folder, value);
}

async function askLocation(
  ui: InputUi,
  info: TypeInfo,
  base: TypeInfo,
  name: string,
  recent: unknown[],
  options: PromptOptions,
): Promise<Answer> {
  const folderKind = base.kind === "directory";
  const either = base.kind === "structuredDataset" || base.kind === "schema";
  type Item = vscode.QuickPickItem & { action: "value" | "browse" | "type"; value?: unknown };
  const items: Item[] = [
    ...recent.map((value, i): Item => ({ label: labelOf(value, info), description: i === 0 ? "last used" : "used before", action: "value", value })),
    { label: folderKind ? "$(folder) Choose a folder…" : either ? "$(file) Choose a file or folder…" : "$(file) Choose a file…", action: "browse" },
    { label: "$(edit) Enter a URI or path…", description: "s3://…, gs://…, or a local path", action: "type" },
  ];
  if (optionalOf(info) && !recent.includes(null)) items.push({ label: "None", action: "value", value: null });
  const picked = await ui.showQuickPick(items, { title: title(name, info, options), placeHolder: hint(info), ignoreFocusOut: true });
  if (!picked) return CANCEL;
  if (picked.action === "value") return { value: picked.value };
  if (picked.action === "type") return askText(ui, info, name, recent.find((v) => typeof v === "string"), options);
  const filters = base.kind === "file" && base.format ? { [base.format]: [base.format], "All files": ["*"] } : undefined;
  const chosen = await ui.showOpenDialog({
    canSelectFiles: !folderKind,
    canSelectFolders: folderKind || either,
    canSelectMany: false,
    title: title(name, info, options),
    openLabel: `Use for ${name}`,
    defaultUri: options.folder ? vscode.Uri.file(options.folder) : undefined,
    filters,
  });
  return chosen && chosen.length > 0 ? { value: chosen[0].fsPath } : CANCEL;
}

/**
 * Ask for every missing input of `key` (`uri#entity`): first, when several are missing (or one cannot be typed),
 * whether to use an inputs file (JSON/YAML; relative to the workspace folder when inside it), then each value.
 * Undefined when the user cancelled.
 */
export async function promptForInputs(
  ui: InputUi,
  memory: Memento,
  key: string,
  missing: MissingInput[],
  options: Pick<PromptOptions, "folder"> = {},
): Promise<{ inputs: Record<string, unknown> } | { inputsFile: string } | undefined> {
  const infos = missing.map((m) => m.typeInfo ?? typeInfoFromString(m.type));
  const untypable = missing.filter((_, i) => infos[i].kind === "binary").map((m) => m.name);
  if (missing.length > 1 || untypable.length > 0) {
    const choice = await chooseSource(ui, memory, key, missing, infos, untypable);
    if (choice === undefined) return undefined;
    if (choice === "browse") {
      const file = await pickInputsFile(ui, options.folder);
      if (file === undefined) return undefined;
      await rememberInputsFile(memory, key, file);
      return { inputsFile: file };
    }
    if (choice !== "type") {
      await rememberInputsFile(memory, key, choice);
      return { inputsFile: choice };
    }
  }
  const inputs: Record<string, unknown> = {};
  for (const [i, m] of missing.entries()) {
    const step = { index: i + 1, total: missing.length };
    const answer = await promptForValue(ui, memory, key, m.name, m.type, infos[i], { ...options, step });
    if (answer === undefined) return undefined;
    inputs[m.name] = answer.value;
  }
  return { inputs };
}

/** "type" (one by one), "browse" (pick a file) or a remembered inputs file; undefined when cancelled. */
async function chooseSource(
  ui: InputUi,
  memory: Memento,
  key: string,
  missing: MissingInput[],
  infos: TypeInfo[],
  untypable: string[],
): Promise<string | undefined> {
  const names = missing.map((m, i) => `${m.name}: ${typeName(infos[i])}`).join(", ");
  type Item = vscode.QuickPickItem & { choice: string };
  const items: Item[] = [];
  if (untypable.length === 0) items.push({ label: "$(edit) Enter the values", description: names, choice: "type" });
  const last = memory.get<Record<string, string>>(INPUTS_FILE_KEY)?.[key];
  if (last) items.push({ label: `$(history) Use ${last} again`, description: "inputs file used last time", choice: last });
  items.push({ label: "$(file) Use an inputs file (JSON/YAML)…", description: "an object: input name → value", choice: "browse" });
  const entity = key.slice(key.lastIndexOf("#") + 1);
  const placeHolder =
    untypable.length > 0
      ? `${untypable.join(", ")} (bytes) can only be given in a YAML inputs file (!!binary)`
      : `Missing inputs: ${names}`;
  const picked = await ui.showQuickPick(items, { title: `${entity}: ${missing.length} input${missing.length > 1 ? "s" : ""} needed`, placeHolder, ignoreFocusOut: true });
  return picked?.choice;
}

async function pickInputsFile(ui: InputUi, folder: string | undefined): Promise<string | undefined> {
  const chosen = await ui.showOpenDialog({
    canSelectFiles: true,
    canSelectFolders: false,
    canSelectMany: false,
    title: "Inputs file (JSON or YAML: input name → value)",
    openLabel: "Use inputs",
    defaultUri: folder ? vscode.Uri.file(folder) : undefined,
    filters: { "Inputs (JSON/YAML)": ["json", "yaml", "yml"], "All files": ["*"] },
  });
  if (!chosen || chosen.length === 0) return undefined;
  return relativeToFolder(chosen[0].fsPath, folder);
}

/** `file` relative to `folder` when inside it (how the server reads `inputsFile`), else absolute. */
export function relativeToFolder(file: string, folder: string | undefined): string {
  if (!folder) return file;
  const relative = path.relative(folder, file);
  return relative && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative.split(path.sep).join("/") : file;
}

async function rememberInputsFile(memory: Memento, key: string, file: string): Promise<void> {
  const files = { ...(memory.get<Record<string, string>>(INPUTS_FILE_KEY) ?? {}) };
  delete files[key];
  files[key] = file;
  const keys = Object.keys(files);
  for (const old of keys.slice(0, Math.max(0, keys.length - RECENT_KEYS))) delete files[old];
  await memory.update(INPUTS_FILE_KEY, files);
}
