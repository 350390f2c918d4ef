import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import {
  EPHEMERAL_PORT_MAX,
  EPHEMERAL_PORT_MIN,
  isEphemeralPort,
  isRegisteredPort,
  isValidPort,
  isWellKnownPort,
  nextEphemeralPort,
  parsePort,
  PORT_CONTROL,
  PORT_DATA_EXCHANGE,
  PORT_ECHO,
  PORT_EVENT_STREAM,
  PORT_HTTP,
  PORT_NAMESERVER,
  PORT_PING,
  PORT_SECURE,
  PORT_STDIO,
  PORT_TASKS,
  PORT_TRUST,
  PortError,
  validatePort,
} from "./ports.ts";

Deno.test("well-known port numbers match docs/protocol/wire.md §2", () => {
  assertEquals(
    [PORT_PING, PORT_CONTROL, PORT_ECHO, PORT_NAMESERVER, PORT_HTTP, PORT_SECURE, PORT_TRUST],
    [0, 1, 7, 53, 80, 443, 444],
  );
  assertEquals([PORT_STDIO, PORT_DATA_EXCHANGE, PORT_EVENT_STREAM, PORT_TASKS], [1000, 1001, 1002, 1003]);
  assertEquals([EPHEMERAL_PORT_MIN, EPHEMERAL_PORT_MAX], [49152, 65535]);
});

Deno.test("ranges partition 0..65535", () => {
  for (
    const [p, w, r, e] of [
      [0, 1, 0, 0],
      [1023, 1, 0, 0],
      [1024, 0, 1, 0],
      [49151, 0, 1, 0],
      [49152, 0, 0, 1],
      [
        65535,
        0,
        0,
        1,
      ],
    ]
  ) {
    assertEquals([isWellKnownPort(p), isRegisteredPort(p), isEphemeralPort(p)], [!!w, !!r, !!e], `port ${p}`);
  }
  assert(!isEphemeralPort(65536));
  assert(!isWellKnownPort(-1));
});

Deno.test("validatePort and isValidPort", () => {
  assertEquals(validatePort(0), 0);
  assertEquals(validatePort(65535), 65535);
  for (const bad of [-1, 65536, 1.5, NaN, Infinity]) {
    assert(!isValidPort(bad));
    assertThrows(() => validatePort(bad, "source port"), PortError, /source port/);
  }
});

Deno.test("nextEphemeralPort wraps to the start of the range", () => {
  assertEquals(nextEphemeralPort(49152), 49153);
  assertEquals(nextEphemeralPort(65535), 49152);
  assertEquals(nextEphemeralPort(80), 49152);
});

Deno.test("parsePort: decimal digits only", () => {
  assertEquals(parsePort("0"), 0);
  assertEquals(parsePort("00080"), 80);
  assertEquals(parsePort("65535"), 65535);
  for (const bad of ["", "65536", "-1", "+1", " 1", "1 ", "0x10", "1e3", "8_0", "9".repeat(100)]) {
    assertThrows(() => parsePort(bad), PortError);
  }
});
