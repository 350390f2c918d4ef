/**
 * The two sides bench/compare_bench.ts measures, behind one interface: ours (`pilot` subprocesses,
 * through tests/helpers/network.ts) and another implementation given as a directory of binaries
 * (`daemon`, `pilotctl`, `registry`, `beacon`, with the Go reference's flags). Every process listens
 * on 127.0.0.1 only; the other implementation is always given loopback registry and beacon addresses,
 * since its defaults point at a public host.
 * @module
 */
import { startPilot, type TestDaemon, TestNetwork } from "../../tests/helpers/network.ts";
import { runPilot } from "../../tests/helpers/pilot.ts";
import { DAEMON_ENV, DAEMON_V8_FLAGS, REGISTRY_V8_FLAGS } from "../../cli/daemon_process.ts";
import type { SigningMode } from "../../lib/registry/client_signing.ts";
import { settleQuietly } from "../../lib/errors.ts";

/** Two daemons that can reach each other, A dialling B. */
export interface DaemonPair {
  pids: [number, number];
  /** `ping B` from A with `count` probes (a dial per probe); the rtt of each answered probe, in ms. */
  ping(count: number): Promise<number[]>;
  /** `bench B mib` from A; its round-trip MiB/s (`total_mbps`). */
  bench(mib: number): Promise<number>;
  close(): Promise<void>;
}

/** A registry to load. */
export interface RegistryUnderTest {
  address: string;
  pid: number;
  /** How its clients sign requests. */
  signing: SigningMode;
  close(): Promise<void>;
}

export interface Implementation {
  name: string;
  startDaemons(): Promise<DaemonPair>;
  startRegistry(): Promise<RegistryUnderTest>;
}

const BENCH_TIMEOUT_MS = 900_000;

interface PingJson {
  results?: { rtt_ms?: number; error?: string }[];
}

function answeredRtts(json: string): number[] {
  const data = JSON.parse(json).data as PingJson;
  return (data.results ?? []).filter((r) => r.error === undefined && r.rtt_ms !== undefined)
    .map((r) => r.rtt_ms!);
}

function benchMbps(json: string): number {
  return Number(JSON.parse(json).data.total_mbps);
}

// ---- ours ----

/** Ours: `pilot` registry and daemons, the daemons with the environment `pilot daemon start` gives them. */
export const ours: Implementation = {
  name: "ours",
  async startDaemons() {
    const net = await TestNetwork.start(["--memory"]);
    const env = { ...DAEMON_ENV, DENO_V8_FLAGS: DAEMON_V8_FLAGS.join(",") };
    let a: TestDaemon, b: TestDaemon;
    try {
      a = await net.addDaemon("a", ["--public"], env);
      b = await net.addDaemon("b", ["--public"], env);
    } catch (err) {
      await net.close();
      throw err;
    }
    const run = async (args: string[]) => {
      const r = await runPilot([...args, "--socket", a.socket, "--json"], { timeoutMs: BENCH_TIMEOUT_MS });
      if (r.code !== 0) throw new Error(`pilot ${args[0]} failed (${r.code}): ${r.stdout}${r.stderr}`);
      return r.stdout;
    };
    return {
      pids: [a.process.child.pid, b.process.child.pid],
      ping: async (count) => answeredRtts(await run(["ping", b.address, "--count", String(count)])),
      bench: async (mib) => benchMbps(await run(["bench", b.address, String(mib)])),
      close: () => net.close(),
    };
  },
  async startRegistry() {
    const dir = await Deno.makeTempDir({ prefix: "pilot-compare-" });
    // As deno.json's registry task starts it (cli/daemon_process.ts).
    const p = await startPilot([
      "registry",
      "--listen",
      "127.0.0.1:0",
      "--state",
      dir,
      "--rate-limit",
      "off",
    ], { ...DAEMON_ENV, DENO_V8_FLAGS: REGISTRY_V8_FLAGS.join(",") });
    return {
      address: String(p.ready.listen),
      pid: p.child.pid,
      signing: "strict",
      close: async () => {
        await p.stop();
        await settleQuietly(Deno.remove(dir, { recursive: true }), "cleanup");
      },
    };
  },
};

// ---- another implementation's binaries ----

/**
 * A loopback port that was free a moment ago (bound over TCP and released; Deno's UDP listener is
 * unstable, and a TCP-free port is almost always UDP-free too).
 */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A child whose output is drained into a bounded tail, shown when something fails. */
class Child {
  readonly tail: string[] = [];
  readonly process: Deno.ChildProcess;

