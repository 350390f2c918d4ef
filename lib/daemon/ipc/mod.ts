/**
 * The daemon's side of the driver IPC (ipc.md): the Unix-socket
 * {@link IpcServer}, the {@link IpcHandler} interface the daemon implements
 * behind it, and the frame/message codec shared with the SDK.
 * @module
 */
export {
  type Awaitable,
  DEFAULT_FRAME_DEADLINE_MS,
  DEFAULT_MAX_CLIENTS,
  DEFAULT_OUTBOUND_HARD_LIMIT,
  DEFAULT_OUTBOUND_HIGH_WATER,
  DEFAULT_OUTBOUND_STALL_MS,
  INBOUND_BUFFER_LIMIT,
  type IpcClient,
  type IpcHandler,
  type IpcLimits,
  IpcServer,
  type IpcServerOptions,
  type IpcServerStats,
  SOCKET_MODE,
} from "./server.ts";
export * from "./codec.ts";
