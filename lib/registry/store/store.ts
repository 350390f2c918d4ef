/**
 * Durable registry state: the in-memory RegistryState, a write-ahead log of every
 * logged event (fsync before acknowledgement, with group commit) and periodic
 * atomic snapshots that let the log be truncated. Open = load the newest snapshot,
 * replay the log segments after it, repair a torn tail. Failure is fail-stop:
 * once a write or fsync fails, every later write is refused, because memory and
 * disk may have diverged.
 * @module
 */
import { applyEvent } from "../state/apply.ts";
import { type RegistryEvent, VOLATILE_EVENTS } from "../state/events.ts";
import { RegistryState, type StateOptions } from "../state/model.ts";
import { snapshotOf, stateFromSnapshot } from "../state/snapshot.ts";
import { RegistryStoreError } from "../errors.ts";
import { decodeSegment, parseSegmentName, segmentName, syncDir, WalWriter } from "./wal.ts";
import { toHex } from "../../bytes.ts";
import { Logger } from "../../log.ts";

/** Take a snapshot after this many logged events… */
export const DEFAULT_SNAPSHOT_EVERY_EVENTS = 100_000;
/** …or once the current log segment is this large. */
export const DEFAULT_SNAPSHOT_EVERY_BYTES = 64 * 1024 * 1024;
/** Snapshot file name inside the state directory. */
export const SNAPSHOT_FILE = "snapshot.json";
/** Lock file that keeps two registries off one directory. */
export const LOCK_FILE = "registry.lock";
/** Wait this long for the directory lock before giving up. */
const LOCK_TIMEOUT_MS = 2_000;
/** Logged events kept in memory (as JSON) for standbys to catch up from without a snapshot… */
export const DEFAULT_RETAIN_EVENTS = 200_000;
/** …and at most this many bytes of them. */
export const DEFAULT_RETAIN_BYTES = 64 * 1024 * 1024;
/** First line of the snapshot file names this format. */
const SNAPSHOT_FILE_FORMAT = "pilot-registry-snapshot-file";

/** Store settings. `dir: null` keeps everything in memory (tests, ephemeral registries). */
export interface StoreOptions extends StateOptions {
  dir: string | null;
  snapshotEveryEvents?: number;
  snapshotEveryBytes?: number;
  /** Bounds of the in-memory tail of the log that standbys catch up from (0 events: keep none). */
  retainEvents?: number;
  retainBytes?: number;
  logger?: Logger;
}

/** A logged event as kept for replication: its sequence number, epoch and JSON text. */
export interface RetainedEvent {
  seq: number;
  epoch: number;
  json: string;
}

/** Figures from opening and running the store. */
export interface StoreStats {
  loadMs: number;
  snapshotLoaded: boolean;
  replayedEvents: number;
  repairedTail: boolean;
  snapshots: number;
  lastSnapshotMs: number;
  /** Snapshots received from a primary and installed in place of the state since open. */
  snapshotsInstalled: number;
}

/** Called with every applied event, logged or volatile (for replication and metrics). */
export type EventListener = (ev: RegistryEvent) => void;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The registry's state plus its persistence. */
export class Store {
  readonly stats: StoreStats;
  #wal: WalWriter | null;
  #lock: Deno.FsFile | null;
  #sinceSnapshot = 0;
  #snapshotting: Promise<void> | null = null;
  #listeners = new Set<EventListener>();
  #closed = false;
  /** The tail of the log, oldest first: what a standby can catch up from without a snapshot. */
  #tail: RetainedEvent[] = [];
  #tailHead = 0;
  #tailBytes = 0;
  /** Highest sequence number known to be on disk (everything up to it is). */
  #durableSeq = 0;
  #durableWaiters: { seq: number; resolve: () => void }[] = [];
  /** Epoch stamped on every logged event; replication raises it at promotion. */
  epoch = 0;
  readonly #everyEvents: number;
  readonly #everyBytes: number;
  readonly #log: Logger;

  private constructor(
    readonly state: RegistryState,
    readonly options: StoreOptions,
    wal: WalWriter | null,
    lock: Deno.FsFile | null,
    stats: StoreStats,
  ) {
    this.#wal = wal;
    this.#lock = lock;
    this.stats = stats;
    this.#everyEvents = options.snapshotEveryEvents ?? DEFAULT_SNAPSHOT_EVERY_EVENTS;
    this.#everyBytes = options.snapshotEveryBytes ?? DEFAULT_SNAPSHOT_EVERY_BYTES;
    this.#log = options.logger ?? new Logger("registry.store");
    this.#durableSeq = state.seq;
  }

