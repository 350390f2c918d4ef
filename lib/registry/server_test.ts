import { assertEquals } from "../../tests/assert.ts";
import { until } from "../../tests/helpers/wait.ts";
import { connectionSource, FrameServer } from "./server.ts";
import {
  decodeBody,
  encodeFrame,
  FrameReader,
  MAX_REPLY_BODY,
  MAX_REQUEST_BODY,
  type WireMessage,
} from "./wire.ts";

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

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

/**
 * The next reply on `conn`, or "none" if nothing complete arrives within `ms` (a read then stays
 * pending, so call it once per connection).
 */
async function replyWithin(conn: Deno.Conn, ms: number): Promise<WireMessage | "none"> {
  const reader = new FrameReader(MAX_REPLY_BODY);
  const buf = new Uint8Array(4096);
  const deadline = Date.now() + ms;
  for (;;) {
    const body = reader.next();
    if (body) return decodeBody(body);
    const left = deadline - Date.now();
    if (left <= 0) return "none";
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      conn.read(buf),
      new Promise<"late">((r) => timer = setTimeout(() => r("late"), left)),
    ]);
    clearTimeout(timer);
    if (n === "late") return "none";
    if (n === null) throw new Error("connection closed by the server");
    reader.push(buf.subarray(0, n));
  }
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
    const conns: Deno.Conn[] = [];
    const open = async () => {
      const c = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
      conns.push(c);
      return c;
    };
    try {
      const a = await open();
      const b = await open();
      const frameA = paddedFrame("a", BIG);
      await writeAll(a, frameA.subarray(0, 40_000)); // A takes the pool for the rest of its frame
      await until("A holds pool bytes", () => server.stats.inputPoolBytes > 0);
      await writeAll(b, paddedFrame("b", BIG)); // B must wait for A's share
      await until("B waits for the pool", () => server.stats.inputPoolWaits === 1);
      await new Promise((r) => setTimeout(r, 200));
      assertEquals(server.stats.requests, 0, "B's whole request waits while A holds the pool");
      const c = await open();
      await writeAll(c, paddedFrame("c", 500));
      assertEquals((await replyWithin(c, 2000) as WireMessage).id, "c", "a small request passes");
      await writeAll(a, frameA.subarray(40_000));
      assertEquals((await replyWithin(a, 2000) as WireMessage).id, "a");
      assertEquals((await replyWithin(b, 2000) as WireMessage).id, "b", "A's share went to B");

      // A holder that stalls is dropped at the frame deadline, and its share goes to the next in line.
      const d = await open();
      const e = await open();
      await writeAll(d, paddedFrame("d", BIG).subarray(0, 30_000));
      await until("D holds pool bytes", () => server.stats.inputPoolBytes > 0);
      // E's own frame clock runs while it waits: it starts well after D's, so D's deadline comes first.
      await new Promise((r) => setTimeout(r, 400));
      await writeAll(e, paddedFrame("e", BIG));
      await until("E waits for the pool", () => server.stats.inputPoolWaits === 2);
      assertEquals((await replyWithin(e, 3000) as WireMessage).id, "e");
      assertEquals(server.stats.frameTimeouts, 1);
    } finally {
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await server.close();
    }
  },
});
