/**
 * The tunnel's inbound path, datagram by datagram:
 *
 * 1. Beacon messages (first byte below 0x10) go to the beacon hooks (beacon_hooks.ts), which
 *    hand relayed frames back to step 2 with the relay's claimed sender.
 * 2. PILS: the sender must hold a session with us (else our key is offered, initiator.ts); the
 *    counter is checked against the replay window, the frame opened by the crypto strategy
 *    (sealing.ts), and only then the counter committed and the inner packet decoded. Its Src.node
 *    must be the frame's sender.
 * 3. PILK/PILA go to the handshake (handshake.ts); PILP is a hint for the NAT code; PILT is
 *    accepted only where plaintext is allowed.
 *
 * Trust rules (roaming.ts): a peer's endpoint moves only on a PILS that opened with a fresh
 * counter (or when the daemon sets it), and a peer is put on the relay only by such a PILS coming
 * through the beacon; an accepted key exchange or a plaintext packet may fill in a missing endpoint
 * but never move one, and PILP or a failed frame never touch it. A relayed frame creates nothing
 * before it authenticates (plaintext, where allowed, is taken as it claims).
 */
import { decodePacket, type Packet, PacketError } from "../protocol/packet.ts";
import type { TunnelCore } from "./core.ts";
import type { Endpoint } from "./endpoint.ts";
import { REPLAY_EVENT_INTERVAL_MS, REPLAY_EVENT_PEERS } from "./events.ts";
import {
  decodeFrame,
  FrameError,
  MAGIC_PILS,
  MAGIC_SIZE,
  NONCE_SIZE,
  PILS_HEADER_SIZE,
  PILS_MIN_BODY,
  SENDER_SIZE,
} from "./frames.ts";
import { readU32 } from "../bytes.ts";
import type { Handshake, KeyExchangeFrame } from "./handshake.ts";
import type { Initiator } from "./initiator.ts";
import type { Peer } from "./peer.ts";
import { KeyedInterval } from "./rate_limit.ts";
import type { Roaming } from "./roaming.ts";
import type { Opening, PilsCrypto } from "./sealing.ts";

/** Turns received frames into delivered packets. */
export class Receiver {
  /** Last replay report per peer; made on the first replay seen while an observer is set. */
  #replayReports?: KeyedInterval<number>;

  constructor(
    private readonly core: TunnelCore,
    private readonly crypto: PilsCrypto,
    private readonly handshake: Handshake,
    private readonly initiator: Initiator,
    private readonly roaming: Roaming,
  ) {}

  /** Dispatches one frame; `relaySender` ≥ 0 when it came inside a RelayDeliver from that node. */
  onFrame(bytes: Uint8Array, from: Endpoint, relaySender: number): void {
    const core = this.core;
    const relayed = relaySender >= 0;
    if (bytes.length >= MAGIC_SIZE && readU32(bytes, 0) === MAGIC_PILS) {
      if (bytes.length < MAGIC_SIZE + PILS_MIN_BODY) return core.drop("bad-frame");
      const sender = readU32(bytes, MAGIC_SIZE);
      if (relayed && sender !== relaySender) return core.drop("relay-mismatch");
      return this.#onPils(bytes, sender, from, relayed);
    }
    let frame;
    try {
      frame = decodeFrame(bytes);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      return core.drop("bad-frame");
    }
    switch (frame.kind) {
      case "PILT":
        // Copied: the receive buffer is reused, and the packet's payload may be kept by the caller.
        return this.#onPilt(frame.packet.slice(), from, relaySender);
      case "PILK":
      case "PILA":
        if (relayed && frame.sender !== relaySender) return core.drop("relay-mismatch");
        return this.#onKeyExchange(frame, from, relayed);
      case "PILP":
        // NAT punch: opens a mapping, proves nothing (docs/protocol/wire.md §5.5). A named sender is a hint only.
        core.counters.punchesReceived++;
        if (!relayed && frame.sender !== undefined && frame.sender !== core.nodeId) {
          try {
            core.hooks.onPunchFrame(frame.sender, from);
          } catch (err) {
            core.log.warn("onPunchFrame threw", { err: String(err) });
          }
        }
        return;
      default:
        return core.drop("bad-frame");
    }
  }

