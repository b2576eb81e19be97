import * as assert from "node:assert/strict";
import { homedir } from "node:os";
import type { TypeInfo } from "../../src/protocol";
import {
  formatValue,
  HISTORY_KEY,
  INPUTS_FILE_KEY,
  parseValue,
  promptForInputs,
  promptForValue,
  relativeToFolder,
  typeInfoFromString,
  typeName,
} from "../../src/inputs";
import { formatDuration, parseDuration } from "../../src/inputValues";
import { resetMock } from "../mock";
import { MemoryMemento, ScriptedUi } from "./fakeInputUi";

const T = (kind: TypeInfo["kind"], more: Partial<TypeInfo> = {}): TypeInfo => ({ kind, ...more });
const optional = (t: TypeInfo): TypeInfo => T("union", { variants: [t, T("none")] });
const value = (text: string, info: TypeInfo) => {
  const r = parseValue(text, info);
  assert.ok("value" in r, `${JSON.stringify(text)} as ${typeName(info)}: ${"error" in r ? r.error : ""}`);
  return r.value;
};
const error = (text: string, info: TypeInfo) => {
  const r = parseValue(text, info);
  assert.ok("error" in r, `${JSON.stringify(text)} as ${typeName(info)} should fail, got ${JSON.stringify(r)}`);
  return r.error;
};

// A dataclass's type as flytekit declares it (type_info of a real flytekit LiteralType, see literals_types.py).
const OUTER: TypeInfo = {
  kind: "struct",
  title: "Outer",
  jsonSchema: {
    required: ["x", "y", "inner", "xs", "m"],
    additionalProperties: false,
    type: "object",
    title: "Outer",
    properties: {
      x: { type: "integer" },
      y: { type: "number" },
      name: { type: "string", default: "n" },
      inner: { required: ["a"], additionalProperties: false, type: "object", title: "Inner", properties: { a: { type: "integer" } } },
      xs: { type: "array", items: { type: "integer" } },
      m: { type: "object", additionalProperties: { type: "number" }, propertyNames: { type: "string" } },
      opt: { default: null, anyOf: [{ type: "integer" }, { type: "null" }] },
      c: { default: "a", enum: ["a", "b"] },
    },
  },
};
const OK_OUTER = { x: 1, y: 2.5, inner: { a: 3 }, xs: [1, 2], m: { k: 1 } };

