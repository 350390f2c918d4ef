import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { assertJsonDepth, canonicalJson, JsonNestingError, MAX_JSON_DEPTH } from "./canonical_json.ts";

/** The straightforward recursive form, as an oracle: signatures made before must still verify. */
function recursiveCanonical(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(recursiveCanonical).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${recursiveCanonical(obj[k])}`).join(",")}}`;
}

/** `depth` levels of arrays or objects around `leaf`, built without recursion. */
function nested(depth: number, kind: "array" | "object", leaf: unknown = 1): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = kind === "array" ? [v] : { k: v };
  return v;
}

Deno.test("canonicalJson: same bytes as the recursive form, and parses back to the value", () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 8 }), (value) => {
      const text = canonicalJson(value);
      assertEquals(text, recursiveCanonical(value));
      assertEquals(JSON.parse(text), JSON.parse(JSON.stringify(value)));
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.anything({ maxDepth: 6 }), (value) => {
      // Any JS value, not only JSON: never a crash other than the documented refusal.
      try {
        assertEquals(canonicalJson(value), recursiveCanonical(value));
      } catch (err) {
        assert(err instanceof TypeError && /BigInt/.test(err.message), String(err)); // as JSON.stringify
      }
    }),
    { numRuns: 300 },
  );
  assertEquals(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }], u: undefined }), '{"a":[{"c":3,"d":2}],"b":1}');
  assertEquals(canonicalJson([]), "[]");
  assertEquals(canonicalJson({}), "{}");
});

Deno.test("canonicalJson and assertJsonDepth: any nesting up to the limit works, beyond it a clear refusal", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 100_000 }),
      fc.constantFrom("array" as const, "object" as const),
      (depth, kind) => {
        const value = nested(depth, kind);
        if (depth <= MAX_JSON_DEPTH) {
          assertJsonDepth(value);
          assertEquals(JSON.parse(canonicalJson(value)), value);
        } else {
          const err = assertThrows(() => canonicalJson(value), JsonNestingError);
          assertEquals(err.message, `nesting deeper than ${MAX_JSON_DEPTH} levels`);
          assertThrows(() => assertJsonDepth(value), JsonNestingError, /nesting deeper than/);
        }
      },
    ),
    { numRuns: 200 },
  );
  // The exact boundary, for both kinds, and far beyond what a recursive walker survives.
  for (const kind of ["array", "object"] as const) {
    assertJsonDepth(nested(MAX_JSON_DEPTH, kind));
    assertThrows(() => assertJsonDepth(nested(MAX_JSON_DEPTH + 1, kind)), JsonNestingError);
    assertThrows(() => canonicalJson(nested(1_000_000, kind)), JsonNestingError);
  }
  // A raised limit serialises what a recursive encoder would overflow on.
  const deep = nested(200_000, "array");
  assertEquals(canonicalJson(deep, Infinity).length, 200_000 * 2 + 1);
});
