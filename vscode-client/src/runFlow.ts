// Server commands that may need the user first (src/client.ts sends every `flyte.*` command through here):
// `flyte.setInput` without `value` asks for the gate's value by its type; `flyte.execute` / `flyte.backfill`
// answered with `missingInputs` ask for those inputs (or an inputs file) and send again. Remembers the inputs
// given per entity and the last `flyte.execute` (Re-run last). Pure logic over `FlowDeps`: tests pass fakes.
import { missingInputsOf, ServerCommands, type ExecutionInfo, type Gate } from "./protocol";
import { promptForInputs, promptForValue, rememberValue, type InputUi, type Memento } from "./inputs";

export type { Memento } from "./inputs";

export interface FlowDeps {
  ui: InputUi;
  memory: Memento;
  /** `workspace/executeCommand` without prompts. */
  send(command: string, arg: Record<string, unknown>): Promise<unknown>;
  /** `flyte/executions` (to find a gate's type). */
  executions(): Promise<ExecutionInfo[]>;
  /** The workspace folder (a path) holding a document uri, if any. */
  workspaceFolder?(uri: string): string | undefined;
}

export const LAST_RUN_KEY = "flyte-ls.lastRun";
const MAX_ROUNDS = 5; // prompts in a row for one command (an inputs file may leave some inputs out)

/** The argument of the last `flyte.execute` sent with all its inputs (for "Re-run last"). */
export function lastRun(memory: Memento): Record<string, unknown> | undefined {
  return memory.get<Record<string, unknown>>(LAST_RUN_KEY);
}

/** The message of a command's failure: a server error's message already says what to do. */
export function errorMessage(err: unknown): string {
  if (typeof err === "string") return err;
  const message = (err as { message?: unknown } | null)?.message;
  if (typeof message === "string" && message) return message;
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}

/** `uri#entity`: what remembered values are scoped by. */
export function entityKey(uri: unknown, entity: unknown): string {
  return `${typeof uri === "string" ? uri : ""}#${typeof entity === "string" ? entity : ""}`;
}

/**
 * Send `command` with `arg`, first asking the user for what it lacks; the result, or undefined when the user
 * cancelled a prompt. Rejects with the server's error otherwise.
 */
export async function executeWithPrompts(deps: FlowDeps, command: string, arg: Record<string, unknown>): Promise<unknown | undefined> {
  if (command === ServerCommands.setInput && !("value" in arg)) return setInputWithPrompt(deps, arg);
  if (command === ServerCommands.execute || command === ServerCommands.backfill) return runWithInputs(deps, command, arg);
  return deps.send(command, arg);
}

async function runWithInputs(deps: FlowDeps, command: string, arg: Record<string, unknown>): Promise<unknown | undefined> {
  const key = entityKey(arg.uri, arg.entity);
  const folder = typeof arg.uri === "string" ? deps.workspaceFolder?.(arg.uri) : undefined;
  let current = { ...arg };
  const asked = new Set<string>();
  for (let round = 0; ; round++) {
    let result: unknown;
    try {
      result = await deps.send(command, current);
    } catch (err) {
      const missing = missingInputsOf(err);
      // Ask again only for inputs not asked yet (an answer the server still calls missing would loop).
      if (!missing || missing.length === 0 || round >= MAX_ROUNDS || missing.every((m) => asked.has(m.name))) {
        if (!missing?.length) await remember(deps, command, current, key, false);
        throw err;
      }
      const answer = await promptForInputs(deps.ui, deps.memory, key, missing, { folder });
      if (answer === undefined) return undefined;
      if ("inputsFile" in answer) current = { ...current, inputsFile: answer.inputsFile };
      else {
        Object.keys(answer.inputs).forEach((name) => asked.add(name));
        current = { ...current, inputs: { ...asObject(current.inputs), ...answer.inputs } };
      }
      continue;
    }
    await remember(deps, command, current, key, true);
    return result;
  }
}

/** After a send the server did not refuse for missing inputs: the inputs given (when it succeeded) and the
 * command as the last run (also when it failed otherwise: a backend that was down, code fixed since). */
async function remember(deps: FlowDeps, command: string, arg: Record<string, unknown>, key: string, succeeded: boolean): Promise<void> {
  if (command === ServerCommands.execute) await deps.memory.update(LAST_RUN_KEY, arg);
  if (!succeeded) return;
  for (const [name, value] of Object.entries(asObject(arg.inputs))) await rememberValue(deps.memory, key, name, value);
}

function asObject(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

async function setInputWithPrompt(deps: FlowDeps, arg: Record<string, unknown>): Promise<unknown | undefined> {
  const signalId = typeof arg.signalId === "string" ? arg.signalId : "";
  const found = await findGate(deps, arg.execution, signalId);
  const info = found?.info;
  const key = info ? entityKey(info.uri, info.entity) : entityKey("", "");
  const folder = info?.uri ? deps.workspaceFolder?.(info.uri) : undefined;
  const gate = found?.gate;
  const answer = await promptForValue(deps.ui, deps.memory, key, signalId || "value", gate?.type ?? "unknown", gate?.typeInfo, {
    folder,
  });
  if (answer === undefined) return undefined;
  return deps.send(ServerCommands.setInput, { ...arg, value: answer.value });
}

/** The tracked execution `execution` names (`{project, domain, name}`, `ex:p:d:n`, a console URL or a name) and
 * its waiting gate `signalId`; undefined when not tracked (the value is then asked for as JSON). */
async function findGate(deps: FlowDeps, execution: unknown, signalId: string): Promise<{ info: ExecutionInfo; gate?: Gate } | undefined> {
  const wanted = executionParts(execution);
  if (!wanted) return undefined;
  let executions: ExecutionInfo[];
  try {
    executions = await deps.executions();
  } catch {
    return undefined; // the prompt works without the type (JSON); the send reports a server that is down
  }
  const info = executions.find(
    (e) =>
      e.execution.name === wanted.name &&
      (wanted.project === undefined || e.execution.project === wanted.project) &&
      (wanted.domain === undefined || e.execution.domain === wanted.domain),
  );
  return info ? { info, gate: info.gates.find((g) => g.signalId === signalId) } : undefined;
}

function executionParts(execution: unknown): { project?: string; domain?: string; name: string } | undefined {
  if (typeof execution === "object" && execution !== null) {
    const e = execution as Record<string, unknown>;
    if (typeof e.name !== "string") return undefined;
    return { project: str(e.project), domain: str(e.domain), name: e.name };
  }
  if (typeof execution !== "string" || !execution) return undefined;
  const ex = /^ex:([^:]+):([^:]+):([^:]+)$/.exec(execution);
  if (ex) return { project: ex[1], domain: ex[2], name: ex[3] };
  const url = /\/projects\/([^/]+)\/domains\/([^/]+)\/executions\/([^/?#]+)/.exec(execution);
  if (url) return { project: url[1], domain: url[2], name: url[3] };
  return { name: execution };
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value ? value : undefined;
}
