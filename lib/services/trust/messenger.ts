/**
 * One handshake message per connection on port 444 (docs/protocol/services.md §1.1): building our signed
 * messages, sending one to a peer through the node's dialer (so it punches and falls back to
 * the relay like any other dial) and reading one from an accepted connection.
 * @module
 */
import { toBase64, utf8 } from "../../bytes.ts";
import { PORT_TRUST } from "../../protocol/ports.ts";
import { signEd25519 } from "../../crypto/ed25519.ts";
import type { PeerStream } from "../byte_stream.ts";
import type { ServiceContext } from "../context.ts";
import {
  encodeHandshake,
  HandshakeCodecError,
  handshakeSigningText,
  type KnownHandshakeType,
  MAX_MESSAGE_BYTES,
} from "./codec.ts";

/**
 * How long a direct send may spend dialing before the registry relay is used instead: long
 * enough for the dial's NAT strategy to reach the beacon relay (after the 3rd SYN timeout, 7 s).
 */
export const DIRECT_DIAL_TIMEOUT_MS = 12_000;
/** How long a sent message's connection is given to close cleanly before the tunnel may go. */
export const SEND_SETTLE_MS = 2_000;
/** Poll interval while waiting for a sent message's connection to close. */
const SETTLE_POLL_MS = 20;

/** Free-text fields of a message we send. */
export interface MessageFields {
  justification?: string;
  reason?: string;
}

/** Builds and sends this node's handshake messages. */
export class HandshakeMessenger {
  readonly #ctx: Pick<ServiceContext, "nodeId" | "identity" | "dial">;
  readonly #now: () => number;

  constructor(ctx: Pick<ServiceContext, "nodeId" | "identity" | "dial">, now: () => number) {
    this.#ctx = ctx;
    this.#now = now;
  }

  /** Our signed message of `type` for `peer`. */
  message(peer: number, type: KnownHandshakeType, fields: MessageFields = {}): Uint8Array {
    const { seed, publicKey } = this.#ctx.identity;
    const self = this.#ctx.nodeId();
    return encodeHandshake({
      type,
      node_id: self,
      public_key: toBase64(publicKey),
      justification: fields.justification ?? "",
      signature: toBase64(signEd25519(seed, utf8(handshakeSigningText(self, peer)))),
      reason: fields.reason ?? "",
      timestamp: Math.floor(this.#now() / 1000),
    });
  }

  /**
   * Sends one message to the peer's port 444 in one write and closes. Resolves once the
   * peer accepted the connection and the message is queued; `settled` resolves when the
   * connection has closed (so a tunnel torn down after it does not cut it short).
   */
  async send(
    peer: number,
    type: KnownHandshakeType,
    fields: MessageFields = {},
  ): Promise<{ settled: Promise<void> }> {
    const bytes = this.message(peer, type, fields);
    const stream = await this.#ctx.dial(peer, PORT_TRUST, { timeoutMs: DIRECT_DIAL_TIMEOUT_MS });
    await stream.write(bytes, { timeoutMs: DIRECT_DIAL_TIMEOUT_MS });
    await stream.close();
    return { settled: settle(stream) };
  }
}

/**
 * Reads one message: chunks until they parse as JSON, the peer closes, or
 * {@link MAX_MESSAGE_BYTES} is exceeded. Null when the peer closed without sending.
 */
export async function readMessage(stream: PeerStream, timeoutMs: number): Promise<Uint8Array | null> {
  const until = Date.now() + timeoutMs;
  let buf = new Uint8Array(0);
  for (;;) {
    const chunk = await stream.read({ timeoutMs: Math.max(1, until - Date.now()) });
    if (chunk === null) return buf.length ? buf : null;
    if (buf.length + chunk.length > MAX_MESSAGE_BYTES) {
      throw new HandshakeCodecError(`handshake message longer than ${MAX_MESSAGE_BYTES} bytes`);
    }
    const next = new Uint8Array(buf.length + chunk.length);
    next.set(buf);
    next.set(chunk, buf.length);
    buf = next;
    if (parses(buf)) return buf;
  }
}

function parses(bytes: Uint8Array): boolean {
  try {
    JSON.parse(new TextDecoder().decode(bytes));
    return true;
  } catch {
    return false;
  }
}

/** Resolves when `stream` has closed (or after {@link SEND_SETTLE_MS}). */
function settle(stream: PeerStream): Promise<void> {
  const until = Date.now() + SEND_SETTLE_MS;
  return new Promise((resolve) => {
    const check = () => {
      if (stream.closed || Date.now() >= until) resolve();
      else setTimeout(check, SETTLE_POLL_MS);
    };
    check();
  });
}