  /** Opens (creating if needed) the state directory and recovers the state. */
  static async open(options: StoreOptions): Promise<Store> {
    const started = performance.now();
    const stats: StoreStats = {
      loadMs: 0,
      snapshotLoaded: false,
      replayedEvents: 0,
      repairedTail: false,
      snapshots: 0,
      lastSnapshotMs: 0,
      snapshotsInstalled: 0,
    };
    if (options.dir === null) {
      stats.loadMs = performance.now() - started;
      return new Store(new RegistryState(options), options, null, null, stats);
    }
    const dir = options.dir;
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const lock = await lockDir(dir);
    try {
      let state = new RegistryState(options);
      const snap = await readSnapshot(`${dir}/${SNAPSHOT_FILE}`);
      if (snap) {
        state = stateFromSnapshot(snap, options);
        stats.snapshotLoaded = true;
      }
      const segments = await listSegments(dir);
      const replayed: RetainedEvent[] = [];
      const retain = (options.retainEvents ?? DEFAULT_RETAIN_EVENTS) > 0;
      let lastEpoch = 0;
      let lastSegment: number | null = null;
      let lastLength = 0;
      for (let i = 0; i < segments.length; i++) {
        const first = segments[i];
        const next = segments[i + 1];
        if (next !== undefined && next <= state.seq + 1) {
          await Deno.remove(`${dir}/${segmentName(first)}`); // wholly covered by the snapshot
          continue;
        }
        const path = `${dir}/${segmentName(first)}`;
        const contents = decodeSegment(await Deno.readFile(path));
        for (const body of contents.records) {
          const ev = JSON.parse(decoder.decode(body)) as RegistryEvent;
          const seq = ev.seq ?? 0;
          if (seq <= state.seq) continue;
          if (seq !== state.seq + 1) {
            throw new RegistryStoreError(`log gap in ${path}: expected event ${state.seq + 1}, found ${seq}`);
          }
          applyEvent(state, ev);
          stats.replayedEvents++;
          if (retain) replayed.push({ seq, epoch: ev.epoch ?? 0, json: decoder.decode(body) });
          else lastEpoch = ev.epoch ?? 0;
        }
        if (contents.torn) {
          if (next !== undefined) {
            throw new RegistryStoreError(`corrupt record in ${path} before the last segment`);
          }
          await Deno.truncate(path, contents.validLength);
          stats.repairedTail = true;
        }
        lastSegment = first;
        lastLength = contents.validLength;
      }
      const wal = await WalWriter.open(dir, lastSegment ?? state.seq + 1, lastLength);
      stats.loadMs = performance.now() - started;
      const store = new Store(state, options, wal, lock, stats);
      store.#sinceSnapshot = stats.replayedEvents;
      for (const r of replayed) store.#retain(r);
      if (replayed.length > 0) store.epoch = replayed[replayed.length - 1].epoch;
      else if (stats.replayedEvents > 0) store.epoch = lastEpoch;
      return store;
    } catch (err) {
      lock.close();
      throw err;
    }
  }

  /** True when events are written to disk. */
  get durable(): boolean {
    return this.#wal !== null;
  }

  /** The error that stopped the log, if any. */
  get failed(): Error | null {
    return this.#wal?.failed ?? null;
  }

  /** fsyncs issued so far. */
  get syncs(): number {
    return this.#wal?.syncs ?? 0;
  }

