// Typed inputs against the real server: what parseValue makes of typed text is what flyte-ls's literal
// conversion accepts and means (checked type by type in the server's own Python), and runFlow's prompts carry an
// entity with missing inputs, and a typed gate, from `missingInputs` to a SUCCEEDED execution on the embedded
// local backend.
import * as assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type * as vscode from "vscode";
import { ResponseError } from "vscode-languageserver-protocol/node";
import { parseValue, typeInfoFromString, type InputUi } from "../../src/inputs";
import { DONE_PHASES, missingInputsOf, type ExecuteResult, type ExecutionInfo, type TypeInfo } from "../../src/protocol";
import { executeWithPrompts, type FlowDeps } from "../../src/runFlow";
import { MemoryMemento } from "../unit/fakeInputUi";
import { resetMock } from "../mock";
import {
  cleanUp,
  copyExamples,
  fileUri,
  python,
  run,
  startLocalBackend,
  startServer,
  tempDir,
  type LocalBackend,
  type ServerSession,
} from "./harness";

const RUN_MS = 150_000;

// The server's side of a value: the LiteralType flytekit declares for a Python type, type_string/type_info of it,
// and to_literal → to_python of a JSON value (what a typed input becomes in the task).
const CONVERT = `
import dataclasses, datetime, enum, json, sys, typing
from flytekit.core.type_engine import TypeEngine
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile
from flyte_ls.remote.literals import to_literal, to_python
from flyte_ls.remote.literals_python import jsonable
from flyte_ls.remote.literals_types import type_info, type_string

class Color(enum.Enum):
    RED = "red"
    GREEN = "green"

@dataclasses.dataclass
class Point:
    x: int
    y: float = 0.0

HINTS = {
    "int": int, "float": float, "bool": bool, "str": str, "datetime": datetime.datetime,
    "timedelta": datetime.timedelta, "List[int]": typing.List[int], "List[datetime]": typing.List[datetime.datetime],
    "List[timedelta]": typing.List[datetime.timedelta], "Dict[str, float]": typing.Dict[str, float],
    "Dict[str, List[int]]": typing.Dict[str, typing.List[int]], "Optional[int]": typing.Optional[int],
    "Optional[str]": typing.Optional[str], "Union[int, str]": typing.Union[int, str], "Color": Color,
    "FlyteFile": FlyteFile, "FlyteDirectory": FlyteDirectory, "Point": Point, "List[Point]": typing.List[Point],
    "Optional[datetime]": typing.Optional[datetime.datetime],
}
lt = lambda name: TypeEngine.to_literal_type(HINTS[name]).to_flyte_idl()
if sys.argv[1] == "types":
    print(json.dumps({n: {"type": type_string(lt(n)), "typeInfo": type_info(lt(n))} for n in HINTS}))
else:
    out = []
    for case in json.load(open(sys.argv[2])):
        try:
            out.append({"ok": jsonable(to_python(to_literal(case["value"], lt(case["hint"]), name="x"), lt(case["hint"])))})
        except Exception as exc:
            out.append({"error": f"{type(exc).__name__}: {exc}"})
    print(json.dumps(out))
`;

/** hint → typed text → the Python value (as JSON) the task receives. */
const CASES: [string, string, unknown][] = [
  ["int", "42", 42],
  ["int", "-7", -7],
  ["float", "2", 2.0],
  ["float", "1e-3", 0.001],
  ["bool", "yes", true],
  ["str", " spaced ", " spaced "],
  ["datetime", "2024-01-31 12:30+01:00", "2024-01-31T11:30:00+00:00"],
  ["datetime", "2024-01-31", "2024-01-31T00:00:00+00:00"],
  ["datetime", "2024-01-31T12:00:00.5Z", "2024-01-31T12:00:00.500000+00:00"],
  ["datetime", "2024-01-31T12:00:00.1234567-0800", "2024-01-31T20:00:00.123456+00:00"],
  ["timedelta", "1h30m", 5400],
  ["timedelta", "PT0.5S", 0.5],
  ["timedelta", "-5m", -300],
  ["timedelta", "1:30:00", 5400],
  ["List[int]", "[1, 2]", [1, 2]],
  ["List[datetime]", '["2024-01-31", "2024-02-01T06:00Z"]', ["2024-01-31T00:00:00+00:00", "2024-02-01T06:00:00+00:00"]],
  ["List[timedelta]", '["5m", 30]', [300, 30]],
  ["Dict[str, float]", '{"a": 1, "b": 2.5}', { a: 1.0, b: 2.5 }],
  ["Dict[str, List[int]]", '{"a": [1]}', { a: [1] }],
  ["Optional[int]", "", null],
  ["Optional[int]", "7", 7],
  ["Optional[str]", "", null],
  ["Optional[datetime]", "2024-01-31", "2024-01-31T00:00:00+00:00"],
  ["Union[int, str]", "5", 5],
  ["Union[int, str]", "five", "five"],
  ["Color", "green", "green"],
  ["FlyteFile", "s3://bucket/x.csv", "s3://bucket/x.csv"],
  ["FlyteDirectory", "s3://bucket/dir", "s3://bucket/dir"],
  ["Point", '{"x": 1, "y": 2}', { x: 1, y: 2.0 }],
  ["Point", '{"x": 1}', { x: 1 }],
  ["List[Point]", '[{"x": 1, "y": 0.5}]', [{ x: 1, y: 0.5 }]],
];

