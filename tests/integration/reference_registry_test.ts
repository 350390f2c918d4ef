/**
 * Our daemon on a registry that speaks only the reference dialect: real `pilot daemon`
 * subprocesses against the reference-registry double (tests/helpers/reference_registry.ts,
 * checked against recorded reference replies) on loopback. The double's clock runs
 * {@link SCALE} times fast and the daemons beat at the reference's 30 s cadence scaled
 * the same way, so several minutes of registry time, with its 3-minute reaper, pass in
 * seconds. Covers registration with `--public` and `--hostname`, the dialect detected and
 * shown by `pilot info` and /status, heartbeats never refused and nodes never reaped,
 * node settings, resolve, ping, the trust handshake through the registry relay, network
 * operations, and re-registration after the registry forgot the node.
 */
import { assert, assertEquals } from "../assert.ts";
import { type PilotProcess, startPilot } from "../helpers/network.ts";
import { runPilot } from "../helpers/pilot.ts";
import { ReferenceRegistryDouble, STALE_NODE_MS } from "../helpers/reference_registry.ts";
import { REFERENCE_SIGNATURE_REQUIRED } from "../../lib/registry/client.ts";
import { connect, type PilotClient } from "../../lib/sdk/mod.ts";
import { closeQuietly, settleQuietly } from "../../lib/errors.ts";

/** Fake registry milliseconds per real one. */
const SCALE = 20;
/** The reference daemon's heartbeat period (30 s) in real time at {@link SCALE}. */
const HEARTBEAT = `${30_000 / SCALE}ms`;
const ADMIN_TOKEN = "reference-double-admin";

interface Node {
  p: PilotProcess;
  c: PilotClient;
  id: number;
  address: string;
  socket: string;
  http: string;
}

async function startNode(dir: string, name: string, registry: string, extra: string[]): Promise<Node> {
  const socket = `${dir}/${name}.sock`;
  const p = await startPilot([
    "daemon",
    "--registry",
    registry,
    "--listen",
    "127.0.0.1:0",
    "--socket",
    socket,
    "--state",
    `${dir}/${name}`,
    "--http",
    "127.0.0.1:0",
    "--heartbeat",
    HEARTBEAT,
    ...extra,
  ]);
  return {
    p,
    c: await connect(socket, { timeoutMs: 10_000 }),
    id: Number(p.ready.node_id),
    address: String(p.ready.address),
    socket,
    http: String(p.ready.http),
  };
}

async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Requests node `id` sent, as logged by the double (signed requests name the node in varying fields). */
function sentBy(double: ReferenceRegistryDouble, id: number) {
  return double.log.filter((e) =>
    [e.request.node_id, e.request.requester_id, e.request.from_node_id].includes(id) ||
    e.reply.node_id === id && e.request.type === "register"
  );
}

/**
 * Node `id`'s requests other than its registrations and the dialect probes (the heartbeat
 * in our form that follows each registration and is refused with the reference's text).
 */
function afterProbes(double: ReferenceRegistryDouble, id: number) {
  const log = sentBy(double, id);
  return log.filter((e, i) =>
    e.request.type !== "register" &&
    !(e.request.type === "heartbeat" && e.request.auth !== undefined &&
      log[i - 1]?.request.type === "register" &&
      e.reply.error === REFERENCE_SIGNATURE_REQUIRED)
  );
}

