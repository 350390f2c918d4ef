/**
 * Summarises V8 .cpuprofile files (from `deno run --cpu-prof`, e.g. bench/throughput_bench.ts
 * --cpu-prof DIR) by self time: per category, per file and per function, with the share of the
 * busy (non-idle) time.
 *
 *   deno run -A bench/cpu_profile_summary.ts FILE_OR_DIR... [--top 25] [--mib N]
 *
 * --mib N: also prints ms per MiB (the bytes the profiled run moved) for each row.
 * Categories are a heuristic over function and file names: what a row counts as is in CATEGORIES.
 */
import { parseArgs } from "node:util";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** First match wins; tested against "function url". */
const CATEGORIES: [string, RegExp][] = [
  ["idle", /^\(idle\)/],
  ["gc", /^\(garbage collector\)/],
  ["crypto", /crypt|cipher|gcm|aes|chacha|seal|nonce|x25519|ed25519|hkdf|sha|lib\/crypto\/|noble/i],
  ["udp", /udp|recvmmsg|sendmmsg|sendto|recvfrom|op_ffi|op_net_(send|recv)_udp|lib\/tunnel\//i],
  ["ipc", /lib\/ipc\/|lib\/daemon\/streams|lib\/sdk\/|unix|op_net_(read|write)|op_read|op_write|socket_io/i],
  ["timers", /timer|timeout|performance|now\b|op_now|Date/i],
  ["copies", /\b(set|slice|subarray|concat|copy|fill)\b|TypedArray/i],
  ["transport", /lib\/transport\//],
  ["promises/runtime", /promise|then|resolve|microtask|op_|ext:|node:|\(program\)/i],
];

function category(fn: string, url: string): string {
  const text = `${fn} ${url}`;
  for (const [name, re] of CATEGORIES) if (re.test(text)) return name;
  return "other";
}

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: { top: { type: "string", default: "25" }, mib: { type: "string" } },
});
const top = Number(values.top);
const mib = values.mib ? Number(values.mib) : undefined;

const files: string[] = [];
for (const p of positionals) {
  if ((await Deno.stat(p)).isDirectory) {
    for await (const e of Deno.readDir(p)) if (e.name.endsWith(".cpuprofile")) files.push(`${p}/${e.name}`);
  } else files.push(p);
}
if (!files.length) {
  console.error("usage: cpu_profile_summary.ts FILE_OR_DIR... [--top 25] [--mib N]");
  Deno.exit(2);
}

const shortUrl = (url: string) => url.replace(/^file:\/\/.*?\/(lib|cli|bench|tests)\//, "$1/");

for (const file of files.sort()) {
  const profile: Profile = JSON.parse(await Deno.readTextFile(file));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  const byCat = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const fn = functionName || "(anonymous)";
    const cat = category(fn, url);
    const add = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + us);
    add(byCat, cat);
    if (cat === "idle") continue;
    busy += us;
    add(byFn, `${fn} ${shortUrl(url)}${url ? `:${lineNumber + 1}` : ""}`);
    add(byFile, shortUrl(url) || "(native/runtime)");
  }
  const row = (name: string, us: number) =>
    `  ${(us / 1000).toFixed(1).padStart(8)} ms ${(100 * us / busy).toFixed(1).padStart(5)}%${
      mib ? ` ${(us / 1000 / mib).toFixed(2).padStart(6)} ms/MiB` : ""
    }  ${name}`;
  const section = (title: string, m: Map<string, number>, n: number) => {
    console.log(` ${title}`);
    for (const [k, us] of [...m].sort((x, y) => y[1] - x[1]).slice(0, n)) console.log(row(k, us));
  };
  console.log(
    `${file}: busy ${(busy / 1000).toFixed(1)} ms, idle ${((byCat.get("idle") ?? 0) / 1000).toFixed(1)} ms`,
  );
  byCat.delete("idle");
  section("by category (self time)", byCat, byCat.size);
  section("by file", byFile, Math.min(top, 15));
  section("by function", byFn, top);
}
