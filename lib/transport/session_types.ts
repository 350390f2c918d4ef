/**
 * The session layer's limits, option and result types, and errors: what a user of
 * `SessionManager` (manager.ts) passes in and gets back.
 * @module
 */
import { PilotError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Address } from "../protocol/address.ts";
import type { Packet } from "../protocol/packet.ts";
import type { CloseReason, StreamOptions } from "./stream.ts";
import type { TimerService } from "./timers.ts";

/** Live connections allowed on one local port; a SYN beyond it gets RST. */
export const MAX_CONNECTIONS_PER_PORT = 1024;
/** Live connections allowed in total; a SYN beyond it gets RST. */
export const MAX_CONNECTIONS_TOTAL = 4096;
/** Accepted connections waiting for the application, per listener. */
export const ACCEPT_QUEUE_CAPACITY = 64;
/** Datagrams waiting in one bound socket before new ones are dropped. */
export const DATAGRAM_QUEUE_CAPACITY = 256;
/** Largest datagram payload (one packet, 16-bit length). */
export const MAX_DATAGRAM_PAYLOAD = 0xffff;
/** Interval of the housekeeping sweep (SYN source buckets). */
export const SWEEP_INTERVAL_MS = 15_000;
/** Default time to wait for a pong. */
export const PING_TIMEOUT_MS = 5_000;
/**
 * Decides whether an incoming SYN or datagram from `remote` is accepted. A
 * private node checks its trust set and the registry; returning a promise is
 * allowed (the SYN waits; retransmitted SYNs meanwhile are dropped). Control
 * pings are never gated.
 */
export type TrustGate = (remote: Address, kind: "stream" | "datagram") => boolean | Promise<boolean>;

/** Construction parameters of a `SessionManager`. */
export interface SessionManagerOptions {
  /** This node's address (network 0); the Src of every packet we originate. */
  localAddr: Address;
  /** Delivers a packet to the tunnel. Must not synchronously call `SessionManager.onPacket`. */
  send: (pkt: Packet) => void;
  /** Clock and wake-ups (a {@link TimerQueue} driven by the daemon's event loop). */
  timers: TimerService;
  /** Trust gate for SYNs and datagrams; default accepts everything (a public node). */
  trustGate?: TrustGate;
  /**
   * Answer a SYN the trust gate refuses with RST, so the dialer fails at once with
   * "connection refused", instead of the reference's silent drop (a dial timeout).
   */
  rstUntrusted?: boolean;
  /** Defaults for every stream (MSS, Nagle, buffer sizes). */
  streamOptions?: StreamOptions;
  maxConnectionsPerPort?: number;
  maxConnectionsTotal?: number;
  synRateGlobal?: number;
  synRatePerSource?: number;
  logger?: Logger;
  /**
   * Where the sequential ephemeral allocation starts (default: a random port of the range, so a
   * restarted daemon does not dial from the tuples its previous run used while peers may still
   * send for them).
   */
  firstEphemeralPort?: number;
}

/** Options of one dial. */
export interface DialOptions extends StreamOptions {
  /** Local port to dial from (default: next free ephemeral port). */
  localPort?: number;
  /** Called when the n-th SYN timer expires, before the next SYN (switch the peer to relay at n = 3). */
  onSynTimeout?: (expiries: number) => void;
}

/** A received datagram. `data` is the packet's payload view. */
export interface Datagram {
  src: Address;
  srcPort: number;
  dstPort: number;
  data: Uint8Array;
}

/** Result of a ping. */
export interface PingResult {
  /** Round-trip time in milliseconds (the session clock's units). */
  rttMs: number;
  /** Payload bytes echoed. */
  bytes: number;
}

/** Counts of packets the manager refused or dropped, by cause. */
export interface SessionCounters {
  rstNoListener: number;
  rstPortLimit: number;
  rstTotalLimit: number;
  rstAcceptQueueFull: number;
  rstBadVersion: number;
  /** RSTs received that did not match their connection (rst_check.ts): dropped, or answered by a challenge ACK. */
  rstIgnored: number;
  rstChallenged: number;
  /** Challenge ACKs not sent because of the rate limit (the RST was dropped). */
  rstChallengeLimited: number;
  synUntrusted: number;
  synRateGlobal: number;
  synRateSource: number;
  unmatched: number;
  badVersion: number;
  unknownProtocol: number;
  datagramUntrusted: number;
  datagramDropped: number;
  pingsAnswered: number;
}

/** A session-layer operation failed (port in use, no free port, bad argument). */
export class SessionError extends PilotError {}

/** A dial did not complete; `reason` is `refused`, `dial-timeout`, `local`, `aborted`, ... */
export class DialError extends PilotError {
  constructor(readonly reason: CloseReason) {
    super(
      reason === "refused"
        ? "connection refused"
        : reason === "dial-timeout"
        ? "dial timeout"
        : `dial: ${reason}`,
    );
  }
}

/** A ping got no answer in time, or the manager shut down. */
export class PingTimeoutError extends PilotError {}
