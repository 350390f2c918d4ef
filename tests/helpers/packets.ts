/** Overlay packets for tests that only need something recognisable to send through a tunnel. */
import { Address } from "../../lib/protocol/address.ts";
import { FLAG_ACK, PROTO_DATAGRAM } from "../../lib/protocol/header.ts";
import type { Packet } from "../../lib/protocol/packet.ts";

/** A datagram from node `src` port 1000 to node `dst` port 1001 (network 0) carrying `text`. */
export function packet(src: number, dst: number, text: string, seq = 0): Packet {
  return {
    version: 1,
    flags: FLAG_ACK,
    protocol: PROTO_DATAGRAM,
    src: new Address(0, src),
    dst: new Address(0, dst),
    srcPort: 1000,
    dstPort: 1001,
    seq,
    ack: 0,
    window: 0,
    payload: new TextEncoder().encode(text),
  };
}

/** The payload of `p` as text. */
export const payloadText = (p: Packet): string => new TextDecoder().decode(p.payload);
