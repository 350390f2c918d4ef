import { assert, assertEquals } from "../../../tests/assert.ts";
import { Hono } from "hono";
import { Logger } from "../../log.ts";
import type { AuditEntry } from "../state/audit.ts";
import { WEBHOOK_DLQ_CAPACITY, WEBHOOK_DLQ_FILE, WebhookDispatcher } from "./webhook.ts";

const quiet = new Logger("test", "silent");

function entry(seq: number): AuditEntry {
  return {
    seq,
    t: 1_700_000_000_000 + seq,
    action: "node.registered",
    actor: "node:1",
    network_id: 0,
    node_id: seq,
  };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  assert(check(), "condition not reached");
}

Deno.test("webhook: a 4xx dead-letters at once, the queue is bounded, a failing replay keeps letters once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pilot-webhook-unit-" });
  let status = 400;
  let posts = 0;
  const app = new Hono();
  app.post("/", (c) => {
    posts++;
    return c.body(null, status as 400);
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  try {
    const hook = await WebhookDispatcher.open(dir, quiet);
    hook.setUrl(`http://127.0.0.1:${server.addr.port}/`);
    const total = WEBHOOK_DLQ_CAPACITY + 5;
    for (let i = 1; i <= total; i++) hook.offer(entry(i));
    // Listed once on disk: wait for the write that holds the last letter.
    await until(() => hook.stats.failed === total && hook.deadLetters().at(-1)?.seq === total);
    assertEquals(hook.stats.dlq_size, WEBHOOK_DLQ_CAPACITY);
    assertEquals(posts, total, "one attempt each: a 400 is not retried");
    const letters = hook.deadLetters();
    assertEquals(letters[0].seq, 6, "the oldest letters made room");
    assertEquals(letters.at(-1)!.seq, total);
    assertEquals(hook.cursor, total);

    // Replaying into a receiver that still refuses: every letter stays, once.
    assertEquals(hook.replay(), WEBHOOK_DLQ_CAPACITY);
    await until(() => posts === total + WEBHOOK_DLQ_CAPACITY && hook.stats.queued === 0);
    await new Promise((r) => setTimeout(r, 100));
    assertEquals(hook.deadLetters().map((l) => l.seq), letters.map((l) => l.seq));
    await hook.close(0);

    // From disk, and delivered by a replay once the receiver accepts.
    const stored = JSON.parse(await Deno.readTextFile(`${dir}/${WEBHOOK_DLQ_FILE}`));
    assertEquals(stored.length, WEBHOOK_DLQ_CAPACITY);
    const again = await WebhookDispatcher.open(dir, quiet);
    assertEquals(again.deadLetters().length, WEBHOOK_DLQ_CAPACITY);
    again.setUrl(`http://127.0.0.1:${server.addr.port}/`);
    status = 204;
    assertEquals(again.replay(), WEBHOOK_DLQ_CAPACITY);
    await until(() => again.stats.dlq_size === 0);
    assertEquals(again.stats.delivered, WEBHOOK_DLQ_CAPACITY);
    // New events get ids after the stored ones.
    again.offer(entry(999));
    await until(() => again.stats.delivered === WEBHOOK_DLQ_CAPACITY + 1);
    await again.close(0);
    assertEquals(JSON.parse(await Deno.readTextFile(`${dir}/${WEBHOOK_DLQ_FILE}`)), []);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
