/**
 * How PILS frames are sealed and opened, one strategy per tunnel, chosen once at open:
 *
 * - `libcrypto` (system OpenSSL over FFI, Linux): sealed in place straight into the datagram
 *   buffer and handed to the socket in the same call; a received frame is opened inside the
 *   socket's batch callback.
 * - `batch` (Web Crypto): each seal starts as the packet is sent (the plaintext is copied by the
 *   call, so the encode buffer may be reused); the seals of one task turn form a batch that a
 *   microtask emits in call order, so many operations are in flight while nonces stay unique and
 *   frames leave in counter order. Received frames are opened the same way, one batch per socket
 *   read, and accepted in arrival order.
 * - `sync` (node:crypto): one operation at a time, inline.
 *
 * Whichever runs, the caller commits the replay counter only after the tag verified (`accept`).
 */
import type { CryptoContext } from "./key_exchange.ts";
import type { TunnelCore } from "./core.ts";
import type { Endpoint } from "./endpoint.ts";
import { PILS_HEADER_SIZE, TAG_SIZE, writePilsHeader } from "./frames.ts";
import type { Peer } from "./peer.ts";
import { HEADER_LENGTH, MAX_PAYLOAD_LENGTH } from "../protocol/header.ts";
import { RELAY_HEADER_SIZE } from "../beacon/messages.ts";
import { writeRelayHeader } from "./route.ts";

/**
 * The PILS crypto strategy: "libcrypto", "batch" or "sync" (see the module comment); "auto"
 * (default) is libcrypto where it loads, else batch.
 */
export type AesStrategy = "auto" | "libcrypto" | "batch" | "sync";

/** A received PILS whose counter passed the replay check, waiting for its tag to verify. */
export interface Opening {
  readonly peer: Peer;
  readonly ctx: CryptoContext;
  /** Nonce prefix and counter (high, low u32) for the replay commit. */
  readonly prefix: number;
  readonly hi: number;
  readonly lo: number;
  readonly from: Endpoint;
  readonly relayed: boolean;
}

/** Called with the plaintext of each frame whose tag verified, in arrival order. */
export type AcceptPils = (opening: Opening, plaintext: Uint8Array) => void;

/** Seals outgoing and opens incoming PILS frames. */
export interface PilsCrypto {
  readonly name: Exclude<AesStrategy, "auto">;
  /**
   * Seals one encoded packet for `peer` under `ctx` and sends it along the peer's route, or to
   * `via` (a probe). The route is taken when the frame is emitted.
   */
  seal(peer: Peer, ctx: CryptoContext, plaintext: Uint8Array, via?: Endpoint): void;
  /** Opens `sealed` (ciphertext ‖ tag; a view of the receive buffer) and accepts it if it verifies. */
  open(opening: Opening, nonce: Uint8Array, sealed: Uint8Array): void;
  /**
   * End of one socket read: batched opens start settling. The tunnel user's `onBatchEnd` runs once
   * that read's packets have been accepted.
   */
  batchEnd(): void;
  /** Seals and opens in flight. */
  readonly inFlight: number;
  /** Resolves once in-flight work has finished (for close). */
  settled(): Promise<void>;
}

/** Builds the strategy `name` over `core`. */
export function createPilsCrypto(
  name: Exclude<AesStrategy, "auto">,
  core: TunnelCore,
  accept: AcceptPils,
): PilsCrypto {
  switch (name) {
    case "libcrypto":
      return new InPlaceCrypto(core, accept);
    case "sync":
      return new SyncCrypto(core, accept);
    case "batch":
      return new BatchCrypto(core, accept);
  }
}

/**
 * Received plaintexts are cut from blocks of this size rather than each given its own buffer: one
 * allocation per 8 full-size packets instead of one per packet. The packets keep their bytes (views
 * into the block, never overwritten), so a block lives as long as any of its packets is held.
 */
export const OPEN_BLOCK_BYTES = 32 * 1024;

