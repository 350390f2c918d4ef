/**
 * The pilot SDK: talk to a local pilot daemon over its Unix socket. Open a
 * {@link PilotClient} with {@link connect}; listen and dial virtual ports to get
 * {@link Connection}s (Web Streams plus read/write), send and receive datagrams,
 * and query or administer the node. Every waiting call takes a timeout or an
 * AbortSignal, and every failure is an {@link IpcError} (a {@link DaemonError}
 * when the daemon refused). The clients of the built-in services (secure channel,
 * stdio, data exchange, event stream, tasks) are re-exported from `./services/mod.ts`.
 *
 * @example
 * ```ts
 * import { connect } from "./mod.ts";
 * async function hello(peer: string): Promise<Uint8Array | null> {
 *   await using client = await connect("/tmp/pilot.sock");
 *   const conn = await client.dial(peer, 7, { timeoutMs: 30_000 });
 *   await conn.write(new TextEncoder().encode("hello"));
 *   const reply = await conn.read({ timeoutMs: 5_000 });
 *   await conn.close();
 *   return reply;
 * }
 * console.assert(typeof hello === "function");
 * ```
 * @module
 */
export * from "./core.ts";
export * from "./services/mod.ts";
