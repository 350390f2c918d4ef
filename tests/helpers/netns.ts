/**
 * A small internet in Linux network namespaces for the NAT traversal tests (needs root, `ip` and
 * `nft`): a "public" segment 203.0.113.0/24 on a bridge (registry and beacon at .1, the routers'
 * WAN sides at .2 and .3, an optional public host at .4) and two private LANs, 192.0.2.0/24 behind
 * router A and 198.51.100.0/24 behind router B. Each router masquerades LAN traffic with nftables
 * and, like a home router, drops unsolicited inbound packets; router B can instead pick a random
 * port per destination (a symmetric NAT). Every address is a documentation range that exists only
 * inside these namespaces, and no namespace has a route anywhere else.
 *
 * Namespaces are named `pn<pid>-<role>`; {@link NatLab.close} kills every process inside them and
 * deletes them (veths and nft rules go with them), and {@link sweepStaleLabs} removes labs left by
 * a test process that died before its cleanup ran.
 */
import { settleQuietly } from "../../lib/errors.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
/** How long a pilot process in a namespace may take to print its ready line. */
const READY_TIMEOUT_MS = 60_000;
const PREFIX = "pn";
/** The registry client module, imported by scripts run inside the lab. */
const REGISTRY_CLIENT = new URL("../../lib/registry/client.ts", import.meta.url).href;
/**
 * Distinguishes labs of test modules that share one process (`deno test --parallel` runs
 * modules as workers of one process, so the pid alone collides).
 */
const MODULE_TAG = crypto.getRandomValues(new Uint32Array(1))[0].toString(36).slice(0, 4);

/** Addresses of the lab. */
export const LAB = {
  inet: "203.0.113.1",
  routerA: "203.0.113.2",
  routerB: "203.0.113.3",
  publicHost: "203.0.113.4",
  hostA: "192.0.2.2",
  hostB: "198.51.100.2",
} as const;

/** How router B maps ports: one mapping per local endpoint, or a new random port per destination. */
export type NatKind = "cone" | "symmetric";

