import { join } from "node:path";
import { assertEquals, assertRejects } from "../../../tests/assert.ts";
import { Address } from "../../protocol/address.ts";
import { newTaskId } from "../../services/tasks/codec.ts";
import { ACCEPT_WINDOW_MS, rfc3339, type TaskRecord } from "../../services/tasks/record.ts";
import { TaskStore } from "../../services/tasks/store.ts";
import { TaskClient, TaskError } from "./tasks.ts";

const T0 = Date.UTC(2025, 0, 1);

/** A client whose peers are unreachable (no daemon), on a real store in a temporary directory. */
async function withClient(fn: (c: TaskClient, clock: { now: number }) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pilot-taskclient-" });
  const clock = { now: T0 };
  try {
    const client = new TaskClient({
      store: new TaskStore(dir),
      dial: () => Promise.reject(new Error("connection refused")),
      now: () => clock.now,
    });
    await fn(client, clock);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function received(c: TaskClient, fields: Partial<TaskRecord> = {}): Promise<string> {
  const id = newTaskId();
  await c.store.create("received", {
    task_id: id,
    task_description: "work",
    created_at: rfc3339(T0),
    status: "NEW",
    status_justification: "A new task was created",
    from: "0:0000.0000.0007",
    to: "0:0000.0000.0008",
    ...fields,
  });
  return id;
}

async function code(p: Promise<unknown>): Promise<string> {
  const err = await assertRejects(() => p, TaskError);
  return (err as TaskError).code;
}

Deno.test("task client: accept within the window, idle time, failed notification reported", async () => {
  await withClient(async (c, clock) => {
    const id = await received(c);
    clock.now = T0 + 1_500;
    assertEquals(await c.accept(id), {
      task_id: id,
      status: "ACCEPTED",
      message: "Task accepted (submitter notification failed)",
    });
    const rec = (await c.store.read("received", id))!;
    assertEquals([rec.status, rec.time_idle_ms, rec.accepted_at], ["ACCEPTED", 1_500, rfc3339(T0 + 1_500)]);
    assertEquals(await code(c.accept(id)), "invalid_state");
    assertEquals(await code(c.accept(newTaskId())), "not_found");
    assertEquals(await c.queue(), [{
      task_id: id,
      description: "work",
      from: rec.from,
      created_at: rec.created_at,
    }]);
  });
});

Deno.test("task client: accept after 60 s is expired; decline needs NEW and a reason", async () => {
  await withClient(async (c, clock) => {
    const id = await received(c);
    clock.now = T0 + ACCEPT_WINDOW_MS + 1;
    assertEquals(await code(c.accept(id)), "expired");
    assertEquals(await code(c.decline(id, " ")), "invalid_argument");
    const d = await c.decline(id, "busy");
    assertEquals([d.status, d.justification], ["DECLINED", "busy"]);
    assertEquals(await code(c.decline(id, "busy")), "invalid_state");
  });
});

Deno.test("task client: execute takes the oldest accepted task and its staging time", async () => {
  await withClient(async (c, clock) => {
    assertEquals(await code(c.execute()), "not_found");
    const newer = await received(c, { status: "ACCEPTED", created_at: rfc3339(T0 + 10) });
    const older = await received(c, { status: "ACCEPTED", staged_at: rfc3339(T0 + 100) });
    clock.now = T0 + 5_100;
    const r = await c.execute();
    assertEquals(r.task_id, older);
    const rec = (await c.store.read("received", older))!;
    assertEquals([rec.status, rec.time_staged_ms], ["EXECUTING", 5_000]);
    assertEquals((await c.execute()).task_id, newer);
  });
});

Deno.test("task client: results need a running task, an allowed extension and a reachable submitter", async () => {
  await withClient(async (c) => {
    const fresh = await received(c);
    assertEquals(await code(c.sendResults(fresh, { text: "r" })), "invalid_state");
    const running = await received(c, { status: "EXECUTING", execute_started_at: rfc3339(T0) });
    const dir = await Deno.makeTempDir();
    try {
      const py = join(dir, "x.py");
      await Deno.writeTextFile(py, "print()");
      assertEquals(await code(c.sendResults(running, { file: py })), "invalid_argument");
      assertEquals(await code(c.sendResults(running, { file: join(dir, "missing.csv") })), "not_found");
      // The submitter cannot be reached: nothing changes locally, so the send can be retried.
      assertEquals(await code(c.sendResults(running, { text: "done" })), "connection_failed");
      assertEquals((await c.store.read("received", running))!.status, "EXECUTING");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    assertEquals(await code(c.submit(new Address(0, 9), "")), "invalid_argument");
    assertEquals(await code(c.submit(new Address(0, 9), "task")), "connection_failed");
    assertEquals((await c.list("submitted")).length, 0);
    assertEquals((await c.list()).map((t) => t.category), ["received", "received"]);
  });
});
