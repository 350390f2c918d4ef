/**
 * The import boundaries of docs/architecture.md, checked on the real import graph: every static
 * import and re-export in lib/ and mod.ts is read, and a module that reaches into a layer it may
 * not depend on fails the test with the offending file and line.
 */
import { assert } from "./assert.ts";

const ROOT = new URL("../", import.meta.url);

/**
 * Who may import whom, by the first path segment under lib/ (a top-level file such as
 * lib/bytes.ts counts as the layer "bytes"). A layer may always import itself. An entry
 * `layer/file.ts` allows one pure module of a higher layer (a wire codec) without the rest of it.
 */
export const ALLOWED: Record<string, readonly string[]> = {
  // Base helpers: no dependencies inside the project beyond each other.
  bytes: [],
  errors: [],
  version: [],
  paths: [],
  ffi: [],
  aligned_timer: [],
  log: ["errors"],
  net: ["errors", "bytes", "log"],
  // Pure codecs and primitives.
  protocol: ["errors", "bytes", "ffi"],
  crypto: ["errors", "bytes", "paths", "ffi"],
  http: ["errors", "bytes", "log", "version", "crypto/primitives.ts"],
  ipc: ["errors", "bytes", "protocol"],
  // The data path below the daemon.
  transport: ["errors", "bytes", "log", "net", "protocol"],
  tunnel: ["errors", "bytes", "ffi", "log", "net", "protocol", "crypto", "beacon/messages.ts"],
  // Servers and clients that run on their own.
  registry: [
    "errors",
    "bytes",
    "paths",
    "log",
    "net",
    "protocol",
    "crypto",
    "http",
    "version",
    "aligned_timer",
  ],
  beacon: [
    "errors",
    "bytes",
    "log",
    "net",
    "protocol",
    "crypto",
    "http",
    "version",
    "registry",
    "aligned_timer",
  ],
  // Services depend on a ServiceContext, never on the daemon or the SDK.
  services: [
    "errors",
    "bytes",
    "paths",
    "log",
    "net",
    "protocol",
    "crypto",
    "http",
    "transport",
    "registry",
  ],
  // The SDK talks to a daemon over IPC only. Of lib/services it may use the parts a client and a
  // server share (wire codecs, the secure channel's handshake, task records and the task folder),
  // never a service's runtime (service.ts, server.ts, install.ts, broker.ts, mailbox.ts).
  sdk: [
    "errors",
    "bytes",
    "paths",
    "log",
    "protocol",
    "ipc",
    "services/byte_stream_shape.ts",
    "services/stream_reader.ts",
    "services/byte_budget.ts",
    "services/*/codec.ts",
    "services/*/chunked_codec.ts",
    "services/*/filename.ts",
    "services/eventstream/io.ts",
    "services/nameserver/exchange.ts",
    "services/secure/channel.ts",
    "services/secure/auth.ts",
    "services/tasks/protocol.ts",
    "services/tasks/record.ts",
    "services/tasks/store.ts",
  ],
  // The daemon wires everything except the SDK and the CLI.
  daemon: [
    "errors",
    "bytes",
    "ffi",
    "paths",
    "log",
    "net",
    "protocol",
    "crypto",
    "http",
    "ipc",
    "transport",
    "tunnel",
    "registry",
    "beacon",
    "services",
    "version",
    "gateway",
    "aligned_timer",
  ],
  gateway: ["errors", "bytes", "paths", "log", "net", "protocol", "http", "ipc", "transport", "services"],
};

/** mod.ts is the SDK surface: it may re-export the SDK and the layers below it, never servers. */
const MOD_ALLOWED = ["errors", "version", "protocol", "ipc", "sdk"];

interface Import {
  readonly from: string; // repo-relative path of the importing file
  readonly line: number;
  readonly to: string; // repo-relative path of the imported file
}