Deno.test({
  name: "reference registry: our daemon registers, stays registered and uses every registry operation",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "pilot-refreg-" });
    const double = ReferenceRegistryDouble.start({ adminToken: ADMIN_TOKEN, timeScale: SCALE });
    const nodes: Node[] = [];
    try {
      const a = await startNode(dir, "a", double.address, ["--public", "--hostname", "ref-a"]);
      nodes.push(a);
      const b = await startNode(dir, "b", double.address, []);
      nodes.push(b);
      const fakeStart = double.now();

      // The dialect is found at registration and shown by `pilot info` and /status.
      assertEquals((await a.c.info()).registry_dialect, "reference");
      const info = await runPilot(["info", "--socket", b.socket]);
      assertEquals(info.code, 0, info.stderr);
      assert(info.stdout.includes("registry  reference signatures"), info.stdout);
      const status = await (await fetch(`${a.http}/status`)).json();
      assertEquals(status.registry_dialect, "reference");
      assertEquals(double.node(a.id), { public: true, hostname: "ref-a", tags: [], networks: [0] });

      // Node settings through the daemon.
      await b.c.setHostname("ref-b");
      await b.c.setTags(["gpu", "web"]);
      await b.c.setVisibility(true);
      await b.c.setVisibility(false);
      await b.c.setTaskExec(true);
      assertEquals(double.node(b.id), {
        public: false,
        hostname: "ref-b",
        tags: ["gpu", "web"],
        networks: [0],
      });
      assertEquals((await a.c.resolveHostname("ref-a")).node_id, a.id);

      // Resolve and reach a public node: B pings A.
      const ping = await runPilot([
        "ping",
        a.address,
        "--count",
        "2",
        "--interval",
        "100ms",
        "--socket",
        b.socket,
      ]);
      assertEquals(ping.code, 0, ping.stdout + ping.stderr);
      assert(
        double.requests("resolve", "ok").some((e) =>
          e.request.requester_id === b.id && e.request.node_id === a.id
        ),
      );

      // The trust handshake through the registry relay: B is private, so A cannot reach it directly.
      assertEquals(await a.c.handshake(b.id, "relay me", { timeoutMs: 30_000 }), {
        status: "sent",
        node_id: b.id,
        via: "relay",
      });
      const pending = await waitFor(
        "B to list A's relayed request",
        async () => (await b.c.pendingHandshakes()).find((p) => p.node_id === a.id),
      );
      assertEquals(pending.justification, "relay me");
      assert(double.requests("request_handshake", "ok").some((e) => e.request.from_node_id === a.id));
      await b.c.approveHandshake(a.id);
      await waitFor("A to trust B", async () => (await a.c.trustedPeers()).some((t) => t.node_id === b.id));
      assert(double.requests("respond_handshake", "ok").some((e) => e.request.node_id === b.id));
      // Now the private node resolves for A (trust pair) and answers its ping.
      const ping2 = await runPilot([
        "ping",
        b.address,
        "--count",
        "2",
        "--interval",
        "100ms",
        "--socket",
        a.socket,
      ]);
      assertEquals(ping2.code, 0, ping2.stdout + ping2.stderr);

      // Networks: an operator creates one owned by A; B joins, lists, sees members, leaves.
      const net = double.createNetwork("ref-lab", a.id);
      const joined = await b.c.networkJoin(net);
      assertEquals(joined.network_id, net);
      const listed = await b.c.networkList();
      assert(
        (listed.networks as { name: string }[]).some((n) => n.name === "ref-lab"),
        JSON.stringify(listed),
      );
      const members = await a.c.networkMembers(net);
      assertEquals(
        (members.nodes as { node_id: number }[]).map((n) => n.node_id).sort(),
        [a.id, b.id].sort(),
      );
      await b.c.networkLeave(net);
      assertEquals(double.node(b.id)!.networks, [0]);

      // Several minutes of registry time: heartbeats every 30 s, none refused, nobody reaped.
      await waitFor(
        "6 minutes of registry time",
        () => double.now() - fakeStart >= 2 * STALE_NODE_MS,
        (2 * STALE_NODE_MS) / SCALE + 5_000,
      );
      for (const n of [a, b]) {
        const beats = double.requests("heartbeat", "ok").filter((e) => e.request.node_id === n.id);
        assert(beats.length >= 10, `node ${n.id}: only ${beats.length} heartbeats accepted`);
        const gaps = beats.slice(1).map((e, i) => e.at - beats[i].at);
        assert(Math.max(...gaps) < STALE_NODE_MS, `node ${n.id}: heartbeat gap ${Math.max(...gaps)} ms`);
      }
      assertEquals(double.reaped, []);
      assert(double.has(a.id) && double.has(b.id));
      assertEquals(double.node(a.id)!.public, true);
      for (const n of [a, b]) {
        // Every request after the probe was signed in the reference's form and accepted.
        const rest = afterProbes(double, n.id);
        assert(rest.length > 20, `node ${n.id}: only ${rest.length} requests`);
        assertEquals(
          rest.filter((e) => e.reply.type === "error").map((e) => `${e.request.type}: ${e.reply.error}`),
          [],
        );
        assertEquals(rest.filter((e) => e.request.auth !== undefined).map((e) => e.request.type), []);
      }

      // The registry forgets A (as after a restart): A's heartbeats fail, it registers again as a
      // reference daemon does, under the same id, public again, with its hostname.
      double.forget(a.id);
      await waitFor("A to re-register", () => double.has(a.id) && double.node(a.id)!.public);
      assertEquals(double.node(a.id)!.hostname, "ref-a");
      assertEquals((await a.c.info()).node_id, a.id);
      assertEquals((await a.c.info()).registry_dialect, "reference");
    } catch (err) {
      for (const [i, n] of nodes.entries()) {
        console.error(`--- node ${i} stderr ---\n${n.p.stderrLines.slice(-30).join("\n")}`);
      }
      throw err;
    } finally {
      for (const n of nodes) {
        await closeQuietly(n.c);
        await n.p.stop("SIGKILL");
      }
      double.close();
      await settleQuietly(Deno.remove(dir, { recursive: true }), "cleanup");
    }
  },
});

Deno.test("pilot daemon --registry-auth: an unknown mode is refused before anything starts", async () => {
  const run = await runPilot(["daemon", "--registry", "127.0.0.1:9", "--registry-auth", "signed", "--json"]);
  assertEquals(run.code, 64, run.stdout + run.stderr); // a usage error
  const out = JSON.parse(run.stdout || run.stderr);
  assertEquals(out.code, "invalid_argument");
  assert(String(out.message).includes("--registry-auth"), out.message);
});

