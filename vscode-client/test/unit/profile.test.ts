import * as assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import type * as vscode from "vscode";
import type { BackendStatus, ProjectsResult } from "../../src/protocol";
import {
  changedSettings,
  currentChoiceId,
  DeadlineError,
  describeBackend,
  describeStatus,
  findConfigFiles,
  namedChoices,
  profileChoices,
  readIniPlatform,
  readProfileSettings,
  readYamlAdmin,
  sameEndpoint,
  selectProfile,
  statusShows,
  updateTarget,
  validateEndpoint,
  withDeadline,
  type ConfigFile,
  type ProfileDeps,
  type ProfileKey,
  type ProfileSettings,
} from "../../src/profile";

const DEFAULTS: ProfileSettings = {
  backend: "auto",
  endpoint: null,
  insecure: null,
  configFile: null,
  project: "flytesnacks",
  domain: "development",
};

function status(over: Partial<BackendStatus> = {}): BackendStatus {
  return {
    endpoint: null,
    source: "none",
    setting: null,
    reachable: false,
    error: null,
    project: "flytesnacks",
    domain: "development",
    consoleUrl: null,
    configFile: null,
    local: { stateDir: "/cache/local", running: false, adminEndpoint: null, consoleUrl: null, pid: null },
    autoStart: true,
    ...over,
  };
}

describe("profile: endpoints", () => {
  it("accepts host:port, dns:/// targets and IP addresses", () => {
    for (const ok of ["localhost:30080", "flyte.example.com:443", "dns:///flyte.example.com:443", "dns:///flyte.example.com", "127.0.0.1:8089", "[::1]:30080", " my-host:1 "]) {
      assert.equal(validateEndpoint(ok), undefined, ok);
    }
  });

  it("says what to type instead for each kind of mistake", () => {
    assert.match(validateEndpoint("") ?? "", /host:port/);
    assert.match(validateEndpoint("https://flyte.example.com") ?? "", /Leave out the scheme/);
    assert.match(validateEndpoint("flyte.example.com:443/console") ?? "", /without a path/);
    assert.match(validateEndpoint("flyte.example.com") ?? "", /Add the port: flyte\.example\.com:443/);
    assert.match(validateEndpoint("localhost:70000") ?? "", /1–65535, got 70000/);
    assert.match(validateEndpoint("my host:80") ?? "", /my host is not a host name/);
    assert.match(validateEndpoint("a:b:c") ?? "", /port must be 1–65535, got b:c/);
  });
});

