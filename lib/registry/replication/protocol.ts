/**
 * The replication messages between a primary and its standbys, all plain
 * request/reply frames on the registry's own listener (no second port, no
 * pushed frames): a standby long-polls `repl_fetch` for the next events after
 * its last one and acknowledges, in the same request, what it has on disk; a
 * standby too far behind (or whose log forked at a failover) fetches a snapshot
 * in `repl_snapshot` chunks. Every event carries its sequence number and the
 * epoch of the primary that produced it; promotion raises the epoch, which
 * fences an older primary.
 * @module
 */
import { constantTimeEqual, utf8 } from "../../bytes.ts";

/** Message types handled by the replicator rather than the op table. */
export const REPLICATION_TYPES: ReadonlySet<string> = new Set([
  "repl_fetch",
  "repl_snapshot",
  "repl_status",
  "repl_fence",
  "repl_promote",
]);
/** The primary answers an idle long-poll after this long: it doubles as its heartbeat (15 s as the reference). */
export const DEFAULT_HEARTBEAT_MS = 15_000;
/** A primary not heard from for this long is considered gone (30 s as the reference). */
export const DEFAULT_LIVENESS_MS = 30_000;
/** Sync mode: a write waits this long for a standby's acknowledgement before it is reported unreplicated. */
export const DEFAULT_SYNC_TIMEOUT_MS = 5_000;
/** Event JSON per `repl_events` reply: far below the 16 MiB reply frame limit. */
export const MAX_EVENTS_BYTES = 1024 * 1024;
/** Snapshot bytes per `repl_snapshot` chunk (base64 makes it 4/3 larger on the wire). */
export const SNAPSHOT_CHUNK_BYTES = 1024 * 1024;
/** A snapshot prepared for a standby is dropped this long after its last chunk was fetched. */
export const SNAPSHOT_TTL_MS = 60_000;
/** Longest long-poll a standby may ask for. */
export const MAX_WAIT_MS = 60_000;

/** Where each epoch began: the first sequence number its primary produced. */
export interface EpochStart {
  epoch: number;
  start_seq: number;
}

/** A standby as the primary last saw it. */
export interface StandbyInfo {
  id: string;
  listen: string;
  acked_seq: number;
  last_seen: number;
}

/** Constant-time comparison of a presented token with the configured one (empty = replication off). */
export function tokenMatches(presented: unknown, configured: string): boolean {
  if (!configured || typeof presented !== "string") return false;
  return constantTimeEqual(utf8(presented), utf8(configured));
}

/**
 * The sequence number from which a log whose last event came from `lastEpoch`
 * no longer matches `history` (the primary's epoch starts), or null if it is a
 * prefix of it however long it is.
 */
export function forkPoint(history: readonly EpochStart[], lastEpoch: number): number | null {
  let fork: number | null = null;
  for (const h of history) {
    if (h.epoch > lastEpoch && (fork === null || h.start_seq < fork)) fork = h.start_seq;
  }
  return fork;
}

/** Validates an epoch history received from a peer. */
export function parseHistory(v: unknown): EpochStart[] {
  if (!Array.isArray(v) || v.length > 10_000) throw new Error("replication: bad epoch history");
  return v.map((h) => {
    const e = (h as Record<string, unknown>)?.epoch;
    const s = (h as Record<string, unknown>)?.start_seq;
    if (!Number.isSafeInteger(e) || !Number.isSafeInteger(s) || (e as number) < 0 || (s as number) < 0) {
      throw new Error("replication: bad epoch history entry");
    }
    return { epoch: e as number, start_seq: s as number };
  });
}
