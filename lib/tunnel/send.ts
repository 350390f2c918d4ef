/**
 * The tunnel's outbound path, packet by packet:
 *
 * 1. `send` checks the peer has a route (route.ts) and encodes the packet into a scratch buffer.
 * 2. Encryption off, or plaintext chosen after a failed key exchange: framed as PILT and sent.
 * 3. A session is ready: sealed as PILS by the strategy chosen at open (sealing.ts), rotating to
 *    a fresh nonce prefix before the counter runs out.
 * 4. Otherwise the packet is copied into the peer's queue and a key exchange starts
 *    (initiator.ts); the queue is flushed through steps 2–3 once the exchange completes.
 */
import { RELAY_HEADER_SIZE } from "../beacon/messages.ts";
import { encodePacket, encodePacketInto, type Packet, PacketError } from "../protocol/packet.ts";
import { HEADER_LENGTH, MAX_PAYLOAD_LENGTH } from "../protocol/header.ts";
import type { TunnelCore } from "./core.ts";
import type { Endpoint } from "./endpoint.ts";
import { MAGIC_PILT, MAGIC_SIZE } from "./frames.ts";
import { writeU32 } from "../bytes.ts";
import type { CryptoContext } from "./key_exchange.ts";
import { MAX_QUEUED_PEERS, type Peer } from "./peer.ts";
import { writeRelayHeader } from "./route.ts";
import type { PilsCrypto } from "./sealing.ts";

/** What the send path needs from the key-exchange side. */
export interface SendKeyExchange {
  /** Packets started waiting for `peer`: send our frame (throttled) and keep retrying. */
  start(peer: Peer, now: boolean): void;
  /** `ctx` is near the end of its counter: move it to a fresh nonce prefix. */
  rotate(peer: Peer, ctx: CryptoContext): void;
}

/** Frames and sends packets and key-exchange frames to peers. */
export class Sender {
  /** Peers with a non-empty queue (bounded by MAX_QUEUED_PEERS). */
  #queuedPeers = 0;
  // Send scratch: packets are encoded behind room for a relay header and a PILT magic.
  readonly #scratch = new Uint8Array(RELAY_HEADER_SIZE + MAGIC_SIZE + HEADER_LENGTH + MAX_PAYLOAD_LENGTH);
  // PILT head scratch: relay header (9) ‖ PILT magic (4).
  readonly #piltHead = new Uint8Array(RELAY_HEADER_SIZE + MAGIC_SIZE);
  readonly #piltHeadDirect = this.#piltHead.subarray(RELAY_HEADER_SIZE);

  constructor(
    private readonly core: TunnelCore,
    private readonly crypto: PilsCrypto,
    private readonly keyExchange: SendKeyExchange,
  ) {}

  /** True when a frame to `peer` has somewhere to go. */
  routable(peer: Peer): boolean {
    return this.core.route(peer) !== undefined;
  }

  /** Steps 1–4 of the module comment for one packet. Never throws. */
  send(node: number, packet: Packet | Uint8Array): void {
    const core = this.core;
    if (core.closed) return core.drop("closed");
    if (core.nodeId === undefined) return core.drop("no-node-id");
    const peer = core.peers.get(node);
    if (!peer || !this.routable(peer)) return core.drop("no-route");
    try {
      if (!core.policy.encrypt || peer.session.plaintext) {
        this.sendPlain(peer, packet);
        return;
      }
      if (peer.session.ready) {
        const bytes = this.encode(packet);
        if (bytes) this.seal(peer, bytes);
        return;
      }
      const copy = packet instanceof Uint8Array ? this.encode(packet)?.slice() : this.#encodeCopy(packet);
      if (copy) this.queue(peer, copy);
    } catch (err) {
      // Nothing above should throw; if it does, one packet is lost, not the caller's loop.
      core.log.warn("send failed", { peer: node, err: String(err) });
      core.drop("send-error");
    }
  }