async function* sourceFiles(dir: URL, rel: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${rel}/${entry.name}`;
    if (entry.isDirectory) yield* sourceFiles(new URL(`${entry.name}/`, dir), path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

/** Static imports, re-exports and dynamic imports with a literal relative specifier. */
const IMPORT_RE = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']+)["']/gm;

/** Blanks block comments (JSDoc examples import mod.ts) but keeps the line numbers. */
function withoutBlockComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " "));
}

async function importsOf(file: string): Promise<Import[]> {
  const text = withoutBlockComments(await Deno.readTextFile(new URL(file, ROOT)));
  const out: Import[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const line = text.slice(0, m.index).split("\n").length;
    const target = new URL(m[1], new URL(file, ROOT)).pathname.slice(ROOT.pathname.length);
    out.push({ from: file, line, to: target });
  }
  return out;
}

/** "lib/services/trust/codec.ts" → { layer: "services", rest: "trust/codec.ts" }. */
function layerOf(path: string): { layer: string; rest: string } | undefined {
  const m = /^lib\/([^/]+?)(?:\.ts$|\/(.*))/.exec(path);
  if (!m) return undefined;
  return { layer: m[1], rest: m[2] ?? "" };
}

function allows(rules: readonly string[], to: { layer: string; rest: string }): boolean {
  return rules.some((rule) => {
    const slash = rule.indexOf("/");
    if (slash < 0) return rule === to.layer;
    if (rule.slice(0, slash) !== to.layer) return false;
    const pattern = new RegExp(`^${rule.slice(slash + 1).replaceAll(".", "\\.").replaceAll("*", "[^/]+")}$`);
    return pattern.test(to.rest);
  });
}

/** Test doubles and tests may reach anywhere; the boundary is for shipped code. */
function isTestCode(path: string): boolean {
  return path.endsWith("_test.ts") || path.endsWith("_bench.ts") || path.includes("/testing/");
}

export async function violations(): Promise<string[]> {
  const found: string[] = [];
  const files = [];
  for await (const f of sourceFiles(new URL("lib/", ROOT), "lib")) files.push(f);
  for (const file of files) {
    if (isTestCode(file)) continue;
    const from = layerOf(file)!;
    const rules = ALLOWED[from.layer];
    if (!rules) {
      found.push(`${file}: layer "${from.layer}" is not in the table of tests/architecture_test.ts`);
      continue;
    }
    for (const imp of await importsOf(file)) {
      if (imp.to.startsWith("cli/") || imp.to === "main.ts" || imp.to === "mod.ts") {
        found.push(`${file}:${imp.line} imports ${imp.to}: lib/ never imports the CLI or the entry points`);
        continue;
      }
      const to = layerOf(imp.to);
      if (!to || to.layer === from.layer) continue;
      if (!allows(rules, to)) {
        found.push(`${file}:${imp.line} (${from.layer}) imports ${imp.to} (${to.layer})`);
      }
    }
  }
  for (const imp of await importsOf("mod.ts")) {
    const to = layerOf(imp.to);
    if (to && !allows(MOD_ALLOWED, to)) found.push(`mod.ts:${imp.line} exports from ${imp.to}`);
  }
  return found;
}

Deno.test("architecture: every import in lib/ and mod.ts respects the layer table", async () => {
  const found = await violations();
  assert(found.length === 0, `imports across a layer boundary:\n  ${found.join("\n  ")}`);
});

Deno.test("architecture: the checker catches an upward import", () => {
  assert(!allows(ALLOWED.sdk, { layer: "daemon", rest: "ipc/server.ts" }), "sdk → daemon must be refused");
  assert(
    allows(ALLOWED.sdk, { layer: "services", rest: "trust/codec.ts" }),
    "sdk → a service codec is allowed",
  );
  assert(
    !allows(ALLOWED.sdk, { layer: "services", rest: "trust/service.ts" }),
    "sdk → a service runtime refused",
  );
  assert(
    !allows(ALLOWED.protocol, { layer: "tunnel", rest: "tunnel.ts" }),
    "protocol → tunnel must be refused",
  );
  assert(
    allows(ALLOWED.tunnel, { layer: "beacon", rest: "messages.ts" }) &&
      !allows(ALLOWED.tunnel, { layer: "beacon", rest: "server.ts" }),
    "tunnel may use the beacon's message codec only",
  );
});
