/**
 * Regression tests for the state a `pilot up` node keeps in ~/.pilot/up: client commands must
 * use the directory the daemon reports (IPC Info `state_dir`), found through `--socket` or
 * PILOT_SOCKET, not the default ~/.pilot. Before, a message was acknowledged and `pilot inbox`
 * said "inbox is empty", task results were dropped, `pilot identity` created a second key, and
 * `set-webhook --socket node2.sock` wrote node 1's config. Real `pilot up` and `pilot daemon`
 * subprocesses with HOME in a temporary directory.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { type PilotProcess, startPilot } from "../helpers/network.ts";
import { runPilot } from "../helpers/pilot.ts";
import { until } from "../helpers/wait.ts";
import { settleQuietly } from "../../lib/errors.ts";

/** `pilot <args> --json` with HOME (and optionally PILOT_SOCKET) set; resolves to `data`. */
async function ok(env: Record<string, string>, ...args: string[]): Promise<Record<string, unknown>> {
  const r = await runPilot([...args, "--json"], { env });
  assertEquals(r.code, 0, `pilot ${args.join(" ")}: ${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!).data;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "pilot up node: inbox, received, identity, task and set-webhook use the state the daemon reports",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const home = await Deno.makeTempDir({ prefix: "pilot-home-" });
    const env = { HOME: home };
    const upState = join(home, ".pilot", "up");
    const upSock = join(home, "up.sock");
    const procs: PilotProcess[] = [];
    try {
      const up = await startPilot(["up", "--socket", upSock, "--http", "127.0.0.1:0"], env);
      procs.push(up);
      assertEquals(up.ready.state, upState);
      const node2 = await startPilot(String(up.ready.second_node).split(" ").slice(1), env);
      procs.push(node2);
      const sock2 = String(node2.ready.socket);
      const upAddr = String(up.ready.address);
      const viaEnv = { ...env, PILOT_SOCKET: upSock };

      // identity: the node's own key, not a new one in ~/.pilot.
      const info = await ok(env, "info", "--socket", upSock);
      const id = await ok(env, "identity", "--socket", upSock);
      assertEquals([id.public_key, id.created, id.path], [
        info.public_key,
        false,
        join(upState, "identity.json"),
      ]);
      assert(!(await exists(join(home, ".pilot", "identity.json"))), "a second identity was created");

      // send-message / send-file → inbox / received on the up node, by --socket and by PILOT_SOCKET.
      await ok(env, "send-message", upAddr, "--data", "hello up", "--socket", sock2);
      const file = join(home, "note.txt");
      await Deno.writeTextFile(file, "file body");
      await ok(env, "send-file", upAddr, file, "--socket", sock2);
      for (const e of [env, viaEnv]) {
        const flags = e === env ? ["--socket", upSock] : [];
        const inbox = await ok(e, "inbox", ...flags);
        assertEquals(inbox.total, 1, JSON.stringify(inbox));
        assertEquals((inbox.messages as { data: string }[])[0].data, "hello up");
        assertEquals(inbox.dir, join(upState, "inbox"));
        const received = await ok(e, "received", ...flags);
        const names = (received.files as { name: string }[]).map((f) => f.name);
        assert(names.length === 1 && names[0].startsWith("note"), names.join(", "));
      }

      // A task from node 2 to the up node: accepted, executed and answered on the up node's state.
      await ok(env, "enable-tasks", "--socket", upSock);
      const sub = await ok(env, "task", "submit", upAddr, "--task", "count the logs", "--socket", sock2);
      assertEquals(sub.accepted, true, JSON.stringify(sub));
      const taskId = String(sub.task_id);
      const received = await ok(viaEnv, "task", "list", "--type", "received");
      assertEquals((received.tasks as { task_id: string }[]).map((t) => t.task_id), [taskId]);
      await ok(viaEnv, "task", "accept", "--id", taskId);
      await ok(viaEnv, "task", "execute");
      await ok(viaEnv, "task", "send-results", "--id", taskId, "--results", "42 lines");
      await until(
        "node 2 to see the task completed",
        async () => {
          const list = await ok(env, "task", "list", "--type", "submitted", "--socket", sock2);
          return (list.tasks as { task_id: string; status: string }[])
            .some((t) => t.task_id === taskId && t.status === "COMPLETED");
        },
        15_000,
        100,
      );

      // set-webhook --socket node2.sock writes node 2's config, nobody else's.
      await ok(env, "set-webhook", "http://127.0.0.1:9/hook", "--socket", sock2);
      const cfg2 = JSON.parse(await Deno.readTextFile(join(home, ".pilot", "node2", "config.json")));
      assertEquals(cfg2.webhook, "http://127.0.0.1:9/hook");
      assert(!(await exists(join(home, ".pilot", "config.json"))), "webhook written to ~/.pilot/config.json");
      assert(!(await exists(join(upState, "config.json"))), "webhook written to the up node's config");
    } finally {
      for (const p of procs.reverse()) await p.stop("SIGTERM");
      await settleQuietly(Deno.remove(home, { recursive: true }), "cleanup");
    }
  },
});
