/**
 * The daemon ⇄ driver IPC (docs/protocol/ipc.md), shared by the daemon's server and the SDK:
 * length-prefixed frames, command bytes, the typed request and reply unions and
 * their codecs, the JSON reply bodies (such as {@link InfoReply}), the error
 * classes, and the socket plumbing both ends use. Pure codecs apart from
 * `socket_io.ts`, which works on any `read`/`write` pair.
 *
 * @example
 * ```ts
 * import { Cmd, decodeFrame, decodeRequest, encodeRequest } from "./mod.ts";
 * const bytes = encodeRequest({ cmd: Cmd.Bind, port: 1000 });
 * const req = decodeRequest(decodeFrame(bytes));
 * console.assert(req.cmd === Cmd.Bind && req.port === 1000);
 * ```
 * @module
 */
export * from "./codec.ts";
export {
  type ByteSink,
  type ByteSource,
  ChunkReader,
  FrameWriter,
  READ_BUFFER_SIZE,
  waitAtMost,
  writeAll,
} from "./socket_io.ts";
