/**
 * Load generator for bench/registry_bench.ts, run as its own process so that its work does not
 * share an event loop (or a core) with the bench's bookkeeping, and so that the figures are the
 * registry's rather than the generator's:
 *
 *   deno run -A bench/registry_load.ts --address 127.0.0.1:PORT
 *     --op register|lookup|set_tags|get_key_info [--own] [--signing strict|reference]
 *     [--clients 50] [--seconds 5] [--max-id N] [--pid REGISTRY_PID]
 *
 * Every request frame is built (and, for registrations and set_tags, keyed and signed) before the
 * clock starts; timing then only writes ready frames and waits for each reply, one request at a
 * time per connection as the registry protocol has it. With `--own` (implied by set_tags and
 * get_key_info) each client first registers a node of its own, untimed, in the `--signing` dialect
 * (the reference registry's is `reference`), and the requests name those nodes rather than ids up
 * to `--max-id`. With `--pid`, also samples that process's CPU time over exactly the timed window.
 * Prints one JSON line: `{"op","clients","count","ok","seconds","perSecond","errors","cpuUs"}`
 * (ok: replies that are not errors; cpuUs: per request).
 * @module
 */
import { generateEd25519KeyPair } from "../lib/crypto/ed25519.ts";
import { toBase64 } from "../lib/bytes.ts";
import { signRequest } from "../lib/registry/auth.ts";
import { type SigningMode, signInMode } from "../lib/registry/client_signing.ts";
import { RegistryClient } from "../lib/registry/client.ts";
import {
  decodeBody,
  encodeFrame,
  FrameReader,
  MAX_REPLY_BODY,
  type WireMessage,
} from "../lib/registry/wire.ts";

function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

const [hostname, port] = arg("address", "127.0.0.1:9000").split(":");
const op = arg("op", "register");
const clients = Number(arg("clients", "50"));
const seconds = Number(arg("seconds", "5"));
const maxId = Number(arg("max-id", "1000"));
const pid = Number(arg("pid", "0"));
const signing = arg("signing", "strict") as SigningMode;
const own = Deno.args.includes("--own") || op === "set_tags" || op === "get_key_info";
if (!["register", "lookup", "set_tags", "get_key_info"].includes(op)) throw new Error(`unknown --op ${op}`);
if (op === "register" && signing !== "strict") {
  throw new Error("--op register signs in the strict dialect only");
}
/**
 * Registrations prepared per client: more than it can send in the run (≤3,000/s each, ≤25,000/s
 * in all). Lookup frames are reused, so a few suffice.
 */
const reused = op === "lookup" || op === "get_key_info";
const perClient = reused ? 1_000 : Math.ceil(seconds * Math.min(3_000, 25_000 / clients));

/** CPU seconds (user + system) process `pid` has used so far; 0 without a pid. */
function cpuSeconds(): number {
  if (!pid) return 0;
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** With --own, one node per client, registered in the `--signing` dialect before any frame is built. */
async function ownNodes(): Promise<{ id: number; seed: Uint8Array }[]> {
  if (!own) return [];
  const nodes = [];
  for (let w = 0; w < clients; w++) {
    const c = new RegistryClient({ address: `${hostname}:${port}`, signing, timeoutMs: 30_000 });
    try {
      const seed = generateEd25519KeyPair().seed;
      c.setIdentity({ nodeId: 0, seed });
      nodes.push({ id: (await c.register({ listenAddr: "127.0.0.1:7000" })).node_id, seed });
    } finally {
      c.close();
    }
  }
  return nodes;
}

const nodes = await ownNodes();

async function frames(w: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let i = 0; i < perClient; i++) {
    if (op === "lookup" || op === "get_key_info") {
      const id = own ? nodes[(w + i) % clients].id : 4 + ((w * 7919 + i) % Math.max(1, maxId - 4));
      out.push(encodeFrame({ type: op, node_id: id }));
      continue;
    }
    if (op === "set_tags") {
      // Each frame differs (tags, and in the strict dialect a fresh nonce), so none is a replay.
      const msg: WireMessage = { type: "set_tags", node_id: nodes[w].id, tags: [`t${i % 1000}`] };
      out.push(encodeFrame(await signInMode(msg, nodes[w].seed, signing, Date.now())));
      continue;
    }
    const kp = generateEd25519KeyPair();
    const msg = {
      type: "register",
      public_key: toBase64(kp.publicKey),
      protocol_version: 1,
      listen_addr: ":7000",
    };
    out.push(encodeFrame(await signRequest(msg, kp.seed)));
  }
  return out;
}

const prepared = await Promise.all(Array.from({ length: clients }, (_, w) => frames(w)));
const conns = await Promise.all(prepared.map(() => Deno.connect({ hostname, port: Number(port) })));
for (const c of conns) c.setNoDelay(true);
let count = 0;
let errors = 0;
let refused = 0;
let firstError = "";
const cpu0 = cpuSeconds();
const t0 = performance.now();
const end = t0 + seconds * 1000;
await Promise.all(conns.map(async (conn, w) => {
  const reader = new FrameReader(MAX_REPLY_BODY);
  const chunk = new Uint8Array(64 * 1024);
  const mine = prepared[w];
  for (let i = 0; performance.now() < end; i++) {
    if (i === mine.length) {
      if (!reused) break;
      i = 0;
    }
    const frame = mine[i];
    for (let off = 0; off < frame.length;) off += await conn.write(frame.subarray(off));
    let body = reader.next();
    while (body === null) {
      const n = await conn.read(chunk);
      if (n === null) throw new Error("registry closed the connection");
      reader.push(chunk.subarray(0, n));
      body = reader.next();
    }
    const reply = decodeBody(body);
    if (reply.type === "error") {
      refused++;
      firstError ||= String(reply.error);
      // Lookups of ids that do not exist are expected, unless they name the clients' own nodes.
      if (op !== "lookup" || own) errors++;
    }
    count++;
  }
}));
const elapsed = (performance.now() - t0) / 1000;
const cpuUs = (cpuSeconds() - cpu0) * 1e6 / Math.max(1, count);
if (elapsed < seconds * 0.99) {
  console.error(`registry_load: ran out of prepared frames after ${elapsed.toFixed(1)} s`);
}
for (const c of conns) c.close();
console.log(
  JSON.stringify({
    op,
    clients,
    count,
    ok: count - refused,
    seconds: elapsed,
    perSecond: count / elapsed,
    errors,
    firstError,
    cpuUs,
  }),
);
