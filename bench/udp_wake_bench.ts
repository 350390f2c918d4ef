/**
 * The tunnel's UDP binding alone, per wake-up mode (lib/tunnel/udp.ts, UdpWake): 64-byte round trips
 * between this process and an echoing subprocess, both on the linux binding in the same mode, on
 * loopback. Prints the p50 round trip back to back, with 5 ms pauses and with 110 ms pauses (the
 * daemons' dial spacing in the other benches), for "runtime" and "poll-thread", modes taking turns
 * per round so both see the same machine load.
 *
 *   deno run -A bench/udp_wake_bench.ts [--rounds 2]
 *
 * Needs the runtime's UDP sockets (deno.json grants --unstable-net to `deno run` in this project).
 * @module
 */
import { parseArgs } from "node:util";
import { Endpoint } from "../lib/tunnel/endpoint.ts";
import { openUdpSocket, type UdpSocket, type UdpWake } from "../lib/tunnel/udp.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { rounds: { type: "string", default: "2" }, serve: { type: "string" } },
});
const PROBE = new Uint8Array(64);
const WARM_TRIPS = 500;
const SERIES = [
  { label: "back to back", trips: 3000, pauseMs: 0 },
  { label: "5 ms pauses", trips: 300, pauseMs: 5 },
  { label: "110 ms pauses", trips: 60, pauseMs: 110 },
];
type Mode = Exclude<UdpWake, "auto">;
const MODES: Mode[] = ["runtime", "poll-thread"];

function open(wake: Mode, onDatagram: (bytes: Uint8Array, from: Endpoint) => void): Promise<UdpSocket> {
  return openUdpSocket({ listen: { host: "127.0.0.1", port: 0 }, backend: "linux", wake }, {
    onDatagram,
    onBatchEnd() {},
  });
}

if (values.serve !== undefined) {
  // The echoing side: answers every datagram and prints its port.
  const socket: UdpSocket = await open(
    values.serve as Mode,
    (bytes, from) => socket.send(undefined, bytes, from),
  );
  console.log(socket.local.port);
} else {
  const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const results = new Map<string, number[]>();
  for (let round = 1; round <= Number(values.rounds); round++) {
    for (const mode of MODES) {
      const server = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL(import.meta.url).pathname, "--serve", mode],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const port = Number((await reader.read()).value?.trim());
      let answered: () => void = () => {};
      const socket = await open(mode, () => answered());
      const to = Endpoint.of("127.0.0.1", port);
      const trip = async () => {
        const t0 = performance.now();
        await new Promise<void>((resolve) => {
          answered = resolve;
          socket.send(undefined, PROBE, to);
        });
        return (performance.now() - t0) * 1000;
      };
      try {
        for (let i = 0; i < WARM_TRIPS; i++) await trip();
        for (const s of SERIES) {
          const us: number[] = [];
          for (let i = 0; i < s.trips; i++) {
            us.push(await trip());
            if (s.pauseMs > 0) await new Promise((r) => setTimeout(r, s.pauseMs));
          }
          const key = `${mode}|${s.label}`;
          results.set(key, [...(results.get(key) ?? []), p50(us)]);
        }
      } finally {
        await socket.close();
        server.kill();
        await reader.cancel();
        await server.status;
      }
      console.error(`[udp-wake] round ${round}: ${mode} done`);
    }
  }
  console.log(`UDP 64 B round trip p50 in µs, one value per round (${new Date().toISOString()})`);
  console.log(`| wake | ${SERIES.map((s) => s.label).join(" | ")} |`);
  console.log(`| --- | ${SERIES.map(() => "---:").join(" | ")} |`);
  for (const mode of MODES) {
    const cells = SERIES.map((s) => results.get(`${mode}|${s.label}`)!.map((v) => v.toFixed(0)).join(" / "));
    console.log(`| ${mode} | ${cells.join(" | ")} |`);
  }
}
