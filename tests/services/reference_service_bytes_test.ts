/**
 * The services' bytes against what the reference sent and answered (tests/fixtures/reference/services):
 * - reference_clients.json: the reference pilotctl and Go driver as clients of our services
 *   (data exchange 1001, event stream 1002, tasks 1003, secure channel 443);
 * - reference_servers.json: our CLI and SDK as clients of the reference daemon's services;
 * - trust_444.json: the trust handshake on port 444 between our daemon and reference daemons.
 * Each stream is what crossed the IPC socket of the client's daemon (Send / Recv payloads), so
 * it is the service-level byte stream on the port. Where the wire fixes the bytes, ours must be
 * the reference's byte for byte: our encoders against the reference clients' requests, the
 * reference servers' replies against what our server answered in the same recording (and
 * tests/integration/reference_ipc_replay_test.ts checks that our server still answers that), and
 * our decoders accept every reference reply.
 */
import { assert, assertEquals } from "../assert.ts";
import { concatBytes, fromBase64, fromUtf8, readU16, readU32, toHex, utf8 } from "../../lib/bytes.ts";
import { Cmd } from "../../lib/ipc/commands.ts";
import {
  decodeFrame,
  encodeFileFrame,
  encodeFrame,
  formatAck,
  FrameType,
  parseAck,
} from "../../lib/services/dataexchange/codec.ts";
import { decodeEvent, encodeEvent } from "../../lib/services/eventstream/codec.ts";
import {
  decodeTaskFrame,
  encodeTaskFrame,
  FRAME_SEND_RESULTS,
  FRAME_STATUS_UPDATE,
  FRAME_SUBMIT,
  SUBMIT_ACCEPTED,
} from "../../lib/services/tasks/codec.ts";
import { decodeHandshake, encodeHandshake, handshakeSigningText } from "../../lib/services/trust/codec.ts";
import { verifyEd25519 } from "../../lib/crypto/ed25519.ts";
import {
  decodeFrameLength,
  KEY_EXCHANGE_LENGTH,
  MIN_FRAME_BODY,
  splitFrameBody,
} from "../../lib/services/secure/codec.ts";

interface RecordedFrame {
  label: string;
  dir: "client" | "daemon";
  cmd: number;
  frame: string;
}

async function load(name: string): Promise<RecordedFrame[]> {
  const url = new URL(`../fixtures/reference/services/${name}`, import.meta.url);
  return JSON.parse(await Deno.readTextFile(url)).frames;
}

const CLIENTS = await load("reference_clients.json");
const SERVERS = await load("reference_servers.json");

/** One session's service stream: the port dialed and the bytes each way, as the IPC carried them. */
function stream(frames: RecordedFrame[], label: string): { port: number; sent: Uint8Array; got: Uint8Array } {
  const mine = frames.filter((f) => f.label === label);
  assert(mine.length > 0, `no session ${label} in the recording`);
  const payload = (f: RecordedFrame) => fromBase64(f.frame).subarray(5);
  const dial = mine.find((f) => f.cmd === Cmd.Dial);
  assert(dial, `${label}: no Dial`);
  const data = (dir: RecordedFrame["dir"], cmd: number) =>
    concatBytes(...mine.filter((f) => f.dir === dir && f.cmd === cmd).map((f) => payload(f).subarray(4)));
  return { port: readU16(payload(dial), 6), sent: data("client", Cmd.Send), got: data("daemon", Cmd.Recv) };
}

function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assertEquals(toHex(actual), toHex(expected), what);
}

const MESSAGES = [
  { label: "send-message-text", type: FrameType.Text, data: "hello-text" },
  { label: "send-message-json", type: FrameType.Json, data: '{"k":"v"}' },
  { label: "send-message-binary", type: FrameType.Binary, data: "bin-data" },
];
const FILE = { name: "note.txt", data: "recorded file body\n" };

Deno.test("data exchange (1001): the reference client's frames are ours byte for byte", () => {
  for (const m of MESSAGES) {
    const expected = encodeFrame(m.type, utf8(m.data));
    const theirs = stream(CLIENTS, m.label);
    assertEquals(theirs.port, 1001);
    assertSameBytes(theirs.sent, expected, `${m.label}: reference client`);
    assertSameBytes(stream(SERVERS, `our-${m.label}`).sent, expected, `${m.label}: our client`);
  }
  const file = encodeFileFrame(utf8(FILE.name), utf8(FILE.data));
  assertSameBytes(stream(CLIENTS, "send-file").sent, file, "send-file: reference client");
  assertSameBytes(stream(SERVERS, "our-send-file").sent, file, "send-file: our client");
});

