/**
 * Optional mutual authentication inside the port-443 channel (docs/protocol/services.md §2 step 5): each side
 * proves it holds a node's Ed25519 identity by signing its own ephemeral X25519 key with a fresh
 * timestamp and nonce. A message is accepted when its timestamp is within ±5 s, its signature
 * verifies against the claimed node's key, and its nonce was not seen before (a process-wide
 * cache of one hour, capped at 100,000 entries; the ±5 s window is what bounds replay once an
 * old entry has been evicted). Nonces are remembered only after the signature verified, so
 * unauthenticated junk cannot fill the cache.
 * @module
 */
import { signEd25519, verifyEd25519 } from "../../crypto/ed25519.ts";
import { toHex } from "../../bytes.ts";
import {
  AUTH_NONCE_LENGTH,
  authSignedBytes,
  decodeAuthMessage,
  encodeAuthMessage,
  SecureChannelError,
} from "./codec.ts";

/** Largest accepted difference between a message's timestamp and our clock, in seconds. */
export const AUTH_MAX_SKEW_SECONDS = 5;
/** How long a seen nonce is remembered. */
export const AUTH_NONCE_TTL_MS = 60 * 60 * 1000;
/** Most nonces remembered; the oldest is forgotten first. */
export const AUTH_NONCE_CACHE_CAPACITY = 100_000;

/** The peer failed authentication (bad signature, stale or replayed message, unknown node). */
export class SecureAuthError extends SecureChannelError {}

/** Nonces seen within the last hour, in arrival order. */
export class AuthNonceCache {
  readonly #seen = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #capacity: number;

  constructor(ttlMs = AUTH_NONCE_TTL_MS, capacity = AUTH_NONCE_CACHE_CAPACITY) {
    this.#ttlMs = ttlMs;
    this.#capacity = capacity;
  }

  /** Number of remembered nonces. */
  get size(): number {
    return this.#seen.size;
  }

  /** Records `nonce` at `nowMs`; false if it was already recorded within the TTL. */
  remember(nonce: Uint8Array, nowMs: number): boolean {
    for (const [key, at] of this.#seen) {
      if (nowMs - at < this.#ttlMs) break;
      this.#seen.delete(key);
    }
    const key = toHex(nonce);
    if (this.#seen.has(key)) return false;
    if (this.#seen.size >= this.#capacity) this.#seen.delete(this.#seen.keys().next().value!);
    this.#seen.set(key, nowMs);
    return true;
  }
}

/** The cache shared by every channel in this process unless a channel is given its own. */
export const processAuthNonceCache: AuthNonceCache = new AuthNonceCache();

/** A node identity that can sign authentication messages. */
export interface SecureIdentity {
  nodeId: number;
  /** The 32-byte Ed25519 seed. */
  seed: Uint8Array;
}

/** Finds a node's Ed25519 public key (e.g. from the registry); undefined when unknown. */
export type PeerKeyLookup = (nodeId: number) => Promise<Uint8Array | undefined> | Uint8Array | undefined;

/** Builds our signed authentication message over our ephemeral X25519 key. */
export function createAuthMessage(
  identity: SecureIdentity,
  ownX25519: Uint8Array,
  nowMs: number,
): Uint8Array {
  const timestamp = BigInt(Math.floor(nowMs / 1000));
  const nonce = crypto.getRandomValues(new Uint8Array(AUTH_NONCE_LENGTH));
  const signature = signEd25519(identity.seed, authSignedBytes(identity.nodeId, ownX25519, timestamp, nonce));
  return encodeAuthMessage({ nodeId: identity.nodeId, timestamp, nonce, signature });
}

/** What {@link verifyAuthMessage} checks against. */
export interface VerifyAuthOptions {
  lookup: PeerKeyLookup;
  /** The node we meant to reach; a message for any other node is refused. */
  expectedNodeId?: number;
  cache: AuthNonceCache;
  nowMs: number;
}

/**
 * Verifies the peer's authentication message against the peer's ephemeral X25519 key and
 * returns its node id. Throws {@link SecureAuthError} (or `SecureFrameError` for a malformed
 * message).
 */
export async function verifyAuthMessage(
  bytes: Uint8Array,
  peerX25519: Uint8Array,
  options: VerifyAuthOptions,
): Promise<number> {
  const message = decodeAuthMessage(bytes);
  if (options.expectedNodeId !== undefined && message.nodeId !== options.expectedNodeId) {
    throw new SecureAuthError(
      `peer authenticated as node ${message.nodeId}, expected ${options.expectedNodeId}`,
    );
  }
  const now = BigInt(Math.floor(options.nowMs / 1000));
  const skew = message.timestamp > now ? message.timestamp - now : now - message.timestamp;
  if (skew > BigInt(AUTH_MAX_SKEW_SECONDS)) {
    throw new SecureAuthError(
      `auth timestamp is ${skew} s away from our clock (limit ${AUTH_MAX_SKEW_SECONDS} s)`,
    );
  }
  const key = await options.lookup(message.nodeId);
  if (!key) throw new SecureAuthError(`no public key known for node ${message.nodeId}`);
  const signed = authSignedBytes(message.nodeId, peerX25519, message.timestamp, message.nonce);
  if (!verifyEd25519(key, signed, message.signature)) {
    throw new SecureAuthError(`auth signature of node ${message.nodeId} does not verify`);
  }
  if (!options.cache.remember(message.nonce, options.nowMs)) {
    throw new SecureAuthError(`auth nonce of node ${message.nodeId} was replayed`);
  }
  return message.nodeId;
}
