/**
 * The echo service (port 7): every byte a peer sends on a stream comes straight back.
 * `pilot ping` and `pilot bench` measure round trips against it.
 */
import type { ServiceSessions } from "./context.ts";
import type { Stream } from "../transport/stream.ts";

/** Serves echo on `port`; returns a function that stops it. */
export function startEchoService(
  manager: Pick<ServiceSessions, "listen" | "unlisten">,
  port: number,
): () => void {
  const listener = manager.listen(port);
  listener.onConnection = () => {
    for (let s = listener.accept(); s; s = listener.accept()) serve(s);
  };
  return () => manager.unlisten(listener);
}

function serve(stream: Stream): void {
  // Bytes read but not yet accepted by our own send buffer (the peer reads slower than it writes).
  let backlog: Uint8Array | null = null;
  const pump = () => {
    if (!stream.writable) {
      stream.onReadable = undefined;
      return;
    }
    if (backlog) {
      const n = stream.write(backlog);
      backlog = n < backlog.length ? backlog.subarray(n) : null;
      if (backlog) return; // wait for onWritable; stop reading so our window closes
    }
    for (let chunk = stream.read(); chunk; chunk = stream.read()) {
      const n = stream.write(chunk);
      if (n < chunk.length) {
        backlog = chunk.subarray(n);
        return;
      }
    }
    if (stream.eof) stream.close();
  };
  stream.onReadable = pump;
  stream.onWritable = pump;
  stream.onClose = () => {
    if (stream.eof) stream.close();
  };
}
