import { assert, assertEquals } from "../../../tests/assert.ts";
import type { AuditEntry } from "../state/audit.ts";
import { DeliveryError } from "./queue.ts";
import { FileSink, HttpSink, resolveFilePath } from "./sinks.ts";

Deno.test("file endpoints resolve inside the export directory only", () => {
  assertEquals(resolveFilePath("audit.jsonl", "/srv/x"), "/srv/x/audit.jsonl");
  assertEquals(resolveFilePath("/srv/x/sub/a.log", "/srv/x"), "/srv/x/sub/a.log");
  assertEquals(resolveFilePath("file:///srv/x/a.log", "/srv/x/"), "/srv/x/a.log");
  for (const bad of ["../a", "/srv/xy/a", "/etc/passwd", "file:///etc/passwd", "/srv/x", "sub/../../a"]) {
    let refused = false;
    try {
      resolveFilePath(bad, "/srv/x");
    } catch {
      refused = true;
    }
    assert(refused, `${bad} must be refused`);
  }
  let noDir = false;
  try {
    resolveFilePath("a", null);
  } catch {
    noDir = true;
  }
  assert(noDir, "no export directory, no file sinks");
});

Deno.test("file sink rotates by size, keeps N files, loses no line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pilot-filesink-" });
  try {
    const path = `${dir}/audit.jsonl`;
    const sink = new FileSink(path, 200, 3, (e) => JSON.stringify({ seq: e.seq, pad: "x".repeat(40) }));
    const entries = (from: number, n: number): AuditEntry[] =>
      Array.from(
        { length: n },
        (_, i) => ({ seq: from + i, t: 0, action: "a", actor: "", network_id: 0, node_id: 0 }),
      );
    await sink.deliver(entries(1, 6));
    await sink.deliver(entries(7, 3));
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assertEquals(names, ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]);
    const seqs: number[] = [];
    for (const n of names) {
      const text = Deno.readTextFileSync(`${dir}/${n}`);
      assert(text.length <= 200, `${n} is ${text.length} bytes`);
      for (const l of text.split("\n").filter((x) => x)) seqs.push(JSON.parse(l).seq);
    }
    assertEquals(seqs.sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Two more rotations: past 1 + 3 files the oldest is deleted.
    await sink.deliver(entries(10, 6));
    assertEquals([...Deno.readDirSync(dir)].length, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("HTTP sink: json one entry per request, CEF as text/plain, HEC batched with its token; status classes", async () => {
  const got: { type: string; auth: string; body: string }[] = [];
  let reply = 200;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    got.push({
      type: req.headers.get("content-type") ?? "",
      auth: req.headers.get("authorization") ?? "",
      body: await req.text(),
    });
    return new Response(null, {
      status: reply,
      headers: reply === 302 ? { location: "http://example.com/" } : {},
    });
  });
  const url = `http://127.0.0.1:${server.addr.port}/c`;
  const e = (seq: number): AuditEntry => ({
    seq,
    t: 1000 * seq,
    action: "a.b",
    actor: "admin",
    network_id: 0,
    node_id: 0,
  });
  try {
    const json = new HttpSink({ name: "j", format: "json", endpoint: url });
    assertEquals(json.batchSize, 1);
    await json.deliver([e(1)]);
    assertEquals(got[0].type, "application/json");
    assertEquals(JSON.parse(got[0].body).seq, 1);
    await new HttpSink({ name: "c", format: "syslog_cef", endpoint: url }).deliver([e(2)]);
    assertEquals(got[1].type, "text/plain");
    assert(got[1].body.startsWith("CEF:0|Pilot|Registry|1.0|a.b|a.b|3|"), got[1].body);
    const hec = new HttpSink({ name: "h", format: "splunk_hec", endpoint: url, token: "tk" });
    await hec.deliver([e(3), e(4)]);
    assertEquals(got[2].auth, "Splunk tk");
    assertEquals(got[2].body.split("\n").map((l) => JSON.parse(l).event.seq), [3, 4]);
    for (
      const [status, permanent] of [[503, false], [429, false], [408, false], [400, true], [403, true], [
        302,
        true,
      ]] as const
    ) {
      reply = status;
      const err = await json.deliver([e(5)]).then(() => null, (x) => x);
      assert(err instanceof DeliveryError, `status ${status} must fail`);
      assertEquals(err.permanent, permanent, `status ${status}`);
    }
  } finally {
    await server.shutdown();
  }
});
