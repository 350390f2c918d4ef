/**
 * A small Pilot network of real `pilot` subprocesses on loopback for integration tests:
 * a registry and any number of daemons, each on ephemeral ports, in a temporary
 * directory that is removed afterwards. Every process is killed in `close()`.
 */
import { spawnPilot } from "./pilot.ts";
import { settleQuietly } from "../../lib/errors.ts";

/** How long a process may take to print its ready line. */
const READY_TIMEOUT_MS = 30_000;

/** A running `pilot` subprocess whose first stdout line was its `--json` ready envelope. */
export class PilotProcess {
  #exited: Promise<Deno.CommandStatus>;

  constructor(
    readonly child: Deno.ChildProcess,
    readonly ready: Record<string, unknown>,
    stderr: Promise<void>,
    /** Its stderr lines so far (the last 2000), growing while it runs. */
    readonly stderrLines: string[] = [],
  ) {
    this.#exited = child.status;
    void stderr;
  }

  /** Sends `signal` and waits for the exit. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch {
      // already gone
    }
    return await this.#exited;
  }

  get exited(): Promise<Deno.CommandStatus> {
    return this.#exited;
  }
}

/** Starts `pilot <args> --json` and resolves once it printed its ready line. */
export async function startPilot(args: string[], env?: Record<string, string>): Promise<PilotProcess> {
  const child = spawnPilot([...args, "--json"], env);
  let errLines: string[] = [];
  const stderr = (async () => {
    for await (const line of child.stderr.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter())) {
      errLines.push(line);
      if (errLines.length > 2000) errLines.shift();
      if (Deno.env.get("PILOT_TEST_VERBOSE")) console.error(`[pilot ${args[0]}] ${line}`);
    }
  })();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter());
  const reader = lines.getReader();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, READY_TIMEOUT_MS);
  try {
    const { value } = await reader.read();
    if (value === undefined) {
      await child.status;
      await stderr;
      throw new Error(`pilot ${args.join(" ")} exited before it was ready:\n${errLines.join("\n")}`);
    }
    const envelope = JSON.parse(value);
    if (envelope.status !== "ok") throw new Error(`pilot ${args[0]} not ready: ${value}`);
    // Keep draining stdout so the process never blocks on a full pipe.
    (async () => {
      while (!(await reader.read()).done) { /* discard */ }
    })();
    const p = new PilotProcess(child, envelope.data, stderr);
    p.stderrLines.push(...errLines);
    errLines = p.stderrLines; // from now on the process's own list grows
    return p;
  } finally {
    clearTimeout(timer);
  }
}

function lineSplitter(): TransformStream<string, string> {
  let buffered = "";
  return new TransformStream({
    transform(chunk, controller) {
      buffered += chunk;
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      for (const p of parts) controller.enqueue(p);
    },
    flush(controller) {
      if (buffered) controller.enqueue(buffered);
    },
  });
}

/** A daemon in a test network. */
export interface TestDaemon {
  process: PilotProcess;
  socket: string;
  stateDir: string;
  nodeId: number;
  address: string;
  http: string | null;
  args: string[];
}

/** A registry plus daemons, all on loopback, in one temporary directory. */
export class TestNetwork {
  readonly daemons: TestDaemon[] = [];
  registry?: PilotProcess;
  registryAddr = "";

  private constructor(readonly dir: string) {}

  /** Creates the temporary directory and starts the registry. */
  static async start(registryArgs: string[] = []): Promise<TestNetwork> {
    const dir = await Deno.makeTempDir({ prefix: "pilot-net-" });
    const net = new TestNetwork(dir);
    try {
      await net.startRegistry(registryArgs);
    } catch (err) {
      await net.close();
      throw err;
    }
    return net;
  }

  /** (Re)starts the registry, on its previous port if it had one. */
  async startRegistry(extra: string[] = []): Promise<PilotProcess> {
    const listen = this.registryAddr || "127.0.0.1:0";
    this.registry = await startPilot([
      "registry",
      "--listen",
      listen,
      "--state",
      `${this.dir}/registry`,
      ...extra,
    ]);
    this.registryAddr = String(this.registry.ready.listen);
    return this.registry;
  }

  /**
   * Starts a daemon named `name` (its state and socket live under the network's directory);
   * `env` adds environment variables (e.g. the IPC limit overrides).
   */
  async addDaemon(name: string, extra: string[] = [], env?: Record<string, string>): Promise<TestDaemon> {
    const stateDir = `${this.dir}/${name}`;
    const socket = `${this.dir}/${name}.sock`;
    const args = [
      "daemon",
      "--registry",
      this.registryAddr,
      "--listen",
      "127.0.0.1:0",
      "--socket",
      socket,
      "--state",
      stateDir,
      "--http",
      "127.0.0.1:0",
      ...extra,
    ];
    const process = await startPilot(args, env);
    const d: TestDaemon = {
      process,
      socket,
      stateDir,
      nodeId: Number(process.ready.node_id),
      address: String(process.ready.address),
      http: process.ready.http as string | null,
      args,
    };
    this.daemons.push(d);
    return d;
  }

  /** Restarts a daemon with the same state directory and flags. */
  async restartDaemon(d: TestDaemon): Promise<TestDaemon> {
    await d.process.stop();
    const process = await startPilot(d.args);
    d.process = process;
    d.nodeId = Number(process.ready.node_id);
    d.address = String(process.ready.address);
    d.http = process.ready.http as string | null;
    return d;
  }

  /** Kills every process and removes the directory. */
  async close(): Promise<void> {
    await Promise.all(this.daemons.map((d) => d.process.stop("SIGKILL")));
    if (this.registry) await this.registry.stop("SIGKILL");
    await settleQuietly(Deno.remove(this.dir, { recursive: true }), "cleanup");
  }
}
