/**
 * Persisted trust state (docs/protocol/services.md §1.6): the trusted peers, the pending inbound
 * requests and the peers our operator revoked, kept in `trust.json` next to the
 * identity file. Every change is written
 * through a temporary file that is synced, made owner-only (0600) and renamed over
 * the old one, so a crash leaves either the old or the new file, never half of one.
 * Saves are serialised; the last state always wins. The JSON layout is the
 * reference's plus one top-level key of ours, `revoked` (omitted when empty; the
 * reference's loader ignores unknown keys), so a state directory can move between
 * implementations.
 * @module
 */
import { errorMessage, PilotError, settleQuietly } from "../../errors.ts";
import type { Logger } from "../../log.ts";

/** File name inside the state directory. */
export const TRUST_FILE_NAME = "trust.json";
/** Suffix of the temporary file a save writes first. */
export const TEMP_SUFFIX = ".tmp";
/** Permission bits of the file: owner read/write only (it names who may reach us). */
export const TRUST_FILE_MODE = 0o600;
/** Permission bits of the directory when we create it. */
export const STATE_DIR_MODE = 0o700;
/** Largest node id (u32). */
const MAX_NODE_ID = 0xffff_ffff;

/** A peer we trust. Times are Unix milliseconds (stored at second precision). */
export interface TrustedRecord {
  nodeId: number;
  /** Base64 Ed25519 key, or "" when not known (e.g. trust learned through the relay). */
  publicKey: string;
  approvedAt: number;
  /** Both sides asked (or the peer accepted our request), as opposed to an operator approval. */
  mutual: boolean;
  /** Shared network the trust was derived from; 0 when not network-derived. */
  network: number;
}

/** An inbound request waiting for the operator. */
export interface PendingRecord {
  nodeId: number;
  publicKey: string;
  justification: string;
  receivedAt: number;
}

/**
 * A peer our operator revoked. Until trust is re-established by this node, the gate
 * refuses it even when the registry would admit it (a shared network), and its
 * handshake requests wait for the operator instead of being auto-approved.
 */
export interface RevokedRecord {
  nodeId: number;
  revokedAt: number;
}

/** The state kept in `trust.json`, keyed by node id. */
export interface TrustState {
  trusted: Map<number, TrustedRecord>;
  pending: Map<number, PendingRecord>;
  /** Our extension: the local deny set (not in the reference's file). */
  revoked: Map<number, RevokedRecord>;
}

/** `trust.json` is malformed, or could not be read or written. */
export class TrustFileError extends PilotError {}

/** An empty state. */
export function emptyTrustState(): TrustState {
  return { trusted: new Map(), pending: new Map(), revoked: new Map() };
}

/** RFC 3339 UTC text at second precision, as Go's time.Time marshals a truncated time. */
export function rfc3339Seconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * The file text for `state`: `trusted` is `null` when empty, `pending` is omitted when
 * empty, and `network`, `public_key` and `justification` are omitted where the
 * reference omits them (§1.6); `revoked` (ours) is omitted when empty, so a node that
 * never revoked anyone writes exactly the reference's file. Entries are ordered by
 * node id so saves are stable.
 */
export function encodeTrustFile(state: TrustState): string {
  const trusted = [...state.trusted.values()].sort((a, b) => a.nodeId - b.nodeId).map((t) => {
    const o: Record<string, unknown> = {
      node_id: t.nodeId,
      public_key: t.publicKey,
      approved_at: rfc3339Seconds(t.approvedAt),
      mutual: t.mutual,
    };
    if (t.network) o.network = t.network;
    return o;
  });
  const pending = [...state.pending.values()].sort((a, b) => a.nodeId - b.nodeId).map((p) => {
    const o: Record<string, unknown> = { node_id: p.nodeId };
    if (p.publicKey) o.public_key = p.publicKey;
    if (p.justification) o.justification = p.justification;
    o.received_at = rfc3339Seconds(p.receivedAt);
    return o;
  });
  const revoked = [...state.revoked.values()].sort((a, b) => a.nodeId - b.nodeId).map((r) => ({
    node_id: r.nodeId,
    revoked_at: rfc3339Seconds(r.revokedAt),
  }));
  const file: Record<string, unknown> = { trusted: trusted.length ? trusted : null };
  if (pending.length) file.pending = pending;
  if (revoked.length) file.revoked = revoked;
  return JSON.stringify(file);
}

