import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../../tests/assert.ts";
import { utf8 } from "../../bytes.ts";
import {
  decodeTaskFrame,
  decodeTaskFrameHeader,
  encodeTaskFrame,
  FRAME_SEND_RESULTS,
  FRAME_STATUS_UPDATE,
  FRAME_SUBMIT,
  isTaskId,
  MAX_TASK_FRAME_BODY,
  newTaskId,
  parseSendResults,
  parseStatusUpdate,
  parseSubmit,
  parseSubmitReply,
  type SendResults,
  sendResultsFrame,
  statusUpdateFrame,
  submitFrame,
  submitReplyFrame,
  TASK_FRAME_HEADER_SIZE,
  TaskCodecError,
} from "./codec.ts";
import { errorMessage } from "../../errors.ts";

const taskIdArb = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => {
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
});
const text = fc.string({ unit: "grapheme", maxLength: 200 });

/** Runs `fn` on junk; anything it throws must be a TaskCodecError. */
function onlyCodecErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof TaskCodecError)) throw err;
  }
}

Deno.test("task codec: ids are 8-4-4-4-12 lowercase hex and random", () => {
  const ids = new Set(Array.from({ length: 100 }, newTaskId));
  assertEquals(ids.size, 100);
  for (const id of ids) assert(isTaskId(id), id);
  for (
    const bad of [
      "",
      "../etc/passwd",
      "ABCDEF01-2345-6789-abcd-ef0123456789",
      "0123456789abcdef0123456789abcdef",
    ]
  ) {
    assert(!isTaskId(bad), bad);
  }
});

Deno.test("task codec: frame layout is u32 type, u32 length, JSON", () => {
  const f = encodeTaskFrame(3, { a: 1 });
  assertEquals([...f.subarray(0, 8)], [0, 0, 0, 3, 0, 0, 0, 7]);
  assertEquals(new TextDecoder().decode(f.subarray(8)), '{"a":1}');
  assertEquals(decodeTaskFrame(f), { type: 3, body: { a: 1 } });
});

Deno.test("task codec: SUBMIT, reply, STATUS_UPDATE and SEND_RESULTS round-trip", () => {
  fc.assert(fc.property(taskIdArb, text, text, text, (id, desc, from, to) => {
    const req = { task_id: id, task_description: desc, from_addr: from, to_addr: to };
    const f = decodeTaskFrame(submitFrame(req));
    assertEquals(f.type, FRAME_SUBMIT);
    assertEquals(parseSubmit(f.body), req);
  }));
  fc.assert(fc.property(taskIdArb, fc.integer({ min: 0, max: 999 }), text, (id, status, message) => {
    const reply = { task_id: id, status, message };
    assertEquals(parseSubmitReply(decodeTaskFrame(submitReplyFrame(reply)).body), reply);
  }));
  fc.assert(fc.property(taskIdArb, text, text, (id, status, justification) => {
    const f = decodeTaskFrame(statusUpdateFrame({ task_id: id, status, justification }));
    assertEquals(f.type, FRAME_STATUS_UPDATE);
    assertEquals(parseStatusUpdate(f.body), { task_id: id, status, justification });
  }));
  const times = fc.option(fc.integer({ min: 1, max: 2 ** 40 }), { nil: undefined });
  fc.assert(fc.property(
    taskIdArb,
    fc.oneof(
      text.filter((t) => t.length > 0).map((t) => ({ result_type: "text" as const, result_text: t })),
      fc.tuple(text.filter((t) => t.length > 0), fc.base64String({ minLength: 4, maxLength: 64 }))
        .map(([filename, file_data]) => ({ result_type: "file" as const, filename, file_data })),
    ),
    times,
    times,
    times,
    (id, body, idle, staged, cpu) => {
      const msg: SendResults = { task_id: id, completed_at: "2025-01-02T03:04:05Z", ...body };
      if (idle) msg.time_idle_ms = idle;
      if (staged) msg.time_staged_ms = staged;
      if (cpu) msg.time_cpu_ms = cpu;
      const f = decodeTaskFrame(sendResultsFrame(msg));
      assertEquals(f.type, FRAME_SEND_RESULTS);
      assertEquals(parseSendResults(f.body), msg);
    },
  ));
});

