import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../../tests/assert.ts";
import {
  FALLBACK_FILE_NAME,
  inboxFileName,
  MAX_STORED_NAME_BYTES,
  safeFileName,
  storedFileName,
  UnsafeFileNameError,
} from "./filename.ts";
import { fileStamp, rfc3339Local } from "./timestamps.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("path traversal, absolute paths, NUL and bad UTF-8 are refused", () => {
  for (
    const name of ["../../x", "..", ".", "/etc/passwd", "a/b", "..\\..\\x", "C:\\x", "x\0.txt", "\0"]
  ) {
    assertThrows(() => safeFileName(enc(name)), UnsafeFileNameError);
  }
  assertThrows(() => safeFileName(new Uint8Array([0x66, 0xff, 0x66])), UnsafeFileNameError);
  assertThrows(() => safeFileName(new Uint8Array(256).fill(0x61)), UnsafeFileNameError);
});

Deno.test("awkward characters are replaced, trailing dots and spaces dropped", () => {
  assertEquals(safeFileName(enc("report.pdf")), "report.pdf");
  assertEquals(safeFileName(enc("a:b|c?.txt")), "a_b_c_.txt");
  assertEquals(safeFileName(enc("evil\u202Etxt.exe")), "evil_txt.exe");
  assertEquals(safeFileName(enc("tab\there")), "tab_here");
  assertEquals(safeFileName(enc("name. . ")), "name");
  assertEquals(safeFileName(enc("...")), FALLBACK_FILE_NAME);
  assertEquals(safeFileName(enc("..hidden")), "..hidden");
  assertEquals(safeFileName(enc("日本語.txt")), "日本語.txt");
});

Deno.test("stored names keep the extension, add the stamp, and fit one directory entry", () => {
  const when = new Date(2025, 0, 1, 9, 30, 0, 123);
  assertEquals(fileStamp(when), "20250101-093000.123");
  assertEquals(storedFileName("notes.txt", when), "notes-20250101-093000.123.txt");
  assertEquals(storedFileName("notes.txt", when, 2), "notes-20250101-093000.123-2.txt");
  assertEquals(storedFileName(".bashrc", when), ".bashrc-20250101-093000.123");
  assertEquals(inboxFileName("TEXT", when), "TEXT-20250101-093000.123.json");
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 255 }), fc.integer({ min: 0, max: 99 }), (raw, attempt) => {
      let safe: string;
      try {
        safe = safeFileName(raw);
      } catch (err) {
        assert(err instanceof UnsafeFileNameError);
        return;
      }
      const stored = storedFileName(safe, when, attempt);
      assert(enc(stored).length <= MAX_STORED_NAME_BYTES, stored);
      assert(!/[\/\\\0]/.test(stored));
      assert(stored !== "." && stored !== "..");
    }),
    { numRuns: 2000 },
  );
});

Deno.test("RFC 3339 local timestamps carry the offset", () => {
  const when = new Date(2025, 5, 2, 3, 4, 5, 120);
  const text = rfc3339Local(when, true);
  assert(/^2025-06-02T03:04:05\.12(Z|[+-]\d\d:\d\d)$/.test(text), text);
  assertEquals(new Date(text).getTime(), when.getTime());
  assert(/^2025-06-02T03:04:05(Z|[+-]\d\d:\d\d)$/.test(rfc3339Local(when)));
});
