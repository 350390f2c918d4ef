/**
 * One promise-based byte-stream shape for service code, whichever side runs it: inside
 * the daemon (over a session-layer {@link Stream}) or in an application (over an SDK
 * `Connection`, which already has this shape). Services (trust handshake, data
 * exchange, event stream, tasks, secure channel) are written once against it.
 */
import type { Address } from "../protocol/address.ts";
import type { Stream } from "../transport/stream.ts";
import type { Listener } from "../transport/manager.ts";
import { PilotError } from "../errors.ts";

/** Read/write timeouts and cancellation. */
export interface IoOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** A reliable, ordered byte stream to a peer. */
export interface ByteStream {
  /** Next chunk, or null at end of stream. */
  read(options?: IoOptions): Promise<Uint8Array | null>;
  /** Queues all of `data` (resolves once accepted by the send buffer). */
  write(data: Uint8Array, options?: IoOptions): Promise<void>;
  /** Graceful close. */
  close(): Promise<void>;
}

/** A stream with its peer's identity, as a service handler receives it. */
export interface PeerStream extends ByteStream {
  readonly remoteAddr: Address;
  readonly remotePort: number;
  /** True once the connection has fully closed (both sides done, or reset). */
  readonly closed: boolean;
}

/** A read or write did not finish in time, or the stream closed under it. */
export class StreamIoError extends PilotError {}

/** Adapts a daemon-side session-layer stream to {@link PeerStream}. */
export function streamFromTransport(stream: Stream): PeerStream {
  let readWaiters: (() => void)[] = [];
  let writeWaiters: (() => void)[] = [];
  const wakeReaders = () => {
    const w = readWaiters;
    readWaiters = [];
    for (const f of w) f();
  };
  const wakeWriters = () => {
    const w = writeWaiters;
    writeWaiters = [];
    for (const f of w) f();
  };
  stream.onReadable = wakeReaders;
  stream.onWritable = wakeWriters;
  stream.onClose = () => {
    wakeReaders();
    wakeWriters();
  };
  const ended = () => stream.eof || stream.state === "CLOSED" || stream.state === "TIME_WAIT";
  const wait = (list: (() => void)[], options?: IoOptions) =>
    new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        if (timer !== undefined) clearTimeout(timer);
        options?.signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        if (timer !== undefined) clearTimeout(timer);
        reject(new StreamIoError("aborted"));
      };
      if (options?.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          options?.signal?.removeEventListener("abort", onAbort);
          reject(new StreamIoError(`timed out after ${options.timeoutMs} ms`));
        }, options.timeoutMs);
      }
      options?.signal?.addEventListener("abort", onAbort, { once: true });
      list.push(done);
    });
  return {
    remoteAddr: stream.remoteAddr,
    remotePort: stream.remotePort,
    get closed() {
      return stream.state === "CLOSED" || stream.state === "TIME_WAIT";
    },
    async read(options) {
      for (;;) {
        const chunk = stream.read();
        if (chunk) return chunk;
        if (ended() || stream.closeReason !== undefined) return null;
        await wait(readWaiters, options);
      }
    },
    async write(data, options) {
      let offset = 0;
      while (offset < data.length) {
        if (!stream.writable) {
          throw new StreamIoError(`connection ${stream.id} is not writable (${stream.state})`);
        }
        offset += stream.write(offset === 0 ? data : data.subarray(offset));
        if (offset < data.length) await wait(writeWaiters, options);
      }
    },
    close() {
      stream.close();
      return Promise.resolve();
    },
  };
}

/**
 * Serves `port` inside the daemon: each accepted stream is handed to `handler` as a
 * {@link PeerStream}; a handler failure closes that stream only. Returns a stop function.
 */
export function serveStreams(
  manager: { listen(port: number): Listener; unlisten(listener: Listener): void },
  port: number,
  handler: (stream: PeerStream) => Promise<void>,
  onError?: (err: unknown) => void,
): () => void {
  const listener = manager.listen(port);
  listener.onConnection = () => {
    for (let s = listener.accept(); s; s = listener.accept()) {
      const io = streamFromTransport(s);
      handler(io).catch((err) => {
        onError?.(err);
        s.abort();
      });
    }
  };
  return () => manager.unlisten(listener);
}
