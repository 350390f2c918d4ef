/**
 * The synchronous primitives under pilot's cryptography (X25519, Ed25519, HMAC-SHA256, SHA-256 and
 * an AES-256-GCM engine), chosen once per process: the system's OpenSSL libcrypto over FFI where it
 * loads (Linux with --allow-ffi), else node:crypto. The daemon then imports no `node:` module at
 * all, which saves the ~6 MiB the Node compatibility layer costs each process once initialised
 * (docs/benchmarks.md, "Daemon footprint"). Both implementations are tested against the same
 * vectors (primitives_test.ts).
 * @module
 */
import type { SyncAesGcmKey } from "./aes_gcm_key.ts";
import { openLibcryptoPrimitives } from "./primitives_libcrypto.ts";

/** The operations both implementations provide; lengths are checked by the callers (x25519.ts, …). */
export interface SyncPrimitives {
  /** Which implementation this is. */
  readonly name: "libcrypto" | "node";
  /** The X25519 public key of a 32-byte private key. */
  x25519PublicKey(privateKey: Uint8Array): Uint8Array;
  /** The X25519 shared secret; throws when it would be all zeros (a low-order peer key). */
  x25519(privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array;
  /** The Ed25519 public key of a 32-byte seed. */
  ed25519PublicKey(seed: Uint8Array): Uint8Array;
  /** The 64-byte Ed25519 signature of `message` by `seed`. */
  ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array;
  /** Whether `signature` is `publicKey`'s signature of `message` (false for any malformed input). */
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
  /** HMAC-SHA256(key, message), 32 bytes. */
  hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array;
  /** SHA-256(data), 32 bytes. */
  sha256(data: Uint8Array): Uint8Array;
  /** A synchronous AES-256-GCM engine holding its own copy of `key` (the caller zeroes `key`). */
  aesGcm(key: Uint8Array): SyncAesGcmKey;
}

/** libcrypto where it loads, node:crypto (imported only then) otherwise. */
export async function loadPrimitives(): Promise<SyncPrimitives> {
  return openLibcryptoPrimitives() ?? (await import("./primitives_node.ts")).nodePrimitives;
}

/** This process's primitives. */
export const primitives: SyncPrimitives = await loadPrimitives();
