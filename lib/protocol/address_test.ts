import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { toHex } from "../bytes.ts";
import {
  Address,
  ADDRESS_LENGTH,
  AddressError,
  BACKBONE_NETWORK,
  BEACON_ADDRESS,
  BROADCAST_NODE,
  broadcastAddress,
  NAMESERVER_ADDRESS,
  parseAddressOrNodeId,
  REGISTRY_ADDRESS,
  SocketAddress,
  UNSPECIFIED_ADDRESS,
} from "./address.ts";
import { PortError } from "./ports.ts";

Deno.test("format: reference examples from docs/protocol/wire.md §1.2", () => {
  assertEquals(new Address(0, 1).toString(), "0:0000.0000.0001");
  assertEquals(new Address(1, 0xf2910004).toString(), "1:0001.F291.0004");
  assertEquals(new Address(300, 5).toString(), "300:012C.0000.0005");
  assertEquals(new Address(65535, 0xffffffff).toString(), "65535:FFFF.FFFF.FFFF");
  assertEquals(broadcastAddress(5).toString(), "5:0005.FFFF.FFFF");
});

Deno.test("parse: valid forms, hex in either case, leading zeros in the decimal part", () => {
  const a = Address.parse("1:0001.F291.0004");
  assertEquals([a.network, a.node], [1, 0xf2910004]);
  assert(Address.parse("1:0001.f291.0004").equals(a));
  assert(Address.parse("001:0001.F291.0004").equals(a));
  assertEquals(Address.parse("300:012c.0000.0005").toString(), "300:012C.0000.0005");
  assertEquals(Address.parse("65535:FFFF.FFFF.FFFF").node, BROADCAST_NODE);
  assert(Address.parse("0:0000.0000.0000").isUnspecified());
});

Deno.test("parse: rejections name what is wrong", () => {
  const cases: [string, RegExp][] = [
    ["1:00A3.F291.0004", /network mismatch/], // the draft's example
    ["5:FFFF.FFFF.FFFF", /network mismatch/], // draft broadcast text
    ["", /no ':'/],
    ["0000.0000.0001", /no ':'/],
    ["1:001.F291.0004", /group 1 .*exactly 4/],
    ["1:0001.F29.0004", /group 2 "F29"/],
    ["1:0001.F291.00004", /group 3 "00004"/],
    ["1:0001.F291.", /group 3 ""/],
    ["1:0001.G291.0004", /group 2 "G291"/],
    ["1:0001.0x12.0004", /group 2/],
    ["1:0001.+123.0004", /group 2/],
    ["1:0001.-123.0004", /group 2/],
    ["1:0001. 123.0004", /group 2/],
    ["65536:10000.0000.0001", /network part "65536"/],
    ["99999999999999999999:0000.0000.0001", /network part/],
    ["1:0001.F291", /expected 3 .*got 2/],
    ["1:0001", /got 1/],
    ["1:0001.F291.0004.0000", /got more/],
    ["1:0001.F291.0004:80", /group 3/],
    [" 1:0001.F291.0004", /network part " 1"/],
    ["1 :0001.F291.0004", /network part/],
    ["1:0001.F291.0004 ", /group 3/],
    ["1:0001.F291.0004\n", /group 3/],
    ["+1:0001.F291.0004", /network part "\+1"/],
    ["-1:0001.F291.0004", /network part/],
    [":0000.0000.0000", /network part ""/],
    ["0x1:0001.F291.0004", /network part/],
    ["١:0001.F291.0004", /network part/], // non-ASCII digit
  ];
  for (const [text, re] of cases) assertThrows(() => Address.parse(text), AddressError, re);
});

Deno.test("parse: error messages quote long input truncated", () => {
  const err = assertThrows(() => Address.parse("x".repeat(10_000)), AddressError);
  assert(err.message.length < 200, err.message);
});

Deno.test("constructor validates ranges", () => {
  for (
    const [n, h] of [[-1, 0], [65536, 0], [1.5, 0], [NaN, 0], [0, -1], [0, 2 ** 32], [0, 0.5], [0, Infinity]]
  ) {
    assertThrows(() => new Address(n, h), AddressError);
  }
  assertEquals(new Address(65535, 2 ** 32 - 1).node, 0xffffffff);
});

Deno.test("special addresses and predicates", () => {
  assertEquals(UNSPECIFIED_ADDRESS.toString(), "0:0000.0000.0000");
  assertEquals(REGISTRY_ADDRESS.toString(), "0:0000.0000.0001");
  assertEquals(BEACON_ADDRESS.toString(), "0:0000.0000.0002");
  assertEquals(NAMESERVER_ADDRESS.toString(), "0:0000.0000.0003");
  assert(UNSPECIFIED_ADDRESS.isUnspecified());
  assert(!REGISTRY_ADDRESS.isUnspecified());
  assert(!new Address(1, 0).isUnspecified());
  assert(broadcastAddress(5).isBroadcast());
  assert(broadcastAddress(BACKBONE_NETWORK).isBroadcast());
  assert(!new Address(5, 0xfffffffe).isBroadcast());
  assert(new Address(3, 7).equals(new Address(3, 7)));
  assert(!new Address(3, 7).equals(new Address(4, 7)));
  assert(!new Address(3, 7).equals(new Address(3, 8)));
  assertEquals(new Address(1, 2).key, 2 ** 32 + 2);
  assertEquals(JSON.stringify({ a: new Address(1, 2) }), '{"a":"1:0001.0000.0002"}');
});

