import { assertEquals } from "../../tests/assert.ts";
import type { ConnInfo, InfoReply } from "../ipc/replies.ts";
import { foldHealth } from "../http/health.ts";
import { DaemonStatusView, ThroughputSampler } from "./status_view.ts";

Deno.test("throughput is measured between samples at least a second apart", () => {
  const s = new ThroughputSampler();
  assertEquals(s.sample([{ id: 1, bytes_sent: 0, bytes_recv: 0 }], 0).size, 0);
  // Too soon: nothing new.
  assertEquals(s.sample([{ id: 1, bytes_sent: 500, bytes_recv: 0 }], 400).size, 0);
  const r = s.sample(
    [{ id: 1, bytes_sent: 4000, bytes_recv: 1000 }, { id: 2, bytes_sent: 9, bytes_recv: 9 }],
    2000,
  );
  assertEquals(r.get(1), { send: 2000, recv: 500 });
  assertEquals(r.has(2), false);
  // A reload within the second shows the same rates; a closed connection is forgotten.
  assertEquals(s.sample([{ id: 1, bytes_sent: 9000, bytes_recv: 1000 }], 2500).get(1), {
    send: 2000,
    recv: 500,
  });
  assertEquals(s.sample([], 5000).size, 0);
});

function conn(id: number, remote: string, srtt: number): ConnInfo {
  return {
    id,
    local_port: 49152 + id,
    remote_addr: remote,
    remote_port: 1001,
    state: "ESTABLISHED",
    srtt_ms: srtt,
    bytes_sent: 100,
    bytes_recv: 200,
  } as ConnInfo;
}

Deno.test("peers carry their address, path and measured RTT; ports their service", () => {
  const info = {
    node_id: 1,
    address: "0:0000.0000.0001",
    hostname: "",
    uptime_secs: 9,
    public_key: "k",
    encrypt: true,
    bytes_sent: 0,
    bytes_recv: 0,
    pkts_sent: 0,
    pkts_recv: 0,
    nat: { public_endpoint: "", endpoint_source: "local", beacon: "" },
    peer_list: [
      {
        node_id: 2,
        endpoint: "127.0.0.1:1",
        encrypted: true,
        authenticated: true,
        path: "direct",
        pending: 0,
      },
      { node_id: 3, endpoint: "", encrypted: true, authenticated: true, path: "relay", pending: 0 },
      {
        node_id: 4,
        endpoint: "127.0.0.1:4",
        encrypted: true,
        authenticated: true,
        path: "punched",
        pending: 0,
      },
    ],
    conn_list: [
      conn(1, "0:0000.0000.0003", 12),
      conn(2, "0:0000.0000.0003", 8),
      conn(3, "0:0000.0000.0002", 50),
    ],
  } as unknown as InfoReply;
  const view = new DaemonStatusView({
    info: () => info,
    tunnelAddress: () => "127.0.0.1:4000",
    health: () => foldHealth({ tunnel: { ok: true } }),
    trust: () => undefined,
    listenerPorts: () => [1001, 7],
    peerRtt: (node) => node === 2 ? 0.5 : node === 3 ? 8 : undefined,
    recentEvents: () => [],
  }, () => 1000).view();
  assertEquals(view.peers.map((p) => [p.address, p.path, p.rttMs]), [
    ["0:0000.0000.0002", "direct", 0.5],
    ["0:0000.0000.0003", "relay", 8],
    ["0:0000.0000.0004", "punched", undefined],
  ]);
  assertEquals(view.connections.map((c) => c.id), [1, 2, 3]);
  assertEquals(view.ports, [{ port: 7, service: "echo" }, { port: 1001, service: "data exchange" }]);
  assertEquals(view.trust, null);
  assertEquals([view.node.endpoint, view.node.endpointSource], ["127.0.0.1:4000", "local"]);
});
