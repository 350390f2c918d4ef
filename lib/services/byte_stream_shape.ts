/**
 * One promise-based byte-stream shape for service code, whichever side runs it: inside
 * the daemon (over a session-layer stream, adapted in `byte_stream.ts`) or in an
 * application (over an SDK `Connection`, which already has this shape). Services (trust
 * handshake, data exchange, event stream, tasks, secure channel) and their SDK clients
 * are written once against it. Types and one error class; no I/O.
 * @module
 */
import type { Address } from "../protocol/address.ts";
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
