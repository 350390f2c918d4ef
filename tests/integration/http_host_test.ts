/**
 * DNS rebinding: the daemon's, the registry's and the beacon's HTTP endpoints (real `pilot`
 * subprocesses) answer only loopback names, their bound address and names given with
 * `--http-host`; a request naming any other host gets 421 and no data.
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { startPilot, TestNetwork } from "../helpers/network.ts";

/** One HTTP/1.1 GET over a raw socket, so the `Host` header is exactly what the test says. */
async function get(url: string, path: string, host: string): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
  try {
    const req = `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
    await conn.write(new TextEncoder().encode(req));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(16384);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const text = new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? NaN);
    return { status, body: text.slice(text.indexOf("\r\n\r\n") + 4) };
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

async function checkEndpoint(what: string, url: string, path: string, extraName: string): Promise<void> {
  const port = new URL(url).port;
  const allowed = [
    "localhost",
    `localhost:${port}`,
    "LOCALHOST:1",
    `127.0.0.1:${port}`,
    "127.9.8.7",
    "[::1]",
    `[::1]:${port}`,
    extraName,
    `${extraName.toUpperCase()}:${port}`,
  ];
  for (const host of allowed) {
    const r = await get(url, path, host);
    assertEquals(r.status, 200, `${what}: Host ${host} is served (${r.body.slice(0, 200)})`);
  }
  const refused = [
    "rebind.attacker.example",
    `rebind.attacker.example:${port}`,
    "localhost.attacker.example",
    "127.0.0.1.attacker.example",
    `sub.${extraName}`,
    "[::2]",
    "127.0.0.1:notaport",
    "",
  ];
  for (const host of refused) {
    const r = await get(url, path, host);
    assertEquals(r.status, 421, `${what}: Host ${JSON.stringify(host)} is refused`);
    assertMatch(r.body, /is not served here/);
    assert(!/node_id|"address"|pilot_/.test(r.body), `${what}: no data leaks to ${host}`);
  }
}

Deno.test({
  name: "daemon, registry and beacon HTTP endpoints refuse a Host that is not theirs",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const net = await TestNetwork.start(["--memory", "--http", "127.0.0.1:0", "--http-host", "registry.lan"]);
    let beacon;
    try {
      const daemon = await net.addDaemon("a", ["--http-host", "node-a.lan,other.lan"]);
      beacon = await startPilot([
        "beacon",
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--http-host",
        "beacon.lan",
      ]);
      const registryHttp = `http://${net.registry!.ready.http}`;
      await checkEndpoint("daemon /status", daemon.http!, "/status", "node-a.lan");
      await checkEndpoint("daemon /metrics", daemon.http!, "/metrics", "other.lan");
      await checkEndpoint("registry /metrics", registryHttp, "/metrics", "registry.lan");
      await checkEndpoint("beacon /healthz", String(beacon.ready.http), "/healthz", "beacon.lan");
      // A name configured for one endpoint is not accepted by another.
      assertEquals((await get(daemon.http!, "/status", "registry.lan")).status, 421);
    } finally {
      await beacon?.stop();
      await net.close();
    }
  },
});

Deno.test({
  name: "a bad --http-host value is refused at start with a clear error",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { runPilot } = await import("../helpers/pilot.ts");
    for (const cmd of [["registry", "--memory"], ["beacon"]]) {
      const r = await runPilot([...cmd, "--listen", "127.0.0.1:0", "--http-host", "bad name:80"]);
      assert(r.code !== 0, `${cmd[0]} exits`);
      assertMatch(r.stdout + r.stderr, /--http-host: "bad name:80" is not a host name or address/);
    }
  },
});
