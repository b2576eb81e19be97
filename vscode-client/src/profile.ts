// "Select Profile": which Flyte backend Run and Register go to (the embedded local backend, the sandbox, a config
// file, an endpoint), then the project and the domain. The choices, the validation and the setting changes are
// pure functions; `selectProfile` is the flow, with its UI, settings and server passed in; `vscodeProfileDeps`
// builds the real ones. The server applies changed settings live (workspace/didChangeConfiguration).
import { readdir, readFile, stat } from "node:fs/promises";
import * as path from "node:path";
import type * as vscode from "vscode";
import type { ServerHost } from "./host";
import { chosenLocal, Methods, type BackendMode, type BackendStatus, type ProjectsResult } from "./protocol";

export const SANDBOX_ENDPOINT = "localhost:30080";
export const DEFAULT_PROJECT = "flytesnacks";
export const DEFAULT_DOMAIN = "development";
export const DEFAULT_DOMAINS = ["development", "staging", "production"];

/** The `flyte` settings a profile changes (keys as in package.json, under `flyte.`). */
export interface ProfileSettings {
  /** `local`: the embedded local backend whatever else is configured (a discovered config file, the sandbox). */
  backend: BackendMode;
  endpoint: string | null;
  insecure: boolean | null;
  configFile: string | null;
  project: string;
  domain: string;
}
export type ProfileKey = keyof ProfileSettings;
export type SettingChange = [ProfileKey, ProfileSettings[ProfileKey]];

export function readProfileSettings(get: (key: ProfileKey) => unknown): ProfileSettings {
  const str = (v: unknown): string | null => (typeof v === "string" && v.trim() ? v.trim() : null);
  const bool = (v: unknown): boolean | null => (typeof v === "boolean" ? v : null);
  return {
    backend: get("backend") === "local" ? "local" : "auto",
    endpoint: str(get("endpoint")),
    insecure: bool(get("insecure")),
    configFile: str(get("configFile")),
    project: str(get("project")) ?? DEFAULT_PROJECT,
    domain: str(get("domain")) ?? DEFAULT_DOMAIN,
  };
}

/** The settings to write to get `wanted`: only the keys whose value differs from `current`. */
export function changedSettings(current: ProfileSettings, wanted: Partial<ProfileSettings>): SettingChange[] {
  const changes: SettingChange[] = [];
  for (const key of Object.keys(wanted) as ProfileKey[]) {
    const value = wanted[key] ?? null;
    if ((current[key] ?? null) !== value) changes.push([key, value]);
  }
  return changes;
}

// ---- endpoints ------------------------------------------------------------------------------------------------

/** `dns:///host:port` and `host:port` name the same endpoint. */
export function normalizeEndpoint(endpoint: string | null | undefined): string | null {
  const text = endpoint?.trim().replace(/^dns:\/\/\//, "");
  return text ? text.toLowerCase() : null;
}

const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)$/;

/** The InputBox validation of an endpoint: undefined when valid, else what to type instead. */
export function validateEndpoint(text: string): string | undefined {
  const value = text.trim();
  const example = "e.g. flyte.example.com:443, dns:///flyte.example.com:443 or localhost:30080";
  if (!value) return `Enter Flyte Admin's gRPC endpoint as host:port, ${example}.`;
  if (/^[a-z][a-z0-9+.-]*:\/\/(?!\/)/i.test(value)) {
    return `Leave out the scheme: flyte-ls talks gRPC to host:port (${example}).`;
  }
  const dns = value.startsWith("dns:///");
  const rest = dns ? value.slice("dns:///".length) : value;
  if (rest.includes("/")) return `Only host:port, without a path (${example}).`;
  const hp = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(rest);
  const host = hp?.[1] ?? "";
  const port = hp?.[2];
  if (!host || !HOST.test(host)) return `${host || "(empty)"} is not a host name or IP address (${example}).`;
  if (port === undefined || port === "") {
    if (dns) return undefined; // gRPC's default port applies to dns:/// targets
    return `Add the port: ${host}:443 for TLS, or the port your Admin listens on (the sandbox: 30080).`;
  }
  const n = Number(port);
  if (!Number.isInteger(n) || n < 1 || n > 65535) return `The port must be 1–65535, got ${port}.`;
  return undefined;
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]", "0.0.0.0"]);

/** The same endpoint, `dns:///` or not, `localhost` or `127.0.0.1`. */
export function sameEndpoint(a: string | null | undefined, b: string | null | undefined): boolean {
  const canon = (e: string | null | undefined) => normalizeEndpoint(e)?.replace(/^([^:]+|\[[^\]]*\])(?=:\d+$|$)/, (h) => (LOOPBACK.has(h) ? "localhost" : h)) ?? null;
  const x = canon(a);
  return x !== null && x === canon(b);
}

