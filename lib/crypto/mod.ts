/**
 * Pilot's cryptography: X25519 key agreement, HKDF-SHA256 key derivation, AES-256-GCM sealing
 * contexts for the tunnel (PILS) and the port-443 channel, the PILS replay window, the PILA
 * signature, Ed25519 helpers and the persisted node identity.
 * @module
 */
export { CounterExhaustedError, CryptoError, CryptoInputError, IdentityError } from "./errors.ts";
export {
  ED25519_PUBLIC_KEY_LENGTH,
  ED25519_SEED_LENGTH,
  ED25519_SIGNATURE_LENGTH,
  ed25519FromSeed,
  type Ed25519KeyPair,
  generateEd25519KeyPair,
  signEd25519,
  signEd25519Async,
  verifyEd25519,
  verifyEd25519Async,
} from "./ed25519.ts";
export {
  deriveSharedKey,
  generateX25519KeyPair,
  X25519_KEY_LENGTH,
  x25519FromPrivateKey,
  type X25519KeyPair,
  x25519SharedSecret,
} from "./x25519.ts";
export { DERIVED_KEY_LENGTH, deriveKey, INFO_SECURE, INFO_TUNNEL } from "./hkdf.ts";
export {
  AES_KEY_LENGTH,
  type AesGcmBackend,
  type AesGcmKey,
  importAesGcmKey,
  importAesGcmKeySync,
  NONCE_LENGTH,
  TAG_LENGTH,
} from "./aes_gcm.ts";
export {
  createSecureChannelCipher,
  createTunnelCipher,
  createTunnelCipherSync,
  FIRST_COUNTER,
  LAST_COUNTER,
  NONCE_PREFIX_LENGTH,
  nonceCounter,
  type SealedMessage,
  type SealRequest,
  SECURE_CLIENT_PREFIX,
  SECURE_SERVER_PREFIX,
  SecureChannelCipher,
  type SecureRole,
  TunnelCipher,
  type TunnelCipherOptions,
} from "./aead.ts";
export { MAX_RETIRED_PREFIXES, PrefixReplayGuard, REPLAY_WINDOW_SIZE, ReplayWindow } from "./replay.ts";
export {
  PILA_LABEL,
  PILA_MESSAGE_LENGTH,
  PILA_SIGNATURE_LENGTH,
  pilaMessage,
  signPila,
  verifyPila,
} from "./pila.ts";
export {
  DEFAULT_STATE_DIR_NAME,
  defaultStateDir,
  encodeIdentity,
  IDENTITY_FILE_MODE,
  IDENTITY_FILE_NAME,
  loadIdentityFile,
  loadOrCreateIdentity,
  loadOrCreateIdentityFile,
  type NodeIdentity,
  STATE_DIR_MODE,
} from "./identity.ts";
