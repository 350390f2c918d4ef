/**
 * The nameserver end to end: `pilot nameserver` and two `pilot daemon`s as real subprocesses on
 * loopback, driven with `pilot ns query|register` and `pilot ping <name>`. Records are registered,
 * queried, refused for another node's address, kept across a restart by the persistence file,
 * and gone after their TTL (shortened for the test with --nameserver-ttl).
 */
import { assert, assertEquals } from "../assert.ts";
import { startPilot, type TestDaemon, TestNetwork } from "../helpers/network.ts";
import { runPilot } from "../helpers/pilot.ts";
import { connect } from "../../lib/sdk/mod.ts";
import { NameserverClient, NameserverRefusedError } from "../../lib/sdk/services/nameserver.ts";

/** Runs `pilot <args> --json` against daemon `d`: exit code and the parsed envelope. */
async function pilotJson(d: TestDaemon, ...args: string[]) {
  const run = await runPilot([...args, "--socket", d.socket, "--json"]);
  const text = (run.code === 0 ? run.stdout : run.stderr).trim();
  const line = text.split("\n").filter((l) => l.startsWith("{")).pop();
  return { code: run.code, body: line ? JSON.parse(line) : null, run };
}

/** Starts `pilot nameserver` in `net` (state under `name`), public so every node may ask it. */
async function startNameserver(net: TestNetwork, name: string, extra: string[]): Promise<TestDaemon> {
  const d: TestDaemon = {
    process: undefined!,
    socket: `${net.dir}/${name}.sock`,
    stateDir: `${net.dir}/${name}`,
    nodeId: 0,
    address: "",
    http: null,
    args: [
      "nameserver",
      "--registry",
      net.registryAddr,
      "--listen",
      "127.0.0.1:0",
      "--socket",
      `${net.dir}/${name}.sock`,
      "--state",
      `${net.dir}/${name}`,
      "--http",
      "off",
      "--public",
      ...extra,
    ],
  };
  d.process = await startPilot(d.args);
  d.nodeId = Number(d.process.ready.node_id);
  d.address = String(d.process.ready.address);
  net.daemons.push(d);
  return d;
}