describe("parseValue: what the user types → the JSON the server converts", () => {
  it("int: an integer (sign, underscores) within what JSON carries exactly and 64 bits", () => {
    assert.equal(value("42", T("int")), 42);
    assert.equal(value(" -7 ", T("int")), -7);
    assert.equal(value("+3", T("int")), 3);
    assert.equal(value("1_000", T("int")), 1000);
    assert.equal(error("3.5", T("int")), 'Expected an integer such as 42 or -7, got "3.5"');
    assert.equal(error("", T("int")), 'Expected an integer such as 42 or -7, got ""');
    assert.equal(error("abc", T("int")), 'Expected an integer such as 42 or -7, got "abc"');
    assert.equal(error("9223372036854775808", T("int")), "9223372036854775808 does not fit in 64 bits");
    assert.match(error("9007199254740993", T("int")), /beyond ±9007199254740991.*inputs file/);
    assert.equal(value("9007199254740991", T("int")), 9007199254740991);
  });

  it("float: a finite number", () => {
    assert.equal(value("3.14", T("float")), 3.14);
    assert.equal(value("-2", T("float")), -2);
    assert.equal(value("1e-3", T("float")), 0.001);
    assert.equal(value(".5", T("float")), 0.5);
    assert.equal(value("1_000.5", T("float")), 1000.5);
    assert.equal(error("abc", T("float")), 'Expected a number such as 3.14, -2 or 1e-3, got "abc"');
    assert.equal(error("nan", T("float")), 'Expected a number such as 3.14, -2 or 1e-3, got "nan"');
    assert.equal(error("1e999", T("float")), "1e999 is too large for a float");
  });

  it("bool: true/false (yes/no, 1/0)", () => {
    for (const t of ["true", "True", "yes", "1"]) assert.equal(value(t, T("bool")), true);
    for (const t of ["false", "NO", "0"]) assert.equal(value(t, T("bool")), false);
    assert.equal(error("maybe", T("bool")), 'Expected true or false, got "maybe"');
  });

  it("str: the text as typed, also empty", () => {
    assert.equal(value("  hi ", T("str")), "  hi ");
    assert.equal(value("", T("str")), "");
  });

  it("datetime: ISO 8601 normalised to what Python's fromisoformat reads; a date is midnight; now", () => {
    assert.equal(value("2024-01-31T12:00:00Z", T("datetime")), "2024-01-31T12:00:00+00:00");
    assert.equal(value("2024-01-31", T("datetime")), "2024-01-31T00:00:00");
    assert.equal(value("2024-01-31 12:30", T("datetime")), "2024-01-31T12:30:00");
    assert.equal(value("2024-01-31t12:00:00.5+05:30", T("datetime")), "2024-01-31T12:00:00.500000+05:30");
    assert.equal(value("2024-01-31T12:00:00.1234567-0800", T("datetime")), "2024-01-31T12:00:00.123456-08:00");
    assert.equal(value("2024-02-29T23:59:59+01", T("datetime")), "2024-02-29T23:59:59+01:00");
    const clock = () => new Date(Date.UTC(2025, 4, 6, 7, 8, 9, 10));
    assert.deepEqual(parseValue("now", T("datetime"), clock), { value: "2025-05-06T07:08:09.010000+00:00" });
    assert.equal(error("2023-02-29", T("datetime")), "2023-02-29 is not a date");
    assert.equal(error("2024-13-01", T("datetime")), "2024-13-01 is not a date");
    assert.equal(error("2024-01-31T25:00", T("datetime")), "25:00:00 is not a time of day");
    assert.equal(error("2024-01-31T12:00+24:00", T("datetime")), "+24:00 is not a UTC offset");
    assert.equal(
      error("yesterday", T("datetime")),
      '"yesterday" is not a date-time: use ISO 8601 such as 2024-01-31T12:00:00Z, 2024-01-31 12:00 or 2024-01-31',
    );
    assert.equal(error("", T("datetime")), "Enter a date-time such as 2024-01-31T12:00:00Z or 2024-01-31, or now");
  });

  it("duration: seconds, unit text, ISO 8601 and H:MM:SS → a number of seconds", () => {
    const cases: [string, number][] = [
      ["90", 90], ["1.5", 1.5], ["90s", 90], ["5m", 300], ["1h30m", 5400], ["1h 30m", 5400], ["2 days", 172800],
      ["1w", 604800], ["500ms", 0.5], ["1.5h", 5400], ["PT1H", 3600], ["pt1h30m", 5400], ["P1DT2H", 93600],
      ["PT0.5S", 0.5], ["P2W", 1209600], ["1:30:00", 5400], ["-5m", -300], ["0", 0], ["0.1s", 0.1],
    ];
    for (const [text, seconds] of cases) assert.equal(value(text, T("duration")), seconds, text);
    const hint = "use 90s, 5m, 1h30m, PT1H, 1:30:00 or a number of seconds";
    assert.equal(error("P1M", T("duration")), '"P1M": years and months have no fixed length; use days (P30D)');
    assert.equal(error("5x", T("duration")), `"5x": unknown unit "x"; ${hint}`);
    assert.equal(error("1h30", T("duration")), `"1h30" is not a duration: ${hint}`);
    assert.equal(error("PT", T("duration")), `"PT" is not a duration: ${hint}`);
    assert.equal(error("1:75:00", T("duration")), `"1:75:00" is not a duration: ${hint}`);
    assert.equal(error("", T("duration")), "Enter a duration: 90s, 5m, 1h30m, PT1H or a number of seconds");
  });

  it("duration text round-trips through formatDuration", () => {
    for (const s of [0, 0.5, 59, 90, 3600, 5400, 93600, 86400 * 3 + 61.25, -300]) {
      assert.equal(parseDuration(formatDuration(s)), s, formatDuration(s));
    }
    assert.equal(formatDuration(5400), "1h30m");
    assert.equal(formatDuration(90), "1m30s");
  });

  it("enum: one of the choices", () => {
    const info = T("enum", { choices: ["red", "green"] });
    assert.equal(value("green", info), "green");
    assert.equal(error("blue", info), 'Expected one of red, green; got "blue"');
  });

  it("list: JSON, each item checked by its type with its path", () => {
    const ints = T("list", { item: T("int") });
    assert.deepEqual(value("[1, 2, 3]", ints), [1, 2, 3]);
    assert.deepEqual(value("[]", ints), []);
    assert.equal(error('[1, "a"]', ints), '[1]: expected int, got "a"');
    assert.equal(error("[1, 2.5]", ints), "[1]: expected int, got 2.5");
    assert.match(error("1, 2", ints), /^Not valid JSON \(.+\); enter a JSON list such as \[1, 1\]$/);
    assert.equal(error("", ints), "Enter a JSON list such as [1, 1]");
    assert.equal(error('{"a": 1}', ints), 'Expected a list (List[int]), got {"a":1}');
    const nested = T("list", { item: T("list", { item: T("int") }) });
    assert.equal(error("[[1], [true]]", nested), "[1][0]: expected int, got true");
    // the server's leniency is applied (and normalised) inside lists too
    assert.deepEqual(value('["2024-01-31", "2024-01-31T12:00Z"]', T("list", { item: T("datetime") })), [
      "2024-01-31T00:00:00",
      "2024-01-31T12:00:00+00:00",
    ]);
    assert.deepEqual(value('["5m", 30, "PT1H"]', T("list", { item: T("duration") })), [300, 30, 3600]);
    assert.match(error('["soon"]', T("list", { item: T("duration") })), /^\[0\]: "soon" is not a duration/);
    assert.match(error('["x"]', T("list", { item: T("datetime") })), /^\[0\]: "x" is not a date-time/);
    assert.equal(error('[true, "x"]', T("list", { item: T("bool") })), '[1]: expected bool, got "x"');
    assert.equal(error("[1]", T("list", { item: T("str") })), "[0]: expected str, got 1");
    assert.equal(error("[1]", T("list", { item: T("none") })), "[0]: expected None, got 1");
    assert.equal(error("[1.5]", T("list", { item: T("union", { variants: [T("int"), T("str")] }) })), "[0]: expected Union[int, str], got 1.5");
    assert.equal(error("[3]", T("list", { item: T("datetime") })), "[0]: expected a date-time string (use ISO 8601 such as 2024-01-31T12:00:00Z, 2024-01-31 12:00 or 2024-01-31), got 3");
    assert.equal(error("[true]", T("list", { item: T("duration") })), '[0]: expected a duration (seconds, or text such as "5m"), got true');
    assert.equal(error("[1e999]", T("list", { item: T("duration") })), "[0]: expected a finite number of seconds");
    assert.equal(error("[1]", T("list", { item: T("binary") })), "[0]: bytes cannot be given as JSON: use a YAML inputs file (`!!binary <base64>`)");
    assert.equal(error("[9007199254740993]", ints).startsWith("[0]: 9007199254740992 is beyond"), true);
  });

  it("dict: a JSON object, string keys, values checked by their type", () => {
    const floats = T("dict", { value: T("float") });
    assert.deepEqual(value('{"a": 1.5, "b": 2}', floats), { a: 1.5, b: 2 });
    assert.equal(error('{"a": "x"}', floats), '["a"]: expected float, got "x"');
    assert.equal(error("[1]", floats), "Expected an object (Dict[str, float]), got [1]");
    assert.equal(error("null", floats), "Expected an object (Dict[str, float]), got null");
    assert.equal(error('{"e": "red"}', T("dict", { value: T("enum", { choices: ["green"] }) })), '["e"]: expected one of green; got "red"');
  });

  it("struct: a JSON object checked against the dataclass's JSON schema", () => {
    assert.deepEqual(value(JSON.stringify(OK_OUTER), OUTER), OK_OUTER);
    const with_ = (patch: Record<string, unknown>) => JSON.stringify({ ...OK_OUTER, ...patch });
    const without = (field: string) => JSON.stringify(Object.fromEntries(Object.entries(OK_OUTER).filter(([k]) => k !== field)));
    assert.equal(error(without("y"), OUTER), 'Missing required field "y"');
    assert.equal(error("{}", OUTER), 'Missing required fields "x", "y", "inner", "xs", "m"');
    assert.equal(error(with_({ x: "1" }), OUTER), 'x: expected integer, got "1"');
    assert.equal(error(with_({ x: 1.5 }), OUTER), "x: expected integer, got 1.5");
    assert.equal(error(with_({ inner: { a: "z" } }), OUTER), 'inner.a: expected integer, got "z"');
    assert.equal(error(with_({ inner: {} }), OUTER), 'inner: missing required field "a"');
    assert.equal(error(with_({ nmae: "n" }), OUTER), 'Unknown field "nmae" (the fields are: x, y, name, inner, xs, m, opt, c)');
    assert.equal(error(with_({ xs: [1, "a"] }), OUTER), 'xs[1]: expected integer, got "a"');
    assert.equal(error(with_({ m: { k: true } }), OUTER), 'm["k"]: expected number, got true');
    assert.equal(error(with_({ opt: "a" }), OUTER), 'opt: expected integer or null, got "a"');
    assert.deepEqual(value(with_({ opt: null, c: "b", y: 2 }), OUTER), { ...OK_OUTER, opt: null, c: "b", y: 2 });
    assert.equal(error(with_({ c: "z" }), OUTER), 'c: expected one of "a", "b", got "z"');
    assert.equal(error("[1]", OUTER), "Expected an object (Outer), got [1]");
    assert.match(error("{x: 1}", OUTER), /^Not valid JSON .*; enter a JSON object such as \{"x": 0, "y": 0\.0, "inner": \{\}, "xs": \[\], …\}$/);
    // no schema (a plain dict, or an old registration): any object
    assert.deepEqual(value('{"any": [1, {"b": null}]}', T("struct")), { any: [1, { b: null }] });
    assert.equal(error('"x"', T("struct")), 'Expected an object (dict), got "x"');
  });

  it("struct: pydantic-style schemas with local $refs and nested lists", () => {
    const info = T("struct", {
      title: "Model",
      jsonSchema: {
        $defs: { Item: { type: "object", required: ["id"], properties: { id: { type: "integer" } } } },
        type: "object",
        required: ["items"],
        properties: { items: { type: "array", items: { $ref: "#/$defs/Item" } }, tag: { type: ["string", "null"] } },
      },
    });
    assert.deepEqual(value('{"items": [{"id": 1}], "tag": null}', info), { items: [{ id: 1 }], tag: null });
    assert.equal(error('{"items": [{"id": 1}, {}]}', info), 'items[1]: missing required field "id"');
    assert.equal(error('{"items": [], "tag": 3}', info), "tag: expected string or null, got 3");
    assert.deepEqual(value('{"items": [], "extra": 1}', info), { items: [], extra: 1 }); // additionalProperties not false
  });

  it("file / directory / structured dataset: a URI as is, a local path (~ expanded)", () => {
    assert.equal(value("s3://bucket/x.csv", T("file")), "s3://bucket/x.csv");
    assert.equal(value("  /data/x.csv ", T("file")), "/data/x.csv");
    assert.equal(value("~/x.csv", T("file")), `${homedir()}/x.csv`);
    assert.equal(value("gs://b/dir", T("directory")), "gs://b/dir");
    assert.equal(value("s3://b/t.parquet", T("structuredDataset")), "s3://b/t.parquet");
    assert.equal(error("", T("file")), "Enter a URI (s3://…, gs://…) or the local path of a file");
    assert.equal(error(" ", T("directory")), "Enter a URI (s3://…, gs://…) or the local path of a directory");
    assert.equal(error("", T("schema")), "Enter a URI (s3://…, gs://…) or the local path of a file or directory");
    assert.deepEqual(value('[{"uri": "s3://a"}, "s3://b"]', T("list", { item: T("file") })), [{ uri: "s3://a" }, "s3://b"]);
    assert.equal(error("[3]", T("list", { item: T("file") })), "[0]: expected a URI or local path for FlyteFile, got 3");
  });

  it("Optional: empty (or None/null) is null, else the type's own value and message", () => {
    const info = optional(T("int"));
    for (const t of ["", "  ", "None", "null"]) assert.equal(value(t, info), null);
    assert.equal(value("5", info), 5);
    assert.equal(error("x", info), 'Expected an integer such as 42 or -7, got "x"');
    assert.equal(value("", optional(T("str"))), null);
    assert.equal(value("a", optional(T("str"))), "a");
    assert.deepEqual(value("[1]", optional(T("list", { item: T("int") }))), [1]);
    assert.equal(error("null", T("list", { item: optional(T("int")) })), "Expected a list (List[Optional[int]]), got null");
    assert.deepEqual(value("[1, null]", T("list", { item: optional(T("int")) })), [1, null]);
  });

  it("union: the variants in order, the first that accepts the text", () => {
    const intOrStr = T("union", { variants: [T("int"), T("str")] });
    assert.equal(value("5", intOrStr), 5);
    assert.equal(value("five", intOrStr), "five");
    assert.equal(value("5", T("union", { variants: [T("str"), T("int")] })), "5");
    assert.equal(value("", intOrStr), "");
    const numbers = T("union", { variants: [T("int"), T("float")] });
    assert.equal(
      error("x", numbers),
      'No variant of Union[int, float] accepts it (int: Expected an integer such as 42 or -7, got "x"; float: Expected a number such as 3.14, -2 or 1e-3, got "x")',
    );
    assert.deepEqual(value('{"a": 1}', T("union", { variants: [T("int"), T("dict", { value: T("int") })] })), { a: 1 });
  });

  it("none, bytes and unknown", () => {
    assert.equal(value("", T("none")), null);
    assert.equal(error("x", T("none")), 'Expected None (leave it empty), got "x"');
    assert.equal(error("abc", T("binary")), "Bytes cannot be typed here: give them in a YAML inputs file (`name: !!binary <base64>`)");
    assert.deepEqual(value('{"a": [1]}', T("unknown")), { a: [1] });
    assert.equal(value("3", T("unknown")), 3);
    assert.equal(value("hello", T("unknown")), "hello");
    assert.equal(error("", T("unknown")), "Enter a JSON value");
  });
});

