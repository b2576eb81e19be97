// What the extension and flyte-ls share: request, notification and command names and the shapes of their JSON
// (the server's side: flyte_ls/server/constants.py and README "Run and register from the editor"). Pure types
// and constants: no `vscode` import, so the unit tests and the contract test use it as is.

export const SERVER_NAME = "flyte-ls";

/** Custom requests and notifications. */
export const Methods = {
  entities: "flyte/entities",
  executions: "flyte/executions",
  executionChanged: "flyte/executionChanged",
  backendStatus: "flyte/backendStatus",
  projects: "flyte/projects",
} as const;

/** Server commands (workspace/executeCommand, one JSON object argument each). */
export const ServerCommands = {
  register: "flyte.register",
  execute: "flyte.execute",
  relaunch: "flyte.relaunch",
  terminate: "flyte.terminate",
  openConsole: "flyte.openConsole",
  approve: "flyte.approve",
  reject: "flyte.reject",
  setInput: "flyte.setInput",
  downloadOutputs: "flyte.downloadOutputs",
  activateLaunchPlan: "flyte.activateLaunchPlan",
  backfill: "flyte.backfill",
  trackExecution: "flyte.trackExecution",
  startLocalBackend: "flyte.startLocalBackend",
  stopLocalBackend: "flyte.stopLocalBackend",
} as const;

/** The extension's own commands (package.json `contributes.commands`). */
export const ClientCommands = {
  run: "flyte-ls.run",
  rerunLast: "flyte-ls.rerunLast",
  register: "flyte-ls.register",
  terminate: "flyte-ls.terminate",
  openConsole: "flyte-ls.openConsole",
  trackExecution: "flyte-ls.trackExecution",
  approve: "flyte-ls.approve",
  reject: "flyte-ls.reject",
  provideInput: "flyte-ls.provideInput",
  selectProfile: "flyte-ls.selectProfile",
  startLocalBackend: "flyte-ls.startLocalBackend",
  stopLocalBackend: "flyte-ls.stopLocalBackend",
  showLogs: "flyte-ls.showLogs",
  restartServer: "flyte-ls.restartServer",
  refreshExecutions: "flyte-ls.executions.refresh",
  relaunch: "flyte-ls.executions.relaunch",
  revealEntity: "flyte-ls.executions.reveal",
} as const;

export const EXECUTIONS_VIEW_ID = "flyte-ls.executions";
export const SETTINGS_SECTION = "flyte";

/** `flyte.backend`: `auto` (the settings, a discovered config file, the sandbox, else the local backend) or
 * `local` (always the embedded local backend, whatever else is configured). */
export type BackendMode = "auto" | "local";
/** The `setting` of a `flyte/backendStatus` that reports the local backend chosen by `flyte.backend`. */
export const BACKEND_SETTING = "flyte.backend";

export interface ExecutionId {
  project: string;
  domain: string;
  name: string;
}

/** A JSON description of a Flyte LiteralType (the server's `typeInfo`), enough to build a typed prompt. */
export interface TypeInfo {
  kind:
    | "int"
    | "float"
    | "bool"
    | "str"
    | "datetime"
    | "duration"
    | "enum"
    | "list"
    | "dict"
    | "struct"
    | "file"
    | "directory"
    | "structuredDataset"
    | "schema"
    | "union"
    | "none"
    | "binary"
    | "unknown";
  choices?: string[];
  item?: TypeInfo;
  value?: TypeInfo;
  variants?: TypeInfo[];
  title?: string;
  format?: string;
  jsonSchema?: Record<string, unknown>;
}

/** An item of the `missingInputs` list in the data of `flyte.execute`'s error. */
export interface MissingInput {
  name: string;
  type: string; // the Python type as a user wrote it, e.g. "List[int]"
  typeInfo?: TypeInfo;
}

export interface Gate {
  signalId: string;
  nodeId: string;
  kind: "approve" | "input" | "signal" | string; // an approval gate; anything else is an input signal (`flyte.setInput`)
  type: string;
  typeInfo?: TypeInfo;
}

export interface Frame {
  file: string;
  line: number;
  name: string;
}

/** A `flyte/executions` item and the `flyte/executionChanged` params. */
export interface ExecutionInfo {
  execution: ExecutionId;
  phase: string; // Admin's phase name: QUEUED, RUNNING, SUCCEEDED, FAILED, ABORTED, TIMED_OUT, UNDEFINED, UNKNOWN...
  uri: string | null;
  entity: string | null;
  consoleUrl: string | null;
  startedAt: string | null; // ISO 8601
  duration: number | null; // seconds; elapsed while running
  nodesDone: number | null;
  nodesTotal: number | null;
  outputs: Record<string, unknown> | string | null; // the server sends a summary string ("o0=2.5")
  gates: Gate[];
  error?: { message: string | null; kind: string | null; frames: Frame[] };
}

export const DONE_PHASES: ReadonlySet<string> = new Set(["SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT", "UNKNOWN"]);

export interface LspRange {
  start: { line: number; character: number };
  end: { line: number; character: number };
}

/** A `flyte/entities` item. */
export interface EntityItem {
  name: string;
  flyteName: string;
  kind: string; // task, workflow, dynamic, eager, launch_plan, map_task, reference_task, ...
  range: LspRange;
  selectionRange: LspRange;
  inputs: { name: string; type: string; default: string | null; required: boolean }[];
  outputs: { name: string; type: string }[];
  module: string;
}

/** `flyte.execute`'s result. */
export interface ExecuteResult {
  execution: ExecutionId;
  consoleUrl: string | null;
  version: string;
}

/** `flyte/backendStatus`'s result. */
export interface BackendStatus {
  endpoint: string | null;
  source: string;
  setting: string | null;
  reachable: boolean;
  error: string | null;
  project: string;
  domain: string;
  consoleUrl: string | null;
  configFile: string | null;
  local: { stateDir: string; running: boolean; adminEndpoint: string | null; consoleUrl: string | null; pid: number | null };
  autoStart: boolean;
}

/** Whether the status reports the local backend chosen by `flyte.backend` = `local` (running or not). */
export function chosenLocal(s: Pick<BackendStatus, "setting">): boolean {
  return s.setting === BACKEND_SETTING;
}

/** `flyte/projects`'s result. */
export interface ProjectsResult {
  projects: { id: string; name: string }[];
  domains: { id: string; name: string }[];
}

/** The data of a command's error that needs inputs (`flyte.execute`). */
export function missingInputsOf(error: unknown): MissingInput[] | undefined {
  const data = (error as { data?: unknown } | null)?.data as { missingInputs?: unknown } | undefined;
  const missing = data?.missingInputs;
  return Array.isArray(missing) ? (missing as MissingInput[]) : undefined;
}

export function executionKey(id: ExecutionId): string {
  return `${id.project}:${id.domain}:${id.name}`;
}

/** The elements of the Flyte Executions tree; context-menu commands receive one as their argument. */
export type ExecutionsNode =
  | { type: "execution"; info: ExecutionInfo }
  | { type: "gate"; info: ExecutionInfo; gate: Gate }
  | { type: "detail"; info: ExecutionInfo; label: string; value: string };
