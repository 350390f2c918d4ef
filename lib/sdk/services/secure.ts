/**
 * The secure channel through the SDK: {@link dialSecure} opens an encrypted stream to a peer's
 * port 443 (or any port), {@link SecureListener} accepts them. Port 443 has no daemon-side
 * service; both ends are applications. Handshakes of incoming connections run concurrently, so
 * a peer that stalls its handshake delays nobody else; failures are counted and dropped.
 * @module
 */
import type { Address } from "../../protocol/address.ts";
import { PORT_SECURE } from "../../protocol/ports.ts";
import type { PilotClient } from "../client.ts";
import type { Listener } from "../listener.ts";
import type { CallOptions } from "../deadline.ts";
import { AcceptQueue, acceptUntilClosed } from "../accept_queue.ts";
import { IpcError } from "../../ipc/errors.ts";
import { SecureChannel, type SecureHandshakeOptions } from "../../services/secure/channel.ts";
import { closeQuietly } from "../../errors.ts";

/** Handshakes a listener runs at once; further connections are closed until one finishes. */
export const MAX_PENDING_HANDSHAKES = 64;
/** Established channels waiting for {@link SecureListener.accept}; more are closed. */
export const SECURE_ACCEPT_QUEUE_CAPACITY = 64;

/** Options of {@link dialSecure}. */
export interface SecureDialOptions extends SecureHandshakeOptions {
  /** Port to dial (default 443). */
  port?: number;
  /** Bound on the dial itself (the handshake has its own `timeoutMs`). */
  dialTimeoutMs?: number;
}

/**
 * Dials `target` and runs the client handshake. With `auth`, the peer must authenticate as the
 * dialed node unless `auth.expectedNodeId` says otherwise.
 *
 * @example
 * ```ts
 * import { dialSecure, type PilotClient } from "../../../mod.ts";
 * async function secretHello(client: PilotClient, peer: string): Promise<string> {
 *   const channel = await dialSecure(client, peer, { dialTimeoutMs: 30_000 });
 *   try {
 *     await channel.write(new TextEncoder().encode("hello"));
 *     const reply = await channel.read({ timeoutMs: 10_000 });
 *     return new TextDecoder().decode(reply ?? new Uint8Array());
 *   } finally {
 *     await channel.close();
 *   }
 * }
 * console.assert(typeof secretHello === "function");
 * ```
 */
export async function dialSecure(
  client: PilotClient,
  target: Address | string,
  options: SecureDialOptions = {},
): Promise<SecureChannel> {
  const conn = await client.dial(target, options.port ?? PORT_SECURE, {
    timeoutMs: options.dialTimeoutMs,
    signal: options.signal,
  });
  const auth = options.auth
    ? { ...options.auth, expectedNodeId: options.auth.expectedNodeId ?? conn.remoteAddr.node }
    : undefined;
  return await SecureChannel.client(conn, { ...options, auth });
}

/** Options of {@link SecureListener.open}. */
export interface SecureListenOptions extends SecureHandshakeOptions {
  /** Port to bind (default 443). */
  port?: number;
  /** Told about each failed incoming handshake. */
  onHandshakeError?: (err: unknown) => void;
}

/**
 * Accepts secure channels on a bound port.
 *
 * @example
 * ```ts
 * import { type PilotClient, SecureListener } from "../../../mod.ts";
 * // Echoes the first message of every secure channel opened to this node.
 * async function secureEcho(client: PilotClient): Promise<void> {
 *   const listener = await SecureListener.open(client);
 *   for await (const channel of listener) {
 *     const message = await channel.read({ timeoutMs: 10_000 });
 *     if (message) await channel.write(message);
 *     await channel.close();
 *   }
 * }
 * console.assert(typeof secureEcho === "function");
 * ```
 */
export class SecureListener {
  /** Incoming handshakes that failed (bad key, bad auth, timeout) or were shed for load. */
  handshakeFailures = 0;
  readonly #listener: Listener;
  readonly #options: SecureListenOptions;
  #pending = 0;
  readonly #ready = new AcceptQueue<SecureChannel>(
    SECURE_ACCEPT_QUEUE_CAPACITY,
    (channel) => void closeQuietly(channel),
  );

  private constructor(listener: Listener, options: SecureListenOptions) {
    this.#listener = listener;
    this.#options = options;
    void this.#pump();
  }

  /** Binds the port (default 443) and starts accepting. */
  static async open(client: PilotClient, options: SecureListenOptions = {}): Promise<SecureListener> {
    const listener = await client.listen(options.port ?? PORT_SECURE, { signal: options.signal });
    return new SecureListener(listener, options);
  }

  /** The bound port. */
  get port(): number {
    return this.#listener.port;
  }

  /** The next established channel; rejects with `IpcError` on timeout, abort or close. */
  accept(options?: CallOptions): Promise<SecureChannel> {
    return this.#ready.take(`secure accept on port ${this.port}`, options);
  }

  /** Stops accepting; queued channels are closed and pending accepts rejected. */
  close(): void {
    if (this.#ready.failed) return;
    this.#listener.close();
    this.#ready.fail(new IpcError("closed", `secure listener on ${this.port} is closed`));
  }

  /** Yields channels until the listener is closed. */
  [Symbol.asyncIterator](): AsyncGenerator<SecureChannel> {
    return acceptUntilClosed(() => this.accept());
  }

  async #pump(): Promise<void> {
    try {
      await this.#acceptLoop();
    } catch {
      // The daemon went away or the listener failed: nothing more will arrive.
    }
    this.close();
  }

  async #acceptLoop(): Promise<void> {
    for await (const conn of this.#listener) {
      if (this.#pending >= MAX_PENDING_HANDSHAKES) {
        this.handshakeFailures++;
        void closeQuietly(conn);
        continue;
      }
      this.#pending++;
      SecureChannel.server(conn, this.#options).then(
        (channel) => this.#deliver(channel),
        (err) => {
          this.handshakeFailures++;
          this.#options.onHandshakeError?.(err);
        },
      ).finally(() => this.#pending--);
    }
  }

  #deliver(channel: SecureChannel): void {
    if (!this.#ready.offer(channel)) void closeQuietly(channel);
  }
}