// Entities with typed inputs and a typed gate (a workspace file next to the examples).
const TYPED = `"""Contract-test fixture: typed inputs and a typed gate."""

from datetime import datetime, timedelta
from typing import List

from flytekit import task, wait_for_input, workflow


@task
def summary(start: datetime, every: timedelta, tags: List[str], pause: timedelta) -> str:
    return f"{start.isoformat()} {every.total_seconds()} {','.join(tags)} {pause.total_seconds()}"


@workflow
def typed(start: datetime, every: timedelta, tags: List[str]) -> str:
    pause = wait_for_input("pause", timeout=timedelta(minutes=10), expected_type=timedelta)
    return summary(start=start, every=every, tags=tags, pause=pause)
`;

/**
 * A UI that answers like a user who knows the inputs: "Enter the values" when asked how, then for each InputBox
 * the texts typed for that input (the name before ":" in its title), each checked with the box's validateInput;
 * rejected texts are recorded with their message.
 */
class TypingUser implements InputUi {
  readonly asked: string[] = [];
  readonly rejected: { name: string; text: string; message: string }[] = [];
  constructor(private readonly texts: Record<string, string[]>) {}
  async showInputBox(options: vscode.InputBoxOptions): Promise<string | undefined> {
    const name = String(options.title).split(":")[0];
    this.asked.push(String(options.title));
    for (const text of this.texts[name] ?? []) {
      const message = await options.validateInput?.(text);
      if (!message) return text;
      this.rejected.push({ name, text, message: typeof message === "string" ? message : message.message });
    }
    return undefined;
  }
  async showQuickPick<T extends vscode.QuickPickItem>(items: readonly T[]): Promise<T | undefined> {
    return items.find((i) => i.label.includes("Enter the values"));
  }
  async showOpenDialog(): Promise<vscode.Uri[] | undefined> {
    throw new Error("no open dialog expected");
  }
}

