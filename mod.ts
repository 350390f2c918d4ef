/**
 * pilot: a Pilot Protocol SDK for Deno. A program talks to its local pilot daemon over
 * a Unix socket: {@link connect} returns a {@link PilotClient}, which listens on and
 * dials virtual ports ({@link Listener}, {@link Connection}), sends and receives
 * {@link Datagram}s, queries the node ({@link InfoReply}) and manages trust. The
 * clients of the built-in services (secure channel, stdio, data exchange, event
 * stream, tasks) are layered on the same client. Every failure is a
 * {@link PilotError}; those of the IPC are {@link IpcError}s, a {@link DaemonError}
 * when the daemon refused.
 *
 * The other layers are published as subpaths: `./protocol`, `./crypto`,
 * `./transport`, `./tunnel`, `./registry`, `./beacon`, `./services` (the services'
 * server side), `./ipc` (the daemon ⇄ driver codec) and `./sdk` (everything of the
 * SDK, including the service clients' codecs and errors).
 *
 * @example
 * ```ts
 * import { Address, connect, DEFAULT_SOCKET_PATH, PORT_ECHO } from "./mod.ts";
 *
 * // Sends one line to a peer's echo port and returns what came back.
 * async function echo(peer: string, line: string): Promise<string> {
 *   await using client = await connect(DEFAULT_SOCKET_PATH);
 *   const conn = await client.dial(Address.parse(peer), PORT_ECHO, { timeoutMs: 30_000 });
 *   await conn.write(new TextEncoder().encode(line));
 *   const reply = await conn.read({ timeoutMs: 5_000 });
 *   await conn.close();
 *   return new TextDecoder().decode(reply ?? new Uint8Array());
 * }
 * console.assert(typeof echo === "function");
 * ```
 * @module
 */
export { PilotError } from "./lib/errors.ts";
export { PROGRAM_VERSION } from "./lib/version.ts";
export { Address, AddressError, parseAddressOrNodeId, SocketAddress } from "./lib/protocol/address.ts";
export { PORT_ECHO } from "./lib/protocol/ports.ts";
export {
  type CallOptions,
  type ClientStats,
  connect,
  Connection,
  type ConnectOptions,
  DaemonError,
  type Datagram,
  DEFAULT_SOCKET_PATH,
  IpcError,
  type IpcErrorReason,
  Listener,
  PilotClient,
} from "./lib/sdk/mod.ts";
export type {
  ConnInfo,
  HandshakeReply,
  HealthReply,
  InfoReply,
  NatInfo,
  PeerInfo,
  PendingHandshake,
  TrustedPeer,
} from "./lib/ipc/replies.ts";
export {
  DataExchangeClient,
  dialSecure,
  dialStdio,
  EventSubscription,
  exchangeMessage,
  listenStdio,
  publishEvent,
  SecureChannel,
  SecureListener,
  sendFile,
  sendFileFromPath,
  sendMessage,
  TaskClient,
  TaskError,
} from "./lib/sdk/services/mod.ts";
