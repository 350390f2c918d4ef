/**
 * The gateway and exposed ports end to end, on loopback: a registry and two `pilot daemon`
 * subprocesses; the far one exposes a real HTTP server (`pilot expose`), the near one runs the
 * gateway (`pilot daemon --gateway`) mapped into 127.77.0.0/16, and curl talks to the mapped
 * address. Covers a 50 MiB download byte for byte, 100 concurrent requests, a client that stops
 * reading (memory and the origin stay bounded), a refused service and a port nobody serves
 * (curl gets a reset at once), a half-closing client, metrics, webhooks, and the mapping
 * surviving a daemon restart; then the trust gate in front of a private node's exposed port.
 */
import { assert, assertEquals } from "../assert.ts";
import { type PilotProcess, startPilot, TestNetwork } from "../helpers/network.ts";
import { runPilot } from "../helpers/pilot.ts";
import { WebhookReceiver } from "../helpers/webhook_receiver.ts";
import { bigBody, curl, ENDLESS_BYTES, freePort, HttpOrigin, sha256Hex } from "../helpers/http_origin.ts";
import { anonymousBytes } from "../helpers/memory.ts";

const SUBNET = "127.77.0.0/16";
const BIG = 50 * 1024 * 1024;

async function pilotJson(args: string[]): Promise<Record<string, unknown>> {
  const r = await runPilot([...args, "--json"]);
  if (r.code !== 0) throw new Error(`pilot ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout).data;
}

/** Three overlay/TCP ports unlikely to collide with anything else on the host. */
function testPorts(): [number, number, number] {
  const base = 20000 + Math.floor(Math.random() * 9000) * 4;
  return [base, base + 1, base + 2];
}

Deno.test("gateway: curl through the gateway to a service behind pilot expose", async (t) => {
  const body = bigBody(BIG);
  const bodyHash = await sha256Hex(body);
  const origin = await HttpOrigin.start(body);
  const hooks = WebhookReceiver.start();
  const [P, Q, R] = testPorts();
  const net = await TestNetwork.start();
  try {
    const far = await net.addDaemon("far", ["--public"]);
    const near = await net.addDaemon("near", [
      "--gateway",
      "--gateway-subnet",
      SUBNET,
      "--gateway-ports",
      `${P},${Q},${R}`,
      "--webhook",
      hooks.url,
      "--log-level",
      "info",
    ]);
    const exposed = await pilotJson([
      "expose",
      String(P),
      `127.0.0.1:${origin.port}`,
      "--socket",
      far.socket,
    ]);
    assertEquals(exposed, { port: P, target: `127.0.0.1:${origin.port}` });
    await pilotJson(["expose", String(Q), `127.0.0.1:${freePort()}`, "--socket", far.socket]);
    for (
      const [args, code] of [
        [["expose", "7", "127.0.0.1:1"], "already_exists"], // the echo service has it
        [["expose", String(R), "no-port"], "invalid_argument"],
        [["unexpose", String(R)], "not_found"],
      ] as const
    ) {
      const r = await runPilot([...args, "--socket", far.socket, "--json"]);
      assertEquals(JSON.parse(r.stderr).code, code, r.stderr);
    }
    const mapped = await pilotJson(["gateway", "map", far.address, "--socket", near.socket]);
    const ip = String(mapped.local_ip);
    assertEquals(ip, "127.77.0.1");
    assertEquals(mapped.pilot_addr, far.address);
    const url = `http://${ip}:${P}`;

    await t.step("50 MiB download is byte-exact", async () => {
      const file = await Deno.makeTempFile();
      try {
        const r = await curl(["-sS", "--max-time", "120", "-o", file, `${url}/big`]);
        assertEquals(r.code, 0, r.stderr);
        const got = await Deno.readFile(file);
        assertEquals(got.length, BIG);
        assertEquals(await sha256Hex(got), bodyHash);
        console.log(`50 MiB through gateway+expose: ${(BIG / 1048576 / (r.ms / 1000)).toFixed(1)} MiB/s`);
      } finally {
        await Deno.remove(file);
      }
    });

    await t.step("100 concurrent requests all answered", async () => {
      const before = origin.requests;
      const t0 = performance.now();
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) => curl(["-sS", "--max-time", "60", `${url}/small?${i}`])),
      );
      if (results.some((r) => r.code !== 0)) {
        console.error(near.process.stderrLines.slice(-8).join("\n"));
        for (const d of [near, far]) {
          const m = await (await fetch(`${d.http}/metrics`)).text();
          console.error(
            m.split("\n").filter((l) => /gateway|expose|rst|refus|limit/.test(l) && !l.startsWith("#")).join(
              "\n",
            ),
          );
        }
      }
      for (const [i, r] of results.entries()) {
        assertEquals(r.code, 0, `request ${i}: ${r.stderr}`);
        assertEquals(r.stdout, `hello from the origin, GET /small?${i}\n`);
      }
      assertEquals(origin.requests - before, 100);
      // One gateway is one source node to the far side, whose SYN limit (10/s per source) spaces the dials.
      console.log(`100 concurrent requests answered in ${Math.round(performance.now() - t0)} ms`);
    });

    await t.step("a client that stops reading: the origin stalls and memory stays bounded", async () => {
      const producedBefore = origin.produced;
      const rssBefore = anonymousBytes(near.process.child.pid) >> 10;
      const farBefore = anonymousBytes(far.process.child.pid) >> 10;
      const conn = await Deno.connect({ hostname: ip, port: P });
      await conn.write(new TextEncoder().encode("GET /endless HTTP/1.1\r\nHost: x\r\n\r\n"));
      let read = 0;
      const buf = new Uint8Array(256 * 1024);
      while (read < BIG / 2) {
        const n = await conn.read(buf);
        if (n === null) throw new Error("ended early");
        read += n;
      }
      // Stop reading; every buffer on the way fills, then the origin must be held back: wait until
      // it has produced nothing for 2 s (without backpressure it would go on to the whole gigabyte).
      const t0 = performance.now();
      let at3s = 0;
      let at5s = origin.produced - producedBefore;
      for (;;) {
        await new Promise((r) => setTimeout(r, 2000));
        at3s = at5s;
        at5s = origin.produced - producedBefore;
        if (at5s - at3s < 64 * 1024 || performance.now() - t0 > 30_000) break;
      }
      const rssNear = anonymousBytes(near.process.child.pid) >> 10;
      const rssFar = anonymousBytes(far.process.child.pid) >> 10;
      conn.close();
      console.log(
        `stalled reader: read ${(read / 1048576).toFixed(1)} MiB, origin produced ${
          (at3s / 1048576).toFixed(1)
        } MiB, then ${(at5s / 1048576).toFixed(1)} MiB 2 s later (of ${ENDLESS_BYTES >> 20} MiB); ` +
          `RssAnon near ${rssBefore >> 10}→${rssNear >> 10} MiB, far ${farBefore >> 10}→${rssFar >> 10} MiB`,
      );
      // In flight: two loopback TCP connections' kernel buffers (this host autotunes them up to
      // tcp_rmem/tcp_wmem max) and the overlay stream's windows; without backpressure the origin
      // would have pushed its whole gigabyte by now.
      assert(at5s - at3s < 64 * 1024, `origin still producing after 30 s: ${at5s - at3s} bytes in 2 s`);
      assert(at5s < read + 128 * 1024 * 1024, `origin ran ${at5s - read} bytes ahead of the reader`);
      assert(rssNear - rssBefore < 64 * 1024, `near daemon grew by ${rssNear - rssBefore} KiB`);
      assert(rssFar - farBefore < 64 * 1024, `far daemon grew by ${rssFar - farBefore} KiB`);
    });

    await t.step("a refused service and an unserved port: curl gets a reset at once", async () => {
      for (const port of [Q, R]) {
        const r = await curl(["-sS", "--max-time", "20", `http://${ip}:${port}/`]);
        console.log(`port ${port}: curl exit ${r.code} after ${Math.round(r.ms)} ms: ${r.stderr.trim()}`);
        assert(r.code === 56 || r.code === 52 || r.code === 7, `curl exit ${r.code}: ${r.stderr}`);
        assert(/reset|connect/i.test(r.stderr), `expected a reset: ${r.stderr}`);
        assert(r.ms < 10_000, `took ${r.ms} ms`);
      }
    });

    await t.step("a client that half-closes after its request gets the whole reply", async () => {
      const conn = await Deno.connect({ hostname: ip, port: P });
      await conn.write(new TextEncoder().encode("GET /small HTTP/1.0\r\nHost: x\r\n\r\n"));
      await conn.closeWrite();
      const parts: Uint8Array[] = [];
      const buf = new Uint8Array(4096);
      for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) parts.push(buf.slice(0, n));
      conn.close();
      const text = new TextDecoder().decode(new Uint8Array(parts.flatMap((p) => [...p])));
      assert(text.startsWith("HTTP/1.1 200"), text);
      assert(text.endsWith("hello from the origin, GET /small\n"), text);
    });

    await t.step("metrics, status and webhooks report the bridges", async () => {
      const metrics = await (await fetch(`${near.http}/metrics`)).text();
      const conns = new RegExp(
        `pilot_gateway_connections_total\\{local_ip="${ip}",pilot_addr="[^"]+"\\} (\\d+)`,
      )
        .exec(metrics);
      assert(conns && Number(conns[1]) >= 100, metrics);
      const down = /pilot_gateway_bytes_total\{[^}]*direction="from_overlay"\} (\d+)/.exec(metrics);
      assert(down && Number(down[1]) >= BIG + BIG / 2, `from_overlay ${down?.[1]}`);
      assert(/pilot_gateway_errors_total\{[^}]*kind="dial"\} [1-9]/.test(metrics), "dial errors counted");
      const farMetrics = await (await fetch(`${far.http}/metrics`)).text();
      assert(
        new RegExp(`pilot_expose_errors_total\\{port="${Q}",[^}]*kind="connect"\\} [1-9]`).test(farMetrics),
        "connect errors counted on the far node",
      );
      const status = await (await fetch(`${far.http}/status`)).json();
      assertEquals(
        status.exposed.map((e: { port: number }) => e.port).sort(),
        [P, Q].sort(),
      );
      const infoText = await runPilot(["info", "--socket", far.socket]);
      assert(infoText.stdout.includes(`exposed   port ${P} → 127.0.0.1:${origin.port}`), infoText.stdout);
      // `pilot status` and the status page list them too.
      const statusText = await runPilot(["status", "--socket", far.socket]);
      assert(
        statusText.stdout.includes(`exposed     port ${P} -> 127.0.0.1:${origin.port}`),
        statusText.stdout,
      );
      const nearStatus = await runPilot(["status", "--socket", near.socket]);
      assert(nearStatus.stdout.includes(`-> ${far.address}`), nearStatus.stdout);
      const page = await (await fetch(`${far.http}/`)).text();
      assert(page.includes(`<code>port ${P}</code>`), "the status page lists the exposed port");
      await hooks.waitFor((ev) =>
        ev.some((e) => e.event === "gateway.connected") && ev.some((e) => e.event === "gateway.closed") &&
        ev.some((e) => e.event === "gateway.dial_failed")
      );
    });

    await t.step("mappings and exposed ports survive restarts; unmap takes effect at once", async () => {
      await net.restartDaemon(near);
      await net.restartDaemon(far);
      const list = await pilotJson(["gateway", "list", "--socket", near.socket]);
      assertEquals(list.total, 1);
      assertEquals((list.mappings as { local_ip: string }[])[0].local_ip, ip);
      const exposedList = await pilotJson(["exposed", "--socket", far.socket]);
      assertEquals(exposedList.total, 2);
      const r = await curl(["-sS", "--max-time", "30", `${url}/small`]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(await pilotJson(["gateway", "unmap", ip, "--socket", near.socket]), { unmapped: ip });
      const gone = await curl(["-sS", "--max-time", "10", `${url}/small`]);
      assertEquals(gone.code, 7, `after unmap: ${gone.stderr}`); // connection refused: nothing listens
      const again = await runPilot(["gateway", "unmap", ip, "--socket", near.socket, "--json"]);
      assertEquals(again.code, 1);
      assertEquals(JSON.parse(again.stderr).code, "not_found");
    });
  } catch (err) {
    for (const d of net.daemons) {
      if (d.http) {
        const m = await (await fetch(`${d.http}/metrics`)).text().catch(() => "");
        console.error(
          m.split("\n").filter((l) => /gateway|expose|rst|refus|limit/.test(l) && !l.startsWith("#")).join(
            "\n",
          ),
        );
      }
    }
    for (const d of net.daemons) {
      console.error(`--- ${d.stateDir} ---\n${d.process.stderrLines.slice(-30).join("\n")}`);
    }
    throw err;
  } finally {
    await net.close();
    await origin.close();
    await hooks.close();
  }
});