Deno.test({
  name: "nameserver: register, query, refuse another node's address, persist, expire; ping by name",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const net = await TestNetwork.start();
    try {
      const store = `${net.dir}/ns-records.json`;
      let ns = await startNameserver(net, "ns", ["--store", store, "--nameserver-ttl", "60s"]);
      // a resolves hostnames through the nameserver; b has a registry hostname and no nameserver.
      const a = await net.addDaemon("a", ["--public", "--nameserver", ns.address]);
      const b = await net.addDaemon("b", ["--public", "--hostname", "shadow"]);
      const ask = (d: TestDaemon, ...args: string[]) => pilotJson(d, "ns", ...args, "--server", ns.address);

      await t.step("a node registers its own address and anyone can query it", async () => {
        const reg = await ask(b, "register", "A", "bravo");
        assertEquals(reg.code, 0, reg.run.stderr);
        assertEquals(reg.body.data, {
          server: ns.address,
          type: "A",
          name: "bravo",
          registered: true,
          address: b.address,
        });
        const q = await ask(a, "query", "A", "bravo");
        assertEquals(q.code, 0, q.run.stderr);
        assertEquals(q.body.data, { server: ns.address, type: "A", name: "bravo", address: b.address });
        const missing = await ask(a, "query", "A", "nobody");
        assertEquals([missing.code, missing.body.code, missing.body.message], [
          1,
          "not_found",
          'name "nobody" not found',
        ]);
      });

      await t.step("registering another node's address or another node's live name is refused", async () => {
        const other = await ask(b, "register", "A", "evil", a.address);
        assertEquals([other.code, other.body.message], [1, "cannot register address for another node"]);
        const svc = await ask(b, "register", "S", "evil", "1", "80", a.address);
        assertEquals([svc.code, svc.body.message], [1, "cannot register service for another node"]);
        const taken = await ask(a, "register", "A", "bravo");
        assertEquals([taken.code, taken.body.code, taken.body.message], [
          1,
          "already_exists",
          'name "bravo" is registered by another node',
        ]);
        assertEquals((await ask(a, "query", "A", "evil")).body.code, "not_found");
        assertEquals((await ask(a, "query", "A", "bravo")).body.data.address, b.address);
      });

      await t.step("N and S records", async () => {
        assertEquals((await ask(a, "register", "N", "lab", "7")).code, 0);
        assertEquals((await ask(b, "query", "N", "lab")).body.data.network_id, 7);
        assertEquals((await ask(a, "register", "S", "web-a", "0", "80")).code, 0);
        assertEquals((await ask(b, "register", "S", "web-b", "0", "80")).code, 0);
        const s = await ask(a, "query", "S", "0", "80");
        assertEquals(s.body.data.services, [
          { name: "web-a", address: a.address, port: 80 },
          { name: "web-b", address: b.address, port: 80 },
        ]);
        assertEquals((await ask(a, "query", "S", "0", "81")).body.data.services, []);
      });

      await t.step("the SDK client registers and looks up through the local daemon", async () => {
        await using client = await connect(a.socket, { timeoutMs: 5_000 });
        const sdk = new NameserverClient(client, ns.address);
        await sdk.registerA("alpha-sdk", a.address);
        assertEquals((await sdk.lookupA("alpha-sdk")).toString(), a.address);
        assertEquals((await sdk.lookupA("bravo")).toString(), b.address);
        await sdk.registerN("lab-sdk", 9);
        assertEquals(await sdk.lookupN("lab-sdk"), 9);
        await sdk.registerS("svc", a.address, 0, 1001);
        assertEquals((await sdk.lookupS(0, 1001)).map((r) => [r.name, r.address.toString(), r.port]), [
          ["svc", a.address, 1001],
        ]);
        const err = await sdk.registerA("beta", b.address).catch((e) => e);
        assert(err instanceof NameserverRefusedError, String(err));
        assertEquals(err.message, "cannot register address for another node");
      });

      await t.step("pilot ping <name> resolves through the nameserver after the registry", async () => {
        const ping = await pilotJson(a, "ping", "bravo", "--count", "1", "--timeout", "20s");
        assertEquals(ping.code, 0, ping.run.stderr);
        assertEquals(ping.body.data.target, b.address);
        // Registry hostnames come first: a's own nameserver record "shadow" loses to b's hostname.
        assertEquals((await ask(a, "register", "A", "shadow")).code, 0);
        const shadow = await pilotJson(a, "ping", "shadow", "--count", "1", "--timeout", "20s");
        assertEquals([shadow.code, shadow.body.data.target], [0, b.address], shadow.run.stderr);
        // b has no nameserver configured: the name is unknown there.
        const none = await pilotJson(b, "ping", "bravo", "--count", "1", "--timeout", "20s");
        assertEquals([none.code, none.body.code], [1, "not_found"]);
      });

      /** Stops the nameserver and starts it again on the same state and file with `extra`. */
      const restart = async (extra: string[]) => {
        await ns.process.stop();
        net.daemons.splice(net.daemons.indexOf(ns), 1);
        ns = await startNameserver(net, "ns", ["--store", store, ...extra]);
        // The first dial after a restart waits (about 7 s) until the peers learn its new endpoint.
        for (const d of [a, b]) await ask(d, "query", "A", "warm-up");
      };

      await t.step("records survive a restart through the persistence file", async () => {
        await restart(["--nameserver-ttl", "60s"]);
        const file = JSON.parse(await Deno.readTextFile(store));
        const bravo = file.a_records.find((r: { name: string }) => r.name === "bravo");
        assertEquals([bravo.address, bravo.owner], [b.address, b.nodeId]);
        assert(Date.parse(bravo.expires_at) > Date.now(), bravo.expires_at);
        assertEquals((await Deno.stat(store)).mode! & 0o777, 0o600);
        const q = await ask(a, "query", "A", "bravo");
        assertEquals([q.code, q.body.data?.address], [0, b.address], q.run.stderr);
        assertEquals((await ask(b, "query", "N", "lab")).body.data.network_id, 7);
        // The owner came back with the record.
        assertEquals((await ask(a, "register", "A", "bravo")).body.code, "already_exists");
      });

      await t.step("records expire after the TTL and stay gone after a restart", async () => {
        // Back with a 4 s TTL: reloaded records keep at most that much life.
        await restart(["--nameserver-ttl", "4s"]);
        const registered = Date.now();
        assertEquals((await ask(a, "register", "A", "alpha")).code, 0);
        assertEquals((await ask(b, "query", "A", "alpha")).body.data.address, a.address);
        let gone = 0;
        while (!gone) {
          const q = await ask(b, "query", "A", "alpha");
          if (q.code !== 0) {
            assertEquals(q.body.code, "not_found");
            gone = Date.now();
          } else {
            assert(Date.now() - registered < 30_000, "alpha never expired");
            await new Promise((r) => setTimeout(r, 250));
          }
        }
        assert(gone - registered >= 3_000, `expired after ${gone - registered} ms, TTL is 4 s`);
        assertEquals((await ask(b, "query", "A", "bravo")).body.code, "not_found");
        await restart([]);
        const file = JSON.parse(await Deno.readTextFile(store));
        assertEquals([file.a_records, file.n_records, file.s_records], [[], [], []]);
        assertEquals((await ask(a, "query", "A", "bravo")).body.code, "not_found");
      });
    } finally {
      await net.close();
    }
  },
});
