import { assertEquals } from "../../tests/assert.ts";
import { until } from "../../tests/helpers/wait.ts";
import { connectionSource, FrameServer } from "./server.ts";
import { encodeFrame, MAX_REQUEST_BODY } from "./wire.ts";
import { RawConn } from "../../tests/registry/helpers.ts";

Deno.test("connectionSource: IPv4 as is, IPv4-mapped unmapped, IPv6 grouped by /64", () => {
  assertEquals(connectionSource("192.0.2.7"), "192.0.2.7");
  assertEquals(connectionSource("::ffff:192.0.2.7"), "192.0.2.7");
  assertEquals(connectionSource("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  assertEquals(connectionSource("2001:db8:1:2:bbbb:cccc:dddd:eeee"), "2001:db8:1:2::/64");
  assertEquals(connectionSource("fe80::1%eth0"), "fe80::/64");
  assertEquals(connectionSource("not an address"), "not an address");
});

/** A request frame whose JSON body is exactly `bodyBytes` long: `{"id":ID,"pad":"xxx…"}`. */
function paddedFrame(id: string, bodyBytes: number): Uint8Array {
  const empty = JSON.stringify({ id, pad: "" }).length;
  return encodeFrame({ id, pad: "x".repeat(bodyBytes - empty) }, MAX_REQUEST_BODY);
}

Deno.test({
  name:
    "FrameServer: requests over 4 KiB wait in line for the shared input pool; small ones pass; a dropped holder's share goes on",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const BIG = 60_000;
    // Room beyond the allowances for exactly one big request at a time.
    const server = new FrameServer(
      { hostname: "127.0.0.1", port: 0, inputPool: BIG, frameTimeoutMs: 800 },
      (req) => Promise.resolve({ type: "ok", id: req.id, pad: String(req.pad ?? "").length }),
    );
    const conns: RawConn[] = [];
    const open = async () => {
      const c = await RawConn.open(server.addr.port);
      conns.push(c);
      return c;
    };
    try {
      const a = await open();
      const b = await open();
      const frameA = paddedFrame("a", BIG);
      await a.writeBytes(frameA.subarray(0, 40_000)); // A takes the pool for the rest of its frame
      await until("A holds pool bytes", () => server.stats.inputPoolBytes > 0);
      await b.writeBytes(paddedFrame("b", BIG)); // B must wait for A's share
      await until("B waits for the pool", () => server.stats.inputPoolWaits === 1);
      await new Promise((r) => setTimeout(r, 200));
      assertEquals(server.stats.requests, 0, "B's whole request waits while A holds the pool");
      const c = await open();
      await c.writeBytes(paddedFrame("c", 500));
      assertEquals((await c.recv())?.id, "c", "a small request passes");
      await a.writeBytes(frameA.subarray(40_000));
      assertEquals((await a.recv())?.id, "a");
      assertEquals((await b.recv())?.id, "b", "A's share went to B");

      // A holder that stalls is dropped at the frame deadline, and its share goes to the next in line.
      const d = await open();
      const e = await open();
      await d.writeBytes(paddedFrame("d", BIG).subarray(0, 30_000));
      await until("D holds pool bytes", () => server.stats.inputPoolBytes > 0);
      // E's own frame clock runs while it waits: it starts well after D's, so D's deadline comes first.
      await new Promise((r) => setTimeout(r, 400));
      await e.writeBytes(paddedFrame("e", BIG));
      await until("E waits for the pool", () => server.stats.inputPoolWaits === 2);
      assertEquals((await e.recv())?.id, "e");
      assertEquals(server.stats.frameTimeouts, 1);
    } finally {
      for (const c of conns) c.close();
      await server.close();
    }
  },
});

Deno.test({
  name:
    "FrameServer: deadlines are checked only while a connection has one; an idle connection is closed after its idle limit",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const server = new FrameServer(
      { hostname: "127.0.0.1", port: 0, idleTimeoutMs: 300 },
      (req) => Promise.resolve({ type: "ok", id: req.id }),
    );
    const conns: RawConn[] = [];
    try {
      assertEquals(server.nextDeadlineCheck, Infinity, "no connection: nothing to wake up for");
      const a = await RawConn.open(server.addr.port);
      conns.push(a);
      await until("A's deadline is scheduled", () => server.nextDeadlineCheck !== Infinity);
      await a.writeBytes(paddedFrame("a", 100));
      assertEquals((await a.recv())?.id, "a");
      await until("A is closed when idle", () => server.stats.idleTimeouts === 1);
      assertEquals(server.stats.requests, 1);
      await until("no check left once A is gone", () => server.nextDeadlineCheck === Infinity);
    } finally {
      for (const c of conns) c.close();
      await server.close();
    }
  },
});
