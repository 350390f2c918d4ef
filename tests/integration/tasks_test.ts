/**
 * Task submission end to end: a registry and `--public` daemons as real `pilot`
 * subprocesses on loopback, driven with `pilot task …` exactly as a user would; task
 * files, result files and registry polo scores are checked where they really live.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { type TestDaemon, TestNetwork } from "../helpers/network.ts";
import { runPilot } from "../helpers/pilot.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { connect } from "../../lib/sdk/mod.ts";
import { sendResultsFrame } from "../../lib/services/tasks/codec.ts";
import { settleQuietly } from "../../lib/errors.ts";

const PUBLIC = ["--public"];

/** `pilot --json task …` (or another command) as daemon `d`; resolves to the envelope. */
async function pilot(d: TestDaemon, ...args: string[]): Promise<Record<string, unknown>> {
  const state = args[0] === "task" ? ["--state", d.stateDir] : [];
  const r = await runPilot([...args, "--socket", d.socket, ...state, "--json"]);
  const text = r.code === 0 ? r.stdout : r.stderr;
  try {
    return JSON.parse(text.trim().split("\n").pop()!);
  } catch {
    throw new Error(`pilot ${args.join(" ")} printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

async function ok(d: TestDaemon, ...args: string[]): Promise<Record<string, unknown>> {
  const env = await pilot(d, ...args);
  assertEquals(env.status, "ok", `pilot ${args.join(" ")} failed: ${JSON.stringify(env)}`);
  return env.data as Record<string, unknown>;
}

async function taskFile(d: TestDaemon, box: string, id: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await Deno.readTextFile(join(d.stateDir, "tasks", box, `${id}.json`)));
  } catch {
    return null;
  }
}

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function statusIs(d: TestDaemon, box: string, id: string, status: string) {
  return waitFor(`${box}/${id} to be ${status}`, async () => {
    const f = await taskFile(d, box, id);
    return f?.status === status ? f : null;
  });
}

/** Rewrites fields of a task file, as a clock jump would see it. */
async function backdate(d: TestDaemon, id: string, fields: Record<string, string>): Promise<void> {
  const path = join(d.stateDir, "tasks", "received", `${id}.json`);
  const rec = JSON.parse(await Deno.readTextFile(path));
  await Deno.writeTextFile(`${path}.test-tmp`, JSON.stringify({ ...rec, ...fields }, null, 2), {
    mode: 0o600,
  });
  await Deno.rename(`${path}.test-tmp`, path); // atomic, as the daemon writes, so it never reads half a file
}

/** Writes one raw task frame from daemon `d` to `addr`:1003 through its IPC socket. */
async function sendRaw(d: TestDaemon, addr: string, frame: Uint8Array): Promise<void> {
  const client = await connect(d.socket, { timeoutMs: 5_000 });
  try {
    const conn = await client.dial(addr, 1003, { timeoutMs: 10_000 });
    await conn.write(frame);
    await settleQuietly(conn.read({ timeoutMs: 5_000 }), "expected in test"); // the daemon closes after one frame
    await conn.close();
  } finally {
    await client.close();
  }
}

async function lookup(net: TestNetwork, node: number): Promise<Record<string, unknown>> {
  const reg = new RegistryClient({ address: net.registryAddr });
  try {
    return await reg.lookup(node);
  } finally {
    reg.close();
  }
}

async function score(net: TestNetwork, node: number): Promise<number> {
  return Number((await lookup(net, node)).polo_score);
}

Deno.test({
  name: "tasks: submit → accept → execute → results between two daemons; polo reward in the registry",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const net = await TestNetwork.start();
    try {
      const a = await net.addDaemon("a", PUBLIC);
      const b = await net.addDaemon("b", PUBLIC);

      // The execution capability is only a registry flag (docs/protocol/services.md §7.5).
      const on = await ok(b, "enable-tasks");
      assertEquals([on.node_id, on.task_exec], [b.nodeId, true]);
      assertEquals((await lookup(net, b.nodeId)).task_exec, true);
      assertEquals((await ok(b, "disable-tasks")).task_exec, false);
      assertEquals((await lookup(net, b.nodeId)).task_exec, undefined);

      const sub = await ok(a, "task", "submit", b.address, "--task", "summarise the logs");
      assertEquals(sub.accepted, true);
      assertEquals(sub.status, 200);
      assertEquals(sub.message, "Task received with status NEW");
      assertEquals(sub.task, "summarise the logs");
      const id = String(sub.task_id);
      assert(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id));

      const recv = (await taskFile(b, "received", id))!;
      assertEquals([recv.status, recv.from, recv.to], ["NEW", a.address, b.address]);
      assertEquals(recv.status_justification, "A new task was created");
      assertEquals(recv.staged_at, recv.created_at, "the first task is staged when it arrives");
      assertEquals((await taskFile(a, "submitted", id))!.status, "NEW");
      const mode = (await Deno.stat(join(b.stateDir, "tasks", "received", `${id}.json`))).mode! & 0o777;
      assertEquals(mode, 0o600);

      const listed = await ok(b, "task", "list", "--type", "received");
      assertEquals(
        (listed.tasks as { task_id: string; category: string }[]).map((t) => [t.task_id, t.category]),
        [
          [id, "received"],
        ],
      );

      const acc = await ok(b, "task", "accept", "--id", id);
      assertEquals(acc, { task_id: id, status: "ACCEPTED", message: "Task accepted" });
      await statusIs(a, "submitted", id, "ACCEPTED");
      const queue = await ok(b, "task", "queue");
      assertEquals(queue.count, 1);

      const exec = await ok(b, "task", "execute");
      assertEquals(exec, {
        task_id: id,
        task_description: "summarise the logs",
        status: "EXECUTING",
        from: a.address,
      });
      await statusIs(a, "submitted", id, "EXECUTING");
      assertEquals(await ok(b, "task", "queue"), { queue: [] });

      const res = await ok(b, "task", "send-results", "--id", id, "--results", "all quiet");
      assertEquals(res, { task_id: id, status: "SUCCEEDED", sent_to: a.address, sent_type: "text" });
      const done = await statusIs(a, "submitted", id, "COMPLETED");
      assertEquals(done.status_justification, "Task completed with results");
      assert(typeof done.time_idle_ms === "number" && done.time_idle_ms > 0);
      assertEquals(
        await Deno.readTextFile(join(a.stateDir, "tasks", "results", `${id}_result.txt`)),
        "all quiet",
      );
      const worker = (await taskFile(b, "received", id))!;
      assertEquals(worker.status, "SUCCEEDED");
      assert(worker.execute_started_at && worker.completed_at && worker.accepted_at);

      // The submitter paid the worker one point (seconds of CPU: reward 1) and spent one of its own.
      await waitFor("worker's polo score", async () => (await score(net, b.nodeId)) === 1);
      await waitFor("submitter's polo score", async () => (await score(net, a.nodeId)) === -1);
      // Now b outranks a, so b's daemon refuses a's next task.
      const refused = await ok(a, "task", "submit", b.address, "--task", "again");
      assertEquals(refused.accepted, false);
      assertEquals(refused.status, 400);
      assert(String(refused.message).startsWith("Polo score too low: submitter="), String(refused.message));
      // The worker's counters are on its /metrics.
      const metrics = await (await fetch(`${b.http}/metrics`)).text();
      for (
        const line of [
          'pilot_tasks_total{event="received"} 1',
          'pilot_tasks_total{event="rejected"} 1',
          "pilot_tasks_queued 0",
        ]
      ) {
        assert(metrics.split("\n").includes(line), `${line} in /metrics`);
      }

      // Errors keep the reference's codes.
      const again = await pilot(b, "task", "accept", "--id", id);
      assertEquals([again.status, again.code], ["error", "invalid_state"]);
      const missing = await pilot(b, "task", "accept", "--id", "00000000-0000-0000-0000-000000000000");
      assertEquals(missing.code, "not_found");
      const bad = await pilot(b, "task", "frobnicate");
      assertEquals(bad.code, "invalid_argument");
    } finally {
      await net.close();
    }
  },
});

Deno.test({
  name:
    "tasks: decline, cancellation after the accept window, head expiry, a file result; forged and replayed results ignored",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const net = await TestNetwork.start();
    try {
      const a = await net.addDaemon("a", PUBLIC);
      const b = await net.addDaemon("b", PUBLIC);
      const submit = async (text: string) =>
        String((await ok(a, "task", "submit", b.address, "--task", text)).task_id);
      const [t1, t2, t3, t4] = [
        await submit("one"),
        await submit("two"),
        await submit("three"),
        await submit("four"),
      ];

      const dec = await ok(b, "task", "decline", "--id", t1, "--justification", "not my field");
      assertEquals(dec, {
        task_id: t1,
        status: "DECLINED",
        justification: "not my field",
        message: "Task declined",
      });
      const declined = await statusIs(a, "submitted", t1, "DECLINED");
      assertEquals(declined.status_justification, "not my field");
      // t1 left the queue, so t2 became head and got its staging time from the daemon.
      const head = await waitFor("t2 staged", async () => (await taskFile(b, "received", t2))?.staged_at);
      assert(Date.parse(String(head)) >= Date.parse(String((await taskFile(b, "received", t1))!.created_at)));

      // t2 arrived more than a minute ago (as far as its file says): the daemon cancels it and tells a.
      await backdate(b, t2, { created_at: new Date(Date.now() - 120_000).toISOString() });
      await statusIs(b, "received", t2, "CANCELLED");
      await statusIs(a, "submitted", t2, "CANCELLED");
      const late = await pilot(b, "task", "accept", "--id", t2);
      assertEquals(late.code, "invalid_state");

      // t3 is head now; accepted, then left at the head for over an hour: it expires.
      await ok(b, "task", "accept", "--id", t3);
      await waitFor("t3 staged", async () => (await taskFile(b, "received", t3))?.staged_at);
      // The daemon may rewrite the file while we backdate it; backdate again until the sweep sees it.
      await waitFor(`received/${t3} to be EXPIRED`, async () => {
        const f = await taskFile(b, "received", t3);
        if (f?.status === "EXPIRED") return f;
        if (f && Date.parse(String(f.staged_at)) > Date.now() - 3_600_000) {
          await backdate(b, t3, { staged_at: new Date(Date.now() - 2 * 3_600_000).toISOString() });
        }
        return null;
      }, 40_000);
      await statusIs(a, "submitted", t3, "EXPIRED");

      // t4: a file result, saved under results/<id>_<name> on the submitter.
      await ok(b, "task", "accept", "--id", t4);
      await ok(b, "task", "execute");
      const csv = join(net.dir, "report.csv");
      await Deno.writeTextFile(csv, "a,b\n1,2\n");
      // Results from a node that is not the worker are ignored.
      const c = await net.addDaemon("c", PUBLIC);
      const forged = { task_id: t4, result_type: "text" as const, result_text: "forged", completed_at: "" };
      await sendRaw(c, a.address, sendResultsFrame(forged));
      await new Promise((r) => setTimeout(r, 300));
      assertEquals((await taskFile(a, "submitted", t4))!.status, "EXECUTING");

      const sent = await ok(b, "task", "result", "--id", t4, "--file", csv); // the alias;
      assertEquals(sent.filename, "report.csv");
      assertEquals(sent.file_size, 8);
      await statusIs(a, "submitted", t4, "COMPLETED");
      assertEquals(
        await Deno.readTextFile(join(a.stateDir, "tasks", "results", `${t4}_report.csv`)),
        "a,b\n1,2\n",
      );
      // The expired head cost the worker a point (-1), the file result paid one (+1).
      await waitFor("worker's polo score", async () => (await score(net, b.nodeId)) === 0);
      // A replayed result neither pays twice nor overwrites the saved one.
      await sendRaw(b, a.address, sendResultsFrame({ ...forged, result_text: "replayed" }));
      await new Promise((r) => setTimeout(r, 300));
      assertEquals(await score(net, b.nodeId), 0);
      assertEquals(
        await Deno.readTextFile(join(a.stateDir, "tasks", "results", `${t4}_report.csv`)),
        "a,b\n1,2\n",
      );
      assert(
        !(await settleQuietly(
          Deno.stat(join(a.stateDir, "tasks", "results", `${t4}_result.txt`)),
          "expected in test",
        )),
      );

      const py = join(net.dir, "hack.py");
      await Deno.writeTextFile(py, "print(1)");
      const refused = await pilot(b, "task", "send-results", "--id", t4, "--file", py);
      assertEquals(refused.code, "invalid_state");

      const all = await ok(a, "task", "list");
      assertEquals(
        (all.tasks as { status: string }[]).map((t) => t.status).sort(),
        ["CANCELLED", "COMPLETED", "DECLINED", "EXPIRED"],
      );
    } finally {
      await net.close();
    }
  },
});
