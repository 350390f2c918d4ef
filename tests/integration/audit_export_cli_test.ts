/**
 * `pilot audit --follow`, `pilot audit-export` and `pilot audit-webhook` end to end: a registry
 * and a daemon as `pilot` subprocesses on loopback, each command its own `pilot … --json` process.
 */
import { assert, assertEquals } from "../assert.ts";
import { Hono } from "hono";
import { TestNetwork } from "../helpers/network.ts";
import { runPilot, spawnPilot } from "../helpers/pilot.ts";
import { settleQuietly } from "../../lib/errors.ts";

const ADMIN_TOKEN = "audit-export-cli-admin-token";
const env = { PILOT_ADMIN_TOKEN: ADMIN_TOKEN };

async function ok(socket: string, args: string[]): Promise<Record<string, unknown>> {
  const run = await runPilot([...args, "--json", "--socket", socket], { env, timeoutMs: 60_000 });
  assertEquals(run.code, 0, `pilot ${args.join(" ")}: ${run.stderr}`);
  const envelope = JSON.parse(run.stdout.trim());
  assertEquals(envelope.status, "ok");
  return envelope.data;
}

/** Reads JSON lines from a child's stdout until `match` accepts one (or the deadline passes). */
async function lineMatching(
  reader: ReadableStreamDefaultReader<string>,
  seen: Record<string, unknown>[],
  match: (e: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 30_000;
  let buf = "";
  for (;;) {
    const found = seen.find(match);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no matching line in ${JSON.stringify(seen)}`);
    const { value, done } = await reader.read();
    if (done) throw new Error("pilot audit --follow ended early");
    buf += value;
    const lines = buf.split("\n");
    buf = lines.pop()!;
    for (const l of lines) if (l.trim()) seen.push(JSON.parse(l));
  }
}

Deno.test({
  name: "pilot audit-export, audit-webhook and audit --follow through the daemon",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const net = await TestNetwork.start(["--admin-token", ADMIN_TOKEN]);
    const received: Record<string, unknown>[] = [];
    const app = new Hono();
    app.post("/hook", async (c) => {
      received.push(await c.req.json());
      return c.body(null, 204);
    });
    const hook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
    let follow: Deno.ChildProcess | null = null;
    try {
      const d = await net.addDaemon("n0");
      // A bare name is a file in the registry's export directory (default <state>/audit-export).
      const file = `${net.dir}/registry/audit-export/audit.jsonl`;
      const set = await ok(d.socket, [
        "audit-export",
        "set",
        "--format",
        "json",
        "--endpoint",
        "audit.jsonl",
        "--name",
        "f",
      ]);
      assertEquals([set.type, set.status, set.name], ["set_audit_export_ok", "enabled", "f"]);
      const got = await ok(d.socket, ["audit-export", "get"]);
      assertEquals((got.sinks as { name: string }[]).map((s) => s.name), ["f"]);
      const bad = await runPilot(
        ["audit-export", "set", "--format", "json", "--socket", d.socket, "--json"],
        { env },
      );
      assertEquals(bad.code, 64, "set without --endpoint is a usage error");

      const url = `http://127.0.0.1:${hook.addr.port}/hook`;
      assertEquals((await ok(d.socket, ["audit-webhook", "set", url])).status, "enabled");
      const status = await ok(d.socket, ["audit-webhook", "get"]);
      assertEquals([status.enabled, status.url], [true, url]);

      follow = spawnPilot(["audit", "--follow", "--json", "--socket", d.socket], env);
      const reader = follow.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const seen: Record<string, unknown>[] = [];
      // The backlog first (oldest first), then what happens next.
      await lineMatching(reader, seen, (e) => e.action === "audit_export.configured");
      const before = seen.length;
      const off = await ok(d.socket, ["audit-export", "disable", "--name", "f"]);
      assertEquals(off.status, "disabled");
      const live = await lineMatching(
        reader,
        seen,
        (e) => e.action === "audit_export.configured" && String(e.details).includes("target=f, format=,"),
      );
      assert(seen.indexOf(live) >= before, "the new entry came after the backlog");
      const seqs = seen.map((e) => e.seq as number);
      assertEquals(seqs, [...seqs].sort((a, b) => a - b), "follow prints in log order");
      assertEquals(new Set(seqs.map((s, i) => `${s}/${seen[i].action}`)).size, seen.length, "no entry twice");
      follow.kill("SIGINT");
      assertEquals((await follow.status).code, 0);
      await settleQuietly(reader.cancel(), "cleanup");
      follow = null;

      // The file got the entries up to the disable; the webhook got them too.
      const lines = (await Deno.readTextFile(file)).split("\n").filter((l) => l);
      assert(lines.some((l) => JSON.parse(l).action === "audit_export.configured"));
      for (let i = 0; i < 100 && !received.some((r) => r.action === "audit_export.configured"); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert(received.some((r) => r.action === "audit_export.configured"), "webhook delivery");
      const dlq = await ok(d.socket, ["audit-webhook", "dlq"]);
      assertEquals([dlq.count, dlq.events], [0, null]);
      assertEquals((await ok(d.socket, ["audit-webhook", "replay"])).replayed, 0);
      assertEquals((await ok(d.socket, ["audit-webhook", "clear"])).status, "disabled");
    } finally {
      follow?.kill("SIGKILL");
      await follow?.status;
      await hook.shutdown();
      await net.close();
    }
  },
});