/** Parses file text; throws {@link TrustFileError} naming the first bad field. */
export function decodeTrustFile(text: string): TrustState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TrustFileError(`${TRUST_FILE_NAME} is not JSON: ${errorMessage(err)}`);
  }
  if (!isObject(value)) throw new TrustFileError(`${TRUST_FILE_NAME} is not a JSON object`);
  const state = emptyTrustState();
  for (const [i, e] of list(value.trusted, "trusted").entries()) {
    const where = `trusted[${i}]`;
    const nodeId = nodeIdField(e, where);
    state.trusted.set(nodeId, {
      nodeId,
      publicKey: stringField(e, "public_key", where),
      approvedAt: timeField(e, "approved_at", where),
      mutual: boolField(e, "mutual", where),
      network: networkField(e, where),
    });
  }
  for (const [i, e] of list(value.pending, "pending").entries()) {
    const where = `pending[${i}]`;
    const nodeId = nodeIdField(e, where);
    state.pending.set(nodeId, {
      nodeId,
      publicKey: stringField(e, "public_key", where),
      justification: stringField(e, "justification", where),
      receivedAt: timeField(e, "received_at", where),
    });
  }
  for (const [i, e] of list(value.revoked, "revoked").entries()) {
    const where = `revoked[${i}]`;
    const nodeId = nodeIdField(e, where);
    state.revoked.set(nodeId, { nodeId, revokedAt: timeField(e, "revoked_at", where) });
  }
  return state;
}

/** Trust state bound to its file. Mutate {@link state}, then call {@link save}. */
export class TrustStore {
  #saving: Promise<void> = Promise.resolve();
  #dirty = false;

  private constructor(readonly path: string | undefined, readonly state: TrustState) {}

  /** A store that is never written (no identity directory configured). */
  static memory(): TrustStore {
    return new TrustStore(undefined, emptyTrustState());
  }

  /**
   * Opens `<dir>/trust.json`, creating `dir` (0700) if needed. A missing file is an
   * empty state. A malformed file is renamed to `trust.json.bad` (kept for the
   * operator) and the store starts empty, because the registry still holds the trust
   * pairs and refusing to start would take the node off the network.
   */
  static async open(dir: string, log?: Logger): Promise<TrustStore> {
    await Deno.mkdir(dir, { recursive: true, mode: STATE_DIR_MODE });
    const path = `${dir}/${TRUST_FILE_NAME}`;
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return new TrustStore(path, emptyTrustState());
      throw new TrustFileError(`cannot read ${path}: ${errorMessage(err)}`, { cause: err });
    }
    try {
      return new TrustStore(path, decodeTrustFile(text));
    } catch (err) {
      const aside = `${path}.bad`;
      await Deno.rename(path, aside);
      log?.warn("trust.json was malformed; moved aside, starting with no local trust", {
        err,
        moved_to: aside,
      });
      return new TrustStore(path, emptyTrustState());
    }
  }

  /**
   * Writes the current state. Concurrent calls coalesce: each resolves once a write
   * that started after it was called has finished. Rejects with {@link TrustFileError}.
   */
  save(): Promise<void> {
    if (!this.path) return Promise.resolve();
    this.#dirty = true;
    const run = this.#saving.then(() => this.#flush());
    this.#saving = settleQuietly(run, "reported elsewhere");
    return run;
  }

  async #flush(): Promise<void> {
    if (!this.#dirty || !this.path) return;
    this.#dirty = false;
    const tmp = this.path + TEMP_SUFFIX;
    const data = new TextEncoder().encode(encodeTrustFile(this.state));
    try {
      const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: TRUST_FILE_MODE });
      try {
        let off = 0;
        while (off < data.length) off += await file.write(data.subarray(off));
        await file.syncData();
      } finally {
        file.close();
      }
      await Deno.chmod(tmp, TRUST_FILE_MODE); // mode applies only on creation; a stale tmp may be wider
      await Deno.rename(tmp, this.path);
    } catch (err) {
      this.#dirty = true;
      throw new TrustFileError(`cannot write ${this.path}: ${errorMessage(err)}`, { cause: err });
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function list(v: unknown, name: string): Record<string, unknown>[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new TrustFileError(`"${name}" must be a list`);
  for (const [i, e] of v.entries()) {
    if (!isObject(e)) throw new TrustFileError(`${name}[${i}] must be an object`);
  }
  return v as Record<string, unknown>[];
}

function nodeIdField(e: Record<string, unknown>, where: string): number {
  const v = e.node_id;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > MAX_NODE_ID) {
    throw new TrustFileError(`${where}.node_id must be a node id, got ${JSON.stringify(v)}`);
  }
  return v;
}

function networkField(e: Record<string, unknown>, where: string): number {
  const v = e.network ?? 0;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffff) {
    throw new TrustFileError(`${where}.network must be a network id, got ${JSON.stringify(v)}`);
  }
  return v;
}

function stringField(e: Record<string, unknown>, key: string, where: string): string {
  const v = e[key] ?? "";
  if (typeof v !== "string") throw new TrustFileError(`${where}.${key} must be a string`);
  return v;
}

function boolField(e: Record<string, unknown>, key: string, where: string): boolean {
  const v = e[key] ?? false;
  if (typeof v !== "boolean") throw new TrustFileError(`${where}.${key} must be true or false`);
  return v;
}

function timeField(e: Record<string, unknown>, key: string, where: string): number {
  const v = e[key];
  if (v === undefined) return 0;
  const ms = typeof v === "string" ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw new TrustFileError(`${where}.${key} must be an RFC 3339 time`);
  return ms;
}
