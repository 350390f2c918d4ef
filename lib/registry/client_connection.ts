/**
 * The registry client's one lock-step connection: dialled on demand (plain TCP, TLS, or TLS
 * pinned to the certificate's SHA-256), one frame out and one reply back at a time, dropped on
 * any trouble so the next call starts on a fresh connection. What to send, where, and when to
 * retry stay with the client.
 * @module
 */
import { RegistryConnectionError } from "./errors.ts";
import type { RegistryEndpoint } from "./client_endpoints.ts";
import { dial, type Transport } from "./transport.ts";
import { decodeBody, FrameReader, MAX_REPLY_BODY, type WireMessage } from "./wire.ts";
import { errorMessage } from "../errors.ts";

/** Default dial timeout per attempt (the reference's). */
export const DEFAULT_DIAL_TIMEOUT_MS = 5_000;

/** How the connection dials. */
export interface RegistryConnectionOptions {
  /** Use TLS; `pin` = hex SHA-256 of the registry's DER certificate. */
  tls?: { pin?: string; caCerts?: string[]; serverName?: string };
  dialTimeoutMs?: number;
}

/** One connection at a time to a registry; closing it for good makes later use fail. */
export class RegistryConnection {
  #transport: Transport | null = null;
  #reader = new FrameReader(MAX_REPLY_BODY);
  #closed = false;

  constructor(readonly options: RegistryConnectionOptions) {}

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the connection for good. */
  close(): void {
    this.#closed = true;
    this.drop();
  }

  /** Closes the current connection; the next use dials again. */
  drop(): void {
    this.#transport?.close();
    this.#transport = null;
  }

  /** The open connection, or a new one to `endpoint`. */
  async ensure(endpoint: RegistryEndpoint): Promise<Transport> {
    if (this.#closed) throw new RegistryConnectionError("registry client is closed");
    if (this.#transport) return this.#transport;
    this.#transport = await dial({
      hostname: endpoint.hostname,
      port: endpoint.port,
      tls: this.options.tls,
      timeoutMs: this.options.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS,
    });
    this.#reader = new FrameReader(MAX_REPLY_BODY);
    return this.#transport;
  }

  /** Sends one encoded frame and reads its reply; any failure drops the connection. */
  async roundTrip(endpoint: RegistryEndpoint, frame: Uint8Array): Promise<WireMessage> {
    const t = await this.ensure(endpoint);
    try {
      await t.write(frame);
      for (;;) {
        const body = this.#reader.next();
        if (body) return decodeBody(body);
        const chunk = await t.read();
        if (chunk === null) throw new Error("connection closed by registry");
        this.#reader.push(chunk);
      }
    } catch (err) {
      this.drop();
      if (err instanceof RegistryConnectionError) throw err;
      throw new RegistryConnectionError(`registry connection failed: ${errorMessage(err)}`);
    }
  }
}
