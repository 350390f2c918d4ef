/**
 * Daemon webhooks end to end: `pilot daemon --webhook` subprocesses POST their events to
 * a real local HTTP receiver; retries after 5xx, hot-swapping through IPC/CLI, and a
 * hanging receiver that must neither slow the data path nor grow the queue unbounded.
 */
import { assert, assertEquals } from "../assert.ts";
import { type TestDaemon, TestNetwork } from "../helpers/network.ts";
import { runPilot } from "../helpers/pilot.ts";
import { WebhookReceiver } from "../helpers/webhook_receiver.ts";
import { connect, type PilotClient } from "../../lib/sdk/mod.ts";
import { WEBHOOK_QUEUE_CAPACITY } from "../../lib/daemon/webhooks.ts";

const PUBLIC = ["--public"];
const enc = new TextEncoder();

async function metric(d: TestDaemon, name: string, label?: string): Promise<number> {
  const text = await (await fetch(`${d.http}/metrics`)).text();
  const re = new RegExp(`^${name}${label ? `\\{[^}]*${label}[^}]*\\}` : ""} (\\S+)$`, "m");
  const m = re.exec(text);
  return m ? Number(m[1]) : NaN;
}

/** Milliseconds to push `bytes` through the echo service on `addr` and read them all back. */
async function echoMs(client: PilotClient, addr: string, bytes: number): Promise<number> {
  const conn = await client.dial(addr, 7, { timeoutMs: 10_000 });
  const t0 = performance.now();
  const chunk = new Uint8Array(16 * 1024).fill(7);
  const reading = (async () => {
    let got = 0;
    while (got < bytes) {
      const c = await conn.read({ timeoutMs: 30_000 });
      if (c === null) throw new Error("echo closed early");
      got += c.length;
    }
  })();
  for (let sent = 0; sent < bytes; sent += chunk.length) await conn.write(chunk, { timeoutMs: 30_000 });
  await reading;
  const ms = performance.now() - t0;
  await conn.close();
  return ms;
}

async function pilotJson(d: TestDaemon, ...args: string[]): Promise<Record<string, unknown>> {
  const r = await runPilot([...args, "--socket", d.socket, "--state", d.stateDir, "--json"]);
  assertEquals(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).data;
}

Deno.test({
  name:
    "webhooks: node.registered after two 500s, data.datagram, conn events, set-webhook/clear-webhook hot-swap",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const rx1 = WebhookReceiver.start();
    const rx2 = WebhookReceiver.start();
    const net = await TestNetwork.start();
    let client: PilotClient | undefined;
    try {
      rx1.mode = { kind: "status", status: 500, times: 2 };
      const b = await net.addDaemon("b", [...PUBLIC, "--webhook", rx1.url]);
      const a = await net.addDaemon("a", PUBLIC);
      const [reg] = await rx1.waitFor((e) => e.length >= 1, 10_000);
      assertEquals(rx1.attempts, 3, "delivered on the third attempt");
      assertEquals(reg.event, "node.registered");
      assertEquals(reg.event_id, 1);
      assertEquals(reg.node_id, b.nodeId);
      assertEquals((reg.data as Record<string, unknown>).address, b.address);
      assert(/^[\d.]+:\d+$/.test(String((reg.data as Record<string, unknown>).endpoint)));

      client = await connect(a.socket, { timeoutMs: 5_000 });
      await client.sendTo(b.address, 5555, enc.encode("hi"));
      await rx1.waitFor((e) => e.some((x) => x.event === "data.datagram"));
      const dg = rx1.named("data.datagram")[0];
      assertEquals(dg.event_id, 2);
      const data = dg.data as Record<string, unknown>;
      assertEquals([data.src_addr, data.dst_port, data.size], [a.address, 5555, 2]);
      assert(typeof data.src_port === "number");

      // Hot swap through the CLI: stored in config.json and applied over IPC; ids restart at 1.
      assertEquals(await pilotJson(b, "set-webhook", rx2.url), { webhook: rx2.url, applied: true });
      const cfg = JSON.parse(await Deno.readTextFile(`${b.stateDir}/config.json`));
      assertEquals(cfg.webhook, rx2.url);
      await client.sendTo(b.address, 5556, enc.encode("again"));
      const [moved] = await rx2.waitFor((e) => e.length >= 1);
      assertEquals([moved.event, moved.event_id], ["data.datagram", 1]);

      // An echo connection from a: accepted, then ended by a's FIN.
      const conn = await client.dial(b.address, 7, { timeoutMs: 10_000 });
      await conn.write(enc.encode("ping"));
      await conn.read({ timeoutMs: 10_000 });
      await conn.close();
      await rx2.waitFor((e) => e.some((x) => x.event === "conn.fin"));
      const byName = (n: string) => rx2.named(n).map((x) => x.data as Record<string, unknown>);
      const [syn] = byName("conn.syn_received");
      assertEquals([syn.src_addr, syn.dst_port], [a.address, 7]);
      const [est] = byName("conn.established");
      assertEquals(est, syn);
      const [fin] = byName("conn.fin");
      assertEquals([fin.remote_addr, fin.remote_port, fin.local_port, fin.conn_id], [
        a.address,
        syn.src_port,
        7,
        syn.conn_id,
      ]);
      const ids = rx2.events.map((x) => x.event_id);
      assertEquals(ids, ids.map((_, i) => i + 1), "ids count up from 1 without gaps");

      const before = rx2.events.length;
      assertEquals(await pilotJson(b, "clear-webhook"), { webhook: "", applied: true });
      await client.sendTo(b.address, 5557, enc.encode("unheard"));
      await new Promise((r) => setTimeout(r, 300));
      assertEquals(rx2.events.length, before);
      assertEquals(rx1.named("data.datagram").length, 1);
    } finally {
      await client?.close();
      await net.close();
      await rx1.close();
      await rx2.close();
    }
  },
});

