/**
 * Pilot Protocol codecs: virtual addresses and ports, the 34-byte packet
 * header, the CRC-32 checksum and whole-packet encode/decode. Pure functions
 * and immutable values only; no I/O.
 * @module
 */
export * from "./errors.ts";
export * from "./address.ts";
export * from "./ports.ts";
export * from "./checksum.ts";
export * from "./header.ts";
export * from "./packet.ts";
