/**
 * The receiving side of data exchange (docs/protocol/services.md §5), written once against {@link PeerStream}:
 * the daemon runs it on port 1001, and an application can run it on any port it listens on.
 * Per connection it loops over frames until the peer closes, stores TEXT/JSON/BINARY messages in
 * the inbox and named FILE frames in the received directory, and answers every frame with an
 * ACK or ERR text frame. Limits: a frame over 16 MiB is refused and its connection closed; all
 * connections share a memory budget (a frame that does not fit is skipped and refused, not
 * buffered); a frame that stalls mid-way is abandoned after an idle timeout. Refusal texts never
 * carry local paths; the details go to the log. A FILE_OFFER (our chunked transfer, for files over one
 * frame) hands the connection to {@link ChunkedReceiver} until that file is done.
 * @module
 */
import { utf8 } from "../../bytes.ts";
import { Logger } from "../../log.ts";
import type { ServiceSessions } from "../context.ts";
import { type PeerStream, serveStreams } from "../byte_stream.ts";
import { ByteBudget } from "../byte_budget.ts";
import { StreamReader } from "../stream_reader.ts";
import {
  decodeFilePayload,
  decodeFrameHeader,
  encodeFrame,
  formatAck,
  formatRefusal,
  FRAME_HEADER_LENGTH,
  FrameTooLargeError,
  FrameType,
} from "./codec.ts";
import { safeFileName, UnsafeFileNameError } from "./filename.ts";
import { dirname } from "../../paths.ts";
import { ChunkedFrameType, isChunkedFrameType, MAX_OFFER_BYTES } from "./chunked_codec.ts";
import { ChunkedReceiver } from "./chunked_receiver.ts";
import { PartialFiles } from "./partial_files.ts";
import type { Mailbox, MessageTypeName } from "./mailbox.ts";
import { closeQuietly } from "../../errors.ts";

/** Bytes of frame payload all connections of one server may hold at once (four maximal frames). */
export const DEFAULT_MEMORY_BUDGET = 64 << 20;
/** How long a frame may stall between two chunks before its connection is dropped. */
export const FRAME_IDLE_TIMEOUT_MS = 30_000;

/** Receives daemon events (`message.received`, `file.received`) for webhooks. */
export type ServiceEventSink = (event: string, data: Record<string, unknown>) => void;

/** Options of {@link DataExchangeServer}. */
export interface DataExchangeServerOptions {
  mailbox: Mailbox;
  emit?: ServiceEventSink;
  log?: Logger;
  /** Shared payload budget; default a fresh one of {@link DEFAULT_MEMORY_BUDGET}. */
  budget?: ByteBudget;
  /** Default {@link FRAME_IDLE_TIMEOUT_MS}. */
  idleTimeoutMs?: number;
  /** Where chunked transfers keep partial files; default `partial/` next to the mailbox's directories. */
  partials?: PartialFiles;
  /** Largest chunked file accepted; default `DEFAULT_MAX_CHUNKED_FILE_BYTES`. */
  maxFileBytes?: number;
  /** Free disk bytes for partial files (tests); default statfs. */
  freeBytes?: () => Promise<number>;
}

/** Counters of one server. */
export interface DataExchangeStats {
  frames: number;
  messages: number;
  files: number;
  /** Frames answered with ERR (bad name, over budget, oversized, storage failure). */
  refused: number;
}

const MESSAGE_TYPES: Record<number, MessageTypeName | undefined> = {
  [FrameType.Text]: "TEXT",
  [FrameType.Json]: "JSON",
  [FrameType.Binary]: "BINARY",
};

/** Serves data-exchange connections into a {@link Mailbox}. */
export class DataExchangeServer {
  readonly stats: DataExchangeStats = { frames: 0, messages: 0, files: 0, refused: 0 };
  readonly #mailbox: Mailbox;
  readonly #emit: ServiceEventSink;
  readonly #log: Logger;
  readonly #budget: ByteBudget;
  readonly #idleTimeoutMs: number;
  readonly #chunked: ChunkedReceiver;

  constructor(options: DataExchangeServerOptions) {
    this.#mailbox = options.mailbox;
    this.#emit = options.emit ?? (() => {});
    this.#log = options.log ?? new Logger("dataexchange");
    this.#budget = options.budget ?? new ByteBudget(DEFAULT_MEMORY_BUDGET);
    this.#idleTimeoutMs = options.idleTimeoutMs ?? FRAME_IDLE_TIMEOUT_MS;
    this.#chunked = new ChunkedReceiver({
      mailbox: this.#mailbox,
      partials: options.partials ?? new PartialFiles(dirname(this.#mailbox.receivedDir)),
      budget: this.#budget,
      log: this.#log,
      idleTimeoutMs: this.#idleTimeoutMs,
      maxFileBytes: options.maxFileBytes,
      freeBytes: options.freeBytes,
      onStored: (filename, size, path) => {
        this.stats.files++;
        this.#emit("file.received", { filename, size, path });
      },
      onRefused: () => this.stats.refused++,
    });
  }

