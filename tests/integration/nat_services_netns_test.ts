/**
 * The daemon's own services through real NATs (the lab of tests/helpers/netns.ts): two PRIVATE
 * nodes that share an open network, each behind a NAT router, with a registry and a beacon on
 * the public segment. A service dial (trust on port 444, tasks on port 1003) must cross the NATs
 * the way an IPC dial does: punch when both NATs keep one mapping per endpoint, fall back to the
 * beacon relay when one NAT is symmetric.
 *   - trust: A's handshake request reaches B's port 444 directly (B counts a direct
 *     `handshake_request`, not a registry-relayed one), and B's auto-approval answers A directly;
 *   - tasks: submit, accept, execute and results between the two nodes, with `pilot task` as a
 *     user runs it; the result file lands on the submitter.
 * Needs root, iproute2, nftables and curl; elsewhere the cases are reported as ignored, loudly.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { LAB, type NatKind, NatLab, netnsSupport, sweepStaleLabs } from "../helpers/netns.ts";
import { runPilot } from "../helpers/pilot.ts";
import { connect, type PilotClient } from "../../lib/sdk/mod.ts";
import { closeQuietly } from "../../lib/errors.ts";

const TUNNEL_PORT = 4000;
const HTTP = "127.0.0.1:7380";
const ADMIN_TOKEN = "nat-services-admin-token";
/** The registry client, imported by the script that creates the shared network inside the lab. */

const support = await netnsSupport();
const curl = support.ok
  ? await new Deno.Command("sh", { args: ["-c", "command -v curl"], stdout: "null", stderr: "null" }).output()
  : undefined;
const ready = support.ok && curl?.code === 0;
if (!ready) {
  const reason = support.ok ? "curl is not installed" : support.reason;
  console.warn(
    `\n*** NAT service tests (trust, tasks) SKIPPED: ${reason}. They need root, iproute2, nftables and ` +
      `curl. These cases are NOT verified on this machine. ***\n`,
  );
} else {
  await sweepStaleLabs();
}

interface Node {
  role: string;
  socket: string;
  stateDir: string;
  address: string;
  nodeId: number;
  client: PilotClient;
}

/** Builds a lab with private nodes A (cone NAT) and B (`natB`) in one open network, runs `body`. */
async function withPrivateLab(natB: NatKind, body: (lab: NatLab, a: Node, b: Node) => Promise<void>) {
  const lab = await NatLab.create({ natB });
  const clients: PilotClient[] = [];
  try {
    const registry = `${LAB.inet}:9000`;
    const beacon = `${LAB.inet}:9001`;
    await lab.startPilot("inet", [
      "registry",
      "--listen",
      registry,
      "--memory",
      "--admin-token",
      ADMIN_TOKEN,
    ]);
    await lab.startPilot("inet", ["beacon", "--listen", beacon]);
    const network = await lab.createNetwork(registry, ADMIN_TOKEN, "natlab");
    const daemon = async (role: string, name: string): Promise<Node> => {
      const socket = `${lab.dir}/${name}.sock`;
      const stateDir = `${lab.dir}/${name}`;
      const p = await lab.startPilot(role, [
        "daemon",
        "--registry",
        registry,
        "--beacon",
        beacon,
        "--listen",
        `0.0.0.0:${TUNNEL_PORT}`,
        "--socket",
        socket,
        "--state",
        stateDir,
        "--http",
        HTTP,
        // Relayed handshakes are polled after each heartbeat: keep it short, so a relayed
        // delivery would show up quickly (and be counted as relayed) rather than time out.
        "--heartbeat",
        "1s",
      ]);
      const client = await connect(socket, { timeoutMs: 5_000 });
      clients.push(client);
      await client.networkJoin(network);
      return {
        role,
        socket,
        stateDir,
        address: String(p.ready.address),
        nodeId: Number(p.ready.node_id),
        client,
      };
    };
    const a = await daemon("ha", "a");
    const b = await daemon("hb", "b");
    await body(lab, a, b);
  } catch (err) {
    for (const p of lab.processes) {
      console.error(`--- ${p.ns} pilot ${p.args[0]} (last log lines) ---\n${p.stderr.slice(-30).join("\n")}`);
    }
    throw err;
  } finally {
    for (const c of clients) await closeQuietly(c);
    await lab.close();
  }
}

