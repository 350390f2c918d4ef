/**
 * Partial files of chunked transfers (docs/protocol/services.md §5, "ours"): `<state>/partial/<key>.part`,
 * one per (sender, name, size, SHA-256), so a sender that reconnects finds what already arrived and
 * a different sender or a different file never shares it. Files not touched for
 * {@link PARTIAL_FILE_TTL_MS} are deleted by the next sweep. Directory 0700, files 0600; an entry that
 * is not a regular file (a planted symlink) is never opened.
 * @module
 */
import { createHash } from "node:crypto";
import { statfs } from "node:fs/promises";
import { join } from "../../paths.ts";
import { toHex, utf8 } from "../../bytes.ts";
import { DataExchangeError } from "./codec.ts";
import type { FileOffer } from "./chunked_codec.ts";
import { MAILBOX_DIR_MODE, MAILBOX_FILE_MODE } from "./mailbox.ts";
import { settleQuietly } from "../../errors.ts";

/** Sub-directory of the state directory holding partial files. */
export const PARTIAL_DIR_NAME = "partial";
/** A partial file untouched this long is deleted (a day: long enough to resume after an outage). */
export const PARTIAL_FILE_TTL_MS = 24 * 60 * 60 * 1000;
/** Free space left on the disk after a transfer completes, below which an offer is refused. */
export const DISK_SPACE_RESERVE_BYTES = 64 << 20;
/** Read size when hashing a partial file's prefix on resume. */
const HASH_READ_BYTES = 1 << 20;
const PARTIAL_SUFFIX = ".part";

/** A partial file's path and how many bytes it holds. */
export interface PartialFile {
  path: string;
  file: Deno.FsFile;
  /** Bytes already on disk. */
  have: number;
}

/** The partial-file directory of one node. */
export class PartialFiles {
  readonly dir: string;
  readonly #now: () => number;

  constructor(stateDir: string, now: () => number = Date.now) {
    this.dir = join(stateDir, PARTIAL_DIR_NAME);
    this.#now = now;
  }

  /** The entry name for an offer from `from`: a digest, so nothing from the network reaches the path. */
  keyFor(from: string, offer: FileOffer): string {
    const h = createHash("sha256");
    h.update(utf8(`${from}\n${offer.size}\n${toHex(offer.sha256)}\n`));
    h.update(offer.nameBytes);
    return toHex(new Uint8Array(h.digest())).slice(0, 32);
  }

  /** Deletes partial files older than {@link PARTIAL_FILE_TTL_MS}; returns how many. Best-effort. */
  async sweep(): Promise<number> {
    let removed = 0;
    const cutoff = this.#now() - PARTIAL_FILE_TTL_MS;
    try {
      for await (const entry of Deno.readDir(this.dir)) {
        if (!entry.name.endsWith(PARTIAL_SUFFIX)) continue;
        const path = join(this.dir, entry.name);
        const info = await settleQuietly(Deno.lstat(path), "cleanup"); // gone meanwhile: nothing to expire
        if (info && (info.mtime?.getTime() ?? 0) < cutoff) {
          await Deno.remove(path).then(() => removed++, () => {});
        }
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return removed;
  }

  /**
   * Opens (or creates) the partial file for `key`, for appending. One longer than `size` cannot be
   * a prefix of this file and is emptied.
   */
  async open(key: string, size: number): Promise<PartialFile> {
    await Deno.mkdir(this.dir, { recursive: true, mode: MAILBOX_DIR_MODE });
    const dirInfo = await Deno.lstat(this.dir);
    if (!dirInfo.isDirectory) throw new DataExchangeError(`${this.dir} is not a directory`);
    const path = join(this.dir, key + PARTIAL_SUFFIX);
    const existing = await Deno.lstat(path).catch((err) => {
      if (err instanceof Deno.errors.NotFound) return null;
      throw err;
    });
    if (existing && !existing.isFile) throw new DataExchangeError(`${path} is not a regular file`);
    const file = await Deno.open(path, { read: true, write: true, create: true, mode: MAILBOX_FILE_MODE });
    try {
      let have = (await file.stat()).size;
      if (have > size) {
        await file.truncate(0);
        have = 0;
      }
      await file.seek(have, Deno.SeekMode.Start);
      return { path, file, have };
    } catch (err) {
      file.close();
      throw err;
    }
  }

  /** Bytes available to this process on the partial directory's file system. */
  async freeBytes(): Promise<number> {
    const s = await statfs(this.dir);
    return Number(s.bavail) * Number(s.bsize);
  }

  /** Removes a partial file (after a digest mismatch). */
  async discard(path: string): Promise<void> {
    await settleQuietly(Deno.remove(path), "cleanup");
  }
}

/** A SHA-256 hasher fed with the first `length` bytes of `path` (the part that survived a cut). */
export async function hashPrefix(path: string, length: number): Promise<ReturnType<typeof createHash>> {
  const hash = createHash("sha256");
  if (length === 0) return hash;
  const file = await Deno.open(path, { read: true });
  try {
    const buf = new Uint8Array(HASH_READ_BYTES);
    let left = length;
    while (left > 0) {
      const n = await file.read(buf.subarray(0, Math.min(left, buf.length)));
      if (n === null) throw new DataExchangeError(`${path} shrank while hashing`);
      hash.update(buf.subarray(0, n));
      left -= n;
    }
  } finally {
    file.close();
  }
  return hash;
}
