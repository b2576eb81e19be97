// Typed input values, pure (no `vscode`, no I/O): the text a user types → the JSON value flyte-ls converts to a
// Flyte literal by the declared type (flyte_ls/remote/literals.py `to_literal`), or a validation message naming
// the problem; a remembered value → the text that parses back to it; the type's readable name; and a TypeInfo
// parsed from the server's type string when it sent no `typeInfo`.
//
// What the server accepts, per kind: int → a JSON integer (not a float, not a bool) within 64 bits; float → a
// number; bool, str → themselves; datetime → an ISO 8601 string (Python's `fromisoformat`, `Z` allowed; no
// offset means UTC); duration → a number of seconds; enum → one of its strings; list → an array; dict → an object
// (string keys); struct → an object; file / directory / structured dataset / schema → a URI string (remote) or a
// local path (uploaded); Optional/union → null or what a variant accepts; none → null. Bytes cannot travel as
// JSON (an inputs file in YAML can hold `!!binary`).
import { homedir } from "node:os";
import type { TypeInfo } from "./protocol";
import { optionalOf, typeName } from "./typeNames";

export type Parsed = { value: unknown } | { error: string };

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const REMOTE_URI = /^[A-Za-z][A-Za-z0-9+.-]+:\/\//;
const NULL_WORDS = new Set(["", "none", "null"]);

