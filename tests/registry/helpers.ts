/** Shared helpers for the registry integration tests: registries on loopback, identities, clients. */
import { generateEd25519KeyPair } from "../../lib/crypto/ed25519.ts";
import { RegistryClient, type RegistryClientOptions } from "../../lib/registry/client.ts";
import { RegistryService, type RegistryServiceOptions } from "../../lib/registry/service.ts";
import { Logger } from "../../lib/log.ts";
import { DAEMON_ENV, REGISTRY_V8_FLAGS } from "../../cli/daemon_process.ts";
import { NODE_LIMITS_OFF, type NodeLimits } from "../../lib/registry/node_limits.ts";
import { GLOBAL_LIMITS_OFF } from "../../lib/registry/load_shed.ts";
import { decodeBody, encodeFrame, FrameReader, type WireMessage } from "../../lib/registry/wire.ts";
import { ignoreRejection, settleQuietly } from "../../lib/errors.ts";

export const ADMIN_TOKEN = "test-admin-token-0123456789";

/** A quiet logger for in-process registries. */
export const quiet = new Logger("test", "silent");

/** Starts an in-process registry on 127.0.0.1:0 with generous rate limits and a temp state dir. */
export async function startRegistry(
  overrides: Partial<RegistryServiceOptions> = {},
): Promise<RegistryService & { dir: string | null }> {
  const dir = overrides.dir === undefined ? await Deno.makeTempDir({ prefix: "pilot-reg-" }) : overrides.dir;
  const svc = await RegistryService.start({
    listen: { hostname: "127.0.0.1", port: 0 },
    dir,
    adminToken: ADMIN_TOKEN,
    rateLimits: { register: 0, resolve: 0, query: 0, heartbeat: 0, write: 0, read: 0 },
    nodeLimits: structuredClone(NODE_LIMITS_OFF) as NodeLimits,
    globalLimits: { ...GLOBAL_LIMITS_OFF },
    logger: quiet,
    ...overrides,
  });
  return Object.assign(svc, { dir });
}

/** A client with a fresh identity (not yet registered). */
export function newClient(address: string, options: Partial<RegistryClientOptions> = {}): RegistryClient {
  const kp = generateEd25519KeyPair();
  return new RegistryClient({ address, identity: { nodeId: 0, seed: kp.seed }, timeoutMs: 5000, ...options });
}

/** Registers a fresh node and returns its client. */
export async function registeredClient(
  address: string,
  options: Partial<RegistryClientOptions> = {},
  register: Parameters<RegistryClient["register"]>[0] = {},
): Promise<RegistryClient> {
  const c = newClient(address, options);
  await c.register({ listenAddr: ":4000", ...register });
  return c;
}

/** A raw framed connection for protocol-level tests (no signing, no retries). */
export class RawConn {
  #reader = new FrameReader(16 * 1024 * 1024);
  #buf = new Uint8Array(65536);
  private constructor(readonly conn: Deno.Conn) {}

  static async open(port: number): Promise<RawConn> {
    return new RawConn(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async writeBytes(bytes: Uint8Array): Promise<void> {
    for (let off = 0; off < bytes.length;) off += await this.conn.write(bytes.subarray(off));
  }

  async send(msg: WireMessage): Promise<void> {
    await this.writeBytes(encodeFrame(msg));
  }

  /** The next reply, or null if the server closed the connection. */
  async recv(): Promise<WireMessage | null> {
    for (;;) {
      const body = this.#reader.next();
      if (body) return decodeBody(body);
      let n: number | null;
      try {
        n = await this.conn.read(this.#buf);
      } catch {
        return null;
      }
      if (n === null) return null;
      this.#reader.push(this.#buf.subarray(0, n));
    }
  }

  async call(msg: WireMessage): Promise<WireMessage> {
    await this.send(msg);
    const r = await this.recv();
    if (!r) throw new Error("connection closed");
    return r;
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* closed */ }
  }
}

/** Removes a temp dir, ignoring errors. */
export async function cleanup(dir: string | null): Promise<void> {
  if (dir) await settleQuietly(Deno.remove(dir, { recursive: true }), "cleanup");
}

/** A `pilot registry` subprocess. */
export interface RegistryProcess {
  child: Deno.ChildProcess;
  address: string;
  port: number;
  /** The startup JSON (`data` of the ok envelope). */
  info: Record<string, unknown>;
  stderr: () => Promise<string>;
}

/** The V8 flags and environment `deno task registry` starts the registry with, for memory figures. */
export const REGISTRY_PRODUCTION_ENV: Readonly<Record<string, string>> = {
  ...DAEMON_ENV,
  DENO_V8_FLAGS: REGISTRY_V8_FLAGS.join(","),
};

/**
 * Spawns `deno run -A main.ts registry … --json` and waits for its startup line; `env` adds
 * variables (e.g. {@link REGISTRY_PRODUCTION_ENV}).
 */
export async function spawnRegistry(
  args: string[],
  env: Record<string, string> = {},
): Promise<RegistryProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../main.ts", import.meta.url).pathname, "registry", "--json", ...args],
    stdout: "piped",
    stderr: "piped",
    env: { PILOT_LOG: "warn", ...env },
  }).spawn();
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  const errText = (async () => {
    let s = "";
    for await (const chunk of child.stderr) s += decoder.decode(chunk);
    return s;
  })();
  // Keep draining stdout so the child never blocks on a full pipe; it ends when the child exits.
  ignoreRejection(
    (async () => {
      for await (const _ of child.stdout) { /* discard */ }
    })(),
    "peer gone",
  );
  const line = text.split("\n")[0];
  if (!line.startsWith("{")) {
    const status = await child.status;
    throw new Error(`registry did not start (exit ${status.code}): ${line}\n${await errText}`);
  }
  const envelope = JSON.parse(line);
  const info = envelope.data as Record<string, unknown>;
  const address = info.listen as string;
  return { child, address, port: Number(address.split(":").pop()), info, stderr: () => errText };
}