describe("formatValue: a remembered value → the text that parses back to it", () => {
  const cases: [unknown, TypeInfo][] = [
    [42, T("int")],
    [2.5, T("float")],
    [false, T("bool")],
    ["  spaced ", T("str")],
    ["2024-01-31T12:00:00+00:00", T("datetime")],
    [5400, T("duration")],
    [0.25, T("duration")],
    ["green", T("enum", { choices: ["red", "green"] })],
    [[1, 2], T("list", { item: T("int") })],
    [{ a: 1.5 }, T("dict", { value: T("float") })],
    [OK_OUTER, OUTER],
    ["s3://b/x", T("file")],
    [null, optional(T("int"))],
    [7, optional(T("int"))],
    ["7", T("union", { variants: [T("str"), T("int")] })],
    [7, T("union", { variants: [T("int"), T("str")] })],
    ["hello", T("unknown")],
    ['"quoted"', T("unknown")],
    [{ k: [1] }, T("unknown")],
  ];
  it("round-trips every kind", () => {
    for (const [v, info] of cases) {
      const text = formatValue(v, info);
      assert.deepEqual(parseValue(text, info), { value: v }, `${typeName(info)}: ${JSON.stringify(v)} → ${JSON.stringify(text)}`);
    }
    assert.equal(formatValue(5400, T("duration")), "1h30m");
    assert.equal(formatValue(null, optional(T("int"))), "");
  });
});

