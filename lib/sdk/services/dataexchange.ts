/**
 * The sending side of data exchange (docs/protocol/services.md §5) for applications: typed frames to a peer's
 * port 1001 (or any port serving the protocol), each answered by an acknowledgement. Works over
 * any {@link ByteStream}; {@link DataExchangeClient.dial} opens one through the SDK. Files too large
 * for one frame go by our chunked transfer (resumable, SHA-256 checked; docs/protocol/services.md §5, "ours"),
 * see {@link sendFileFromPath}; smaller ones keep the reference's single FILE frame.
 * @module
 */
import { toHex, utf8 } from "../../bytes.ts";
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
import { createHash } from "node:crypto";
import { basename } from "../../paths.ts";
import {
  ChunkedFrameType,
  decodeResume,
  DIGEST_MISMATCH_REASON,
  encodeChunk,
  encodeOffer,
  MAX_CHUNK_DATA_BYTES,
  SEND_WINDOW_BYTES,
  SHA256_BYTES,
} from "../../services/dataexchange/chunked_codec.ts";
import { FILE_NAME_LENGTH_PREFIX, MAX_PAYLOAD_LENGTH } from "../../services/dataexchange/codec.ts";
import { StreamEndedError } from "../../services/stream_reader.ts";
import { StreamIoError } from "../../services/byte_stream_shape.ts";
import { IpcError } from "../../ipc/errors.ts";

/** The peer closed the connection before acknowledging a frame. */
export class AckMissingError extends DataExchangeError {}

/** The receiver answered a chunked-transfer offer as a reference node does (it does not know it). */
export class ChunkedUnsupportedError extends DataExchangeError {}

/** Bytes of a file readable at any offset (a local file, or memory in tests). */
export interface FileSource {
  readonly size: number;
  /** Fills `into` from `offset`; resolves to the bytes read (0 only at the end). */
  readAt(offset: number, into: Uint8Array): Promise<number>;
}

/** Progress callback: `done` of `total` bytes are with the receiver. */
export type ProgressListener = (done: number, total: number) => void;

/** Outcome of one chunked transfer attempt. */
export interface ChunkedSendResult {
  /** The final acknowledgement (`ACK FILE <size> bytes`, or an ERR; `ok` tells). */
  ack: Ack;
  /** Where the receiver told us to start (bytes it already held). */
  resumedFrom: number;
  /** File bytes this attempt put on the wire. */
  sentBytes: number;
}

