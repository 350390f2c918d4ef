/** `pilot registry` as a subprocess: startup report, HTTP /healthz and /metrics, TLS from files, clean shutdown. */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { makeCert } from "./certs.ts";
import { cleanup, RawConn, registeredClient, spawnRegistry } from "./helpers.ts";

Deno.test({
  name: "pilot registry: TLS listener from files, /healthz and /metrics, state kept across a SIGTERM restart",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "pilot-cli-" });
    const { pin } = await makeCert(dir, "srv");
    await Deno.writeTextFile(`${dir}/admin.token`, "file-token\n");
    const args = [
      "--listen",
      "127.0.0.1:0",
      "--state",
      `${dir}/state`,
      "--tls-cert",
      `${dir}/srv.pem`,
      "--tls-key",
      `${dir}/srv.key`,
      "--admin-token-file",
      `${dir}/admin.token`,
      "--http",
      "127.0.0.1:0",
      "--rate-limit",
      "register=100,query=1000",
    ];
    const p = await spawnRegistry(args);
    let id = 0;
    try {
      assertEquals([p.info.tls, p.info.compat, p.info.admin, p.info.nodes], [true, "strict", true, 0]);
      const c = await registeredClient(p.address, { tls: { pin } }, { hostname: "cli-node" });
      id = c.identity!.nodeId;
      const admin = new RegistryClient({ address: p.address, tls: { pin }, adminToken: "file-token" });
      assertEquals((await admin.getAuditLog()).type, "get_audit_log_ok");
      admin.close();
      c.close();
      const health = await fetch(`http://${p.info.http}/healthz`);
      const body = await health.json();
      assertEquals([health.status, body.status, body.nodes_online, body.durable], [200, "ok", 1, true]);
      const metrics = await (await fetch(`http://${p.info.http}/metrics`)).text();
      assertMatch(metrics, /pilot_registry_requests_total\{type="register",result="ok"\} 1/);
      assertMatch(metrics, /pilot_registry_nodes_online 1/);
      assertMatch(metrics, /pilot_registry_wal_fsyncs_total [1-9]/);
    } finally {
      p.child.kill("SIGTERM");
      assertEquals((await p.child.status).code, 0);
    }
    const again = await spawnRegistry(args);
    try {
      assertEquals(again.info.nodes, 1);
      const c = new RegistryClient({ address: again.address, tls: { pin } });
      assertEquals((await c.lookup(id)).hostname, "cli-node");
      c.close();
    } finally {
      again.child.kill("SIGTERM");
      assertEquals((await again.child.status).code, 0);
      await cleanup(dir);
    }
  },
});

Deno.test({
  name:
    "pilot registry: bad flags are usage errors; a second registry on the same state directory is refused",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const run = async (args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../../main.ts", import.meta.url).pathname,
          "registry",
          "--json",
          ...args,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      return { code: out.code, err: new TextDecoder().decode(out.stderr) };
    };
    for (
      const [args, re] of [
        [["--compat", "loose"], /--compat must be strict or reference/],
        [["--listen", "nowhere"], /--listen must be HOST:PORT/],
        [["--tls-cert", "x.pem"], /go together/],
        [["--rate-limit", "bogus=1"], /bad rate limit/],
        [["--frobnicate"], /unknown flag/],
      ] as [string[], RegExp][]
    ) {
      const r = await run(args);
      assertEquals(r.code, 64, args.join(" "));
      assertMatch(r.err, re);
      assert(JSON.parse(r.err.trim().split("\n").pop()!).status === "error");
    }
    const dir = await Deno.makeTempDir({ prefix: "pilot-cli-" });
    const first = await spawnRegistry(["--listen", "127.0.0.1:0", "--state", dir]);
    try {
      // Garbage on one connection does not disturb the process or another client.
      const bad = await RawConn.open(first.port);
      await bad.writeBytes(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
      assertMatch(String((await bad.recv())?.error), /exceeds/);
      bad.close();
      const ok = await RawConn.open(first.port);
      assertEquals((await ok.call({ type: "list_networks" })).type, "list_networks_ok");
      ok.close();
      const second = await run(["--listen", "127.0.0.1:0", "--state", dir]);
      assertEquals(second.code, 1);
      assertMatch(second.err, /in use by another registry/);
    } finally {
      first.child.kill("SIGTERM");
      await first.child.status;
      await cleanup(dir);
    }
  },
});