/** A short JSON rendering of a given value for messages. */
function shown(value: unknown): string {
  const text = value === undefined ? "nothing" : JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function fail(path: string, message: string): Parsed {
  const where = path.replace(/^\./, ""); // `.field` at the top reads `field`
  return { error: where ? `${where}: ${message}` : message.charAt(0).toUpperCase() + message.slice(1) };
}

/**
 * The value for `text` typed by the user for an input of type `info`, or the reason it does not fit (shown by
 * the InputBox as its validation message). `now` is the clock for `now` (datetime).
 */
export function parseValue(text: string, info: TypeInfo, now: () => Date = () => new Date()): Parsed {
  const t = text.trim();
  switch (info.kind) {
    case "int":
      return parseInt64(t, "");
    case "float":
      return parseFloatText(t);
    case "bool":
      return parseBool(t);
    case "str":
      return { value: text };
    case "datetime":
      return parseDatetimeText(t, now);
    case "duration": {
      if (!t) return fail("", "enter a duration: 90s, 5m, 1h30m, PT1H or a number of seconds");
      return durationValue(t, "");
    }
    case "enum":
      return enumValue(t, info, "");
    case "file":
    case "directory":
    case "structuredDataset":
    case "schema":
      return parseLocation(t, info);
    case "none":
      return NULL_WORDS.has(t.toLowerCase()) ? { value: null } : fail("", `expected None (leave it empty), got ${shown(t)}`);
    case "binary":
      return fail("", "bytes cannot be typed here: give them in a YAML inputs file (`name: !!binary <base64>`)");
    case "union":
      return parseUnionText(text, info, now);
    case "unknown":
      if (!t) return fail("", "enter a JSON value");
      try {
        return { value: JSON.parse(t) };
      } catch {
        return { value: text }; // the type is unknown here: text that is not JSON goes as a string
      }
    default: // list, dict, struct: JSON
      return parseJsonText(t, info);
  }
}

function parseJsonText(t: string, info: TypeInfo): Parsed {
  const what = info.kind === "list" ? "a JSON list such as " : "a JSON object such as ";
  if (!t) return fail("", `enter ${what}${exampleJson(info)}`);
  let value: unknown;
  try {
    value = JSON.parse(t);
  } catch (err) {
    return fail("", `not valid JSON (${(err as Error).message}); enter ${what}${exampleJson(info)}`);
  }
  return checkJson(value, info, "");
}

function parseInt64(t: string, path: string): Parsed {
  if (!/^[+-]?\d+(_\d+)*$/.test(t)) return fail(path, `expected an integer such as 42 or -7, got ${shown(t)}`);
  const big = BigInt(t.replace(/_/g, ""));
  return intValue(big, path);
}

function intValue(big: bigint, path: string): Parsed {
  if (big < INT64_MIN || big > INT64_MAX) return fail(path, `${big} does not fit in 64 bits`);
  if (big < BigInt(Number.MIN_SAFE_INTEGER) || big > BigInt(Number.MAX_SAFE_INTEGER)) {
    return fail(path, `${big} is beyond ±${Number.MAX_SAFE_INTEGER}, which JSON from the editor cannot carry exactly; give it in an inputs file`);
  }
  return { value: Number(big) };
}

function parseFloatText(t: string): Parsed {
  if (!/^[+-]?(\d+(_\d+)*(\.(\d+(_\d+)*)?)?|\.\d+(_\d+)*)([eE][+-]?\d+)?$/.test(t)) {
    return fail("", `expected a number such as 3.14, -2 or 1e-3, got ${shown(t)}`);
  }
  const n = Number(t.replace(/_/g, ""));
  return Number.isFinite(n) ? { value: n } : fail("", `${t} is too large for a float`);
}

function parseBool(t: string): Parsed {
  const lower = t.toLowerCase();
  if (["true", "yes", "y", "1"].includes(lower)) return { value: true };
  if (["false", "no", "n", "0"].includes(lower)) return { value: false };
  return fail("", `expected true or false, got ${shown(t)}`);
}

function enumValue(value: unknown, info: TypeInfo, path: string): Parsed {
  const choices = info.choices ?? [];
  if (typeof value === "string" && choices.includes(value)) return { value };
  return fail(path, `expected one of ${choices.join(", ")}; got ${shown(value)}`);
}

function parseLocation(t: string, info: TypeInfo): Parsed {
  const what = info.kind === "directory" ? "a directory" : info.kind === "file" ? "a file" : "a file or directory";
  if (!t) return fail("", `enter a URI (s3://…, gs://…) or the local path of ${what}`);
  return { value: expandHome(t) };
}

function expandHome(path: string): string {
  if (REMOTE_URI.test(path)) return path;
  return path === "~" || path.startsWith("~/") ? homedir() + path.slice(1) : path;
}

function parseUnionText(text: string, info: TypeInfo, now: () => Date): Parsed {
  const variants = info.variants ?? [];
  const t = text.trim();
  if (variants.some((v) => v.kind === "none") && NULL_WORDS.has(t.toLowerCase())) return { value: null };
  const errors: string[] = [];
  for (const variant of variants) {
    if (variant.kind === "none") continue;
    const result = parseValue(text, variant, now);
    if ("value" in result) return result;
    errors.push(`${typeName(variant)}: ${result.error}`);
  }
  const opt = optionalOf(info);
  if (opt) return parseValue(text, opt, now); // Optional[T]: T's own message, leave empty for None
  return fail("", `no variant of ${typeName(info)} accepts it (${errors.join("; ")})`);
}

// -- datetime -------------------------------------------------------------------------------------------------
const DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

function parseDatetimeText(t: string, now: () => Date): Parsed {
  if (t.toLowerCase() === "now") return datetimeValue(now().toISOString(), "");
  if (!t) return fail("", "enter a date-time such as 2024-01-31T12:00:00Z or 2024-01-31, or now");
  return datetimeValue(t, "");
}

/**
 * An ISO 8601 date or date-time in the one form every supported Python's `datetime.fromisoformat` reads:
 * `YYYY-MM-DDTHH:MM:SS[.ffffff][±HH:MM]` (a date alone is midnight; `Z` is `+00:00`; no offset means UTC).
 */
function datetimeValue(value: unknown, path: string): Parsed {
  const hint = "use ISO 8601 such as 2024-01-31T12:00:00Z, 2024-01-31 12:00 or 2024-01-31";
  if (typeof value !== "string") return fail(path, `expected a date-time string (${hint}), got ${shown(value)}`);
  const m = DATETIME.exec(value.trim());
  if (!m) return fail(path, `${shown(value)} is not a date-time: ${hint}`);
  const [, y, mo, d, h = "00", mi = "00", s = "00", frac, offset] = m;
  const days = new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate(); // days in that month
  if (Number(y) < 1 || Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > days) {
    return fail(path, `${y}-${mo}-${d} is not a date`);
  }
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return fail(path, `${h}:${mi}:${s} is not a time of day`);
  let tz = "";
  if (offset) {
    const om = /^([+-])(\d{2}):?(\d{2})?$/.exec(offset);
    if (!om) tz = "+00:00";
    else if (Number(om[2]) > 23 || Number(om[3] ?? "0") > 59) return fail(path, `${offset} is not a UTC offset`);
    else tz = `${om[1]}${om[2]}:${om[3] ?? "00"}`;
  }
  const micro = frac ? "." + frac.padEnd(6, "0").slice(0, 6) : "";
  return { value: `${y}-${mo}-${d}T${h}:${mi}:${s}${micro}${tz}` };
}

// -- duration ---------------------------------------------------------------------------------------------------
const UNITS: Record<string, number> = {
  w: 604800, week: 604800, weeks: 604800,
  d: 86400, day: 86400, days: 86400,
  h: 3600, hr: 3600, hrs: 3600, hour: 3600, hours: 3600,
  m: 60, min: 60, mins: 60, minute: 60, minutes: 60,
  s: 1, sec: 1, secs: 1, second: 1, seconds: 1,
  ms: 1e-3, millisecond: 1e-3, milliseconds: 1e-3,
  us: 1e-6, "µs": 1e-6, microsecond: 1e-6, microseconds: 1e-6,
};
const ISO_DURATION = /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i;

/** Seconds for `90`, `1.5`, `90s`, `5m`, `1h30m`, `1h 30m`, `2 days`, `PT1H30M`, `P1DT2H`, `1:30:00`; signed. */
export function parseDuration(text: string): number | { error: string } {
  const hint = "use 90s, 5m, 1h30m, PT1H, 1:30:00 or a number of seconds";
  let t = text.trim();
  let sign = 1;
  if (/^[+-]/.test(t)) {
    sign = t.startsWith("-") ? -1 : 1;
    t = t.slice(1).trim();
  }
  let seconds: number | undefined;
  if (/^\d+(\.\d+)?$/.test(t)) seconds = Number(t);
  else if (/^P/i.test(t)) {
    const m = ISO_DURATION.exec(t);
    if (/^P.*\d(Y|M)/i.test(t.split(/T/i)[0]) && !m) {
      return { error: `${shown(text)}: years and months have no fixed length; use days (P30D)` };
    }
    if (m && m.slice(1).some((x) => x !== undefined)) {
      const [w, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? 0));
      seconds = w * 604800 + d * 86400 + h * 3600 + mi * 60 + s;
    }
  } else if (/^\d+:\d{2}:\d{2}(\.\d+)?$/.test(t)) {
    const [h, mi, s] = t.split(":").map(Number);
    if (mi <= 59 && s < 60) seconds = h * 3600 + mi * 60 + s;
  } else {
    const part = /(\d+(?:\.\d+)?)\s*([a-zµ]+)\s*/giy;
    let total = 0;
    let end = 0;
    for (let m = part.exec(t); m; m = part.exec(t)) {
      const unit = UNITS[m[2].toLowerCase()];
      if (unit === undefined) return { error: `${shown(text)}: unknown unit ${shown(m[2])}; ${hint}` };
      total += Number(m[1]) * unit;
      end = part.lastIndex;
    }
    if (end === t.length && end > 0) seconds = total;
  }
  if (seconds === undefined) return { error: `${shown(text)} is not a duration: ${hint}` };
  return sign * (Math.round(seconds * 1e6) / 1e6) || 0;
}

