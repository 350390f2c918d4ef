/**
 * The port-443 secure channel (docs/protocol/services.md §2) over any {@link ByteStream}: an X25519 exchange of
 * ephemeral keys in the clear (dialer first, 10 s deadline), a `pilot-secure-v1` AES-256-GCM key
 * from HKDF, then length-prefixed frames sealed with role-prefixed nonces and the sender's prefix
 * as AAD. Optionally both sides then prove their node identity (step 5). The channel is itself a
 * {@link ByteStream} (so service code runs over it unchanged) and a Web Streams duplex.
 *
 * A frame that fails to open (tampered, reflected, replayed, out of order) ends the channel: the
 * underlying stream is closed and the read throws {@link SecureChannelError}.
 * @module
 */
import { createSecureChannelCipher, type SecureChannelCipher, type SecureRole } from "../../crypto/aead.ts";
import { INFO_SECURE } from "../../crypto/hkdf.ts";
import { deriveSharedKey, generateX25519KeyPair } from "../../crypto/x25519.ts";
import type { Address } from "../../protocol/address.ts";
import type { ByteStream, IoOptions } from "../byte_stream_shape.ts";
import { StreamReader } from "../stream_reader.ts";
import {
  AUTH_MESSAGE_LENGTH,
  decodeFrameLength,
  encodeSecureFrame,
  FRAME_LENGTH_PREFIX,
  KEY_EXCHANGE_LENGTH,
  MAX_FRAME_PLAINTEXT,
  SecureChannelError,
  SecureFrameError,
  splitFrameBody,
} from "./codec.ts";
import {
  type AuthNonceCache,
  createAuthMessage,
  type PeerKeyLookup,
  processAuthNonceCache,
  SecureAuthError,
  type SecureIdentity,
  verifyAuthMessage,
} from "./auth.ts";
import { closeQuietly, errorMessage, settleQuietly } from "../../errors.ts";

/** Deadline for the key exchange (and authentication, when enabled). */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/** Mutual authentication settings; both sides must enable it (there is no negotiation). */
export interface SecureAuthOptions {
  /** Our node identity, which signs our authentication message. */
  identity: SecureIdentity;
  /** Resolves the peer's Ed25519 public key by node id. */
  lookup: PeerKeyLookup;
  /** Refuse a peer that authenticates as any other node (dialers know whom they dialed). */
  expectedNodeId?: number;
  /** Replay cache; default the process-wide one. */
  nonceCache?: AuthNonceCache;
  /** Clock in ms (tests). */
  now?: () => number;
}

/** Options of {@link SecureChannel.client} and {@link SecureChannel.server}. */
export interface SecureHandshakeOptions {
  /** Handshake deadline in ms (default {@link HANDSHAKE_TIMEOUT_MS}). */
  timeoutMs?: number;
  signal?: AbortSignal;
  auth?: SecureAuthOptions;
}

/**
 * An encrypted, optionally mutually authenticated byte stream.
 *
 * @example
 * ```ts
 * import { connect, SecureChannel } from "../../../mod.ts";
 * // Runs the client handshake over any stream, here a raw connection to port 443.
 * async function handshake(peer: string): Promise<number | undefined> {
 *   await using client = await connect();
 *   const conn = await client.dial(peer, 443, { timeoutMs: 30_000 });
 *   const channel = await SecureChannel.client(conn, { timeoutMs: 10_000 });
 *   await channel.close();
 *   return channel.peerNodeId;
 * }
 * console.assert(typeof handshake === "function");
 * ```
 */
