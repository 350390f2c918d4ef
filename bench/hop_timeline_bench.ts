/**
 * Where a dial's and an echo's wall time goes between the three processes, from kernel timestamps
 * (Linux `perf record` of system calls; root or perf_event_paranoid ≤ 1):
 *
 *   deno run -A bench/hop_timeline_bench.ts [--ops 60] [--back-to-back 300] [--keep FILE]
 *
 * A registry and two encrypted `pilot daemon --public` subprocesses with the daemons' V8 flags; an
 * SDK client on daemon a. After 100 unmeasured operations, `--ops` times, 110 ms apart: dial b's
 * echo port, echo 64 B twice, close; then, on one open connection, `--back-to-back` echoes with no
 * pause between them (phase "open"). The client marks each phase's start with a write of a
 * distinctive length to /dev/null, which the trace shows. For each phase it follows the critical
 * path backwards from the client's last wake-up in the phase: daemon a's receipt of the answer
 * before it (`recvmmsg`, or `recvfrom` for a checkout whose receive loop wakes on the runtime's own
 * socket, as 16edf72 tried: docs/benchmarks.md, "Waking on the runtime's UDP socket"), daemon b's
 * `sendmmsg` before that, b's receipt, a's `sendmmsg`. A UDP hop is split where the binding's poll
 * thread returns from `poll` (lib/tunnel/udp_linux.ts; "–" when there is none). Prints medians in
 * µs per phase, and the datagrams each daemon sent. Tracing adds a few µs per system call; compare
 * phases with each other.
 * @module
 */
import { parseArgs } from "node:util";
import { TestNetwork } from "../tests/helpers/network.ts";
import { setPilotLaunch } from "../tests/helpers/pilot.ts";
import { connect } from "../lib/sdk/mod.ts";
import { DIAL_SPACING_MS, ECHO_PORT, echoRoundTrip } from "./echo_probe.ts";
import { STARTUP_PAGE_RELEASE_DELAY_MS } from "../lib/daemon/resident_memory.ts";
import { DAEMON_ENV, DAEMON_V8_FLAGS } from "../cli/daemon_process.ts";
import { settleQuietly } from "../lib/errors.ts";
import { median } from "./compare/table.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    ops: { type: "string", default: "60" },
    "back-to-back": { type: "string", default: "300" },
    keep: { type: "string" },
  },
});
const OPS = Number(values.ops);
const BACK_TO_BACK = Number(values["back-to-back"]);
const WARM_OPS = 100;
/** Echoes on the open connection before its measured ones. */
const OPEN_WARM_ECHOES = 50;

/** System call numbers per architecture (the UDP binding's, the IPC socket's send, the event loop's wait). */
const SYSCALLS = {
  x86_64: { write: 1, sendto: 44, recvfrom: 45, poll: 7, epoll: [232, 281], recvmmsg: 299, sendmmsg: 307 },
  aarch64: { write: 64, sendto: 206, recvfrom: 207, poll: 73, epoll: [22], recvmmsg: 243, sendmmsg: 269 },
}[Deno.build.arch];
/** Marker lengths written by the client: a phase starts at its marker; the last one ends the op. */
const MARKS = { dial: 1000, echo1: 1001, echo2: 1002, close: 1003, open: 1004 } as const;
type Phase = "dial" | "echo1" | "echo2" | "open";
const PHASES: Phase[] = ["dial", "echo1", "echo2", "open"];
const PHASE_OF = new Map<number, Phase>(PHASES.map((p) => [MARKS[p], p]));

interface Event {
  t: number;
  tid: number;
  enter: boolean;
  nr: number;
  /** sys_enter: the third argument (a write's length); sys_exit: the return value. */
  value: number;
}

function parseTrace(text: string): Event[] {
  const out: Event[] = [];
  const re = /^\s*(\d+)\s+([\d.]+):\s+raw_syscalls:sys_(enter|exit):\s+NR (\d+) (?:\(([^)]*)\)|= (-?\d+))/;
  for (const line of text.split("\n")) {
    const m = re.exec(line);
    if (!m) continue;
    const enter = m[3] === "enter";
    const value = enter ? parseInt(m[5].split(",")[2] ?? "0", 16) : Number(m[6]);
    out.push({ t: Number(m[2]) * 1e6, tid: Number(m[1]), enter, nr: Number(m[4]), value });
  }
  return out.sort((x, y) => x.t - y.t);
}

