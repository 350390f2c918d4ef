/**
 * The trust handshake (services.md §1): the port-444 server that validates and
 * processes signed messages, the local operations the IPC Handshake sub-commands
 * drive (request, approve, reject, revoke), and the registry relay for peers that
 * cannot be dialed (polled after every heartbeat, trust re-reported after
 * re-registration). The deny set (peers our operator revoked) and the trusted set it
 * keeps are the first things the daemon's privacy gate consults.
 *
 * Deliberately stricter than the reference (each closes a way to make a node trust
 * someone it never asked): a message must be signed and come from the node it names
 * (the tunnel authenticated the source), and an `accept` — direct or relayed — only
 * creates trust when we asked that node first.
 *
 * An operator's revocation outranks a shared network: the revoked peer stays in a
 * persisted deny set, refused by the gate and never auto-approved, until this node
 * re-establishes trust (the operator approves it, asks it, or it accepts our request).
 * @module
 */
import { PilotError } from "../../errors.ts";
import { fromBase64, toBase64, utf8 } from "../../bytes.ts";
import type { Logger } from "../../log.ts";
import { Address } from "../../protocol/address.ts";
import { PORT_TRUST } from "../../protocol/ports.ts";
import { signEd25519, verifyEd25519 } from "../../crypto/ed25519.ts";
import type { RegistryClient } from "../../registry/client.ts";
import type { SessionManager } from "../../transport/manager.ts";
import type { Tunnel } from "../../tunnel/tunnel.ts";
import type { PeerDirectory } from "../../daemon/peers.ts";
import { type PeerStream, serveStreams, streamFromTransport } from "../byte_stream.ts";
import {
  decodeHandshake,
  encodeHandshake,
  freshness,
  HandshakeCodecError,
  type HandshakeMessage,
  handshakeSigningText,
  HandshakeType,
  type KnownHandshakeType,
  MAX_MESSAGE_BYTES,
  MAX_TEXT_LENGTH,
  replayKey,
  REVOKE_REASON,
} from "./codec.ts";
import { HandshakeReplayCache, REPLAY_REAP_INTERVAL_MS } from "./replay.ts";
import type { TrustedRecord, TrustStore } from "./store.ts";

/** How long the server waits for a connection's message. */
export const READ_TIMEOUT_MS = 10_000;
/** How long a direct send may spend dialing before the relay is used instead. */
export const DIRECT_DIAL_TIMEOUT_MS = 8_000;
/** How long a sent message's connection is given to close cleanly before the tunnel may go. */
export const SEND_SETTLE_MS = 2_000;
/** How long after a revocation the tunnel session goes (the resets sent just before must leave first). */
export const TUNNEL_TEARDOWN_DELAY_MS = 200;
/** Most pending inbound requests; a new sender beyond it is dropped. */
export const MAX_PENDING = 256;
/** Most outgoing requests remembered; the oldest mark goes first. */
export const MAX_OUTGOING = 4096;
/** Largest node id (u32). */
const MAX_NODE_ID = 0xffff_ffff;
/** Poll interval while waiting for a sent message's connection to close. */
const SETTLE_POLL_MS = 20;
/** The message types a peer may send. */
const WIRE_TYPES = new Set<string>(Object.values(HandshakeType));

/** A local operation was refused (unknown peer, not trusted, relay failure). */
export class TrustError extends PilotError {}

/** Where a webhook event goes (the daemon's emitter). */
export interface WebhookSink {
  emit(event: string, data: Record<string, unknown>): void;
}

/** What the service needs from the daemon (a {@link Daemon} satisfies it). */
export interface TrustHost {
  readonly nodeId: number;
  readonly identity: { readonly seed: Uint8Array; readonly publicKey: Uint8Array };
  readonly registry: Pick<
    RegistryClient,
    "lookup" | "reportTrust" | "revokeTrust" | "requestHandshake" | "pollHandshakes" | "respondHandshake"
  >;
  readonly peers: Pick<PeerDirectory, "ensure" | "refresh" | "forget" | "publicKey" | "isRouted">;
  readonly tunnel: Pick<Tunnel, "removePeer">;
  readonly manager: SessionManager;
  readonly log: Logger;
  readonly webhooks?: WebhookSink;
}

