/**
 * An in-memory pair of connected {@link PeerStream}s for unit tests of service protocol code
 * (the same code runs over daemon streams and SDK connections; integration tests cover those).
 * Writes are delivered as separate chunks, optionally re-cut into pieces of `chunkSize` bytes
 * so framing code meets split headers. `close()` ends both directions, as a pilot stream does.
 * @module
 */
import { Address } from "../../protocol/address.ts";
import { type IoOptions, type PeerStream, StreamIoError } from "../byte_stream.ts";

interface Side {
  queue: Uint8Array[];
  waiters: (() => void)[];
  ended: boolean;
}

/** Options of {@link memoryStreamPair}. */
export interface MemoryPairOptions {
  /** Re-cut every write into chunks of at most this many bytes. */
  chunkSize?: number;
  /** The peer address side `a` reports (default node 2). */
  aRemote?: Address;
  /** The peer address side `b` reports (default node 1). */
  bRemote?: Address;
}

/** Two connected streams: bytes written to `a` are read from `b` and vice versa. */
export function memoryStreamPair(options: MemoryPairOptions = {}): { a: PeerStream; b: PeerStream } {
  const toA: Side = { queue: [], waiters: [], ended: false };
  const toB: Side = { queue: [], waiters: [], ended: false };
  const endBoth = () => {
    for (const s of [toA, toB]) {
      s.ended = true;
      for (const w of s.waiters.splice(0)) w();
    }
  };
  const make = (inbox: Side, outbox: Side, remote: Address, port: number): PeerStream => ({
    remoteAddr: remote,
    remotePort: port,
    get closed() {
      return inbox.ended && outbox.ended;
    },
    async read(io?: IoOptions) {
      for (;;) {
        const chunk = inbox.queue.shift();
        if (chunk) return chunk;
        if (inbox.ended) return null;
        await waitOn(inbox, io);
      }
    },
    write(data: Uint8Array) {
      if (outbox.ended) return Promise.reject(new StreamIoError("memory stream is closed"));
      const size = options.chunkSize ?? (data.length || 1);
      for (let i = 0; i < data.length; i += size) outbox.queue.push(data.slice(i, i + size));
      for (const w of outbox.waiters.splice(0)) w();
      return Promise.resolve();
    },
    close() {
      endBoth();
      return Promise.resolve();
    },
  });
  return {
    a: make(toA, toB, options.aRemote ?? new Address(0, 2), 49152),
    b: make(toB, toA, options.bRemote ?? new Address(0, 1), 49153),
  };
}

function waitOn(side: Side, io?: IoOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const forget = () => {
      clearTimeout(timer);
      io?.signal?.removeEventListener("abort", onAbort);
      const i = side.waiters.indexOf(done);
      if (i >= 0) side.waiters.splice(i, 1);
    };
    const done = () => {
      forget();
      resolve();
    };
    const onAbort = () => {
      forget();
      reject(new StreamIoError("aborted"));
    };
    if (io?.signal?.aborted) return reject(new StreamIoError("aborted"));
    io?.signal?.addEventListener("abort", onAbort, { once: true });
    if (io?.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        forget();
        reject(new StreamIoError(`timed out after ${io.timeoutMs} ms`));
      }, io.timeoutMs);
    }
    side.waiters.push(done);
  });
}
