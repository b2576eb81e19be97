// Flyte types as text, pure: a TypeInfo's name as a flytekit user writes it (what the server's `type_string`
// writes), and a TypeInfo parsed from such a name when the server sent no `typeInfo` (an older server, a gate
// tracked before typeInfo existed).
import type { TypeInfo } from "./protocol";

/** `Optional[T]`'s T (a union of one type and None), else undefined. */
export function optionalOf(info: TypeInfo): TypeInfo | undefined {
  if (info.kind !== "union" || !info.variants) return undefined;
  const others = info.variants.filter((v) => v.kind !== "none");
  return others.length === 1 && info.variants.length === 2 ? others[0] : undefined;
}

/** The type as a flytekit user writes it (the server's `type_string`): `List[int]`, `Optional[str]`… */
export function typeName(info: TypeInfo): string {
  const inner = (t: TypeInfo | undefined) => (t ? typeName(t) : "unknown");
  const fmt = info.format ? `[${info.format}]` : "";
  switch (info.kind) {
    case "duration":
      return "timedelta";
    case "none":
      return "None";
    case "binary":
      return "bytes";
    case "enum":
      return `Enum[${(info.choices ?? []).map((c) => `'${c}'`).join(", ")}]`;
    case "list":
      return `List[${inner(info.item)}]`;
    case "dict":
      return `Dict[str, ${inner(info.value)}]`;
    case "struct":
      return info.title || "dict";
    case "file":
      return `FlyteFile${fmt}`;
    case "directory":
      return `FlyteDirectory${fmt}`;
    case "structuredDataset":
      return `StructuredDataset${fmt}`;
    case "schema":
      return "FlyteSchema";
    case "union": {
      const opt = optionalOf(info);
      if (opt) return `Optional[${typeName(opt)}]`;
      return `Union[${(info.variants ?? []).map(typeName).join(", ")}]`;
    }
    default:
      return info.kind;
  }
}

// -- a type string → TypeInfo --------------------------------------------------------------------------------------
type Token = { kind: "name" | "string" | "punct"; text: string };

function tokenize(type: string): Token[] | undefined {
  const tokens: Token[] = [];
  const re = /\s*(?:([A-Za-z_][\w.-]*)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(-?\d+(?:\.\d+)?)|([[\],|]))/y;
  let m: RegExpExecArray | null;
  while (re.lastIndex < type.length && (m = re.exec(type))) {
    if (m[1] !== undefined) tokens.push({ kind: "name", text: m[1] });
    else if (m[2] !== undefined || m[3] !== undefined) {
      tokens.push({ kind: "string", text: (m[2] ?? m[3]).replace(/\\(.)/g, "$1") });
    } else if (m[4] !== undefined) tokens.push({ kind: "string", text: m[4] });
    else tokens.push({ kind: "punct", text: m[5] });
  }
  return type.slice(re.lastIndex).trim() === "" ? tokens : undefined;
}

/**
 * A TypeInfo from a Python type as the server writes it (`type_string`) or a user would: `int`, `List[int]`,
 * `Dict[str, float]`, `Optional[int]`, `int | None`, `Enum['a', 'b']`, `FlyteFile[csv]`, `datetime`, a dataclass
 * name… (used when the server sent no `typeInfo`); `unknown` when it cannot tell.
 */
export function typeInfoFromString(type: string): TypeInfo {
  const tokens = tokenize(type.trim());
  if (!tokens || tokens.length === 0) return { kind: "unknown" };
  let i = 0;
  const peek = () => tokens[i];
  const take = (text: string) => (peek()?.text === text && peek()?.kind === "punct" ? (i++, true) : false);

  const union = (): TypeInfo => {
    const parts = [atom()];
    while (take("|")) parts.push(atom());
    return parts.length === 1 ? parts[0] : { kind: "union", variants: parts };
  };
  const atom = (): TypeInfo => {
    const token = tokens[i++];
    if (!token) throw new Error("end");
    if (token.kind !== "name") throw new Error("name");
    const args: TypeInfo[] = [];
    const strings: string[] = []; // quoted arguments (enum values), and bare names (a file format: `[csv]`)
    let hasArgs = false;
    if (take("[")) {
      hasArgs = true;
      if (!take("]")) {
        do {
          const next = peek();
          if (next?.kind === "string") {
            strings.push(next.text);
            i++;
          } else {
            const start = i;
            args.push(union());
            if (i === start + 1 && next?.kind === "name") strings.push(next.text);
          }
        } while (take(","));
        if (!take("]")) throw new Error("]");
      }
    }
    return named(token.text, args, strings, hasArgs);
  };
  try {
    const result = union();
    return i === tokens.length ? result : { kind: "unknown" };
  } catch {
    return { kind: "unknown" };
  }
}

const SIMPLE: Record<string, TypeInfo["kind"]> = {
  int: "int",
  float: "float",
  str: "str",
  bool: "bool",
  bytes: "binary",
  none: "none",
  nonetype: "none",
  datetime: "datetime",
  date: "datetime",
  timedelta: "duration",
  flyteschema: "schema",
  any: "unknown",
  unknown: "unknown",
  error: "unknown",
  object: "unknown",
};

function named(raw: string, args: TypeInfo[], strings: string[], hasArgs: boolean): TypeInfo {
  const name = raw.split(".").pop() ?? raw;
  const lower = name.toLowerCase();
  const format = () => (strings[0] ? { format: strings[0] } : {});
  switch (lower) {
    case "list":
    case "sequence":
    case "set":
    case "frozenset":
    case "tuple":
    case "iterator":
      return { kind: "list", item: args[0] ?? { kind: "unknown" } };
    case "dict":
    case "mapping":
      return hasArgs ? { kind: "dict", value: args[1] ?? { kind: "unknown" } } : { kind: "struct" };
    case "optional":
      return args[0] ? { kind: "union", variants: [args[0], { kind: "none" }] } : { kind: "unknown" };
    case "union":
      return args.length > 0 ? { kind: "union", variants: args } : { kind: "unknown" };
    case "annotated":
      return args[0] ?? { kind: "unknown" };
    case "enum":
    case "literal":
      return { kind: "enum", choices: args.length === 0 ? strings : [] };
    case "flytefile":
      return { kind: "file", ...format() };
    case "flytedirectory":
      return { kind: "directory", ...format() };
    case "structureddataset":
    case "dataframe":
      return { kind: "structuredDataset", ...format() };
  }
  if (lower in SIMPLE) return { kind: SIMPLE[lower] };
  // type_string writes a dataclass or pydantic model as its class name
  return /^[A-Z]/.test(name) && !hasArgs ? { kind: "struct", title: name } : { kind: "unknown" };
}
