/**
 * pilot: a Pilot Protocol implementation for Deno. This module is the public SDK
 * surface; it only re-exports. The common names are at the top level (the SDK's `connect`
 * to a local daemon first); each layer's full surface is also available as a namespace
 * (`protocol`, `crypto`, `tunnel`, `beacon`, `transport`, `registry`, `sdk`).
 *
 * @example
 * ```ts
 * import { Address } from "./mod.ts";
 * console.assert(Address.parse("1:0001.F291.0004").node === 0xF2910004);
 * ```
 * @module
 */
export { PilotError } from "./lib/errors.ts";
export { PROGRAM_VERSION } from "./lib/version.ts";
export {
  Address,
  AddressError,
  BROADCAST_NODE,
  broadcastAddress,
  parseAddressOrNodeId,
  SocketAddress,
} from "./lib/protocol/address.ts";
export * from "./lib/protocol/ports.ts";
export { IdentityError, loadOrCreateIdentity } from "./lib/crypto/mod.ts";
export {
  type CallOptions,
  connect,
  Connection,
  type ConnectOptions,
  DaemonError,
  type Datagram,
  DEFAULT_SOCKET_PATH,
  IpcError,
  Listener,
  PilotClient,
} from "./lib/sdk/mod.ts";
export { RegistryClient, RegistryService } from "./lib/registry/mod.ts";
export {
  DataExchangeClient,
  dialSecure,
  dialStdio,
  EventSubscription,
  exchangeMessage,
  listenStdio,
  publishEvent,
  SecureChannel,
  SecureListener,
  sendFile,
  sendMessage,
} from "./lib/sdk/services/mod.ts";

export * as protocol from "./lib/protocol/mod.ts";
export * as crypto from "./lib/crypto/mod.ts";
export * as tunnel from "./lib/tunnel/mod.ts";
export * as beacon from "./lib/beacon/mod.ts";
export * as transport from "./lib/transport/mod.ts";
export * as registry from "./lib/registry/mod.ts";
export * as sdk from "./lib/sdk/mod.ts";
export * as services from "./lib/sdk/services/mod.ts";
