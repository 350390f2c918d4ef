/**
 * The stream state machine's limits and timings (docs/protocol/transport.md §3–§8), each with its unit and the
 * reason for its value. stream.ts re-exports them.
 * @module
 */
import { MAX_CWND_BYTES } from "./congestion.ts";

/** Default maximum segment size (payload bytes per packet). */
export const DEFAULT_MSS = 4096;
/** Bytes per advertised window unit: the reference multiplies the Window field by its 4096-byte MSS. */
export const WINDOW_UNIT_BYTES = 4096;
/** Largest value of the 16-bit Window field. */
export const MAX_WINDOW_FIELD = 0xffff;
/** Receive buffer for unread in-order data: 512 segments of 4096 bytes, as the reference. */
export const RECV_BUFFER_BYTES = 512 * WINDOW_UNIT_BYTES;
/**
 * In-order data still accepted beyond a full receive buffer, because reference
 * senders ignore a zero window; one maximum congestion window. Beyond this,
 * data is dropped without an ACK.
 */
export const RECV_OVERCOMMIT_BYTES = MAX_CWND_BYTES;
/** Written-but-unsegmented bytes `write` accepts before signalling backpressure. */
export const SEND_BUFFER_BYTES = 1_048_576;
/** Window the peer is assumed to offer when its SYN / SYN+ACK says 0 (the reference's 512 segments). */
export const DEFAULT_PEER_WINDOW_UNITS = 512;
/** Send a window update once the window has reopened by this many units since the last advertisement. */
export const WINDOW_UPDATE_UNITS = 128;
/** Initial sequence number (the reference always uses 0; its SACK comparisons are not wrap-safe). */
export const ISN = 0;
/** Delayed ACK: acknowledge at the latest every this many data segments... */
export const DELAYED_ACK_SEGMENTS = 2;
/** ...or this long after the first unacknowledged one. */
export const DELAYED_ACK_MS = 40;
/**
 * Most data segments one ACK covers when a batch of received packets is acknowledged at its end
 * (64 KiB, about what Linux's GRO merges), so a sender's window still advances in steps.
 */
export const ACK_STRETCH_SEGMENTS = 16;
/**
 * After out-of-order data (a loss or reordering on the path) the receiver
 * acknowledges each of the next this many data segments at once instead of
 * every second one, so a sender with a small window learns promptly what
 * arrived and its time-based loss detection is not held up by the 40 ms timer.
 */
export const QUICK_ACK_SEGMENTS = 16;
/** Nagle: how long a sub-MSS remainder may be held while data is unacknowledged. */
export const NAGLE_DELAY_MS = 40;
/** Duplicate pure ACKs that trigger fast retransmit. */
export const DUP_ACK_THRESHOLD = 3;
/**
 * Tail loss probe (RFC 8985 §7): when nothing has been delivered for a probe
 * timeout, max(2·SRTT, SRTT + 4·RTTVAR) + this, while data is outstanding, a
 * probe segment is sent so that its acknowledgement reveals a lost tail
 * without waiting for the retransmission timeout (200 ms at least). The slack
 * stands for timer granularity and scheduling delays on sub-millisecond paths.
 */
export const TLP_SLACK_MS = 2;
/** Probes per stall (each waits twice as long as the previous) before only the retransmission timer is left. */
export const TLP_MAX_PROBES = 5;
/**
 * Transmissions of the oldest segment by the retransmission timer (the
 * original + 7 timeouts in a row, with no new cumulative ACK) before the
 * connection is reset. Fast retransmissions and probes do not count.
 */
export const MAX_TRANSMISSIONS = 8;
/** First zero-window probe interval (doubles after each probe). */
export const PERSIST_INITIAL_MS = 500;
/** Cap of the zero-window probe interval. */
export const PERSIST_MAX_MS = 30_000;
/**
 * Send a keepalive when nothing has been sent for this long. Measured from our
 * last transmission, not from the last packet received: otherwise one side's
 * keepalives would suppress the other's and the first would idle-close.
 */
export const KEEPALIVE_MS = 30_000;
/**
 * Keepalives leave on whole multiples of this on the daemon's clock: at the first one at least
 * KEEPALIVE_MS − KEEPALIVE_SLACK_MS after our last transmission (29–59 s, then every 30 s; the
 * reference's 15 s sweep sends the first 30–45 s after, then one per sweep). A daemon's idle
 * connections then send theirs in one wake-up, the heartbeat's (lib/aligned_timer.ts), and the
 * peer's 120 s idle limit still sees at least two (docs/protocol/transport.md §7).
 */
export const KEEPALIVE_GRANULARITY_MS = 30_000;
/** How early a keepalive may leave, so that one sent a little late does not push the next a whole step. */
export const KEEPALIVE_SLACK_MS = 1_000;
/** Close a connection after this much inactivity. */
export const IDLE_TIMEOUT_MS = 120_000;
/** How long a closed connection keeps its 4-tuple, at least. */
export const TIME_WAIT_MS = 10_000;
/**
 * TIME_WAIT ends on a whole multiple of this on the daemon's clock, so it lasts 10–11 s and the
 * connections closed within the same second leave it together: one timer wake-up for all of them,
 * not one each (the reference removes them at a 15 s sweep: 10–25 s; docs/protocol/transport.md §7).
 */
export const TIME_WAIT_GRANULARITY_MS = 1_000;
/**
 * Dial SYN schedule (draft-conformant, docs/protocol/transport.md §3.2): the SYN timer starts
 * at 1 s and doubles up to 8 s; 6 SYNs in all, at 0, 1, 3, 7, 15, 23 s, and the
 * dial fails at 31 s. After the 3rd expiry the daemon may move the peer to
 * relay (onSynTimeout), so the last 3 SYNs go via relay. Every SYN is identical.
 */
export const SYN_RTO_INITIAL_MS = 1_000;
/** Cap of the doubling SYN timer. */
export const SYN_RTO_MAX_MS = 8_000;
/** SYNs sent before a dial fails with `dial-timeout`. */
export const SYN_MAX_TRANSMISSIONS = 6;
/** SYN expiries after which the daemon should switch the peer to relay. */
export const SYN_DIRECT_ATTEMPTS = 3;
/** FIN transmissions before giving up on the peer's answer and entering TIME_WAIT anyway. */
export const FIN_MAX_TRANSMISSIONS = 3;
/** How long close() waits for unsent/unacknowledged data to drain before resetting. */
export const CLOSE_LINGER_MS = 60_000;