Deno.test("data exchange (1001): the reference server's acknowledgements are ours, and our client reads them", () => {
  const cases = [
    ...MESSAGES.map((m) => ({ label: m.label, type: m.type, bytes: utf8(m.data).length })),
    { label: "send-file", type: FrameType.File, bytes: utf8(FILE.data).length },
  ];
  for (const c of cases) {
    const reference = stream(SERVERS, `our-${c.label}`).got;
    const ours = stream(CLIENTS, c.label).got; // our server answered the reference client
    const expected = encodeFrame(FrameType.Text, utf8(formatAck(c.type, c.bytes)));
    assertSameBytes(reference, expected, `${c.label}: reference server`);
    assertSameBytes(ours, expected, `${c.label}: our server`);
    const decoded = decodeFrame(reference);
    assert(decoded && decoded.consumed === reference.length, `${c.label}: one whole frame`);
    const ack = parseAck(fromUtf8(decoded.frame.payload));
    assertEquals([ack.ok, ack.bytes], [true, c.bytes], c.label);
  }
});

Deno.test("event stream (1002): subscription, publication and delivery bytes match the reference's", () => {
  const subscription = (topic: string) => encodeEvent({ topic, payload: new Uint8Array() });
  const event = (topic: string, text: string) => encodeEvent({ topic, payload: utf8(text) });
  // The reference's subscriber and publisher (to our broker) and ours (to the reference's broker).
  assertSameBytes(stream(CLIENTS, "subscribe").sent, subscription("topic-r"), "reference subscriber");
  assertSameBytes(
    stream(CLIENTS, "publish").sent,
    concatBytes(subscription("topic-r"), event("topic-r", "event-from-ref")),
    "reference publisher",
  );
  assertSameBytes(stream(SERVERS, "our-subscribe").sent, subscription("topic-o"), "our subscriber");
  assertSameBytes(
    stream(SERVERS, "our-publish").sent,
    concatBytes(subscription("topic-o"), event("topic-o", "event-from-ours")),
    "our publisher",
  );
  // Deliveries: the reference broker's to our subscriber, our broker's to the reference subscriber.
  const fromReference = stream(SERVERS, "our-subscribe").got;
  assertSameBytes(fromReference, event("topic-o", "event-from-ours"), "reference broker");
  assertSameBytes(stream(CLIENTS, "subscribe").got, event("topic-r", "event-from-ref"), "our broker");
  const decoded = decodeEvent(fromReference);
  assertEquals(decoded?.event.topic, "topic-o");
  assertEquals(fromUtf8(decoded!.event.payload), "event-from-ours");
});

/** Splits a stream of task frames (u32 type, u32 length, JSON body). */
function taskFrames(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length;) {
    const end = at + 8 + readU32(bytes, at + 4);
    out.push(bytes.subarray(at, end));
    at = end;
  }
  return out;
}