Deno.test({
  name:
    "pilot daemon --registry-auth strict on a reference registry: refused at start with --public (no silent switch)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "pilot-refreg-" });
    const double = ReferenceRegistryDouble.start();
    try {
      const run = await runPilot([
        "daemon",
        "--registry",
        double.address,
        "--listen",
        "127.0.0.1:0",
        "--socket",
        `${dir}/s.sock`,
        "--state",
        `${dir}/s`,
        "--http",
        "off",
        "--public",
        "--registry-auth",
        "strict",
        "--json",
      ]);
      assert(run.code !== 0, run.stdout);
      assert((run.stdout + run.stderr).includes(REFERENCE_SIGNATURE_REQUIRED), run.stdout + run.stderr);
    } finally {
      double.close();
      await settleQuietly(Deno.remove(dir, { recursive: true }), "cleanup");
    }
  },
});

Deno.test({
  name: "reference registry restarted without its store: our daemon adopts the new node id without a restart",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "pilot-refreg-restart-" });
    const double = ReferenceRegistryDouble.start({ adminToken: ADMIN_TOKEN, timeScale: SCALE });
    const nodes: Node[] = [];
    try {
      const a = await startNode(dir, "a", double.address, ["--public", "--hostname", "ref-a"]);
      nodes.push(a);
      const b = await startNode(dir, "b", double.address, ["--public"]);
      nodes.push(b);

      // The registry restarts with nothing; another key registers first, so neither node gets its
      // old id back.
      const keyA = (await a.c.info()).public_key;
      const keyB = (await b.c.info()).public_key;
      double.restart();
      const mark = double.log.length;
      const filler = double.handle(
        { type: "register", listen_addr: "127.0.0.1:9", public_key: btoa("\x07".repeat(32)) },
        "127.0.0.1",
        9,
      );
      assertEquals(filler.node_id, 1);
      const newA = await waitFor("A to register again", () => {
        const e = double.log.slice(mark).find((r) =>
          r.request.type === "register" && r.request.public_key === keyA && r.reply.type !== "error"
        );
        return e && Number(e.reply.node_id);
      });
      const newB = await waitFor("B to register again", () => {
        const e = double.log.slice(mark).find((r) =>
          r.request.type === "register" && r.request.public_key === keyB && r.reply.type !== "error"
        );
        return e && Number(e.reply.node_id);
      });
      assert(newA !== a.id && newB !== b.id, `ids ${a.id},${b.id} -> ${newA},${newB}`);

      // A takes its new id: IPC info and /status name it, the registry hears heartbeats under it.
      const infoA = await waitFor("A's info to show its new id", async () => {
        const info = await a.c.info();
        return info.node_id === newA && info;
      });
      assertEquals(
        infoA.address,
        `0:0000.${(newA >>> 16).toString(16).padStart(4, "0")}.${
          (newA & 0xffff).toString(16).padStart(4, "0")
        }`,
      );
      assertEquals((await (await fetch(`${a.http}/status`)).json()).node_id, newA);
      await waitFor(
        "A's heartbeat under its new id",
        () => double.requests("heartbeat", "ok").some((e) => e.request.node_id === newA),
      );
      assertEquals(double.node(newA), { public: true, hostname: "ref-a", tags: [], networks: [0] });

      // Both reach each other under the new ids: the tunnel sends under the new id and the
      // session layer's packets leave with the new source.
      const infoB = await waitFor("B's info to show its new id", async () => {
        const info = await b.c.info();
        return info.node_id === newB && info;
      });
      for (const [from, to] of [[b, infoA.address], [a, infoB.address]] as const) {
        const ping = await runPilot([
          "ping",
          to,
          "--count",
          "2",
          "--interval",
          "100ms",
          "--socket",
          from.socket,
        ]);
        assertEquals(ping.code, 0, ping.stdout + ping.stderr);
      }
      // A stream to A's new address, through its echo service.
      const conn = await b.c.dial(infoA.address, 7, { timeoutMs: 10_000 });
      await conn.write(new TextEncoder().encode("after the restart"));
      let echoed = "";
      while (echoed.length < 17) {
        const chunk = await conn.read({ timeoutMs: 10_000 });
        if (chunk === null) break;
        echoed += new TextDecoder().decode(chunk);
      }
      assertEquals(echoed, "after the restart");
      await conn.close();
    } catch (err) {
      for (const [i, n] of nodes.entries()) {
        console.error(`--- node ${i} stderr ---\n${n.p.stderrLines.slice(-30).join("\n")}`);
      }
      throw err;
    } finally {
      for (const n of nodes) {
        await closeQuietly(n.c);
        await n.p.stop("SIGKILL");
      }
      double.close();
      await settleQuietly(Deno.remove(dir, { recursive: true }), "cleanup");
    }
  },
});
