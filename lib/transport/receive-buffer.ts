/**
 * A stream's receive side (docs/protocol/transport.md §5.2): the next expected sequence number, segments that
 * arrived ahead of it, in-order data waiting to be read, the end of the stream (a FIN may overtake
 * data), and the window advertised from the room left. Bounded: data beyond the buffer plus
 * {@link RECV_OVERCOMMIT_BYTES} is refused (not acknowledged).
 * @module
 */
import { ReassemblyBuffer } from "./reassembly.ts";
import { Ring } from "./ring.ts";
import { seqAdd, seqAfter, seqAfterOrEqual, seqDiff } from "./seq.ts";
import { MAX_WINDOW_FIELD, RECV_OVERCOMMIT_BYTES, WINDOW_UNIT_BYTES } from "./stream_constants.ts";

/** Received stream data, in order and ahead of order. */
export class ReceiveBuffer {
  /** Next in-order sequence number expected. */
  rcvNxt = 0;
  /** Segments that arrived ahead of `rcvNxt` (their SACK blocks go on our ACKs). */
  readonly ooo = new ReassemblyBuffer();
  /** In-order data not yet read, and its size. */
  readonly #queue = new Ring<Uint8Array>();
  unread = 0;
  /** Sequence number of a FIN that overtook data still missing (-1: none). */
  finSeq = -1;
  /** The peer finished (or the connection died): after the queue, reading ends. */
  remoteEnded = false;
  /** Set by close(): received data is acknowledged but thrown away. */
  discardInput = false;
  /** Payload bytes delivered in order, and data segments received. */
  bytesRecv = 0;
  segsRecv = 0;

  /** `readable` is called whenever data or the end of the stream becomes readable. */
  constructor(readonly capacity: number, private readonly readable: () => void) {}

  /** True once the stream ended and every received byte has been read. */
  get eof(): boolean {
    return this.remoteEnded && this.#queue.length === 0;
  }

  /**
   * Takes a data segment (§5.2): in order → deliver and drain the reassembly buffer; ahead →
   * buffer; old → only a part beyond rcvNxt is new. `keep` is false when the connection is
   * closed (the data is then counted, not queued). Returns false when the segment must not be
   * acknowledged (receive hard cap reached).
   */
  accept(seq: number, data: Uint8Array, keep: boolean): boolean {
    this.segsRecv++;
    const ahead = seqDiff(seq, this.rcvNxt);
    if (ahead > 0) {
      if (ahead < this.capacity + RECV_OVERCOMMIT_BYTES) this.ooo.insert(seq, data);
      return true;
    }
    if (ahead < 0) {
      if (data.length <= -ahead) return true;
      data = data.subarray(-ahead);
    }
    if (!this.discardInput && this.unread + data.length > this.capacity + RECV_OVERCOMMIT_BYTES) {
      return false;
    }
    this.#deliver(data, keep);
    for (let d = this.ooo.pull(this.rcvNxt); d; d = this.ooo.pull(this.rcvNxt)) this.#deliver(d, keep);
    return true;
  }

  #deliver(data: Uint8Array, keep: boolean): void {
    this.rcvNxt = seqAdd(this.rcvNxt, data.length);
    this.bytesRecv += data.length;
    if (!this.discardInput && keep) {
      this.#queue.push(data);
      this.unread += data.length;
      this.readable();
    }
    if (this.finSeq >= 0 && seqAfterOrEqual(this.rcvNxt, this.finSeq)) {
      this.finSeq = -1;
      this.remoteEnded = true;
      this.readable();
    }
  }

  /** The next chunk of in-order data (at most `maxBytes`), or null when none is waiting. */
  read(maxBytes: number): Uint8Array | null {
    const head = this.#queue.peek();
    if (!head) return null;
    let out: Uint8Array;
    if (head.length <= maxBytes) {
      this.#queue.shift();
      out = head;
    } else {
      const n = Math.max(1, Math.floor(maxBytes));
      out = head.subarray(0, n);
      this.#queue.replaceFront(head.subarray(n));
    }
    this.unread -= out.length;
    return out;
  }

  /** A FIN at `seq`: the end, now or once the data before it has arrived. */
  finAt(seq: number): void {
    if (!this.discardInput && seqAfter(seq, this.rcvNxt)) this.finSeq = seq;
    else this.remoteEnded = true;
    this.readable();
  }

  /**
   * No more data comes (the connection is over or idled out): the reader sees the end after the
   * queue, even if a FIN was still waiting for data it overtook.
   */
  end(): void {
    this.finSeq = -1;
    if (this.remoteEnded) return;
    this.remoteEnded = true;
    this.readable();
  }

  /** close(): unread data is dropped, and data still arriving is acknowledged and dropped. */
  discard(): void {
    this.discardInput = true;
    this.#queue.clear();
    this.unread = 0;
  }

  /** The Window field for the room left (the full buffer while discarding). */
  windowField(): number {
    if (this.discardInput) return Math.min(MAX_WINDOW_FIELD, Math.floor(this.capacity / WINDOW_UNIT_BYTES));
    const free = this.capacity - this.unread;
    return free <= 0 ? 0 : Math.min(MAX_WINDOW_FIELD, Math.floor(free / WINDOW_UNIT_BYTES));
  }
}