  constructor(readonly name: string, path: string, args: string[]) {
    this.process = new Deno.Command(path, { args, stdin: "null", stdout: "piped", stderr: "piped" }).spawn();
    for (const s of [this.process.stdout, this.process.stderr]) void this.#drain(s);
  }

  async #drain(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      this.tail.push(...text.split("\n").filter((l) => l));
      if (this.tail.length > 200) this.tail.splice(0, this.tail.length - 200);
    }
  }

  async stop(): Promise<void> {
    try {
      this.process.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.process.status;
  }
}

async function untilReady<T>(what: string, child: Child, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline) {
    const value = await attempt();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not ready after 30 s:\n${child.tail.join("\n")}`);
}

async function tcpOpen(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Another implementation, as a directory holding `daemon`, `pilotctl`, `registry` and `beacon` that take
 * the Go reference's flags.
 */
export function other(dir: string): Implementation {
  const bin = (name: string) => `${dir}/${name}`;
  // PILOT_REGISTRY too: the commands used here talk to the daemon only, but any that reached for the
  // registry would otherwise default to the reference's public one.
  const pilotctl = async (socket: string, registryAddr: string, args: string[], timeoutMs = 30_000) => {
    const out = await new Deno.Command(bin("pilotctl"), {
      args: ["--json", ...args],
      env: { PILOT_SOCKET: socket, PILOT_REGISTRY: registryAddr },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  };

  async function startRegistryAndBeacon(tmp: string) {
    const beaconPort = freePort();
    const registryPort = freePort();
    const beacon = new Child("beacon", bin("beacon"), ["-addr", `127.0.0.1:${beaconPort}`]);
    const registry = new Child("registry", bin("registry"), [
      "-addr",
      `127.0.0.1:${registryPort}`,
      "-beacon",
      `127.0.0.1:${beaconPort}`,
      "-store",
      `${tmp}/registry.json`,
    ]);
    await untilReady("registry", registry, async () => (await tcpOpen(registryPort)) || undefined);
    return {
      beacon,
      registry,
      beaconAddr: `127.0.0.1:${beaconPort}`,
      registryAddr: `127.0.0.1:${registryPort}`,
    };
  }

  return {
    name: "theirs",
    async startDaemons() {
      const tmp = await Deno.makeTempDir({ prefix: "pilot-compare-other-" });
      const children: Child[] = [];
      const close = async () => {
        await Promise.all(children.map((c) => c.stop()));
        await settleQuietly(Deno.remove(tmp, { recursive: true }), "cleanup");
      };
      try {
        const { beacon, registry, beaconAddr, registryAddr } = await startRegistryAndBeacon(tmp);
        children.push(beacon, registry);
        const addresses: string[] = [];
        for (const name of ["a", "b"]) {
          const socket = `${tmp}/${name}.sock`;
          const d = new Child(`daemon ${name}`, bin("daemon"), [
            "-registry",
            registryAddr,
            "-beacon",
            beaconAddr,
            "-listen",
            "127.0.0.1:0",
            "-socket",
            socket,
            "-identity",
            `${tmp}/${name}.key`,
            "-email",
            `bench-${name}@example.invalid`,
            "-public",
          ]);
          children.push(d);
          addresses.push(
            await untilReady(`daemon ${name}`, d, async () => {
              const r = await pilotctl(socket, registryAddr, ["info"]);
              const data = r.code === 0 ? JSON.parse(r.stdout).data : undefined;
              return data?.node_id ? String(data.address) : undefined;
            }),
          );
        }
        const socketA = `${tmp}/a.sock`;
        const run = async (args: string[]) => {
          const r = await pilotctl(socketA, registryAddr, args, BENCH_TIMEOUT_MS);
          if (r.code !== 0) throw new Error(`pilotctl ${args[0]} failed (${r.code}): ${r.stdout}${r.stderr}`);
          return r.stdout;
        };
        return {
          pids: [children[2].process.pid, children[3].process.pid],
          ping: async (count) =>
            answeredRtts(await run(["ping", addresses[1], "--count", String(count), "--timeout", "600s"])),
          bench: async (mib) =>
            benchMbps(await run(["bench", addresses[1], String(mib), "--timeout", "900s"])),
          close,
        };
      } catch (err) {
        await close();
        throw err;
      }
    },
    async startRegistry() {
      const tmp = await Deno.makeTempDir({ prefix: "pilot-compare-other-" });
      const { beacon, registry, registryAddr } = await startRegistryAndBeacon(tmp);
      return {
        address: registryAddr,
        pid: registry.process.pid,
        signing: "reference",
        close: async () => {
          await Promise.all([beacon.stop(), registry.stop()]);
          await settleQuietly(Deno.remove(tmp, { recursive: true }), "cleanup");
        },
      };
    },
  };
}
