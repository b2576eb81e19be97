import * as assert from "node:assert/strict";
import { ResponseError } from "vscode-jsonrpc";
import { HISTORY_KEY } from "../../src/inputs";
import type { ExecutionInfo, MissingInput } from "../../src/protocol";
import { errorMessage, executeWithPrompts, lastRun, type FlowDeps } from "../../src/runFlow";
import { resetMock } from "../mock";
import { MemoryMemento, ScriptedUi, type Step } from "./fakeInputUi";

const URI = "file:///w/wf.py";
const KEY = `${URI}#train`;
const INVALID_PARAMS = -32602;

/** The error the server answers `flyte.execute` with when required inputs have no value (commands.py). */
function missingError(missing: MissingInput[]): ResponseError<{ missingInputs: MissingInput[] }> {
  const list = missing.map((m) => `${m.name} (${m.type})`).join(", ");
  return new ResponseError(INVALID_PARAMS, `flyte.execute: missing required inputs: ${list}; pass them in \`inputs\` or \`inputsFile\`.`, {
    missingInputs: missing,
  });
}

/** A fake server for `flyte.execute`: required inputs `n: int` and `xs: List[int]` (an inputs file gives `xs`). */
class FakeServer {
  readonly sent: { command: string; arg: Record<string, unknown> }[] = [];
  executions: ExecutionInfo[] = [];
  failWith?: unknown;
  required: MissingInput[] = [
    { name: "n", type: "int", typeInfo: { kind: "int" } },
    { name: "xs", type: "List[int]", typeInfo: { kind: "list", item: { kind: "int" } } },
  ];
  async send(command: string, arg: Record<string, unknown>): Promise<unknown> {
    this.sent.push({ command, arg: JSON.parse(JSON.stringify(arg)) });
    if (this.failWith) throw this.failWith;
    if (command === "flyte.execute" || command === "flyte.backfill") {
      const given = { ...(arg.inputsFile ? { xs: [9] } : {}), ...((arg.inputs as object) ?? {}) };
      const missing = this.required.filter((m) => !(m.name in given));
      if (missing.length > 0) throw missingError(missing);
      return { execution: { project: "p", domain: "d", name: `e${this.sent.length}` }, consoleUrl: null, version: "v1" };
    }
    return { ok: command };
  }
}

function execution(gates: ExecutionInfo["gates"], name = "abc"): ExecutionInfo {
  return {
    execution: { project: "p", domain: "d", name },
    phase: "RUNNING",
    uri: URI,
    entity: "train",
    consoleUrl: null,
    startedAt: null,
    duration: null,
    nodesDone: null,
    nodesTotal: null,
    outputs: null,
    gates,
  };
}