/** Plaintext is the likely answer for a backend on this machine. */
export function looksLocal(endpoint: string): boolean {
  const host = (normalizeEndpoint(endpoint) ?? "").replace(/:\d+$/, "");
  return LOOPBACK.has(host);
}

// ---- config files ---------------------------------------------------------------------------------------------

export interface ConfigFile {
  path: string;
  origin: string; // "$FLYTECTL_CONFIG", "home", "workspace <name>"
  endpoint: string | null;
  insecure: boolean | null;
}

function unquote(value: string): string {
  const v = value.trim();
  return /^(["']).*\1$/.test(v) ? v.slice(1, -1) : v;
}

function parseBool(value: string | undefined): boolean | null {
  if (value === undefined) return null;
  const v = unquote(value).toLowerCase();
  return ["true", "yes", "on", "1"].includes(v) ? true : ["false", "no", "off", "0"].includes(v) ? false : null;
}

/**
 * `admin.endpoint` and `admin.insecure` of a flytectl YAML config, without a YAML library: a tolerant reader of
 * block mappings (comments, quotes, any indentation); anything else (flow style, anchors) just yields null.
 */
export function readYamlAdmin(text: string): { endpoint: string | null; insecure: boolean | null } {
  let inAdmin = false;
  let adminIndent = -1;
  let childIndent = -1;
  const found: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/(^|\s)#.*$/, "").trimEnd();
    if (!line.trim() || line.trim() === "---") continue;
    const indent = line.length - line.trimStart().length;
    const m = /^([A-Za-z_][\w.-]*)\s*:(?:\s+(.*))?$/.exec(line.trim());
    if (inAdmin && indent <= adminIndent) inAdmin = false;
    if (!m) continue;
    const [, key, value] = m;
    if (!inAdmin) {
      if (key === "admin" && !value) {
        inAdmin = true;
        adminIndent = indent;
        childIndent = -1;
      }
      continue;
    }
    if (childIndent < 0) childIndent = indent;
    if (indent === childIndent && value !== undefined && !(key in found)) found[key] = value;
  }
  const endpoint = found.endpoint !== undefined ? unquote(found.endpoint) : "";
  return { endpoint: endpoint || null, insecure: parseBool(found.insecure) };
}

/** `[platform] url` and `insecure` of a flytekit INI config (`flytekit.config`, `~/.flyte/config`). */
export function readIniPlatform(text: string): { endpoint: string | null; insecure: boolean | null } {
  let section = "";
  const found: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = header[1].trim().toLowerCase();
      continue;
    }
    const kv = /^([^=:]+)[=:](.*)$/.exec(line);
    if (section === "platform" && kv) found[kv[1].trim().toLowerCase()] = kv[2].trim();
  }
  const endpoint = found.url ? unquote(found.url) : "";
  return { endpoint: endpoint || null, insecure: parseBool(found.insecure) };
}

export function readConfigText(file: string, text: string): { endpoint: string | null; insecure: boolean | null } {
  return /\.ya?ml$/i.test(file) ? readYamlAdmin(text) : readIniPlatform(text);
}

export interface ConfigSearch {
  env: Record<string, string | undefined>;
  home: string;
  folders: { name: string; path: string }[];
}

/** Where config files may be, in flytekit's discovery order first; globs are expanded by `findConfigFiles`. */
export function configFilePatterns(search: ConfigSearch): { dir: string; match: RegExp | string; origin: string }[] {
  const patterns: { dir: string; match: RegExp | string; origin: string }[] = [];
  const fromEnv = search.env.FLYTECTL_CONFIG;
  if (fromEnv) {
    const file = path.resolve(search.folders[0]?.path ?? search.home, fromEnv.replace(/^~(?=$|[\\/])/, search.home));
    patterns.push({ dir: path.dirname(file), match: path.basename(file), origin: "$FLYTECTL_CONFIG" });
  }
  for (const folder of search.folders) {
    patterns.push({ dir: folder.path, match: "flytekit.config", origin: `workspace ${folder.name}` });
    patterns.push({ dir: path.join(folder.path, ".flyte"), match: /^config.*\.ya?ml$/, origin: `workspace ${folder.name}` });
  }
  patterns.push({ dir: path.join(search.home, ".flyte"), match: "config", origin: "home" });
  patterns.push({ dir: path.join(search.home, ".flyte"), match: /^config.*\.ya?ml$/, origin: "home" });
  return patterns;
}

