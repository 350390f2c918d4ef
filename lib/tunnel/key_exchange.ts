/**
 * Key-exchange pieces of the tunnel (docs/protocol/wire.md §5.3–5.4, §6): our own PILA/PILK frame and the
 * per-peer crypto context derived from an accepted one. No I/O and no peer-table policy here;
 * tunnel.ts decides when to send, accept or refuse.
 */
import { createTunnelCipher, LAST_COUNTER, TunnelCipher } from "../crypto/aead.ts";
import type { AesGcmBackend } from "../crypto/aes_gcm.ts";
import { INFO_TUNNEL } from "../crypto/hkdf.ts";
import { signPila } from "../crypto/pila.ts";
import { PrefixReplayGuard } from "../crypto/replay.ts";
import { deriveSharedKey } from "../crypto/x25519.ts";
import type { Libcrypto, LibcryptoAesGcm } from "../crypto/libcrypto_aes.ts";
import { encodeFrame, pilsAad } from "./frames.ts";

/**
 * Frames a context seals before it rotates to a fresh nonce prefix, kept this far below the
 * counter's end so rotation (asynchronous) finishes long before the last nonce is used.
 */
export const ROTATE_MARGIN = 1 << 20;
/** Attempts at drawing a nonce prefix not used before under the same key. */
const PREFIX_DRAWS = 64;

/** The node's long-term Ed25519 identity (raw 32-byte seed and public key). */
export interface TunnelIdentity {
  seed: Uint8Array;
  publicKey: Uint8Array;
}

/**
 * The crypto state shared with one peer: the AEAD (our nonce prefix and counter), the peer's
 * X25519 key it was derived from, whether that key was proven by a verified PILA, and the replay
 * guard for the peer's frames. Rotation replaces `cipher` and keeps the rest.
 */
export interface CryptoContext {
  readonly cipher: TunnelCipher;
  /** The same key as `cipher` on libcrypto, for in-place sealing; undefined on other backends. */
  readonly fast?: LibcryptoAesGcm;
  readonly peerKey: Uint8Array;
  authenticated: boolean;
  readonly replay: PrefixReplayGuard;
  /** AAD of the peer's frames: its node ID, 4 bytes BE. */
  readonly aad: Uint8Array;
  /** Frames sealed with `cipher` so far, and the count at which to rotate. */
  sealed: number;
  readonly rotateAfter: number;
  /** Our nonce prefixes (u32) already used under this key, never to be reused. */
  readonly usedPrefixes: Set<number>;
}

/**
 * Our key-exchange frame: PILA (signed with the identity) when there is one, else PILK. Both
 * carry the daemon's X25519 public key; the frame only changes with the node ID.
 */
export function ownKeyExchangeFrame(
  nodeId: number,
  x25519PublicKey: Uint8Array,
  identity?: TunnelIdentity,
): Uint8Array {
  if (identity === undefined) return encodeFrame({ kind: "PILK", sender: nodeId, x25519: x25519PublicKey });
  return encodeFrame({
    kind: "PILA",
    sender: nodeId,
    x25519: x25519PublicKey,
    ed25519: identity.publicKey,
    signature: signPila(identity.seed, nodeId, x25519PublicKey),
  });
}

/** Options shared by every context the tunnel derives. */
export interface DeriveOptions {
  /** Runtime AES backend, used when `libcrypto` is not given. */
  backend: AesGcmBackend;
  /** Loaded libcrypto: contexts then seal and open through it. */
  libcrypto?: Libcrypto;
  /** Counter of the first sealed frame; only tests move it (to reach rotation quickly). */
  firstCounter?: bigint;
}

/**
 * Derives the context for `peerNode` from our X25519 private key and the peer's public key
 * (X25519 → HKDF "pilot-tunnel-v1" → AES-256-GCM), with a fresh random nonce prefix and an empty
 * replay guard. Throws CryptoError for a low-order peer key.
 */
export async function deriveContext(
  privateKey: Uint8Array,
  peerKey: Uint8Array,
  peerNode: number,
  authenticated: boolean,
  options: DeriveOptions,
): Promise<CryptoContext> {
  const usedPrefixes = new Set<number>();
  const { cipher, fast } = await newCipher(privateKey, peerKey, usedPrefixes, options);
  return {
    cipher,
    fast,
    peerKey: peerKey.slice(),
    authenticated,
    replay: new PrefixReplayGuard(),
    aad: pilsAad(peerNode),
    sealed: 0,
    rotateAfter: rotationPoint(options.firstCounter),
    usedPrefixes,
  };
}

/**
 * The same context with a new cipher: same key (re-derived, since keys are not kept in memory),
 * a nonce prefix never used under it, counter from the start. Receive state is kept.
 */
export async function rotateContext(
  privateKey: Uint8Array,
  ctx: CryptoContext,
  options: DeriveOptions,
): Promise<CryptoContext> {
  const { cipher, fast } = await newCipher(privateKey, ctx.peerKey, ctx.usedPrefixes, options);
  return { ...ctx, cipher, fast, sealed: 0, rotateAfter: rotationPoint(options.firstCounter) };
}

/** Releases what a context holds outside the JS heap (the libcrypto key). */
export function disposeContext(ctx: CryptoContext | undefined): void {
  ctx?.fast?.dispose();
}

async function newCipher(
  privateKey: Uint8Array,
  peerKey: Uint8Array,
  usedPrefixes: Set<number>,
  options: DeriveOptions,
): Promise<{ cipher: TunnelCipher; fast?: LibcryptoAesGcm }> {
  const key = deriveSharedKey(privateKey, peerKey, INFO_TUNNEL);
  const prefix = freshPrefix(usedPrefixes);
  const firstCounter = options.firstCounter;
  if (options.libcrypto) {
    const fast = options.libcrypto.importKey(key);
    return { cipher: new TunnelCipher(fast, { prefix, firstCounter }), fast };
  }
  return { cipher: await createTunnelCipher(key, { backend: options.backend, prefix, firstCounter }) };
}

/** Four random bytes whose u32 value is not in `used`; records it there. */
function freshPrefix(used: Set<number>): Uint8Array {
  const prefix = new Uint8Array(4);
  for (let i = 0; i < PREFIX_DRAWS; i++) {
    crypto.getRandomValues(prefix);
    const value = ((prefix[0] << 24) | (prefix[1] << 16) | (prefix[2] << 8) | prefix[3]) >>> 0;
    if (!used.has(value)) {
      used.add(value);
      return prefix;
    }
  }
  throw new RangeError("no unused nonce prefix found");
}

/** Frames to seal before rotating, for contexts starting at `firstCounter` (default 1). */
function rotationPoint(firstCounter = 1n): number {
  const available = LAST_COUNTER - firstCounter + 1n;
  const point = available > 2n * BigInt(ROTATE_MARGIN) ? available - BigInt(ROTATE_MARGIN) : available / 2n;
  return point > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(point);
}
