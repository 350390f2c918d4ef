import dgram from "node:dgram";
import { assertEquals } from "../../tests/assert.ts";
import { UdpSendQueue } from "./send_queue.ts";

Deno.test("send queue: FIFO order for a same-tick burst, bounded, reports errors and keeps going", async () => {
  const rx = dgram.createSocket("udp4");
  const tx = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => rx.bind(0, "127.0.0.1", () => resolve()));
  await new Promise<void>((resolve) => tx.bind(0, "127.0.0.1", () => resolve()));
  const port = rx.address().port;
  const got: number[] = [];
  let done!: () => void;
  const all = new Promise<void>((resolve) => done = resolve);
  rx.on("message", (msg) => {
    got.push(msg[0]);
    if (got.length === 3) done();
  });
  const errors: string[] = [];
  const queue = new UdpSendQueue(tx, 3, (err) => errors.push(err.message));
  const accepted = [0, 1, 2, 3, 4].map((i) =>
    queue.push(Uint8Array.of(i), i === 2 ? 70000 : port, "127.0.0.1")
  );
  // 0 goes straight into flight, 1–3 wait (limit 3), 4 is refused.
  assertEquals(accepted, [true, true, true, true, false]);
  await all;
  await new Promise((resolve) => setTimeout(resolve, 50));
  assertEquals(got, [0, 1, 3]); // 2 had an invalid port: reported, not fatal
  assertEquals(errors.length, 1);
  queue.close();
  assertEquals(queue.push(Uint8Array.of(9), port, "127.0.0.1"), false);
  await new Promise<void>((resolve) => rx.close(() => resolve()));
  await new Promise<void>((resolve) => tx.close(() => resolve()));
});
