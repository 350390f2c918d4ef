/**
 * Tunnel throughput: pushes N MiB of 4 KiB packets through two encrypted tunnels on 127.0.0.1 and
 * prints MB/s, packet loss and CPU time, with progress on stderr.
 *
 *   deno run -A bench/tunnel_bench.ts [--mode echo|oneway] [--mib 64] [--window 256]
 *        [--udp auto|linux|node] [--aes batch|sync] [--drop 0] [--plain]
 *
 * echo (default): a child process runs the second tunnel and echoes every packet back, as two
 * daemons would; MB/s counts the payload once (64 MiB out and 64 MiB back in T seconds → 64 MiB/T).
 * oneway: both tunnels in this process, A → B only. The sender keeps at most `window` packets
 * unanswered, like the transport's congestion window, and counts a packet lost when nothing
 * arrives for a while.
 */
import { cpuUsage } from "node:process";
import { parseArgs } from "node:util";
import { fromHex, toHex } from "../lib/bytes.ts";
import { generateEd25519KeyPair } from "../lib/crypto/ed25519.ts";
import { Logger } from "../lib/log.ts";
import { Address } from "../lib/protocol/address.ts";
import { FLAG_ACK, PROTO_STREAM } from "../lib/protocol/header.ts";
import type { Packet } from "../lib/protocol/packet.ts";
import { Tunnel, type TunnelOptions } from "../lib/tunnel/tunnel.ts";

const PAYLOAD = 4096;
const MIB = 1024 * 1024;
const PROGRESS_EVERY = 8 * MIB;
/** No answer for this long: count the window's outstanding packets as lost and go on. */
const STALL_MS = 300;
const SENDER = 1;
const ECHOER = 2;

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    mode: { type: "string", default: "echo" },
    mib: { type: "string", default: "64" },
    window: { type: "string", default: "256" },
    udp: { type: "string", default: "auto" },
    aes: { type: "string", default: "auto" },
    drop: { type: "string", default: "0" },
    plain: { type: "boolean", default: false },
    role: { type: "string", default: "main" },
    peer: { type: "string" },
  },
});

const quiet = new Logger("bench", "warn");

function tunnelOptions(
  nodeId: number,
  registry: Map<number, Uint8Array>,
  seed: Uint8Array,
  publicKey: Uint8Array,
) {
  return {
    listen: { host: "127.0.0.1", port: 0 },
    nodeId,
    identity: { seed, publicKey },
    encrypt: !args.plain,
    resolvePeerKey: (node: number) => Promise.resolve(registry.get(node)),
    udp: args.udp as TunnelOptions["udp"],
    aes: args.aes as TunnelOptions["aes"],
    log: quiet,
  } satisfies TunnelOptions;
}

function packetTemplate(src: number, dst: number): Packet {
  return {
    version: 1,
    flags: FLAG_ACK,
    protocol: PROTO_STREAM,
    src: new Address(0, src),
    dst: new Address(0, dst),
    srcPort: 49152,
    dstPort: 7,
    seq: 0,
    ack: 0,
    window: 512,
    payload: new Uint8Array(PAYLOAD).fill(0x5a),
  };
}

/** Child: a tunnel that echoes every packet back to its sender. */
async function runEcho(): Promise<void> {
  const me = generateEd25519KeyPair();
  const [peerKeyHex] = (args.peer ?? "").split(",");
  const registry = new Map([[SENDER, fromHex(peerKeyHex)], [ECHOER, me.publicKey]]);
  const tunnel = await Tunnel.open(tunnelOptions(ECHOER, registry, me.seed, me.publicKey));
  tunnel.onPacket = (p, from) => {
    const src = p.src;
    p.src = p.dst;
    p.dst = src;
    tunnel.send(from, p);
  };
  console.log(`READY ${tunnel.localAddress().port} ${toHex(me.publicKey)}`);
  // Runs until the parent closes stdin.
  for await (const _ of Deno.stdin.readable) { /* ignore */ }
  await tunnel.close();
}

