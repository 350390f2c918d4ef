/**
 * Copies bytes both ways between a local TCP connection and an overlay stream, shared by the
 * gateway (TCP in, overlay out) and by exposed ports (overlay in, TCP out).
 *
 * Backpressure is end to end: each direction awaits its write before it reads again, so a slow
 * TCP reader stops us reading the overlay stream (its receive window closes and the far sender
 * stalls), and a slow overlay path stops us reading the TCP socket (the kernel's window closes).
 * A bridge holds at most one read chunk per direction beyond the two stacks' own buffers.
 *
 * Half-close: a FIN on the overlay closes that stream in both directions (docs/protocol/transport.md §8), so
 * only the TCP side can be half-closed. When the overlay side ends, everything it sent is
 * written to TCP, then TCP's write side is shut and the bridge ends. When the TCP side ends
 * first, it depends on who that side is: a gateway's client that half-closes after its request
 * still wants the reply, so the overlay stream stays open until the far side has sent it all
 * (`lingerOnTcpEnd`); a local service behind an exposed port that ends has finished its answer,
 * so the overlay stream is closed once our queued data is delivered.
 */

import type { Socket } from "node:net";
import { ignoreRejection } from "../errors.ts";

/** An overlay stream as the bridge uses it (a daemon session-layer stream or an SDK connection). */
export interface OverlayConn {
  /** Next chunk, or null at the end of the stream. */
  read(): Promise<Uint8Array | null>;
  /** Resolves once all of `data` is accepted by the send buffer (that is the backpressure). */
  write(data: Uint8Array): Promise<void>;
  /** Graceful close (queued data is still delivered). */
  close(): Promise<void>;
  /** Abortive close (reset), when the stream supports it; otherwise a graceful close. */
  abort?(): void;
}

/** Byte counters a bridge bumps as data moves (per mapping or per exposed port). */
export interface BridgeCounters {
  /** Bytes from the TCP side onto the overlay. */
  bytesToOverlay: number;
  /** Bytes from the overlay onto the TCP side. */
  bytesToTcp: number;
}

/** How a bridge ended. */
export interface BridgeResult {
  /** A side failed (reset, write error) rather than closing cleanly. */
  error?: string;
}

/**
 * After the TCP side half-closed, the overlay stream is closed once it has been this long
 * without sending anything (a far service that never answers a half-closed client).
 */
export const HALF_CLOSE_IDLE_MS = 10_000;

/**
 * Runs the bridge until both directions are done (or one fails), then closes both sides: a
 * failure on either side resets the other (an overlay reset reaches the TCP client as a TCP
 * RST, never as a clean end). The socket must have been created with `allowHalfOpen: true`.
 * Never throws; failures are reported in the result.
 */
export function bridge(
  tcp: Socket,
  overlay: OverlayConn,
  counters: BridgeCounters,
  options: { lingerOnTcpEnd: boolean; halfCloseIdleMs?: number },
): Promise<BridgeResult> {
  const halfCloseIdleMs = options.halfCloseIdleMs ?? HALF_CLOSE_IDLE_MS;
  return new Promise((resolve) => {
    let failure: string | undefined;
    let overlayEnded = false;
    let overlayClosed = false;
    let tcpEnded = false;
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    let finished = false;

    const finish = () => {
      if (finished) return;
      finished = true;
      if (idleTimer !== undefined) clearTimeout(idleTimer);
      tcp.removeListener("data", onData);
      if (failure) {
        closeOverlay(true);
        if (!tcp.destroyed) tcp.resetAndDestroy();
      } else {
        closeOverlay(false);
        if (!tcp.destroyed) tcp.end(() => tcp.destroy());
      }
      resolve(failure ? { error: failure } : {});
    };
    const closeOverlay = (reset: boolean) => {
      if (overlayClosed) return;
      overlayClosed = true;
      if (reset && overlay.abort) overlay.abort();
      else ignoreRejection(overlay.close(), "peer gone");
    };
    const fail = (where: string, err: unknown) => {
      failure ??= `${where}: ${err instanceof Error ? err.message : String(err)}`;
      finish();
    };

    // TCP → overlay: pause the socket while the overlay send buffer is full.
    let pendingWrite: Promise<unknown> = Promise.resolve();
    const onData = (chunk: Uint8Array) => {
      if (overlayEnded || finished) return;
      tcp.pause();
      pendingWrite = overlay.write(chunk).then(
        () => {
          counters.bytesToOverlay += chunk.length;
          if (!finished) tcp.resume();
        },
        (err) => {
          if (!overlayEnded) fail("tcp→overlay", err);
        },
      );
    };
    tcp.on("data", onData);
    tcp.on("end", () => {
      tcpEnded = true;
      if (overlayEnded) return;
      if (!options.lingerOnTcpEnd) return void pendingWrite.then(finish);
      // Client half-closed: keep the overlay open for the reply, but not forever.
      idleTimer = setTimeout(() => finish(), halfCloseIdleMs);
    });
    tcp.on("error", (err) => fail("tcp", err));
    tcp.on("close", () => {
      if (!finished) {
        if (overlayEnded || tcpEnded) finish();
        else fail("tcp", new Error("closed"));
      }
    });

    // Overlay → TCP: stop reading the overlay while the socket's buffer is full.
    (async () => {
      for (;;) {
        const chunk = await overlay.read();
        if (chunk === null) break;
        if (finished) return;
        if (idleTimer !== undefined) idleTimer.refresh();
        counters.bytesToTcp += chunk.length;
        if (!tcp.write(chunk)) await drained(tcp);
      }
      overlayEnded = true;
      finish();
    })().catch((err) => {
      if (!finished) fail("overlay→tcp", err);
    });
  });
}

function drained(tcp: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      tcp.removeListener("drain", done);
      tcp.removeListener("close", done);
      resolve();
    };
    tcp.on("drain", done);
    tcp.on("close", done);
  });
}
