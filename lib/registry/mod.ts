/**
 * The registry's public surface: the client the daemon and CLI use, the service
 * `pilot registry` runs, the request-signing form and the frame codec.
 * @module
 */
export {
  type ClientIdentity,
  type NetworkPolicyInput,
  REFERENCE_SIGNATURE_REQUIRED,
  type RegisterReply,
  REGISTRY_AUTH_MODES,
  type RegistryAuthMode,
  RegistryClient,
  type RegistryClientOptions,
  type SigningMode,
} from "./client.ts";
export { RegistryService, type RegistryServiceOptions } from "./service.ts";
export { Registry, type RegistryOptions } from "./registry.ts";
export type { CompatMode } from "./ops/mod.ts";
export {
  RegistryCertificateError,
  RegistryConnectionError,
  RegistryReplyError,
  RegistryStoreError,
  RegistryWireError,
} from "./errors.ts";
export { canonicalJson, handshakeChallenge, type RequestAuth, signRequest, staticChallenge } from "./auth.ts";
export {
  decodeBody,
  encodeFrame,
  FrameReader,
  MAX_REPLY_BODY,
  MAX_REQUEST_BODY,
  type WireMessage,
} from "./wire.ts";
export { normalizePin } from "./transport.ts";
