/**
 * The stream/datagram session layer of pilot (docs/protocol/transport.md), free of I/O.
 *
 * Two session managers wired back to back (in the daemon, `send` hands each packet to the tunnel
 * and the tunnel's `onPacket` feeds `onPacket`); one listens, the other dials and writes:
 *
 * @example
 * ```ts
 * import { SessionManager, startTimerLoop, TimerQueue } from "./mod.ts";
 * import { Address } from "../protocol/address.ts";
 *
 * const timers = new TimerQueue(() => performance.now());
 * const stopTimers = startTimerLoop(timers); // one setTimeout for every connection
 * const nodes = new Map<number, SessionManager>();
 * const node = (id: number) => {
 *   const manager = new SessionManager({
 *     localAddr: new Address(0, id),
 *     timers,
 *     // `send` must not re-enter onPacket synchronously.
 *     send: (pkt) => setTimeout(() => nodes.get(pkt.dst.node)?.onPacket(pkt), 0),
 *     trustGate: () => true, // a public node; the daemon asks its trust service
 *   });
 *   nodes.set(id, manager);
 *   return manager;
 * };
 * const server = node(2);
 * const client = node(1);
 * const listener = server.listen(1000);
 * const received = new Promise<string>((resolve) => {
 *   listener.onConnection = () => {
 *     const stream = listener.accept()!;
 *     stream.onReadable = () => {
 *       const data = stream.read(); // null at end of stream
 *       if (data) resolve(new TextDecoder().decode(data));
 *     };
 *   };
 * });
 * const stream = await client.connect(new Address(0, 2), 1000);
 * stream.write(new TextEncoder().encode("hello"));
 * console.assert((await received) === "hello");
 * client.shutdown();
 * server.shutdown();
 * stopTimers();
 * ```
 * @module
 */
export {
  ACCEPT_QUEUE_CAPACITY,
  type Datagram,
  DATAGRAM_QUEUE_CAPACITY,
  DatagramSocket,
  DialError,
  type DialOptions,
  Listener,
  MAX_CONNECTIONS_PER_PORT,
  MAX_CONNECTIONS_TOTAL,
  MAX_DATAGRAM_PAYLOAD,
  PING_TIMEOUT_MS,
  type PingResult,
  PingTimeoutError,
  type SessionCounters,
  SessionError,
  SessionManager,
  type SessionManagerOptions,
  SWEEP_INTERVAL_MS,
  type TrustGate,
} from "./manager.ts";
export {
  type CloseReason,
  DEFAULT_MSS,
  IDLE_TIMEOUT_MS,
  KEEPALIVE_GRANULARITY_MS,
  KEEPALIVE_MS,
  Stream,
  type StreamOptions,
  type StreamState,
  StreamStateError,
  type StreamStats,
  SYN_DIRECT_ATTEMPTS,
  SYN_MAX_TRANSMISSIONS,
  TIME_WAIT_GRANULARITY_MS,
  TIME_WAIT_MS,
} from "./stream.ts";
export { startTimerLoop, TimerQueue, type TimerService, type TimerTarget } from "./timers.ts";
export { SYN_RATE_GLOBAL, SYN_RATE_PER_SOURCE } from "./rate-limit.ts";
export { SackError } from "./sack.ts";
export type { SessionEvent } from "./session_events.ts";
