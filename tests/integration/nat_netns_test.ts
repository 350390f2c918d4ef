/**
 * NAT traversal through real NATs: a lab of network namespaces (tests/helpers/netns.ts) with a
 * registry and a beacon on a public segment and daemons behind nftables masquerade routers. Each
 * case moves 8 MiB over an encrypted stream between two nodes and checks it byte-exact (sha256),
 * then checks the path the nodes report:
 *   1. both NATs keep one mapping per local endpoint: the path ends up direct after punching;
 *   2. one NAT picks a new random port per destination: the dial falls back to the beacon relay;
 *   3. the target has a public address (--endpoint): direct, with no punching at all.
 * Needs root, iproute2 and nftables; elsewhere the cases are reported as ignored, loudly.
 */
import { assert, assertEquals } from "../assert.ts";
import { LAB, type NatKind, NatLab, netnsSupport, sweepStaleLabs } from "../helpers/netns.ts";
import { connect, type PilotClient } from "../../lib/sdk/mod.ts";
import { transfer as transferBytes } from "../helpers/transfer.ts";
import type { InfoReply, PeerInfo } from "../../lib/ipc/replies.ts";
import { closeQuietly } from "../../lib/errors.ts";

const MIB = 1024 * 1024;
const TRANSFER_BYTES = 8 * MIB;
const PORT = 5000;
const TUNNEL_PORT = 4000;

const support = await netnsSupport();
if (!support.ok) {
  console.warn(
    `\n*** NAT traversal tests SKIPPED: ${support.reason}. They need root, iproute2 and nftables ` +
      `(ip netns, veth, nft masquerade). These cases are NOT verified on this machine. ***\n`,
  );
} else {
  await sweepStaleLabs();
}

/** Streams TRANSFER_BYTES from `a` to a listener on `b`; returns both hashes, the byte count and the timings. */
function transfer(a: PilotClient, b: PilotClient, toAddr: string) {
  return transferBytes(a, b, toAddr, PORT, TRANSFER_BYTES, { dialTimeoutMs: 45_000 });
}

interface Node {
  socket: string;
  address: string;
  nodeId: number;
  client: PilotClient;
}

function info(node: Node): Promise<InfoReply> {
  return node.client.info({ timeoutMs: 10_000 });
}

function peerRow(i: InfoReply, node: number): PeerInfo | undefined {
  return i.peer_list.find((p) => p.node_id === node);
}

/** Builds a lab, starts registry, beacon and two daemons, and runs `body`; always tears down. */
async function withLab(
  opts: { natB: NatKind; publicTarget?: boolean },
  body: (lab: NatLab, a: Node, b: Node) => Promise<void>,
): Promise<void> {
  const lab = await NatLab.create({ natB: opts.natB, publicHost: opts.publicTarget });
  const clients: PilotClient[] = [];
  try {
    const registry = `${LAB.inet}:9000`;
    const beacon = `${LAB.inet}:9001`;
    await lab.startPilot("inet", ["registry", "--listen", registry, "--memory"]);
    await lab.startPilot("inet", ["beacon", "--listen", beacon]);
    const daemon = async (role: string, name: string, extra: string[] = []): Promise<Node> => {
      const socket = `${lab.dir}/${name}.sock`;
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
        `${lab.dir}/${name}`,
        "--http",
        "off",
        "--public",
        ...extra,
      ]);
      const client = await connect(socket, { timeoutMs: 5_000 });
      clients.push(client);
      return { socket, address: String(p.ready.address), nodeId: Number(p.ready.node_id), client };
    };
    const a = await daemon("ha", "a");
    const b = opts.publicTarget
      ? await daemon("pub", "p", ["--endpoint", `${LAB.publicHost}:${TUNNEL_PORT}`])
      : await daemon("hb", "b");
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

function report(name: string, r: { dialMs: number; seconds: number }): void {
  const mibs = TRANSFER_BYTES / MIB / r.seconds;
  console.log(
    `  ${name}: dial ${(r.dialMs / 1000).toFixed(2)} s, 8 MiB in ${r.seconds.toFixed(2)} s (${
      mibs.toFixed(1)
    } MiB/s)`,
  );
}

Deno.test({
  name: "NAT (netns): two cone NATs — hole punching, the path ends up direct, 8 MiB byte-exact",
  ignore: !support.ok,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withLab({ natB: "cone" }, async (_lab, a, b) => {
      const ia = await info(a);
      assertEquals(ia.nat.endpoint_source, "discovered");
      assertEquals(ia.nat.public_endpoint, `${LAB.routerA}:${TUNNEL_PORT}`);
      const r = await transfer(a.client, b.client, b.address);
      assertEquals(r.bytes, TRANSFER_BYTES);
      assertEquals(r.received, r.sent);
      report("cone/cone", r);
      const after = await info(a);
      assertEquals(peerRow(after, b.nodeId)?.path, "punched");
      assertEquals(peerRow(after, b.nodeId)?.endpoint, `${LAB.routerB}:${TUNNEL_PORT}`);
      assertEquals(peerRow(after, b.nodeId)?.encrypted, true);
      assert(after.nat.punch_requests >= 1, "a punch was requested");
      assertEquals(after.nat.paths.relay, 0);
      const ib = await info(b);
      assertEquals(peerRow(ib, a.nodeId)?.path, "punched");
    });
  },
});

Deno.test({
  name:
    "NAT (netns): a symmetric NAT on one side — punching fails, the dial falls back to the relay, 8 MiB byte-exact",
  ignore: !support.ok,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withLab({ natB: "symmetric" }, async (_lab, a, b) => {
      const r = await transfer(a.client, b.client, b.address);
      assertEquals(r.bytes, TRANSFER_BYTES);
      assertEquals(r.received, r.sent);
      report("cone/symmetric (relay)", r);
      const ia = await info(a);
      assertEquals(peerRow(ia, b.nodeId)?.path, "relay");
      assertEquals(peerRow(ia, b.nodeId)?.encrypted, true);
      assertEquals(ia.nat.relay_fallbacks, 1);
      assert(ia.nat.punch_requests >= 2, "punching was tried first");
      const ib = await info(b);
      assertEquals(peerRow(ib, a.nodeId)?.path, "relay");
    });
  },
});

Deno.test({
  name: "NAT (netns): a node with a public --endpoint is reached directly with no punching, 8 MiB byte-exact",
  ignore: !support.ok,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withLab({ natB: "cone", publicTarget: true }, async (_lab, a, p) => {
      const ip = await info(p);
      assertEquals(ip.nat.endpoint_source, "override");
      const r = await transfer(a.client, p.client, p.address);
      assertEquals(r.bytes, TRANSFER_BYTES);
      assertEquals(r.received, r.sent);
      report("public endpoint", r);
      const ia = await info(a);
      assertEquals(peerRow(ia, p.nodeId)?.path, "direct");
      assertEquals(peerRow(ia, p.nodeId)?.endpoint, `${LAB.publicHost}:${TUNNEL_PORT}`);
      assertEquals(ia.nat.punch_requests, 0);
      assertEquals(ia.nat.relay_fallbacks, 0);
      const after = await info(p);
      assertEquals(peerRow(after, a.nodeId)?.path, "direct");
      assertEquals(peerRow(after, a.nodeId)?.endpoint, `${LAB.routerA}:${TUNNEL_PORT}`);
    });
  },
});
