/**
 * Test harness for the IPC layer: a server on a socket in a fresh temp dir, and
 * a raw frame-level client for poking the server below the SDK.
 * @module
 */
import { decodeReply, FrameReader, type IpcReply } from "../../../ipc/codec.ts";
import { ChunkReader, writeAll } from "../../../ipc/socket_io.ts";
import { type IpcHandler, IpcServer, type IpcServerOptions } from "../server.ts";
import { LoopbackHandler } from "./loopback_handler.ts";
import { Logger } from "../../../log.ts";
import { settleQuietly } from "../../../errors.ts";

/** A running test server; dispose it to close the server and delete the temp dir. */
export interface TestServer<H extends IpcHandler> extends AsyncDisposable {
  server: IpcServer;
  handler: H;
  path: string;
  dir: string;
}

/** Starts an IPC server with `handler` (a fresh {@link LoopbackHandler} by default) in a temp dir. */
export async function startServer<H extends IpcHandler = LoopbackHandler>(
  handler?: H,
  options: Partial<IpcServerOptions> = {},
): Promise<TestServer<H>> {
  const dir = await Deno.makeTempDir({ prefix: "pilot-ipc-" });
  const path = options.path ?? `${dir}/pilot.sock`;
  const h = handler ?? (new LoopbackHandler() as unknown as H);
  const server = await IpcServer.listen({
    handler: h,
    logger: new Logger("ipc-test", "silent"),
    ...options,
    path,
  });
  if (h instanceof LoopbackHandler) h.server = server;
  return {
    server,
    handler: h,
    path,
    dir,
    async [Symbol.asyncDispose]() {
      await server.close();
      await settleQuietly(Deno.remove(dir, { recursive: true }), "cleanup");
    },
  };
}

/** A frame-level client: writes raw bytes, reads decoded replies with a deadline. */
export class RawClient {
  readonly conn: Deno.UnixConn;
  readonly #chunks: ChunkReader;
  readonly #reader = new FrameReader();
  /** A read still outstanding from a call that timed out; the next call picks it up. */
  #pendingRead: Promise<Uint8Array | null> | null = null;

  private constructor(conn: Deno.UnixConn) {
    this.conn = conn;
    this.#chunks = new ChunkReader(conn);
  }

  static async connect(path: string): Promise<RawClient> {
    return new RawClient(await Deno.connect({ transport: "unix", path }));
  }

  write(bytes: Uint8Array): Promise<void> {
    return writeAll(this.conn, bytes);
  }

  /** The next reply, or null at EOF; throws after `timeoutMs`. */
  async next(timeoutMs = 2000): Promise<IpcReply | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.#reader.next();
      if (frame) return decodeReply(frame);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const chunk = await Promise.race([
        this.#pendingRead ??= settleQuietly(this.#chunks.read(), "peer gone").then((c) => c ?? null),
        new Promise<"timeout">((resolve) =>
          timer = setTimeout(() => resolve("timeout"), deadline - Date.now())
        ),
      ]);
      clearTimeout(timer);
      if (chunk !== "timeout") this.#pendingRead = null;
      if (chunk === "timeout") throw new Error(`no frame within ${timeoutMs} ms`);
      if (chunk === null) return null;
      this.#reader.push(chunk);
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}