/** A trusted peer as the IPC Handshake "trusted" list shows it (ipc.md §6.3; times in Unix s). */
export interface TrustedPeerView {
  node_id: number;
  public_key: string;
  approved_at: number;
  mutual: boolean;
  network: number;
}

/** A pending request as the IPC Handshake "pending" list shows it. */
export interface PendingView {
  node_id: number;
  public_key: string;
  justification: string;
  received_at: number;
}

/** Why a received message was not acted on. */
export type DropReason =
  | "malformed"
  | "timeout"
  | "too-old"
  | "future"
  | "replay"
  | "replay-full"
  | "source-mismatch"
  | "unsigned"
  | "no-key"
  | "key-mismatch"
  | "bad-signature"
  | "unknown-type"
  | "pending-full"
  | "unsolicited-accept";

/** Counters for /metrics. */
export interface TrustStats {
  /** Messages processed, by type (direct and relayed). */
  processed: Record<string, number>;
  /** Messages dropped, by reason. */
  dropped: Partial<Record<DropReason, number>>;
  /** Messages we sent, by path. */
  sent: { direct: number; relay: number; failed: number };
  /** Auto-approvals, by reason. */
  autoApproved: { mutual: number; same_network: number };
}

/** Options of {@link TrustService}. */
export interface TrustServiceOptions {
  store: TrustStore;
  /** Called whenever a peer's trust changes (the gate drops its cached verdict). */
  onTrustChange?: (node: number) => void;
  /** Wall clock in ms (tests). */
  now?: () => number;
}

type Via = "direct" | "relay";

/** The trust handshake service of one daemon. */
export class TrustService {
  readonly stats: TrustStats = {
    processed: {},
    dropped: {},
    sent: { direct: 0, relay: 0, failed: 0 },
    autoApproved: { mutual: 0, same_network: 0 },
  };
  readonly #host: TrustHost;
  readonly #store: TrustStore;
  readonly #onTrustChange: (node: number) => void;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #replay = new HandshakeReplayCache();
  /** Nodes we asked to trust us, with when we asked (not persisted, as the reference). */
  readonly #outgoing = new Map<number, number>();
  #stopServing?: () => void;
  #reaper?: ReturnType<typeof setInterval>;
  #closed = false;

  constructor(host: TrustHost, options: TrustServiceOptions) {
    this.#host = host;
    this.#store = options.store;
    this.#onTrustChange = options.onTrustChange ?? (() => {});
    this.#now = options.now ?? Date.now;
    this.#log = host.log.child("trust");
  }

