/**
 * The stream/datagram session layer of pilot (transport.md), free of I/O.
 *
 * Wiring, in the daemon:
 * ```ts ignore
 * const timers = new TimerQueue(() => performance.now());
 * const stopTimers = startTimerLoop(timers); // one setTimeout for every connection
 * const sessions = new SessionManager({
 *   localAddr,                                // own 0:… address
 *   timers,
 *   send: (pkt) => tunnel.send(pkt.dst.node, encodePacket(pkt)), // must not re-enter onPacket synchronously
 *   trustGate: (remote, kind) => isPublic || trusted(remote.node) || registry.checkTrust(remote.node),
 * });
 * tunnel.onPacket = (bytes) => sessions.onPacket(decodePacket(bytes)); // fresh buffer per packet
 * sessions.onDatagram = (dg) => pushRecvFromToEveryClient(dg);
 * const echo = sessions.listen(PORT_ECHO);
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
  KEEPALIVE_MS,
  Stream,
  type StreamOptions,
  type StreamState,
  StreamStateError,
  type StreamStats,
  SYN_DIRECT_ATTEMPTS,
  SYN_MAX_TRANSMISSIONS,
  TIME_WAIT_MS,
} from "./stream.ts";
export { startTimerLoop, TimerQueue, type TimerService, type TimerTarget } from "./timers.ts";
export { SYN_RATE_GLOBAL, SYN_RATE_PER_SOURCE } from "./rate-limit.ts";
export { SackError } from "./sack.ts";
export type { SessionEvent } from "./session_events.ts";