describe("profile: config files", () => {
  it("reads admin.endpoint and admin.insecure from a flytectl YAML file, not other blocks' endpoints", () => {
    const yaml = [
      "# flytectl config",
      "console:",
      "  endpoint: http://console.example.com",
      "admin:",
      "  # For GRPC endpoints you might want to use dns:///flyte.myexample.com",
      '  endpoint: "dns:///flyte.example.com:443"   # comment',
      "  authType: Pkce",
      "  insecure: false",
      "logger:",
      "  endpoint: nope",
    ].join("\n");
    assert.deepEqual(readYamlAdmin(yaml), { endpoint: "dns:///flyte.example.com:443", insecure: false });
    assert.deepEqual(readYamlAdmin("admin:\n    endpoint: localhost:30080\n    insecure: true\n"), { endpoint: "localhost:30080", insecure: true });
    assert.deepEqual(readYamlAdmin("storage:\n  type: s3\n"), { endpoint: null, insecure: null });
    assert.deepEqual(readYamlAdmin("admin: {endpoint: x}\n"), { endpoint: null, insecure: null });
  });

  it("reads [platform] url and insecure from a flytekit INI file", () => {
    const ini = "[sdk]\nurl = wrong\n[platform]\nurl = localhost:30081\ninsecure = True\n";
    assert.deepEqual(readIniPlatform(ini), { endpoint: "localhost:30081", insecure: true });
    assert.deepEqual(readIniPlatform("[aws]\nregion=x\n"), { endpoint: null, insecure: null });
  });

  describe("findConfigFiles", () => {
    let root: string;
    beforeEach(async () => {
      root = await mkdtemp(path.join(os.tmpdir(), "flyte-profile-"));
    });
    afterEach(() => rm(root, { recursive: true, force: true }));

    it("finds $FLYTECTL_CONFIG, the workspace's and the home's files, each with its endpoint", async () => {
      const home = path.join(root, "home");
      const ws = path.join(root, "ws");
      await mkdir(path.join(home, ".flyte"), { recursive: true });
      await mkdir(path.join(ws, ".flyte"), { recursive: true });
      await writeFile(path.join(home, ".flyte", "config.yaml"), "admin:\n  endpoint: dns:///prod.example.com\n");
      await writeFile(path.join(home, ".flyte", "config-dev.yaml"), "admin:\n  endpoint: dev.example.com:443\n");
      await writeFile(path.join(home, ".flyte", "config"), "[platform]\nurl=legacy:81\n");
      await writeFile(path.join(home, ".flyte", "notes.yaml"), "admin:\n  endpoint: not-a-config:1\n");
      await writeFile(path.join(ws, ".flyte", "config.yaml"), "admin:\n  endpoint: localhost:30080\n  insecure: true\n");
      await writeFile(path.join(ws, "flytekit.config"), "[platform]\nurl = ws:30081\n");
      await writeFile(path.join(root, "ci.yaml"), "admin:\n  endpoint: ci:1\n");
      const found = await findConfigFiles({ env: { FLYTECTL_CONFIG: path.join(root, "ci.yaml") }, home, folders: [{ name: "ws", path: ws }] });
      assert.deepEqual(
        found.map((f: ConfigFile) => [path.relative(root, f.path), f.origin, f.endpoint, f.insecure]),
        [
          ["ci.yaml", "$FLYTECTL_CONFIG", "ci:1", null],
          ["ws/flytekit.config", "workspace ws", "ws:30081", null],
          ["ws/.flyte/config.yaml", "workspace ws", "localhost:30080", true],
          ["home/.flyte/config", "home", "legacy:81", null],
          ["home/.flyte/config-dev.yaml", "home", "dev.example.com:443", null],
          ["home/.flyte/config.yaml", "home", "dns:///prod.example.com", null],
        ],
      );
    });

    it("finds nothing, without failing, when no folder exists and $FLYTECTL_CONFIG names a missing file", async () => {
      const found = await findConfigFiles({ env: { FLYTECTL_CONFIG: path.join(root, "missing.yaml") }, home: path.join(root, "nohome"), folders: [] });
      assert.deepEqual(found, []);
    });
  });
});

