import { assert, assertEquals, assertMatch } from "../../../tests/assert.ts";
import type { AuditEntry } from "../state/audit.ts";
import {
  cefLine,
  cefSeverity,
  hecBatch,
  hecEvent,
  jsonLine,
  octetCounted,
  parseExportFormat,
  syslogMessage,
  webhookBody,
} from "./format.ts";

const T = Date.UTC(2026, 11, 4, 12, 30, 45, 123);

function entry(over: Partial<AuditEntry> = {}): AuditEntry {
  return { seq: 17, t: T, action: "trust.created", actor: "node:3", network_id: 0, node_id: 3, ...over };
}

Deno.test("json line: the get_audit_log wire form, one line", () => {
  const line = jsonLine(entry({ details: { node_a: 3, node_b: 9 } }));
  assert(!line.includes("\n"));
  assertEquals(JSON.parse(line), {
    timestamp: "2026-12-04T12:30:45Z",
    action: "trust.created",
    actor: "node:3",
    node_id: 3,
    details: "node_a=3, node_b=9",
    seq: 17,
  });
});

Deno.test("CEF: reference header and extensions, severities, escaping", () => {
  assertEquals(
    cefLine(entry({ network_id: 5, details: { node_a: 3, node_b: 9 } })),
    "CEF:0|Pilot|Registry|1.0|trust.created|trust.created|3|dvc=pilot-registry dvchost=registry " +
      `rt=${T} cs1=trust.created cs1Label=action cn1=5 cn1Label=network_id cn2=3 cn2Label=node_id ` +
      "suser=node:3 externalId=17 msg=node_a\\=3, node_b\\=9",
  );
  assertEquals(cefSeverity("member.kicked"), 6);
  assertEquals(cefSeverity("network.deleted"), 6);
  assertEquals(cefSeverity("member.promoted"), 4);
  assertEquals(cefSeverity("member.demoted"), 4);
  assertEquals(cefSeverity("node.registered"), 3);
  // A pipe in the header, a backslash and a line break in a value cannot break the record.
  const odd = cefLine(entry({ action: "a|b", actor: "x\\y", details: { note: "one\ntwo" } }));
  assert(odd.startsWith("CEF:0|Pilot|Registry|1.0|a\\|b|a\\|b|3|"), odd);
  assert(odd.includes("suser=x\\\\y"), odd);
  assert(odd.includes("msg=note\\=one\\ntwo"), odd);
  assert(!odd.includes("\n"));
  // No details: no msg.
  assert(!cefLine(entry()).includes("msg="));
});

Deno.test("syslog: RFC 5424 header with the log-audit facility, CEF as MSG", () => {
  const msg = syslogMessage(entry(), { hostname: "reg-1", procId: "4242" });
  assertEquals(msg, `<110>1 2026-12-04T12:30:45.123Z reg-1 pilot-registry 4242 audit - ${cefLine(entry())}`);
  // severity 6 (kick) → syslog warning (4): PRI 13·8+4
  assertMatch(
    syslogMessage(entry({ action: "member.kicked" })),
    /^<108>1 \S+ - pilot-registry - audit - CEF:0/,
  );
  // promote → notice (5)
  assertMatch(syslogMessage(entry({ action: "member.promoted" })), /^<109>1 /);
  // A hostname with spaces or non-ASCII is reduced to printable ASCII.
  assertMatch(syslogMessage(entry(), { hostname: "a b\u00e9c" }), /^<110>1 \S+ abc pilot-registry/);
});

Deno.test("syslog over TCP: octet counting counts bytes, not characters", () => {
  const framed = new TextDecoder().decode(octetCounted("é1"));
  assertEquals(framed, "3 é1");
});

Deno.test("HEC: time in seconds, source default, sourcetype, index, event fields; batches one per line", () => {
  const e = entry({ details: { node_a: 3, node_b: 9 }, old: false, new: true });
  assertEquals(hecEvent(e, { index: "main" }), {
    time: T / 1000,
    source: "pilot-registry",
    sourcetype: "pilot:audit",
    index: "main",
    event: {
      action: "trust.created",
      network_id: 0,
      node_id: 3,
      actor: "node:3",
      seq: 17,
      details: "node_a=3, node_b=9",
      old: false,
      new: true,
    },
  });
  assertEquals((hecEvent(e, { source: "mine" }) as { source: string }).source, "mine");
  assert(!("index" in hecEvent(e)));
  const batch = hecBatch([e, entry({ seq: 18 })]).split("\n");
  assertEquals(batch.length, 2);
  assertEquals(JSON.parse(batch[1]).event.seq, 18);
});

Deno.test("webhook body: event id, seq, sub-second timestamp, attributes as JSON", () => {
  assertEquals(webhookBody(entry({ network_id: 2, details: { via: "token" } }), 5), {
    event_id: 5,
    seq: 17,
    action: "trust.created",
    timestamp: "2026-12-04T12:30:45.123Z",
    details: { via: "token", actor: "node:3", network_id: 2, node_id: 3 },
  });
});

Deno.test("format names: unknown reads as json, as the reference does", () => {
  assertEquals(parseExportFormat("splunk_hec"), "splunk_hec");
  assertEquals(parseExportFormat("syslog_cef"), "syslog_cef");
  assertEquals(parseExportFormat("xml"), "json");
});
