/**
 * Small JSON files in the registry's state directory (export settings, the webhook
 * dead-letter queue): written atomically (temp file, fsync, rename, directory fsync)
 * and one write at a time, so a crash leaves the old or the new contents, never a mix.
 * @module
 */
import { syncDir } from "../store/wal.ts";
import { settleQuietly } from "../../errors.ts";

/** Largest such file read back; a bigger one is refused as damaged. */
export const MAX_STATE_FILE_BYTES = 4 * 1024 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A JSON file rewritten whole; `null` path = memory only (no-op writes, nothing read). */
export class JsonStateFile {
  #chain: Promise<void> = Promise.resolve();

  constructor(readonly dir: string | null, readonly name: string) {}

  get path(): string | null {
    return this.dir ? `${this.dir}/${this.name}` : null;
  }

  /** The parsed contents, or null when absent; throws on an unreadable or oversized file. */
  async read(): Promise<unknown> {
    const path = this.path;
    if (!path) return null;
    let bytes: Uint8Array;
    try {
      const stat = await Deno.stat(path);
      if (stat.size > MAX_STATE_FILE_BYTES) {
        throw new Error(`${path} is larger than ${MAX_STATE_FILE_BYTES} bytes`);
      }
      bytes = await Deno.readFile(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return null;
      throw err;
    }
    try {
      return JSON.parse(decoder.decode(bytes));
    } catch {
      throw new Error(`${path} is not valid JSON`);
    }
  }

  /** Replaces the contents with `value`; writes are serialised in call order. */
  write(value: unknown): Promise<void> {
    const path = this.path;
    if (!path || !this.dir) return Promise.resolve();
    const dir = this.dir;
    const body = encoder.encode(JSON.stringify(value, null, 1) + "\n");
    const next = this.#chain.then(async () => {
      const tmp = `${path}.tmp`;
      const file = await Deno.open(tmp, { create: true, write: true, truncate: true, mode: 0o600 });
      try {
        for (let off = 0; off < body.length;) off += await file.write(body.subarray(off));
        await file.sync();
      } finally {
        file.close();
      }
      await Deno.rename(tmp, path);
      await syncDir(dir);
    });
    this.#chain = settleQuietly(next, "reported elsewhere");
    return next;
  }
}
