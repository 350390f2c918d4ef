import fc from "fast-check";
import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { concatBytes, fromHex, toHex } from "../bytes.ts";
import { formatIP, unmapIPv4 } from "../net/ip.ts";
import {
  type BeaconMessage,
  BeaconMessageError,
  decodeBeaconMessage,
  encodeBeaconMessage,
  SYNC_MAX_NODES,
} from "./messages.ts";

// Expected bytes written by hand from the docs/protocol/wire.md §8 table (type ‖ fields, big-endian).
const EXAMPLES: [BeaconMessage, string][] = [
  [{ kind: "Discover", node: 0x0a0b0c0d }, "01 0a0b0c0d"],
  [{ kind: "Discover", node: 0 }, "01 00000000"],
  [{ kind: "DiscoverReply", ip: "203.0.113.7", port: 9001 }, "02 04 cb007107 2329"],
  [{ kind: "DiscoverReply", ip: "2001:db8::1", port: 443 }, "02 10 20010db8000000000000000000000001 01bb"],
  [{ kind: "PunchRequest", requester: 1, target: 0xfffffffe }, "03 00000001 fffffffe"],
  [{ kind: "PunchCommand", ip: "127.0.0.1", port: 65535 }, "04 04 7f000001 ffff"],
  [{ kind: "PunchCommand", ip: "fe80::1:2", port: 0 }, "04 10 fe800000000000000000000000010002 0000"],
  [
    { kind: "Relay", sender: 1, dest: 2, frame: fromHex("50494c5000000001") },
    "05 00000001 00000002 50494c5000000001",
  ],
  [{ kind: "Relay", sender: 3, dest: 4, frame: new Uint8Array(0) }, "05 00000003 00000004"],
  [{ kind: "RelayDeliver", sender: 0x80000000, frame: fromHex("50494c50") }, "06 80000000 50494c50"],
  [{ kind: "Sync", beaconId: 7, nodes: [1, 0x01020304] }, "07 00000007 0002 00000001 01020304"],
  [{ kind: "Sync", beaconId: 0xffffffff, nodes: [] }, "07 ffffffff 0000"],
];

Deno.test("every beacon message: hand-written bytes encode and decode exactly", () => {
  for (const [message, hex] of EXAMPLES) {
    const wire = fromHex(hex);
    assertEquals(toHex(encodeBeaconMessage(message)), toHex(wire), message.kind);
    assertEquals(decodeBeaconMessage(wire), message, message.kind);
  }
});

Deno.test("IPv4-mappable addresses go out as 4 bytes and 16-byte mapped input reads back as dotted", () => {
  assertEquals(
    toHex(encodeBeaconMessage({ kind: "DiscoverReply", ip: "::ffff:198.51.100.2", port: 1 })),
    "0204c63364020001",
  );
  assertEquals(
    toHex(encodeBeaconMessage({ kind: "PunchCommand", ip: "::FFFF:c633:6402", port: 1 })),
    "0404c63364020001",
  );
  assertEquals(
    decodeBeaconMessage(fromHex("02 10 00000000000000000000ffffc6336402 0001")),
    { kind: "DiscoverReply", ip: "198.51.100.2", port: 1 },
  );
  // IPv4-compatible (::a.b.c.d) is not mappable and stays 16 bytes.
  assertEquals(encodeBeaconMessage({ kind: "PunchCommand", ip: "::198.51.100.2", port: 1 })[1], 16);
});

Deno.test("decoders reject empty, unknown types, bad iplen and truncation; ignore trailing bytes", () => {
  const reason = (hex: string) =>
    (assertThrows(() => decodeBeaconMessage(fromHex(hex)), BeaconMessageError) as BeaconMessageError).reason;
  assertEquals(reason(""), "empty");
  for (const t of ["00", "08", "0f", "10", "50", "ff"]) assertEquals(reason(t + "00000000"), "unknown-type");
  assertEquals(reason("02 05 0102030405 0000"), "bad-ip-length");
  assertEquals(reason("04 00 0000"), "bad-ip-length");
  assertEquals(reason("04 ff 0000"), "bad-ip-length");
  assertEquals(reason("01 000000"), "truncated");
  assertEquals(reason("02"), "truncated");
  assertEquals(reason("02 04 7f000001 00"), "truncated");
  assertEquals(reason("04 10 00000000000000000000000000000001 00"), "truncated");
  assertEquals(reason("03 00000001 000000"), "truncated");
  assertEquals(reason("05 00000001 000000"), "truncated");
  assertEquals(reason("06 000000"), "truncated");
  assertEquals(reason("07 00000001 00"), "truncated");
  assertEquals(reason("07 00000001 0002 00000001"), "truncated");
  assertEquals(decodeBeaconMessage(fromHex("01 00000009 ffff")), { kind: "Discover", node: 9 });
  assertEquals(decodeBeaconMessage(fromHex("03 00000001 00000002 00")), {
    kind: "PunchRequest",
    requester: 1,
    target: 2,
  });
  assertEquals(decodeBeaconMessage(fromHex("04 04 0a000001 0050 99")), {
    kind: "PunchCommand",
    ip: "10.0.0.1",
    port: 80,
  });
  assertEquals(decodeBeaconMessage(fromHex("07 00000001 0001 00000005 00000006")), {
    kind: "Sync",
    beaconId: 1,
    nodes: [5],
  });
});