describe("profile: choices and changes", () => {
  const configs: ConfigFile[] = [{ path: "/home/u/.flyte/config.yaml", origin: "home", endpoint: "dns:///prod.example.com", insecure: null }];

  it("offers the local backend, the sandbox, each config file and an endpoint, marking the current one", () => {
    const choices = profileChoices(DEFAULTS, configs, "/home/u");
    assert.deepEqual(choices.map((c) => c.id), ["local", "sandbox", "config:/home/u/.flyte/config.yaml", "endpoint"]);
    assert.match(choices[0].label, /^\$\(check\) Local backend/);
    assert.match(choices[0].description ?? "", /^current/);
    assert.equal(choices[2].label, "~/.flyte/config.yaml");
    assert.equal(choices[2].detail, "dns:///prod.example.com");
    assert.ok(!choices.slice(1).some((c) => c.label.startsWith("$(check)")));
    // The local backend is chosen with flyte.backend = local (a discovered config file would win over "nothing
    // configured"); every other choice sets it back to auto.
    assert.deepEqual(choices[0].settings, { backend: "local", endpoint: null, insecure: null, configFile: null });
    assert.deepEqual(choices[1].settings, { backend: "auto", endpoint: "localhost:30080", insecure: true, configFile: null });
    assert.deepEqual(choices[2].settings, { backend: "auto", endpoint: null, insecure: null, configFile: "/home/u/.flyte/config.yaml" });
    assert.equal(choices[3].settings, undefined);
  });

  it("knows the current choice from the settings, listing a configured file that discovery did not find", () => {
    assert.equal(currentChoiceId({ ...DEFAULTS, endpoint: "dns:///localhost:30080", insecure: true }), "sandbox");
    assert.equal(currentChoiceId({ ...DEFAULTS, endpoint: "localhost:30080", insecure: false }), "endpoint");
    assert.equal(currentChoiceId({ ...DEFAULTS, backend: "local", endpoint: "prod:443", configFile: "/c.yaml" }), "local");
    const custom = profileChoices({ ...DEFAULTS, configFile: "/etc/flyte.yaml" }, configs, "/home/u");
    assert.equal(custom[2].id, "config:/etc/flyte.yaml");
    assert.match(custom[2].label, /^\$\(check\) \/etc\/flyte\.yaml/);
    const endpoint = profileChoices({ ...DEFAULTS, endpoint: "flyte.acme.io:443" }, [], "/home/u");
    assert.match(endpoint.at(-1)?.label ?? "", /^\$\(check\) Enter endpoint/);
    assert.match(endpoint.at(-1)?.description ?? "", /flyte\.acme\.io:443/);
  });

  it("writes only the settings that change", () => {
    assert.deepEqual(changedSettings(DEFAULTS, { endpoint: "localhost:30080", insecure: true, configFile: null }), [
      ["endpoint", "localhost:30080"],
      ["insecure", true],
    ]);
    assert.deepEqual(changedSettings(DEFAULTS, { backend: "auto", endpoint: null, configFile: null }), []);
    assert.deepEqual(changedSettings({ ...DEFAULTS, backend: "local" }, { backend: "auto", project: "flytesnacks" }), [["backend", "auto"]]);
    assert.deepEqual(changedSettings(DEFAULTS, { backend: "local", endpoint: null }), [["backend", "local"]]);
  });

  it("reads settings with their defaults, ignoring blank and mistyped values", () => {
    const values: Record<string, unknown> = { endpoint: "  ", insecure: "yes", project: "ml", backend: "cluster" };
    assert.deepEqual(readProfileSettings((k) => values[k]), { ...DEFAULTS, project: "ml" });
    assert.equal(readProfileSettings((k) => (k === "backend" ? "local" : undefined)).backend, "local");
  });

  it("lists projects with the current one first and marked, keeping it when the backend gave none", () => {
    const items = namedChoices([{ id: "a", name: "A" }, { id: "ml", name: "ml" }], "ml", "project");
    assert.deepEqual(items.map((i) => i.id), ["ml", "a", null]);
    assert.equal(items[0].label, "$(check) ml");
    assert.equal(items[1].description, "A");
    assert.equal(items[2].label, "Enter project…");
    const none = namedChoices(null, "ml", "project", "The backend did not list its projects: down");
    assert.deepEqual(none.map((i) => i.id), ["ml", null]);
    assert.match(none[0].detail ?? "", /down/);
  });

  it("updates the folder's own settings when it has them, else the workspace's, else the user's", () => {
    assert.equal(updateTarget({ workspaceFolderValue: "x" }, true, true), "WorkspaceFolder");
    assert.equal(updateTarget({ workspaceFolderValue: undefined }, true, true), "Workspace");
    assert.equal(updateTarget(undefined, false, false), "Global");
  });

  it("recognises when the server reports the backend just chosen", () => {
    assert.ok(statusShows(status({ endpoint: "127.0.0.1:30080" }), { ...DEFAULTS, endpoint: "dns:///localhost:30080" }));
    assert.ok(!statusShows(status({ endpoint: "prod:443" }), { ...DEFAULTS, endpoint: "localhost:30080" }));
    assert.ok(statusShows(status({ configFile: "/c.yaml", endpoint: "x:1" }), { ...DEFAULTS, configFile: "/c.yaml" }));
    assert.ok(statusShows(status({ source: "from /c.yaml, setting flyte.configFile" }), { ...DEFAULTS, configFile: "/c.yaml" }));
    // the local backend: once the source is no longer the endpoint or config-file setting
    assert.ok(!statusShows(status({ endpoint: "prod:443", source: "setting flyte.endpoint" }), DEFAULTS));
    assert.ok(!statusShows(status({ configFile: "/old.yaml", source: "from /old.yaml, setting flyte.configFile" }), DEFAULTS));
    assert.ok(statusShows(status(), DEFAULTS));
    assert.ok(statusShows(status({ endpoint: "localhost:30080", source: "sandbox localhost:30080" }), DEFAULTS));
    assert.ok(statusShows(status({ configFile: "/h/.flyte/config.yaml", source: "from /h/.flyte/config.yaml, found by flytekit's config discovery" }), DEFAULTS));
    // the local backend chosen by flyte.backend: only a status whose setting is flyte.backend (running or not)
    const chosen = status({ source: "local backend chosen by flyte.backend (flyte-ls local, state in /c)", setting: "flyte.backend" });
    const LOCAL: ProfileSettings = { ...DEFAULTS, backend: "local" };
    assert.ok(statusShows(chosen, LOCAL));
    assert.ok(statusShows({ ...chosen, endpoint: "127.0.0.1:4000", reachable: true }, LOCAL));
    assert.ok(!statusShows(status({ configFile: "/h/.flyte/config.yaml", source: "from /h/.flyte/config.yaml, found by flytekit's config discovery", setting: "flyte.endpoint or flyte.configFile (or edit /h/.flyte/config.yaml)" }), LOCAL));
    assert.ok(!statusShows(status({ source: "local backend (flyte-ls local, state in /c)", setting: "flyte.endpoint" }), LOCAL));
    // ... and any other choice: not while the server still reports the one flyte.backend chose
    assert.ok(!statusShows(chosen, DEFAULTS));
    assert.ok(!statusShows({ ...chosen, endpoint: "127.0.0.1:4000" }, { ...DEFAULTS, endpoint: "127.0.0.1:4000" }));
    // and the project and domain chosen
    assert.ok(!statusShows(status(), { ...DEFAULTS, domain: "staging" }));
    assert.ok(statusShows(status({ project: "ml", domain: "staging" }), { ...DEFAULTS, project: "ml", domain: "staging" }));
  });

  it("names the backend the server reports, the local one chosen by flyte.backend as such", () => {
    const chosen = status({ source: "local backend chosen by flyte.backend (flyte-ls local, state in /c)", setting: "flyte.backend" });
    assert.equal(describeStatus(chosen), "local backend (chosen by flyte.backend)");
    assert.equal(describeStatus({ ...chosen, endpoint: "127.0.0.1:4000" }), "local backend at 127.0.0.1:4000 (chosen by flyte.backend)");
    assert.equal(describeStatus(status({ endpoint: "prod:443", source: "setting flyte.endpoint" })), "prod:443 (setting flyte.endpoint)");
    assert.equal(describeBackend({ ...DEFAULTS, backend: "local", endpoint: "prod:443" }, "/home/u"), "local backend");
    assert.equal(describeBackend({ ...DEFAULTS, configFile: "/home/u/c.yaml" }, "/home/u"), "~/c.yaml");
  });

  it("compares endpoints with or without dns:/// and localhost or 127.0.0.1", () => {
    assert.ok(sameEndpoint("dns:///localhost:30080", "127.0.0.1:30080"));
    assert.ok(sameEndpoint("Flyte.Example.com:443", "dns:///flyte.example.com:443"));
    assert.ok(!sameEndpoint("localhost:30080", "localhost:30081"));
    assert.ok(!sameEndpoint("mylocalhost:1", "localhost:1"));
    assert.ok(!sameEndpoint(null, null));
  });

  it("gives up waiting at the deadline", async () => {
    const never = new Promise<number>(() => undefined);
    const started = Date.now();
    await assert.rejects(withDeadline(never, 30, "flyte/x"), (e: unknown) => e instanceof DeadlineError && /flyte\/x did not answer within 0\.03 s/.test((e as Error).message));
    assert.ok(Date.now() - started < 1000);
    assert.equal(await withDeadline(Promise.resolve(3), 30, "x"), 3);
  });
});