async function runMain(): Promise<void> {
  const total = Math.round(Number(args.mib) * MIB / PAYLOAD);
  const window = Number(args.window);
  const me = generateEd25519KeyPair();
  const registry = new Map<number, Uint8Array>([[SENDER, me.publicKey]]);
  const faults = Number(args.drop) > 0 ? { drop: Number(args.drop), seed: 1 } : undefined;
  const a = await Tunnel.open({ ...tunnelOptions(SENDER, registry, me.seed, me.publicKey), faults });
  let child: Deno.ChildProcess | undefined;
  let b: Tunnel | undefined;
  let peerPort: number;
  if (args.mode === "echo") {
    child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        import.meta.filename!,
        "--role",
        "echo",
        "--peer",
        toHex(me.publicKey),
        "--udp",
        args.udp!,
        "--aes",
        args.aes!,
        ...(args.plain ? ["--plain"] : []),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let line = "";
    while (!line.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("echo process exited");
      line += value;
    }
    reader.releaseLock();
    const [, port, keyHex] = line.trim().split(" ");
    peerPort = Number(port);
    registry.set(ECHOER, fromHex(keyHex));
  } else {
    const peer = generateEd25519KeyPair();
    registry.set(ECHOER, peer.publicKey);
    b = await Tunnel.open(tunnelOptions(ECHOER, registry, peer.seed, peer.publicKey));
    peerPort = b.localAddress().port;
  }

  // Answer-clocked like a transport: every answer (or loss) lets one more packet go, so at most
  // `window` are outstanding and the sender never polls.
  const packet = packetTemplate(SENDER, ECHOER);
  let counting = false;
  let answered = 0;
  let sent = 0;
  let lost = 0;
  let lastAnswer = performance.now();
  let nextProgress = PROGRESS_EVERY;
  let t0 = 0;
  let finish = () => {};
  const done = new Promise<void>((resolve) => finish = resolve);
  const pump = () => {
    while (sent < total && sent - answered - lost < window) {
      packet.seq = (sent * PAYLOAD) >>> 0;
      a.send(ECHOER, packet);
      sent++;
    }
    if (answered + lost >= total) finish();
  };
  const onAnswer = () => {
    if (!counting) return;
    answered++;
    lastAnswer = performance.now();
    if (answered * PAYLOAD >= nextProgress) {
      const secs = (lastAnswer - t0) / 1000;
      const rate = (answered * PAYLOAD / secs / 1e6).toFixed(1);
      console.error(`  ${(answered * PAYLOAD / MIB).toFixed(0)} MiB  ${rate} MB/s`);
      nextProgress += PROGRESS_EVERY;
    }
    pump();
  };
  if (b) b.onPacket = onAnswer;
  else a.onPacket = onAnswer;

  a.addPeer(ECHOER, { host: "127.0.0.1", port: peerPort });
  // Key exchange first, so the timed part is the data path.
  const probe = packetTemplate(SENDER, ECHOER);
  while (!args.plain && !a.isEncrypted(ECHOER)) {
    a.send(ECHOER, probe);
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 100));

  const stall = setInterval(() => {
    if (performance.now() - lastAnswer < STALL_MS) return;
    lost = sent - answered; // everything outstanding is gone
    lastAnswer = performance.now();
    pump();
  }, STALL_MS / 4);
  counting = true;
  t0 = performance.now();
  lastAnswer = t0;
  const cpu0 = cpuUsage();
  const childCpu0 = processCpuSeconds(child?.pid);
  pump();
  await done;
  clearInterval(stall);
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuUsage(cpu0);
  const childCpu = processCpuSeconds(child?.pid);
  const stats = a.stats();
  const result = {
    mode: args.mode,
    udp: a.socketInfo().backend,
    aes: args.plain ? "plaintext" : args.aes,
    mib: Number(args.mib),
    window,
    seconds: Number(secs.toFixed(2)),
    mbPerSecond: Number((answered * PAYLOAD / secs / 1e6).toFixed(1)),
    lossPercent: Number((100 * lost / total).toFixed(3)),
    senderCpuPercent: Number((100 * (cpu.user + cpu.system) / 1e6 / secs).toFixed(0)),
    // CPU per packet moved: oneway = one send + one receive; echo = the sender's share of a round trip.
    cpuMicrosPerPacket: Number(((cpu.user + cpu.system) / total).toFixed(1)),
    echoCpuPercent: childCpu === undefined || childCpu0 === undefined
      ? undefined
      : Number((100 * (childCpu - childCpu0) / secs).toFixed(0)),
    rcvbuf: a.socketInfo().receiveBuffer,
    drops: Object.fromEntries(Object.entries(stats.drops).filter(([, v]) => v > 0)),
  };
  console.log(JSON.stringify(result));
  await a.close();
  await b?.close();
  if (child) {
    await child.stdin.close();
    await child.status;
  }
}

/** CPU seconds (user + system) used so far by process `pid`, from /proc (Linux), else undefined. */
function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime, stime
  } catch {
    return undefined;
  }
}

if (args.role === "echo") await runEcho();
else await runMain();