Deno.test("task codec: empty optional keys are omitted from SEND_RESULTS", () => {
  const f = decodeTaskFrame(sendResultsFrame({
    task_id: newTaskId(),
    result_type: "text",
    result_text: "ok",
    completed_at: "2025-01-01T00:00:00Z",
    time_idle_ms: 0,
  }));
  assertEquals(Object.keys(f.body), ["task_id", "result_type", "result_text", "completed_at"]);
});

Deno.test("task codec: malformed bodies are refused with TaskCodecError", () => {
  const id = newTaskId();
  const cases: [string, () => unknown][] = [
    ["bad id", () => parseSubmit({ task_id: "../x", task_description: "d" })],
    ["no description", () => parseSubmit({ task_id: id })],
    ["numeric description", () => parseSubmit({ task_id: id, task_description: 5 })],
    ["reply without status", () => parseSubmitReply({ task_id: id, message: "m" })],
    ["status not a string", () => parseStatusUpdate({ task_id: id, status: 1 })],
    ["unknown result type", () => parseSendResults({ task_id: id, result_type: "zip" })],
    ["file without name", () => parseSendResults({ task_id: id, result_type: "file", file_data: "AA==" })],
    [
      "bad base64",
      () => parseSendResults({ task_id: id, result_type: "file", filename: "a", file_data: "!!" }),
    ],
    ["negative time", () => parseSendResults({ task_id: id, result_type: "text", time_cpu_ms: -1 })],
    ["oversized frame", () => decodeTaskFrameHeader(new Uint8Array([0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]))],
    ["short header", () => decodeTaskFrameHeader(new Uint8Array(7))],
    ["trailing bytes", () => decodeTaskFrame(new Uint8Array([...encodeTaskFrame(1, {}), 0]))],
    ["array body", () => decodeTaskFrame(encodeTaskFrame(1, [1]))],
    ["not JSON", () => decodeTaskFrame(new Uint8Array([0, 0, 0, 1, 0, 0, 0, 1, 0x7b]))],
    ["type out of range", () => encodeTaskFrame(2 ** 32, {})],
  ];
  for (const [what, fn] of cases) {
    try {
      assertThrows(fn, TaskCodecError);
    } catch (err) {
      throw new Error(`${what}: ${errorMessage(err)}`);
    }
  }
  assertEquals(MAX_TASK_FRAME_BODY, 16 * 1024 * 1024);
});

Deno.test("task codec fuzz: random and truncated frames raise only TaskCodecError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => {
      onlyCodecErrors(() => decodeTaskFrame(junk));
      onlyCodecErrors(() => decodeTaskFrameHeader(junk, 32));
    }),
    { numRuns: 2000 },
  );
  const valid = [
    submitFrame({ task_id: newTaskId(), task_description: "x", from_addr: "0:0000.0000.0001", to_addr: "" }),
    sendResultsFrame({ task_id: newTaskId(), result_type: "text", result_text: "r", completed_at: "" }),
  ];
  fc.assert(
    fc.property(
      fc.constantFrom(...valid),
      fc.nat(),
      fc.nat(),
      fc.integer({ min: 0, max: 255 }),
      (f, cut, at, b) => {
        const truncated = f.subarray(0, cut % f.length);
        assertThrows(() => decodeTaskFrame(truncated), TaskCodecError);
        const flipped = f.slice();
        flipped[at % f.length] = b;
        onlyCodecErrors(() => {
          const frame = decodeTaskFrame(flipped);
          parseSubmit(frame.body);
          parseSendResults(frame.body);
        });
      },
    ),
    { numRuns: 2000 },
  );
  // Arbitrary JSON objects through every body parser.
  fc.assert(
    fc.property(fc.object(), (o) => {
      const frame = decodeTaskFrame(encodeTaskFrame(FRAME_SUBMIT, o));
      for (const parse of [parseSubmit, parseSubmitReply, parseStatusUpdate, parseSendResults]) {
        onlyCodecErrors(() => parse(frame.body));
      }
    }),
    { numRuns: 1000 },
  );
  assertEquals(TASK_FRAME_HEADER_SIZE, utf8("12345678").length);
});
