/**
 * Snapshot transfer, both sides. The primary serialises a snapshot once per
 * standby and serves it in chunks by offset, forgetting it when fully sent or
 * idle past SNAPSHOT_TTL_MS so an abandoned transfer does not pin memory; the
 * standby downloads the chunks in order and checks them against the offer.
 * @module
 */
import { fromBase64, toBase64, utf8 } from "../../bytes.ts";
import type { Logger } from "../../log.ts";
import { snapshotOf } from "../state/snapshot.ts";
import type { RegistryClient } from "../client.ts";
import type { Store } from "../store/store.ts";
import type { WireMessage } from "../wire.ts";
import { type EpochStart, SNAPSHOT_CHUNK_BYTES, SNAPSHOT_TTL_MS } from "./protocol.ts";
import { safeInt } from "./persisted.ts";

interface SnapshotOffer {
  id: string;
  bytes: Uint8Array;
  seq: number;
  epoch: number;
  lastUsed: number;
}

/** Snapshots in flight to standbys, keyed by offer id. */
export class SnapshotOffers {
  readonly #offers = new Map<string, SnapshotOffer>();

  constructor(private readonly store: Store, private readonly log: Logger) {}

  /** Answers one `repl_snapshot` request with the chunk at `req.offset` of offer `req.id` (a new offer when absent). */
  async serve(req: WireMessage, epoch: number, history: EpochStart[]): Promise<WireMessage> {
    const now = Date.now();
    for (const [k, o] of this.#offers) if (now - o.lastUsed > SNAPSHOT_TTL_MS) this.#offers.delete(k);
    let offer = typeof req.id === "string" ? this.#offers.get(req.id) : undefined;
    if (!offer) {
      if (req.id !== undefined && req.id !== "") throw new Error("snapshot expired; start again");
      // Serialised synchronously: exactly the state after event `seq`, which must be on disk before it is shipped.
      const seq = this.store.state.seq;
      const bytes = utf8(JSON.stringify(snapshotOf(this.store.state)));
      await this.store.whenDurable(seq);
      offer = { id: crypto.randomUUID(), bytes, seq, epoch: this.store.epoch, lastUsed: now };
      this.#offers.set(offer.id, offer);
      this.log.info("snapshot prepared for a standby", { seq, bytes: bytes.length });
    }
    offer.lastUsed = now;
    const offset = safeInt(req.offset ?? 0, "offset", 0);
    if (offset > offer.bytes.length) throw new Error("offset past the end of the snapshot");
    const chunk = offer.bytes.subarray(offset, Math.min(offer.bytes.length, offset + SNAPSHOT_CHUNK_BYTES));
    const done = offset + chunk.length >= offer.bytes.length;
    if (done) this.#offers.delete(offer.id);
    return {
      type: "repl_snapshot_chunk",
      id: offer.id,
      seq: offer.seq,
      epoch,
      last_epoch: offer.epoch,
      history,
      total: offer.bytes.length,
      offset,
      data: toBase64(chunk),
      done,
    };
  }
}

/** Downloads a whole snapshot from the primary; `meta` is the last chunk's reply (seq, epochs, history). */
export async function downloadSnapshot(
  client: RegistryClient,
  token: string | undefined,
): Promise<{ snap: Record<string, unknown>; meta: WireMessage; size: number }> {
  const parts: Uint8Array[] = [];
  let id = "";
  let offset = 0;
  let meta: WireMessage | null = null;
  for (;;) {
    const chunk = await client.request({ type: "repl_snapshot", token, id, offset });
    if (chunk.type !== "repl_snapshot_chunk" || typeof chunk.data !== "string") {
      throw new Error("unexpected reply to repl_snapshot");
    }
    const data = fromBase64(chunk.data);
    if (safeInt(chunk.offset, "offset", 0) !== offset) throw new Error("snapshot chunk out of order");
    parts.push(data);
    offset += data.length;
    id = String(chunk.id);
    meta = chunk;
    if (chunk.done === true) break;
    if (offset >= safeInt(chunk.total, "total", 0)) throw new Error("snapshot longer than announced");
  }
  const bytes = new Uint8Array(offset);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  const snap = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  if (snap.seq !== meta.seq) throw new Error("snapshot sequence does not match its announcement");
  return { snap, meta, size: offset };
}