Deno.test({
  name: "webhooks: a hanging receiver slows neither echo nor datagrams, the queue stays bounded",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const rx = WebhookReceiver.start();
    rx.mode = { kind: "hang" };
    const net = await TestNetwork.start();
    let client: PilotClient | undefined;
    let bClient: PilotClient | undefined;
    try {
      const b = await net.addDaemon("b", PUBLIC);
      const a = await net.addDaemon("a", PUBLIC);
      client = await connect(a.socket, { timeoutMs: 5_000 });
      const size = 4 * 1024 * 1024;
      await echoMs(client, b.address, 256 * 1024); // warm up the tunnel and the JIT
      const baseline = await echoMs(client, b.address, size);

      bClient = await connect(b.socket, { timeoutMs: 5_000 });
      await bClient.setWebhook(rx.url);
      // Far more events than the queue holds, while the receiver answers nothing.
      const flood = 3 * WEBHOOK_QUEUE_CAPACITY;
      const payload = enc.encode("x");
      const t0 = performance.now();
      for (let i = 0; i < flood; i++) await client.sendTo(b.address, 6000, payload);
      const floodMs = performance.now() - t0;
      const during = await echoMs(client, b.address, size);

      const depth = await metric(b, "pilot_webhook_queue_depth");
      const dropped = await metric(b, "pilot_webhook_events_total", 'outcome="dropped"');
      console.log(
        `echo ${(size / 1048576).toFixed(0)} MiB: ${baseline.toFixed(0)} ms idle webhook, ${
          during.toFixed(0)
        } ms ` +
          `with a hanging one; ${flood} datagrams in ${
            floodMs.toFixed(0)
          } ms; queue ${depth}, dropped ${dropped}`,
      );
      assert(depth <= WEBHOOK_QUEUE_CAPACITY && depth > WEBHOOK_QUEUE_CAPACITY / 2, `queue depth ${depth}`);
      assert(dropped > 0, "overflow is dropped and counted");
      assert(
        during < baseline * 3 + 500,
        `echo slowed from ${baseline.toFixed(0)} to ${during.toFixed(0)} ms`,
      );
      assert(rx.attempts >= 1 && rx.attempts <= 2, `one request in flight at a time (${rx.attempts})`);

      // Shutdown drains for at most 5 s, then gives up on the dead endpoint.
      await bClient.close();
      bClient = undefined;
      const s0 = performance.now();
      await b.process.stop();
      assert(performance.now() - s0 < 9_000, "daemon stopped despite the hanging webhook");
    } finally {
      await bClient?.close();
      await client?.close();
      await net.close();
      await rx.close();
    }
  },
});
