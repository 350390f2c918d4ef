/**
 * Benchmarks for the protocol codecs: header encode/decode, CRC-32 over one MSS, and base64 of a
 * 64-byte signature (the registry's request signing form).
 */
import { Address } from "../lib/protocol/address.ts";
import { fromBase64, toBase64 } from "../lib/bytes.ts";
import { crc32, crc32Simple } from "../lib/protocol/checksum.ts";
import { FLAG_ACK, HEADER_LENGTH, PROTO_STREAM } from "../lib/protocol/header.ts";
import { decodePacket, encodePacket, encodePacketInto, type Packet } from "../lib/protocol/packet.ts";

/** The transport's MSS: the payload size of a full data segment. */
const MSS = 4096;

const header: Packet = {
  version: 1,
  flags: FLAG_ACK,
  protocol: PROTO_STREAM,
  src: new Address(0, 1),
  dst: new Address(0, 2),
  srcPort: 49152,
  dstPort: 1000,
  seq: 1,
  ack: 1,
  window: 512,
  payload: new Uint8Array(0),
};
const full: Packet = { ...header, payload: crypto.getRandomValues(new Uint8Array(MSS)) };
const headerBytes = encodePacket(header);
const fullBytes = encodePacket(full);
const scratch = new Uint8Array(HEADER_LENGTH + MSS);
const block = crypto.getRandomValues(new Uint8Array(MSS));
let sink = 0;

Deno.bench("header encode (34 B, new array)", { group: "header" }, () => {
  sink ^= encodePacket(header)[30];
});
Deno.bench("header encodeInto (34 B, reused buffer)", { group: "header" }, () => {
  sink ^= encodePacketInto(header, scratch, 0);
});
Deno.bench("header decode (34 B)", { group: "header" }, () => {
  sink ^= decodePacket(headerBytes).seq;
});
Deno.bench("packet encodeInto (34 B + 4 KiB)", { group: "packet" }, () => {
  sink ^= encodePacketInto(full, scratch, 0);
});
Deno.bench("packet decode (34 B + 4 KiB)", { group: "packet" }, () => {
  sink ^= decodePacket(fullBytes).seq;
});
Deno.bench("crc32 slice-by-16, 4 KiB", { group: "crc", baseline: true }, () => {
  sink ^= crc32(block);
});
Deno.bench("crc32 one table, 4 KiB", { group: "crc" }, () => {
  sink ^= crc32Simple(block);
});

globalThis.addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink); // keep results observable so nothing is optimised away
});

const signature = crypto.getRandomValues(new Uint8Array(64));
const signatureText = toBase64(signature);

Deno.bench("toBase64, 64 B (the engine's encoder)", { group: "base64", baseline: true }, () => {
  sink ^= toBase64(signature).length;
});
Deno.bench("btoa over a binary string, 64 B (for comparison)", { group: "base64" }, () => {
  sink ^= btoa(String.fromCharCode(...signature)).length;
});
Deno.bench("fromBase64, 64 B", { group: "base64" }, () => {
  sink ^= fromBase64(signatureText).length;
});