describe("typed inputs on the real server (contract)", function () {
  this.timeout(240_000);
  let backend: LocalBackend;
  let server: ServerSession;
  let workspace: string;

  before(async () => {
    resetMock();
    [backend, workspace] = await Promise.all([startLocalBackend(), Promise.resolve(copyExamples())]);
    writeFileSync(join(workspace, "workflows", "typed_inputs.py"), TYPED);
    server = await startServer({ endpoint: backend.endpoint, insecure: true }, workspace);
  });

  after(async () => {
    await server?.stop();
    await backend?.stop();
    cleanUp();
  });

  function deps(ui: InputUi): FlowDeps {
    return {
      ui,
      memory: new MemoryMemento(),
      send: (command, arg) => server.executeCommand(command, arg),
      executions: () => server.request<ExecutionInfo[]>("flyte/executions", {}),
      workspaceFolder: () => workspace,
    };
  }

  function finished(name: string): Promise<ExecutionInfo> {
    return server.waitForNotification<ExecutionInfo>(
      "flyte/executionChanged",
      (p) => p.execution.name === name && DONE_PHASES.has(p.phase),
      RUN_MS,
    );
  }

  it("parseValue's values are what the server's conversion accepts, and mean what was typed", async () => {
    const py = python();
    const script = join(tempDir("convert"), "convert.py");
    writeFileSync(script, CONVERT);
    const types = await run(py, [script, "types"], { timeoutMs: 60_000 });
    assert.equal(types.code, 0, types.stderr);
    const declared = JSON.parse(types.stdout) as Record<string, { type: string; typeInfo: TypeInfo }>;
    for (const [hint, { type, typeInfo }] of Object.entries(declared)) {
      // without the server's typeInfo, its type text gives the same (a struct's schema aside)
      const { jsonSchema: _schema, ...shape } = typeInfo;
      const fromText = typeInfoFromString(type);
      assert.deepEqual(fromText.kind === "list" && fromText.item?.kind === "struct" ? { ...fromText, item: typeInfo.item } : fromText, shape, `${hint}: ${type}`);
    }
    const values = CASES.map(([hint, text]) => {
      const parsed = parseValue(text, declared[hint].typeInfo);
      assert.ok("value" in parsed, `${hint} ${JSON.stringify(text)}: ${"error" in parsed ? parsed.error : ""}`);
      return { hint, value: parsed.value };
    });
    const input = join(tempDir("convert"), "cases.json");
    writeFileSync(input, JSON.stringify(values));
    const converted = await run(py, [script, "convert", input], { timeoutMs: 60_000 });
    assert.equal(converted.code, 0, converted.stderr);
    const results = JSON.parse(converted.stdout) as ({ ok: unknown } | { error: string })[];
    CASES.forEach(([hint, text, expected], i) => {
      assert.deepEqual(results[i], { ok: expected }, `${hint} ${JSON.stringify(text)} → ${JSON.stringify(values[i].value)}`);
    });
  });

  it("flyte.execute answers missingInputs with typeInfo; the prompted values run the task to its outputs", async () => {
    const uri = fileUri(join(workspace, "workflows", "failing.py"));
    const arg = { uri, entity: "count_checked" };
    const err = await server.executeCommand("flyte.execute", arg).then(
      () => assert.fail("flyte.execute without inputs should ask for them"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ResponseError, String(err));
    assert.equal(err.code, -32602);
    const missing = missingInputsOf(err);
    assert.deepEqual(
      missing?.map((m) => [m.name, m.type, m.typeInfo]).sort(),
      [
        ["minimum", "int", { kind: "int" }],
        ["values", "List[float]", { kind: "list", item: { kind: "float" } }],
      ],
    );
    const user = new TypingUser({ values: ["1.5, 2, 3", '[1.5, "2", 3]', "[1.5, 2, 3]"], minimum: ["two", "2"] });
    const started = (await executeWithPrompts(deps(user), "flyte.execute", arg)) as ExecuteResult;
    assert.deepEqual(user.asked.map((t) => t.replace(/ \(\d\/2\)$/, "")).sort(), ["minimum: int", "values: List[float]"]);
    assert.deepEqual(
      user.rejected.map((r) => `${r.name} ${r.text}`).sort(),
      ["minimum two", "values 1.5, 2, 3", 'values [1.5, "2", 3]'],
    );
    assert.equal(user.rejected.find((r) => r.text === '[1.5, "2", 3]')?.message, '[1]: expected float, got "2"');
    const done = await finished(started.execution.name);
    assert.equal(done.phase, "SUCCEEDED", JSON.stringify(done.error));
    assert.match(String(done.outputs), /\bo0=3\b/, "len([1.5, 2, 3]) = 3");
  });

  it("a datetime, a duration and a list go in typed; a duration gate is answered through flyte.setInput's prompt", async () => {
    const uri = fileUri(join(workspace, "workflows", "typed_inputs.py"));
    const user = new TypingUser({ start: ["2024-01-31 12:30+01:00"], every: ["1h30m"], tags: ['["a", "b"]'], pause: ["soon", "90s"] });
    const flow = deps(user);
    const started = (await executeWithPrompts(flow, "flyte.execute", { uri, entity: "typed" })) as ExecuteResult;
    const execution = started.execution;
    const waiting = await server.waitForNotification<ExecutionInfo>(
      "flyte/executionChanged",
      (p) => p.execution.name === execution.name && (p.gates.some((g) => g.signalId === "pause") || DONE_PHASES.has(p.phase)),
      RUN_MS,
    );
    const gate = waiting.gates.find((g) => g.signalId === "pause");
    assert.deepEqual(gate && { kind: gate.kind, type: gate.type, typeInfo: gate.typeInfo }, { kind: "input", type: "timedelta", typeInfo: { kind: "duration" } });
    await executeWithPrompts(flow, "flyte.setInput", { execution, signalId: "pause" });
    assert.deepEqual(user.rejected.map((r) => [r.name, r.text]), [["pause", "soon"]]);
    assert.ok(user.asked.includes("pause: timedelta"), JSON.stringify(user.asked));
    const done = await finished(execution.name);
    assert.equal(done.phase, "SUCCEEDED", JSON.stringify(done.error));
    assert.match(String(done.outputs), /2024-01-31T11:30:00\+00:00 5400\.0 a,b 90\.0/);
  });
});
