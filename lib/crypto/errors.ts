/** Error classes raised on purpose by lib/crypto. */
import { PilotError } from "../errors.ts";

/**
 * A cryptographic input was rejected: wrong key or nonce length, an all-zero X25519 shared
 * secret, or an AEAD tag that did not verify. Callers on the data path drop the frame.
 */
export class CryptoError extends PilotError {}

/**
 * A key, seed, nonce, counter or node ID has the wrong length or is out of range: the one class
 * every lib/crypto function throws for malformed input, so callers need a single check.
 */
export class CryptoInputError extends CryptoError {}

/**
 * A sealing context has used its last nonce counter. Nothing more may be sealed under this
 * key and prefix; the caller must re-key (run the key exchange again) before sending.
 */
export class CounterExhaustedError extends CryptoError {}

/**
 * The persisted node identity could not be used: unreadable, corrupt, inconsistent or too
 * widely readable. The message names the file; the file is never replaced automatically.
 */
export class IdentityError extends PilotError {}