function durationValue(value: unknown, path: string): Parsed {
  if (typeof value === "number") return Number.isFinite(value) ? { value } : fail(path, "expected a finite number of seconds");
  if (typeof value !== "string") return fail(path, `expected a duration (seconds, or text such as "5m"), got ${shown(value)}`);
  const seconds = parseDuration(value);
  return typeof seconds === "number" ? { value: seconds } : fail(path, seconds.error);
}

/** Seconds as the text `parseDuration` reads back: `1h30m`, `1m30s`, `0.5s`, `2d3h`. */
export function formatDuration(seconds: number): string {
  if (seconds < 0) return "-" + formatDuration(-seconds);
  let rest = seconds;
  const parts: string[] = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  rest = Math.round(rest * 1e6) / 1e6;
  if (rest > 0 || parts.length === 0) parts.push(`${rest}s`);
  return parts.join("");
}

// -- JSON values by type ----------------------------------------------------------------------------------------
/**
 * `value` (parsed JSON) checked against `info` the way the server's `to_literal` will, with the same leniency:
 * ISO strings for datetimes (normalised), seconds or duration text for durations (→ seconds). The error names
 * the path inside the value (`[2]`, `["k"]`, `.field`).
 */
export function checkJson(value: unknown, info: TypeInfo, path: string): Parsed {
  const expected = () => fail(path, `expected ${typeName(info)}, got ${shown(value)}`);
  switch (info.kind) {
    case "int":
      if (typeof value !== "number" || !Number.isInteger(value)) return expected();
      return Number.isSafeInteger(value) ? { value } : intValue(BigInt(value), path);
    case "float":
      return typeof value === "number" ? { value } : expected();
    case "bool":
      return typeof value === "boolean" ? { value } : expected();
    case "str":
      return typeof value === "string" ? { value } : expected();
    case "datetime":
      return datetimeValue(value, path);
    case "duration":
      return durationValue(value, path);
    case "enum":
      return enumValue(value, info, path);
    case "none":
      return value === null ? { value } : expected();
    case "binary":
      return fail(path, "bytes cannot be given as JSON: use a YAML inputs file (`!!binary <base64>`)");
    case "file":
    case "directory":
    case "structuredDataset":
    case "schema":
      if (typeof value === "string" && value) return { value: expandHome(value) };
      if (isObject(value) && typeof (value.uri ?? value.path) === "string") return { value };
      return fail(path, `expected a URI or local path for ${typeName(info)}, got ${shown(value)}`);
    case "list": {
      if (!Array.isArray(value)) return fail(path, `expected a list (${typeName(info)}), got ${shown(value)}`);
      const out: unknown[] = [];
      for (const [i, item] of value.entries()) {
        const r = info.item ? checkJson(item, info.item, `${path}[${i}]`) : { value: item };
        if ("error" in r) return r;
        out.push(r.value);
      }
      return { value: out };
    }
    case "dict": {
      if (!isObject(value)) return fail(path, `expected an object (${typeName(info)}), got ${shown(value)}`);
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(value)) {
        const r = info.value ? checkJson(item, info.value, `${path}[${JSON.stringify(k)}]`) : { value: item };
        if ("error" in r) return r;
        out[k] = r.value;
      }
      return { value: out };
    }
    case "struct": {
      if (!isObject(value)) return fail(path, `expected an object (${typeName(info)}), got ${shown(value)}`);
      const problem = info.jsonSchema ? checkSchema(value, info.jsonSchema, info.jsonSchema, path) : undefined;
      return problem ? fail(problem.path, problem.message) : { value };
    }
    case "union": {
      const variants = info.variants ?? [];
      for (const variant of variants) {
        const r = checkJson(value, variant, path);
        if ("value" in r) return r;
      }
      const opt = optionalOf(info);
      return opt ? checkJson(value, opt, path) : expected();
    }
    default:
      return { value };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// -- JSON Schema (what flytekit puts in a dataclass's or pydantic model's type) -----------------------------------
type Schema = Record<string, unknown>;

const JSON_TYPES: Record<string, (v: unknown) => boolean> = {
  string: (v) => typeof v === "string",
  integer: (v) => typeof v === "number" && Number.isInteger(v),
  number: (v) => typeof v === "number",
  boolean: (v) => typeof v === "boolean",
  array: Array.isArray,
  object: isObject,
  null: (v) => v === null,
};

function resolveRef(schema: Schema, root: Schema): Schema | undefined {
  const ref = schema.$ref;
  if (typeof ref !== "string") return schema;
  if (!ref.startsWith("#")) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(1).split("/").filter(Boolean)) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    node = isObject(node) ? node[key] : undefined;
  }
  return isObject(node) ? node : undefined;
}

