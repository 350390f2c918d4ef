import fc from "fast-check";
import { posix, win32 } from "node:path";
import { assertEquals } from "../tests/assert.ts";
import { basename, dirname, isAbsolute, joinAs, normalize, type PathFlavour, resolve } from "./paths.ts";

/** node:path keeps one trailing separator; ours drops it (state paths never need it). */
function dropTrailing(p: string, flavour: PathFlavour): string {
  const sep = flavour === "windows" ? /[\\/]+$/ : /\/+$/;
  const trimmed = p.replace(sep, "");
  return trimmed === "" || /^[A-Za-z]:$/.test(trimmed) ? p : trimmed;
}

const SEGMENT = fc.constantFrom("a", "bc", ".", "..", "", "/", "x/y", "/abs", "d/../e", "f//g");
const WIN_SEGMENT = fc.constantFrom("a", "bc", ".", "..", "", "\\", "x\\y", "C:\\abs", "d\\..\\e", "f/g");

Deno.test("paths: join and normalize agree with node:path (posix) up to a trailing separator", () => {
  fc.assert(fc.property(fc.array(SEGMENT, { maxLength: 6 }), (segs) => {
    assertEquals(joinAs("posix", ...segs), dropTrailing(posix.join(...segs), "posix"));
    const joined = segs.join("/");
    if (joined !== "") {
      assertEquals(normalize(joined, "posix"), dropTrailing(posix.normalize(joined), "posix"));
    }
  }));
});

Deno.test("paths: join agrees with node:path (win32) up to a trailing separator", () => {
  fc.assert(fc.property(fc.array(WIN_SEGMENT, { minLength: 1, maxLength: 5 }), (segs) => {
    // node's win32 join treats a drive in a later segment as plain text; ours too, so compare as is.
    if (segs.slice(1).some((s) => /^[A-Za-z]:/.test(s))) return;
    assertEquals(joinAs("windows", ...segs), dropTrailing(win32.join(...segs), "windows"));
  }));
});

Deno.test("paths: dirname and basename agree with node:path", () => {
  const cases = ["/", "/a", "/a/b", "/a/b/", "a", "a/b", ".", "..", "", "/a/b/.."];
  for (const p of cases) {
    assertEquals(dirname(p, "posix"), posix.dirname(p), `dirname ${JSON.stringify(p)}`);
    assertEquals(basename(p, "posix"), posix.basename(p), `basename ${JSON.stringify(p)}`);
  }
  // node keeps one separator of a doubled one ("a/"); POSIX dirname(1), and ours, drop it.
  assertEquals(dirname("a//b//", "posix"), "a");
  for (const p of ["C:\\", "C:\\a", "C:\\a\\b", "\\a\\b", "a\\b", "C:\\a/b\\", "a"]) {
    assertEquals(dirname(p, "windows"), win32.dirname(p), `win dirname ${JSON.stringify(p)}`);
    assertEquals(basename(p, "windows"), win32.basename(p), `win basename ${JSON.stringify(p)}`);
  }
});

Deno.test("paths: isAbsolute and resolve", () => {
  assertEquals(isAbsolute("/a", "posix"), true);
  assertEquals(isAbsolute("a", "posix"), false);
  assertEquals(isAbsolute("C:\\a", "windows"), true);
  assertEquals(isAbsolute("C:a", "windows"), false);
  assertEquals(isAbsolute("\\a", "windows"), true);
  assertEquals(resolve("state"), posix.resolve("state"));
  assertEquals(resolve("/x", "y", "../z"), "/x/z");
  assertEquals(resolve("a", "/b", "c"), "/b/c");
});
