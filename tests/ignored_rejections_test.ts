/**
 * No promise rejection is dropped silently in lib/, cli/, tests/ or bench/: a `.catch` whose handler does nothing
 * (`() => {}`, `() => undefined`, `() => null`, `(_err) => {}`) hides failures nobody decided to
 * hide. Each such site either logs what failed or goes through a helper from lib/errors.ts
 * (`settleQuietly`, `ignoreRejection`, `closeQuietly`) that names why ignoring is right.
 */
import { assert, assertEquals } from "./assert.ts";

const ROOT = new URL("../", import.meta.url);
const SOURCE_DIRS = ["lib", "cli", "tests", "bench"];
/** This file: its scanner self-test spells out silent catches on purpose. */
const SELF = "tests/ignored_rejections_test.ts";

/** `.catch(` then a handler with at most one (ignored) parameter whose body is empty or a bare empty value. */
const SILENT_CATCH = /\.catch\(\s*(?:\(\s*_?\w*\s*\)|_?\w+)\s*=>\s*(?:\{\s*\}|undefined|null|void 0)\s*\)/g;

async function* sourceFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* sourceFiles(path);
    else if (entry.isFile && path.endsWith(".ts")) yield path;
  }
}

/** `path:line: text` for every silent catch in `text`. */
function silentCatches(path: string, text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(SILENT_CATCH)) {
    const line = text.slice(0, m.index).split("\n").length;
    found.push(`${path}:${line}: ${m[0]}`);
  }
  return found;
}

Deno.test("the silent-catch scanner finds each bare form and passes the named helpers", () => {
  const bad = [
    "p.catch(() => {});",
    "p.catch(() => undefined);",
    "p.catch(() => null)",
    "p.catch((_err) => {})",
    "p.catch(_ => { })",
    "p.catch(() => void 0)",
  ];
  for (const line of bad) assertEquals(silentCatches("x.ts", line).length, 1, line);
  const good = [
    `await settleQuietly(p, "cleanup");`,
    `p.catch((err) => log.warn("failed", { err }));`,
    "const err = await p.catch((e) => e);",
    "p.catch(fail);",
  ];
  for (const line of good) assertEquals(silentCatches("x.ts", line), [], line);
});

Deno.test("no promise rejection is dropped silently in lib/, cli/, tests/ or bench/", async () => {
  const found: string[] = [];
  let scanned = 0;
  for (const dir of SOURCE_DIRS) {
    for await (const path of sourceFiles(dir)) {
      if (path === SELF) continue;
      scanned++;
      found.push(...silentCatches(path, await Deno.readTextFile(new URL(path, ROOT))));
    }
  }
  assert(scanned > 100, `scanned only ${scanned} files: wrong root?`);
  assertEquals(
    found,
    [],
    "log the failure or use settleQuietly/ignoreRejection/closeQuietly (lib/errors.ts)",
  );
});