/** A counter from the node's /metrics, read inside its namespace (0 when absent). */
async function metric(lab: NatLab, node: Node, name: string, label: string): Promise<number> {
  const r = await lab.exec(node.role, ["curl", "-sf", "--max-time", "5", `http://${HTTP}/metrics`]);
  assertEquals(r.code, 0, `curl /metrics in ${node.role}: ${r.stderr}`);
  const m = new RegExp(`^${name}\\{[^}]*${label}[^}]*\\} (\\S+)$`, "m").exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, ms: number) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function trustCase(natB: NatKind): Promise<void> {
  await withPrivateLab(natB, async (lab, a, b) => {
    // "direct": over a port-444 stream (punched or tunnel-relayed), not the registry's relay.
    assertEquals(await a.client.handshake(b.nodeId, "same lab", { timeoutMs: 60_000 }), {
      status: "sent",
      node_id: b.nodeId,
      via: "direct",
    });
    const onB = await waitFor(
      "B to trust A",
      async () => (await b.client.trustedPeers()).find((t) => t.node_id === a.nodeId),
      30_000,
    );
    assert(onB.network > 0, "auto-approved as a member of the shared network");
    await waitFor(
      "A to trust B",
      async () => (await a.client.trustedPeers()).find((t) => t.node_id === b.nodeId),
      30_000,
    );
    // The request crossed both NATs to port 444, and nothing went through the registry relay.
    assertEquals(await metric(lab, b, "pilot_handshake_processed_total", 'type="handshake_request"'), 1);
    assertEquals(await metric(lab, b, "pilot_handshake_processed_total", 'type="relay_request"'), 0);
    assertEquals(await metric(lab, a, "pilot_handshake_sent_total", 'path="direct"'), 1);
    assertEquals(await metric(lab, a, "pilot_handshake_sent_total", 'path="relay"'), 0);
    // B's accept came back the same way (B dialed A's port 444 through the NATs).
    await waitFor(
      "A to receive B's direct accept",
      async () => await metric(lab, a, "pilot_handshake_processed_total", 'type="handshake_accept"') === 1,
      30_000,
    );
    assertEquals(await metric(lab, b, "pilot_handshake_sent_total", 'path="relay"'), 0);
    const paths = await metric(lab, a, "pilot_peer_paths", `path="${natB === "cone" ? "punched" : "relay"}"`);
    assertEquals(paths, 1, `A's path to B is ${natB === "cone" ? "punched" : "relayed"}`);
  });
}

/** `pilot <args> --socket … [--state …] --json` as `node`; the envelope's data, which must be ok. */
async function pilotOk(node: Node, ...args: string[]): Promise<Record<string, unknown>> {
  const state = args[0] === "task" ? ["--state", node.stateDir] : [];
  const r = await runPilot([...args, "--socket", node.socket, ...state, "--json"], { timeoutMs: 90_000 });
  const text = (r.code === 0 ? r.stdout : r.stderr).trim().split("\n").pop() ?? "";
  let env: { status?: string; data?: Record<string, unknown> };
  try {
    env = JSON.parse(text);
  } catch {
    throw new Error(`pilot ${args.join(" ")} printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  assertEquals(env.status, "ok", `pilot ${args.join(" ")}: ${text}`);
  return env.data!;
}

async function taskStatus(node: Node, box: string, id: string): Promise<string | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(join(node.stateDir, "tasks", box, `${id}.json`))).status;
  } catch {
    return undefined;
  }
}

async function taskCase(natB: NatKind): Promise<void> {
  await withPrivateLab(natB, async (_lab, a, b) => {
    const sub = await pilotOk(a, "task", "submit", b.address, "--task", "count the packets");
    assertEquals([sub.accepted, sub.status], [true, 200]);
    const id = String(sub.task_id);
    assertEquals(await taskStatus(b, "received", id), "NEW");
    const waitStatus = (status: string) =>
      waitFor(
        `A's task to be ${status}`,
        async () => await taskStatus(a, "submitted", id) === status,
        30_000,
      );
    assertEquals(await pilotOk(b, "task", "accept", "--id", id), {
      task_id: id,
      status: "ACCEPTED",
      message: "Task accepted",
    });
    await waitStatus("ACCEPTED");
    const exec = await pilotOk(b, "task", "execute");
    assertEquals([exec.task_id, exec.status, exec.from], [id, "EXECUTING", a.address]);
    await waitStatus("EXECUTING");
    const res = await pilotOk(b, "task", "send-results", "--id", id, "--results", "4096 packets");
    assertEquals([res.status, res.sent_to], ["SUCCEEDED", a.address]);
    await waitStatus("COMPLETED");
    assertEquals(
      await Deno.readTextFile(join(a.stateDir, "tasks", "results", `${id}_result.txt`)),
      "4096 packets",
    );
    assertEquals(await taskStatus(b, "received", id), "SUCCEEDED");
  });
}

const OPTS = { ignore: !ready, sanitizeResources: false, sanitizeOps: false };

Deno.test({
  ...OPTS,
  name:
    "NAT services (netns): trust handshake on port 444 between private nodes behind two cone NATs, direct",
  fn: () => trustCase("cone"),
});

Deno.test({
  ...OPTS,
  name: "NAT services (netns): trust handshake on port 444, cone NAT to symmetric NAT, over the beacon relay",
  fn: () => trustCase("symmetric"),
});

Deno.test({
  ...OPTS,
  name:
    "NAT services (netns): a task (submit, accept, execute, results) between private nodes behind cone NATs",
  fn: () => taskCase("cone"),
});

Deno.test({
  ...OPTS,
  name: "NAT services (netns): a task (submit, accept, execute, results), cone NAT to symmetric NAT (relay)",
  fn: () => taskCase("symmetric"),
});
