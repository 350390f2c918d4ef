/**
 * A registry's part in replication: its role (primary or standby), the epoch it
 * knows and where each epoch began, the standbys that follow it, and the loop
 * that follows the primary when it is a standby. The primary serves `repl_*`
 * requests (protocol.ts) and, in sync mode, holds a write's reply until a
 * standby has acknowledged it; a standby applies the primary's events through
 * the store and refuses writes naming the primary. Promotion (by `repl_promote`
 * or, with auto-failover, when the primary has been silent past the liveness
 * window and no reachable standby is ahead) raises the epoch; a registry that
 * learns of a higher epoch than its own stops accepting writes and follows.
 * @module
 */
import type { Logger } from "../../log.ts";
import { settleQuietly } from "../../errors.ts";
import { RegistryClient, RegistryReplyError } from "../client.ts";
import { errorReply, type Peer } from "../server.ts";
import type { RegistryEvent } from "../state/events.ts";
import type { Store } from "../store/store.ts";
import type { WireMessage } from "../wire.ts";
import {
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_LIVENESS_MS,
  DEFAULT_SYNC_TIMEOUT_MS,
  type EpochStart,
  forkPoint,
  MAX_EVENTS_BYTES,
  MAX_WAIT_MS,
  parseHistory,
  tokenMatches,
} from "./protocol.ts";
import { type Persisted, readPersisted, safeInt, writePersisted } from "./persisted.ts";
import { callPeer, PROBE_TIMEOUT_MS, probePeers } from "./peers.ts";
import { SyncAcks } from "./sync_acks.ts";
import type { ReplicationMode, ReplicationOptions, ReplicationRole, ReplicationStatus } from "./types.ts";

// Re-exported: importers take these shapes from the replicator module.
export type { ReplicationMode, ReplicationOptions, ReplicationRole, ReplicationStatus } from "./types.ts";
import { downloadSnapshot, SnapshotOffers } from "./snapshot_transfer.ts";

// Re-exported: importers name the replication file through this module.
export { REPLICATION_FILE } from "./persisted.ts";

/** Pause after a failed fetch before the next attempt. */
const RETRY_DELAY_MS = 300;

/** The replication side of one registry. */
export class Replicator {
  role: ReplicationRole;
  #epoch: number;
  #history: EpochStart[];
  #primary: string;
  readonly #peers = new Set<string>();
  readonly #acks = new SyncAcks();
  readonly #offers: SnapshotOffers;
  #closed = false;
  /** Resolved by close(): ends long-polls at once so that shutdown is not held up by them. */
  readonly #closing = Promise.withResolvers<void>();
  #follower: Promise<void> | null = null;
  #fetchClient: RegistryClient | null = null;
  #fetchTarget = "";
  #fenceTimer: ReturnType<typeof setInterval> | null = null;
  /** The last queued write of the replication file (see #persist). */
  #persisting: Promise<unknown> = Promise.resolve();
  /** Events of our own log dropped at a resync because the new primary never had them. */
  #discarded = 0;
  readonly #log: Logger;
  readonly mode: ReplicationMode;
  readonly #heartbeatMs: number;
  readonly #livenessMs: number;
  readonly #syncTimeoutMs: number;

