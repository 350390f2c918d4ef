/**
 * The daemon's side of the driver IPC (ipc.md): the Unix-socket
 * {@link IpcServer}, the {@link IpcHandler} interface the daemon implements
 * behind it, and the frame/message codec shared with the SDK.
 * @module
 */
export {
  type Awaitable,
  DEFAULT_MAX_CLIENTS,
  DEFAULT_OUTBOUND_HARD_LIMIT,
  DEFAULT_OUTBOUND_HIGH_WATER,
  INBOUND_BUFFER_LIMIT,
  type IpcClient,
  type IpcHandler,
  IpcServer,
  type IpcServerOptions,
  SOCKET_MODE,
} from "./server.ts";
export * from "./codec.ts";