/** The config files that exist, each with the endpoint it names (unreadable files are left out). */
export async function findConfigFiles(search: ConfigSearch): Promise<ConfigFile[]> {
  const found: ConfigFile[] = [];
  const seen = new Set<string>();
  for (const p of configFilePatterns(search)) {
    let names: string[];
    try {
      names = typeof p.match === "string" ? [p.match] : (await readdir(p.dir)).filter((n) => (p.match as RegExp).test(n)).sort();
    } catch {
      continue; // no such folder
    }
    for (const name of names) {
      const file = path.join(p.dir, name);
      if (seen.has(file)) continue;
      try {
        if (!(await stat(file)).isFile()) continue;
        const text = await readFile(file, "utf8");
        seen.add(file);
        found.push({ path: file, origin: p.origin, ...readConfigText(file, text) });
      } catch {
        continue;
      }
    }
  }
  return found;
}

// ---- choices --------------------------------------------------------------------------------------------------

export interface ProfileChoice extends vscode.QuickPickItem {
  id: string; // "local", "sandbox", "config:<path>", "endpoint"
  /** The settings this choice writes; none for "Enter endpoint…" (asked next). */
  settings?: Partial<ProfileSettings>;
}

/** Which choice the current settings are. */
export function currentChoiceId(s: ProfileSettings): string {
  if (s.backend === "local") return "local";
  if (s.endpoint) {
    return normalizeEndpoint(s.endpoint) === SANDBOX_ENDPOINT && s.insecure === true && !s.configFile ? "sandbox" : "endpoint";
  }
  if (s.configFile) return `config:${s.configFile}`;
  return "local";
}

export function tildify(file: string, home: string): string {
  return home && (file === home || file.startsWith(home + path.sep)) ? "~" + file.slice(home.length) : file;
}

export function profileChoices(current: ProfileSettings, configs: ConfigFile[], home: string): ProfileChoice[] {
  const currentId = currentChoiceId(current);
  const mark = (c: ProfileChoice): ProfileChoice =>
    c.id === currentId ? { ...c, label: `$(check) ${c.label}`, description: ["current", c.description].filter(Boolean).join(" · ") } : c;
  const choices: ProfileChoice[] = [
    {
      id: "local",
      label: "Local backend",
      description: "flyte-ls local, started on the first Run",
      detail: "Runs everything on this machine: no Docker, no cluster.",
      // flyte.backend = local: a config file flytekit's discovery finds (~/.flyte/config.yaml) no longer wins.
      settings: { backend: "local", endpoint: null, insecure: null, configFile: null },
    },
    {
      id: "sandbox",
      label: `Sandbox ${SANDBOX_ENDPOINT}`,
      description: "insecure",
      detail: "flytectl demo / a port-forwarded Flyte sandbox.",
      settings: { backend: "auto", endpoint: SANDBOX_ENDPOINT, insecure: true, configFile: null },
    },
  ];
  const configPaths = new Set(configs.map((c) => c.path));
  const listed = [...configs];
  if (current.configFile && !configPaths.has(current.configFile)) {
    listed.unshift({ path: current.configFile, origin: "setting flyte.configFile", endpoint: null, insecure: null });
  }
  for (const c of listed) {
    choices.push({
      id: `config:${c.path}`,
      label: tildify(c.path, home),
      description: c.origin,
      detail: c.endpoint ? `${c.endpoint}${c.insecure ? " (insecure)" : ""}` : "no admin endpoint found in the file",
      settings: { backend: "auto", endpoint: null, insecure: null, configFile: c.path },
    });
  }
  choices.push({
    id: "endpoint",
    label: "Enter endpoint…",
    description: currentId === "endpoint" && current.endpoint ? current.endpoint : undefined,
    detail: "Flyte Admin's gRPC host:port.",
  });
  return choices.map(mark);
}

export interface NamedChoice extends vscode.QuickPickItem {
  id: string | null; // null: "Enter …"
}

/** Project (or domain) choices: the backend's, the current one first and marked, then "Enter …". */
export function namedChoices(
  items: { id: string; name: string }[] | null,
  current: string,
  noun: "project" | "domain",
  problem?: string,
): NamedChoice[] {
  const list = items ?? [{ id: current, name: current }];
  if (!list.some((i) => i.id === current)) list.unshift({ id: current, name: current });
  const choices: NamedChoice[] = list
    .map((i): NamedChoice => ({
      id: i.id,
      label: i.id === current ? `$(check) ${i.id}` : i.id,
      description: [i.id === current ? "current" : "", i.name && i.name !== i.id ? i.name : ""].filter(Boolean).join(" · ") || undefined,
      detail: i.id === current && problem ? problem : undefined,
    }))
    .sort((a, b) => Number(b.id === current) - Number(a.id === current));
  choices.push({ id: null, label: `Enter ${noun}…` });
  return choices;
}

