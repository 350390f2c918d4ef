/**
 * The service commands as a user runs them: `pilot send-message`, `send-file`, `inbox`,
 * `received`, `subscribe`, `publish`, `connect`, `send` and `recv` as real subprocesses against
 * two `pilot daemon` subprocesses on loopback, checking the reference's `--json` envelope and keys.
 */
import { assert, assertEquals } from "../assert.ts";
import { type TestDaemon, TestNetwork } from "../helpers/network.ts";
import { runPilot, spawnPilot } from "../helpers/pilot.ts";

const PUBLIC = ["--public"];

/** Runs `pilot <args> --json` against daemon `d`; returns the parsed envelope and exit code. */
async function pilotJson(d: TestDaemon, ...args: string[]) {
  const run = await runPilot([...args, "--socket", d.socket, "--json"]);
  const text = run.code === 0 ? run.stdout : run.stderr;
  const lines = text.trim().split("\n").filter((l) => l.startsWith("{"));
  return { code: run.code, body: lines.length ? JSON.parse(lines[lines.length - 1]) : null, run };
}

/** Runs a local command (`inbox`, `received`: no daemon, no socket) with `--json`. */
async function localJson(...args: string[]) {
  const run = await runPilot([...args, "--json"]);
  return { code: run.code, body: JSON.parse((run.code === 0 ? run.stdout : run.stderr).trim()), run };
}

/** Starts a long-running `pilot` command and collects its stdout. */
function background(args: string[]) {
  const child = spawnPilot(args);
  const out = new Response(child.stdout).text();
  const err = new Response(child.stderr).text();
  return { child, done: Promise.all([child.status, out, err]) };
}

