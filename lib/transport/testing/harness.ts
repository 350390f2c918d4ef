/**
 * Test helpers on top of {@link SimNet}: a bulk transfer between two managers
 * with a backpressure-respecting writer and a verifying reader.
 * @module
 */
import { Address } from "../../protocol/address.ts";
import type { SessionManager } from "../manager.ts";
import type { Stream, StreamOptions } from "../stream.ts";
import { patternBytes, type SimNet } from "./sim.ts";

/** Progress of one transfer. */
export interface Transfer {
  client?: Stream;
  server?: Stream;
  written: number;
  received: number;
  mismatchAt: number;
  eof: boolean;
  clientClosed: string | undefined;
  serverClosed: string | undefined;
  /** Largest bytes the client held (unsent + unacknowledged). */
  maxSenderHeld: number;
  /** Largest unread bytes the server's stream held. */
  maxReceiverUnread: number;
  done(): boolean;
}

/** Options of {@link startTransfer}. */
export interface TransferOptions {
  port?: number;
  chunk?: number;
  /** Reader: bytes read per wake-up (Infinity = everything), and a delay before each read pass. */
  readBudget?: number;
  readEveryMs?: number;
  /** Do not read before this simulated time. */
  readFrom?: number;
  closeWhenDone?: boolean;
  streamOptions?: StreamOptions;
}

/**
 * Node `client` dials node `server` and sends `total` bytes of
 * {@link patternBytes}; the server checks every byte. Call net.run(t.done).
 */
export function startTransfer(
  net: SimNet,
  client: SessionManager,
  server: SessionManager,
  total: number,
  o: TransferOptions = {},
): Transfer {
  const port = o.port ?? 1000;
  const chunk = o.chunk ?? 65_536;
  const t: Transfer = {
    written: 0,
    received: 0,
    mismatchAt: -1,
    eof: false,
    clientClosed: undefined,
    serverClosed: undefined,
    maxSenderHeld: 0,
    maxReceiverUnread: 0,
    done: () => t.eof || t.mismatchAt >= 0 || t.clientClosed !== undefined && t.clientClosed !== "local",
  };
  const listener = server.listen(port);
  listener.onConnection = () => {
    const s = listener.accept()!;
    t.server = s;
    s.onClose = (r) => t.serverClosed = r;
    let scheduled = false;
    const drain = () => {
      scheduled = false;
      if (s.readableLength > t.maxReceiverUnread) t.maxReceiverUnread = s.readableLength;
      let budget = o.readBudget ?? Infinity;
      while (budget > 0) {
        const d = s.read(budget);
        if (!d) break;
        budget -= d.length;
        if (t.mismatchAt < 0) {
          const want = patternBytes(t.received, d.length);
          for (let i = 0; i < d.length; i++) {
            if (d[i] !== want[i]) {
              t.mismatchAt = t.received + i;
              break;
            }
          }
        }
        t.received += d.length;
      }
      if (s.eof) t.eof = true;
      else if (s.readableLength > 0 && paced) schedule();
    };
    const schedule = () => {
      if (scheduled) return;
      scheduled = true;
      net.at(Math.max(net.now + (o.readEveryMs ?? 0), o.readFrom ?? 0), drain);
    };
    const paced = o.readEveryMs !== undefined || o.readFrom !== undefined || o.readBudget !== undefined;
    s.onReadable = paced ? schedule : drain;
    if (s.readableLength > 0) s.onReadable();
  };
  const c = client.dial(new Address(0, server.localAddr.node), port, o.streamOptions);
  t.client = c;
  c.onClose = (r) => t.clientClosed = r;
  const pump = () => {
    while (t.written < total) {
      const n = Math.min(chunk, total - t.written);
      const accepted = c.write(patternBytes(t.written, n));
      t.written += accepted;
      const held = c.writableLength + c.inFlight;
      if (held > t.maxSenderHeld) t.maxSenderHeld = held;
      if (accepted < n) return;
    }
    if (o.closeWhenDone ?? true) c.close();
  };
  c.onOpen = pump;
  c.onWritable = pump;
  return t;
}
