/**
 * The tunnel's side of the beacon (docs/protocol/wire.md §8): messages accepted only from the configured
 * beacon; RelayDeliver unwrapped and its frame handed to the receive path as relayed (once it
 * authenticates, the sender is answered through the relay, §8.2's sticky rule); PunchCommand obeyed with a burst of
 * PILP (§8.5); anything else passed to the daemon. Punched endpoints are remembered for the
 * "punched" path label.
 */
import { type BeaconMessage, decodeBeaconMessage } from "../beacon/messages.ts";
import type { TunnelCore } from "./core.ts";
import { Endpoint } from "./endpoint.ts";
import { encodeFrame, MAGIC_SIZE } from "./frames.ts";

/** PILP frames sent per PunchCommand, back to back (docs/protocol/wire.md §8.5). */
export const PUNCH_BURST = 3;
/** Endpoints remembered as punched (for the "punched" path label); the oldest is forgotten beyond this. */
export const MAX_PUNCHED_ENDPOINTS = 4096;

/** Hands a relayed frame to the receive path, with the node the relay says sent it. */
export type RelayedFrameSink = (frame: Uint8Array, from: Endpoint, sender: number) => void;

/** Beacon messages in, punches out. */
export class BeaconHooks {
  /** Endpoint keys we punched towards, in recency order. */
  readonly #punched = new Set<string>();

  constructor(private readonly core: TunnelCore, private readonly relayedFrame: RelayedFrameSink) {}

  /** One datagram classified as a beacon message. */
  onBeacon(bytes: Uint8Array, from: Endpoint): void {
    const core = this.core;
    if (!core.beacon || !from.equals(core.beacon)) return core.drop("beacon-source");
    let message: BeaconMessage;
    try {
      message = decodeBeaconMessage(bytes);
    } catch {
      return core.drop("bad-beacon");
    }
    switch (message.kind) {
      case "RelayDeliver":
        return this.#onRelayDeliver(message.sender, message.frame, from);
      case "PunchCommand":
        return core.hooks.mayPunch(message) ? this.#onPunchCommand(message.ip, message.port) : undefined;
      default:
        try {
          core.hooks.onBeaconMessage(message, from);
        } catch (err) {
          core.log.warn("onBeaconMessage threw", { err: String(err) });
        }
    }
  }

  #onRelayDeliver(sender: number, frame: Uint8Array, from: Endpoint): void {
    const core = this.core;
    if (core.nodeId !== undefined && sender === core.nodeId) return core.drop("self");
    if (frame.length < MAGIC_SIZE) return core.drop("bad-frame");
    // Anyone may ask the beacon to relay in any node's name: nothing about the sender changes
    // here. Once the frame authenticates, the sender is answered through the relay (docs/protocol/wire.md
    // §8.2's sticky rule; roaming.ts).
    this.relayedFrame(frame, from, sender);
  }

  #onPunchCommand(ip: string, port: number): void {
    let to: Endpoint;
    try {
      to = Endpoint.of(ip, port);
    } catch {
      return this.core.drop("bad-beacon");
    }
    this.core.counters.punchCommands++;
    this.punch(to, PUNCH_BURST);
  }

  /** Sends `count` PILP frames to `to` and remembers it as punched. */
  punch(to: Endpoint, count: number): void {
    this.#rememberPunched(to);
    const frame = encodeFrame({ kind: "PILP", sender: this.core.nodeId });
    for (let i = 0; i < count; i++) this.core.emit(undefined, frame, to);
  }

  /** True when we punched towards `endpoint` (recently enough to remember). */
  isPunched(endpoint: Endpoint): boolean {
    return this.#punched.has(endpoint.key);
  }

  #rememberPunched(to: Endpoint): void {
    this.#punched.delete(to.key); // re-inserted last: the set is kept in recency order
    this.#punched.add(to.key);
    if (this.#punched.size > MAX_PUNCHED_ENDPOINTS) {
      this.#punched.delete(this.#punched.values().next().value!);
    }
  }
}
