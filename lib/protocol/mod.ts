/**
 * Pilot Protocol codecs: virtual addresses and ports, the 34-byte packet
 * header, the CRC-32 checksum and whole-packet encode/decode. Pure functions
 * and immutable values only; no I/O.
 * @module
 */
export { AddressError, PacketError, type PacketErrorReason, PortError } from "./errors.ts";
export {
  Address,
  ADDRESS_LENGTH,
  BACKBONE_NETWORK,
  BEACON_ADDRESS,
  BROADCAST_NODE,
  broadcastAddress,
  MAX_NETWORK,
  MAX_NODE,
  NAMESERVER_ADDRESS,
  parseAddressOrNodeId,
  REGISTRY_ADDRESS,
  SocketAddress,
  UNSPECIFIED_ADDRESS,
} from "./address.ts";
export * from "./ports.ts";
export { crc32, crc32Range, crc32Segments } from "./checksum.ts";
export * from "./header.ts";
export { decodePacket, encodedPacketLength, encodePacket, encodePacketInto, type Packet } from "./packet.ts";
