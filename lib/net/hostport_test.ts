import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { formatHostPort, HostPortError, parseHostPort } from "./hostport.ts";

Deno.test("host:port parses names, IPv4 and bracketed IPv6, and formats back", () => {
  assertEquals(parseHostPort("127.0.0.1:0"), { host: "127.0.0.1", port: 0 });
  assertEquals(parseHostPort("localhost:9000"), { host: "localhost", port: 9000 });
  assertEquals(parseHostPort("[::1]:80"), { host: "::1", port: 80 });
  assertEquals(formatHostPort({ host: "::1", port: 80 }), "[::1]:80");
  assertEquals(formatHostPort({ host: "127.0.0.1", port: 5 }), "127.0.0.1:5");
});

Deno.test("host:port refuses malformed text and names the setting", () => {
  for (const bad of ["127.0.0.1", ":80", "host:99999", "a:b", "::1:80", "h :1", ""]) {
    assertThrows(() => parseHostPort(bad, "--registry"), HostPortError, /--registry must be HOST:PORT/);
  }
});
