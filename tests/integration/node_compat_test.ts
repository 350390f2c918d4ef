/**
 * On Linux a daemon imports no `node:` module: the first one initialises Deno's Node compatibility
 * layer, several MiB in every daemon (docs/benchmarks.md, "Daemon footprint"). X25519, Ed25519,
 * HMAC, SHA-256 and AES go to libcrypto, the packet CRC to zlib, both over FFI
 * (lib/crypto/primitives.ts, lib/protocol/crc32_native.ts), and paths to lib/paths.ts. Checked
 * from outside: the daemon runs under the V8 inspector through a key exchange, a ping and a bench,
 * and the scripts it parsed are compared with those of an empty `deno run` script.
 */
import { assert, assertEquals } from "../assert.ts";
import { TestNetwork } from "../helpers/network.ts";
import { runPilot, setPilotLaunch } from "../helpers/pilot.ts";
import { libcryptoUnavailable } from "../../lib/crypto/libcrypto_loader.ts";

const INSPECTOR_LINE = /Debugger listening on (ws:\/\/\S+)/;
const COLLECT_MS = 1500;

/** The URLs of every script the inspected process has parsed so far. */
async function parsedScripts(wsUrl: string): Promise<Set<string>> {
  const ws = new WebSocket(wsUrl);
  const urls = new Set<string>();
  ws.onmessage = (e) => {
    const msg = JSON.parse(String(e.data));
    if (msg.method === "Debugger.scriptParsed") urls.add(String(msg.params.url));
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`cannot reach the inspector at ${wsUrl}`));
  });
  ws.send(JSON.stringify({ id: 1, method: "Debugger.enable" }));
  await new Promise((r) => setTimeout(r, COLLECT_MS));
  const closed = new Promise((r) => ws.onclose = r);
  ws.close();
  await closed;
  return urls;
}

/** The Node compatibility scripts among `urls` (node: built-ins run from ext:deno_node). */
function nodeScripts(urls: Set<string>): string[] {
  return [...urls].filter((u) => u.startsWith("ext:deno_node") || u.startsWith("node:")).sort();
}

async function inspectorUrl(lines: string[]): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const hit = lines.map((l) => INSPECTOR_LINE.exec(l)).find((m) => m);
    if (hit) return hit[1];
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no inspector line in stderr:\n${lines.join("\n")}`);
}

/** What an empty script's runtime parses anyway (Deno loads part of the layer for itself). */
async function baselineNodeScripts(): Promise<string[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--inspect=127.0.0.1:0", "-", "--"],
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("await new Promise((r) => setTimeout(r, 60_000));\n"));
  await writer.close();
  const lines: string[] = [];
  const reading = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      lines.push(...chunk.split("\n"));
    }
  })();
  try {
    return nodeScripts(await parsedScripts(await inspectorUrl(lines)));
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await reading;
  }
}

Deno.test({
  name: "a Linux daemon loads no node: module through a handshake, a ping and a bench",
  ignore: libcryptoUnavailable() !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const baseline = await baselineNodeScripts();
    const net = await TestNetwork.start();
    try {
      const b = await net.addDaemon("b", ["--public"]);
      setPilotLaunch(undefined, ["--inspect=127.0.0.1:0"]);
      const a = await net.addDaemon("a", ["--public"]).finally(() => setPilotLaunch());
      const ping = await runPilot(["ping", b.address, "--count", "2", "--socket", a.socket, "--json"]);
      assertEquals(ping.code, 0, ping.stdout + ping.stderr);
      const bench = await runPilot(["bench", b.address, "1", "--socket", a.socket, "--json"]);
      assertEquals(bench.code, 0, bench.stdout + bench.stderr);
      const scripts = await parsedScripts(await inspectorUrl(a.process.stderrLines));
      assert(scripts.size > 20, `the inspector listed only ${scripts.size} scripts`);
      assertEquals(nodeScripts(scripts), baseline, "the daemon pulled in Node compatibility modules");
    } finally {
      await net.close();
    }
  },
});