/** Emits sealed PILS built from a separate nonce and ciphertext (sync and batch strategies). */
class PilsEmitter {
  // Relay header (9) ‖ PILS header (20); direct frames use the tail view.
  readonly #head = new Uint8Array(RELAY_HEADER_SIZE + PILS_HEADER_SIZE);
  readonly #headDirect = this.#head.subarray(RELAY_HEADER_SIZE);

  constructor(protected readonly core: TunnelCore) {}

  protected emitPils(peer: Peer, nonce: Uint8Array, sealed: Uint8Array, via?: Endpoint): void {
    const core = this.core;
    if (core.closed) return core.drop("closed");
    const route = core.route(peer, via);
    if (!route) return core.drop("no-route");
    const sender = core.nodeId!;
    const head = route.relay ? this.#head : this.#headDirect;
    if (route.relay) writeRelayHeader(head, sender, peer.node);
    writePilsHeader(head, route.relay ? RELAY_HEADER_SIZE : 0, sender, nonce);
    core.counters.framesEncrypted++;
    core.counters.packetsSent++;
    core.emit(head, sealed, route.to);
  }
}

/** libcrypto: seal into the datagram buffer with the headers around it, one copy to the socket. */
class InPlaceCrypto implements PilsCrypto {
  readonly name = "libcrypto";
  readonly inFlight = 0;
  // Relay header ‖ PILS header ‖ ciphertext ‖ tag.
  readonly #out = new Uint8Array(
    RELAY_HEADER_SIZE + PILS_HEADER_SIZE + HEADER_LENGTH + MAX_PAYLOAD_LENGTH + TAG_SIZE,
  );

  /** Where opened plaintexts go (see {@link OPEN_BLOCK_BYTES}). */
  #block = new Uint8Array(0);
  #blockAt = 0;

  constructor(private readonly core: TunnelCore, private readonly accept: AcceptPils) {}

  seal(peer: Peer, ctx: CryptoContext, plaintext: Uint8Array, via?: Endpoint): void {
    const core = this.core;
    const nonce = ctx.cipher.nextNonce();
    const out = this.#out;
    const bodyAt = RELAY_HEADER_SIZE + PILS_HEADER_SIZE;
    const sealedLength = ctx.fast!.sealInto(nonce, plaintext, core.ownAad, out, bodyAt);
    const route = core.route(peer, via);
    if (!route) return core.drop("no-route");
    const sender = core.nodeId!;
    let start = RELAY_HEADER_SIZE;
    if (route.relay) {
      start = 0;
      writeRelayHeader(out, sender, peer.node);
    }
    writePilsHeader(out, RELAY_HEADER_SIZE, sender, nonce);
    core.counters.framesEncrypted++;
    core.counters.packetsSent++;
    core.emit(undefined, out.subarray(start, bodyAt + sealedLength), route.to);
  }

  open(opening: Opening, nonce: Uint8Array, sealed: Uint8Array): void {
    // The packet keeps its payload, so the plaintext goes to fresh space in the current block.
    const length = sealed.length - TAG_SIZE;
    if (length < 0) return this.core.drop("auth-failure");
    if (this.#blockAt + length > this.#block.length) {
      this.#block = new Uint8Array(Math.max(OPEN_BLOCK_BYTES, length));
      this.#blockAt = 0;
    }
    const at = this.#blockAt;
    const ctx = opening.ctx;
    // A failed open leaves its bytes in space that the next packet overwrites; nothing refers to them.
    if (ctx.fast!.openInto(nonce, sealed, ctx.aad, this.#block, at) < 0) {
      return this.core.drop("auth-failure");
    }
    this.#blockAt = at + length;
    this.accept(opening, this.#block.subarray(at, at + length));
  }

  batchEnd(): void {
    this.core.hooks.onBatchEnd();
  }

  settled(): Promise<void> {
    return Promise.resolve();
  }
}

/** node:crypto, one operation at a time. */
class SyncCrypto extends PilsEmitter implements PilsCrypto {
  readonly name = "sync";
  readonly inFlight = 0;

  constructor(core: TunnelCore, private readonly accept: AcceptPils) {
    super(core);
  }

  seal(peer: Peer, ctx: CryptoContext, plaintext: Uint8Array, via?: Endpoint): void {
    const sealed = ctx.cipher.sealSync(plaintext, this.core.ownAad);
    this.emitPils(peer, sealed.nonce, sealed.ciphertextWithTag, via);
  }

  open(opening: Opening, nonce: Uint8Array, sealed: Uint8Array): void {
    let plaintext: Uint8Array;
    try {
      plaintext = opening.ctx.cipher.openSync(nonce, sealed, opening.ctx.aad);
    } catch {
      return this.core.drop("auth-failure");
    }
    this.accept(opening, plaintext);
  }

  batchEnd(): void {
    this.core.hooks.onBatchEnd();
  }

  settled(): Promise<void> {
    return Promise.resolve();
  }
}

interface SealItem {
  peer: Peer;
  sealing: Promise<{ nonce: Uint8Array; ciphertextWithTag: Uint8Array }>;
  /** Direct destination overriding the peer's route (a probe). */
  via?: Endpoint;
}

interface OpenItem {
  opening: Opening;
  plaintext: Promise<Uint8Array>;
}

/** Web Crypto: many operations in flight, emitted and accepted in call order. */
class BatchCrypto extends PilsEmitter implements PilsCrypto {
  readonly name = "batch";
  inFlight = 0;
  #txBatch: SealItem[] = [];
  #txScheduled = false;
  #txChain: Promise<void> = Promise.resolve();
  #rxBatch: OpenItem[] = [];
  #rxChain: Promise<void> = Promise.resolve();

  constructor(core: TunnelCore, private readonly accept: AcceptPils) {
    super(core);
  }

  seal(peer: Peer, ctx: CryptoContext, plaintext: Uint8Array, via?: Endpoint): void {
    this.inFlight++;
    this.#txBatch.push({ peer, sealing: ctx.cipher.seal(plaintext, this.core.ownAad), via });
    if (!this.#txScheduled) {
      this.#txScheduled = true;
      queueMicrotask(this.#flushTx);
    }
  }

  readonly #flushTx = (): void => {
    this.#txScheduled = false;
    const batch = this.#txBatch;
    this.#txBatch = [];
    const settled = Promise.allSettled(batch.map((item) => item.sealing));
    this.#txChain = this.#txChain.then(() => settled).then((results) => {
      for (let i = 0; i < results.length; i++) {
        this.inFlight--;
        const r = results[i];
        if (r.status === "fulfilled") {
          this.emitPils(batch[i].peer, r.value.nonce, r.value.ciphertextWithTag, batch[i].via);
        } else {
          this.core.log.warn("seal failed", { err: String(r.reason) });
          this.core.drop("send-error");
        }
      }
      this.core.socket.flush();
    });
  };

  open(opening: Opening, nonce: Uint8Array, sealed: Uint8Array): void {
    // Web Crypto copies nonce and ciphertext before returning, so the receive slot may be reused.
    this.inFlight++;
    this.#rxBatch.push({ opening, plaintext: opening.ctx.cipher.open(nonce, sealed, opening.ctx.aad) });
  }

  batchEnd(): void {
    if (this.#rxBatch.length === 0) return this.core.hooks.onBatchEnd();
    const batch = this.#rxBatch;
    this.#rxBatch = [];
    const settled = Promise.allSettled(batch.map((item) => item.plaintext));
    this.#rxChain = this.#rxChain.then(() => settled).then((results) => {
      for (let i = 0; i < results.length; i++) {
        this.inFlight--;
        const r = results[i];
        if (r.status === "rejected") {
          this.core.drop("auth-failure");
          continue;
        }
        if (this.core.closed) continue;
        this.accept(batch[i].opening, r.value);
      }
      this.core.hooks.onBatchEnd();
    });
  }

  async settled(): Promise<void> {
    await Promise.allSettled([this.#txChain, this.#rxChain]);
  }
}
