import { runCli } from "./cli/main.ts";
import v8 from "node:v8";
function stats(tag: string) {
  const s = Deno.readTextFileSync(`/proc/self/status`);
  const g=(k:string)=>(Number(new RegExp(k+":\\s+(\\d+)").exec(s)![1])/1024).toFixed(1);
  const sp = v8.getHeapSpaceStatistics().filter(x=>x.space_size>0).map(x=>`${x.space_name.replace("_space","")} ${(x.space_used_size/1048576).toFixed(1)}/${(x.space_size/1048576).toFixed(1)}`).join(", ");
  const h = v8.getHeapStatistics();
  console.error(`FP ${tag}: rss ${g("VmRSS")} hwm ${g("VmHWM")} anon ${g("RssAnon")} file ${g("RssFile")} threads ${/Threads:\s+(\d+)/.exec(s)![1]} | heap ${(h.used_heap_size/1048576).toFixed(1)}/${(h.total_heap_size/1048576).toFixed(1)} ext ${(h.external_memory/1048576).toFixed(1)} malloced ${(h.malloced_memory/1048576).toFixed(1)} peakmalloc ${(h.peak_malloced_memory/1048576).toFixed(1)} | ${sp}`);
}
setTimeout(() => stats("t3"), 3000);
setTimeout(() => { stats("t6"); if (Deno.env.get("FP_SNAP")) console.error("snap", v8.writeHeapSnapshot(Deno.env.get("FP_SNAP"))); }, 6000);
Deno.addSignalListener("SIGUSR2", () => stats("usr2"));
Deno.exit(await runCli(Deno.args));
