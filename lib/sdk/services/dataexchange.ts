/**
 * The sending side of data exchange (docs/protocol/services.md §5) for applications: typed frames to a peer's
 * port 1001 (or any port serving the protocol), each answered by an acknowledgement. Works over
 * any {@link ByteStream}; {@link DataExchangeClient.dial} opens one through the SDK.
 * @module
 */
import { utf8 } from "../../bytes.ts";
import type { Address } from "../../protocol/address.ts";
import { PORT_DATA_EXCHANGE } from "../../protocol/ports.ts";
import type { PilotClient } from "../client.ts";
import type { ByteStream, IoOptions } from "../../services/byte_stream_shape.ts";
import { StreamReader } from "../../services/stream_reader.ts";
import {
  type Ack,
  DataExchangeError,
  type DataFrame,
  decodeFilePayload,
  decodeFrameHeader,
  encodeFileFrame,
  encodeFrame,
  FRAME_HEADER_LENGTH,
  FrameType,
  parseAck,
} from "../../services/dataexchange/codec.ts";
import { safeFileName } from "../../services/dataexchange/filename.ts";
import { closeQuietly, settleQuietly } from "../../errors.ts";

/** The peer closed the connection before acknowledging a frame. */
export class AckMissingError extends DataExchangeError {}

/** Options of {@link DataExchangeClient.dial} and the one-shot helpers. */
export interface DataExchangeOptions extends IoOptions {
  /** Port to dial (default 1001). */
  port?: number;
}

/** Message kinds accepted by {@link sendMessage}, as the CLI's `--type` names them. */
export type MessageKind = "text" | "json" | "binary";

const KIND_TYPES: Record<MessageKind, number> = {
  text: FrameType.Text,
  json: FrameType.Json,
  binary: FrameType.Binary,
};

/**
 * Reads one whole frame, or null when the stream ends between frames. Throws
 * `FrameTooLargeError` for an oversized header and `StreamEndedError` for a truncated frame.
 */
export async function readFrame(reader: StreamReader, options?: IoOptions): Promise<DataFrame | null> {
  const head = await reader.readExactOrEnd(FRAME_HEADER_LENGTH, options);
  if (head === null) return null;
  const { type, length } = decodeFrameHeader(head);
  const payload = await reader.readExact(length, options);
  if (type !== FrameType.File) return { type, payload };
  const file = decodeFilePayload(payload);
  const frame: DataFrame = { type, payload: file.data };
  if (file.nameBytes) frame.name = new TextDecoder().decode(file.nameBytes);
  return frame;
}

/**
 * A data-exchange session: each `send*` writes one frame and resolves with the peer's
 * acknowledgement ({@link Ack}; `ok` is false for an `ERR …` answer, which is not thrown).
 * Concurrent sends are queued so acknowledgements pair with their frames.
 *
 * @example
 * ```ts
 * import { DataExchangeClient, type PilotClient } from "../../../mod.ts";
 * // Several frames over one connection, each acknowledged.
 * async function report(client: PilotClient, peer: string): Promise<boolean> {
 *   const session = await DataExchangeClient.dial(client, peer, { timeoutMs: 30_000 });
 *   try {
 *     const a = await session.sendText("build 42 passed");
 *     const b = await session.sendJson({ build: 42, ok: true });
 *     return a.ok && b.ok;
 *   } finally {
 *     await session.close();
 *   }
 * }
 * console.assert(typeof report === "function");
 * ```
 */