describe("typeInfoFromString: the server's type text → TypeInfo (when it sent no typeInfo)", () => {
  const cases: [string, TypeInfo][] = [
    ["int", T("int")],
    ["float", T("float")],
    ["str", T("str")],
    ["bool", T("bool")],
    ["datetime", T("datetime")],
    ["datetime.date", T("datetime")],
    ["timedelta", T("duration")],
    ["bytes", T("binary")],
    ["None", T("none")],
    ["dict", T("struct")],
    ["Point", T("struct", { title: "Point" })],
    ["List[int]", T("list", { item: T("int") })],
    ["list[str]", T("list", { item: T("str") })],
    ["typing.List[typing.List[float]]", T("list", { item: T("list", { item: T("float") }) })],
    ["Dict[str, float]", T("dict", { value: T("float") })],
    ["dict[str, List[int]]", T("dict", { value: T("list", { item: T("int") }) })],
    ["Optional[int]", optional(T("int"))],
    ["int | None", T("union", { variants: [T("int"), T("none")] })],
    ["Union[int, str, None]", T("union", { variants: [T("int"), T("str"), T("none")] })],
    ["Enum['a', 'b']", T("enum", { choices: ["a", "b"] })],
    ['Enum["it\'s", "x"]', T("enum", { choices: ["it's", "x"] })],
    ["Literal['x']", T("enum", { choices: ["x"] })],
    ["FlyteFile", T("file")],
    ["FlyteFile[csv]", T("file", { format: "csv" })],
    ["FlyteDirectory[csv]", T("directory", { format: "csv" })],
    ["FlyteDirectory", T("directory")],
    ["StructuredDataset[parquet]", T("structuredDataset", { format: "parquet" })],
    ["FlyteSchema", T("schema")],
    ["Optional[FlyteFile]", optional(T("file"))],
    ["Annotated[int, 'meta']", T("int")],
    ["unknown", T("unknown")],
    ["", T("unknown")],
    ["List[int", T("unknown")],
    ["int]", T("unknown")],
    ["weird type!", T("unknown")],
    ["mystery", T("unknown")],
  ];
  it("parses every form type_string writes", () => {
    for (const [text, info] of cases) assert.deepEqual(typeInfoFromString(text), info, text);
  });
  it("typeName writes what type_string writes", () => {
    for (const text of ["int", "List[int]", "Dict[str, float]", "Optional[int]", "Union[int, str]", "Enum['a', 'b']",
      "FlyteFile[csv]", "FlyteDirectory", "StructuredDataset[parquet]", "FlyteSchema", "timedelta", "bytes", "Point", "dict"]) {
      assert.equal(typeName(typeInfoFromString(text)), text);
    }
  });
});