/**
 * The first way `value` breaks `schema`: required fields, unknown fields when `additionalProperties` is false,
 * JSON types, enums, anyOf/oneOf/allOf, items, nested objects and local `$ref`s. Formats are not checked (the
 * server's conversion has the last word).
 */
function checkSchema(value: unknown, raw: Schema, root: Schema, path: string): { path: string; message: string } | undefined {
  const schema = resolveRef(raw, root);
  if (!schema) return undefined;
  const at = (message: string) => ({ path, message });
  for (const key of ["anyOf", "oneOf"] as const) {
    const options = schema[key];
    if (Array.isArray(options) && options.length > 0) {
      const results = options.map((o) => (isObject(o) ? checkSchema(value, o, root, path) : undefined));
      if (!results.some((r) => r === undefined)) {
        const types = options.map((o) => describeSchema(o, root)).join(" or ");
        return at(`expected ${types}, got ${shown(value)}`);
      }
    }
  }
  if (Array.isArray(schema.allOf)) {
    for (const part of schema.allOf) {
      const r = isObject(part) ? checkSchema(value, part, root, path) : undefined;
      if (r) return r;
    }
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    return at(`expected one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}, got ${shown(value)}`);
  }
  const declared = typeof schema.type === "string" ? [schema.type] : Array.isArray(schema.type) ? schema.type : [];
  if (declared.length > 0 && !declared.some((t) => JSON_TYPES[String(t)]?.(value) ?? true)) {
    return at(`expected ${declared.join(" or ")}, got ${shown(value)}`);
  }
  if (isObject(value)) {
    const properties = isObject(schema.properties) ? schema.properties : {};
    const required = Array.isArray(schema.required) ? schema.required : [];
    const missing = required.filter((r) => typeof r === "string" && !(r in value));
    if (missing.length > 0) return at(`missing required field${missing.length > 1 ? "s" : ""} ${missing.map((m) => `"${m}"`).join(", ")}`);
    for (const [k, item] of Object.entries(value)) {
      const sub = properties[k];
      const where = `${path}.${k}`;
      if (isObject(sub)) {
        const r = checkSchema(item, sub, root, where);
        if (r) return r;
      } else if (schema.additionalProperties === false && Object.keys(properties).length > 0) {
        return at(`unknown field "${k}" (the fields are: ${Object.keys(properties).join(", ")})`);
      } else if (isObject(schema.additionalProperties)) {
        const r = checkSchema(item, schema.additionalProperties, root, `${path}[${JSON.stringify(k)}]`);
        if (r) return r;
      }
    }
  }
  if (Array.isArray(value) && isObject(schema.items)) {
    for (const [i, item] of value.entries()) {
      const r = checkSchema(item, schema.items, root, `${path}[${i}]`);
      if (r) return r;
    }
  }
  return undefined;
}