export class DataExchangeClient {
  readonly #stream: ByteStream;
  readonly #reader: StreamReader;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(stream: ByteStream) {
    this.#stream = stream;
    this.#reader = new StreamReader(stream);
  }

  /** Dials `target` on port 1001 (or `options.port`) through the SDK. */
  static async dial(
    client: PilotClient,
    target: Address | string,
    options: DataExchangeOptions = {},
  ): Promise<DataExchangeClient> {
    const conn = await client.dial(target, options.port ?? PORT_DATA_EXCHANGE, options);
    return new DataExchangeClient(conn);
  }

  /** Sends UTF-8 text (TEXT). */
  sendText(text: string, options?: IoOptions): Promise<Ack> {
    return this.send(FrameType.Text, utf8(text), options);
  }

  /** Sends `value` serialised with JSON.stringify (JSON). Use {@link send} for pre-serialised text. */
  sendJson(value: unknown, options?: IoOptions): Promise<Ack> {
    const text = JSON.stringify(value);
    if (text === undefined) return Promise.reject(new DataExchangeError("value has no JSON form"));
    return this.send(FrameType.Json, utf8(text), options);
  }

  /** Sends raw bytes (BINARY). */
  sendBinary(data: Uint8Array, options?: IoOptions): Promise<Ack> {
    return this.send(FrameType.Binary, data, options);
  }

  /**
   * Sends a file (FILE) under `name`, which must be a plain file name (no directories; the
   * receiver refuses those, so they are refused here first).
   */
  sendFile(name: string, data: Uint8Array, options?: IoOptions): Promise<Ack> {
    const nameBytes = utf8(name);
    try {
      safeFileName(nameBytes);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#exchange(() => encodeFileFrame(nameBytes, data), options);
  }

  /** Sends one frame of any type and waits for its acknowledgement. */
  send(type: number, payload: Uint8Array, options?: IoOptions): Promise<Ack> {
    return this.#exchange(() => encodeFrame(type, payload), options);
  }

  /** The next frame the peer sends (for applications that answer with frames of their own). */
  receive(options?: IoOptions): Promise<DataFrame | null> {
    return readFrame(this.#reader, options);
  }

  /** Closes the connection. */
  close(): Promise<void> {
    return this.#stream.close();
  }

  #exchange(encode: () => Uint8Array, options?: IoOptions): Promise<Ack> {
    let frame: Uint8Array;
    try {
      frame = encode();
    } catch (err) {
      return Promise.reject(err);
    }
    const run = async (): Promise<Ack> => {
      await this.#stream.write(frame, options);
      const reply = await readFrame(this.#reader, options);
      if (reply === null) throw new AckMissingError("the peer closed the connection without acknowledging");
      if (reply.type !== FrameType.Text) {
        throw new DataExchangeError(`expected a TEXT acknowledgement, got frame type ${reply.type}`);
      }
      return parseAck(new TextDecoder().decode(reply.payload));
    };
    const result = this.#queue.then(run, run);
    this.#queue = settleQuietly(result, "reported elsewhere");
    return result;
  }
}

/**
 * Dials `target`, sends one message of `kind` (default text), waits for the ack and closes.
 *
 * @example
 * ```ts
 * import { type PilotClient, sendMessage } from "../../../mod.ts";
 * async function notify(client: PilotClient, peer: string): Promise<string> {
 *   const ack = await sendMessage(client, peer, JSON.stringify({ event: "done" }), { kind: "json" });
 *   return ack.text; // e.g. "ACK JSON 16 bytes"
 * }
 * console.assert(typeof notify === "function");
 * ```
 */
export async function sendMessage(
  client: PilotClient,
  target: Address | string,
  data: string | Uint8Array,
  options: DataExchangeOptions & { kind?: MessageKind } = {},
): Promise<Ack> {
  const session = await DataExchangeClient.dial(client, target, options);
  try {
    const bytes = typeof data === "string" ? utf8(data) : data;
    return await session.send(KIND_TYPES[options.kind ?? "text"], bytes, options);
  } finally {
    await closeQuietly(session);
  }
}

/**
 * Dials `target`, sends one file, waits for the ack and closes.
 *
 * @example
 * ```ts
 * import { type PilotClient, sendFile } from "../../../mod.ts";
 * async function upload(client: PilotClient, peer: string, path: string): Promise<boolean> {
 *   const ack = await sendFile(client, peer, path.split("/").pop()!, await Deno.readFile(path));
 *   return ack.ok;
 * }
 * console.assert(typeof upload === "function");
 * ```
 */
export async function sendFile(
  client: PilotClient,
  target: Address | string,
  name: string,
  data: Uint8Array,
  options: DataExchangeOptions = {},
): Promise<Ack> {
  const session = await DataExchangeClient.dial(client, target, options);
  try {
    return await session.sendFile(name, data, options);
  } finally {
    await closeQuietly(session);
  }
}
