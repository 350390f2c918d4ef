import fc from "fast-check";
import { assertEquals, assertThrows } from "../../../tests/assert.ts";
import { Address } from "../../protocol/address.ts";
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  formatResponse,
  MAX_NAME_LENGTH,
  MAX_REQUEST_BYTES,
  NameserverError,
  type NameserverRequest,
  type NameserverResponse,
} from "./codec.ts";

const text = (s: string) => new TextEncoder().encode(s);
const addr = Address.parse("0:0000.0000.002A");

Deno.test("nameserver requests are the text lines of docs/protocol/services.md §8", () => {
  const cases: [NameserverRequest, string][] = [
    [{ op: "query", type: "A", name: "web" }, "QUERY A web"],
    [{ op: "query", type: "N", name: "lab" }, "QUERY N lab"],
    [{ op: "query", type: "S", network: 1, port: 80 }, "QUERY S 1 80"],
    [{ op: "register", type: "A", name: "web", address: addr }, "REGISTER A web 0:0000.0000.002A"],
    [{ op: "register", type: "N", name: "lab", network: 7 }, "REGISTER N lab 7"],
    [
      { op: "register", type: "S", name: "web", address: addr, network: 1, port: 80 },
      "REGISTER S web 0:0000.0000.002A 1 80",
    ],
  ];
  for (const [req, line] of cases) {
    assertEquals(new TextDecoder().decode(encodeRequest(req)), line);
    assertEquals(decodeRequest(text(line)), req);
  }
  // Command and type are case-insensitive, any whitespace separates, a trailing newline is fine.
  assertEquals(decodeRequest(text("query\ta  web\n")), { op: "query", type: "A", name: "web" });
  // Names are not folded.
  assertEquals(decodeRequest(text("QUERY A Web")), { op: "query", type: "A", name: "Web" });
});

Deno.test("nameserver answers are the text lines of docs/protocol/services.md §8", () => {
  const cases: [NameserverResponse, string][] = [
    [{ kind: "A", name: "web", address: addr }, "A web 0:0000.0000.002A"],
    [{ kind: "N", name: "lab", network: 7 }, "N lab 7"],
    [{ kind: "S", services: [] }, "S"],
    [
      {
        kind: "S",
        services: [{ name: "a", address: addr, port: 80 }, { name: "b", address: addr, port: 80 }],
      },
      "S a 0:0000.0000.002A 80\nS b 0:0000.0000.002A 80",
    ],
    [{ kind: "OK" }, "OK"],
    [{ kind: "ERR", message: 'name "x" not found' }, 'ERR name "x" not found'],
  ];
  for (const [resp, line] of cases) {
    assertEquals(new TextDecoder().decode(encodeResponse(resp)), line);
    assertEquals(decodeResponse(text(line)), resp);
  }
  // ERR texts are one printable line.
  assertEquals(formatResponse({ kind: "ERR", message: "a\nb\x00c" }), "ERR a b c");
});

Deno.test("malformed requests are refused with a reason", () => {
  const bad: [string, RegExp][] = [
    ["", /too few fields/],
    ["QUERY", /too few fields/],
    ["DELETE A x", /unknown command: DELETE/],
    ["QUERY MX x", /unknown record type: MX/],
    ["QUERY A", /QUERY A requires <name>/],
    ["QUERY S 1", /QUERY S requires <network_id> <port>/],
    ["QUERY S 1 65536", /invalid port/],
    ["QUERY S 65536 1", /invalid network_id/],
    ["QUERY S -1 1", /invalid network_id/],
    ["REGISTER A web nowhere", /invalid address/],
    ["REGISTER A web 0:0000.0000.0001 extra", /too many fields/],
    ["REGISTER N lab x", /invalid network_id/],
    ["REGISTER S web 0:0000.0000.0001 1", /REGISTER S requires/],
    [`QUERY A ${"x".repeat(MAX_NAME_LENGTH + 1)}`, /invalid name/],
    ["QUERY A caf\u00e9", /invalid name/],
    ["x".repeat(MAX_REQUEST_BYTES + 1), /request too long/],
  ];
  for (const [line, why] of bad) {
    const err = assertThrows(() => decodeRequest(text(line)), NameserverError);
    assertEquals(why.test(err.message), true, `${line.slice(0, 40)}: ${err.message}`);
  }
  assertThrows(() => decodeRequest(new Uint8Array([0x51, 0xff, 0xfe])), NameserverError, /UTF-8/);
  // Encoders refuse what the decoder would refuse.
  assertThrows(() => encodeRequest({ op: "query", type: "A", name: "two words" }), NameserverError);
  assertThrows(() => encodeRequest({ op: "query", type: "S", network: 70000, port: 1 }), NameserverError);
});

