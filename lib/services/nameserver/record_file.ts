/**
 * The nameserver's optional persistence file. Its layout is the reference's (docs/protocol/services.md §8:
 * `{"a_records":[{name,address}],"n_records":[{name,network_id}],"s_records":[{name,address,
 * network_id,port}]}`) plus two keys per record the reference ignores: `owner` (the registering
 * node) and `expires_at` (RFC 3339), so a restart neither revives expired records nor forgets
 * who may renew a name. Records without `expires_at` (a reference file) get a fresh TTL.
 *
 * Writes are atomic (a synced temporary file renamed over the old one, mode 0600) and coalesce;
 * a malformed file is moved aside to `<file>.bad` and the server starts empty, because records
 * come back with their owners' next registrations.
 * @module
 */
import { dirname } from "../../paths.ts";
import { PilotError, settleQuietly } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { Address, MAX_NETWORK, MAX_NODE } from "../../protocol/address.ts";
import { MAX_PORT } from "../../protocol/ports.ts";
import { isValidName } from "./codec.ts";
import { MAX_RECORDS, type RecordSnapshot, UNKNOWN_OWNER } from "./records.ts";

/** The file could not be read, parsed or written. */
export class RecordFileError extends PilotError {}

/** Largest file read (a full table is about 2 MB). */
export const MAX_RECORD_FILE_BYTES = 16 << 20;
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const TEMP_SUFFIX = ".tmp";

/** The file's JSON text for `snapshot`. */
export function encodeRecordFile(snapshot: RecordSnapshot): string {
  const when = (ms: number) => new Date(ms).toISOString();
  return JSON.stringify(
    {
      a_records: snapshot.a.map((r) => ({
        name: r.name,
        address: r.address.toString(),
        owner: r.owner,
        expires_at: when(r.expiresAt),
      })),
      n_records: snapshot.n.map((r) => ({
        name: r.name,
        network_id: r.network,
        owner: r.owner,
        expires_at: when(r.expiresAt),
      })),
      s_records: snapshot.s.map((r) => ({
        name: r.name,
        address: r.address.toString(),
        network_id: r.network,
        port: r.port,
        owner: r.owner,
        expires_at: when(r.expiresAt),
      })),
    },
    null,
    2,
  ) + "\n";
}

/**
 * Parses the file's text. The structure must be right (else {@link RecordFileError}); a record
 * with a bad field is skipped and counted in `skipped`. Records without `expires_at` expire
 * `ttlMs` after `now`.
 */