Deno.test("encoders reject out-of-range fields with BeaconMessageError", () => {
  const bad: BeaconMessage[] = [
    { kind: "Discover", node: -1 },
    { kind: "Discover", node: 2 ** 32 },
    { kind: "DiscoverReply", ip: "1.2.3", port: 1 },
    { kind: "DiscoverReply", ip: "fe80::1%eth0", port: 1 },
    { kind: "DiscoverReply", ip: "[::1]", port: 1 },
    { kind: "PunchCommand", ip: "1.2.3.4", port: 65536 },
    { kind: "PunchCommand", ip: "1.2.3.4", port: 1.5 },
    { kind: "PunchRequest", requester: 1, target: NaN },
    { kind: "Relay", sender: 1, dest: 2 ** 40, frame: new Uint8Array(0) },
    { kind: "RelayDeliver", sender: 1, frame: "PILP" as unknown as Uint8Array },
    { kind: "Sync", beaconId: 1, nodes: new Array(SYNC_MAX_NODES + 1).fill(1) },
    { kind: "Sync", beaconId: 1, nodes: [1, -2] },
  ];
  for (const message of bad) {
    const err = assertThrows(() => encodeBeaconMessage(message), BeaconMessageError) as BeaconMessageError;
    assertEquals(err.reason, "invalid-field", JSON.stringify(message));
  }
});

Deno.test("Sync carries the maximum of 65535 nodes", () => {
  const nodes = Array.from({ length: SYNC_MAX_NODES }, (_, i) => i * 7919);
  const wire = encodeBeaconMessage({ kind: "Sync", beaconId: 2, nodes });
  assertEquals(wire.length, 7 + 4 * SYNC_MAX_NODES);
  assertEquals(decodeBeaconMessage(wire), { kind: "Sync", beaconId: 2, nodes });
});

// ---- properties ----

const u32 = fc.nat({ max: 0xffffffff });
const port = fc.nat({ max: 0xffff });
/** Canonical IP text: random 4 or 16 bytes, shortened to IPv4 when mappable, then formatted. */
const ipText = fc.oneof(
  fc.uint8Array({ minLength: 4, maxLength: 4 }),
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
  fc.uint8Array({ minLength: 4, maxLength: 4 }).map((v4) =>
    concatBytes(new Uint8Array(10), fromHex("ffff"), v4)
  ),
).map((bytes) => formatIP(unmapIPv4(bytes)));
const frame = fc.uint8Array({ maxLength: 120 });

const arbMessage: fc.Arbitrary<BeaconMessage> = fc.oneof(
  fc.record({ kind: fc.constant("Discover" as const), node: u32 }),
  fc.record({ kind: fc.constant("DiscoverReply" as const), ip: ipText, port }),
  fc.record({ kind: fc.constant("PunchRequest" as const), requester: u32, target: u32 }),
  fc.record({ kind: fc.constant("PunchCommand" as const), ip: ipText, port }),
  fc.record({ kind: fc.constant("Relay" as const), sender: u32, dest: u32, frame }),
  fc.record({ kind: fc.constant("RelayDeliver" as const), sender: u32, frame }),
  fc.record({ kind: fc.constant("Sync" as const), beaconId: u32, nodes: fc.array(u32, { maxLength: 50 }) }),
).map((m) => ({ ...m }) as BeaconMessage); // fc.record objects have a null prototype

Deno.test("property: decode(encode(m)) = m and encode(decode(b)) = b for every message kind", () => {
  fc.assert(
    fc.property(arbMessage, (message) => {
      const wire = encodeBeaconMessage(message);
      assertEquals(decodeBeaconMessage(wire), message);
      assertEquals(toHex(encodeBeaconMessage(decodeBeaconMessage(wire))), toHex(wire));
    }),
    { numRuns: 700 },
  );
});

Deno.test("fuzz: random bytes only ever raise BeaconMessageError", () => {
  const input = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.tuple(fc.nat({ max: 9 }), fc.nat({ max: 20 }), fc.uint8Array({ maxLength: 64 })).map((
      [t, iplen, rest],
    ) => concatBytes(Uint8Array.of(t, iplen), rest)),
  );
  fc.assert(fc.property(input, decodesOrBeaconError), { numRuns: 3000 });
});

Deno.test("fuzz: every truncation of a valid encoding decodes or raises BeaconMessageError", () => {
  fc.assert(
    fc.property(arbMessage, (message) => {
      const wire = encodeBeaconMessage(message);
      for (let n = 0; n <= wire.length; n++) decodesOrBeaconError(wire.subarray(0, n));
    }),
    { numRuns: 300 },
  );
});

function decodesOrBeaconError(input: Uint8Array): void {
  try {
    decodeBeaconMessage(input);
  } catch (err) {
    if (!(err instanceof BeaconMessageError)) throw err;
  }
}

Deno.test("PunchCommand: our echo token rides after the fixed fields; without it the reference's bytes", () => {
  const token = new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2]);
  const withToken = encodeBeaconMessage({ kind: "PunchCommand", ip: "1.2.3.4", port: 5, token });
  assertEquals(withToken.length, 8 + 8);
  assertEquals(decodeBeaconMessage(withToken), { kind: "PunchCommand", ip: "1.2.3.4", port: 5, token });
  const bare = encodeBeaconMessage({ kind: "PunchCommand", ip: "1.2.3.4", port: 5 });
  assertEquals(bare, withToken.subarray(0, 8));
  assertEquals(decodeBeaconMessage(bare), { kind: "PunchCommand", ip: "1.2.3.4", port: 5 });
  // Other trailing lengths are ignored, as the reference ignores them.
  const odd = new Uint8Array([...bare, 1, 2, 3]);
  assertEquals(decodeBeaconMessage(odd), { kind: "PunchCommand", ip: "1.2.3.4", port: 5 });
  assertThrows(
    () => encodeBeaconMessage({ kind: "PunchCommand", ip: "1.2.3.4", port: 5, token: new Uint8Array(3) }),
    BeaconMessageError,
  );
});
