// What the extension's features need of the running language server. src/client.ts implements it around
// vscode-languageclient's LanguageClient; it stays the same object across server restarts, so features hold on
// to it. Plain types (no `vscode` import): unit tests pass a fake.
import type { ExecutionsNode } from "./protocol";

export interface DisposableLike {
  dispose(): unknown;
}

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface ServerHost {
  /** The "Flyte" log output channel (server stderr, the LSP trace and the extension's own log lines). */
  readonly log: Logger;
  showLogs(): void;
  isRunning(): boolean;
  /** Called with true when the server (re)started and answers, false when it stopped. */
  onDidChangeState(listener: (running: boolean) => void): DisposableLike;
  /** A request to the server; rejects with an Error saying what to do when the server is not running. */
  sendRequest<R>(method: string, params: unknown): Promise<R>;
  /**
   * `workspace/executeCommand` with one JSON object argument, through the prompts of src/runFlow.ts (missing
   * inputs, a signal value): undefined when the user cancelled a prompt; rejects with the server's error
   * (a ResponseError whose message says what to do).
   */
  executeCommand<R>(command: string, arg: Record<string, unknown>): Promise<R | undefined>;
  /** `workspace/executeCommand` without prompts. */
  sendCommand<R>(command: string, arg: Record<string, unknown>): Promise<R>;
  /** A server notification handler that survives restarts. */
  onNotification(method: string, handler: (params: unknown) => void): DisposableLike;
  /** Stop and start the server again (e.g. after the interpreter changed). */
  restart(reason?: string): Promise<void>;
}

export type { ExecutionsNode };