describe("promptForValue", () => {
  const KEY = "file:///w/wf.py#wf";
  let memory: MemoryMemento;
  beforeEach(() => {
    resetMock();
    memory = new MemoryMemento();
  });

  it("asks in an InputBox that validates by type, remembers the value and prefills it next time", async () => {
    const ui = new ScriptedUi([{ input: ["x", "3.5", "3"] }]);
    assert.deepEqual(await promptForValue(ui, memory, KEY, "n", "int", T("int")), { value: 3 });
    const call = ui.calls[0];
    assert.equal(call.options.title, "n: int");
    assert.equal(call.options.prompt, "An integer, e.g. 42 or -7");
    assert.equal(call.options.value, undefined);
    assert.equal(call.options.ignoreFocusOut, true);
    assert.deepEqual(call.rejected, [
      { text: "x", message: 'Expected an integer such as 42 or -7, got "x"' },
      { text: "3.5", message: 'Expected an integer such as 42 or -7, got "3.5"' },
    ]);
    const again = new ScriptedUi([{ input: ["4"] }]);
    assert.deepEqual(await promptForValue(again, memory, KEY, "n", "int", T("int")), { value: 4 });
    assert.equal(again.calls[0].options.value, "3");
    assert.deepEqual(memory.get<Record<string, unknown>>(HISTORY_KEY), { [KEY]: { n: [4, 3] } });
  });

  it("offers the values used before first when there are several, newest first", async () => {
    await promptForValue(new ScriptedUi([{ input: ["1h"] }]), memory, KEY, "d", "timedelta");
    await promptForValue(new ScriptedUi([{ input: ["90s"] }]), memory, KEY, "d", "timedelta");
    const ui = new ScriptedUi([{ pick: "1h" }]);
    assert.deepEqual(await promptForValue(ui, memory, KEY, "d", "timedelta"), { value: 3600 });
    assert.deepEqual(ui.calls[0].labels, ["1m30s", "1h", "$(edit) Enter a value…"]);
    assert.deepEqual(ui.calls[0].descriptions?.slice(0, 2), ["last used", "used before"]);
    const typed = new ScriptedUi([{ pick: "Enter a value" }, { input: ["5m"] }]);
    assert.deepEqual(await promptForValue(typed, memory, KEY, "d", "timedelta"), { value: 300 });
    assert.equal(typed.calls[1].options.value, "1h", "prefilled with the last used");
    assert.deepEqual(memory.get<Record<string, Record<string, unknown[]>>>(HISTORY_KEY)?.[KEY].d, [300, 3600, 90]);
  });

  it("shows an empty text used before as such, not as None", async () => {
    await promptForValue(new ScriptedUi([{ input: [""] }]), memory, KEY, "s", "str");
    await promptForValue(new ScriptedUi([{ input: ["x"] }]), memory, KEY, "s", "str");
    const ui = new ScriptedUi([{ pick: "empty" }]);
    assert.deepEqual(await promptForValue(ui, memory, KEY, "s", "str"), { value: "" });
    assert.deepEqual(ui.calls[0].labels, ["x", '""  (empty text)', "$(edit) Enter a value…"]);
    const opt = new ScriptedUi([{ input: [""] }, { pick: "None" }]);
    await promptForValue(opt, memory, KEY, "o", "Optional[str]");
    await promptForValue(new ScriptedUi([{ input: ["y"] }]), memory, KEY, "o", "Optional[str]");
    assert.deepEqual(await promptForValue(opt, memory, KEY, "o", "Optional[str]"), { value: null });
    assert.deepEqual(opt.calls[1].labels, ["y", "None", "$(edit) Enter a value…"]);
  });

  it("keeps remembered values per entity and input, and drops those the type no longer accepts", async () => {
    await promptForValue(new ScriptedUi([{ input: ["abc"] }]), memory, KEY, "s", "str");
    const other = new ScriptedUi([{ input: ["1"] }]);
    await promptForValue(other, memory, "file:///w/wf.py#other", "s", "int");
    assert.equal(other.calls[0].options.value, undefined);
    const retyped = new ScriptedUi([{ input: ["2"] }]);
    await promptForValue(retyped, memory, KEY, "s", "int"); // "abc" was a str; now s is an int
    assert.equal(retyped.calls[0].options.value, undefined);
  });

  it("Escape cancels and remembers nothing", async () => {
    const ui = new ScriptedUi([{ input: undefined }]);
    assert.equal(await promptForValue(ui, memory, KEY, "n", "int"), undefined);
    assert.equal(memory.get(HISTORY_KEY), undefined);
  });

  it("bool and enum: a QuickPick, the last used first; Optional adds None", async () => {
    const ui = new ScriptedUi([{ pick: "false" }, { pick: undefined }]);
    assert.deepEqual(await promptForValue(ui, memory, KEY, "flag", "bool"), { value: false });
    assert.deepEqual(ui.calls[0].labels, ["true", "false"]);
    assert.equal(await promptForValue(ui, memory, KEY, "flag", "bool"), undefined);
    assert.deepEqual(ui.calls[1].labels, ["false", "true"]);
    assert.equal(ui.calls[1].descriptions?.[0], "last used");

    const color = new ScriptedUi([{ pick: "None" }]);
    assert.deepEqual(await promptForValue(color, memory, KEY, "c", "Optional[Enum['red', 'green']]"), { value: null });
    assert.deepEqual(color.calls[0].labels, ["red", "green", "None"]);
    assert.equal(color.calls[0].options.title, "c: Optional[Enum['red', 'green']]");
  });

  it("a file: the open dialog (files, starting in the workspace folder), or a typed URI / path", async () => {
    const ui = new ScriptedUi([{ pick: "Choose a file" }, { open: "/w/data/x.csv" }]);
    const info = T("file", { format: "csv" });
    assert.deepEqual(await promptForValue(ui, memory, KEY, "f", "FlyteFile[csv]", info, { folder: "/w" }), { value: "/w/data/x.csv" });
    assert.deepEqual(ui.calls[0].labels, ["$(file) Choose a file…", "$(edit) Enter a URI or path…"]);
    const dialog = ui.calls[1].options;
    assert.equal(dialog.canSelectFiles, true);
    assert.equal(dialog.canSelectFolders, false);
    assert.equal(dialog.canSelectMany, false);
    assert.equal((dialog.defaultUri as { fsPath: string }).fsPath, "/w");
    assert.deepEqual(dialog.filters, { csv: ["csv"], "All files": ["*"] });

    const typed = new ScriptedUi([{ pick: "Enter a URI" }, { input: ["", "data/y.csv"] }]);
    assert.deepEqual(await promptForValue(typed, memory, KEY, "f", "FlyteFile", T("file"), { folder: "/w" }), { value: "/w/data/y.csv" });
    assert.deepEqual(typed.calls[0].labels?.[0], "/w/data/x.csv", "the file used before comes first");
    assert.equal(typed.calls[1].rejected?.[0].message, "Enter a URI (s3://…, gs://…) or the local path of a file");
    assert.equal(typed.calls[1].options.value, "/w/data/x.csv");

    const uri = new ScriptedUi([{ pick: "Enter a URI" }, { input: ["s3://b/k.csv"] }]);
    assert.deepEqual(await promptForValue(uri, memory, KEY, "g", "FlyteFile", T("file"), { folder: "/w" }), { value: "s3://b/k.csv" });
    const cancelled = new ScriptedUi([{ pick: "Choose a file" }, { open: undefined }]);
    assert.equal(await promptForValue(cancelled, memory, KEY, "f", "FlyteFile"), undefined);
  });

  it("a directory picks folders; a structured dataset either; Optional offers None", async () => {
    const dir = new ScriptedUi([{ pick: "Choose a folder" }, { open: "/w/out" }]);
    assert.deepEqual(await promptForValue(dir, memory, KEY, "d", "FlyteDirectory"), { value: "/w/out" });
    assert.equal(dir.calls[1].options.canSelectFolders, true);
    assert.equal(dir.calls[1].options.canSelectFiles, false);
    const sd = new ScriptedUi([{ pick: "Choose a file or folder" }, { open: "/w/t.parquet" }]);
    await promptForValue(sd, memory, KEY, "t", "StructuredDataset");
    assert.equal(sd.calls[1].options.canSelectFolders, true);
    assert.equal(sd.calls[1].options.canSelectFiles, true);
    const opt = new ScriptedUi([{ pick: "None" }]);
    assert.deepEqual(await promptForValue(opt, memory, KEY, "o", "Optional[FlyteFile]"), { value: null });
  });

  it("None needs no prompt; bytes cannot be typed", async () => {
    assert.deepEqual(await promptForValue(new ScriptedUi([]), memory, KEY, "z", "None"), { value: null });
    const ui = new ScriptedUi([{ input: ["aGk="] }]);
    assert.equal(await promptForValue(ui, memory, KEY, "b", "bytes"), undefined);
    assert.match(String(ui.calls[0].rejected?.[0].message), /YAML inputs file/);
  });

  it("JSON kinds show an example and say what is wrong", async () => {
    const ui = new ScriptedUi([{ input: ['[1, "2"]', "[1, 2]"] }]);
    assert.deepEqual(await promptForValue(ui, memory, KEY, "xs", "List[int]"), { value: [1, 2] });
    assert.equal(ui.calls[0].options.placeHolder, "[1, 1]");
    assert.equal(ui.calls[0].options.prompt, "JSON: List[int]");
    assert.equal(ui.calls[0].rejected?.[0].message, '[1]: expected int, got "2"');
    const point = new ScriptedUi([{ input: ["{}"] }]);
    await promptForValue(point, memory, KEY, "p", "Outer", OUTER);
    assert.equal(point.calls[0].options.prompt, "JSON: an object for Outer with x: integer, y: number, name?: string, inner: object, xs: array, m: object, opt?, c?");
    const opt = new ScriptedUi([{ input: [""] }]);
    assert.deepEqual(await promptForValue(opt, memory, KEY, "o", "Optional[int]"), { value: null });
    assert.equal(opt.calls[0].options.prompt, "An integer, e.g. 42 or -7 — leave empty for None");
  });
});

