/**
 * Overlay streams as the bridge sees them ({@link OverlayConn}): a daemon session-layer stream,
 * or an SDK connection when the gateway runs as its own process. A stream that ends by a reset
 * (or a timeout) makes `read` throw, so the bridge resets the TCP side too instead of passing
 * the failure off as a clean end.
 */
import type { Stream } from "../transport/stream.ts";
import { streamFromTransport } from "../services/byte_stream.ts";
import type { OverlayConn } from "./bridge.ts";
import { PilotError } from "../errors.ts";

/** The overlay stream was reset or timed out under the bridge. */
export class OverlayResetError extends PilotError {}

/** Adapts a daemon-side stream. */
export function overlayFromStream(stream: Stream): OverlayConn {
  const io = streamFromTransport(stream);
  return {
    async read() {
      const chunk = await io.read();
      if (chunk === null) {
        const why = stream.closeReason;
        if (why !== undefined && why !== "remote" && why !== "local" && why !== "idle") {
          throw new OverlayResetError(`overlay stream ${why}`);
        }
      }
      return chunk;
    },
    write: (data) => io.write(data),
    close: () => io.close(),
    abort: () => stream.abort(),
  };
}

/** The part of an SDK connection the bridge needs. */
export interface SdkConnectionLike {
  read(): Promise<Uint8Array | null>;
  write(data: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** Adapts an SDK connection (no reset over IPC: aborting closes it). */
export function overlayFromConnection(conn: SdkConnectionLike): OverlayConn {
  return {
    read: () => conn.read(),
    write: (data) => conn.write(data),
    close: () => conn.close(),
  };
}