// ---- the flow -----------------------------------------------------------------------------------------------

type Pick = (items: readonly vscode.QuickPickItem[], options?: vscode.QuickPickOptions) => vscode.QuickPickItem | undefined;
type Input = (options?: vscode.InputBoxOptions) => string | undefined;

interface Harness {
  deps: ProfileDeps;
  settings: Map<ProfileKey, unknown>;
  updates: [ProfileKey, unknown][];
  requests: string[];
  picks: { items: readonly vscode.QuickPickItem[]; options?: vscode.QuickPickOptions }[];
  inputs: (vscode.InputBoxOptions | undefined)[];
  warnings: string[];
}

/** What a server that applied `settings` reports. */
function applied(settings: Map<ProfileKey, unknown>): BackendStatus {
  if (settings.get("backend") === "local") return status({ source: "local backend chosen by flyte.backend (flyte-ls local, state in /c)", setting: "flyte.backend" });
  return status({ endpoint: (settings.get("endpoint") as string | null) ?? null, configFile: (settings.get("configFile") as string | null) ?? null });
}

function harness(opts: {
  picks: Pick[];
  inputs?: Input[];
  settings?: Partial<ProfileSettings>;
  status?: (settings: Map<ProfileKey, unknown>) => BackendStatus;
  projects?: () => Promise<ProjectsResult>;
  configs?: ConfigFile[];
}): Harness {
  const settings = new Map<ProfileKey, unknown>(Object.entries({ ...DEFAULTS, ...opts.settings }) as [ProfileKey, unknown][]);
  const h: Harness = { settings, updates: [], requests: [], picks: [], inputs: [], warnings: [], deps: undefined as unknown as ProfileDeps };
  const picks = [...opts.picks];
  const inputs = [...(opts.inputs ?? [])];
  h.deps = {
    home: "/home/u",
    settleMs: 2000,
    get: (key) => settings.get(key),
    update: async (key, value) => {
      h.updates.push([key, value]);
      settings.set(key, value);
    },
    configFiles: async () => opts.configs ?? [],
    host: {
      log: { info: () => undefined, warn: (m: string) => h.warnings.push(m), error: () => undefined },
      sendRequest: (async (method: string, params: unknown) => {
        h.requests.push(method);
        if (method === "flyte/backendStatus") assert.deepEqual(params, { refresh: true });
        if (method === "flyte/backendStatus") {
          const now = { project: settings.get("project") as string, domain: settings.get("domain") as string };
          return { ...(opts.status ? opts.status(settings) : applied(settings)), ...now };
        }
        if (method === "flyte/projects") {
          return opts.projects ? opts.projects() : { projects: [{ id: "flytesnacks", name: "flytesnacks" }, { id: "ml", name: "Machine learning" }], domains: [{ id: "development", name: "development" }, { id: "staging", name: "staging" }] };
        }
        throw new Error(`unexpected ${method}`);
      }) as ProfileDeps["host"]["sendRequest"],
    },
    ui: {
      showQuickPick: (async (items: readonly vscode.QuickPickItem[] | Thenable<readonly vscode.QuickPickItem[]>, options?: vscode.QuickPickOptions) => {
        const resolved = await items;
        h.picks.push({ items: resolved, options });
        const answer = picks.shift();
        assert.ok(answer, `unexpected QuickPick ${options?.title}`);
        return answer(resolved, options);
      }) as ProfileDeps["ui"]["showQuickPick"],
      showInputBox: async (options) => {
        h.inputs.push(options);
        const answer = inputs.shift();
        assert.ok(answer, `unexpected InputBox ${options?.title}`);
        return answer(options);
      },
    },
  };
  return h;
}