export function decodeRecordFile(
  text: string,
  now: number,
  ttlMs: number,
): { snapshot: RecordSnapshot; skipped: number } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new RecordFileError(`not JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc)) throw new RecordFileError("the top level must be an object");
  const snapshot: RecordSnapshot = { a: [], n: [], s: [] };
  let skipped = 0;
  let total = 0;
  const each = (key: string, parse: (e: Record<string, unknown>) => boolean) => {
    const list = doc[key];
    if (list === undefined || list === null) return;
    if (!Array.isArray(list)) throw new RecordFileError(`"${key}" must be a list`);
    for (const e of list) {
      if (total >= MAX_RECORDS || !isObject(e) || !parse(e)) skipped++;
      else total++;
    }
  };
  const expiry = (e: Record<string, unknown>): number | undefined => {
    if (e.expires_at === undefined) return now + ttlMs;
    if (typeof e.expires_at !== "string") return undefined;
    const t = Date.parse(e.expires_at);
    return Number.isFinite(t) ? t : undefined;
  };
  const owner = (e: Record<string, unknown>): number | undefined => {
    const v = e.owner ?? UNKNOWN_OWNER;
    return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= MAX_NODE ? v : undefined;
  };
  each("a_records", (e) => {
    const [name, address, expiresAt, who] = [nameOf(e), addressOf(e), expiry(e), owner(e)];
    if (name === undefined || !address || expiresAt === undefined || who === undefined) return false;
    snapshot.a.push({ name, address, expiresAt, owner: who });
    return true;
  });
  each("n_records", (e) => {
    const [name, network, expiresAt, who] = [nameOf(e), int(e.network_id, MAX_NETWORK), expiry(e), owner(e)];
    if (name === undefined || network === undefined || expiresAt === undefined || who === undefined) {
      return false;
    }
    snapshot.n.push({ name, network, expiresAt, owner: who });
    return true;
  });
  each("s_records", (e) => {
    const name = nameOf(e);
    const address = addressOf(e);
    const network = int(e.network_id, MAX_NETWORK);
    const port = int(e.port, MAX_PORT);
    const [expiresAt, who] = [expiry(e), owner(e)];
    if (
      name === undefined || !address || network === undefined || port === undefined ||
      expiresAt === undefined || who === undefined
    ) return false;
    snapshot.s.push({ name, address, network, port, expiresAt, owner: who });
    return true;
  });
  return { snapshot, skipped };
}

/** The persistence file of one nameserver. */
export class RecordFile {
  #saving: Promise<void> = Promise.resolve();
  #pending: (() => RecordSnapshot) | undefined;

  constructor(readonly path: string, private readonly log?: Logger) {}

  /**
   * Reads the file; undefined when it does not exist. A malformed file is moved aside to
   * `<path>.bad` (logged) and treated as missing.
   */
  async load(now: number, ttlMs: number): Promise<RecordSnapshot | undefined> {
    let text: string;
    try {
      const info = await Deno.stat(this.path);
      if (info.size > MAX_RECORD_FILE_BYTES) {
        throw new RecordFileError(`${this.path} is larger than ${MAX_RECORD_FILE_BYTES} bytes`);
      }
      text = await Deno.readTextFile(this.path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      if (err instanceof RecordFileError) return await this.#setAside(err);
      throw new RecordFileError(`cannot read ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      const { snapshot, skipped } = decodeRecordFile(text, now, ttlMs);
      if (skipped) this.log?.warn("nameserver records skipped while loading", { path: this.path, skipped });
      return snapshot;
    } catch (err) {
      if (!(err instanceof RecordFileError)) throw err;
      return await this.#setAside(err);
    }
  }

  /**
   * Writes what `snapshot()` returns when the write starts. Calls made while a write runs
   * coalesce into one more write; each resolves once a write that began after it has finished.
   * Rejects with {@link RecordFileError}.
   */
  save(snapshot: () => RecordSnapshot): Promise<void> {
    this.#pending = snapshot;
    const run = this.#saving.then(() => this.#flush());
    this.#saving = settleQuietly(run, "reported elsewhere").then(() => undefined);
    return run;
  }

  async #flush(): Promise<void> {
    const take = this.#pending;
    if (!take) return;
    this.#pending = undefined;
    const data = new TextEncoder().encode(encodeRecordFile(take()));
    const tmp = this.path + TEMP_SUFFIX;
    try {
      await Deno.mkdir(dirname(this.path), { recursive: true, mode: DIR_MODE });
      const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: FILE_MODE });
      try {
        let off = 0;
        while (off < data.length) off += await file.write(data.subarray(off));
        await file.syncData();
      } finally {
        file.close();
      }
      await Deno.chmod(tmp, FILE_MODE);
      await Deno.rename(tmp, this.path);
    } catch (err) {
      this.#pending ??= take;
      throw new RecordFileError(`cannot write ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  async #setAside(err: RecordFileError): Promise<undefined> {
    const aside = `${this.path}.bad`;
    await Deno.rename(this.path, aside);
    this.log?.warn("nameserver file was malformed; moved aside, starting empty", {
      err,
      moved_to: aside,
    });
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function nameOf(e: Record<string, unknown>): string | undefined {
  return typeof e.name === "string" && isValidName(e.name) ? e.name : undefined;
}

function addressOf(e: Record<string, unknown>): Address | undefined {
  if (typeof e.address !== "string" || e.address.length > 32) return undefined;
  try {
    return Address.parse(e.address);
  } catch {
    return undefined;
  }
}

function int(v: unknown, max: number): number | undefined {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max ? v : undefined;
}
