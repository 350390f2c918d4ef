/**
 * The task service's queue sweep on a session layer of its own (the simulated network) and a real
 * state directory: an idle daemon is not woken for it, a queued task starts it, and it stops once
 * the queue is empty again. The whole submit/accept/expire flow is tests/integration/tasks_test.ts.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../../../tests/assert.ts";
import { until } from "../../../tests/helpers/wait.ts";
import { Logger } from "../../log.ts";
import { SimNet } from "../../transport/testing/sim.ts";
import { newTaskId } from "./codec.ts";
import { rfc3339 } from "./record.ts";
import { TaskService, type TaskServiceHost } from "./service.ts";
import { TaskStore } from "./store.ts";

const SWEEP_MS = 10;

function host(stateDir: string): TaskServiceHost {
  return {
    nodeId: () => 2,
    stateDir,
    sessions: new SimNet(1).addNode(2),
    dial: () => Promise.reject(new Error("this test dials nothing")),
    registry: {
      getPoloScore: () => Promise.reject(new Error("this test pays no rewards")),
      updatePoloScore: () => Promise.reject(new Error("this test pays no rewards")),
    },
    log: new Logger("test", "silent"),
  };
}

Deno.test("task service: the queue sweep runs only while tasks are queued", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pilot-task-sweep-" });
  try {
    const idle = await TaskService.start(host(dir), { sweepMs: SWEEP_MS });
    assertEquals(idle.sweeping, false, "an empty queue has nothing to sweep");
    await idle.stop();

    const id = newTaskId();
    assert(
      await new TaskStore(dir).create("received", {
        task_id: id,
        task_description: "count",
        created_at: rfc3339(Date.now()),
        status: "NEW",
        status_justification: "A new task was created",
        from: "0:0000.0000.0001",
        to: "0:0000.0000.0002",
      }),
    );
    const svc = await TaskService.start(host(dir), { sweepMs: SWEEP_MS });
    try {
      assertEquals(svc.queued, 1);
      assert(svc.sweeping, "a queued task starts the sweep");
      // The task leaves the queue (its file is gone): maintenance drops it, then the sweep stops.
      await Deno.remove(join(dir, "tasks", "received", `${id}.json`));
      await until("the sweep to stop", () => svc.queued === 0 && !svc.sweeping);
    } finally {
      await svc.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