describe("promptForInputs", () => {
  const KEY = "file:///w/wf.py#train";
  let memory: MemoryMemento;
  beforeEach(() => {
    resetMock();
    memory = new MemoryMemento();
  });
  const missing = [
    { name: "n", type: "int", typeInfo: T("int") },
    { name: "xs", type: "List[int]" }, // no typeInfo: from the type text
  ];

  it("one input: asked directly", async () => {
    const ui = new ScriptedUi([{ input: ["5"] }]);
    assert.deepEqual(await promptForInputs(ui, memory, KEY, [missing[0]]), { inputs: { n: 5 } });
    assert.equal(ui.calls[0].options.title, "n: int");
  });

  it("several: first values or an inputs file, then each with its step", async () => {
    const ui = new ScriptedUi([{ pick: "Enter the values" }, { input: ["5"] }, { input: ["[1, 2]"] }]);
    assert.deepEqual(await promptForInputs(ui, memory, KEY, missing), { inputs: { n: 5, xs: [1, 2] } });
    assert.deepEqual(ui.calls[0].labels, ["$(edit) Enter the values", "$(file) Use an inputs file (JSON/YAML)…"]);
    assert.equal(ui.calls[0].options.title, "train: 2 inputs needed");
    assert.equal(ui.calls[0].options.placeHolder, "Missing inputs: n: int, xs: List[int]");
    assert.equal(ui.calls[1].options.title, "n: int (1/2)");
    assert.equal(ui.calls[2].options.title, "xs: List[int] (2/2)");
  });

  it("Escape at any step cancels the whole prompt", async () => {
    assert.equal(await promptForInputs(new ScriptedUi([{ pick: undefined }]), memory, KEY, missing), undefined);
    const ui = new ScriptedUi([{ pick: "Enter the values" }, { input: ["5"] }, { input: undefined }]);
    assert.equal(await promptForInputs(ui, memory, KEY, missing), undefined);
  });

  it("an inputs file: relative to the workspace folder when inside it, offered again next time", async () => {
    const ui = new ScriptedUi([{ pick: "Use an inputs file" }, { open: "/w/inputs/run.yaml" }]);
    assert.deepEqual(await promptForInputs(ui, memory, KEY, missing, { folder: "/w" }), { inputsFile: "inputs/run.yaml" });
    const dialog = ui.calls[1].options;
    assert.deepEqual(dialog.filters, { "Inputs (JSON/YAML)": ["json", "yaml", "yml"], "All files": ["*"] });
    assert.equal((dialog.defaultUri as { fsPath: string }).fsPath, "/w");
    const again = new ScriptedUi([{ pick: "again" }]);
    assert.deepEqual(await promptForInputs(again, memory, KEY, missing, { folder: "/w" }), { inputsFile: "inputs/run.yaml" });
    assert.deepEqual(again.calls[0].labels, [
      "$(edit) Enter the values",
      "$(history) Use inputs/run.yaml again",
      "$(file) Use an inputs file (JSON/YAML)…",
    ]);
    assert.deepEqual(memory.get(INPUTS_FILE_KEY), { [KEY]: "inputs/run.yaml" });
    const outside = new ScriptedUi([{ pick: "Use an inputs file" }, { open: "/elsewhere/in.json" }]);
    assert.deepEqual(await promptForInputs(outside, memory, KEY, missing, { folder: "/w" }), { inputsFile: "/elsewhere/in.json" });
    const cancelled = new ScriptedUi([{ pick: "Use an inputs file" }, { open: undefined }]);
    assert.equal(await promptForInputs(cancelled, memory, KEY, missing), undefined);
  });

  it("bytes can only come from an inputs file", async () => {
    const ui = new ScriptedUi([{ pick: "Use an inputs file" }, { open: "/w/in.yaml" }]);
    assert.deepEqual(await promptForInputs(ui, memory, KEY, [{ name: "blob", type: "bytes" }], { folder: "/w" }), { inputsFile: "in.yaml" });
    assert.deepEqual(ui.calls[0].labels, ["$(file) Use an inputs file (JSON/YAML)…"]);
    assert.equal(ui.calls[0].options.placeHolder, "blob (bytes) can only be given in a YAML inputs file (!!binary)");
  });

  it("relativeToFolder", () => {
    assert.equal(relativeToFolder("/w/a/b.json", "/w"), "a/b.json");
    assert.equal(relativeToFolder("/w2/b.json", "/w"), "/w2/b.json");
    assert.equal(relativeToFolder("/w/b.json", undefined), "/w/b.json");
  });
});
