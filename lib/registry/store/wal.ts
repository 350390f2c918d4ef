/**
 * Write-ahead log segments with group commit. A record is `u32 length | u32
 * CRC-32 | body`; appends that arrive while an fsync is in flight are written
 * together and made durable by the next single fsync, so 50 concurrent writers
 * cost about one fsync per round trip rather than fifty. A torn or corrupt tail
 * (a crash mid-write) ends a segment on read; everything before it is intact.
 * @module
 */
import { crc32 } from "../../protocol/checksum.ts";
import { RegistryStoreError } from "../errors.ts";
import { errorMessage } from "../../errors.ts";

/** Bytes before each record body. */
export const RECORD_HEADER_LENGTH = 8;
/** A record body larger than this is treated as corruption on read. */
export const MAX_RECORD_BODY = 16 * 1024 * 1024;
/** Digits in a segment file name's sequence number. */
const SEQ_DIGITS = 16;

/** File name of the segment whose first record has sequence `firstSeq`. */
export function segmentName(firstSeq: number): string {
  return `wal-${String(firstSeq).padStart(SEQ_DIGITS, "0")}.log`;
}

/** The first sequence number encoded in a segment file name, or null for other files. */
export function parseSegmentName(name: string): number | null {
  const m = /^wal-(\d{16})\.log$/.exec(name);
  return m ? Number(m[1]) : null;
}

/** One record with its header. */
export function encodeRecord(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(RECORD_HEADER_LENGTH + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  view.setUint32(4, crc32(body));
  out.set(body, RECORD_HEADER_LENGTH);
  return out;
}

/** What a segment held: intact record bodies, and where (if anywhere) it stopped being intact. */
export interface SegmentContents {
  records: Uint8Array[];
  /** Bytes of intact records from the start of the file. */
  validLength: number;
  /** True when bytes after `validLength` were torn or corrupt. */
  torn: boolean;
}

/** Splits a segment's bytes into records, stopping at the first torn or corrupt one. */
export function decodeSegment(bytes: Uint8Array): SegmentContents {
  const records: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  while (off + RECORD_HEADER_LENGTH <= bytes.length) {
    const len = view.getUint32(off);
    const crc = view.getUint32(off + 4);
    const end = off + RECORD_HEADER_LENGTH + len;
    if (len > MAX_RECORD_BODY || end > bytes.length) break;
    const body = bytes.subarray(off + RECORD_HEADER_LENGTH, end);
    if (crc32(body) !== crc) break;
    records.push(body);
    off = end;
  }
  return { records, validLength: off, torn: off !== bytes.length };
}

interface Pending {
  kind: "record";
  bytes: Uint8Array;
  resolve: () => void;
  reject: (e: Error) => void;
}
interface PendingRotate {
  kind: "rotate";
  firstSeq: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** Fsyncs a directory so that a create or rename in it is durable. */
export async function syncDir(dir: string): Promise<void> {
  const f = await Deno.open(dir, { read: true });
  try {
    await f.sync();
  } finally {
    f.close();
  }
}

/** Appends records to the current segment with group commit. */
export class WalWriter {
  #file: Deno.FsFile;
  #queue: (Pending | PendingRotate)[] = [];
  #running = false;
  #failed: Error | null = null;
  #segmentBytes = 0;
  /** Number of fsyncs issued (for metrics and the group-commit test). */
  syncs = 0;
  /** Records made durable. */
  records = 0;

  private constructor(readonly dir: string, file: Deno.FsFile, size: number) {
    this.#file = file;
    this.#segmentBytes = size;
  }

  /** Opens (creating if needed) the segment starting at `firstSeq` for appending. */
  static async open(dir: string, firstSeq: number): Promise<WalWriter> {
    const path = `${dir}/${segmentName(firstSeq)}`;
    const file = await Deno.open(path, { create: true, append: true });
    const size = (await file.stat()).size;
    await file.sync();
    await syncDir(dir);
    return new WalWriter(dir, file, size);
  }

  /** The error that stopped the log, if any. Once failed, every append rejects. */
  get failed(): Error | null {
    return this.#failed;
  }

  /** Bytes in the current segment. */
  get segmentBytes(): number {
    return this.#segmentBytes;
  }

  /** Queues a record; resolves once it (and everything queued before it) is on disk. */
  append(body: Uint8Array): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#queue.push({ kind: "record", bytes: encodeRecord(body), resolve, reject });
      this.#kick();
    });
  }

  /** Starts a new segment for records queued after this call; resolves once the old one is closed. */
  rotate(firstSeq: number): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#queue.push({ kind: "rotate", firstSeq, resolve, reject });
      this.#kick();
    });
  }

  /** Waits for queued records, then closes the file. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#queue.push({ kind: "rotate", firstSeq: -1, resolve, reject: () => resolve() });
      this.#kick();
    });
  }

  #kick(): void {
    if (this.#running) return;
    this.#running = true;
    this.#drain().finally(() => {
      this.#running = false;
      if (this.#queue.length > 0 && !this.#failed) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const head = this.#queue[0];
      if (head.kind === "rotate") {
        this.#queue.shift();
        try {
          await this.#doRotate(head.firstSeq);
          head.resolve();
        } catch (err) {
          this.#fail(err, [head]);
          return;
        }
        continue;
      }
      // Everything queued up to the next rotation goes out in one write and one fsync.
      let end = this.#queue.findIndex((p) => p.kind === "rotate");
      if (end < 0) end = this.#queue.length;
      const batch = this.#queue.splice(0, end) as Pending[];
      try {
        await this.#writeBatch(batch);
      } catch (err) {
        this.#fail(err, batch);
        return;
      }
      for (const p of batch) p.resolve();
    }
  }

  async #writeBatch(batch: Pending[]): Promise<void> {
    let total = 0;
    for (const p of batch) total += p.bytes.length;
    const buf = new Uint8Array(total);
    let off = 0;
    for (const p of batch) {
      buf.set(p.bytes, off);
      off += p.bytes.length;
    }
    // A synchronous write: it only copies into the page cache (~1 µs for a batch of records, where an
    // awaited write is a thread-pool round trip of ~30 µs), so the fsync starts at once.
    for (let done = 0; done < buf.length;) done += this.#file.writeSync(buf.subarray(done));
    await this.#file.syncData();
    this.syncs++;
    this.records += batch.length;
    this.#segmentBytes += total;
  }

  async #doRotate(firstSeq: number): Promise<void> {
    await this.#file.sync();
    this.#file.close();
    if (firstSeq < 0) {
      this.#failed = new RegistryStoreError("write-ahead log closed");
      return;
    }
    this.#file = await Deno.open(`${this.dir}/${segmentName(firstSeq)}`, { create: true, append: true });
    await syncDir(this.dir);
    this.#segmentBytes = 0;
  }

  #fail(err: unknown, inFlight: { reject: (e: Error) => void }[]): void {
    this.#failed = new RegistryStoreError(
      `write-ahead log failed: ${errorMessage(err)}`,
    );
    for (const p of inFlight) p.reject(this.#failed);
    for (const p of this.#queue.splice(0)) p.reject(this.#failed);
  }
}