Deno.test("gateway: a private node's exposed port is unreachable until the handshake is approved", async () => {
  const origin = await HttpOrigin.start(new Uint8Array(16));
  const [P] = testPorts();
  const net = await TestNetwork.start();
  try {
    const fast = ["--heartbeat", "250ms"];
    const far = await net.addDaemon("far", fast);
    const near = await net.addDaemon("near", [
      ...fast,
      "--gateway",
      "--gateway-subnet",
      SUBNET,
      "--gateway-ports",
      `${P}`,
    ]);
    await pilotJson(["expose", String(P), `127.0.0.1:${origin.port}`, "--socket", far.socket]);
    const { local_ip: ip } = await pilotJson(["gateway", "map", String(far.nodeId), "--socket", near.socket]);
    const url = `http://${ip}:${P}/small`;

    const before = await curl(["-sS", "--max-time", "40", url]);
    console.log(
      `before trust: curl exit ${before.code} after ${Math.round(before.ms)} ms: ${before.stderr.trim()}`,
    );
    assert(before.code !== 0, "reached a private node without trust");
    assertEquals(origin.requests, 0);

    await pilotJson(["handshake", String(far.nodeId), "gateway", "test", "--socket", near.socket]);
    const until = Date.now() + 20_000;
    for (;;) {
      const pending = await pilotJson(["pending", "--socket", far.socket]);
      if ((pending.pending as { node_id: number }[]).some((p) => p.node_id === near.nodeId)) break;
      if (Date.now() > until) throw new Error("handshake request never arrived");
      await new Promise((r) => setTimeout(r, 200));
    }
    await pilotJson(["approve", String(near.nodeId), "--socket", far.socket]);
    let after = await curl(["-sS", "--max-time", "40", url]);
    for (let i = 0; after.code !== 0 && i < 20; i++) {
      await new Promise((r) => setTimeout(r, 500)); // trust reaches the near side a heartbeat later
      after = await curl(["-sS", "--max-time", "40", url]);
    }
    assertEquals(after.code, 0, after.stderr);
    assertEquals(after.stdout, "hello from the origin, GET /small\n");
  } catch (err) {
    for (const d of net.daemons) {
      console.error(`--- ${d.stateDir} ---\n${d.process.stderrLines.slice(-30).join("\n")}`);
    }
    throw err;
  } finally {
    await net.close();
    await origin.close();
  }
});