Deno.test("bytes: big-endian network then node", () => {
  const a = new Address(0x012c, 0xf2910004);
  assertEquals(toHex(a.toBytes()), "012cf2910004");
  assert(Address.fromBytes(a.toBytes()).equals(a));
  const buf = new Uint8Array(10);
  a.writeTo(new DataView(buf.buffer), 3);
  assertEquals(toHex(buf), "000000012cf291000400");
  assert(Address.fromBytes(buf, 3).equals(a));
  assert(Address.readFrom(new DataView(buf.buffer), 3).equals(a));
  assertThrows(() => Address.fromBytes(buf, 5), AddressError, /need 6/);
  assertThrows(() => Address.fromBytes(new Uint8Array(5)), AddressError);
  assertThrows(() => Address.fromBytes(buf, -1), AddressError);
  assertThrows(() => Address.readFrom(new DataView(buf.buffer), 5), AddressError);
  assertThrows(() => Address.readFrom(new DataView(buf.buffer), 0.5), AddressError);
});

Deno.test("parseAddressOrNodeId: address text or decimal node id on network 0", () => {
  assert(parseAddressOrNodeId("1:0001.F291.0004").equals(new Address(1, 0xf2910004)));
  assert(parseAddressOrNodeId("42").equals(new Address(0, 42)));
  assert(parseAddressOrNodeId("4294967295").equals(new Address(0, 0xffffffff)));
  assert(parseAddressOrNodeId("007").equals(new Address(0, 7)));
  for (const t of ["4294967296", "", "-1", "+5", " 5", "0x10", "alice.example", "1.5"]) {
    assertThrows(() => parseAddressOrNodeId(t), AddressError);
  }
  assertThrows(() => parseAddressOrNodeId("1:00A3.F291.0004"), AddressError, /network mismatch/);
});

Deno.test("SocketAddress: parse at the last ':', format, validate", () => {
  const s = SocketAddress.parse("1:0001.F291.0004:1000");
  assert(s.address.equals(new Address(1, 0xf2910004)));
  assertEquals(s.port, 1000);
  assertEquals(s.toString(), "1:0001.F291.0004:1000");
  assertEquals(SocketAddress.parse("0:0000.0000.0001:00080").port, 80);
  assertEquals(SocketAddress.parse("0:0000.0000.0001:65535").port, 65535);
  assert(s.equals(new SocketAddress(new Address(1, 0xf2910004), 1000)));
  assert(!s.equals(new SocketAddress(new Address(1, 0xf2910004), 1001)));
  assertEquals(JSON.stringify(s), '"1:0001.F291.0004:1000"');
  assertThrows(() => SocketAddress.parse("1:0001.F291.0004:65536"), PortError, /greater than/);
  assertThrows(() => SocketAddress.parse("1:0001.F291.0004:"), PortError, /empty/);
  assertThrows(() => SocketAddress.parse("1:0001.F291.0004:+80"), PortError);
  assertThrows(() => SocketAddress.parse("1:0001.F291.0004: 80"), PortError);
  assertThrows(() => SocketAddress.parse("1:0001.F291.0004"), AddressError); // address taken as "1", port the rest
  assertThrows(() => SocketAddress.parse("nocolon"), AddressError, /no ':port'/);
  assertThrows(() => SocketAddress.parse("1:00A3.F291.0004:80"), AddressError, /network mismatch/);
  assertThrows(() => new SocketAddress(new Address(0, 1), 70000), PortError);
  assert(new PortError("x") instanceof AddressError);
});

const arbAddress = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffffffff }))
  .map(([n, h]) => new Address(n, h));

Deno.test("property: text and bytes round-trip", () => {
  fc.assert(
    fc.property(arbAddress, (a) => {
      const text = a.toString();
      assert(/^(0|[1-9][0-9]*):[0-9A-F]{4}\.[0-9A-F]{4}\.[0-9A-F]{4}$/.test(text), text);
      assert(Address.parse(text).equals(a));
      assert(Address.parse(text.toLowerCase()).equals(a));
      const bytes = a.toBytes();
      assertEquals(bytes.length, ADDRESS_LENGTH);
      assert(Address.fromBytes(bytes).equals(a));
    }),
    { numRuns: 1000 },
  );
});

Deno.test("property: SocketAddress round-trips", () => {
  fc.assert(
    fc.property(arbAddress, fc.integer({ min: 0, max: 0xffff }), (a, port) => {
      const s = new SocketAddress(a, port);
      assert(SocketAddress.parse(s.toString()).equals(s));
    }),
    { numRuns: 500 },
  );
});

function onlyAddressError(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof AddressError)) throw e;
  }
}

Deno.test("fuzz: random text and bytes only produce AddressError", () => {
  const addressish = fc.stringMatching(/^[0-9A-Fa-f:.+\- x]{0,24}$/);
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 40 }), addressish), (text) => {
      onlyAddressError(() => Address.parse(text));
      onlyAddressError(() => SocketAddress.parse(text));
      onlyAddressError(() => parseAddressOrNodeId(text));
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 12 }), fc.integer({ min: -2, max: 14 }), (bytes, off) => {
      onlyAddressError(() => Address.fromBytes(bytes, off));
      onlyAddressError(() => Address.readFrom(new DataView(bytes.buffer), off));
    }),
    { numRuns: 1000 },
  );
});

Deno.test("fuzz: truncations and single-character edits of valid text only produce AddressError", () => {
  fc.assert(
    fc.property(
      arbAddress,
      fc.nat(),
      fc.nat(),
      fc.string({ minLength: 1, maxLength: 1 }),
      (a, cut, pos, ch) => {
        const text = a.toString();
        const n = cut % (text.length + 1);
        if (n < text.length) assertThrows(() => Address.parse(text.slice(0, n)), AddressError);
        const i = pos % text.length;
        onlyAddressError(() => Address.parse(text.slice(0, i) + ch + text.slice(i + 1)));
      },
    ),
    { numRuns: 1000 },
  );
});