  /** Registers a listener for applied events; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Applies `ev` now (so the next request already sees it) and logs it. The
   * promise resolves when the event is durable: only then may it be acknowledged.
   */
  emit(ev: RegistryEvent): Promise<void> {
    if (this.#closed) return Promise.reject(new RegistryStoreError("store is closed"));
    const failed = this.failed;
    if (failed) return Promise.reject(failed);
    const logged = !VOLATILE_EVENTS.has(ev.kind);
    if (logged) {
      ev.seq = this.state.seq + 1;
      if (this.epoch > 0) ev.epoch = this.epoch;
    }
    applyEvent(this.state, ev);
    for (const l of this.#listeners) l(ev);
    if (!logged) return Promise.resolve();
    return this.#log_(ev, JSON.stringify(ev));
  }

  /**
   * Applies and logs an event received from the primary, which must be the next
   * one in sequence. Resolves when it is on disk (the standby's acknowledgement).
   */
  applyReplicated(ev: RegistryEvent, json: string): Promise<void> {
    if (this.#closed) return Promise.reject(new RegistryStoreError("store is closed"));
    const failed = this.failed;
    if (failed) return Promise.reject(failed);
    if (ev.seq !== this.state.seq + 1) {
      return Promise.reject(
        new RegistryStoreError(`replication gap: expected event ${this.state.seq + 1}, got ${ev.seq}`),
      );
    }
    applyEvent(this.state, ev);
    for (const l of this.#listeners) l(ev);
    return this.#log_(ev, json);
  }

  /** Retains, writes (when durable) and tracks one logged event whose seq is set. */
  #log_(ev: RegistryEvent, json: string): Promise<void> {
    const seq = ev.seq as number;
    this.#retain({ seq, epoch: ev.epoch ?? 0, json });
    if (!this.#wal) {
      this.#markDurable(seq);
      return Promise.resolve();
    }
    const done = this.#wal.append(encoder.encode(json)).then(() => this.#markDurable(seq));
    if (++this.#sinceSnapshot >= this.#everyEvents || this.#wal.segmentBytes >= this.#everyBytes) {
      this.#scheduleSnapshot();
    }
    return done;
  }

  #retain(r: RetainedEvent): void {
    const maxEvents = this.options.retainEvents ?? DEFAULT_RETAIN_EVENTS;
    if (maxEvents <= 0) return;
    this.#tail.push(r);
    this.#tailBytes += r.json.length;
    const maxBytes = this.options.retainBytes ?? DEFAULT_RETAIN_BYTES;
    while (this.#tail.length - this.#tailHead > maxEvents || this.#tailBytes > maxBytes) {
      this.#tailBytes -= this.#tail[this.#tailHead].json.length;
      this.#tailHead++;
    }
    if (this.#tailHead > 4096 && this.#tailHead * 2 > this.#tail.length) {
      this.#tail = this.#tail.slice(this.#tailHead);
      this.#tailHead = 0;
    }
  }

  #markDurable(seq: number): void {
    if (seq <= this.#durableSeq) return;
    this.#durableSeq = seq;
    if (this.#durableWaiters.length === 0) return;
    const still: { seq: number; resolve: () => void }[] = [];
    for (const w of this.#durableWaiters) {
      if (w.seq <= seq) w.resolve();
      else still.push(w);
    }
    this.#durableWaiters = still;
  }

  /** Highest sequence number on disk (in memory mode: applied). */
  get durableSeq(): number {
    return this.#durableSeq;
  }

  /** Resolves once event `seq` is durable (immediately if it already is). */
  whenDurable(seq: number, signal?: AbortSignal): Promise<void> {
    if (seq <= this.#durableSeq) return Promise.resolve();
    return new Promise((resolve) => {
      const w = { seq, resolve };
      this.#durableWaiters.push(w);
      signal?.addEventListener("abort", () => {
        const i = this.#durableWaiters.indexOf(w);
        if (i >= 0) this.#durableWaiters.splice(i, 1);
        resolve();
      }, { once: true });
    });
  }

  /**
   * Durable retained events from `fromSeq` on, at most `maxBytes` of JSON (at
   * least one event); null when `fromSeq` is older than the retained tail.
   */
  eventsFrom(fromSeq: number, maxBytes: number): RetainedEvent[] | null {
    if (fromSeq > this.#durableSeq) return [];
    const first = this.#tail[this.#tailHead];
    if (!first || fromSeq < first.seq) return null;
    const out: RetainedEvent[] = [];
    let bytes = 0;
    for (let i = this.#tailHead + (fromSeq - first.seq); i < this.#tail.length; i++) {
      const r = this.#tail[i];
      if (r.seq > this.#durableSeq || (out.length > 0 && bytes + r.json.length > maxBytes)) break;
      out.push(r);
      bytes += r.json.length;
    }
    return out;
  }

  /**
   * Replaces the whole state by a snapshot received from the primary (a standby
   * too far behind, or one whose log diverged). The log is discarded first, so a
   * crash part-way leaves an older consistent prefix, never a mix. The new state
   * replaces the old in memory only once it is on disk, in one step with its
   * durable sequence number and the install count: nothing that reads the state
   * meanwhile (requests, a peer's status probe) sees a snapshot half-installed.
   */
  async installSnapshot(snap: Record<string, unknown>, epoch: number): Promise<void> {
    const fresh = stateFromSnapshot(snap, this.options);
    if (this.#snapshotting) await this.#snapshotting;
    if (this.#wal && this.options.dir) {
      const dir = this.options.dir;
      await this.#wal.close();
      for (const first of await listSegments(dir)) await Deno.remove(`${dir}/${segmentName(first)}`);
      await syncDir(dir);
      await this.#writeSnapshotFile(encoder.encode(JSON.stringify(snap)), fresh.seq);
      this.#wal = await WalWriter.open(dir, fresh.seq + 1);
    }
    Object.assign(this.state, fresh);
    this.stats.snapshotsInstalled++;
    this.epoch = epoch;
    this.#sinceSnapshot = 0;
    this.#tail = [];
    this.#tailHead = 0;
    this.#tailBytes = 0;
    this.#durableSeq = fresh.seq;
    this.#markDurable(fresh.seq);
    for (const w of this.#durableWaiters.splice(0)) w.resolve();
  }

  #scheduleSnapshot(): void {
    if (this.#snapshotting) return;
    this.#snapshotting = this.snapshot()
      .catch((err) => this.#log.error("snapshot failed", { err }))
      .finally(() => this.#snapshotting = null);
  }

  /**
   * Writes an atomic snapshot of the current state and drops the log segments it
   * covers. The state is serialised synchronously, so it is exactly the state
   * after event `seq`; later events go to a fresh segment.
   */
  async snapshot(): Promise<void> {
    if (!this.#wal || !this.options.dir) return;
    const dir = this.options.dir;
    const started = performance.now();
    const seq = this.state.seq;
    const body = encoder.encode(JSON.stringify(snapshotOf(this.state)));
    this.#sinceSnapshot = 0;
    const rotated = this.#wal.rotate(seq + 1);
    await this.#writeSnapshotFile(body, seq);
    await rotated;
    for (const first of await listSegments(dir)) {
      if (first <= seq) await Deno.remove(`${dir}/${segmentName(first)}`);
    }
    this.stats.snapshots++;
    this.stats.lastSnapshotMs = performance.now() - started;
    this.#log.info("snapshot written", {
      seq,
      bytes: body.length,
      ms: Math.round(this.stats.lastSnapshotMs),
    });
  }

  /** Writes `body` (the state after event `seq`) as the snapshot file, atomically. */
  async #writeSnapshotFile(body: Uint8Array<ArrayBuffer>, seq: number): Promise<void> {
    const dir = this.options.dir as string;
    const digest = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", body)));
    const header = encoder.encode(
      JSON.stringify({ format: SNAPSHOT_FILE_FORMAT, seq, length: body.length, sha256: digest }) + "\n",
    );
    const tmp = `${dir}/${SNAPSHOT_FILE}.tmp`;
    const file = await Deno.open(tmp, { create: true, write: true, truncate: true, mode: 0o600 });
    try {
      for (const part of [header, body]) {
        for (let off = 0; off < part.length;) off += await file.write(part.subarray(off));
      }
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, `${dir}/${SNAPSHOT_FILE}`);
    await syncDir(dir);
  }

  /** Waits for pending writes, writes a final snapshot (when `snapshot` is true) and releases the directory. */
  async close(options: { snapshot?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    if (this.#snapshotting) await this.#snapshotting;
    if (options.snapshot !== false && !this.failed) {
      try {
        await this.snapshot();
      } catch (err) {
        this.#log.error("final snapshot failed", { err });
      }
    }
    this.#closed = true;
    await this.#wal?.close();
    this.#lock?.close();
  }
}

async function lockDir(dir: string): Promise<Deno.FsFile> {
  const file = await Deno.open(`${dir}/${LOCK_FILE}`, { create: true, write: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), LOCK_TIMEOUT_MS));
  const result = await Promise.race([file.lock(true).then(() => "locked" as const), timeout]);
  clearTimeout(timer);
  if (result === "timeout") {
    file.close();
    throw new RegistryStoreError(`state directory ${dir} is in use by another registry`);
  }
  return file;
}

async function listSegments(dir: string): Promise<number[]> {
  const out: number[] = [];
  for await (const e of Deno.readDir(dir)) {
    const first = e.isFile ? parseSegmentName(e.name) : null;
    if (first !== null) out.push(first);
  }
  return out.sort((a, b) => a - b);
}

async function readSnapshot(path: string): Promise<Record<string, unknown> | null> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  const nl = bytes.indexOf(0x0a);
  if (nl < 0) throw new RegistryStoreError(`snapshot ${path} has no header line`);
  let header: { format?: string; seq?: number; length?: number; sha256?: string };
  try {
    header = JSON.parse(decoder.decode(bytes.subarray(0, nl)));
  } catch {
    throw new RegistryStoreError(`snapshot ${path} has an unreadable header`);
  }
  const body = bytes.slice(nl + 1);
  if (header.format !== SNAPSHOT_FILE_FORMAT || header.length !== body.length) {
    throw new RegistryStoreError(`snapshot ${path} is truncated or not a registry snapshot`);
  }
  const digest = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", body)));
  if (digest !== header.sha256) throw new RegistryStoreError(`snapshot ${path} fails its SHA-256 check`);
  return JSON.parse(decoder.decode(body));
}
