import { assertEquals, assertRejects, assertThrows } from "../../tests/assert.ts";
import { Logger } from "../log.ts";
import { ControlError, controlRequest, parseControlRequest, serveControl } from "./control.ts";

Deno.test("control: requests are validated", () => {
  assertEquals(parseControlRequest({ op: "map", addr: "0:0000.0000.0004" }), {
    op: "map",
    addr: "0:0000.0000.0004",
    ip: undefined,
  });
  assertEquals(parseControlRequest({ op: "expose", port: 80, target: "127.0.0.1:8080" }).op, "expose");
  for (
    const bad of [null, 7, {}, { op: "rm -rf" }, { op: "map" }, { op: "unmap", ip: 5 }, {
      op: "expose",
      port: 0,
      target: "x",
    }, {
      op: "unexpose",
      port: 70000,
    }]
  ) {
    assertThrows(() => parseControlRequest(bad), ControlError);
  }
});

Deno.test("control: a request and its error travel over the socket with their codes", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/c.sock`;
  const server = await serveControl(path, (req) => {
    if (req.op === "list") return Promise.resolve({ total: 0 });
    return Promise.reject(new ControlError("not_found", "no such mapping"));
  }, new Logger("test", "error"));
  try {
    assertEquals(await controlRequest(path, { op: "list" }), { total: 0 });
    const err = await assertRejects(() => controlRequest(path, { op: "unmap", ip: "1.2.3.4" }), ControlError);
    assertEquals((err as ControlError).code, "not_found");
    // Garbage gets an error answer, not a crash.
    const conn = await Deno.connect({ transport: "unix", path });
    await conn.write(new TextEncoder().encode("{nope\n"));
    const buf = new Uint8Array(1024);
    const n = await conn.read(buf);
    conn.close();
    assertEquals(JSON.parse(new TextDecoder().decode(buf.subarray(0, n!))).code, "invalid_argument");
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
  const gone = await assertRejects(() => controlRequest(path, { op: "list" }), ControlError);
  assertEquals((gone as ControlError).code, "not_running");
});