function describeSchema(raw: unknown, root: Schema): string {
  const schema = isObject(raw) ? resolveRef(raw, root) : undefined;
  if (!schema) return "a value";
  if (typeof schema.title === "string") return schema.title;
  if (Array.isArray(schema.type)) return schema.type.join(" or ");
  if (typeof schema.type === "string") return schema.type;
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}`;
  return "a value";
}

/** A small JSON example for a type (shown as the InputBox placeholder and in messages). */
export function exampleJson(info: TypeInfo, depth = 0): string {
  const sample = (t: TypeInfo | undefined): string => (t && depth < 3 ? exampleJson(t, depth + 1) : "…");
  switch (info.kind) {
    case "int":
      return "1";
    case "float":
      return "1.5";
    case "bool":
      return "true";
    case "str":
      return '"text"';
    case "datetime":
      return '"2024-01-31T12:00:00Z"';
    case "duration":
      return '"5m"';
    case "enum":
      return JSON.stringify(info.choices?.[0] ?? "value");
    case "list":
      return `[${sample(info.item)}, ${sample(info.item)}]`;
    case "dict":
      return `{"key": ${sample(info.value)}}`;
    case "struct":
      return structExample(info);
    case "file":
    case "directory":
    case "structuredDataset":
    case "schema":
      return '"s3://bucket/path"';
    case "union": {
      const first = (info.variants ?? []).find((v) => v.kind !== "none");
      return first ? sample(first) : "null";
    }
    case "none":
      return "null";
    default:
      return "{}";
  }
}

function structExample(info: TypeInfo): string {
  const schema = info.jsonSchema;
  const properties = schema && isObject(schema.properties) ? schema.properties : undefined;
  if (!properties) return '{"field": "value"}';
  const required = Array.isArray(schema?.required) ? schema.required.map(String) : Object.keys(properties);
  const sample: Record<string, string> = { integer: "0", number: "0.0", boolean: "false", string: '""', array: "[]", object: "{}" };
  const fields = required.slice(0, 4).map((name) => {
    const sub = isObject(properties[name]) && schema ? resolveRef(properties[name] as Schema, schema) : undefined;
    return `"${name}": ${(typeof sub?.type === "string" && sample[sub.type]) || "…"}`;
  });
  return `{${fields.join(", ")}${required.length > 4 ? ", …" : ""}}`;
}

// -- a remembered value → the text to prefill -----------------------------------------------------------------------
/** The text that `parseValue(text, info)` turns back into `value` (for prefilling an InputBox). */
export function formatValue(value: unknown, info: TypeInfo): string {
  switch (info.kind) {
    case "str":
    case "datetime":
    case "enum":
      return typeof value === "string" ? value : JSON.stringify(value);
    case "duration":
      return typeof value === "number" ? formatDuration(value) : String(value);
    case "file":
    case "directory":
    case "structuredDataset":
    case "schema":
      return typeof value === "string" ? value : JSON.stringify(value);
    case "int":
    case "float":
    case "bool":
      return String(value);
    case "none":
      return "";
    case "union": {
      if (value === null) return "";
      for (const variant of info.variants ?? []) {
        if (variant.kind === "none") continue;
        const text = formatValue(value, variant);
        const back = parseValue(text, info);
        if ("value" in back && JSON.stringify(back.value) === JSON.stringify(value)) return text;
      }
      return JSON.stringify(value);
    }
    case "unknown":
      if (typeof value === "string") {
        try {
          JSON.parse(value);
        } catch {
          return value;
        }
      }
      return JSON.stringify(value);
    default:
      return JSON.stringify(value);
  }
}