  /** Runs one connection to its end; always closes the stream. */
  async handle(stream: PeerStream): Promise<void> {
    const reader = new StreamReader(stream);
    const idle = { timeoutMs: this.#idleTimeoutMs };
    try {
      for (;;) {
        const head = await reader.readExactOrEnd(FRAME_HEADER_LENGTH);
        if (head === null) return;
        let header;
        try {
          header = decodeFrameHeader(head);
        } catch (err) {
          if (!(err instanceof FrameTooLargeError)) throw err;
          // The stream cannot be resynchronised past a payload we refuse to read: answer, then close.
          this.stats.refused++;
          this.#log.warn("oversized frame refused", {
            from: stream.remoteAddr.toString(),
            bytes: err.length,
          });
          await this.#reply(stream, formatRefusal(err.type, err.message));
          return;
        }
        this.stats.frames++;
        const { type, length } = header;
        if (type === ChunkedFrameType.Offer && length <= MAX_OFFER_BYTES) {
          const offer = await reader.readExact(length, idle);
          if (await this.#chunked.receive(stream, reader, offer) === "close") return;
          continue;
        }
        if (!this.#budget.tryReserve(length)) {
          await reader.skip(length, idle);
          this.stats.refused++;
          this.#log.warn("frame skipped: memory budget spent", { bytes: length, used: this.#budget.used });
          await this.#reply(stream, formatRefusal(type, "receiver busy, try again later"));
          continue;
        }
        let answer: string;
        try {
          const payload = await reader.readExact(length, idle);
          answer = await this.#store(type, payload, stream);
        } finally {
          this.#budget.release(length);
        }
        await this.#reply(stream, answer);
      }
    } finally {
      await closeQuietly(stream);
    }
  }

  async #reply(stream: PeerStream, text: string): Promise<void> {
    await stream.write(encodeFrame(FrameType.Text, utf8(text)));
  }

  async #store(type: number, payload: Uint8Array, stream: PeerStream): Promise<string> {
    if (type === FrameType.File) return await this.#storeFile(payload);
    if (isChunkedFrameType(type)) {
      this.stats.refused++;
      return formatRefusal(FrameType.File, "no file transfer in progress");
    }
    const kind = MESSAGE_TYPES[type];
    if (kind === undefined) return formatAck(type, payload.length);
    const from = stream.remoteAddr.toString();
    try {
      const path = await this.#mailbox.saveMessage(kind, from, payload);
      this.stats.messages++;
      this.#log.info("message stored", { type: kind, from, bytes: payload.length, path });
    } catch (err) {
      this.stats.refused++;
      this.#log.warn("storing a message failed", { type: kind, from, err });
      return formatRefusal(type, "could not store the message");
    }
    this.#emit("message.received", { type: kind, from, size: payload.length });
    return formatAck(type, payload.length);
  }

  async #storeFile(payload: Uint8Array): Promise<string> {
    const { nameBytes, data } = decodeFilePayload(payload);
    // Nameless file data is acknowledged but not stored (the reference does the same).
    if (nameBytes === null || nameBytes.length === 0) return formatAck(FrameType.File, data.length);
    let name: string;
    try {
      name = safeFileName(nameBytes);
    } catch (err) {
      if (!(err instanceof UnsafeFileNameError)) throw err;
      this.stats.refused++;
      this.#log.warn("file refused", { reason: err.message });
      return formatRefusal(FrameType.File, err.message);
    }
    let path: string;
    try {
      path = await this.#mailbox.saveFile(name, data);
    } catch (err) {
      this.stats.refused++;
      this.#log.warn("storing a file failed", { name, err });
      return formatRefusal(FrameType.File, "could not store the file");
    }
    this.stats.files++;
    this.#log.info("file stored", { name, bytes: data.length, path });
    this.#emit("file.received", { filename: name, size: data.length, path });
    return formatAck(FrameType.File, data.length);
  }
}

/** Serves data exchange on `port` of a daemon's session layer; returns the stop function. */
export function startDataExchangeService(
  manager: Pick<ServiceSessions, "listen" | "unlisten">,
  port: number,
  options: DataExchangeServerOptions,
): () => void {
  const server = new DataExchangeServer(options);
  const log = options.log ?? new Logger("dataexchange");
  return serveStreams(
    manager,
    port,
    (stream) => server.handle(stream),
    (err) => log.debug("data-exchange connection ended with an error", { err }),
  );
}