/** Flyte project and domain ids: lower-case letters, digits, `-` and `_`. */
export function validateName(noun: string): (text: string) => string | undefined {
  return (text) => {
    const value = text.trim();
    if (!value) return `Enter a ${noun} id.`;
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(value)) return `A ${noun} id has letters, digits, - and _ only (got ${JSON.stringify(value)}).`;
    return undefined;
  };
}

/**
 * Whether the server reports the profile `wanted` (it applies new settings asynchronously): its project and
 * domain, and for the local backend the status of the one `flyte.backend` chose (its `setting`), else not that,
 * and the endpoint or config file chosen, or nothing that the endpoint or config-file setting named.
 */
export function statusShows(status: BackendStatus, wanted: ProfileSettings): boolean {
  if (status.project !== wanted.project || status.domain !== wanted.domain) return false;
  if (wanted.backend === "local") return chosenLocal(status);
  if (chosenLocal(status)) return false;
  if (wanted.endpoint) return sameEndpoint(status.endpoint, wanted.endpoint);
  if (wanted.configFile) return status.configFile === wanted.configFile || status.source.includes(wanted.configFile);
  return !/setting flyte\.(endpoint|configFile)/.test(status.source);
}

// ---- deadlines ------------------------------------------------------------------------------------------------

export class DeadlineError extends Error {}

