/**
 * Daemon webhooks end to end: `pilot daemon --webhook` subprocesses POST their events to
 * a real local HTTP receiver; retries after 5xx, hot-swapping through IPC/CLI, and a
 * hanging receiver that must neither slow the data path nor grow the queue unbounded; and every
 * tunnel, security, refusal and auto-join event a daemon raises on loopback, with its data keys.
 */
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { type PilotProcess, startPilot, type TestDaemon, TestNetwork } from "../helpers/network.ts";
import { runPilot } from "../helpers/pilot.ts";
import { WebhookReceiver } from "../helpers/webhook_receiver.ts";
import { connect, type PilotClient } from "../../lib/sdk/mod.ts";
import { WEBHOOK_QUEUE_CAPACITY } from "../../lib/daemon/webhooks.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { closeQuietly } from "../../lib/errors.ts";

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
      // a's key exchange came first: b learned a as a tunnel peer before the datagram could flow.
      assertEquals(rx1.events.map((x) => x.event), [
        "node.registered",
        "tunnel.peer_added",
        "tunnel.established",
        "data.datagram",
      ]);
      const dg = rx1.named("data.datagram")[0];
      assertEquals(dg.event_id, 4);
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

/** The keys docs/protocol/services.md §9 lists for each event this file checks. */
const DATA_KEYS: Record<string, string[]> = {
  "network.auto_joined": ["network_id"],
  "tunnel.peer_added": ["endpoint", "peer_node_id"],
  "tunnel.established": ["authenticated", "peer_node_id", "rekeyed", "relay"],
  "tunnel.relay_activated": ["peer_node_id"],
  "security.nonce_replay": ["counter", "peer_node_id"],
  "security.syn_rate_limited": ["src_addr", "src_port"],
  "syn.rejected": ["dst_port", "src_addr", "src_node_id"],
  "datagram.rejected": ["dst_port", "src_addr", "src_node_id"],
  "conn.rst": ["conn_id", "local_port", "remote_addr", "remote_port"],
  "data.datagram": ["dst_port", "size", "src_addr", "src_port"],
};

