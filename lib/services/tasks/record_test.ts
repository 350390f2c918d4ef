import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../../tests/assert.ts";
import { newTaskId, TaskCodecError } from "./codec.ts";
import {
  elapsedMs,
  formatTaskRecord,
  parseTaskRecord,
  parseTime,
  rfc3339,
  TASK_STATUSES,
  type TaskRecord,
} from "./record.ts";
import { poloReward } from "./reward.ts";

const time = fc.integer({ min: 0, max: 4_000_000_000_000 }).map(rfc3339);
const recordArb: fc.Arbitrary<TaskRecord> = fc.record({
  task_id: fc.constant(null).map(() => newTaskId()),
  task_description: fc.string({ maxLength: 100 }),
  created_at: time,
  status: fc.constantFrom(...TASK_STATUSES),
  status_justification: fc.string({ maxLength: 40 }),
  from: fc.string({ maxLength: 20 }),
  to: fc.string({ maxLength: 20 }),
  accepted_at: fc.option(time, { nil: undefined }),
  staged_at: fc.option(time, { nil: undefined }),
  execute_started_at: fc.option(time, { nil: undefined }),
  completed_at: fc.option(time, { nil: undefined }),
  time_idle_ms: fc.option(fc.integer({ min: 1, max: 1e9 }), { nil: undefined }),
  time_staged_ms: fc.option(fc.integer({ min: 1, max: 1e9 }), { nil: undefined }),
  time_cpu_ms: fc.option(fc.integer({ min: 1, max: 1e9 }), { nil: undefined }),
}, {
  requiredKeys: ["task_id", "task_description", "created_at", "status", "status_justification", "from", "to"],
});

Deno.test("task record: format/parse round-trip in the reference's key order", () => {
  fc.assert(fc.property(recordArb, (rec) => {
    const clean = Object.fromEntries(Object.entries(rec).filter(([, v]) => v !== undefined)) as TaskRecord;
    assertEquals(parseTaskRecord(formatTaskRecord(rec)), clean);
  }));
  const rec: TaskRecord = {
    task_id: newTaskId(),
    task_description: "d",
    created_at: rfc3339(0),
    status: "NEW",
    status_justification: "j",
    from: "0:0000.0000.0001",
    to: "0:0000.0000.0002",
    time_cpu_ms: 5,
    staged_at: rfc3339(1000),
  };
  const text = formatTaskRecord(rec);
  assertEquals(Object.keys(JSON.parse(text)), [
    "task_id",
    "task_description",
    "created_at",
    "status",
    "status_justification",
    "from",
    "to",
    "staged_at",
    "time_cpu_ms",
  ]);
  assert(text.includes('\n  "status": "NEW"'), "two-space indent");
});

Deno.test("task record fuzz: junk files raise only TaskCodecError", () => {
  const good = JSON.parse(formatTaskRecord({
    task_id: newTaskId(),
    task_description: "d",
    created_at: rfc3339(0),
    status: "NEW",
    status_justification: "",
    from: "",
    to: "",
  }));
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.json()), (junk) => {
      try {
        parseTaskRecord(junk);
      } catch (err) {
        if (!(err instanceof TaskCodecError)) throw err;
      }
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.constantFrom(...Object.keys(good)), fc.anything(), (key, value) => {
      try {
        parseTaskRecord(JSON.stringify({ ...good, [key]: value }));
      } catch (err) {
        if (!(err instanceof TaskCodecError)) throw err;
      }
    }),
    { numRuns: 1000 },
  );
  assertThrows(() => parseTaskRecord(JSON.stringify({ ...good, status: "DONE" })), TaskCodecError);
  assertThrows(() => parseTaskRecord(JSON.stringify({ ...good, task_id: "../../x" })), TaskCodecError);
  assertThrows(() => parseTaskRecord(JSON.stringify({ ...good, created_at: "yesterday" })), TaskCodecError);
});

Deno.test("task record: times", () => {
  assertEquals(parseTime("2025-01-02T03:04:05Z"), Date.UTC(2025, 0, 2, 3, 4, 5));
  assertEquals(parseTime("2025-01-02T03:04:05.250+01:00"), Date.UTC(2025, 0, 2, 2, 4, 5, 250));
  assertEquals(elapsedMs(undefined, 5), 0);
  assertEquals(elapsedMs(rfc3339(1000), 500), 0, "never negative");
  assertEquals(elapsedMs(rfc3339(1000), 3500), 2500);
});

Deno.test("polo reward: the specification's examples and its floor", () => {
  assertEquals(poloReward({ time_cpu_ms: 60_000 }), 2);
  assertEquals(poloReward({ time_cpu_ms: 600_000 }), 4);
  assertEquals(poloReward({ time_cpu_ms: 1_800_000 }), 6);
  assertEquals(poloReward({ time_idle_ms: 30_000, time_staged_ms: 300_000, time_cpu_ms: 600_000 }), 3);
  assertEquals(poloReward({}), 1);
  assertEquals(poloReward({ time_cpu_ms: -5, time_idle_ms: NaN }), 1);
  fc.assert(fc.property(fc.nat(), fc.nat(), fc.nat(), fc.nat(), (idle, staged, cpu, more) => {
    const r = poloReward({ time_idle_ms: idle, time_staged_ms: staged, time_cpu_ms: cpu });
    assert(Number.isInteger(r) && r >= 1);
    // More CPU never earns less; more waiting never earns more.
    assert(poloReward({ time_idle_ms: idle, time_staged_ms: staged, time_cpu_ms: cpu + more }) >= r);
    assert(poloReward({ time_idle_ms: idle + more, time_staged_ms: staged, time_cpu_ms: cpu }) <= r);
  }));
});
