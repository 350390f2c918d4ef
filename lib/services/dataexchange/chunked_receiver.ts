/**
 * The receiving side of a chunked transfer (docs/protocol/services.md §5, "ours"), run by the data-exchange
 * server when a FILE_OFFER arrives: vet the offer (name, size limit, free disk space), answer with
 * how much of the file a partial file already holds, append chunks strictly in order, and at
 * FILE_END check the SHA-256 of the whole file before linking it into the received directory.
 * A digest mismatch (corrupted or tampered partial data) discards the partial file, so the next
 * attempt starts from zero. A newer session for the same file supersedes an older one still
 * waiting on a dead connection.
 * @module
 */
import { bytesEqual, utf8 } from "../../bytes.ts";
import type { Logger } from "../../log.ts";
import type { PeerStream } from "../byte_stream.ts";
import type { ByteBudget } from "../byte_budget.ts";
import type { StreamReader } from "../stream_reader.ts";
import { closeQuietly, settleQuietly } from "../../errors.ts";
import {
  decodeFrameHeader,
  encodeFrame,
  formatAck,
  formatRefusal,
  FRAME_HEADER_LENGTH,
  FrameType,
} from "./codec.ts";
import {
  ChunkedFrameError,
  ChunkedFrameType,
  decodeChunk,
  decodeEnd,
  decodeOffer,
  DIGEST_MISMATCH_REASON,
  encodeResume,
  type FileOffer,
  MAX_CHUNK_DATA_BYTES,
  PROGRESS_INTERVAL_BYTES,
} from "./chunked_codec.ts";
import { safeFileName, UnsafeFileNameError } from "./filename.ts";
import type { Mailbox } from "./mailbox.ts";
import { DISK_SPACE_RESERVE_BYTES, hashPrefix, type PartialFiles } from "./partial_files.ts";

// Re-exported: the environment limit lives apart so the daemon reads it without loading this module.
export { MAX_FILE_BYTES_ENV, maxFileBytesFromEnv } from "./receive_limit.ts";

/** Largest file a receiver accepts by default (1 TiB; a daemon may set its own). */
export const DEFAULT_MAX_CHUNKED_FILE_BYTES = 2 ** 40;
/** Chunked transfers one server runs at once; more offers are refused until one ends. */
export const MAX_CONCURRENT_CHUNKED_TRANSFERS = 8;

/** What the caller of {@link ChunkedReceiver.receive} does next with the connection. */
export type AfterTransfer = "continue" | "close";

/** Options of {@link ChunkedReceiver}. */
export interface ChunkedReceiverOptions {
  mailbox: Mailbox;
  partials: PartialFiles;
  budget: ByteBudget;
  log: Logger;
  idleTimeoutMs: number;
  maxFileBytes?: number;
  /** Free bytes on the partial directory's disk (default: statfs). */
  freeBytes?: () => Promise<number>;
  onStored: (name: string, size: number, path: string, from: string) => void;
  onRefused: () => void;
}

interface ActiveTransfer {
  abort: AbortController;
  done: Promise<void>;
  /** Bytes it still needs on disk: counted against free space by every other offer. */
  remaining: number;
}

/** Runs chunked transfers for one data-exchange server. */
export class ChunkedReceiver {
  readonly #options: ChunkedReceiverOptions;
  readonly #maxFileBytes: number;
  readonly #active = new Map<string, ActiveTransfer>();

  constructor(options: ChunkedReceiverOptions) {
    this.#options = options;
    this.#maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_CHUNKED_FILE_BYTES;
  }