  /** Starts serving port 444 and the replay-cache reaper. */
  start(): void {
    this.#stopServing = serveStreams(
      this.#host.manager,
      PORT_TRUST,
      (stream) => this.#serve(stream),
      (err) => this.#log.debug("handshake connection failed", { err }),
    );
    this.#reaper = setInterval(() => this.#replay.reap(this.#now()), REPLAY_REAP_INTERVAL_MS);
  }

  /** Stops serving; in-flight sends finish on their own. Pending saves complete. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopServing?.();
    if (this.#reaper !== undefined) clearInterval(this.#reaper);
    await this.#store.save().catch(() => {});
  }

  // ---- queries ---------------------------------------------------------------------------------

  /** True when `node` is in the local trusted set. */
  isTrusted(node: number): boolean {
    return this.#store.state.trusted.has(node);
  }

  /** True while `node` is in the deny set: our operator revoked it and trust was not re-established. */
  isRevoked(node: number): boolean {
    return this.#store.state.revoked.has(node);
  }

  /** Number of peers in the deny set. */
  get revokedCount(): number {
    return this.#store.state.revoked.size;
  }

  /** Number of pending inbound requests. */
  get pendingCount(): number {
    return this.#store.state.pending.size;
  }

  /** True while we wait for `node` to answer our request. */
  isAsking(node: number): boolean {
    return this.#outgoing.has(node);
  }

  /** The trusted list for IPC (ipc.md §6.3). */
  trusted(): TrustedPeerView[] {
    return [...this.#store.state.trusted.values()].map((t) => ({
      node_id: t.nodeId,
      public_key: t.publicKey,
      approved_at: Math.floor(t.approvedAt / 1000),
      mutual: t.mutual,
      network: t.network,
    }));
  }

  /** The pending list for IPC (ipc.md §6.3). */
  pending(): PendingView[] {
    return [...this.#store.state.pending.values()].map((p) => ({
      node_id: p.nodeId,
      public_key: p.publicKey,
      justification: p.justification,
      received_at: Math.floor(p.receivedAt / 1000),
    }));
  }

  // ---- local operations (IPC Handshake sub-commands) -------------------------------------------

  /**
   * Asks `peer` to trust us (§1.4): nothing to do when it is trusted already; when it
   * has asked us too, both have consented and trust is recorded at once (mutual).
   * Otherwise the request goes to the peer's port 444, or through the registry when
   * the peer cannot be reached. Asking is our side re-establishing trust, so a
   * revocation of `peer` is lifted first (its answer must get through the gate).
   * Throws {@link TrustError} when the relay fails too.
   */
  async request(peer: number, justification: string): Promise<void> {
    this.#checkPeer(peer);
    if (justification.length > MAX_TEXT_LENGTH) {
      throw new TrustError(`justification longer than ${MAX_TEXT_LENGTH} characters`);
    }
    if (this.isTrusted(peer)) return;
    await this.#liftRevocation(peer);
    const pending = this.#store.state.pending.get(peer);
    if (pending) {
      await this.#grant(peer, { key: pending.publicKey, mutual: true, network: 0 });
      this.#autoApproved(peer, "mutual");
      this.#background("answer mutual request", async () => {
        await this.#reportTrust(peer);
        await this.#host.registry.respondHandshake(peer, true).catch(() => {});
        await this.#sendDirect(peer, HandshakeType.Accept).catch(() => {});
      });
      return;
    }
    this.#markOutgoing(peer);
    try {
      await this.#sendDirect(peer, HandshakeType.Request, { justification });
      return;
    } catch (err) {
      this.#log.debug("direct handshake request failed; relaying", { peer, err });
    }
    try {
      await this.#host.registry.requestHandshake(peer, justification);
      this.stats.sent.relay++;
    } catch (err) {
      this.stats.sent.failed++;
      throw new TrustError(`handshake relay: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /**
   * Approves a pending request (§1.4): the peer becomes trusted at once; the registry
   * is told (trust pair and relay answer) and the peer gets a direct `accept` in the
   * background. Approving a node with no pending request does nothing.
   */
  async approve(peer: number): Promise<void> {
    this.#checkPeer(peer);
    const pending = this.#store.state.pending.get(peer);
    if (!pending) return;
    await this.#grant(peer, { key: pending.publicKey, mutual: false, network: 0 });
    this.#emit("handshake.approved", { peer_node_id: peer });
    this.#background("announce approval", async () => {
      await this.#reportTrust(peer);
      await this.#host.registry.respondHandshake(peer, true).catch((err) =>
        this.#log.info("relay answer failed", { peer, err })
      );
      await this.#sendDirect(peer, HandshakeType.Accept).catch(() => {});
    });
  }

  /** Rejects a pending request (always succeeds); the peer is told through the registry and directly. */
  async reject(peer: number, reason: string): Promise<void> {
    this.#checkPeer(peer);
    if (reason.length > MAX_TEXT_LENGTH) reason = reason.slice(0, MAX_TEXT_LENGTH);
    if (this.#store.state.pending.delete(peer)) await this.#save();
    this.#emit("handshake.rejected", { peer_node_id: peer, reason });
    this.#background("announce rejection", async () => {
      await this.#host.registry.respondHandshake(peer, false).catch(() => {});
      await this.#sendDirect(peer, HandshakeType.Reject, { reason }).catch(() => {});
    });
  }

  /**
   * Withdraws trust (§1.4): existing connections with the peer are reset now, the
   * registry pair is revoked (queued before any later trust check, so the gate cannot
   * see a stale "trusted"), the peer is told, and the tunnel to it is torn down. The
   * peer enters the deny set, so a shared network cannot let it back in by itself.
   * Throws {@link TrustError} when the peer was not trusted.
   */
  async revoke(peer: number): Promise<void> {
    this.#checkPeer(peer);
    if (!this.isTrusted(peer)) throw new TrustError(`node ${peer} was not trusted`);
    this.#forget(peer);
    this.#store.state.revoked.set(peer, { nodeId: peer, revokedAt: this.#now() });
    this.#abortConnections(peer);
    this.#onTrustChange(peer);
    const revoked = this.#host.registry.revokeTrust(peer).then(
      () => {},
      (err) => this.#log.info("registry revoke_trust failed", { peer, err }),
    );
    await this.#save();
    this.#emit("trust.revoked", { peer_node_id: peer });
    this.#background("announce revocation", async () => {
      // Only over a route we already have: after the revocation the registry will not resolve it.
      if (this.#host.peers.isRouted(peer)) {
        const sent = await this.#sendDirect(peer, HandshakeType.Revoke, { reason: REVOKE_REASON })
          .catch(() => undefined);
        await sent?.settled;
      }
      await revoked;
      this.#onTrustChange(peer);
      this.#dropTunnel(peer);
    });
  }

  // ---- registry relay --------------------------------------------------------------------------

  /** Fetches relayed requests and answers (§1.5); run after every successful heartbeat. */
  async pollRelay(): Promise<void> {
    if (this.#closed) return;
    const reply = await this.#host.registry.pollHandshakes();
    for (const r of asList(reply.requests)) {
      const from = Number(r.from_node_id);
      if (!validNode(from) || from === this.#host.nodeId) continue;
      await this.#onRelayedRequest(
        from,
        typeof r.justification === "string" ? r.justification : "",
        typeof r.signature === "string" ? r.signature : "",
      );
    }
    for (const r of asList(reply.responses)) {
      const from = Number(r.from_node_id);
      if (!validNode(from)) continue;
      this.#count(r.accept === true ? "relay_accept" : "relay_reject");
      if (r.accept === true) await this.#onAccept(from, "");
      else this.#outgoing.delete(from);
    }
  }

  /** Re-reports every trusted peer to the registry (§1.5); run after re-registration. */
  async reReport(): Promise<void> {
    for (const peer of [...this.#store.state.trusted.keys()]) await this.#reportTrust(peer);
  }

  // ---- receiving -------------------------------------------------------------------------------

  async #serve(stream: PeerStream): Promise<void> {
    try {
      let bytes: Uint8Array | null;
      try {
        bytes = await readMessage(stream, READ_TIMEOUT_MS);
      } catch (err) {
        this.#drop(err instanceof HandshakeCodecError ? "malformed" : "timeout", stream.remoteAddr.node);
        return;
      }
      if (!bytes) return;
      let msg: HandshakeMessage;
      try {
        msg = decodeHandshake(bytes);
      } catch {
        this.#drop("malformed", stream.remoteAddr.node);
        return;
      }
      await this.#receive(msg, stream.remoteAddr.node);
    } finally {
      await stream.close().catch(() => {});
    }
  }

  /** Validation in the order of §1.2, then dispatch. `from` is the tunnel-authenticated source. */
  async #receive(msg: HandshakeMessage, from: number): Promise<void> {
    const now = this.#now();
    const fresh = freshness(msg.timestamp, Math.floor(now / 1000));
    if (fresh !== "fresh") return this.#drop(fresh, from);
    const key = replayKey(msg);
    const seen = this.#replay.seen(key, now);
    if (seen !== "new") return this.#drop(seen === "replay" ? "replay" : "replay-full", from);
    if (msg.node_id !== from) return this.#drop("source-mismatch", from);
    if (!msg.public_key || !msg.signature) return this.#drop("unsigned", from);
    const registered = await this.#host.peers.publicKey(from);
    if (!registered) return this.#drop("no-key", from);
    if (toBase64(registered) !== msg.public_key) return this.#drop("key-mismatch", from);
    if (!this.#verify(registered, from, msg.signature)) return this.#drop("bad-signature", from);
    if (!this.#replay.record(key, now)) return this.#drop("replay-full", from);
    if (!WIRE_TYPES.has(msg.type)) return this.#drop("unknown-type", from);
    this.#count(msg.type);
    switch (msg.type) {
      case HandshakeType.Request:
        return await this.#onRequest(from, msg.public_key, msg.justification, "direct");
      case HandshakeType.Accept:
        return await this.#onAccept(from, msg.public_key);
      case HandshakeType.Reject:
        this.#outgoing.delete(from);
        return;
      case HandshakeType.Revoke:
        return await this.#onRevoke(from);
    }
  }

  async #onRelayedRequest(from: number, justification: string, signature: string): Promise<void> {
    this.#count("relay_request");
    // The registry verified the signature; check it again when it is carried, as the draft asks.
    const key = await this.#host.peers.publicKey(from);
    if (signature && key && !this.#verify(key, from, signature)) return this.#drop("bad-signature", from);
    await this.#onRequest(from, key ? toBase64(key) : "", justification.slice(0, MAX_TEXT_LENGTH), "relay");
  }

  /**
   * A request (§1.3): answer when trusted, auto-approve when mutual or in a shared
   * network, else pending. A peer our operator revoked always goes to pending.
   */
  async #onRequest(peer: number, key: string, justification: string, via: Via): Promise<void> {
    this.#emit("handshake.received", { peer_node_id: peer, justification });
    if (this.isTrusted(peer)) {
      this.#background("re-accept", () => this.#answerAccept(peer, via));
      return;
    }
    let reason: "mutual" | "same_network" | undefined;
    let network = 0;
    if (this.isRevoked(peer)) {
      this.#log.info("request from a revoked peer held for the operator", { peer });
    } else if (this.#outgoing.has(peer)) {
      reason = "mutual";
    } else {
      network = await this.#sharedNetwork(peer);
      // The operator may have revoked the peer while we asked the registry.
      if (network && !this.isRevoked(peer)) reason = "same_network";
    }
    if (reason) {
      await this.#grant(peer, { key, mutual: reason === "mutual", network });
      this.#autoApproved(peer, reason);
      this.#background("accept", async () => {
        await this.#reportTrust(peer);
        await this.#answerAccept(peer, via);
      });
      return;
    }
    const pending = this.#store.state.pending;
    if (!pending.has(peer) && pending.size >= MAX_PENDING) return this.#drop("pending-full", peer);
    pending.set(peer, { nodeId: peer, publicKey: key, justification, receivedAt: this.#now() });
    await this.#save();
    this.#emit("handshake.pending", { peer_node_id: peer, justification });
  }

  /** An accept (direct or relayed): trust the peer if we asked it; refresh its key if trusted. */
  async #onAccept(peer: number, key: string): Promise<void> {
    if (this.#outgoing.has(peer)) {
      if (!key) {
        const k = await this.#host.peers.publicKey(peer);
        key = k ? toBase64(k) : "";
      }
      await this.#grant(peer, { key, mutual: true, network: 0 });
      await this.#reportTrust(peer);
      return;
    }
    const existing = this.#store.state.trusted.get(peer);
    if (existing) {
      if (key && !existing.publicKey) {
        existing.publicKey = key;
        await this.#save();
      }
      return;
    }
    this.#drop("unsolicited-accept", peer);
  }

  /** The peer revoked its trust in us: forget it everywhere and cut it off. */
  async #onRevoke(peer: number): Promise<void> {
    const wasTrusted = this.isTrusted(peer);
    this.#forget(peer);
    this.#abortConnections(peer);
    this.#dropTunnel(peer);
    this.#onTrustChange(peer);
    await this.#save();
    this.#emit("trust.revoked_by_peer", { peer_node_id: peer });
    if (wasTrusted) {
      this.#background("follow revocation", async () => {
        await this.#host.registry.revokeTrust(peer).catch(() => {});
        this.#onTrustChange(peer);
      });
    }
  }

  // ---- sending ---------------------------------------------------------------------------------

  /** Builds a signed message of ours for `peer`. */
  #message(peer: number, type: KnownHandshakeType, fields: { justification?: string; reason?: string }) {
    const { seed, publicKey } = this.#host.identity;
    const self = this.#host.nodeId;
    return encodeHandshake({
      type,
      node_id: self,
      public_key: toBase64(publicKey),
      justification: fields.justification ?? "",
      signature: toBase64(signEd25519(seed, utf8(handshakeSigningText(self, peer)))),
      reason: fields.reason ?? "",
      timestamp: Math.floor(this.#now() / 1000),
    });
  }

  /**
   * Sends one message to the peer's port 444 in one write and closes. Resolves once the
   * peer accepted the connection and the message is queued; `settled` resolves when the
   * connection has closed (so a tunnel torn down after it does not cut it short).
   */
  async #sendDirect(
    peer: number,
    type: KnownHandshakeType,
    fields: { justification?: string; reason?: string } = {},
  ): Promise<{ settled: Promise<void> }> {
    const bytes = this.#message(peer, type, fields);
    try {
      await this.#host.peers.ensure(peer);
      const raw = await this.#dial(peer);
      const stream = streamFromTransport(raw);
      await stream.write(bytes, { timeoutMs: DIRECT_DIAL_TIMEOUT_MS });
      await stream.close();
      this.stats.sent.direct++;
      return { settled: settle(raw) };
    } catch (err) {
      this.stats.sent.failed++;
      throw err;
    }
  }

  /** Dials the peer's port 444, giving up after {@link DIRECT_DIAL_TIMEOUT_MS}. */
  #dial(peer: number) {
    const stream = this.#host.manager.dial(new Address(0, peer), PORT_TRUST, {
      onSynTimeout: () => void this.#host.peers.refresh(peer),
    });
    return new Promise<typeof stream>((resolve, reject) => {
      const timer = setTimeout(() => stream.close(), DIRECT_DIAL_TIMEOUT_MS);
      stream.onOpen = () => {
        clearTimeout(timer);
        stream.onOpen = stream.onClose = undefined;
        resolve(stream);
      };
      stream.onClose = (reason) => {
        clearTimeout(timer);
        stream.onOpen = stream.onClose = undefined;
        reject(new TrustError(`dial node ${peer} port ${PORT_TRUST}: ${reason}`));
      };
    });
  }

  /** Tells a requester it is trusted: directly (falling back to the relay) or through the relay. */
  async #answerAccept(peer: number, via: Via): Promise<void> {
    if (via === "direct") {
      try {
        await this.#sendDirect(peer, HandshakeType.Accept);
        return;
      } catch (err) {
        this.#log.debug("direct accept failed; answering through the registry", { peer, err });
      }
    }
    try {
      await this.#host.registry.respondHandshake(peer, true);
      this.stats.sent.relay++;
    } catch (err) {
      this.#log.info("relay accept failed", { peer, err });
    }
  }

  // ---- state helpers ---------------------------------------------------------------------------

  async #grant(peer: number, t: { key: string; mutual: boolean; network: number }): Promise<void> {
    const state = this.#store.state;
    const existing = state.trusted.get(peer);
    const record: TrustedRecord = {
      nodeId: peer,
      publicKey: t.key || existing?.publicKey || "",
      approvedAt: existing?.approvedAt ?? this.#now(),
      mutual: t.mutual,
      network: t.network,
    };
    state.trusted.set(peer, record);
    state.pending.delete(peer);
    // #onRequest never auto-approves a revoked peer, so this is our consent: approve, our request, its accept.
    state.revoked.delete(peer);
    this.#outgoing.delete(peer);
    this.#onTrustChange(peer);
    await this.#save();
  }

  /** Takes `peer` out of the deny set (this node is re-establishing trust). */
  async #liftRevocation(peer: number): Promise<void> {
    if (!this.#store.state.revoked.delete(peer)) return;
    this.#log.info("revocation lifted: this node asked the peer again", { peer });
    this.#onTrustChange(peer);
    await this.#save();
  }

  #forget(peer: number): void {
    this.#store.state.trusted.delete(peer);
    this.#store.state.pending.delete(peer);
    this.#outgoing.delete(peer);
  }

  #markOutgoing(peer: number): void {
    this.#outgoing.delete(peer);
    if (this.#outgoing.size >= MAX_OUTGOING) {
      const oldest = this.#outgoing.keys().next().value;
      if (oldest !== undefined) this.#outgoing.delete(oldest);
    }
    this.#outgoing.set(peer, this.#now());
  }

  /** Resets every connection with `peer` now (RST), whatever its port or state. */
  #abortConnections(peer: number): void {
    for (const s of [...this.#host.manager.connections()]) {
      if (s.remoteAddr.node === peer) s.abort();
    }
  }

  /**
   * Tears down the route to `peer`: new traffic must resolve it again through the
   * registry (which now refuses a private peer). The tunnel session goes a moment later,
   * so the resets just queued for it still leave.
   */
  #dropTunnel(peer: number): void {
    this.#host.peers.forget(peer);
    setTimeout(() => {
      if (!this.#host.peers.isRouted(peer)) this.#host.tunnel.removePeer(peer);
    }, TUNNEL_TEARDOWN_DELAY_MS);
  }

  async #save(): Promise<void> {
    try {
      await this.#store.save();
    } catch (err) {
      this.#log.error("cannot save trust state", { err });
    }
  }

  /** The first non-backbone network both nodes belong to (registry `lookup`), or 0. */
  async #sharedNetwork(peer: number): Promise<number> {
    try {
      const [mine, theirs] = await Promise.all([
        this.#host.registry.lookup(this.#host.nodeId),
        this.#host.registry.lookup(peer),
      ]);
      const ours = new Set(asNumbers(mine.networks));
      return asNumbers(theirs.networks).find((n) => n !== 0 && ours.has(n)) ?? 0;
    } catch (err) {
      this.#log.info("network check failed", { peer, err });
      return 0;
    }
  }

  async #reportTrust(peer: number): Promise<void> {
    try {
      await this.#host.registry.reportTrust(peer);
    } catch (err) {
      this.#log.info("registry report_trust failed", { peer, err });
    }
  }

  #verify(key: Uint8Array, sender: number, signature: string): boolean {
    let sig: Uint8Array;
    try {
      sig = fromBase64(signature);
    } catch {
      return false;
    }
    return verifyEd25519(key, utf8(handshakeSigningText(sender, this.#host.nodeId)), sig);
  }

  #checkPeer(peer: number): void {
    if (!validNode(peer)) throw new TrustError(`invalid node id ${peer}`);
    if (peer === this.#host.nodeId) throw new TrustError("cannot handshake with this node itself");
  }

  #autoApproved(peer: number, reason: "mutual" | "same_network"): void {
    this.stats.autoApproved[reason]++;
    this.#emit("handshake.auto_approved", { peer_node_id: peer, reason });
  }

  #emit(event: string, data: Record<string, unknown>): void {
    try {
      this.#host.webhooks?.emit(event, data);
    } catch (err) {
      this.#log.debug("webhook emit failed", { event, err });
    }
  }

  #drop(reason: DropReason, from: number): void {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1;
    this.#log.debug("handshake message dropped", { reason, from });
  }

  /** Counts a processed message (a wire type or a relay kind: peers cannot grow the map). */
  #count(kind: string): void {
    this.stats.processed[kind] = (this.stats.processed[kind] ?? 0) + 1;
  }

  /** Runs follow-up work without blocking the caller; failures are logged. */
  #background(what: string, fn: () => Promise<void>): void {
    fn().catch((err) => this.#log.info(`${what} failed`, { err }));
  }
}

/**
 * Reads one message: chunks until they parse as JSON, the peer closes, or
 * {@link MAX_MESSAGE_BYTES} is exceeded. Null when the peer closed without sending.
 */
async function readMessage(stream: PeerStream, timeoutMs: number): Promise<Uint8Array | null> {
  const until = Date.now() + timeoutMs;
  let buf = new Uint8Array(0);
  for (;;) {
    const chunk = await stream.read({ timeoutMs: Math.max(1, until - Date.now()) });
    if (chunk === null) return buf.length ? buf : null;
    if (buf.length + chunk.length > MAX_MESSAGE_BYTES) {
      throw new HandshakeCodecError(`handshake message longer than ${MAX_MESSAGE_BYTES} bytes`);
    }
    const next = new Uint8Array(buf.length + chunk.length);
    next.set(buf);
    next.set(chunk, buf.length);
    buf = next;
    if (parses(buf)) return buf;
  }
}

function parses(bytes: Uint8Array): boolean {
  try {
    JSON.parse(new TextDecoder().decode(bytes));
    return true;
  } catch {
    return false;
  }
}

/** Resolves when `stream` has closed (or after {@link SEND_SETTLE_MS}). */
function settle(stream: { readonly state: string }): Promise<void> {
  const until = Date.now() + SEND_SETTLE_MS;
  return new Promise((resolve) => {
    const check = () => {
      if (stream.state === "CLOSED" || stream.state === "TIME_WAIT" || Date.now() >= until) resolve();
      else setTimeout(check, SETTLE_POLL_MS);
    };
    check();
  });
}

function validNode(n: number): boolean {
  return Number.isInteger(n) && n > 0 && n <= MAX_NODE_ID;
}

function asList(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? v.filter((e) => e !== null && typeof e === "object") : [];
}

function asNumbers(v: unknown): number[] {
  return Array.isArray(v) ? v.filter((n): n is number => typeof n === "number") : [];
}
