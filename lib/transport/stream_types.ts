/**
 * The types around a stream connection: its states and close reasons, options, what it needs
 * from its owner, and its counters. stream.ts re-exports them.
 * @module
 */
import { PilotError } from "../errors.ts";
import type { Address } from "../protocol/address.ts";
import type { Packet } from "../protocol/packet.ts";
import type { TimerService } from "./timers.ts";
import type { Stream } from "./stream.ts";

/** Connection states (names as in the IPC conn_list). SYN_RECV, LISTEN and CLOSE_WAIT are never entered. */
export type StreamState = "CLOSED" | "SYN_SENT" | "ESTABLISHED" | "FIN_WAIT" | "TIME_WAIT";

/**
 * Why a connection stopped being writable: `local` close(), `remote` FIN,
 * `reset` RST received, `refused` RST while dialing, `dial-timeout` SYN
 * schedule exhausted, `timeout` retransmission limit, `idle` 120 s without
 * activity, `aborted` local abort(), `linger` close() could not drain in time.
 */
export type CloseReason =
  | "local"
  | "remote"
  | "reset"
  | "refused"
  | "dial-timeout"
  | "timeout"
  | "idle"
  | "aborted"
  | "linger";

/** A write, read or close was attempted in a state that does not allow it. */
export class StreamStateError extends PilotError {}

/** Per-connection tunables. */
export interface StreamOptions {
  /** Payload bytes per segment (default 4096; 1400 avoids IP fragmentation on the Internet). */
  mss?: number;
  /** Send every write at once instead of coalescing small writes (Nagle off). */
  noDelay?: boolean;
  /** Unsent bytes `write` accepts (default 1 MiB). */
  sendBufferBytes?: number;
  /** Unread bytes that fill the advertised window (default 2 MiB). */
  recvBufferBytes?: number;
}

/** What a stream needs from whoever owns it (the session manager, or a test). */
export interface StreamHost {
  /** Clock and wake-ups. */
  readonly timers: TimerService;
  /** Hands a packet to the network; must not synchronously call back into the stream. */
  send(pkt: Packet): void;
  /** Told after every state change (the manager keeps counters and removes CLOSED streams). */
  stateChanged(stream: Stream, previous: StreamState): void;
  /**
   * Told of an RST that did not match the connection (rst_check.ts); for a `challenge` it
   * answers whether a challenge ACK may go out now. Without it, nothing is sent.
   */
  rstRefused?(verdict: "challenge" | "ignore"): boolean;
  /**
   * Asked when an ACK is due: true when the host will call {@link Stream.batchEnded} once the
   * batch of received packets being processed is done, so the ACK can cover the whole batch.
   */
  ackAtBatchEnd?(stream: Stream): boolean;
}

/** Identity and addressing of a new stream. */
export interface StreamInit {
  id: number;
  host: StreamHost;
  localAddr: Address;
  localPort: number;
  remoteAddr: Address;
  remotePort: number;
  options?: StreamOptions;
}

/** Counters and congestion state, with the IPC conn_list field meanings (camelCase). */
export interface StreamStats {
  id: number;
  localPort: number;
  remoteAddr: string;
  remotePort: number;
  state: StreamState;
  congWin: number;
  ssthresh: number;
  inFlight: number;
  srttMs: number;
  rttvarMs: number;
  unacked: number;
  oooBuf: number;
  peerRecvWin: number;
  recvWin: number;
  inRecovery: boolean;
  bytesSent: number;
  bytesRecv: number;
  segsSent: number;
  segsRecv: number;
  retransmits: number;
  fastRetx: number;
  /** Segments marked lost by time-based (RACK) detection. */
  rackLost: number;
  /** Tail loss probes sent. */
  tlpProbes: number;
  /** Retransmission timeouts. */
  timeouts: number;
  /** Retransmissions shown spurious (acknowledged sooner than a round trip). */
  spuriousRetx: number;
  /** Loss recoveries whose window reduction was undone because every retransmission was spurious. */
  undos: number;
  sackRecv: number;
  sackSent: number;
  dupAcks: number;
}
