/**
 * The mailbox the data-exchange service fills and `pilot inbox` / `pilot received` read: messages
 * as JSON documents in `<state>/inbox/`, files in `<state>/received/` (docs/protocol/services.md §5, docs/protocol/cli.md
 * §4.10). Directories are 0700 and files 0600. Every file is created exclusively (never through an
 * existing entry or symlink); a name taken in the same millisecond gets a `-1`, `-2`… suffix
 * instead of overwriting, and a failed write leaves no partial file behind.
 * @module
 */
import { join } from "../../paths.ts";
import { fromUtf8, toBase64, utf8 } from "../../bytes.ts";
import { DataExchangeError } from "./codec.ts";
import { inboxFileName, storedFileName } from "./filename.ts";
import { rfc3339Local } from "./timestamps.ts";
import { settleQuietly } from "../../errors.ts";

/** Sub-directory of the state directory holding messages. */
export const INBOX_DIR_NAME = "inbox";
/** Sub-directory of the state directory holding files. */
export const RECEIVED_DIR_NAME = "received";
/** Mode of the mailbox directories. */
export const MAILBOX_DIR_MODE = 0o700;
/** Mode of stored messages and files. */
export const MAILBOX_FILE_MODE = 0o600;
/** Collision suffixes tried before a save gives up. */
export const MAX_NAME_ATTEMPTS = 100;

/** Kinds of stored message. */
export type MessageTypeName = "TEXT" | "JSON" | "BINARY";

/** A stored inbox message as written to disk (the reference's keys, plus `data_base64` for BINARY). */
export interface InboxMessage {
  type: string;
  from: string;
  /** The payload as text (invalid UTF-8 replaced, as the reference's string conversion does). */
  data: string;
  bytes: number;
  received_at: string;
  /** BINARY only: the exact payload, since `data` cannot carry arbitrary bytes. */
  data_base64?: string;
}

/** A stored file as `pilot received` lists it. */
export interface ReceivedFile {
  name: string;
  bytes: number;
  modified: string;
  path: string;
}

/** A mailbox directory does not exist (nothing was ever received). */
export class MailboxMissingError extends DataExchangeError {}

/** The inbox and received directories under one state directory. */
export class Mailbox {
  readonly inboxDir: string;
  readonly receivedDir: string;
  readonly #now: () => Date;

  constructor(stateDir: string, now: () => Date = () => new Date()) {
    this.inboxDir = join(stateDir, INBOX_DIR_NAME);
    this.receivedDir = join(stateDir, RECEIVED_DIR_NAME);
    this.#now = now;
  }

  /** Stores a TEXT/JSON/BINARY message from `from`; returns the file path. */
  async saveMessage(type: MessageTypeName, from: string, payload: Uint8Array): Promise<string> {
    const when = this.#now();
    const message: InboxMessage = {
      type,
      from,
      data: fromUtf8(payload),
      bytes: payload.length,
      received_at: rfc3339Local(when, true),
    };
    if (type === "BINARY") message.data_base64 = toBase64(payload);
    const body = utf8(JSON.stringify(message));
    return await this.#create(this.inboxDir, (attempt) => inboxFileName(type, when, attempt), body);
  }

  /** Stores file bytes under a name from `safeFileName`; returns the file path. */
  async saveFile(safeName: string, data: Uint8Array): Promise<string> {
    const when = this.#now();
    return await this.#create(this.receivedDir, (attempt) => storedFileName(safeName, when, attempt), data);
  }

  /**
   * Moves a complete file (a finished partial file on the same file system) into the received
   * directory under a name from `safeName`, atomically: a hard link that never replaces an existing
   * entry, then the source is unlinked. Returns the stored path.
   */
  async adoptFile(safeName: string, sourcePath: string): Promise<string> {
    await this.#ensureDir(this.receivedDir);
    const when = this.#now();
    for (let attempt = 0; attempt < MAX_NAME_ATTEMPTS; attempt++) {
      const path = join(this.receivedDir, storedFileName(safeName, when, attempt));
      try {
        await Deno.link(sourcePath, path);
      } catch (err) {
        if (err instanceof Deno.errors.AlreadyExists) continue;
        throw err;
      }
      await settleQuietly(Deno.remove(sourcePath), "cleanup");
      return path;
    }
    throw new DataExchangeError(`no free name in ${this.receivedDir} after ${MAX_NAME_ATTEMPTS} attempts`);
  }

  /** Stored messages in name (arrival) order; unreadable or non-JSON entries are skipped. */
  async listMessages(): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    for (const name of await this.#names(this.inboxDir)) {
      try {
        const value = JSON.parse(await Deno.readTextFile(join(this.inboxDir, name)));
        if (value && typeof value === "object" && !Array.isArray(value)) out.push(value);
      } catch {
        // Not ours or half-written by something else: the reference skips these too.
      }
    }
    return out;
  }

  /** Stored files in name order with size and modification time. */
  async listFiles(): Promise<ReceivedFile[]> {
    const out: ReceivedFile[] = [];
    for (const name of await this.#names(this.receivedDir)) {
      const path = join(this.receivedDir, name);
      try {
        const info = await Deno.stat(path);
        out.push({ name, bytes: info.size, modified: rfc3339Local(info.mtime ?? new Date(0)), path });
      } catch {
        // Removed while listing.
      }
    }
    return out;
  }

  /** Deletes every stored message; throws {@link MailboxMissingError} when there is no inbox. */
  async clearMessages(): Promise<number> {
    return await this.#clear(this.inboxDir);
  }

  /** Deletes every stored file; throws {@link MailboxMissingError} when there is no received directory. */
  async clearFiles(): Promise<number> {
    return await this.#clear(this.receivedDir);
  }

  /** Regular files of `dir`, sorted; [] when it does not exist. */
  async #names(dir: string): Promise<string[]> {
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(dir)) if (entry.isFile) names.push(entry.name);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return [];
      throw err;
    }
    return names.sort();
  }

  async #clear(dir: string): Promise<number> {
    try {
      await Deno.stat(dir);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) throw new MailboxMissingError(`${dir} does not exist`);
      throw err;
    }
    let count = 0;
    for (const name of await this.#names(dir)) {
      await Deno.remove(join(dir, name)).then(() => count++, () => {});
    }
    return count;
  }

  async #ensureDir(dir: string): Promise<void> {
    await Deno.mkdir(dir, { recursive: true, mode: MAILBOX_DIR_MODE });
    const info = await Deno.lstat(dir);
    if (!info.isDirectory) throw new DataExchangeError(`${dir} is not a directory`);
  }

  async #create(dir: string, nameFor: (attempt: number) => string, data: Uint8Array): Promise<string> {
    await this.#ensureDir(dir);
    for (let attempt = 0; attempt < MAX_NAME_ATTEMPTS; attempt++) {
      const path = join(dir, nameFor(attempt));
      let file: Deno.FsFile;
      try {
        file = await Deno.open(path, { write: true, createNew: true, mode: MAILBOX_FILE_MODE });
      } catch (err) {
        if (err instanceof Deno.errors.AlreadyExists) continue;
        throw err;
      }
      try {
        for (let off = 0; off < data.length;) off += await file.write(data.subarray(off));
      } catch (err) {
        file.close();
        await settleQuietly(Deno.remove(path), "cleanup");
        throw err;
      }
      file.close();
      return path;
    }
    throw new DataExchangeError(`no free name in ${dir} after ${MAX_NAME_ATTEMPTS} attempts`);
  }
}
