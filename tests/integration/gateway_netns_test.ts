/**
 * The gateway across real NATs (the lab of tests/helpers/netns.ts): node A behind one NAT runs
 * the gateway, node B behind another exposes an HTTP server running in its namespace, and curl
 * in A's namespace downloads 50 MiB through A's gateway address, byte-exact (SHA-256): once over
 * a punched path (two cone NATs) and once over the beacon relay (B behind a symmetric NAT).
 * Needs root, iproute2 and nftables; elsewhere the cases are reported as ignored.
 */
import { assertEquals } from "../assert.ts";
import { LAB, type NatKind, NatLab, netnsSupport, run, sweepStaleLabs } from "../helpers/netns.ts";
import { bigBody, sha256Hex } from "../helpers/http_origin.ts";
import type { PeerInfo } from "../../lib/tunnel/stats.ts";
import { ignoreRejection } from "../../lib/errors.ts";

const BIG = 50 * 1024 * 1024;
const PORT = 8080;
const TUNNEL_PORT = 4000;
const ORIGIN_MAIN = new URL("../helpers/http_origin_main.ts", import.meta.url).pathname;

const support = await netnsSupport();
if (!support.ok) {
  console.warn(`\n*** gateway NAT tests SKIPPED: ${support.reason}. ***\n`);
} else {
  await sweepStaleLabs();
}

async function startOrigin(lab: NatLab, role: string): Promise<number> {
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", lab.ns(role), Deno.execPath(), "run", "-A", ORIGIN_MAIN, String(BIG)],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  ignoreRejection(child.stdout.cancel(), "cleanup");
  return JSON.parse(value!).port;
}

async function viaGateway(natB: NatKind): Promise<{ path: string; seconds: number }> {
  const expected = await sha256Hex(bigBody(BIG));
  const lab = await NatLab.create({ natB });
  try {
    const registry = `${LAB.inet}:9000`;
    const beacon = `${LAB.inet}:9001`;
    await lab.startPilot("inet", ["registry", "--listen", registry, "--memory"]);
    await lab.startPilot("inet", ["beacon", "--listen", beacon]);
    const daemon = (role: string, name: string, extra: string[]) =>
      lab.startPilot(role, [
        "daemon",
        "--registry",
        registry,
        "--beacon",
        beacon,
        "--listen",
        `0.0.0.0:${TUNNEL_PORT}`,
        "--socket",
        `${lab.dir}/${name}.sock`,
        "--state",
        `${lab.dir}/${name}`,
        "--http",
        "off",
        "--public",
        ...extra,
      ]);
    await daemon("ha", "a", [
      "--gateway",
      "--gateway-subnet",
      "127.77.0.0/16",
      "--gateway-ports",
      String(PORT),
    ]);
    const b = await daemon("hb", "b", []);
    const originPort = await startOrigin(lab, "hb");
    const pilot = (role: string, args: string[]) =>
      run(
        "ip",
        ["netns", "exec", lab.ns(role), Deno.execPath(), "run", "-A", MAIN, ...args, "--json"],
        60_000,
      );
    const ex = await pilot("hb", [
      "expose",
      String(PORT),
      `127.0.0.1:${originPort}`,
      "--socket",
      `${lab.dir}/b.sock`,
    ]);
    assertEquals(ex.code, 0, ex.stderr);
    const map = await pilot("ha", [
      "gateway",
      "map",
      String(b.ready.address),
      "--socket",
      `${lab.dir}/a.sock`,
    ]);
    assertEquals(map.code, 0, map.stderr);
    const ip = JSON.parse(map.stdout).data.local_ip;
    const file = `${lab.dir}/download`;
    const t0 = performance.now();
    const curl = await run("ip", [
      "netns",
      "exec",
      lab.ns("ha"),
      "curl",
      "-sS",
      "--max-time",
      "170",
      "-o",
      file,
      `http://${ip}:${PORT}/big`,
    ], 180_000);
    const seconds = (performance.now() - t0) / 1000;
    assertEquals(curl.code, 0, curl.stderr);
    const got = await Deno.readFile(file);
    assertEquals(got.length, BIG);
    assertEquals(await sha256Hex(got), expected);
    const info = await pilot("ha", ["info", "--socket", `${lab.dir}/a.sock`]);
    const peers = JSON.parse(info.stdout).data.peer_list as PeerInfo[];
    const path = String(peers.find((p) => p.node_id === Number(b.ready.node_id))?.path);
    console.log(`  ${natB}: 50 MiB through the gateway in ${seconds.toFixed(1)} s over a ${path} path`);
    return { path, seconds };
  } catch (err) {
    for (const p of lab.processes) {
      console.error(`--- ${p.ns} pilot ${p.args[0]} ---\n${p.stderr.slice(-20).join("\n")}`);
    }
    throw err;
  } finally {
    await lab.close();
  }
}

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

Deno.test({
  name: "gateway (netns): curl through the gateway to an exposed server behind a NAT, punched path",
  ignore: !support.ok,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assertEquals((await viaGateway("cone")).path, "punched");
  },
});

Deno.test({
  name: "gateway (netns): the same download over the beacon relay (symmetric NAT)",
  ignore: !support.ok,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assertEquals((await viaGateway("symmetric")).path, "relay");
  },
});
