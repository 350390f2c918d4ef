/**
 * The daemon side of the {@link ByteStream} shape: adapts session-layer {@link Stream}s
 * to it and serves a port's streams to a handler. The shape itself is in
 * `byte_stream_shape.ts` (re-exported here), which the SDK's service clients share
 * without depending on the transport.
 */
import type { Stream } from "../transport/stream.ts";
import type { Listener } from "../transport/manager.ts";
import { type ByteStream, type IoOptions, type PeerStream, StreamIoError } from "./byte_stream_shape.ts";

export { type ByteStream, type IoOptions, type PeerStream, StreamIoError };

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
 * {@link serveStreams} with a handler that is built on the first accepted stream: the port is
 * bound at once, but the service's code (`load`) is imported only when a peer first connects, so
 * a daemon whose service is never used does not keep it in memory (docs/benchmarks.md, "Daemon
 * footprint"). A failed load fails that stream, and the next stream tries again.
 */
export function serveStreamsOnDemand(
  manager: { listen(port: number): Listener; unlisten(listener: Listener): void },
  port: number,
  load: () => Promise<(stream: PeerStream) => Promise<void>>,
  onError?: (err: unknown) => void,
): () => void {
  let handler: Promise<(stream: PeerStream) => Promise<void>> | undefined;
  return serveStreams(manager, port, async (stream) => {
    handler ??= load().catch((err) => {
      handler = undefined;
      throw err;
    });
    await (await handler)(stream);
  }, onError);
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
