/**
 * The SDK without the built-in services' clients: connecting, dialing, listening, datagrams and
 * the daemon's requests. Programs that only need these (the CLI's commands) import this module
 * rather than `./mod.ts`, so that they do not load the services' cryptography at start-up.
 * @module
 */
export {
  connect,
  type ConnectOptions,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  PilotClient,
} from "./client.ts";
export { type ClientStats, type Datagram, DATAGRAM_QUEUE_CAPACITY } from "./session.ts";
export { CONN_RECV_HIGH_WATER, Connection } from "./connection.ts";
export { ACCEPT_QUEUE_CAPACITY, Listener } from "./listener.ts";
export type { CallOptions } from "./deadline.ts";
export { DaemonError, IpcError, type IpcErrorReason } from "../ipc/errors.ts";
export { DEFAULT_SOCKET_PATH } from "../ipc/codec.ts";
export type {
  ConnInfo,
  DeregisterReply,
  HandshakeReply,
  HealthReply,
  InfoReply,
  NatInfo,
  NetworkReply,
  PeerInfo,
  PendingHandshake,
  ResolveHostnameReply,
  SetHostnameReply,
  SetTagsReply,
  SetTaskExecReply,
  SetVisibilityReply,
  SetWebhookReply,
  TrustedPeer,
} from "../ipc/replies.ts";
export { Address } from "../protocol/address.ts";
