/**
 * The trust handshake (docs/protocol/services.md §1): the port-444 server that validates and
 * processes signed messages, the local operations the IPC Handshake sub-commands
 * drive (request, approve, reject, revoke), and the registry relay for peers that
 * cannot be dialed (polled after every heartbeat, trust re-reported after
 * re-registration). The deny set (peers our operator revoked) and the trusted set it
 * keeps are the first things the node's privacy gate consults. Messages are built and sent
 * by messenger.ts (through the node's dialer), the registry calls live in registry_relay.ts.
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
import { fromBase64, toBase64, utf8 } from "../../bytes.ts";
import type { Logger } from "../../log.ts";
import { PORT_TRUST } from "../../protocol/ports.ts";
import { verifyEd25519 } from "../../crypto/ed25519.ts";
import { type PeerStream, serveStreams } from "../byte_stream.ts";
import type { ServiceContext } from "../context.ts";
import {
  decodeHandshake,
  freshness,
  HandshakeCodecError,
  type HandshakeMessage,
  handshakeSigningText,
  HandshakeType,
  type KnownHandshakeType,
  MAX_TEXT_LENGTH,
  replayKey,
  REVOKE_REASON,
} from "./codec.ts";
import { HandshakeReplayCache, REPLAY_REAP_INTERVAL_MS } from "./replay.ts";
import type { TrustedRecord, TrustStore } from "./store.ts";
import { TrustRegistry, validNode } from "./registry_relay.ts";
import { HandshakeMessenger, type MessageFields, readMessage } from "./messenger.ts";
import {
  type DropReason,
  type PendingView,
  type TrustedPeerView,
  TrustError,
  type TrustStats,
} from "./types.ts";
import { closeQuietly, errorMessage, settleQuietly } from "../../errors.ts";

export { DIRECT_DIAL_TIMEOUT_MS, SEND_SETTLE_MS } from "./messenger.ts";
export {
  type DropReason,
  type PendingView,
  type TrustedPeerView,
  TrustError,
  type TrustStats,
} from "./types.ts";

/** How long the server waits for a connection's message. */
export const READ_TIMEOUT_MS = 10_000;
/** How long after a revocation the tunnel session goes (the resets sent just before must leave first). */
export const TUNNEL_TEARDOWN_DELAY_MS = 200;
/** Most pending inbound requests; a new sender beyond it is dropped. */
export const MAX_PENDING = 256;
/** Most outgoing requests remembered; the oldest mark goes first. */
export const MAX_OUTGOING = 4096;
/** The message types a peer may send. */
const WIRE_TYPES = new Set<string>(Object.values(HandshakeType));

/** What the service uses of its node. */
export type TrustContext = Pick<
  ServiceContext,
  "nodeId" | "identity" | "registry" | "peers" | "sessions" | "dial" | "log" | "webhooks"
>;

/** Options of {@link TrustService}. */
export interface TrustServiceOptions {
  store: TrustStore;
  /** Called whenever a peer's trust changes (the gate drops its cached verdict). */
  onTrustChange?: (node: number) => void;
  /** Wall clock in ms (tests). */
  now?: () => number;
}

type Via = "direct" | "relay";

/** How a trust request went: already trusted, mutual (both asked), sent direct, or left at the registry relay. */
export type HandshakeDelivery = "trusted" | "mutual" | Via;

/** The trust handshake service of one daemon. */
export class TrustService {
  readonly stats: TrustStats = {
    processed: {},
    dropped: {},
    sent: { direct: 0, relay: 0, failed: 0 },
    autoApproved: { mutual: 0, same_network: 0 },
  };
  readonly #ctx: TrustContext;
  readonly #messenger: HandshakeMessenger;
  readonly #relay: TrustRegistry;
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

  constructor(ctx: TrustContext, options: TrustServiceOptions) {
    this.#ctx = ctx;
    this.#store = options.store;
    this.#onTrustChange = options.onTrustChange ?? (() => {});
    this.#now = options.now ?? Date.now;
    this.#log = ctx.log.child("trust");
    this.#messenger = new HandshakeMessenger(ctx, this.#now);
    this.#relay = new TrustRegistry(ctx.registry, () => ctx.nodeId(), this.#log);
  }

