import { assertEquals } from "../../tests/assert.ts";
import { connectionSource } from "./server.ts";

Deno.test("connectionSource: IPv4 as is, IPv4-mapped unmapped, IPv6 grouped by /64", () => {
  assertEquals(connectionSource("192.0.2.7"), "192.0.2.7");
  assertEquals(connectionSource("::ffff:192.0.2.7"), "192.0.2.7");
  assertEquals(connectionSource("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  assertEquals(connectionSource("2001:db8:1:2:bbbb:cccc:dddd:eeee"), "2001:db8:1:2::/64");
  assertEquals(connectionSource("fe80::1%eth0"), "fe80::/64");
  assertEquals(connectionSource("not an address"), "not an address");
});