  /** Encodes into the shared scratch (valid until the next send); undefined when the packet is invalid. */
  encode(packet: Packet | Uint8Array): Uint8Array | undefined {
    if (packet instanceof Uint8Array) {
      if (packet.length >= HEADER_LENGTH && packet.length <= HEADER_LENGTH + MAX_PAYLOAD_LENGTH) {
        return packet;
      }
    } else {
      try {
        const at = RELAY_HEADER_SIZE + MAGIC_SIZE;
        const n = encodePacketInto(packet, this.#scratch, at);
        return this.#scratch.subarray(at, at + n);
      } catch (err) {
        if (!(err instanceof PacketError)) throw err;
      }
    }
    this.core.drop("bad-packet-out");
    return undefined;
  }

  #encodeCopy(packet: Packet): Uint8Array | undefined {
    try {
      return encodePacket(packet);
    } catch (err) {
      if (!(err instanceof PacketError)) throw err;
      this.core.drop("bad-packet-out");
      return undefined;
    }
  }

  /** Seals an encoded packet with the peer's session and sends it on its route, or to `via` (a probe). */
  seal(peer: Peer, plaintext: Uint8Array, via?: Endpoint): void {
    const ctx = peer.session.ctx!;
    if (++ctx.sealed >= ctx.rotateAfter) this.keyExchange.rotate(peer, ctx);
    this.crypto.seal(peer, ctx, plaintext, via);
  }

  /** Sends a packet as PILT on the peer's route, or to `via`; false when it could not be encoded. */
  sendPlain(peer: Peer, packet: Packet | Uint8Array, via?: Endpoint): boolean {
    const core = this.core;
    const route = core.route(peer, via);
    if (!route) {
      core.drop("no-route");
      return true;
    }
    const encoded = this.encode(packet);
    if (!encoded) return false;
    const head = route.relay ? this.#piltHead : this.#piltHeadDirect;
    if (route.relay) writeRelayHeader(head, core.nodeId!, peer.node);
    writeU32(head, head.length - MAGIC_SIZE, MAGIC_PILT);
    core.counters.packetsSent++;
    core.emit(head, encoded, route.to);
    return true;
  }

  /** Sends a non-PILS frame (key exchange) on the peer's route, wrapped for the relay when needed. */
  sendFrame(peer: Peer, frame: Uint8Array): void {
    const core = this.core;
    const route = core.route(peer);
    if (!route) return core.drop("no-route");
    let head: Uint8Array | undefined;
    if (route.relay) {
      head = new Uint8Array(RELAY_HEADER_SIZE);
      writeRelayHeader(head, core.nodeId!, peer.node);
    }
    core.emit(head, frame, route.to);
  }

  /** Queues an encoded packet (a copy the queue may keep) until the peer's key exchange completes. */
  queue(peer: Peer, packet: Uint8Array): void {
    if (peer.pending.length === 0) {
      if (this.#queuedPeers >= MAX_QUEUED_PEERS) return this.core.drop("too-many-queues");
      this.#queuedPeers++;
    }
    if (peer.pending.enqueue(packet)) this.core.drop("queue-full");
    if (!peer.timers.rotating) this.keyExchange.start(peer, false);
  }

  /** Empties the peer's queue and stops its key-exchange retries. */
  clearQueue(peer: Peer): void {
    if (peer.timers.retryTimer !== undefined) clearTimeout(peer.timers.retryTimer);
    peer.timers.retryTimer = undefined;
    peer.timers.keyExchangeAttempts = 0;
    if (peer.pending.length > 0) {
      peer.pending.take();
      this.#queuedPeers--;
    }
  }

  /** Sends queued packets once a session is ready (or plaintext was chosen). */
  flushPending(peer: Peer): void {
    if (peer.pending.length === 0) return;
    const items = peer.pending.packets;
    this.clearQueue(peer);
    for (const bytes of items) {
      if (peer.session.plaintext) this.sendPlain(peer, bytes);
      else if (peer.session.ready) this.seal(peer, bytes);
      else this.queue(peer, bytes);
    }
  }
}