  /** Starts serving port 444 and the replay-cache reaper. */
  start(): void {
    this.#stopServing = serveStreams(
      this.#ctx.sessions,
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
    await this.#store.save().catch((err) => this.#log.warn("saving trust state on close failed", { err }));
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

  /** The trusted list for IPC (docs/protocol/ipc.md §6.3). */
  trusted(): TrustedPeerView[] {
    return [...this.#store.state.trusted.values()].map((t) => ({
      node_id: t.nodeId,
      public_key: t.publicKey,
      approved_at: Math.floor(t.approvedAt / 1000),
      mutual: t.mutual,
      network: t.network,
    }));
  }

  /** Nodes we asked to trust us that have not answered yet, with when we asked (unix seconds). */
  asking(): { node_id: number; asked_at: number }[] {
    return [...this.#outgoing].map(([node, at]) => ({ node_id: node, asked_at: Math.floor(at / 1000) }));
  }

  /** The pending list for IPC (docs/protocol/ipc.md §6.3). */
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
   * Resolves to how it went: `trusted` (nothing sent), `mutual` (trusted now), `direct` or
   * `relay` (the peer sees it when it next polls the registry). Throws {@link TrustError}
   * when the relay fails too.
   */
  async request(peer: number, justification: string): Promise<HandshakeDelivery> {
    this.#checkPeer(peer);
    if (justification.length > MAX_TEXT_LENGTH) {
      throw new TrustError(`justification longer than ${MAX_TEXT_LENGTH} characters`);
    }
    if (this.isTrusted(peer)) return "trusted";
    await this.#liftRevocation(peer);
    const pending = this.#store.state.pending.get(peer);
    if (pending) {
      await this.#grant(peer, { key: pending.publicKey, mutual: true, network: 0 });
      this.#autoApproved(peer, "mutual");
      this.#background("answer mutual request", async () => {
        await this.#relay.reportTrust(peer);
        await this.#ctx.registry.respondHandshake(peer, true).catch((err) =>
          this.#log.info("relay answer failed", { peer, err })
        );
        await this.#sendDirect(peer, HandshakeType.Accept).catch((err) =>
          this.#log.debug("direct accept failed", { peer, err })
        );
      });
      return "mutual";
    }
    this.#markOutgoing(peer);
    try {
      await this.#sendDirect(peer, HandshakeType.Request, { justification });
      return "direct";
    } catch (err) {
      this.#log.debug("direct handshake request failed; relaying", { peer, err });
    }
    try {
      await this.#ctx.registry.requestHandshake(peer, justification);
      this.stats.sent.relay++;
      return "relay";
    } catch (err) {
      this.stats.sent.failed++;
      throw new TrustError(`handshake relay: ${errorMessage(err)}`);
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
      await this.#relay.reportTrust(peer);
      await this.#ctx.registry.respondHandshake(peer, true).catch((err) =>
        this.#log.info("relay answer failed", { peer, err })
      );
      await this.#sendDirect(peer, HandshakeType.Accept).catch((err) =>
        this.#log.debug("direct accept failed", { peer, err })
      );
    });
  }

  /** Rejects a pending request (always succeeds); the peer is told through the registry and directly. */
  async reject(peer: number, reason: string): Promise<void> {
    this.#checkPeer(peer);
    if (reason.length > MAX_TEXT_LENGTH) reason = reason.slice(0, MAX_TEXT_LENGTH);
    if (this.#store.state.pending.delete(peer)) await this.#save();
    this.#emit("handshake.rejected", { peer_node_id: peer, reason });
    this.#background("announce rejection", async () => {
      await this.#ctx.registry.respondHandshake(peer, false).catch((err) =>
        this.#log.info("relay rejection failed", { peer, err })
      );
      await this.#sendDirect(peer, HandshakeType.Reject, { reason }).catch((err) =>
        this.#log.debug("direct rejection failed", { peer, err })
      );
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
    const revoked = this.#ctx.registry.revokeTrust(peer).then(
      () => {},
      (err) => this.#log.info("registry revoke_trust failed", { peer, err }),
    );
    await this.#save();
    this.#emit("trust.revoked", { peer_node_id: peer });
    this.#background("announce revocation", async () => {
      // Only over a route we already have: after the revocation the registry will not resolve it.
      if (this.#ctx.peers.isRouted(peer)) {
        const sent = await settleQuietly(
          this.#sendDirect(peer, HandshakeType.Revoke, { reason: REVOKE_REASON }),
          "peer gone",
        );
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
    const { requests, responses } = await this.#relay.poll();
    for (const r of requests) await this.#onRelayedRequest(r.from, r.justification, r.signature);
    for (const r of responses) {
      this.#count(r.accept ? "relay_accept" : "relay_reject");
      if (r.accept) await this.#onAccept(r.from, "");
      else this.#outgoing.delete(r.from);
    }
  }

  /** Re-reports every trusted peer to the registry (§1.5); run after re-registration. */
  async reReport(): Promise<void> {
    for (const peer of [...this.#store.state.trusted.keys()]) await this.#relay.reportTrust(peer);
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
      await closeQuietly(stream);
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
    const registered = await this.#ctx.peers.publicKey(from);
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
    const key = await this.#ctx.peers.publicKey(from);
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
      network = await this.#relay.sharedNetwork(peer);
      // The operator may have revoked the peer while we asked the registry.
      if (network && !this.isRevoked(peer)) reason = "same_network";
    }
    if (reason) {
      await this.#grant(peer, { key, mutual: reason === "mutual", network });
      this.#autoApproved(peer, reason);
      this.#background("accept", async () => {
        await this.#relay.reportTrust(peer);
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
        const k = await this.#ctx.peers.publicKey(peer);
        key = k ? toBase64(k) : "";
      }
      await this.#grant(peer, { key, mutual: true, network: 0 });
      await this.#relay.reportTrust(peer);
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
        await this.#ctx.registry.revokeTrust(peer).catch((err) =>
          this.#log.info("relay revocation failed", { peer, err })
        );
        this.#onTrustChange(peer);
      });
    }
  }

  // ---- sending ---------------------------------------------------------------------------------

  /** Sends one message straight to the peer's port 444 (see {@link HandshakeMessenger.send}), counted. */
  async #sendDirect(peer: number, type: KnownHandshakeType, fields: MessageFields = {}) {
    try {
      const sent = await this.#messenger.send(peer, type, fields);
      this.stats.sent.direct++;
      return sent;
    } catch (err) {
      this.stats.sent.failed++;
      throw err;
    }
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
      await this.#ctx.registry.respondHandshake(peer, true);
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
    for (const s of [...this.#ctx.sessions.connections()]) {
      if (s.remoteAddr.node === peer) s.abort();
    }
  }

  /**
   * Tears down the route to `peer`: new traffic must resolve it again through the
   * registry (which now refuses a private peer). The tunnel session goes a moment later,
   * so the resets just queued for it still leave.
   */
  #dropTunnel(peer: number): void {
    this.#ctx.peers.disconnect(peer, TUNNEL_TEARDOWN_DELAY_MS);
  }

  async #save(): Promise<void> {
    try {
      await this.#store.save();
    } catch (err) {
      this.#log.error("cannot save trust state", { err });
    }
  }

  #verify(key: Uint8Array, sender: number, signature: string): boolean {
    let sig: Uint8Array;
    try {
      sig = fromBase64(signature);
    } catch {
      return false;
    }
    return verifyEd25519(key, utf8(handshakeSigningText(sender, this.#ctx.nodeId())), sig);
  }

  #checkPeer(peer: number): void {
    if (!validNode(peer)) throw new TrustError(`invalid node id ${peer}`);
    if (peer === this.#ctx.nodeId()) throw new TrustError("cannot handshake with this node itself");
  }

  #autoApproved(peer: number, reason: "mutual" | "same_network"): void {
    this.stats.autoApproved[reason]++;
    this.#emit("handshake.auto_approved", { peer_node_id: peer, reason });
  }

  #emit(event: string, data: Record<string, unknown>): void {
    try {
      this.#ctx.webhooks?.emit(event, data);
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