Deno.test("malformed answers are refused with a reason", () => {
  for (
    const line of [
      "",
      "MAYBE",
      "A web",
      "N lab x",
      "S a 0:0000.0000.0001",
      "S\nS a b 1",
      "OK extra",
      "OK\nOK",
    ]
  ) {
    assertThrows(() => decodeResponse(text(line)), NameserverError);
  }
});

const nameArb = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => /^[\x21-\x7e]+$/.test(s));
const addrArb = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff_ffff })).map((
  [n, id],
) => new Address(n, id));
const u16 = fc.integer({ min: 0, max: 0xffff });
const requestArb: fc.Arbitrary<NameserverRequest> = fc.oneof(
  fc.record({ op: fc.constant("query" as const), type: fc.constant("A" as const), name: nameArb }),
  fc.record({ op: fc.constant("query" as const), type: fc.constant("N" as const), name: nameArb }),
  fc.record({ op: fc.constant("query" as const), type: fc.constant("S" as const), network: u16, port: u16 }),
  fc.record({
    op: fc.constant("register" as const),
    type: fc.constant("A" as const),
    name: nameArb,
    address: addrArb,
  }),
  fc.record({
    op: fc.constant("register" as const),
    type: fc.constant("N" as const),
    name: nameArb,
    network: u16,
  }),
  fc.record({
    op: fc.constant("register" as const),
    type: fc.constant("S" as const),
    name: nameArb,
    address: addrArb,
    network: u16,
    port: u16,
  }),
);

Deno.test("every request round-trips", () => {
  fc.assert(fc.property(requestArb, (req) => {
    assertEquals(JSON.stringify(decodeRequest(encodeRequest(req))), JSON.stringify(req));
  }));
});

Deno.test("every answer round-trips", () => {
  const responseArb: fc.Arbitrary<NameserverResponse> = fc.oneof(
    fc.record({ kind: fc.constant("A" as const), name: nameArb, address: addrArb }),
    fc.record({ kind: fc.constant("N" as const), name: nameArb, network: u16 }),
    fc.record({
      kind: fc.constant("S" as const),
      services: fc.array(fc.record({ name: nameArb, address: addrArb, port: u16 }), { maxLength: 5 }),
    }),
    fc.constant({ kind: "OK" as const }),
    fc.record({
      kind: fc.constant("ERR" as const),
      message: fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/),
    }),
  );
  fc.assert(fc.property(responseArb, (resp) => {
    assertEquals(JSON.stringify(decodeResponse(encodeResponse(resp))), JSON.stringify(resp));
  }));
});

/** Decoding must either succeed or throw NameserverError, whatever the bytes. */
function onlyOwnErrors(decode: (b: Uint8Array) => unknown, bytes: Uint8Array): void {
  try {
    decode(bytes);
  } catch (err) {
    if (!(err instanceof NameserverError)) throw err;
  }
}

Deno.test("fuzz: decoders throw only NameserverError on arbitrary bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
      onlyOwnErrors(decodeRequest, bytes);
      onlyOwnErrors(decodeResponse, bytes);
    }),
    { numRuns: 3000 },
  );
});

Deno.test("fuzz: decoders throw only NameserverError on near-valid text", () => {
  const token = fc.oneof(
    fc.constantFrom("QUERY", "REGISTER", "query", "A", "N", "S", "OK", "ERR", "a", "S\n", "\n"),
    fc.constantFrom("0:0000.0000.0001", "65535:FFFF.FFFF.FFFF", "1:0000.0000", "99999", "-1", "1e3", "0x10"),
    fc.string({ maxLength: 12 }),
    u16.map(String),
  );
  fc.assert(
    fc.property(fc.array(token, { maxLength: 8 }), fc.constantFrom(" ", "\t", "\n", "  "), (tokens, sep) => {
      const bytes = text(tokens.join(sep));
      onlyOwnErrors(decodeRequest, bytes);
      onlyOwnErrors(decodeResponse, bytes);
    }),
    { numRuns: 3000 },
  );
});
