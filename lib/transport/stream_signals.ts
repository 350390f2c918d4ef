/**
 * Two small parts of a stream's bookkeeping: the application events a step raised, fired only
 * once the step is over (so callbacks may call back into the stream), and the receiver's ACK
 * clock (docs/protocol/transport.md §5.3: delayed ACKs, quick ACKs after out-of-order data).
 * @module
 */
import { DELAYED_ACK_MS, DELAYED_ACK_SEGMENTS, QUICK_ACK_SEGMENTS } from "./stream_constants.ts";
import type { CloseReason } from "./stream_types.ts";

/** The callbacks a stream's events go to. */
export interface StreamCallbacks {
  onOpen?: () => void;
  onReadable?: () => void;
  onWritable?: () => void;
  onClose?: (reason: CloseReason) => void;
}

/** Events raised during one step of the state machine. */
export class PendingEvents {
  /** Connection established. */
  open = false;
  /** Data or the end of the stream became readable. */
  readable = false;
  /** The send buffer has room again after a short write. */
  writable = false;
  /** The connection closed, for this reason. */
  close: CloseReason | undefined;

  /** Fires (and clears) what was raised, in a fixed order. */
  fire(to: StreamCallbacks): void {
    if (this.open) {
      this.open = false;
      callback(to.onOpen);
    }
    if (this.readable) {
      this.readable = false;
      callback(to.onReadable);
    }
    if (this.writable) {
      this.writable = false;
      callback(to.onWritable);
    }
    if (this.close !== undefined) {
      const reason = this.close;
      this.close = undefined;
      const cb = to.onClose;
      if (cb) callback(() => cb(reason));
    }
  }
}

/** When the receiver acknowledges data. */
export class AckClock {
  /** Data segments received since our last ACK. */
  #segsSinceAck = 0;
  /** Segments still to be acknowledged at once after out-of-order data. */
  #quickAcks = 0;
  /** When a delayed ACK is due (Infinity: none pending). */
  delayedAt = Infinity;
  /**
   * A sub-MSS segment is waiting for its ACK: it goes when the current step ends unless a reply
   * carried it. A short segment ends a write, so the peer's Nagle may hold its next one for it.
   */
  ackAtStepEnd = false;

  /**
   * A data segment arrived; true when it must be acknowledged now: while out-of-order data is
   * held, when it filled (part of) a gap or was a duplicate (`urgent`, RFC 5681 §4.2), for the
   * next {@link QUICK_ACK_SEGMENTS} segments after that, and every {@link DELAYED_ACK_SEGMENTS}
   * segments; otherwise an ACK is scheduled {@link DELAYED_ACK_MS} after the first one, or at the
   * end of the step for a `short` (sub-MSS) segment (§5.3).
   */
  onData(now: number, holdingOutOfOrder: boolean, urgent: boolean, short = false): boolean {
    if (holdingOutOfOrder || urgent) {
      this.#quickAcks = QUICK_ACK_SEGMENTS;
      return true;
    }
    if (this.#quickAcks > 0) {
      this.#quickAcks--;
      return true;
    }
    if (++this.#segsSinceAck >= DELAYED_ACK_SEGMENTS) return true;
    if (this.delayedAt === Infinity) this.delayedAt = now + DELAYED_ACK_MS;
    if (short) this.ackAtStepEnd = true;
    return false;
  }

  /**
   * An ACK is owed when the host's current batch of received packets has been processed (the
   * host was asked, see StreamHost.ackAtBatchEnd); a data segment sent before then carries it.
   */
  atBatchEnd = false;

  /** Data segments received since our last ACK (quick ACKs aside). */
  get unacked(): number {
    return this.#segsSinceAck;
  }

  /**
   * An ACK is due now but may wait for the end of the current step, so a data segment sent in
   * that step (a reply, or new data the peer's ACK let out) carries it instead of a packet of its own.
   */
  dueAtStepEnd(now: number): void {
    if (this.delayedAt > now) this.delayedAt = now;
    this.ackAtStepEnd = true;
  }

  /** A packet carrying our current ACK went out. */
  sent(): void {
    this.#segsSinceAck = 0;
    this.delayedAt = Infinity;
    this.ackAtStepEnd = false;
    this.atBatchEnd = false;
  }
}

/** Calls an application callback; an exception there must not corrupt the state machine. */
function callback(fn: (() => void) | undefined): void {
  if (!fn) return;
  try {
    fn();
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}
