/**
 * A checked bulk transfer for integration tests: `a` streams deterministic pseudo-random bytes to
 * a listener on `b`, both ends hash what passed, and the caller compares the hashes. The bytes are
 * generated per chunk from its index, so neither side keeps the data in memory.
 */
import { createHash } from "node:crypto";
import type { PilotClient } from "../../lib/sdk/mod.ts";

/** Bytes the sender writes per call. */
const CHUNK_BYTES = 256 * 1024;
/** Bound on each accept, read and write of the transfer. */
const IO_TIMEOUT_MS = 60_000;
/** Default bound on the dial. */
const DIAL_TIMEOUT_MS = 30_000;

/** Deterministic pseudo-random bytes (xorshift32), so both ends can hash without sharing buffers. */
function patternChunk(seed: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Options of {@link transfer}. */
export interface TransferOptions {
  /** Bound on the dial (default 30 s). */
  dialTimeoutMs?: number;
  /** The receiver starts reading only after this long (to stall the stream). */
  readDelayMs?: number;
  /** Told the running total after each write. */
  onProgress?: (sent: number) => void;
}

/** What {@link transfer} saw: both sides' sha256 (hex), the bytes received and the timings. */
export interface TransferResult {
  sent: string;
  received: string;
  bytes: number;
  /** How long the dial took. */
  dialMs: number;
  /** From the first write until the receiver had everything. */
  seconds: number;
}

/** Streams `total` bytes from `a` to a sink listener on `b` (address `toAddr`, port `port`). */
export async function transfer(
  a: PilotClient,
  b: PilotClient,
  toAddr: string,
  port: number,
  total: number,
  opts: TransferOptions = {},
): Promise<TransferResult> {
  const listener = await b.listen(port);
  const acceptP = listener.accept({ timeoutMs: IO_TIMEOUT_MS });
  const dialStart = performance.now();
  const conn = await a.dial(toAddr, port, { timeoutMs: opts.dialTimeoutMs ?? DIAL_TIMEOUT_MS });
  const dialMs = performance.now() - dialStart;
  const server = await acceptP;
  const recvHash = createHash("sha256");
  let received = 0;
  const reading = (async () => {
    if (opts.readDelayMs) await new Promise((r) => setTimeout(r, opts.readDelayMs));
    while (received < total) {
      const chunk = await server.read({ timeoutMs: IO_TIMEOUT_MS });
      if (chunk === null) break;
      recvHash.update(chunk);
      received += chunk.length;
    }
  })();
  const sendHash = createHash("sha256");
  const start = performance.now();
  for (let sent = 0, i = 1; sent < total; i++) {
    const chunk = patternChunk(i, Math.min(CHUNK_BYTES, total - sent));
    sendHash.update(chunk);
    await conn.write(chunk, { timeoutMs: IO_TIMEOUT_MS });
    sent += chunk.length;
    opts.onProgress?.(sent);
  }
  await reading;
  const seconds = (performance.now() - start) / 1000;
  await conn.close();
  await server.close();
  listener.close();
  return { sent: sendHash.digest("hex"), received: recvHash.digest("hex"), bytes: received, dialMs, seconds };
}