Deno.test("tasks (1003): submission, reply, status updates and results match the reference's bytes", () => {
  // The reference client's submission is what our encoder makes of the same body (key order kept).
  const submitted = stream(CLIENTS, "task-submit");
  assertEquals(submitted.port, 1003);
  const [submit] = taskFrames(submitted.sent);
  const request = decodeTaskFrame(submit);
  assertEquals(request.type, FRAME_SUBMIT);
  assertEquals(Object.keys(request.body), ["task_id", "task_description", "from_addr", "to_addr"]);
  assertSameBytes(submit, encodeTaskFrame(FRAME_SUBMIT, request.body), "reference submission");
  const ourSubmit = decodeTaskFrame(taskFrames(stream(SERVERS, "our-task-submit").sent)[0]);
  assertEquals(Object.keys(ourSubmit.body), Object.keys(request.body));

  // The reply: the reference server's and ours have the same bytes but for the task id.
  const reply = (taskId: unknown) =>
    encodeTaskFrame(FRAME_SUBMIT, {
      task_id: taskId,
      status: SUBMIT_ACCEPTED,
      message: "Task received with status NEW",
    });
  assertSameBytes(stream(CLIENTS, "task-submit").got, reply(request.body.task_id), "our server's reply");
  assertSameBytes(stream(SERVERS, "our-task-submit").got, reply(ourSubmit.body.task_id), "reference reply");

  // The reference worker's status updates and results, as our submitter's service reads them.
  const updates = [
    ...taskFrames(stream(CLIENTS, "ref-task-accept").sent),
    ...taskFrames(stream(CLIENTS, "ref-task-execute").sent),
    ...taskFrames(stream(CLIENTS, "ref-task-results").sent),
  ].map((f) => {
    const frame = decodeTaskFrame(f);
    assertSameBytes(f, encodeTaskFrame(frame.type, frame.body), `frame ${frame.type}`);
    return frame;
  });
  assertEquals(updates.map((u) => [u.type, u.body.status ?? u.body.result_type]), [
    [FRAME_STATUS_UPDATE, "ACCEPTED"],
    [FRAME_STATUS_UPDATE, "EXECUTING"],
    [FRAME_SEND_RESULTS, "text"],
    [FRAME_STATUS_UPDATE, "SUCCEEDED"],
  ]);
  assertEquals(updates[2].body.result_text, "recorded results");
  assertEquals(updates.every((u) => u.body.task_id === ourSubmit.body.task_id), true);
});

Deno.test("secure channel (443): both implementations frame the key exchange and records alike", () => {
  for (const [frames, label] of [[CLIENTS, "secure-client"], [SERVERS, "our-secure-client"]] as const) {
    const s = stream(frames, label);
    assertEquals(s.port, 443);
    // Each side opens with its raw X25519 key, then length-prefixed nonce + ciphertext + tag records.
    for (const [dir, bytes] of [["client", s.sent], ["server", s.got]] as const) {
      assert(bytes.length > KEY_EXCHANGE_LENGTH, `${label} ${dir}: only ${bytes.length} bytes`);
      let at = KEY_EXCHANGE_LENGTH;
      let records = 0;
      while (at < bytes.length) {
        const length = decodeFrameLength(bytes.subarray(at, at + 4));
        assert(length >= MIN_FRAME_BODY, `${label} ${dir}: record of ${length} bytes`);
        const { nonce } = splitFrameBody(bytes.subarray(at + 4, at + 4 + length));
        assertEquals(readU32(nonce, 0), dir === "client" ? 2 : 1, `${label} ${dir}: nonce prefix`);
        at += 4 + length;
        records++;
      }
      assertEquals(at, bytes.length, `${label} ${dir}: records end with the stream`);
      assert(records >= 1, `${label} ${dir}: no record`);
    }
  }
});

Deno.test("trust (444): each side's request and accept decode, re-encode to the same bytes and verify", async () => {
  const recording = JSON.parse(
    await Deno.readTextFile(new URL("../fixtures/reference/services/trust_444.json", import.meta.url)),
  );
  const keys = new Map<number, string>(
    Object.values(recording.nodes as Record<string, { node_id: number; public_key: string }>)
      .map((n) => [n.node_id, n.public_key]),
  );
  const seen: string[] = [];
  for (const st of recording.streams as { from: number; to: number; from_impl: string; bytes: string }[]) {
    const bytes = fromBase64(st.bytes);
    const msg = decodeHandshake(bytes);
    seen.push(`${st.from_impl}:${msg.type}`);
    assertSameBytes(encodeHandshake(msg), bytes, `${st.from_impl} ${msg.type}`);
    assertEquals(msg.node_id, st.from);
    assertEquals(msg.public_key, keys.get(st.from));
    const signed = utf8(handshakeSigningText(st.from, st.to));
    assert(
      verifyEd25519(fromBase64(msg.public_key), signed, fromBase64(msg.signature)),
      `${st.from_impl} ${msg.type}: signature over ${fromUtf8(signed)}`,
    );
    // Bound to the receiver: the same signature does not verify for another one.
    assert(
      !verifyEd25519(
        fromBase64(msg.public_key),
        utf8(handshakeSigningText(st.from, st.to + 1)),
        fromBase64(msg.signature),
      ),
    );
  }
  assertEquals(seen, [
    "reference:handshake_request",
    "ours:handshake_accept",
    "ours:handshake_request",
    "reference2:handshake_accept",
  ]);
});
