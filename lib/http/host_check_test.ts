import { Hono } from "hono";
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { hostCheck, hostHeaderName, hostMatcher, parseHostNames } from "./host_check.ts";

Deno.test("hostHeaderName: name, name:port and [v6]:port; malformed gives empty", () => {
  assertEquals(hostHeaderName("Example.LAN:8080"), "example.lan");
  assertEquals(hostHeaderName("example.lan."), "example.lan");
  assertEquals(hostHeaderName("[::1]:7380"), "::1");
  assertEquals(hostHeaderName("127.0.0.1"), "127.0.0.1");
  for (const bad of ["", "a b", "x:y", "[::1", "[::1]x", "host:99999999", "::1", "a..b"]) {
    assertEquals(hostHeaderName(bad), "", bad);
  }
});

Deno.test("hostMatcher: loopback names, the bound address and configured names only", () => {
  const m = hostMatcher({ bound: "10.1.2.3", names: parseHostNames("node.lan, Other.Lan", "--http-host") });
  for (const ok of ["localhost", "localhost:1", "127.0.0.1:7380", "127.255.0.9", "[::1]", "10.1.2.3:7380"]) {
    assert(m(ok), ok);
  }
  assert(m("node.lan:80") && m("OTHER.LAN"));
  for (
    const no of [undefined, "", "evil.example", "node.lan.evil.example", "10.1.2.4", "128.0.0.1", "[::2]"]
  ) {
    assert(!m(no), String(no));
  }
  // Bound to every interface: this machine's own addresses count as "the bound address".
  const own = Deno.networkInterfaces().map((i) => i.address).find((a) =>
    !a.startsWith("127.") && a !== "::1"
  );
  const wild = hostMatcher({ bound: "0.0.0.0", names: [] });
  if (own !== undefined) assert(wild(own.includes(":") ? `[${own}]` : own), own);
  assert(!wild("0.0.0.0") || own === "0.0.0.0");
  assertThrows(() => parseHostNames("ok.lan,bad name", "--http-host"), Error, /"bad name"/);
  assertThrows(() => parseHostNames("name.lan:80", "--http-host"), Error, /without a port/);
});

Deno.test("hostCheck middleware: 421 with a reason, routes untouched for allowed hosts", async () => {
  const app = new Hono();
  app.use("*", hostCheck({ names: ["svc.lan"] }));
  app.get("/x", (c) => c.text("data"));
  const ok = await app.request("/x", { headers: { host: "svc.lan:9" } });
  assertEquals([ok.status, await ok.text()], [200, "data"]);
  const no = await app.request("/x", { headers: { host: "evil.example" } });
  assertEquals(no.status, 421);
  assert(/not served here/.test((await no.json()).error));
});
