/**
 * A daemon that cannot start says which flag is at fault, exits 1 and leaves nothing behind:
 * no socket file and no node in the registry (real `pilot registry` and `pilot daemon`
 * subprocesses). A taken port is the usual cause: the tunnel's UDP port (--listen), the HTTP
 * port (--http, bound after registration) and an IPC socket a live daemon answers on (--socket).
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { TestNetwork } from "../helpers/network.ts";
import { runPilot } from "../helpers/pilot.ts";
import dgram from "node:dgram";

async function nodesOnline(net: TestNetwork): Promise<number> {
  const body = await (await fetch(`http://${net.registry!.ready.http}/healthz`)).json();
  return body.nodes_online;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

function daemonArgs(net: TestNetwork, name: string, overrides: Record<string, string>): string[] {
  const flags: Record<string, string> = {
    registry: net.registryAddr,
    listen: "127.0.0.1:0",
    socket: `${net.dir}/${name}.sock`,
    state: `${net.dir}/${name}`,
    http: "127.0.0.1:0",
    ...overrides,
  };
  return ["daemon", ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v])];
}

Deno.test({
  name: "daemon start-up failures name the flag, exit 1, leave no socket file and no registered node",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const net = await TestNetwork.start(["--http", "127.0.0.1:0"]);
    const udp = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => udp.bind(0, "127.0.0.1", resolve));
    const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const udpPort = udp.address().port;
      const listen = await runPilot(daemonArgs(net, "a", { listen: `127.0.0.1:${udpPort}` }));
      assertEquals(listen.code, 1, listen.stderr);
      assertMatch(listen.stderr, new RegExp(`--listen 127\\.0\\.0\\.1:${udpPort}: address already in use`));
      assert(!listen.stderr.includes("os error"), listen.stderr);
      assert(!(await exists(`${net.dir}/a.sock`)), "socket file left behind");

      // HTTP is bound after registration: the failed start must deregister.
      const httpPort = tcp.addr.port;
      const http = await runPilot(daemonArgs(net, "b", { http: `127.0.0.1:${httpPort}` }));
      assertEquals(http.code, 1, http.stderr);
      assertMatch(http.stderr, new RegExp(`--http 127\\.0\\.0\\.1:${httpPort}: address already in use`));
      assert(!(await exists(`${net.dir}/b.sock`)), "socket file left behind");
      assertEquals(await nodesOnline(net), 0, "a ghost node stayed registered");

      // No registry answering: the message names --registry.
      const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const nowhere = `127.0.0.1:${closed.addr.port}`;
      closed.close();
      const noRegistry = await runPilot([
        ...daemonArgs(net, "d", { registry: nowhere }),
        ...["--registry-wait", "1s"],
      ]);
      assertEquals(noRegistry.code, 1, noRegistry.stderr);
      assertMatch(noRegistry.stderr, new RegExp(`--registry ${nowhere}: cannot register`));
      assert(!(await exists(`${net.dir}/d.sock`)), "socket file left behind");

      // A live daemon's socket: refused by name, and the live daemon keeps its socket.
      const live = await net.addDaemon("live");
      const taken = await runPilot(daemonArgs(net, "c", { socket: live.socket }));
      assertEquals(taken.code, 1, taken.stderr);
      assertMatch(taken.stderr, new RegExp(`--socket ${live.socket}: another daemon is listening`));
      assertEquals(await nodesOnline(net), 1, "only the live daemon is registered");
      const info = await runPilot(["info", "--socket", live.socket, "--json"]);
      assertEquals(JSON.parse(info.stdout).data.node_id, live.nodeId);
    } finally {
      udp.close();
      tcp.close();
      await net.close();
    }
  },
});

Deno.test({
  name: "registry and beacon start-up failures name the flag and exit 1",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const udp = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => udp.bind(0, "127.0.0.1", resolve));
    try {
      const tcpAddr = `127.0.0.1:${tcp.addr.port}`;
      const registry = await runPilot(["registry", "--memory", "--listen", tcpAddr]);
      assertEquals(registry.code, 1, registry.stderr);
      assertMatch(registry.stderr, new RegExp(`--listen ${tcpAddr}: address already in use`));
      const http = await runPilot(["registry", "--memory", "--listen", "127.0.0.1:0", "--http", tcpAddr]);
      assertEquals(http.code, 1, http.stderr);
      assertMatch(http.stderr, new RegExp(`--http ${tcpAddr}: address already in use`));
      const udpAddr = `127.0.0.1:${udp.address().port}`;
      const beacon = await runPilot(["beacon", "--listen", udpAddr]);
      assertEquals(beacon.code, 1, beacon.stderr);
      assertMatch(beacon.stderr, new RegExp(`--listen ${udpAddr}: address already in use`));
    } finally {
      tcp.close();
      udp.close();
    }
  },
});
