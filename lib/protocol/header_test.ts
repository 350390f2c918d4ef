import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { toHex } from "../bytes.ts";
import { Address } from "./address.ts";
import {
  FLAG_ACK,
  FLAG_FIN,
  FLAG_RST,
  FLAG_SYN,
  formatFlags,
  hasFlags,
  HEADER_LENGTH,
  OFFSET_CHECKSUM,
  OFFSET_WINDOW,
  type PacketHeader,
  PROTO_CONTROL,
  PROTO_DATAGRAM,
  PROTO_STREAM,
  readChecksum,
  readHeader,
  readPayloadLength,
  validateHeader,
  writeChecksum,
  writeHeader,
} from "./header.ts";
import { PacketError } from "./errors.ts";

const H: PacketHeader = {
  version: 1,
  flags: FLAG_SYN | FLAG_ACK,
  protocol: PROTO_DATAGRAM,
  src: new Address(0x0102, 0x03040506),
  dst: new Address(0x0708, 0x090a0b0c),
  srcPort: 0x0d0e,
  dstPort: 0x0f10,
  seq: 0x11121314,
  ack: 0xfffffffe,
  window: 0x191a,
};

Deno.test("constants match docs/protocol/wire.md §3", () => {
  assertEquals(HEADER_LENGTH, 34);
  assertEquals([FLAG_SYN, FLAG_ACK, FLAG_FIN, FLAG_RST], [1, 2, 4, 8]);
  assertEquals([PROTO_STREAM, PROTO_DATAGRAM, PROTO_CONTROL], [1, 2, 3]);
  assertEquals([OFFSET_WINDOW, OFFSET_CHECKSUM], [28, 30]);
});

Deno.test("writeHeader lays out every field big-endian at its offset, checksum zero", () => {
  const out = new Uint8Array(36).fill(0xee);
  writeHeader(H, 0x2122, out, 1);
  assertEquals(
    toHex(out),
    "ee" + "13" + "02" + "2122" + "010203040506" + "0708090a0b0c" + "0d0e" + "0f10" + "11121314" +
      "fffffffe" +
      "191a" + "00000000" + "ee",
  );
  assertEquals(readPayloadLength(out, 1), 0x2122);
  const back = readHeader(out, 1);
  assertEquals({ ...back, src: back.src.toString(), dst: back.dst.toString() }, {
    ...H,
    src: H.src.toString(),
    dst: H.dst.toString(),
  });
  writeChecksum(out, 1, 0xdeadbeef);
  assertEquals(readChecksum(out, 1), 0xdeadbeef);
  assertEquals(out[35], 0xee);
});

Deno.test("validateHeader accepts the extremes and rejects out-of-range fields", () => {
  validateHeader({ ...H, version: 15, flags: 15, protocol: 255, seq: 2 ** 32 - 1, ack: 0, window: 65535 });
  for (const patch of [{ version: 16 }, { flags: -1 }, { protocol: 1.1 }, { seq: -1 }, { window: 2 ** 16 }]) {
    const err = assertThrows(() => validateHeader({ ...H, ...patch }), PacketError) as PacketError;
    assertEquals(err.reason, "field");
  }
});

Deno.test("flag helpers", () => {
  assert(hasFlags(FLAG_SYN | FLAG_ACK, FLAG_SYN));
  assert(hasFlags(FLAG_SYN | FLAG_ACK, FLAG_SYN | FLAG_ACK));
  assert(!hasFlags(FLAG_SYN, FLAG_SYN | FLAG_ACK));
  assertEquals(formatFlags(0), "-");
  assertEquals(formatFlags(FLAG_SYN | FLAG_ACK), "SYN|ACK");
  assertEquals(formatFlags(15), "SYN|ACK|FIN|RST");
});
