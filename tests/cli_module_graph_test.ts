/**
 * A `pilot` command that only talks to the local daemon over IPC starts without loading the crypto
 * primitives (libcrypto over FFI, or node:crypto) or any `node:` module: cron health checks run
 * these on small machines, where each costs start-up time and resident memory (docs/benchmarks.md,
 * "CLI start-up"). Checked on the real import graph (`deno info --json`): from each command's
 * module, every static import is followed; the dynamic imports are the commands' own lazy loads.
 */
import { assert, assertEquals } from "./assert.ts";

const ROOT = new URL("../", import.meta.url);

/** Command modules that need cryptography or the Node layer for what they do. */
const HEAVY_COMMANDS = new Set([
  "up.ts", // runs a registry, a beacon and a daemon
  "daemon.ts",
  "registry.ts",
  "beacon.ts",
  "gateway.ts",
  "nameserver.ts", // runs a daemon
  "identity.ts", // creates and reads keys
  "rotate_key.ts", // signs with the old and new keys
  "dataexchange.ts", // hashes files it sends
]);

/** What a light command must not reach. */
const FORBIDDEN = [/\/lib\/ffi\.ts$/, /\/lib\/crypto\/primitives\.ts$/, /^node:/];

interface InfoModule {
  specifier: string;
  dependencies?: { specifier: string; isDynamic?: boolean; code?: { specifier: string } }[];
}

async function moduleGraph(entry: string): Promise<Map<string, InfoModule>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(entry, ROOT).pathname],
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: InfoModule[] };
  return new Map(info.modules.map((m) => [m.specifier, m]));
}

function dependencies(m: InfoModule | undefined, dynamic: boolean): string[] {
  return (m?.dependencies ?? [])
    .filter((d) => Boolean(d.isDynamic) === dynamic && d.code)
    .map((d) => d.code!.specifier);
}

/** Every module `from` reaches through static imports, with the importer that first reached it. */
function staticClosure(graph: Map<string, InfoModule>, from: string): Map<string, string> {
  const via = new Map<string, string>([[from, ""]]);
  const queue = [from];
  while (queue.length > 0) {
    const spec = queue.shift()!;
    for (const dep of dependencies(graph.get(spec), false)) {
      if (!via.has(dep)) {
        via.set(dep, spec);
        queue.push(dep);
      }
    }
  }
  return via;
}

function chain(via: Map<string, string>, to: string): string {
  const steps: string[] = [];
  for (let s: string | undefined = to; s; s = via.get(s)) steps.unshift(s.replace(ROOT.href, ""));
  return steps.join(" -> ");
}

Deno.test("commands that only talk to the daemon load no crypto primitives, FFI or node: module", async () => {
  const graph = await moduleGraph("cli/commands.ts");
  const table = graph.get(new URL("cli/commands.ts", ROOT).href);
  const commandModules = [...new Set(dependencies(table, true))];
  assert(commandModules.length > 20, `only ${commandModules.length} command modules found`);
  const light = commandModules.filter((m) => !HEAVY_COMMANDS.has(m.split("/").pop()!));
  assert(light.some((m) => m.endsWith("/cli/status.ts")), "pilot info's module is not among the light ones");
  const offences: string[] = [];
  for (const module of light) {
    const via = staticClosure(graph, module);
    for (const reached of via.keys()) {
      if (FORBIDDEN.some((f) => f.test(reached))) offences.push(chain(via, reached));
    }
  }
  assertEquals(offences, [], "a light command loads what it does not need");
});