  private constructor(
    readonly store: Store,
    readonly options: ReplicationOptions,
    /** This registry's own `HOST:PORT` as peers reach it. */
    readonly advertise: string,
    readonly adminToken: string,
    persisted: Persisted | null,
    logger: Logger,
    /** Called when this registry becomes primary (liveness grace for every node). */
    readonly onPromoted: () => void,
  ) {
    this.#log = logger;
    this.#offers = new SnapshotOffers(store, logger);
    this.mode = options.mode ?? "async";
    this.#heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.#livenessMs = options.livenessMs ?? DEFAULT_LIVENESS_MS;
    this.#syncTimeoutMs = options.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS;
    this.#epoch = Math.max(persisted?.epoch ?? 0, store.epoch);
    this.#history = persisted?.history ?? [];
    for (const p of [...(persisted?.peers ?? []), ...(options.peers ?? [])]) this.#addPeer(p);
    // A promotion or demotion recorded on disk outlives the command line that started the process.
    if (persisted && persisted.epoch > 0) {
      this.role = persisted.role === "primary" ? "starting" : "standby";
      this.#primary = persisted.role === "primary" ? advertise : persisted.primary;
    } else if (options.standbyOf) {
      this.role = "standby";
      this.#primary = options.standbyOf;
    } else {
      this.role = "starting";
      this.#primary = advertise;
    }
    if (this.#primary && this.#primary !== advertise) this.#addPeer(this.#primary);
    store.epoch = Math.max(store.epoch, this.#epoch);
  }

  /** Loads the persisted replication state and starts following or checking peers. */
  static async open(
    store: Store,
    options: ReplicationOptions,
    advertise: string,
    adminToken: string,
    logger: Logger,
    onPromoted: () => void,
  ): Promise<Replicator> {
    const persisted = await readPersisted(store.options.dir);
    const r = new Replicator(store, options, advertise, adminToken, persisted, logger, onPromoted);
    if (r.role === "standby") r.#startFollowing();
    else await r.#checkPeersAtStart();
    return r;
  }

  /** The highest epoch this registry knows. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Where writes go, as far as this registry knows. */
  get primary(): string {
    return this.#primary;
  }

  /** The refusal for a write when this registry is not the primary; null when it is. */
  refusal(): WireMessage | null {
    if (this.role === "primary") return null;
    if (this.role === "starting") {
      return errorReply("registry starting: checking peers for a newer primary", "unavailable", {
        retry_after_ms: 500,
      });
    }
    const where = this.#primary || "unknown (failover in progress)";
    return errorReply(`standby registry: writes not accepted here; the primary is ${where}`, "not_primary", {
      primary: this.#primary,
      epoch: this.#epoch,
    });
  }

  /**
   * Sync mode: resolves true once a standby has event `seq` on disk, false after
   * the sync timeout (or at once when this registry stopped being primary).
   */
  replicated(seq: number): Promise<boolean> {
    if (this.mode !== "sync") return Promise.resolve(true);
    return this.#acks.wait(seq, this.#syncTimeoutMs);
  }

  /** Status for `pilot registry status`. */
  status(): ReplicationStatus {
    const seq = this.store.state.seq;
    return {
      role: this.role,
      epoch: this.#epoch,
      seq,
      durable_seq: this.store.durableSeq,
      primary: this.#primary,
      listen: this.advertise,
      mode: this.mode,
      standbys: [...this.#acks.standbys.values()].map((s) => ({ ...s, lag: Math.max(0, seq - s.acked_seq) })),
      promoted_at_seq: this.#history.length ? this.#history[this.#history.length - 1].start_seq - 1 : 0,
      snapshots_installed: this.store.stats.snapshotsInstalled,
      discarded_events: this.#discarded,
      unreplicated_writes: this.#acks.unreplicated,
    };
  }

  /** Handles a `repl_*` request. */
  async handle(type: string, req: WireMessage, peer: Peer): Promise<WireMessage> {
    switch (type) {
      case "repl_status":
        return this.#onStatus(req);
      case "repl_promote":
        return await this.#onPromote(req);
    }
    if (!tokenMatches(req.token, this.options.token)) {
      return errorReply("invalid replication token", "unauthorized");
    }
    try {
      switch (type) {
        case "repl_fetch":
          return await this.#onFetch(req);
        case "repl_snapshot":
          return await this.#onSnapshot(req);
        case "repl_fence":
          return this.#onFence(req, peer);
      }
    } catch (err) {
      return errorReply(`replication: ${(err as Error).message}`, "invalid_request");
    }
    return errorReply(`unknown message type: ${type}`, "unknown_type");
  }

  #onStatus(req: WireMessage): WireMessage {
    const s = this.status();
    const trusted = tokenMatches(req.token, this.options.token) ||
      tokenMatches(req.admin_token, this.adminToken);
    return {
      type: "repl_status_ok",
      ...s,
      standbys: trusted ? s.standbys : [],
      peers: trusted ? [...this.#peers] : [],
    };
  }

  async #onPromote(req: WireMessage): Promise<WireMessage> {
    if (!tokenMatches(req.admin_token, this.adminToken)) {
      return errorReply("promote needs the registry's admin token", "unauthorized");
    }
    if (this.role === "primary") return { type: "repl_promote_ok", epoch: this.#epoch, already: true };
    await this.promote("operator request");
    return { type: "repl_promote_ok", epoch: this.#epoch, seq: this.store.state.seq };
  }

  async #onFetch(req: WireMessage): Promise<WireMessage> {
    const fromSeq = safeInt(req.from_seq, "from_seq", 1);
    const ackedSeq = safeInt(req.acked_seq, "acked_seq", 0);
    const theirEpoch = safeInt(req.epoch, "epoch", 0);
    const lastEpoch = safeInt(req.last_epoch, "last_epoch", 0);
    const waitMs = Math.min(safeInt(req.wait_ms ?? 0, "wait_ms", 0), MAX_WAIT_MS);
    const listen = typeof req.listen === "string" ? req.listen.slice(0, 300) : "";
    const id = typeof req.standby_id === "string" ? req.standby_id.slice(0, 300) : listen;
    if (listen && this.#addPeer(listen)) {
      this.#persist().catch((err) => this.#log.error("cannot record a new standby", { err }));
    }
    if (theirEpoch > this.#epoch) {
      // A standby knows a newer epoch than ours: we are an old primary. Stop and follow.
      this.#log.warn("fenced: a standby knows a newer epoch", { ours: this.#epoch, theirs: theirEpoch });
      this.#demote("");
    }
    if (this.role !== "primary") return this.refusal() as WireMessage;
    const fork = forkPoint(this.#history, lastEpoch);
    const diverged = (fork !== null && fromSeq - 1 >= fork) || fromSeq > this.store.state.seq + 1;
    // A forked log's acknowledgements are for other events: they count for nothing until it resyncs.
    this.#acks.record({
      id,
      listen,
      acked_seq: diverged ? 0 : Math.min(ackedSeq, this.store.durableSeq),
      last_seen: Date.now(),
    });
    if (diverged) {
      return {
        type: "repl_resync",
        reason: "log diverged at a failover",
        epoch: this.#epoch,
        fork_seq: fork ?? this.store.state.seq + 1,
      };
    }
    let events = this.store.eventsFrom(fromSeq, MAX_EVENTS_BYTES);
    if (events === null) return { type: "repl_resync", reason: "log compacted", epoch: this.#epoch };
    if (events.length === 0 && waitMs > 0) {
      const ctl = new AbortController();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.store.whenDurable(fromSeq, ctl.signal),
        new Promise<void>((r) => timer = setTimeout(r, waitMs)),
        this.#closing.promise,
      ]);
      clearTimeout(timer);
      ctl.abort();
      if (this.role !== "primary") return this.refusal() as WireMessage;
      events = this.store.eventsFrom(fromSeq, MAX_EVENTS_BYTES) ?? [];
    }
    return {
      type: "repl_events",
      epoch: this.#epoch,
      history: this.#history,
      primary_seq: this.store.durableSeq,
      events: events.map((e) => e.json),
      peers: [...this.#peers],
    };
  }

  #onSnapshot(req: WireMessage): Promise<WireMessage> {
    if (this.role !== "primary") return Promise.resolve(this.refusal() as WireMessage);
    return this.#offers.serve(req, this.#epoch, this.#history);
  }

  #onFence(req: WireMessage, _peer: Peer): WireMessage {
    const theirEpoch = safeInt(req.epoch, "epoch", 0);
    const primary = typeof req.primary === "string" ? req.primary : "";
    if (theirEpoch < this.#epoch) {
      return errorReply("stale epoch", "not_primary", { epoch: this.#epoch, primary: this.#primary });
    }
    if (theirEpoch > this.#epoch || (this.role !== "primary" && primary && primary !== this.#primary)) {
      this.#log.warn("a newer primary announced itself", { epoch: theirEpoch, primary });
      if (primary) this.#addPeer(primary);
      this.#epoch = Math.max(this.#epoch, theirEpoch);
      if (this.role === "primary" || this.role === "starting") this.#demote(primary);
      else if (primary) this.#switchPrimary(primary);
    }
    return { type: "repl_fence_ok", epoch: this.#epoch, role: this.role };
  }

  /** Makes this registry the primary of a new epoch. */
  async promote(reason: string): Promise<void> {
    if (this.role === "primary" || this.#closed) return;
    const old = this.#primary;
    this.role = "primary"; // the follower loop sees this and stops
    this.#fetchClient?.close();
    this.#fetchClient = null;
    const epoch = Math.max(this.#epoch, this.store.epoch) + 1;
    this.#history = [...this.#history, { epoch, start_seq: this.store.state.seq + 1 }];
    this.#epoch = epoch;
    this.store.epoch = epoch;
    this.#primary = this.advertise;
    this.#acks.standbys.clear();
    await this.#persist();
    this.onPromoted();
    this.#log.warn("promoted to primary", { reason, epoch, seq: this.store.state.seq, old_primary: old });
    if (old && old !== this.advertise) this.#addPeer(old);
    this.#startFencing();
  }

  /** Tells every known peer (the old primary included) about the new epoch, now and every heartbeat. */
  #startFencing(): void {
    const announce = () => {
      if (this.role !== "primary" || this.#closed) return;
      for (const p of this.#peers) {
        callPeer(
          p,
          {
            type: "repl_fence",
            token: this.options.token,
            epoch: this.#epoch,
            primary: this.advertise,
          },
          PROBE_TIMEOUT_MS,
          this.options.tls,
        ).then((reply) => {
          if (reply.type === "error" && typeof reply.epoch === "number" && reply.epoch > this.#epoch) {
            this.#demote(typeof reply.primary === "string" ? reply.primary : "");
          }
        }, () => {});
      }
    };
    announce();
    if (this.#fenceTimer === null) {
      this.#fenceTimer = setInterval(announce, Math.min(this.#heartbeatMs, 5_000));
    }
  }

  /** Stops accepting writes and follows `primary` (or whichever peer turns out to be primary). */
  #demote(primary: string): void {
    if (this.#closed) return;
    const was = this.role;
    this.role = "standby";
    this.#primary = primary;
    this.#acks.release(true);
    this.#acks.standbys.clear();
    if (this.#fenceTimer !== null) clearInterval(this.#fenceTimer);
    this.#fenceTimer = null;
    this.#log.warn("now a standby", { was, primary: primary || "(to be discovered)" });
    this.#persist().catch((err) => this.#log.error("cannot record demotion", { err }));
    this.#startFollowing();
  }

  async #checkPeersAtStart(): Promise<void> {
    const found = await probePeers(this.#peers, this.advertise, this.options, this.#log);
    const newer = found.find((s) => s.epoch > this.#epoch);
    if (newer) {
      this.#log.warn("a peer knows a newer epoch: rejoining as a standby", {
        ours: this.#epoch,
        theirs: newer.epoch,
      });
      this.#demote(newer.role === "primary" ? newer.listen : newer.primary);
      return;
    }
    if (this.role !== "starting") return; // fenced by an announcement while we were asking
    this.role = "primary";
    this.#primary = this.advertise;
    if (this.#epoch > 0) this.#startFencing();
  }

  #startFollowing(): void {
    if (this.#follower) return;
    this.#follower = this.#follow().finally(() => this.#follower = null);
  }

  async #follow(): Promise<void> {
    let lastContact = Date.now();
    let lastDiscovery = 0;
    while (!this.#closed && this.role === "standby") {
      const target = this.#primary;
      try {
        if (!target || target === this.advertise) throw new Error("primary unknown");
        await this.#fetchOnce(target);
        lastContact = Date.now();
      } catch (err) {
        if (this.#closed || this.role !== "standby") break;
        const redirect = err instanceof RegistryReplyError && err.code === "not_primary"
          ? String(err.reply?.primary ?? "")
          : "";
        if (redirect && redirect !== target && redirect !== this.advertise) {
          this.#log.info("following the primary named by the refusal", { primary: redirect });
          this.#switchPrimary(redirect);
          continue;
        }
        this.#log.debug("fetch from primary failed", { primary: target, err });
        const now = Date.now();
        if (now - lastDiscovery >= Math.min(2_000, this.#livenessMs)) {
          lastDiscovery = now;
          if (await this.#discover()) continue;
          if (this.options.autoFailover && now - lastContact > this.#livenessMs && await this.#mayPromote()) {
            await this.promote(`primary ${target} silent for ${now - lastContact} ms`);
            break;
          }
        }
        await sleep(RETRY_DELAY_MS);
      }
    }
  }

  #switchPrimary(primary: string): void {
    this.#primary = primary;
    this.#addPeer(primary);
    this.#fetchClient?.close();
    this.#fetchClient = null;
    this.#persist().catch((err) => this.#log.error("cannot record the new primary", { err }));
  }

  /** Looks for a peer that is primary at an epoch at least ours; true if it switched to one. */
  async #discover(): Promise<boolean> {
    const found = await probePeers(this.#peers, this.advertise, this.options, this.#log);
    const primaries = found.filter((s) => s.role === "primary" && s.listen !== this.#primary)
      .filter((s) => s.epoch > this.#epoch || (s.epoch === this.#epoch && !this.#primary))
      .sort((a, b) => b.epoch - a.epoch);
    if (primaries.length === 0) return false;
    this.#log.info("found the current primary", { primary: primaries[0].listen, epoch: primaries[0].epoch });
    this.#switchPrimary(primaries[0].listen);
    return true;
  }

  /** Auto-failover: no reachable standby is ahead of us (ties go to the lowest address). */
  async #mayPromote(): Promise<boolean> {
    const seq = this.store.state.seq;
    for (const s of await probePeers(this.#peers, this.advertise, this.options, this.#log)) {
      if (s.listen === this.#primary) return false; // the primary answers its status: not gone
      if (s.role === "primary" && s.epoch >= this.#epoch) return false;
      if (s.seq > seq || (s.seq === seq && s.listen < this.advertise)) return false;
    }
    return true;
  }

  async #fetchOnce(target: string): Promise<void> {
    if (this.#fetchClient && this.#fetchTarget !== target) {
      this.#fetchClient.close();
      this.#fetchClient = null;
    }
    if (!this.#fetchClient) {
      this.#fetchTarget = target;
      this.#fetchClient = new RegistryClient({
        address: target,
        tls: this.options.tls,
        timeoutMs: this.#heartbeatMs + 10_000,
        dialTimeoutMs: PROBE_TIMEOUT_MS,
        reconnectAttempts: 0,
      });
    }
    const client = this.#fetchClient;
    const reply = await client.request({
      type: "repl_fetch",
      token: this.options.token,
      standby_id: this.advertise,
      listen: this.advertise,
      epoch: this.#epoch,
      last_epoch: this.store.epoch,
      from_seq: this.store.state.seq + 1,
      acked_seq: this.store.durableSeq,
      wait_ms: this.#heartbeatMs,
    });
    if (this.role !== "standby") return;
    const theirEpoch = safeInt(reply.epoch, "epoch", 0);
    if (theirEpoch < this.#epoch) {
      // Our "primary" is older than an epoch we know: tell it, and look elsewhere.
      await callPeer(
        target,
        {
          type: "repl_fence",
          token: this.options.token,
          epoch: this.#epoch,
          primary: "",
        },
        PROBE_TIMEOUT_MS,
        this.options.tls,
      )
        .catch((err) => this.#log.debug("cannot fence a stale primary", { primary: target, err }));
      throw new Error(`primary ${target} is at stale epoch ${theirEpoch} < ${this.#epoch}`);
    }
    if (reply.type === "repl_resync") {
      if (Number.isSafeInteger(reply.fork_seq)) {
        // Our events from the fork on were never replicated (async writes of an old primary): say so.
        const from = reply.fork_seq as number;
        const lost = Math.max(0, this.store.state.seq - from + 1);
        this.#discarded += lost;
        if (lost > 0) {
          this.#log.warn("discarding events that are not on the new primary", {
            from_seq: from,
            to_seq: this.store.state.seq,
            events: lost,
          });
        }
      }
      await this.#resync(client, String(reply.reason ?? ""));
      return;
    }
    if (reply.type !== "repl_events" || !Array.isArray(reply.events)) {
      throw new Error("unexpected reply to repl_fetch");
    }
    await this.#learn(theirEpoch, parseHistory(reply.history), reply.peers);
    let last: Promise<void> | null = null;
    for (const json of reply.events) {
      if (typeof json !== "string") throw new Error("replicated event is not a string");
      const ev = JSON.parse(json) as RegistryEvent;
      if ((ev.epoch ?? 0) > theirEpoch) throw new Error("replicated event from a future epoch");
      last = this.store.applyReplicated(ev, json);
      this.store.epoch = ev.epoch ?? 0;
    }
    if (last) await last; // on disk: the next fetch acknowledges it
  }

  async #learn(epoch: number, history: EpochStart[], peers: unknown): Promise<void> {
    let changed = false;
    if (epoch > this.#epoch || history.length > this.#history.length) {
      this.#epoch = Math.max(this.#epoch, epoch);
      this.#history = history;
      changed = true;
    }
    if (Array.isArray(peers)) {
      for (const p of peers.slice(0, 64)) if (typeof p === "string" && this.#addPeer(p)) changed = true;
    }
    if (changed) await this.#persist();
  }

  async #resync(client: RegistryClient, reason: string): Promise<void> {
    this.#log.warn("fetching a full snapshot from the primary", { reason, seq: this.store.state.seq });
    const { snap, meta, size } = await downloadSnapshot(client, this.options.token);
    await this.store.installSnapshot(snap, safeInt(meta.last_epoch, "last_epoch", 0));
    await this.#learn(safeInt(meta.epoch, "epoch", 0), parseHistory(meta.history), undefined);
    this.#log.info("snapshot installed", { seq: this.store.state.seq, bytes: size });
  }

  #addPeer(p: string): boolean {
    if (!p || p === this.advertise || this.#peers.has(p) || this.#peers.size >= 64) return false;
    this.#peers.add(p);
    return true;
  }

  /**
   * Writes the epoch, history, role and peers. Calls run one after another (they share the
   * file's temporary name, and a promote can meet a new standby's record), and each writes
   * the state as it is when its turn comes, so the last write is the newest state.
   */
  #persist(): Promise<void> {
    const dir = this.store.options.dir;
    if (!dir) return Promise.resolve();
    const write = () => {
      const body: Persisted = {
        epoch: this.#epoch,
        history: this.#history,
        role: this.role === "standby" ? "standby" : "primary",
        primary: this.#primary,
        peers: [...this.#peers],
      };
      return writePersisted(dir, body);
    };
    const turn = this.#persisting.then(write, write);
    this.#persisting = settleQuietly(turn, "reported elsewhere"); // the caller awaits `turn`
    return turn;
  }

  /** Stops following and fencing; pending sync writes are reported unreplicated. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#closing.resolve();
    if (this.#fenceTimer !== null) clearInterval(this.#fenceTimer);
    this.#fetchClient?.close();
    this.#acks.release(true);
    await this.#follower;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