/** True when a file of `size` bytes named `nameBytes` fits one reference FILE frame. */
export function fitsOneFrame(nameBytes: Uint8Array, size: number): boolean {
  return FILE_NAME_LENGTH_PREFIX + nameBytes.length + size <= MAX_PAYLOAD_LENGTH;
}

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

  /**
   * Sends `source` under `name` by chunked transfer (ours): offer, resume where the receiver
   * stands, chunks, end, final acknowledgement. An ERR answer is returned, not thrown; a receiver
   * that does not know the offer throws {@link ChunkedUnsupportedError}. `sha256` is the digest of
   * all of `source`.
   */
  sendFileChunked(
    name: string,
    source: FileSource,
    sha256: Uint8Array,
    options: IoOptions & { onProgress?: ProgressListener } = {},
  ): Promise<ChunkedSendResult> {
    const nameBytes = utf8(name);
    let offer: Uint8Array;
    try {
      safeFileName(nameBytes);
      offer = encodeFrame(ChunkedFrameType.Offer, encodeOffer({ size: source.size, sha256, nameBytes }));
    } catch (err) {
      return Promise.reject(err);
    }
    const run = async (): Promise<ChunkedSendResult> => {
      await this.#stream.write(offer, options);
      const answer = await this.#readReply(options);
      if (answer.type === FrameType.Text) {
        const ack = parseAck(new TextDecoder().decode(answer.payload));
        if (ack.ok) {
          throw new ChunkedUnsupportedError(
            `the receiver does not support chunked transfers (a reference node?): it answered "${ack.text}"`,
          );
        }
        return { ack, resumedFrom: 0, sentBytes: 0 };
      }
      if (answer.type !== ChunkedFrameType.Resume) {
        throw new DataExchangeError(`expected a resume point, got frame type ${answer.type}`);
      }
      const resumedFrom = decodeResume(answer.payload);
      if (resumedFrom > source.size) {
        throw new DataExchangeError(`receiver claims ${resumedFrom} bytes of a ${source.size}-byte file`);
      }
      const buf = new Uint8Array(MAX_CHUNK_DATA_BYTES);
      let offset = resumedFrom;
      let acked = resumedFrom;
      options.onProgress?.(offset, source.size);
      while (offset < source.size) {
        // Flow control: wait for the receiver's progress reports so no buffer holds the whole file.
        while (offset - acked >= SEND_WINDOW_BYTES) {
          const report = await this.#readReply(options);
          if (report.type === FrameType.Text) {
            return {
              ack: parseAck(new TextDecoder().decode(report.payload)),
              resumedFrom,
              sentBytes: offset - resumedFrom,
            };
          }
          if (report.type !== ChunkedFrameType.Resume) {
            throw new DataExchangeError(`expected a progress report, got frame type ${report.type}`);
          }
          acked = decodeResume(report.payload);
          if (acked > offset) {
            throw new DataExchangeError(`receiver reports ${acked} bytes of ${offset} sent`);
          }
        }
        const n = await source.readAt(offset, buf.subarray(0, Math.min(buf.length, source.size - offset)));
        if (n === 0) throw new DataExchangeError(`file shrank to ${offset} bytes while sending`);
        await this.#stream.write(
          encodeFrame(ChunkedFrameType.Chunk, encodeChunk({ offset, data: buf.subarray(0, n) })),
          options,
        );
        offset += n;
        options.onProgress?.(offset, source.size);
      }
      await this.#stream.write(encodeFrame(ChunkedFrameType.End, new Uint8Array(0)), options);
      let final = await this.#readReply(options);
      while (final.type === ChunkedFrameType.Resume) final = await this.#readReply(options);
      if (final.type !== FrameType.Text) {
        throw new DataExchangeError(`expected a TEXT acknowledgement, got frame type ${final.type}`);
      }
      const ack = parseAck(new TextDecoder().decode(final.payload));
      return { ack, resumedFrom, sentBytes: offset - resumedFrom };
    };
    const result = this.#queue.then(run, run);
    this.#queue = settleQuietly(result, "reported elsewhere");
    return result;
  }

  async #readReply(options?: IoOptions): Promise<DataFrame> {
    const reply = await readFrame(this.#reader, options);
    if (reply === null) throw new AckMissingError("the peer closed the connection without answering");
    return reply;
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

/** Default attempts of {@link sendFileFromPath} (the first plus reconnections after a drop). */
export const DEFAULT_TRANSFER_ATTEMPTS = 5;
/** Default pause before reconnecting after a dropped connection. */
export const DEFAULT_RETRY_DELAY_MS = 2_000;
/** Read size when hashing the file to send. */
const HASH_READ_BYTES = 1 << 20;

/** Options of {@link sendFileFromPath}. */
export interface SendFileFromPathOptions extends DataExchangeOptions {
  /** Name the receiver stores under (default the path's base name). */
  name?: string;
  /** Connection attempts, resuming each time (default {@link DEFAULT_TRANSFER_ATTEMPTS}). */
  attempts?: number;
  retryDelayMs?: number;
  onProgress?: ProgressListener;
  /** Called before each reconnection with the error that ended the previous attempt. */
  onRetry?: (attempt: number, err: unknown) => void;
  /** Progress of hashing the file before a chunked transfer (a large file takes a while). */
  onHashProgress?: ProgressListener;
}

/** Outcome of {@link sendFileFromPath}. */
export interface SendFileFromPathResult {
  ack: Ack;
  name: string;
  size: number;
  /** Hex SHA-256 of the file (chunked transfers only). */
  sha256?: string;
  /** "frame": the reference's single FILE frame; "chunked": ours. */
  mode: "frame" | "chunked";
  /** Bytes the receiver already held when the last attempt started. */
  resumedFrom: number;
  /** File bytes put on the wire over all attempts. */
  sentBytes: number;
  attempts: number;
}

/** A {@link FileSource} over an open local file. */
export function fileSource(file: Deno.FsFile, size: number): FileSource {
  return {
    size,
    async readAt(offset, into) {
      await file.seek(offset, Deno.SeekMode.Start);
      let filled = 0;
      while (filled < into.length) {
        const n = await file.read(into.subarray(filled));
        if (n === null) break;
        filled += n;
      }
      return filled;
    },
  };
}

/** SHA-256 of all of `source`, reporting progress to `onProgress`. */
export async function sha256Of(source: FileSource, onProgress?: ProgressListener): Promise<Uint8Array> {
  const hash = createHash("sha256");
  const buf = new Uint8Array(HASH_READ_BYTES);
  for (let offset = 0; offset < source.size;) {
    const n = await source.readAt(offset, buf.subarray(0, Math.min(buf.length, source.size - offset)));
    if (n === 0) throw new DataExchangeError(`file shrank to ${offset} bytes while hashing`);
    hash.update(buf.subarray(0, n));
    offset += n;
    onProgress?.(offset, source.size);
  }
  const digest = new Uint8Array(hash.digest());
  if (digest.length !== SHA256_BYTES) throw new DataExchangeError("unexpected digest length");
  return digest;
}

/** Errors after which a new connection may get further: the connection dropped, not a refusal. */
function isConnectionLoss(err: unknown): boolean {
  return err instanceof AckMissingError || err instanceof StreamEndedError || err instanceof StreamIoError ||
    err instanceof IpcError;
}

/**
 * Sends the file at `path` to `target`: in one reference FILE frame when it fits, otherwise by
 * chunked transfer, reconnecting and resuming after a dropped connection (up to `attempts`), and
 * starting over once when the receiver's partial data fails the final SHA-256 check.
 *
 * @example
 * ```ts
 * import { type PilotClient, sendFileFromPath } from "../../../mod.ts";
 * async function backup(client: PilotClient, peer: string): Promise<number> {
 *   const r = await sendFileFromPath(client, peer, "/var/backups/db.tar", { timeoutMs: 30_000 });
 *   return r.ack.ok ? r.sentBytes : -1;
 * }
 * console.assert(typeof backup === "function");
 * ```
 */
export async function sendFileFromPath(
  client: PilotClient,
  target: Address | string,
  path: string,
  options: SendFileFromPathOptions = {},
): Promise<SendFileFromPathResult> {
  const name = options.name ?? basename(path);
  const nameBytes = utf8(name);
  safeFileName(nameBytes);
  const file = await Deno.open(path, { read: true });
  try {
    const size = (await file.stat()).size;
    if (fitsOneFrame(nameBytes, size)) {
      const data = new Uint8Array(size);
      await fileSource(file, size).readAt(0, data);
      options.onProgress?.(0, size);
      const ack = await sendFile(client, target, name, data, options);
      options.onProgress?.(size, size);
      return { ack, name, size, mode: "frame", resumedFrom: 0, sentBytes: size, attempts: 1 };
    }
    const source = fileSource(file, size);
    const sha256 = await sha256Of(source, options.onHashProgress);
    const attempts = options.attempts ?? DEFAULT_TRANSFER_ATTEMPTS;
    let sentBytes = 0;
    let restarted = false;
    let connected = false;
    for (let attempt = 1;; attempt++) {
      let session: DataExchangeClient | undefined;
      try {
        session = await DataExchangeClient.dial(client, target, options);
        connected = true;
        const r = await session.sendFileChunked(name, source, sha256, options);
        sentBytes += r.sentBytes;
        // Corrupt partial data is discarded by the receiver at the check; one fresh start fixes it.
        if (!r.ack.ok && r.resumedFrom > 0 && !restarted && r.ack.error?.startsWith(DIGEST_MISMATCH_REASON)) {
          restarted = true;
          options.onRetry?.(attempt, new DataExchangeError(r.ack.text));
          continue;
        }
        return {
          ack: r.ack,
          name,
          size,
          sha256: toHex(sha256),
          mode: "chunked",
          resumedFrom: r.resumedFrom,
          sentBytes,
          attempts: attempt,
        };
      } catch (err) {
        // A peer never reached is reported at once; only a dropped transfer is worth reconnecting for.
        if (!connected || !isConnectionLoss(err) || attempt >= attempts) throw err;
        options.onRetry?.(attempt, err);
        await new Promise((resolve) => setTimeout(resolve, options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS));
      } finally {
        if (session) await closeQuietly(session);
      }
    }
  } finally {
    file.close();
  }
}
