import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import { newTaskId } from "./codec.ts";
import { rfc3339, type TaskRecord } from "./record.ts";
import { LOCK_STALE_MS, safeFileName, taskIdOfFileName, TaskStore, TaskStoreError } from "./store.ts";

function record(id = newTaskId(), createdMs = Date.now()): TaskRecord {
  return {
    task_id: id,
    task_description: "count",
    created_at: rfc3339(createdMs),
    status: "NEW",
    status_justification: "A new task was created",
    from: "0:0000.0000.0001",
    to: "0:0000.0000.0002",
  };
}

async function withStore(fn: (store: TaskStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pilot-tasks-" });
  try {
    await fn(new TaskStore(dir), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("task store: the reference's layout and modes", async () => {
  await withStore(async (store, dir) => {
    const rec = record();
    assert(await store.create("received", rec));
    assert(!(await store.create("received", rec)), "a second create of the same id is refused");
    const path = join(dir, "tasks", "received", `${rec.task_id}.json`);
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
    assertEquals((await Deno.stat(join(dir, "tasks"))).mode! & 0o777, 0o700);
    assertEquals((await Deno.stat(join(dir, "tasks", "submitted"))).mode! & 0o777, 0o700);
    assertEquals(await store.read("received", rec.task_id), rec);
    assertEquals(await store.read("submitted", rec.task_id), null);
    // No lock or temporary files are left behind.
    const names = [];
    for await (const e of Deno.readDir(join(dir, "tasks", "received"))) names.push(e.name);
    assertEquals(names, [`${rec.task_id}.json`]);
  });
});

Deno.test("task store: concurrent locked updates never lose one another", async () => {
  await withStore(async (store) => {
    const rec = record();
    await store.create("received", rec);
    // Two stores (like the daemon and a CLI process) incrementing the same counter.
    const other = new TaskStore(store.root.replace(/\/tasks$/, ""));
    const bump = (s: TaskStore) =>
      s.update("received", rec.task_id, async (r) => {
        await new Promise((res) => setTimeout(res, 1));
        return { ...r, time_cpu_ms: (r.time_cpu_ms ?? 0) + 1 };
      });
    await Promise.all(Array.from({ length: 40 }, (_, i) => bump(i % 2 ? store : other)));
    assertEquals((await store.read("received", rec.task_id))!.time_cpu_ms, 40);
    assertEquals(await store.update("received", newTaskId(), (r) => r), null, "missing task");
  });
});

Deno.test("task store: a stale lock is broken, a live one times out", async () => {
  await withStore(async (store) => {
    const rec = record();
    await store.create("received", rec);
    const lock = join(store.dir("received"), `${rec.task_id}.lock`);
    await Deno.writeTextFile(lock, "");
    const old = new Date(Date.now() - LOCK_STALE_MS - 5_000);
    await Deno.utime(lock, old, old);
    const updated = await store.update("received", rec.task_id, (r) => ({ ...r, status: "ACCEPTED" }));
    assertEquals(updated?.status, "ACCEPTED");
    await Deno.writeTextFile(lock, "");
    await assertRejects(
      () => store.update("received", rec.task_id, (r) => r),
      TaskStoreError,
      /locked/,
    );
    await Deno.remove(lock);
  });
});

Deno.test("task store: list orders by creation and skips junk", async () => {
  await withStore(async (store) => {
    const late = record(newTaskId(), 2_000_000);
    const early = record(newTaskId(), 1_000_000);
    await store.create("received", late);
    await store.create("received", early);
    await Deno.writeTextFile(join(store.dir("received"), `${newTaskId()}.json`), "{not json");
    await Deno.writeTextFile(join(store.dir("received"), "notes.txt"), "hello");
    assertEquals((await store.list("received")).map((r) => r.task_id), [early.task_id, late.task_id]);
    assertEquals(await store.list("submitted"), []);
    assertEquals(await new TaskStore("/nonexistent-pilot-dir").list("received"), []);
  });
});

Deno.test("task store: result names cannot leave the results directory", async () => {
  await withStore(async (store, dir) => {
    const id = newTaskId();
    const path = await store.saveResult(id, "../../../evil.txt", new TextEncoder().encode("x"));
    assertEquals(path, join(dir, "tasks", "results", `${id}_evil.txt`));
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
    assertEquals(safeFileName(".."), "_");
    assertEquals(safeFileName(""), "result");
    assertEquals(safeFileName("a\u0000b.csv"), "a_b.csv");
    const long = safeFileName("x".repeat(500) + ".parquet");
    assertEquals(long.length, 200);
    assert(long.endsWith(".parquet"));
    await assertRejects(() => store.saveResult("../x", "a", new Uint8Array()), TaskStoreError);
    assertEquals(taskIdOfFileName(`${id}.json`), id);
    assertEquals(taskIdOfFileName(`${id}.lock`), undefined);
  });
});