Deno.test({
  name: "service CLI commands between two daemons with the reference's --json envelope",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const net = await TestNetwork.start();
    try {
      const a = await net.addDaemon("a", PUBLIC);
      const b = await net.addDaemon("b", PUBLIC);

      await t.step("send-message: text, json and binary are acknowledged", async () => {
        let r = await pilotJson(a, "send-message", b.address, "--data", "hello from a");
        assertEquals(r.code, 0, r.run.stderr);
        assertEquals(r.body, {
          status: "ok",
          data: { target: b.address, type: "text", bytes: 12, ack: "ACK TEXT 12 bytes" },
        });
        r = await pilotJson(a, "send-message", String(b.nodeId), "--data", '{"k":1}', "--type", "json");
        assertEquals(r.body.data.ack, "ACK JSON 7 bytes");
        r = await pilotJson(a, "send-message", b.address, "--data=raw", "--type=binary");
        assertEquals(r.body.data.ack, "ACK BINARY 3 bytes");
        r = await pilotJson(a, "send-message", b.address, "--data", "x", "--type", "xml");
        assertEquals([r.code, r.body.code], [64, "invalid_argument"]);
        r = await pilotJson(a, "send-message", b.address);
        assertEquals([r.code, r.body.code, r.body.message], [64, "invalid_argument", "--data is required"]);
      });

      await t.step("send-file: acknowledged and stored; a missing file is not_found", async () => {
        const path = `${net.dir}/notes.txt`;
        await Deno.writeTextFile(path, "file contents");
        const r = await pilotJson(a, "send-file", b.address, path);
        assertEquals(r.code, 0, r.run.stderr);
        assertEquals(r.body.data, {
          filename: "notes.txt",
          bytes: 13,
          destination: b.address,
          ack: "ACK FILE 13 bytes",
        });
        const missing = await pilotJson(a, "send-file", b.address, `${net.dir}/nope.txt`);
        assertEquals([missing.code, missing.body.status, missing.body.code], [1, "error", "not_found"]);
      });

      await t.step("inbox and received list, then --clear, what the daemon stored", async () => {
        const inbox = await localJson("inbox", "--state", b.stateDir);
        assertEquals(inbox.body.data.total, 3);
        assertEquals(inbox.body.data.dir, `${b.stateDir}/inbox`);
        const text = inbox.body.data.messages.find((m: Record<string, unknown>) => m.type === "TEXT");
        assertEquals([text.from, text.data, text.bytes], [a.address, "hello from a", 12]);
        assert(typeof text.received_at === "string");
        const received = await localJson("received", "--state", b.stateDir);
        assertEquals(received.body.data.total, 1);
        const file = received.body.data.files[0];
        assert(/^notes-\d{8}-\d{6}\.\d{3}\.txt$/.test(file.name), file.name);
        assertEquals([file.bytes, file.path], [13, `${b.stateDir}/received/${file.name}`]);
        assertEquals(await Deno.readTextFile(file.path), "file contents");
        assertEquals((await localJson("inbox", "--clear", "--state", b.stateDir)).body.data, {
          cleared: 3,
        });
        assertEquals((await localJson("received", "--clear", "--state", b.stateDir)).body.data, {
          cleared: 1,
        });
        assertEquals((await localJson("inbox", "--state", b.stateDir)).body.data.total, 0);
        const none = await localJson("received", "--clear", "--state", `${net.dir}/empty`);
        assertEquals([none.code, none.body.code], [1, "not_found"]);
        const text2 = await runPilot(["inbox", "--state", `${net.dir}/empty`]);
        assertEquals(text2.code, 0);
        assert(text2.stdout.startsWith("inbox is empty"), text2.stdout);
      });

      await t.step("subscribe --count 1 receives what publish sends", async () => {
        const sub = background([
          "subscribe",
          b.address,
          "alerts",
          "--count",
          "1",
          "--timeout",
          "25s",
          "--socket",
          a.socket,
          "--json",
        ]);
        let exited = false;
        sub.done.finally(() => exited = true);
        // There is no subscription acknowledgement: publish until the subscriber has its event.
        let published;
        while (!exited) {
          published = await pilotJson(b, "publish", b.address, "alerts", "--data", "disk full");
          assertEquals(published.code, 0, published.run.stderr);
          await Promise.race([sub.done, new Promise((r) => setTimeout(r, 300))]);
        }
        assertEquals(published!.body.data, { target: b.address, topic: "alerts", bytes: 9 });
        const [status, stdout, stderr] = await sub.done;
        assertEquals(status.code, 0, stderr);
        assertEquals(JSON.parse(stdout.trim()), {
          status: "ok",
          data: { events: [{ topic: "alerts", data: "disk full", bytes: 9 }], timeout: false },
        });
      });

      await t.step("subscribe without --count streams bare NDJSON; --timeout ends it", async () => {
        const sub = background([
          "subscribe",
          b.address,
          "*",
          "--timeout",
          "4s",
          "--socket",
          a.socket,
          "--json",
        ]);
        for (let i = 0; i < 6; i++) {
          await pilotJson(b, "publish", b.address, `t${i}`, "--data", `e${i}`);
          await new Promise((r) => setTimeout(r, 200));
        }
        const [status, stdout] = await sub.done;
        assertEquals(status.code, 0);
        const lines = stdout.trim().split("\n").map((l) => JSON.parse(l));
        assert(lines.length >= 1, stdout);
        for (const l of lines) {
          assertEquals(Object.keys(l).sort(), ["bytes", "data", "topic"]);
          assertEquals(l.data, `e${l.topic.slice(1)}`);
        }
        const idle = await pilotJson(
          a,
          "subscribe",
          b.address,
          "quiet",
          "--count",
          "2",
          "--timeout",
          "500ms",
        );
        assertEquals(idle.body.data, { events: [], timeout: true });
      });

      await t.step("connect and send reach any port; recv takes one message per connection", async () => {
        let r = await pilotJson(a, "connect", b.address, "7", "--message", "echo me");
        assertEquals(r.body.data, { target: b.address, port: 7, sent: "echo me", response: "echo me" });
        r = await pilotJson(a, "send", b.address, "7", "--data", "again");
        assertEquals(r.body.data.response, "again");
        const recv = background([
          "recv",
          "4300",
          "--count",
          "1",
          "--timeout",
          "25s",
          "--socket",
          b.socket,
          "--json",
        ]);
        let exited = false;
        recv.done.finally(() => exited = true);
        // recv binds asynchronously: retry until its port answers.
        while (!exited) {
          await pilotJson(a, "send", b.address, "4300", "--data", "to 4300", "--timeout", "2s");
          await Promise.race([recv.done, new Promise((r) => setTimeout(r, 200))]);
        }
        const [status, stdout] = await recv.done;
        assertEquals(status.code, 0);
        assertEquals(JSON.parse(stdout.trim()).data, {
          messages: [{ seq: 0, port: 4300, data: "to 4300", bytes: 7 }],
          timeout: false,
        });
      });

      await t.step("a daemon without data exchange or event stream refuses the commands", async () => {
        const c = await net.addDaemon("c", [...PUBLIC, "--no-dataexchange", "--no-eventstream"]);
        const r = await pilotJson(a, "send-message", c.address, "--data", "x");
        assertEquals([r.code, r.body.code], [1, "connection_failed"]);
        assert(typeof r.body.hint === "string");
        const p = await pilotJson(a, "publish", c.address, "t", "--data", "x");
        assertEquals([p.code, p.body.code], [1, "connection_failed"]);
      });
    } finally {
      await net.close();
    }
  },
});