  #onPils(bytes: Uint8Array, sender: number, from: Endpoint, relayed: boolean): void {
    const core = this.core;
    if (core.nodeId === undefined) return core.drop("no-node-id");
    if (sender === core.nodeId) return core.drop("self");
    const peer = core.peers.get(sender);
    const ctx = peer?.session.ctx;
    if (!peer || !ctx) {
      core.drop("unknown-sender");
      return this.initiator.offer(sender, from, relayed);
    }
    const nonceAt = MAGIC_SIZE + SENDER_SIZE;
    const prefix = readU32(bytes, nonceAt);
    const hi = readU32(bytes, nonceAt + 4);
    const lo = readU32(bytes, nonceAt + 8);
    if (!ctx.replay.checkU64(prefix, hi, lo)) return this.#replayed(peer, hi, lo);
    const nonce = bytes.subarray(nonceAt, nonceAt + NONCE_SIZE);
    this.crypto.open({ peer, ctx, prefix, hi, lo, from, relayed }, nonce, bytes.subarray(PILS_HEADER_SIZE));
  }

  /** A PILS whose tag verified: commit its counter, deliver its packet, learn the path. */
  acceptPils(opening: Opening, plaintext: Uint8Array): void {
    const core = this.core;
    const { peer, ctx, from, relayed } = opening;
    if (!ctx.replay.commitU64(opening.prefix, opening.hi, opening.lo)) {
      return this.#replayed(peer, opening.hi, opening.lo);
    }
    core.counters.framesDecrypted++;
    let packet: Packet;
    try {
      packet = decodePacket(plaintext);
    } catch (err) {
      if (!(err instanceof PacketError)) throw err;
      return core.drop(err.reason === "checksum" ? "checksum" : "bad-packet");
    }
    if (packet.src.node !== peer.node) return core.drop("spoofed-source");
    peer.timers.sameKeyReplies = 0; // it holds our key
    // Fresh (the counter was committed above) and authenticated: the one proof that moves a peer.
    if (peer.session.ctx === ctx && core.peers.get(peer.node) === peer) {
      this.roaming.freshPils(peer, from, relayed);
    }
    this.#deliver(packet, peer.node);
  }

  #onPilt(bytes: Uint8Array, from: Endpoint, relaySender: number): void {
    const core = this.core;
    if (core.policy.encrypt && !core.policy.allowPlaintext) return core.drop("plaintext-refused");
    let packet: Packet;
    try {
      packet = decodePacket(bytes);
    } catch (err) {
      if (!(err instanceof PacketError)) throw err;
      return core.drop(err.reason === "checksum" ? "checksum" : "bad-packet");
    }
    const sender = packet.src.node;
    if (relaySender >= 0 && sender !== relaySender) return core.drop("relay-mismatch");
    if (core.nodeId !== undefined && sender === core.nodeId) return core.drop("self");
    // Plaintext is unauthenticated: it may create a peer (so replies have a path) but never moves one.
    const peer = core.peers.lookup(sender, true);
    if (peer) {
      peer.lastHeardAt = performance.now();
      if (relaySender >= 0) {
        const wasRelay = peer.path.relay;
        peer.path.relayedFrameSeen(peer.lastHeardAt); // no proof exists without crypto
        if (!wasRelay && peer.path.relay) core.relayActivated(peer);
      } else if (!peer.path.endpoint) peer.path.endpoint = from;
    }
    this.#deliver(packet, sender);
  }

  #deliver(packet: Packet, from: number): void {
    this.core.counters.packetsDelivered++;
    try {
      this.core.hooks.onPacket(packet, from);
    } catch (err) {
      this.core.log.warn("onPacket threw", { err: String(err) });
    }
  }

  #onKeyExchange(frame: KeyExchangeFrame, from: Endpoint, relayed: boolean): void {
    const core = this.core;
    if (!core.policy.encrypt) return core.drop("encryption-off");
    if (core.nodeId === undefined) return core.drop("no-node-id");
    if (frame.sender === core.nodeId) return core.drop("self");
    // Copied: the receive buffer is reused before the handshake's first await returns.
    this.handshake.receive(
      {
        kind: frame.kind,
        sender: frame.sender,
        x25519: frame.x25519.slice(),
        ed25519: frame.ed25519?.slice(),
        signature: frame.signature?.slice(),
      },
      from,
      relayed,
    );
  }

  /** A PILS refused by the replay window: counted always, reported at most once per interval per peer. */
  #replayed(peer: Peer, hi: number, lo: number): void {
    this.core.drop("replay");
    if (!this.core.observed) return;
    this.#replayReports ??= new KeyedInterval<number>(REPLAY_EVENT_INTERVAL_MS, REPLAY_EVENT_PEERS);
    if (!this.#replayReports.allow(peer.node)) return;
    this.core.report({ kind: "replay", node: peer.node, counter: hi * 0x1_0000_0000 + lo });
  }
}
