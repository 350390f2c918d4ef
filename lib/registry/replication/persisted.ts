/**
 * The replication file in a registry's state directory: its epoch history, its
 * role and the peers it knows, so a restart neither forgets an epoch it took
 * part in nor comes back as a second primary.
 * @module
 */
import { utf8 } from "../../bytes.ts";
import { syncDir } from "../store/wal.ts";
import { type EpochStart, parseHistory } from "./protocol.ts";

/** File in the state directory holding the epoch history, role and known peers. */
export const REPLICATION_FILE = "replication.json";

/** What is persisted in REPLICATION_FILE. */
export interface Persisted {
  epoch: number;
  history: EpochStart[];
  role: "primary" | "standby";
  primary: string;
  peers: string[];
}

/** Reads the replication file; null when there is no state directory or no file yet. */
export async function readPersisted(dir: string | null): Promise<Persisted | null> {
  if (!dir) return null;
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/${REPLICATION_FILE}`);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  const o = JSON.parse(text) as Record<string, unknown>;
  return {
    epoch: safeInt(o.epoch, "epoch", 0),
    history: parseHistory(o.history),
    role: o.role === "standby" ? "standby" : "primary",
    primary: typeof o.primary === "string" ? o.primary : "",
    peers: Array.isArray(o.peers) ? o.peers.filter((p): p is string => typeof p === "string") : [],
  };
}

/** Replaces the replication file atomically (write, fsync, rename, fsync the directory) so a crash leaves old or new. */
export async function writePersisted(dir: string, body: Persisted): Promise<void> {
  const tmp = `${dir}/${REPLICATION_FILE}.tmp`;
  const f = await Deno.open(tmp, { create: true, write: true, truncate: true, mode: 0o600 });
  try {
    const bytes = utf8(JSON.stringify(body));
    for (let off = 0; off < bytes.length;) off += await f.write(bytes.subarray(off));
    await f.sync();
  } finally {
    f.close();
  }
  await Deno.rename(tmp, `${dir}/${REPLICATION_FILE}`);
  await syncDir(dir);
}

/** A field from a peer or the file as a safe integer ≥ min, or a clear error. */
export function safeInt(v: unknown, name: string, min: number): number {
  if (!Number.isSafeInteger(v) || (v as number) < min) throw new Error(`${name} must be an integer ≥ ${min}`);
  return v as number;
}
