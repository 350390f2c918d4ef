/**
 * The tunnel's one routing decision: where a frame to a peer goes — straight to an endpoint, or
 * wrapped in a beacon Relay message (0x05, docs/protocol/wire.md §8.2) and sent to the beacon. Every send
 * (sealed, plaintext, key exchange) asks {@link routeTo}; nothing else reads the relay flag to
 * choose a destination.
 */
import { writeU32 } from "../bytes.ts";
import type { Endpoint } from "./endpoint.ts";
import type { PathState } from "./peer.ts";

/** Beacon message type of a Relay (docs/protocol/wire.md §8.2). */
export const BEACON_RELAY = 0x05;

/** Where one frame goes: `to`, and whether it must carry a relay header (then `to` is the beacon). */
export interface Route {
  readonly to: Endpoint;
  readonly relay: boolean;
}

/**
 * The route of a frame to a peer with `path`: `via` when given (a probe of a candidate direct
 * path), else the beacon when the peer is relayed (undefined without a beacon), else its direct
 * endpoint (undefined when none is known).
 */
export function routeTo(path: PathState, beacon: Endpoint | undefined, via?: Endpoint): Route | undefined {
  if (via) return { to: via, relay: false };
  if (path.relay) return beacon ? { to: beacon, relay: true } : undefined;
  return path.endpoint ? { to: path.endpoint, relay: false } : undefined;
}

/** Writes the 9-byte relay header (type ‖ sender ‖ destination) at the start of `out`. */
export function writeRelayHeader(out: Uint8Array, sender: number, dest: number): void {
  out[0] = BEACON_RELAY;
  writeU32(out, 1, sender);
  writeU32(out, 5, dest);
}