describe("executeWithPrompts", () => {
  let server: FakeServer;
  let memory: MemoryMemento;
  const deps = (script: Step[]): FlowDeps & { ui: ScriptedUi } => ({
    ui: new ScriptedUi(script),
    memory,
    send: (c, a) => server.send(c, a),
    executions: async () => server.executions,
    workspaceFolder: (uri) => (uri.startsWith("file:///w/") ? "/w" : undefined),
  });
  beforeEach(() => {
    resetMock();
    server = new FakeServer();
    memory = new MemoryMemento();
  });

  it("sends flyte.execute as is when nothing is missing, and remembers it as the last run", async () => {
    const d = deps([]);
    const arg = { uri: URI, entity: "train", inputs: { n: 1, xs: [] } };
    const result = await executeWithPrompts(d, "flyte.execute", arg);
    assert.deepEqual((result as { execution: { name: string } }).execution.name, "e1");
    assert.equal(server.sent.length, 1);
    assert.deepEqual(lastRun(memory), arg);
    assert.deepEqual(memory.get(HISTORY_KEY), { [KEY]: { n: [1], xs: [[]] } });
  });

  it("asks for the missing inputs, merges them with those given, sends again", async () => {
    server.required.push({ name: "k", type: "str", typeInfo: { kind: "str" } });
    const d = deps([{ pick: "Enter the values" }, { input: ["5"] }, { input: ["[1, 2]"] }]);
    const result = await executeWithPrompts(d, "flyte.execute", { uri: URI, entity: "train", inputs: { k: "given" } });
    assert.ok(result);
    assert.equal(server.sent.length, 2);
    assert.deepEqual(server.sent[1].arg, { uri: URI, entity: "train", inputs: { k: "given", n: 5, xs: [1, 2] } });
    assert.deepEqual(lastRun(memory), server.sent[1].arg);
    assert.equal(d.ui.remaining, 0);
    assert.equal(d.ui.calls[1].options.title, "n: int (1/2)");
  });

  it("prefills the values given last time for the same entity", async () => {
    await executeWithPrompts(deps([{ pick: "Enter the values" }, { input: ["5"] }, { input: ["[1]"] }]), "flyte.execute", { uri: URI, entity: "train" });
    const d = deps([{ pick: "Enter the values" }, { input: ["6"] }, { input: ["[2]"] }]);
    await executeWithPrompts(d, "flyte.execute", { uri: URI, entity: "train" });
    assert.equal(d.ui.calls[1].options.value, "5");
    assert.equal(d.ui.calls[2].options.value, "[1]");
  });

  it("an inputs file (relative to the workspace folder), then the inputs it lacks", async () => {
    server.required.push({ name: "k", type: "str", typeInfo: { kind: "str" } });
    const d = deps([{ pick: "Use an inputs file" }, { open: "/w/in.yaml" }, { pick: "Enter the values" }, { input: ["1"] }, { input: ["x"] }]);
    await executeWithPrompts(d, "flyte.execute", { uri: URI, entity: "train" });
    assert.deepEqual(
      server.sent.map((s) => s.arg),
      [
        { uri: URI, entity: "train" },
        { uri: URI, entity: "train", inputsFile: "in.yaml" },
        { uri: URI, entity: "train", inputsFile: "in.yaml", inputs: { n: 1, k: "x" } },
      ],
    );
  });

  it("a cancelled prompt cancels the run: undefined, nothing sent again, the last run unchanged", async () => {
    await memory.update("flyte-ls.lastRun", { uri: URI, entity: "before" });
    const d = deps([{ pick: "Enter the values" }, { input: undefined }]);
    assert.equal(await executeWithPrompts(d, "flyte.execute", { uri: URI, entity: "train" }), undefined);
    assert.equal(server.sent.length, 1);
    assert.deepEqual(lastRun(memory), { uri: URI, entity: "before" });
  });

  it("an input the server still calls missing after it was given ends the loop with the server's error", async () => {
    server.send = async function (this: FakeServer, command, arg) {
      this.sent.push({ command, arg });
      throw missingError([{ name: "n", type: "int", typeInfo: { kind: "int" } }]);
    };
    const d = deps([{ input: ["1"] }]);
    await assert.rejects(executeWithPrompts(d, "flyte.execute", { uri: URI, entity: "train" }), /missing required inputs: n \(int\)/);
    assert.equal(server.sent.length, 2);
  });

  it("another error is the server's, as is; the run is still remembered (Re-run last retries it)", async () => {
    server.failWith = new ResponseError(-32803, "the backend localhost:30080 does not answer; start it (Flyte: Start Local Backend)");
    const arg = { uri: URI, entity: "train", inputs: { n: 1, xs: [] } };
    await assert.rejects(executeWithPrompts(deps([]), "flyte.execute", arg), (err: Error) => {
      assert.equal(errorMessage(err), "the backend localhost:30080 does not answer; start it (Flyte: Start Local Backend)");
      return true;
    });
    assert.deepEqual(lastRun(memory), arg);
    assert.equal(memory.get(HISTORY_KEY), undefined, "inputs are remembered when the run started");
  });

  it("flyte.backfill prompts the same way but is not the last run", async () => {
    const d = deps([{ pick: "Enter the values" }, { input: ["1"] }, { input: ["[]"] }]);
    await executeWithPrompts(d, "flyte.backfill", { uri: URI, entity: "train", from: "2024-01-01", to: "2024-01-02" });
    assert.equal(server.sent.length, 2);
    assert.equal(server.sent[1].command, "flyte.backfill");
    assert.equal(lastRun(memory), undefined);
  });

  it("other commands go through untouched", async () => {
    const d = deps([]);
    assert.deepEqual(await executeWithPrompts(d, "flyte.approve", { execution: "ex:p:d:abc", signalId: "ok" }), { ok: "flyte.approve" });
    assert.deepEqual(server.sent, [{ command: "flyte.approve", arg: { execution: "ex:p:d:abc", signalId: "ok" } }]);
  });

  describe("flyte.setInput without a value", () => {
    const gate = { signalId: "threshold", nodeId: "n1", kind: "input", type: "float", typeInfo: { kind: "float" as const } };

    it("asks for the gate's value by its type and adds it", async () => {
      server.executions = [execution([], "other"), execution([gate])];
      const d = deps([{ input: ["x", "0.5"] }]);
      const arg = { execution: { project: "p", domain: "d", name: "abc" }, signalId: "threshold" };
      assert.deepEqual(await executeWithPrompts(d, "flyte.setInput", arg), { ok: "flyte.setInput" });
      assert.deepEqual(server.sent, [{ command: "flyte.setInput", arg: { ...arg, value: 0.5 } }]);
      assert.equal(d.ui.calls[0].options.title, "threshold: float");
      assert.equal(d.ui.calls[0].rejected?.[0].message, 'Expected a number such as 3.14, -2 or 1e-3, got "x"');
      assert.deepEqual(memory.get(HISTORY_KEY), { [KEY]: { threshold: [0.5] } }, "remembered for the entity");
    });

    it("finds the execution by ex: id, console URL or name", async () => {
      server.executions = [execution([gate])];
      for (const ref of ["ex:p:d:abc", "http://localhost:30080/console/projects/p/domains/d/executions/abc", "abc"]) {
        const d = deps([{ input: ["1"] }]);
        await executeWithPrompts(d, "flyte.setInput", { execution: ref, signalId: "threshold" });
        assert.equal(d.ui.calls[0].options.title, "threshold: float", ref);
      }
    });

    it("a bool gate is a QuickPick; a gate without typeInfo uses its type text", async () => {
      server.executions = [execution([{ signalId: "go", nodeId: "n", kind: "input", type: "bool", typeInfo: { kind: "bool" } }, { signalId: "when", nodeId: "m", kind: "input", type: "datetime" }])];
      const d = deps([{ pick: "true" }, { input: ["2024-01-31"] }]);
      await executeWithPrompts(d, "flyte.setInput", { execution: "abc", signalId: "go" });
      await executeWithPrompts(d, "flyte.setInput", { execution: "abc", signalId: "when" });
      assert.deepEqual(server.sent.map((s) => s.arg.value), [true, "2024-01-31T00:00:00"]);
    });

    it("an execution not tracked (or the server not answering): the value is asked as JSON", async () => {
      const d = deps([{ input: ['{"a": 1}'] }, { input: ["plain"] }]);
      await executeWithPrompts(d, "flyte.setInput", { execution: "ex:p:d:gone", signalId: "s" });
      d.executions = async () => {
        throw new Error("the server is not running");
      };
      await executeWithPrompts(d, "flyte.setInput", { execution: "ex:p:d:gone", signalId: "s" });
      assert.deepEqual(server.sent.map((s) => s.arg.value), [{ a: 1 }, "plain"]);
      assert.equal(d.ui.calls[0].options.title, "s: unknown");
    });

    it("Escape: nothing is sent", async () => {
      server.executions = [execution([gate])];
      assert.equal(await executeWithPrompts(deps([{ input: undefined }]), "flyte.setInput", { execution: "abc", signalId: "threshold" }), undefined);
      assert.equal(server.sent.length, 0);
    });

    it("with a value: sent as is", async () => {
      await executeWithPrompts(deps([]), "flyte.setInput", { execution: "abc", signalId: "threshold", value: 2 });
      assert.deepEqual(server.sent[0].arg.value, 2);
    });
  });
});

describe("errorMessage", () => {
  it("says what the error says", () => {
    assert.equal(errorMessage(new ResponseError(INVALID_PARAMS, "flyte.execute: `entity` is missing")), "flyte.execute: `entity` is missing");
    assert.equal(errorMessage(new Error("boom")), "boom");
    assert.equal(errorMessage("plain"), "plain");
    assert.equal(errorMessage({ code: 1 }), '{"code":1}');
    assert.equal(errorMessage(null), "null");
    assert.equal(errorMessage(undefined), "undefined");
  });
});