const byId = (id: string | null): Pick => (items) => items.find((i) => (i as { id?: string | null }).id === id);
const byLabel = (re: RegExp): Pick => (items) => items.find((i) => re.test(i.label));
const escape: Pick = () => undefined;

describe("selectProfile", () => {
  it("switches to the sandbox, waits until the server reports it, then sets the project and domain it lists", async () => {
    let statusCalls = 0;
    const h = harness({
      picks: [byId("sandbox"), byId("ml"), byId("staging")],
      status: (s) => {
        statusCalls += 1; // the server applies the new endpoint on its second look
        return status({ endpoint: statusCalls > 1 ? (s.get("endpoint") as string) : null });
      },
    });
    const changes = await selectProfile(h.deps);
    assert.deepEqual(h.updates, [
      ["endpoint", "localhost:30080"],
      ["insecure", true],
      ["project", "ml"],
      ["domain", "staging"],
    ]);
    assert.deepEqual(changes, h.updates);
    // the server shows the endpoint on its second look; then projects; then the new project and domain
    assert.deepEqual(h.requests, ["flyte/backendStatus", "flyte/backendStatus", "flyte/projects", "flyte/backendStatus"]);
    assert.match(h.picks[1].options?.title ?? "", /2\/3.*project/);
    assert.deepEqual(h.picks[1].items.map((i) => i.label), ["$(check) flytesnacks", "ml", "Enter project…"]);
  });

  it("asks for an endpoint with validation and for TLS or plaintext, TLS first for a remote host", async () => {
    const h = harness({
      picks: [byId("endpoint"), byLabel(/^TLS/), escape],
      inputs: [(o) => {
        assert.equal(o?.validateInput?.("nope"), validateEndpoint("nope") as unknown);
        return " flyte.acme.io:443 ";
      }],
    });
    const changes = await selectProfile(h.deps);
    assert.deepEqual(h.picks[1].items.map((i) => i.label), ["TLS", "Plaintext (insecure)"]);
    assert.deepEqual(changes, [
      ["endpoint", "flyte.acme.io:443"],
      ["insecure", false],
    ]);
    assert.equal(h.settings.get("project"), "flytesnacks"); // Escape at the project keeps it
  });

  it("writes nothing when the backend step is cancelled", async () => {
    for (const h of [harness({ picks: [escape] }), harness({ picks: [byId("endpoint")], inputs: [() => undefined] })]) {
      assert.equal(await selectProfile(h.deps), undefined);
      assert.deepEqual(h.updates, []);
      assert.deepEqual(h.requests, []);
    }
  });

  it("keeps the current project on offer when the backend does not list projects, and takes a typed one", async () => {
    const h = harness({
      settings: { backend: "local" },
      picks: [byId("local"), byId(null), byId("development")],
      inputs: [(o) => {
        assert.equal(o?.value, "flytesnacks");
        assert.match(String(o?.validateInput?.("a b")), /letters, digits/);
        return "analytics";
      }],
      projects: async () => {
        throw new Error("UNAVAILABLE: connection refused; check flyte.endpoint");
      },
    });
    const changes = await selectProfile(h.deps);
    assert.deepEqual(changes, [["project", "analytics"]]);
    assert.deepEqual(h.picks[1].items.map((i) => i.label), ["$(check) flytesnacks", "Enter project…"]);
    assert.match(h.picks[1].items[0].detail ?? "", /connection refused/);
    assert.deepEqual(h.picks[2].items.map((i) => i.label), ["$(check) development", "staging", "production", "Enter domain…"]);
    assert.equal(h.warnings.length, 1);
    assert.deepEqual(h.requests, ["flyte/projects", "flyte/backendStatus"]); // the backend unchanged: no wait before projects
  });

  it("offers the config files found and switches to one, clearing the endpoint", async () => {
    const h = harness({
      settings: { endpoint: "localhost:30080", insecure: true },
      configs: [{ path: "/home/u/.flyte/config.yaml", origin: "home", endpoint: "dns:///prod", insecure: null }],
      picks: [byId("config:/home/u/.flyte/config.yaml"), escape],
    });
    const changes = await selectProfile(h.deps);
    assert.deepEqual(changes, [
      ["endpoint", null],
      ["insecure", null],
      ["configFile", "/home/u/.flyte/config.yaml"],
    ]);
    assert.match(h.picks[0].items[1].label, /^\$\(check\) Sandbox/);
  });

  it("chooses the local backend over a config file flytekit discovers, and waits until the server reports it", async () => {
    const home = "/home/u/.flyte/config.yaml";
    const discovered = status({ endpoint: "dns:///prod.example.com", configFile: home, source: `from ${home}, found by flytekit's config discovery`, setting: `flyte.endpoint or flyte.configFile (or edit ${home})` });
    const chosen = status({ source: "local backend chosen by flyte.backend (flyte-ls local, state in /c)", setting: "flyte.backend", error: "not running: the first Run or Register starts it" });
    let looks = 0;
    const h = harness({
      settings: { endpoint: "prod:443", insecure: false },
      configs: [{ path: home, origin: "home", endpoint: "dns:///prod.example.com", insecure: null }],
      picks: [byId("local"), escape],
      status: (s) => (s.get("backend") === "local" && ++looks > 1 ? chosen : discovered), // applied on the second look
    });
    const changes = await selectProfile(h.deps);
    assert.deepEqual(changes, [
      ["backend", "local"],
      ["endpoint", null],
      ["insecure", null],
    ]);
    assert.deepEqual(h.requests, ["flyte/backendStatus", "flyte/backendStatus", "flyte/projects"]);

    // From there, any other choice sets flyte.backend back to auto; the local backend is marked current.
    const back = harness({ settings: { backend: "local" }, configs: [{ path: home, origin: "home", endpoint: null, insecure: null }], picks: [byId(`config:${home}`), escape] });
    assert.deepEqual(await selectProfile(back.deps), [
      ["backend", "auto"],
      ["configFile", home],
    ]);
    assert.match(back.picks[0].items[0].label, /^\$\(check\) Local backend/);
    const sandbox = harness({ settings: { backend: "local" }, picks: [byId("sandbox"), escape] });
    assert.deepEqual(await selectProfile(sandbox.deps), [
      ["backend", "auto"],
      ["endpoint", "localhost:30080"],
      ["insecure", true],
    ]);
  });

  it("stops waiting for the server after settleMs and still asks for projects", async () => {
    const h = harness({ picks: [byId("sandbox"), escape], status: () => status({ endpoint: "old:1" }) });
    h.deps.settleMs = 300;
    const started = Date.now();
    await selectProfile(h.deps);
    assert.ok(Date.now() - started < 2000);
    assert.equal(h.requests.at(-1), "flyte/projects");
    assert.ok(h.requests.filter((r) => r === "flyte/backendStatus").length >= 2);
  });
});
