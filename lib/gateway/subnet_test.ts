import { assertEquals, assertThrows } from "../../tests/assert.ts";
import {
  allocateIPv4,
  formatIPv4,
  isLoopbackIPv4,
  parseIPv4,
  parseSubnet,
  subnetContains,
  SubnetError,
} from "./subnet.ts";

Deno.test("subnet: parses CIDR, clears host bits, rejects junk", () => {
  assertEquals(parseSubnet("10.4.0.0/16").text, "10.4.0.0/16");
  assertEquals(parseSubnet("127.77.3.9/16").text, "127.77.0.0/16");
  for (
    const bad of ["10.4.0.0", "10.4.0.0/33", "10.4.0.0/0", "10.4.0/16", "256.0.0.0/8", "a.b.c.d/8", "/16"]
  ) {
    assertThrows(() => parseSubnet(bad), SubnetError);
  }
  assertEquals(formatIPv4(parseIPv4("192.168.1.254")), "192.168.1.254");
});

Deno.test("subnet: allocation starts at .1, skips used addresses, stops at the end", () => {
  const s = parseSubnet("10.4.0.0/16");
  assertEquals(allocateIPv4(s, new Set()), "10.4.0.1");
  assertEquals(allocateIPv4(s, new Set(["10.4.0.1", "10.4.0.2"])), "10.4.0.3");
  const tiny = parseSubnet("127.77.0.0/30"); // .0 .. .3
  assertEquals(allocateIPv4(tiny, new Set(["127.77.0.1", "127.77.0.2"])), "127.77.0.3");
  assertThrows(
    () => allocateIPv4(tiny, new Set(["127.77.0.1", "127.77.0.2", "127.77.0.3"])),
    SubnetError,
    /exhausted/,
  );
});

Deno.test("subnet: membership and loopback", () => {
  const s = parseSubnet("127.77.0.0/16");
  assertEquals(subnetContains(s, "127.77.200.1"), true);
  assertEquals(subnetContains(s, "127.78.0.1"), false);
  assertEquals(subnetContains(s, "not-an-ip"), false);
  assertEquals(isLoopbackIPv4("127.77.0.1"), true);
  assertEquals(isLoopbackIPv4("10.4.0.1"), false);
});