Deno.test("gateway: `pilot gateway start` as its own process, dialing over IPC; map/list/stop reach it", async () => {
  const body = bigBody(8 * 1024 * 1024);
  const hash = await sha256Hex(body);
  const origin = await HttpOrigin.start(body);
  const [P] = testPorts();
  const net = await TestNetwork.start();
  let gw: PilotProcess | undefined;
  try {
    const far = await net.addDaemon("far", ["--public"]);
    const other = await net.addDaemon("other", ["--public", "--hostname", "gw-other"]);
    const near = await net.addDaemon("near");
    await pilotJson(["expose", String(P), `127.0.0.1:${origin.port}`, "--socket", far.socket]);
    const state = `${net.dir}/gw`;
    gw = await startPilot([
      "gateway",
      "start",
      "--subnet",
      "127.78.0.0/16",
      "--ports",
      String(P),
      "--socket",
      near.socket,
      "--state",
      state,
      far.address,
    ]);
    assertEquals(gw.ready.mappings, [{ local_ip: "127.78.0.1", pilot_addr: far.address }]);
    const file = await Deno.makeTempFile();
    try {
      const r = await curl(["-sS", "--max-time", "60", "-o", file, `http://127.78.0.1:${P}/big`]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(await sha256Hex(await Deno.readFile(file)), hash);
    } finally {
      await Deno.remove(file);
    }
    // map on the running gateway takes effect at once, and list shows both.
    const mapped = await pilotJson(["gateway", "map", "gw-other", "--state", state]); // a hostname
    assertEquals(mapped, { local_ip: "127.78.0.2", pilot_addr: other.address, ports: [P] });
    const outside = await runPilot(["gateway", "map", near.address, "10.4.0.9", "--state", state, "--json"]);
    assertEquals(JSON.parse(outside.stderr).code, "invalid_argument"); // not in the gateway's subnet
    const list = await pilotJson(["gateway", "list", "--state", state]);
    assertEquals(list.total, 2);
    const nothing = await curl(["-sS", "--max-time", "20", `http://127.78.0.2:${P}/small`]);
    assert(nothing.code !== 0, "nothing is exposed on the other node's port");
    const again = await runPilot(["gateway", "start", "--state", state, "--socket", near.socket, "--json"]);
    assertEquals(JSON.parse(again.stderr).code, "already_exists");
    const stopped = await pilotJson(["gateway", "stop", "--state", state]);
    assertEquals(stopped.pid, gw.child.pid);
    await gw.exited;
    const saved = JSON.parse(await Deno.readTextFile(`${state}/gateway.json`));
    assertEquals(saved.mappings.length, 2);
    const notRunning = await runPilot(["gateway", "stop", "--state", state, "--json"]);
    assertEquals(JSON.parse(notRunning.stderr).code, "not_running");
  } finally {
    await gw?.stop("SIGKILL");
    await net.close();
    await origin.close();
  }
});