if (!SYSCALLS) throw new Error(`hop_timeline_bench: no system call table for ${Deno.build.arch}`);
setPilotLaunch(undefined, [`--v8-flags=${DAEMON_V8_FLAGS.join(",")}`]);
const net = await TestNetwork.start(["--memory"]);
const traceFile = values.keep ?? await Deno.makeTempFile({ prefix: "pilot-hops-", suffix: ".data" });
try {
  const a = await net.addDaemon("a", ["--public"], DAEMON_ENV);
  const b = await net.addDaemon("b", ["--public"], DAEMON_ENV);
  setPilotLaunch();
  await using client = await connect(a.socket);
  using devNull = Deno.openSync("/dev/null", { write: true });
  const mark = (length: number) => devNull.writeSync(new Uint8Array(length));
  const probe = new Uint8Array(64);
  const op = async (marked: boolean) => {
    if (marked) mark(MARKS.dial);
    const conn = await client.dial(b.address, ECHO_PORT, { timeoutMs: 10_000 });
    if (marked) mark(MARKS.echo1);
    await echoRoundTrip(conn, probe);
    if (marked) mark(MARKS.echo2);
    await echoRoundTrip(conn, probe);
    if (marked) mark(MARKS.close);
    await conn.close();
    await new Promise((r) => setTimeout(r, DIAL_SPACING_MS));
  };
  await new Promise((r) => setTimeout(r, STARTUP_PAGE_RELEASE_DELAY_MS + 1000));
  console.error(`[hops] ${WARM_OPS} unmeasured operations`);
  for (let i = 0; i < WARM_OPS; i++) await op(false);

  const pids = { a: a.process.child.pid, b: b.process.child.pid, client: Deno.pid };
  const filter = [
    SYSCALLS.write,
    SYSCALLS.sendto,
    SYSCALLS.recvfrom,
    SYSCALLS.poll,
    ...SYSCALLS.epoll,
    SYSCALLS.recvmmsg,
    SYSCALLS.sendmmsg,
  ]
    .map((nr) => `id == ${nr}`).join(" || ");
  const perf = new Deno.Command("perf", {
    args: [
      "record",
      "-q",
      "-p",
      Object.values(pids).join(","),
      "-o",
      traceFile,
      "-e",
      "raw_syscalls:sys_enter",
      "--filter",
      filter,
      "-e",
      "raw_syscalls:sys_exit",
      "--filter",
      filter,
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  await new Promise((r) => setTimeout(r, 1500)); // perf attaches
  console.error(`[hops] ${OPS} traced operations`);
  for (let i = 0; i < OPS; i++) {
    await op(true);
    if ((i + 1) % 20 === 0) console.error(`[hops] ${i + 1}/${OPS}`);
  }
  console.error(`[hops] ${BACK_TO_BACK} back-to-back echoes on an open connection`);
  const open = await client.dial(b.address, ECHO_PORT, { timeoutMs: 10_000 });
  for (let i = 0; i < OPEN_WARM_ECHOES; i++) await echoRoundTrip(open, probe);
  for (let i = 0; i < BACK_TO_BACK; i++) {
    mark(MARKS.open);
    await echoRoundTrip(open, probe);
  }
  mark(MARKS.close);
  await open.close();
  perf.kill("SIGINT");
  await perf.status; // perf ends with SIGINT's status; what it wrote is checked below
  if (Deno.statSync(traceFile).size === 0) {
    throw new Error("perf record wrote nothing: run as root, or lower /proc/sys/kernel/perf_event_paranoid");
  }
  const script = await new Deno.Command("perf", {
    args: ["script", "-i", traceFile, "-F", "tid,time,event,trace"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const events = parseTrace(new TextDecoder().decode(script.stdout));

  // Phase boundaries: the indices of the client's marker writes, in order.
  const marks = events.flatMap((e, i) =>
    e.tid === pids.client && e.enter && e.nr === SYSCALLS.write && e.value >= MARKS.dial &&
      e.value <= MARKS.open
      ? [i]
      : []
  );
  const rows: Record<Phase, Record<string, number>[]> = { dial: [], echo1: [], echo2: [], open: [] };
  const lastBefore = (from: number, to: number, ok: (e: Event) => boolean) => {
    for (let i = to - 1; i > from; i--) if (ok(events[i])) return i;
    return -1;
  };
  const firstAfter = (from: number, to: number, ok: (e: Event) => boolean) => {
    for (let i = from + 1; i < to; i++) if (ok(events[i])) return i;
    return -1;
  };
  // A datagram reached the JavaScript thread: recvmmsg, or the runtime's own recvfrom (a daemon
  // reading IPC also uses recvfrom, but not between a datagram's arrival and the client's wake-up).
  const received = (e: Event) =>
    !e.enter && e.value > 0 && (e.nr === SYSCALLS.recvmmsg || e.nr === SYSCALLS.recvfrom);
  // The binding's poll thread of a daemon (any of its threads but the JavaScript one) saw data.
  const pollReturned = (pid: number) => {
    const others = new Set([...Deno.readDirSync(`/proc/${pid}/task`)].map((d) => Number(d.name)));
    others.delete(pid);
    return (e: Event) => !e.enter && e.nr === SYSCALLS.poll && e.value > 0 && others.has(e.tid);
  };
  const polled = { a: pollReturned(pids.a), b: pollReturned(pids.b) };
  for (let m = 0; m + 1 < marks.length; m++) {
    const from = marks[m], to = marks[m + 1];
    const phase = PHASE_OF.get(events[from].value);
    if (phase === undefined) continue;
    const wake = lastBefore(
      from,
      to,
      (e) => e.tid === pids.client && !e.enter && SYSCALLS.epoll.includes(e.nr),
    );
    const aRecv = lastBefore(from, wake, (e) => e.tid === pids.a && received(e));
    const bSend = lastBefore(from, aRecv, (e) => e.tid === pids.b && e.enter && e.nr === SYSCALLS.sendmmsg);
    const bRecv = lastBefore(from, bSend, (e) => e.tid === pids.b && received(e));
    const aSend = lastBefore(from, bRecv, (e) => e.tid === pids.a && e.enter && e.nr === SYSCALLS.sendmmsg);
    if ([wake, aRecv, bSend, bRecv, aSend].includes(-1)) continue;
    const bPoll = firstAfter(aSend, bRecv, polled.b);
    const aPoll = firstAfter(bSend, aRecv, polled.a);
    const t = (i: number) => events[i].t;
    const phaseEvents = events.slice(from, to);
    const sent = (pid: number) =>
      phaseEvents.filter((e) => e.tid === pid && !e.enter && e.nr === SYSCALLS.sendmmsg)
        .reduce((n, e) => n + Math.max(0, e.value), 0);
    const ipcWrite = firstAfter(
      from,
      aSend,
      (e) => e.tid === pids.client && e.enter && e.nr === SYSCALLS.sendto,
    );
    const aWoken = lastBefore(
      from,
      aSend,
      (e) => e.tid === pids.a && !e.enter && SYSCALLS.epoll.includes(e.nr),
    );
    if (ipcWrite < 0 || aWoken < ipcWrite) continue;
    rows[phase].push({
      "client: mark → IPC write": t(ipcWrite) - t(from),
      "client → a's JS thread woken": t(aWoken) - t(ipcWrite),
      "a: woken → sendmmsg": t(aSend) - t(aWoken),
      "a → b: b's poll thread returns": bPoll < 0 ? NaN : t(bPoll) - t(aSend),
      "→ b's JS thread receives": t(bRecv) - (bPoll < 0 ? t(aSend) : t(bPoll)),
      "b: received → sendmmsg": t(bSend) - t(bRecv),
      "b → a: a's poll thread returns": aPoll < 0 ? NaN : t(aPoll) - t(bSend),
      "→ a's JS thread receives": t(aRecv) - (aPoll < 0 ? t(bSend) : t(aPoll)),
      "a: received → client woken": t(wake) - t(aRecv),
      "client to the next mark": t(to) - t(wake),
      "phase total": t(to) - t(from),
      "datagrams a sent": sent(pids.a),
      "datagrams b sent": sent(pids.b),
    });
  }
  console.log(`Hop timeline, ${OPS} operations, medians in µs (${new Date().toISOString()})`);
  const keys = Object.keys(rows.dial[0] ?? rows.echo1[0] ?? {});
  console.log(`| step | ${PHASES.map((p) => `${p} (n=${rows[p].length})`).join(" | ")} |`);
  console.log(`| --- | ${PHASES.map(() => "---:").join(" | ")} |`);
  for (const k of keys) {
    const cells = PHASES.map((p) =>
      median(rows[p].map((r) => r[k]).filter(Number.isFinite))?.toFixed(k.startsWith("datagrams") ? 1 : 0) ??
        "–"
    );
    console.log(`| ${k} | ${cells.join(" | ")} |`);
  }
} finally {
  setPilotLaunch();
  await net.close();
  if (values.keep === undefined) await settleQuietly(Deno.remove(traceFile), "cleanup");
}