Deno.test({
  name:
    "webhooks: auto-join, tunnel peer/established/relay, nonce replay, SYN flood, refused SYN and datagram, conn.rst",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const admin = "webhook-test-admin-token";
    const rx = WebhookReceiver.start();
    const net = await TestNetwork.start(["--memory", "--admin-token", admin]);
    let beacon: PilotProcess | undefined;
    const clients: PilotClient[] = [];
    /** Data of `event` raised by daemon `d`, each checked against the spec's key list. */
    const of = (d: TestDaemon, event: string) =>
      rx.events.filter((e) => e.node_id === d.nodeId && e.event === event).map((e) => {
        const data = e.data as Record<string, unknown>;
        assertEquals(Object.keys(data).sort(), DATA_KEYS[event], `${event} data keys`);
        return data;
      });
    const waitFor = async (
      d: TestDaemon,
      event: string,
      pred: (data: Record<string, unknown>) => boolean = () => true,
    ) => {
      await rx.waitFor(() => of(d, event).some(pred));
      return of(d, event).filter(pred);
    };
    try {
      beacon = await startPilot(["beacon", "--listen", "127.0.0.1:0"]);
      const beaconAddr = String(beacon.ready.listen);
      const registry = new RegistryClient({ address: net.registryAddr, adminToken: admin });
      let open: number, gated: number;
      try {
        open = Number((await registry.createNetwork({ name: "hooks-open" })).network_id);
        gated = Number(
          (await registry.createNetwork({ name: "hooks-token", joinRule: "token", token: "t0ken" }))
            .network_id,
        );
      } finally {
        registry.close();
      }
      const hook = ["--webhook", rx.url];
      // p: private; joins the open network at start, the token network refuses it (logged, not fatal).
      const p = await net.addDaemon("p", [...hook, "--admin-token", admin, "--networks", `${open},${gated}`]);
      // a: public, attached to the beacon so relayed frames reach it.
      const a = await net.addDaemon("a", [...hook, "--public", "--beacon", beaconAddr]);
      // d: duplicates half of what it sends, so its peers see replayed PILS.
      const d = await net.addDaemon("d", [
        ...hook,
        "--public",
        "--fault-duplicate",
        "0.5",
        "--fault-seed",
        "3",
      ]);
      // r: every dial through the beacon's relay from the first SYN.
      const r = await net.addDaemon("r", [...hook, "--public", "--beacon", beaconAddr, "--force-relay"]);

      await waitFor(p, "network.auto_joined");
      const cd = await connect(d.socket, { timeoutMs: 5_000 });
      const cr = await connect(r.socket, { timeoutMs: 5_000 });
      clients.push(cd, cr);

      // p is private (the registry will not resolve it for d): p speaks first, so d learns its path.
      const cp = await connect(p.socket, { timeoutMs: 5_000 });
      clients.push(cp);
      await cp.sendTo(d.address, 6000, enc.encode("hello from p"));
      await waitFor(d, "data.datagram", (x) => x.src_addr === p.address);
      // d → p (no trust, no shared network): the SYN is refused (RST), the datagram dropped.
      await assertRejects(() => cd.dial(p.address, 7, { timeoutMs: 10_000 }), Error, /refused/);
      const [refused] = await waitFor(p, "syn.rejected");
      assertEquals(refused, { src_node_id: d.nodeId, src_addr: d.address, dst_port: 7 });
      await cd.sendTo(p.address, 5000, enc.encode("let me in"));
      const [dropped] = await waitFor(p, "datagram.rejected");
      assertEquals(dropped, { src_node_id: d.nodeId, src_addr: d.address, dst_port: 5000 });
      assertEquals(of(p, "network.auto_joined"), [{ network_id: open }]);
      // p heard of d for the first time through d's key exchange.
      const [added] = of(p, "tunnel.peer_added");
      assertEquals(added.peer_node_id, d.nodeId);
      assert(/^127\.0\.0\.1:\d+$/.test(String(added.endpoint)), String(added.endpoint));

      // d → a: more than 10 SYNs in a second from one source; the excess is dropped and retried.
      const flood = await Promise.all(
        Array.from({ length: 16 }, () => cd.dial(a.address, 7, { timeoutMs: 15_000 })),
      );
      const [limited] = await waitFor(a, "security.syn_rate_limited");
      assertEquals(limited.src_addr, d.address);
      assert(typeof limited.src_port === "number" && limited.src_port >= 49152, String(limited.src_port));
      assertEquals(of(a, "security.syn_rate_limited").length, 1, "one report per source per second");
      // Half of d's datagrams arrive twice: a refuses the copies and reports them.
      const keep = flood.pop()!;
      await keep.write(enc.encode("echo me"));
      await keep.read({ timeoutMs: 10_000 });
      const [replay] = await waitFor(a, "security.nonce_replay");
      assertEquals(replay.peer_node_id, d.nodeId);
      assert(typeof replay.counter === "number" && replay.counter >= 0, String(replay.counter));
      for (const c of flood) await c.close();
      // d resolved a through the registry; both ends report the authenticated key exchange.
      assertEquals(
        of(d, "tunnel.peer_added").find((x) => x.peer_node_id === a.nodeId)?.endpoint !== undefined,
        true,
      );
      const direct = { authenticated: true, relay: false, rekeyed: false };
      assertEquals(of(d, "tunnel.established").find((x) => x.peer_node_id === a.nodeId), {
        peer_node_id: a.nodeId,
        ...direct,
      });
      assertEquals(of(a, "tunnel.established").find((x) => x.peer_node_id === d.nodeId), {
        peer_node_id: d.nodeId,
        ...direct,
      });

      // r → a through the beacon: r moves a to the relay before its first SYN; a answers r through it.
      const relayed = await cr.dial(a.address, 7, { timeoutMs: 15_000 });
      await relayed.write(enc.encode("via the beacon"));
      assertEquals(new TextDecoder().decode((await relayed.read({ timeoutMs: 10_000 }))!), "via the beacon");
      await relayed.close();
      assertEquals(of(r, "tunnel.relay_activated"), [{ peer_node_id: a.nodeId }]);
      const [rEst] = await waitFor(r, "tunnel.established");
      assertEquals(rEst, { peer_node_id: a.nodeId, authenticated: true, relay: true, rekeyed: false });
      await waitFor(a, "tunnel.relay_activated", (x) => x.peer_node_id === r.nodeId);

      // a stops while d still holds an echo connection: a resets it, and d reports the RST.
      await a.process.stop();
      const [rst] = await waitFor(d, "conn.rst");
      assertEquals([rst.remote_addr, rst.remote_port], [a.address, 7]);
      assert(typeof rst.conn_id === "number" && typeof rst.local_port === "number");
    } finally {
      for (const c of clients) await closeQuietly(c);
      await beacon?.stop("SIGKILL");
      await net.close();
      await rx.close();
    }
  },
});

Deno.test({
  name: "webhooks: node.reregistered after the registry forgot the node (three failed heartbeats)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const rx = WebhookReceiver.start();
    const net = await TestNetwork.start(["--memory"]);
    try {
      const d = await net.addDaemon("d", [...PUBLIC, "--webhook", rx.url, "--heartbeat", "150ms"]);
      await rx.waitFor((e) => e.some((x) => x.event === "node.registered"));
      // A registry restart without state: heartbeats for the unknown node fail until the daemon registers again.
      await net.registry!.stop("SIGKILL");
      await net.startRegistry(["--memory"]);
      await rx.waitFor((e) => e.some((x) => x.event === "node.reregistered"), 15_000);
      const [again] = rx.named("node.reregistered");
      assertEquals(again.node_id, d.nodeId);
      assertEquals(again.data, { address: d.address });
    } finally {
      await net.close();
      await rx.close();
    }
  },
});
