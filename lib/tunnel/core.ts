/**
 * What every stage of one tunnel shares: the socket, the peer table, our node ID and beacon, the
 * counters, and the two primitives every stage ends in — count a drop, hand a datagram to the
 * socket. The stages (send.ts, initiator.ts, receive.ts, beacon_hooks.ts, sealing.ts) hold one
 * of these; tunnel.ts creates it and owns its lifecycle.
 */
import type { BeaconMessage } from "../beacon/messages.ts";
import type { Logger } from "../log.ts";
import type { Packet } from "../protocol/packet.ts";
import type { Endpoint } from "./endpoint.ts";
import type { TunnelEvent } from "./events.ts";
import type { FaultySocket } from "./faults.ts";
import { SENDER_SIZE } from "./frames.ts";
import { writeU32 } from "../bytes.ts";
import { type Route, routeTo } from "./route.ts";
import type { Peer } from "./peer.ts";
import { PeerTable } from "./peer_table.ts";
import { type DropReason, newCounters, type TunnelCounters } from "./stats.ts";
import type { UdpSocket } from "./udp.ts";

/** The callbacks a tunnel's user sets (see `Tunnel`). */
export interface TunnelHooks {
  onPacket: (packet: Packet, from: number) => void;
  onBatchEnd: () => void;
  onBeaconMessage: (message: BeaconMessage, from: Endpoint) => void;
  onPunchFrame: (sender: number, from: Endpoint) => void;
  onRelayActivated: (node: number) => void;
  mayPunch: (command: Extract<BeaconMessage, { kind: "PunchCommand" }>) => boolean;
  onEvent?: (event: TunnelEvent) => void;
}

/** Local policy fixed at open. */
export interface TunnelPolicy {
  /** Encrypt traffic (PILS after a key exchange). */
  readonly encrypt: boolean;
  /** Accept PILT while encrypting, and fall back to it after a failed key exchange. */
  readonly allowPlaintext: boolean;
}

/** The state shared by one tunnel's stages. */
export class TunnelCore {
  /** Socket (wrapped by the fault injector when faults are on); set by `Tunnel.open`. */
  socket!: UdpSocket;
  faults?: FaultySocket;
  readonly counters: TunnelCounters = newCounters();
  readonly peers: PeerTable;
  /** The configured beacon: relay destination, and the only accepted source of beacon messages. */
  beacon?: Endpoint;
  /** Our node ID, once registered; every frame's sender. */
  nodeId?: number;
  /** AAD of our own PILS frames: our node ID, 4 bytes BE. */
  ownAad = new Uint8Array(SENDER_SIZE);
  /** Our PILA (or PILK), once the node ID is known. */
  keyExchangeFrame?: Uint8Array;
  closed = false;
  /** Told about each stale entry the peer table forgot (to release its session). */
  onEvict: (peer: Peer) => void = () => {};

  constructor(
    readonly log: Logger,
    readonly policy: TunnelPolicy,
    readonly hooks: TunnelHooks,
    /** Milliseconds, monotonic: when frames arrive, for path bookkeeping. */
    readonly now: () => number = () => performance.now(),
  ) {
    this.peers = new PeerTable(() => this.drop("peer-table-full"), (peer) => {
      this.counters.peersExpired++;
      this.onEvict(peer);
    });
  }

  /** Sets our node ID and the frames derived from it. */
  setNodeId(nodeId: number, keyExchangeFrame: Uint8Array): void {
    this.nodeId = nodeId;
    this.ownAad = new Uint8Array(SENDER_SIZE);
    writeU32(this.ownAad, 0, nodeId);
    this.keyExchangeFrame = keyExchangeFrame;
  }

  /** Where a frame to `peer` goes (see route.ts), or undefined when it has no route. */
  route(peer: Peer, via?: Endpoint): Route | undefined {
    return routeTo(peer.path, this.beacon, via);
  }

  drop(reason: DropReason): void {
    this.counters.drops[reason]++;
  }

  /** Hands one datagram (`head` ‖ `body`) to the socket. */
  emit(head: Uint8Array | undefined, body: Uint8Array, to: Endpoint): void {
    this.counters.datagramsSent++;
    this.counters.bytesSent += (head?.length ?? 0) + body.length;
    this.socket.send(head, body, to);
  }

  /** Passes an event to the observer, if one is set; an observer that throws is logged. */
  report(event: TunnelEvent): void {
    try {
      this.hooks.onEvent?.(event);
    } catch (err) {
      this.log.warn("onEvent threw", { err: String(err) });
    }
  }

  /** `peer` has just been put on the relay: tells the hook and the observer. */
  relayActivated(peer: Peer): void {
    try {
      this.hooks.onRelayActivated(peer.node);
    } catch (err) {
      this.log.warn("onRelayActivated threw", { err: String(err) });
    }
    if (this.observed) this.report({ kind: "relay-activated", node: peer.node });
  }

  /** True when an observer is set (events are only built then). */
  get observed(): boolean {
    return this.hooks.onEvent !== undefined;
  }
}