export class SecureChannel implements ByteStream {
  /** "client" for the dialer, "server" for the listener. */
  readonly role: SecureRole;
  /** The peer's node id when mutual authentication ran; undefined otherwise. */
  readonly peerNodeId: number | undefined;
  /** The peer's address when the underlying stream knows it. */
  readonly remoteAddr: Address | undefined;
  /** Decrypted bytes; ends when the peer closes; cancelling closes the channel. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to encrypt and send; closing flushes, aborting closes the channel. */
  readonly writable: WritableStream<Uint8Array>;
  readonly #stream: ByteStream;
  readonly #reader: StreamReader;
  readonly #cipher: SecureChannelCipher;
  #writes: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(
    stream: ByteStream,
    reader: StreamReader,
    cipher: SecureChannelCipher,
    peerNodeId: number | undefined,
  ) {
    this.#stream = stream;
    this.#reader = reader;
    this.#cipher = cipher;
    this.role = cipher.role;
    this.peerNodeId = peerNodeId;
    this.remoteAddr = (stream as Partial<{ remoteAddr: Address }>).remoteAddr;
    this.readable = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const chunk = await this.read();
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
      cancel: () => this.close(),
    }, { highWaterMark: 0 });
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => this.write(chunk),
      close: () => this.#writes,
      abort: () => this.close(),
    });
  }

  /** Runs the dialer's side of the handshake on `stream`. */
  static client(stream: ByteStream, options: SecureHandshakeOptions = {}): Promise<SecureChannel> {
    return SecureChannel.#handshake(stream, "client", options);
  }

  /** Runs the listener's side of the handshake on `stream`. */
  static server(stream: ByteStream, options: SecureHandshakeOptions = {}): Promise<SecureChannel> {
    return SecureChannel.#handshake(stream, "server", options);
  }

  static async #handshake(
    stream: ByteStream,
    role: SecureRole,
    options: SecureHandshakeOptions,
  ): Promise<SecureChannel> {
    const deadline = new AbortController();
    const timeoutMs = options.timeoutMs ?? HANDSHAKE_TIMEOUT_MS;
    const timer = setTimeout(
      () => deadline.abort(new SecureChannelError(`handshake timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onAbort = () => deadline.abort(options.signal?.reason);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    const io: IoOptions = { signal: deadline.signal };
    const reader = new StreamReader(stream);
    try {
      const ours = generateX25519KeyPair();
      let theirs: Uint8Array;
      if (role === "client") {
        await stream.write(ours.publicKey, io);
        theirs = await reader.readExact(KEY_EXCHANGE_LENGTH, io);
      } else {
        theirs = (await reader.readExact(KEY_EXCHANGE_LENGTH, io)).slice();
        await stream.write(ours.publicKey, io);
      }
      let key: Uint8Array;
      try {
        key = deriveSharedKey(ours.privateKey, theirs, INFO_SECURE);
      } catch (err) {
        throw new SecureChannelError("peer sent an unusable X25519 key", { cause: err });
      } finally {
        ours.privateKey.fill(0);
      }
      const cipher = createSecureChannelCipher(key, role);
      let peerNodeId: number | undefined;
      if (options.auth) {
        peerNodeId = await authenticate(stream, reader, cipher, ours.publicKey, theirs, options.auth, io);
      }
      return new SecureChannel(stream, reader, cipher, peerNodeId);
    } catch (err) {
      await closeQuietly(stream);
      if (deadline.signal.aborted && deadline.signal.reason instanceof SecureChannelError) {
        throw deadline.signal.reason;
      }
      if (err instanceof SecureChannelError) throw err;
      throw new SecureChannelError(`secure handshake failed: ${errorMessage(err)}`, {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    }
  }

  /** The next decrypted chunk, or null once the peer closed the stream. */
  async read(options?: IoOptions): Promise<Uint8Array | null> {
    for (;;) {
      const plaintext = await readSealedFrame(this.#reader, this.#cipher, options).catch(async (err) => {
        if (err instanceof SecureChannelError) await this.close();
        throw err;
      });
      if (plaintext === null) return null;
      if (plaintext.length > 0) return plaintext;
    }
  }

  /** Encrypts and sends `data` (one frame per 16 MiB); writes are sent in call order. */
  write(data: Uint8Array, options?: IoOptions): Promise<void> {
    if (this.#closed) return Promise.reject(new SecureChannelError("secure channel is closed"));
    const send = async () => {
      for (let off = 0; off < data.length; off += MAX_FRAME_PLAINTEXT) {
        await writeSealedFrame(
          this.#stream,
          this.#cipher,
          data.subarray(off, off + MAX_FRAME_PLAINTEXT),
          options,
        );
      }
    };
    const result = this.#writes.then(send);
    this.#writes = settleQuietly(result, "reported elsewhere");
    return result;
  }

  /** Closes the channel and the stream under it. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#stream.close();
  }
}

async function writeSealedFrame(
  stream: ByteStream,
  cipher: SecureChannelCipher,
  plaintext: Uint8Array,
  options?: IoOptions,
): Promise<void> {
  const { nonce, ciphertextWithTag } = cipher.seal(plaintext);
  await stream.write(encodeSecureFrame(nonce, ciphertextWithTag), options);
}

/** Reads and opens one frame; null at a clean end of stream. */
async function readSealedFrame(
  reader: StreamReader,
  cipher: SecureChannelCipher,
  options?: IoOptions,
): Promise<Uint8Array | null> {
  const prefix = await reader.readExactOrEnd(FRAME_LENGTH_PREFIX, options);
  if (prefix === null) return null;
  const body = await reader.readExact(decodeFrameLength(prefix), options);
  const { nonce, ciphertextWithTag } = splitFrameBody(body);
  try {
    return cipher.open(nonce, ciphertextWithTag);
  } catch (err) {
    throw new SecureChannelError(`secure frame refused: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

/** Step 5: server sends then verifies; client verifies then sends. Returns the peer's node id. */
async function authenticate(
  stream: ByteStream,
  reader: StreamReader,
  cipher: SecureChannelCipher,
  ownX25519: Uint8Array,
  peerX25519: Uint8Array,
  auth: SecureAuthOptions,
  io: IoOptions,
): Promise<number> {
  const now = auth.now ?? Date.now;
  const send = () => writeSealedFrame(stream, cipher, createAuthMessage(auth.identity, ownX25519, now()), io);
  const receive = async () => {
    const message = await readSealedFrame(reader, cipher, io);
    if (message === null) throw new SecureAuthError("peer closed the channel during authentication");
    if (message.length !== AUTH_MESSAGE_LENGTH) {
      throw new SecureFrameError(`auth message must be ${AUTH_MESSAGE_LENGTH} bytes, got ${message.length}`);
    }
    return await verifyAuthMessage(message, peerX25519, {
      lookup: auth.lookup,
      expectedNodeId: auth.expectedNodeId,
      cache: auth.nonceCache ?? processAuthNonceCache,
      nowMs: now(),
    });
  };
  if (cipher.role === "server") {
    await send();
    return await receive();
  }
  const peer = await receive();
  await send();
  return peer;
}
