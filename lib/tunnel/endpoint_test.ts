import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { Endpoint, EndpointError } from "./endpoint.ts";

Deno.test("endpoint: IPv4 and IPv6 text forms, mapped IPv4 folded", () => {
  assertEquals(Endpoint.parse("192.0.2.1:9001").key, "192.0.2.1:9001");
  assertEquals(Endpoint.parse("[2001:db8::1]:53").key, "[2001:db8::1]:53");
  const mapped = Endpoint.of("::ffff:10.0.0.1", 7);
  assertEquals(mapped.key, "10.0.0.1:7");
  assert(mapped.isIPv4);
  assert(mapped.equals(Endpoint.of("10.0.0.1", 7)));
  assert(!mapped.equals(Endpoint.of("10.0.0.1", 8)));
  assertEquals(Endpoint.from({ host: "127.0.0.1", port: 1 }).toString(), "127.0.0.1:1");
  assertEquals(Endpoint.fromBytes(Uint8Array.of(127, 0, 0, 1), 5).key, "127.0.0.1:5");
});

Deno.test("endpoint: malformed text and ports throw EndpointError only", () => {
  for (
    const bad of ["", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "::1:80", "[::1]80", "host:80", "1.2.3.4:-1"]
  ) {
    assertThrows(() => Endpoint.parse(bad), EndpointError);
  }
  assertThrows(() => Endpoint.of("1.2.3.4", 1.5), EndpointError);
  assertThrows(() => Endpoint.fromBytes(new Uint8Array(5), 1), EndpointError);
  fc.assert(fc.property(fc.string(), (text) => {
    try {
      Endpoint.parse(text);
    } catch (err) {
      assert(err instanceof EndpointError, String(err));
    }
  }));
});

Deno.test("endpoint: text round trip for any IPv4/IPv6 address and port", () => {
  fc.assert(fc.property(
    fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 })),
    fc.integer({ min: 0, max: 65535 }),
    (ip, port) => {
      const e = Endpoint.fromBytes(ip, port);
      const back = Endpoint.parse(e.key);
      assertEquals(back.key, e.key);
      assertEquals([...back.ip], [...e.ip]);
    },
  ));
});