/** `promise`, or a DeadlineError after `ms` (the promise itself goes on; its result is then ignored). */
export function withDeadline<T>(promise: PromiseLike<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`${what} did not answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([Promise.resolve(promise), deadline]).finally(() => clearTimeout(timer));
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === "string" ? message : String(err);
}

// ---- the flow -------------------------------------------------------------------------------------------------

export interface ProfileUi {
  showQuickPick<T extends vscode.QuickPickItem>(
    items: readonly T[] | Thenable<readonly T[]>,
    options?: vscode.QuickPickOptions,
  ): Thenable<T | undefined>;
  showInputBox(options?: vscode.InputBoxOptions): Thenable<string | undefined>;
}

export interface ProfileDeps {
  ui: ProfileUi;
  host: Pick<ServerHost, "sendRequest" | "log">;
  /** The effective value of a `flyte.` setting. */
  get(key: ProfileKey): unknown;
  /** Writes a `flyte.` setting where the workspace keeps it. */
  update(key: ProfileKey, value: unknown): PromiseLike<void>;
  configFiles(): Promise<ConfigFile[]>;
  home: string;
  /** How long to wait for the server to pick up new backend settings before asking it for projects. */
  settleMs?: number;
  projectsTimeoutMs?: number;
}

const TITLE = "Flyte profile";

async function applyChanges(deps: ProfileDeps, changes: SettingChange[]): Promise<void> {
  for (const [key, value] of changes) await deps.update(key, value);
}

async function waitForServer(deps: ProfileDeps, wanted: ProfileSettings): Promise<void> {
  const until = Date.now() + (deps.settleMs ?? 3000);
  while (Date.now() < until) {
    try {
      const status = await withDeadline(deps.host.sendRequest<BackendStatus>(Methods.backendStatus, { refresh: true }), Math.max(until - Date.now(), 1), Methods.backendStatus);
      if (statusShows(status, wanted)) return;
    } catch {
      return; // the projects request will say what is wrong
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function pickName(
  deps: ProfileDeps,
  step: string,
  noun: "project" | "domain",
  choices: Promise<NamedChoice[]>,
  current: string,
): Promise<string | undefined> {
  const picked = await deps.ui.showQuickPick(choices, {
    title: `${TITLE} (${step}): ${noun}`,
    placeHolder: `The ${noun} Run and Register use (now ${current}); Escape keeps it`,
    matchOnDescription: true,
  });
  if (!picked) return undefined;
  if (picked.id !== null) return picked.id;
  const typed = await deps.ui.showInputBox({
    title: `${TITLE} (${step}): ${noun}`,
    prompt: `The ${noun} id`,
    value: current,
    validateInput: validateName(noun),
  });
  return typed?.trim() || undefined;
}

/**
 * Asks for the backend, then the project and the domain, writing each change as soon as it is chosen (the
 * projects come from the new backend). Returns the changes written, or undefined when the backend step was
 * cancelled.
 */
export async function selectProfile(deps: ProfileDeps): Promise<SettingChange[] | undefined> {
  const current = readProfileSettings(deps.get);
  const configs = await deps.configFiles().catch((err) => {
    deps.host.log.warn(`Select profile: looking for config files failed: ${errorText(err)}`);
    return [] as ConfigFile[];
  });
  const choice = await deps.ui.showQuickPick(profileChoices(current, configs, deps.home), {
    title: `${TITLE} (1/3): backend`,
    placeHolder: "Where Run and Register go",
    matchOnDescription: true,
    matchOnDetail: true,
  });
  if (!choice) return undefined;
  let backend = choice.settings;
  if (!backend) {
    const endpoint = await deps.ui.showInputBox({
      title: `${TITLE} (1/3): endpoint`,
      prompt: "Flyte Admin's gRPC endpoint (host:port)",
      placeHolder: "flyte.example.com:443",
      value: current.endpoint ?? "",
      validateInput: validateEndpoint,
    });
    if (endpoint === undefined) return undefined;
    const value = endpoint.trim();
    const plain = { label: "Plaintext (insecure)", description: "a backend on this machine, a port-forward", insecure: true };
    const tls = { label: "TLS", description: "a remote Flyte deployment", insecure: false };
    const security = await deps.ui.showQuickPick(looksLocal(value) ? [plain, tls] : [tls, plain], {
      title: `${TITLE} (1/3): ${value}`,
      placeHolder: "How to connect",
    });
    if (!security) return undefined;
    backend = { backend: "auto", endpoint: value, insecure: security.insecure, configFile: null };
  }
  const written = changedSettings(current, backend);
  await applyChanges(deps, written);
  const wanted = { ...current, ...backend };
  if (written.length) await waitForServer(deps, wanted);

  const projects = withDeadline(
    deps.host.sendRequest<ProjectsResult>(Methods.projects, {}),
    deps.projectsTimeoutMs ?? 30_000,
    Methods.projects,
  ).then(
    (r) => ({ result: r, problem: undefined as string | undefined }),
    (err) => {
      const problem = `The backend did not list its projects: ${errorText(err)}`;
      deps.host.log.warn(`Select profile: ${problem}`);
      return { result: undefined as ProjectsResult | undefined, problem };
    },
  );
  const project = await pickName(
    deps,
    "2/3",
    "project",
    projects.then((p) => namedChoices(p.result?.projects ?? null, current.project, "project", p.problem)),
    current.project,
  );
  if (project === undefined) return written;
  const domain = await pickName(
    deps,
    "3/3",
    "domain",
    projects.then((p) => {
      const domains = p.result?.domains?.length ? p.result.domains : DEFAULT_DOMAINS.map((d) => ({ id: d, name: d }));
      return namedChoices(domains, current.domain, "domain");
    }),
    current.domain,
  );
  const names = changedSettings(current, domain === undefined ? { project } : { project, domain });
  await applyChanges(deps, names);
  // Whoever asks the server next (the status bar) should see the new profile.
  if (names.length) await waitForServer(deps, { ...wanted, project, domain: domain ?? current.domain });
  return [...written, ...names];
}

/** The backend a profile names, for messages: `localhost:30080`, `~/.flyte/config.yaml`, `local backend`. */
export function describeBackend(s: ProfileSettings, home: string): string {
  if (s.backend === "local") return "local backend";
  return s.endpoint ?? (s.configFile ? tildify(s.configFile, home) : "local backend");
}

/**
 * The backend the server reports, for messages: `127.0.0.1:30080 (setting flyte.endpoint)`; the local backend
 * chosen by `flyte.backend` as `local backend at 127.0.0.1:30080 (chosen by flyte.backend)`, without `at …` when
 * it is not running yet.
 */
export function describeStatus(status: BackendStatus): string {
  if (chosenLocal(status)) return `local backend${status.endpoint ? ` at ${status.endpoint}` : ""} (chosen by ${status.setting})`;
  return `${status.endpoint ?? "local backend"} (${status.source})`;
}

/** Where an update goes: the folder's own settings when it has a value there, else the workspace (or user). */
export function updateTarget(
  inspected: { workspaceFolderValue?: unknown } | undefined,
  hasWorkspace: boolean,
  hasFolder: boolean,
): "WorkspaceFolder" | "Workspace" | "Global" {
  if (hasFolder && inspected?.workspaceFolderValue !== undefined) return "WorkspaceFolder";
  return hasWorkspace ? "Workspace" : "Global";
}