  /** Handles one offer (its payload already read) and, if accepted, the transfer that follows. */
  async receive(stream: PeerStream, reader: StreamReader, offerPayload: Uint8Array): Promise<AfterTransfer> {
    const from = stream.remoteAddr.toString();
    let offer: FileOffer;
    let name: string;
    try {
      offer = decodeOffer(offerPayload);
      name = safeFileName(offer.nameBytes);
    } catch (err) {
      if (!(err instanceof ChunkedFrameError || err instanceof UnsafeFileNameError)) throw err;
      return await this.#refuse(stream, err.message, "continue");
    }
    if (offer.size > this.#maxFileBytes) {
      return await this.#refuse(
        stream,
        `file of ${offer.size} bytes exceeds the receiver's limit of ${this.#maxFileBytes}`,
        "continue",
      );
    }
    const { partials } = this.#options;
    // Expiry is best-effort: a failed sweep must not refuse the offer.
    await partials.sweep().catch((err) => this.#options.log.debug("partial sweep failed", { err }));
    const key = partials.keyFor(from, offer);
    const previous = this.#active.get(key);
    if (previous) {
      // The sender reconnected while we still wait on its dead connection: that one is over. It
      // stops at its next read; one stuck in a write for longer is refused rather than waited on.
      previous.abort.abort();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stopped = await Promise.race([
        previous.done.then(() => true),
        new Promise<boolean>((resolve) =>
          timer = setTimeout(() => resolve(false), this.#options.idleTimeoutMs)
        ),
      ]);
      clearTimeout(timer);
      if (!stopped) return await this.#refuse(stream, "this file is already being received", "continue");
    }
    if (this.#active.size >= MAX_CONCURRENT_CHUNKED_TRANSFERS) {
      return await this.#refuse(stream, "receiver busy, try again later", "continue");
    }
    const abort = new AbortController();
    let finish!: () => void;
    const entry: ActiveTransfer = { abort, done: new Promise((resolve) => finish = resolve), remaining: 0 };
    this.#active.set(key, entry);
    try {
      return await this.#transfer(stream, reader, offer, name, key, entry);
    } finally {
      if (this.#active.get(key) === entry) this.#active.delete(key);
      finish();
    }
  }

  async #transfer(
    stream: PeerStream,
    reader: StreamReader,
    offer: FileOffer,
    name: string,
    key: string,
    entry: ActiveTransfer,
  ): Promise<AfterTransfer> {
    const { partials, log, budget } = this.#options;
    const from = stream.remoteAddr.toString();
    let partial;
    try {
      partial = await partials.open(key, offer.size);
    } catch (err) {
      log.warn("opening a partial file failed", { name, err });
      return await this.#refuse(stream, "could not store the file", "continue");
    }
    const { file, path } = partial;
    let have = partial.have;
    let fileOpen = true;
    const closeFile = () => {
      if (fileOpen) file.close();
      fileOpen = false;
    };
    try {
      const free = await (this.#options.freeBytes ?? (() => partials.freeBytes()))();
      let promised = 0;
      for (const other of this.#active.values()) if (other !== entry) promised += other.remaining;
      if (free - promised - (offer.size - have) < DISK_SPACE_RESERVE_BYTES) {
        log.warn("file refused: disk space", { name, size: offer.size, free, promised });
        return await this.#refuse(stream, "not enough disk space", "continue");
      }
      const hash = await hashPrefix(path, have);
      log.info("chunked transfer", { from, name, size: offer.size, resume_at: have });
      await stream.write(encodeFrame(ChunkedFrameType.Resume, encodeResume(have)));
      entry.remaining = offer.size - have;
      const io = { timeoutMs: this.#options.idleTimeoutMs, signal: entry.abort.signal };
      let reported = have;
      for (;;) {
        const head = await reader.readExactOrEnd(FRAME_HEADER_LENGTH, io);
        if (head === null) return "close"; // cut: the partial file stays for a resume
        const { type, length } = decodeFrameHeader(head);
        if (type === ChunkedFrameType.End) {
          decodeEnd(await reader.readExact(length, io));
          break;
        }
        if (type !== ChunkedFrameType.Chunk || length > MAX_CHUNK_DATA_BYTES + 8) {
          return await this.#refuse(
            stream,
            `unexpected frame type ${type} of ${length} bytes in a file transfer`,
          );
        }
        if (!budget.tryReserve(length)) return await this.#refuse(stream, "receiver busy, try again later");
        try {
          const chunk = decodeChunk(await reader.readExact(length, io));
          if (chunk.offset !== have || have + chunk.data.length > offer.size) {
            return await this.#refuse(
              stream,
              `chunk at ${chunk.offset} of ${chunk.data.length} bytes; expected offset ${have} of ${offer.size}`,
            );
          }
          for (let off = 0; off < chunk.data.length;) off += await file.write(chunk.data.subarray(off));
          hash.update(chunk.data);
          have += chunk.data.length;
          entry.remaining = offer.size - have;
        } finally {
          budget.release(length);
        }
        if (have - reported >= PROGRESS_INTERVAL_BYTES && have < offer.size) {
          reported = have;
          // A sender that is gone may still have chunks queued here: keep storing them for its resume.
          await settleQuietly(
            stream.write(encodeFrame(ChunkedFrameType.Resume, encodeResume(have))),
            "peer gone",
          );
        }
      }
      if (have !== offer.size) {
        return await this.#refuse(stream, `file ended at ${have} of ${offer.size} bytes`);
      }
      const digest = new Uint8Array(hash.digest());
      if (!bytesEqual(digest, offer.sha256)) {
        closeFile();
        await partials.discard(path);
        log.warn("chunked file failed its SHA-256 check; partial data discarded", { from, name });
        return await this.#refuse(
          stream,
          `${DIGEST_MISMATCH_REASON}, partial data discarded: send the file again`,
          "continue",
        );
      }
      await file.syncData();
      closeFile();
      let stored: string;
      try {
        stored = await this.#options.mailbox.adoptFile(name, path);
      } catch (err) {
        log.warn("storing a file failed", { name, err });
        return await this.#refuse(stream, "could not store the file", "continue");
      }
      log.info("file stored", { name, bytes: offer.size, path: stored });
      this.#options.onStored(name, offer.size, stored, from);
      await stream.write(encodeFrame(FrameType.Text, utf8(formatAck(FrameType.File, offer.size))));
      return "continue";
    } catch (err) {
      if (err instanceof ChunkedFrameError) return await this.#refuse(stream, err.message);
      throw err;
    } finally {
      closeFile();
    }
  }

  async #refuse(stream: PeerStream, reason: string, after: AfterTransfer = "close"): Promise<AfterTransfer> {
    this.#options.onRefused();
    this.#options.log.warn("chunked transfer refused", { from: stream.remoteAddr.toString(), reason });
    await stream.write(encodeFrame(FrameType.Text, utf8(formatRefusal(FrameType.File, reason))))
      .catch(() => closeQuietly(stream));
    return after;
  }
}
