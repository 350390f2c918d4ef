/**
 * The gateway control socket: how `pilot gateway map|unmap|list` and `pilot expose|unexpose|
 * exposed` reach the running gateway and exposed ports, whether they live in the daemon (socket
 * `<ipc socket>.gateway`) or in a standalone `pilot gateway start` process. One request per
 * connection: a JSON line `{"op":…,…}` in, a JSON line `{"ok":true,"data":…}` or
 * `{"ok":false,"code":…,"error":…}` out. The socket file is created mode 0600 like the IPC one.
 */
import { PilotError, settleQuietly } from "../errors.ts";
import type { Logger } from "../log.ts";

/** Longest request line accepted. */
export const MAX_CONTROL_REQUEST_BYTES = 64 * 1024;
/** How long a client waits for an answer. */
export const CONTROL_TIMEOUT_MS = 20_000;

/** The daemon's control socket path for its IPC socket path. */
export function daemonControlPath(ipcSocket: string): string {
  return `${ipcSocket}.gateway`;
}

/** A request. */
export type ControlRequest =
  | { op: "map"; addr: string; ip?: string }
  | { op: "unmap"; ip: string }
  | { op: "list" }
  | { op: "expose"; port: number; target: string }
  | { op: "unexpose"; port: number }
  | { op: "exposed" };

/** A refused or failed request; `code` is a CLI error code. */
export class ControlError extends PilotError {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** Validates a decoded request; throws ControlError("invalid_argument"). */
export function parseControlRequest(value: unknown): ControlRequest {
  const bad = (why: string) => new ControlError("invalid_argument", `bad control request: ${why}`);
  if (typeof value !== "object" || value === null) throw bad("not an object");
  const r = value as Record<string, unknown>;
  const str = (k: string, optional = false) => {
    if (r[k] === undefined && optional) return undefined;
    if (typeof r[k] !== "string") throw bad(`"${k}" must be a string`);
    return r[k] as string;
  };
  const port = () => {
    if (!Number.isInteger(r.port) || (r.port as number) < 1 || (r.port as number) > 0xffff) {
      throw bad(`"port" must be 1..65535`);
    }
    return r.port as number;
  };
  switch (r.op) {
    case "map":
      return { op: "map", addr: str("addr")!, ip: str("ip", true) };
    case "unmap":
      return { op: "unmap", ip: str("ip")! };
    case "list":
    case "exposed":
      return { op: r.op };
    case "expose":
      return { op: "expose", port: port(), target: str("target")! };
    case "unexpose":
      return { op: "unexpose", port: port() };
    default:
      throw bad(`unknown op ${JSON.stringify(r.op)}`);
  }
}

/** Answers one request; throws an error with a `code` (or any error → "internal"). */
export type ControlHandler = (req: ControlRequest) => Promise<unknown>;

/** A listening control socket. */
export interface ControlServer {
  readonly path: string;
  close(): Promise<void>;
}

/** Serves `handler` on the Unix socket `path` (a stale socket file is replaced). */
export async function serveControl(
  path: string,
  handler: ControlHandler,
  log: Logger,
): Promise<ControlServer> {
  await settleQuietly(Deno.remove(path), "cleanup"); // a stale socket file
  const listener = Deno.listen({ transport: "unix", path });
  await Deno.chmod(path, 0o600); // the control socket maps and exposes ports: owner only
  const conns = new Set<Deno.Conn>();
  const loop = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      void answer(conn, handler, log).finally(() => conns.delete(conn));
    }
  })().catch((err) => log.debug("control socket closed", { err }));
  return {
    path,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await loop;
      await settleQuietly(Deno.remove(path), "cleanup");
    },
  };
}

async function answer(conn: Deno.Conn, handler: ControlHandler, log: Logger): Promise<void> {
  let reply: unknown;
  try {
    const line = await readLine(conn, MAX_CONTROL_REQUEST_BYTES);
    let decoded: unknown;
    try {
      decoded = JSON.parse(line);
    } catch {
      throw new ControlError("invalid_argument", "bad control request: not JSON");
    }
    reply = { ok: true, data: await handler(parseControlRequest(decoded)) };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    reply = {
      ok: false,
      code: typeof code === "string" ? code : "internal",
      error: err instanceof Error ? err.message : String(err),
    };
    if (typeof code !== "string") log.warn("control request failed", { err });
  }
  try {
    const bytes = new TextEncoder().encode(JSON.stringify(reply) + "\n");
    for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
  } catch { /* client went away */ }
  try {
    conn.close();
  } catch { /* closed */ }
}

async function readLine(conn: Deno.Conn, max: number): Promise<string> {
  const parts: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    const nl = buf.subarray(0, n).indexOf(10);
    parts.push(buf.slice(0, nl >= 0 ? nl : n));
    total += nl >= 0 ? nl : n;
    if (total > max) throw new ControlError("invalid_argument", `control request longer than ${max} bytes`);
    if (nl >= 0) break;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return new TextDecoder().decode(out);
}

/** Sends one request to the control socket at `path`; rejects with ControlError. */
export async function controlRequest(
  path: string,
  req: ControlRequest,
  timeoutMs = CONTROL_TIMEOUT_MS,
): Promise<unknown> {
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (err) {
    throw new ControlError(
      "not_running",
      `no gateway control socket at ${path} (${err instanceof Error ? err.message : err})`,
    );
  }
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  }, timeoutMs);
  try {
    await conn.write(new TextEncoder().encode(JSON.stringify(req) + "\n"));
    let line: string;
    try {
      line = await readLine(conn, 16 * 1024 * 1024);
    } catch (err) {
      throw new ControlError(
        "timeout",
        `no answer from ${path}: ${err instanceof Error ? err.message : err}`,
      );
    }
    let reply: { ok?: boolean; data?: unknown; code?: string; error?: string };
    try {
      reply = JSON.parse(line);
    } catch {
      throw new ControlError("connection_failed", `malformed answer from ${path}`);
    }
    if (!reply.ok) throw new ControlError(reply.code ?? "internal", reply.error ?? "control request failed");
    return reply.data;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
}
