import { assertEquals, assertRejects } from "../../tests/assert.ts";
import { IpcError } from "../ipc/errors.ts";
import { AcceptQueue, acceptUntilClosed } from "./accept_queue.ts";

Deno.test("accept queue: a waiting take gets the next offer, queued items come out in order", async () => {
  const q = new AcceptQueue<number>(2, () => {});
  const waiting = q.take("take");
  assertEquals(q.offer(1), true);
  assertEquals(await waiting, 1);
  assertEquals([q.offer(2), q.offer(3), q.offer(4)], [true, true, false]);
  assertEquals([await q.take("take"), await q.take("take")], [2, 3]);
});

Deno.test("accept queue: fail rejects waiters and later takes, drops what was queued, refuses offers", async () => {
  const dropped: number[] = [];
  const q = new AcceptQueue<number>(4, (n) => dropped.push(n));
  q.offer(1);
  q.offer(2);
  const err = new IpcError("closed", "gone");
  q.fail(err);
  q.fail(new IpcError("disconnected", "ignored: fail is idempotent"));
  assertEquals([q.failed, dropped, q.offer(3)], [true, [1, 2], false]);
  const later = await assertRejects(() => q.take("take"), IpcError);
  assertEquals(later, err);

  const r = new AcceptQueue<number>(4, () => {});
  const waiting = r.take("take");
  r.fail(err);
  assertEquals(await assertRejects(() => waiting, IpcError), err);
});

Deno.test("accept queue: a take times out and is forgotten, so the next offer is queued", async () => {
  const q = new AcceptQueue<number>(4, () => {});
  const e = await assertRejects(() => q.take("slow take", { timeoutMs: 10 }), IpcError);
  assertEquals((e as IpcError).reason, "timeout");
  q.offer(7);
  assertEquals(await q.take("take"), 7);
});

Deno.test("acceptUntilClosed ends on closed, rethrows anything else", async () => {
  const q = new AcceptQueue<number>(4, () => {});
  q.offer(1);
  q.offer(2);
  q.fail(new IpcError("closed", "done"));
  const q2 = new AcceptQueue<number>(4, () => {});
  q2.offer(1);
  q2.fail(new IpcError("timeout", "odd"));
  const seen: number[] = [];
  for await (const n of acceptUntilClosed(() => q.take("take"))) seen.push(n);
  assertEquals(seen, []); // fail dropped the queue
  const it = acceptUntilClosed(() => q2.take("take"));
  await assertRejects(() => it.next(), IpcError);
});