/** The result of a command. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion. */
export async function run(cmd: string, args: string[], timeoutMs = 20_000): Promise<Run> {
  const out = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function must(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * Whether this process can build the lab: root, `ip` and `nft` present, and a namespace can be
 * created (some containers forbid it). Returns the reason when not.
 */
export async function netnsSupport(): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (Deno.build.os !== "linux") return { ok: false, reason: "not Linux" };
  if (Deno.uid() !== 0) return { ok: false, reason: "not running as root" };
  for (const tool of ["ip", "nft"]) {
    const r = await settleQuietly(run("sh", ["-c", `command -v ${tool}`]), "reported elsewhere"); // as "not installed"
    if (!r || r.code !== 0) return { ok: false, reason: `${tool} is not installed` };
  }
  const name = `${PREFIX}${Deno.pid}-${MODULE_TAG}probe`;
  const add = await run("ip", ["netns", "add", name]).catch((err) => ({
    code: 1,
    stdout: "",
    stderr: String(err),
  }));
  if (add.code !== 0) return { ok: false, reason: `cannot create a network namespace: ${add.stderr.trim()}` };
  const nft = await run("ip", ["netns", "exec", name, "nft", "list", "ruleset"]);
  await run("ip", ["netns", "del", name]);
  if (nft.code !== 0) return { ok: false, reason: `nft does not work in a namespace: ${nft.stderr.trim()}` };
  return { ok: true };
}

/** Deletes labs whose creating process is gone (a test killed before its cleanup ran). */
export async function sweepStaleLabs(): Promise<void> {
  const list = await run("ip", ["netns", "list"]);
  for (const line of list.stdout.split("\n")) {
    const name = line.split(" ")[0];
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (!m || Number(m[1]) === Deno.pid) continue;
    const alive = await run("kill", ["-0", m[1]]);
    if (alive.code === 0) continue;
    await killAll(name);
    await run("ip", ["netns", "del", name]);
  }
}

async function killAll(ns: string): Promise<void> {
  const pids = (await run("ip", ["netns", "pids", ns])).stdout.split("\n").filter((p) => /^\d+$/.test(p));
  for (const pid of pids) await run("kill", ["-9", pid]);
}

/** A `pilot` process inside a namespace that printed its `--json` ready line. */
export interface LabProcess {
  ns: string;
  args: string[];
  ready: Record<string, unknown>;
  child: Deno.ChildProcess;
  stderr: string[];
}

/** The lab. Create with {@link NatLab.create}, always {@link NatLab.close} in a finally block. */
export class NatLab {
  readonly namespaces: string[] = [];
  readonly processes: LabProcess[] = [];
  readonly dir: string;

  private constructor(readonly id: string, dir: string) {
    this.dir = dir;
  }

  /** Namespace name of a role: inet, ra, ha, rb, hb, pub. */
  ns(role: string): string {
    return `${this.id}-${role}`;
  }

  /** Builds the namespaces, links, addresses, routes and NAT rules; cleans up itself on failure. */
  static async create(opts: { natB: NatKind; publicHost?: boolean }): Promise<NatLab> {
    const seq = (NatLab.#count++).toString(36);
    const lab = new NatLab(
      `${PREFIX}${Deno.pid}-${MODULE_TAG}${seq}`,
      await Deno.makeTempDir({ prefix: "pilot-natlab-" }),
    );
    try {
      await lab.#build(opts);
    } catch (err) {
      await lab.close();
      throw err;
    }
    return lab;
  }
  static #count = 0;

  async #addNs(role: string): Promise<string> {
    const name = this.ns(role);
    await must("ip", ["netns", "add", name]);
    this.namespaces.push(name);
    await must("ip", ["-n", name, "link", "set", "lo", "up"]);
    return name;
  }

  /** A veth pair with one end in each namespace. */
  async #veth(nsA: string, ifA: string, nsB: string, ifB: string): Promise<void> {
    await must("ip", ["link", "add", ifA, "netns", nsA, "type", "veth", "peer", "name", ifB, "netns", nsB]);
  }

  async #ip(ns: string, ...args: string[]): Promise<void> {
    await must("ip", ["-n", ns, ...args]);
  }

  async #build(opts: { natB: NatKind; publicHost?: boolean }): Promise<void> {
    const inet = await this.#addNs("inet");
    await this.#ip(inet, "link", "add", "br0", "type", "bridge");
    await this.#ip(inet, "addr", "add", `${LAB.inet}/24`, "dev", "br0");
    await this.#ip(inet, "link", "set", "br0", "up");
    const sides = [
      { role: "a", wan: LAB.routerA, lan: "192.0.2", kind: "cone" as NatKind },
      { role: "b", wan: LAB.routerB, lan: "198.51.100", kind: opts.natB },
    ];
    for (const side of sides) {
      const router = await this.#addNs(`r${side.role}`);
      const host = await this.#addNs(`h${side.role}`);
      const port = `w${side.role}`;
      await this.#veth(inet, port, router, "wan");
      await this.#ip(inet, "link", "set", port, "master", "br0");
      await this.#ip(inet, "link", "set", port, "up");
      await this.#ip(router, "addr", "add", `${side.wan}/24`, "dev", "wan");
      await this.#ip(router, "link", "set", "wan", "up");
      await this.#veth(router, "lan", host, "eth0");
      await this.#ip(router, "addr", "add", `${side.lan}.1/24`, "dev", "lan");
      await this.#ip(router, "link", "set", "lan", "up");
      await this.#ip(host, "addr", "add", `${side.lan}.2/24`, "dev", "eth0");
      await this.#ip(host, "link", "set", "eth0", "up");
      await this.#ip(host, "route", "add", "default", "via", `${side.lan}.1`);
      await must("ip", ["netns", "exec", router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
      await this.#nat(router, side.kind);
    }
    if (opts.publicHost) {
      const pub = await this.#addNs("pub");
      await this.#veth(inet, "wp", pub, "eth0");
      await this.#ip(inet, "link", "set", "wp", "master", "br0");
      await this.#ip(inet, "link", "set", "wp", "up");
      await this.#ip(pub, "addr", "add", `${LAB.publicHost}/24`, "dev", "eth0");
      await this.#ip(pub, "link", "set", "eth0", "up");
    }
  }

  /**
   * Masquerade on the WAN side; unsolicited inbound packets (to the router or through it) are
   * dropped before conntrack confirms them, as a home router's firewall does, so a peer's early
   * punch leaves no state behind that would make the router pick another port later.
   */
  async #nat(router: string, kind: NatKind): Promise<void> {
    const masquerade = kind === "cone" ? "masquerade" : "masquerade random,fully-random";
    const rules = `
table ip pilotnat {
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" ${masquerade}
  }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan" ct state established,related accept
    iifname "wan" drop
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "wan" ct state established,related accept
    iifname "wan" drop
  }
}
`;
    const file = `${this.dir}/${router}.nft`;
    await Deno.writeTextFile(file, rules);
    await must("ip", ["netns", "exec", router, "nft", "-f", file]);
  }

  /** Starts `pilot <args> --json` inside `ns` and waits for its ready line. */
  async startPilot(role: string, args: string[]): Promise<LabProcess> {
    const ns = this.ns(role);
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", ns, Deno.execPath(), "run", "-A", MAIN, ...args, "--json"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const proc: LabProcess = { ns, args, ready: {}, child, stderr: [] };
    this.processes.push(proc);
    (async () => {
      for await (const line of lines(child.stderr)) {
        proc.stderr.push(line);
        if (proc.stderr.length > 500) proc.stderr.shift();
        if (Deno.env.get("PILOT_TEST_VERBOSE")) console.error(`[${role} ${args[0]}] ${line}`);
      }
    })();
    const reader = lines(child.stdout)[Symbol.asyncIterator]();
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, READY_TIMEOUT_MS);
    try {
      const first = await reader.next();
      if (first.done) {
        await child.status;
        throw new Error(
          `pilot ${args.join(" ")} in ${ns} exited before it was ready:\n${proc.stderr.join("\n")}`,
        );
      }
      const envelope = JSON.parse(first.value);
      if (envelope.status !== "ok") throw new Error(`pilot ${args[0]} in ${ns} not ready: ${first.value}`);
      proc.ready = envelope.data;
      (async () => {
        while (!(await reader.next()).done) { /* keep the pipe drained */ }
      })();
      return proc;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs a command inside a namespace. */
  exec(role: string, cmd: string[]): Promise<Run> {
    return run("ip", ["netns", "exec", this.ns(role), ...cmd]);
  }

  /**
   * Creates an open network named `name` at `registry` with the admin token, from inside the
   * `inet` namespace (the registry is only reachable there); returns its id.
   */
  async createNetwork(registry: string, adminToken: string, name: string): Promise<number> {
    const script = `
      import { RegistryClient } from ${JSON.stringify(REGISTRY_CLIENT)};
      const admin = new RegistryClient({ address: ${JSON.stringify(registry)}, adminToken: ${
      JSON.stringify(adminToken)
    } });
      try {
        console.log(JSON.stringify(await admin.createNetwork({ name: ${JSON.stringify(name)} })));
      } finally {
        admin.close();
      }`;
    const r = await this.exec("inet", [Deno.execPath(), "eval", script]);
    if (r.code !== 0) throw new Error(`create network: ${r.stderr}`);
    const id = Number(JSON.parse(r.stdout.trim().split("\n").pop()!).network_id);
    if (!(id > 0)) throw new Error(`create network: no network id in ${r.stdout}`);
    return id;
  }

  /** Kills every process, deletes every namespace (their veths and nft tables go with them) and the temp dir. */
  async close(): Promise<void> {
    for (const p of this.processes) {
      try {
        p.child.kill("SIGKILL");
      } catch { /* already gone */ }
    }
    await Promise.allSettled(this.processes.map((p) => p.child.status));
    for (const ns of [...this.namespaces].reverse()) {
      await settleQuietly(killAll(ns), "cleanup");
      const r = await run("ip", ["netns", "del", ns]).catch((err) => ({ code: 1, stderr: String(err) }));
      if (r.code !== 0) console.error(`netns cleanup: could not delete ${ns}: ${r.stderr}`);
    }
    await settleQuietly(Deno.remove(this.dir, { recursive: true }), "cleanup");
  }
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    const parts = buffered.split("\n");
    buffered = parts.pop()!;
    yield* parts;
  }
  if (buffered) yield buffered;
}
