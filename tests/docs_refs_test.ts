/**
 * Every protocol citation in the code resolves inside the repository: a comment that says
 * `docs/protocol/<file>.md §N` must name an existing file under docs/protocol/ whose headings
 * include `§N`, and no citation may name one of those files without the `docs/protocol/` path
 * (that form pointed at notes outside the repository). Lists and ranges after a citation
 * (`§5.3–5.4, §6.5`, `§4–§6`) are checked element by element, ranges by their two ends.
 */
import { assertEquals } from "./assert.ts";

const ROOT = new URL("../", import.meta.url);
const DOC_DIR = "docs/protocol/";
/** The protocol notes a citation may name. */
const NOTE_NAMES = ["wire", "transport", "registry", "ipc", "services", "cli"] as const;
/** Source trees whose .ts files are scanned, plus single files at the root. */
const SOURCE_DIRS = ["lib", "cli", "tests", "bench"];
const SOURCE_FILES = ["main.ts", "mod.ts"];
/** Prose outside docs/protocol/ that cites the notes the same way. */
const PROSE_FILES = ["README.md"];
const PROSE_DIR = "docs";
/** This file: its scanner self-test spells out wrong citations on purpose. */
const SELF = "tests/docs_refs_test.ts";

const NAME = `(?:${NOTE_NAMES.join("|")})`;
const SECTION = String.raw`\d+(?:\.\d+)*`;
/** Blanks, possibly across one comment line break (` *` or `//` continuation). */
const GAP = String.raw`[ \t]*(?:\r?\n[ \t]*(?:\*(?!\/)|\/\/)?[ \t]*)?`;
/** A citation with its path prefix (empty when bare), file name, first section and any list. */
const CITATION = new RegExp(
  String.raw`([\w./-]*\/)?\b(${NAME})\.md${GAP}§(${SECTION})` +
    String.raw`((?:${GAP}[–-]${GAP}§?${SECTION}|${GAP},${GAP}§${SECTION})*)`,
  "g",
);
const LIST_ITEM = new RegExp(String.raw`([–-]|,)${GAP}§?(${SECTION})`, "g");
/** A note named without a section and without any path: still points outside the repo. */
const BARE_FILE = new RegExp(String.raw`(^|[^\w./-])(${NAME})\.md(?![\w-]|${GAP}§)`, "gm");
/**
 * Inside a note: `other.md §N` (a sibling note) or a bare `§N` (this note). Draft and RFC sections
 * (`D §8.2`, `RFC 5681 §3.2`) are captured so they can be skipped.
 */
const NOTE_REF = new RegExp(
  String.raw`(?:\b(${NAME})\.md${GAP})?(D${GAP}|RFC \d+${GAP})?§(${SECTION})` +
    String.raw`((?:${GAP}[–-]${GAP}§?${SECTION}|${GAP},${GAP}§${SECTION})*)`,
  "g",
);
/** Any file named under docs/protocol/, to catch citations of notes that do not exist. */
const DOC_PATH = /docs\/protocol\/([\w.-]+\.md)\b/g;
const HEADING = new RegExp(String.raw`^#{1,6}[ \t]+§(${SECTION})(?=[ \t]|$)`, "gm");

interface Citation {
  where: string;
  text: string;
  prefix: string;
  file: string;
  sections: string[];
}

async function walk(dir: URL, rel: string, ext: string, out: string[]): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  for (const entry of entries) {
    const path = `${rel}${entry.name}`;
    if (entry.isDirectory) await walk(new URL(`${entry.name}/`, dir), `${path}/`, ext, out);
    else if (entry.isFile && entry.name.endsWith(ext)) out.push(path);
  }
}

async function filesToScan(): Promise<string[]> {
  const files: string[] = [];
  for (const dir of SOURCE_DIRS) await walk(new URL(`${dir}/`, ROOT), `${dir}/`, ".ts", files);
  for (const entry of await Array.fromAsync(Deno.readDir(new URL(`${PROSE_DIR}/`, ROOT)))) {
    if (entry.isFile && entry.name.endsWith(".md")) files.push(`${PROSE_DIR}/${entry.name}`);
  }
  files.push(...SOURCE_FILES, ...PROSE_FILES);
  return files.filter((f) => f !== SELF).sort();
}

async function exists(url: URL): Promise<boolean> {
  try {
    return (await Deno.stat(url)).isFile;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < index; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

function citationsIn(path: string, text: string): Citation[] {
  const found: Citation[] = [];
  for (const m of text.matchAll(CITATION)) {
    const sections = [m[3]];
    for (const item of (m[4] ?? "").matchAll(LIST_ITEM)) sections.push(item[2]);
    found.push({
      where: `${path}:${lineOf(text, m.index!)}`,
      text: m[0].replace(/\s+/g, " "),
      prefix: m[1] ?? "",
      file: m[2],
      sections,
    });
  }
  return found;
}

async function headingsOf(name: string): Promise<Set<string> | undefined> {
  try {
    const text = await Deno.readTextFile(new URL(`${DOC_DIR}${name}.md`, ROOT));
    return new Set(Array.from(text.matchAll(HEADING), (m) => m[1]));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

Deno.test("every protocol citation names an existing docs/protocol file and section", async () => {
  const headings = new Map<string, Set<string> | undefined>();
  for (const name of NOTE_NAMES) headings.set(name, await headingsOf(name));
  const problems: string[] = [];
  let checked = 0;
  for (const path of await filesToScan()) {
    let text: string;
    try {
      text = await Deno.readTextFile(new URL(path, ROOT));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw err;
    }
    for (const c of citationsIn(path, text)) {
      checked++;
      if (c.prefix !== DOC_DIR) {
        problems.push(`${c.where}: "${c.text}" must cite ${DOC_DIR}${c.file}.md`);
        continue;
      }
      const known = headings.get(c.file);
      if (!known) {
        problems.push(`${c.where}: "${c.text}": ${DOC_DIR}${c.file}.md does not exist`);
        continue;
      }
      for (const s of c.sections) {
        if (!known.has(s)) problems.push(`${c.where}: "${c.text}": no heading §${s} in ${c.file}.md`);
      }
    }
    for (const m of text.matchAll(DOC_PATH)) {
      if (!(await exists(new URL(`${DOC_DIR}${m[1]}`, ROOT)))) {
        problems.push(`${path}:${lineOf(text, m.index!)}: ${DOC_DIR}${m[1]} does not exist`);
      }
    }
    for (const m of text.matchAll(BARE_FILE)) {
      problems.push(`${path}:${lineOf(text, m.index!)}: "${m[2]}.md" must be cited as ${DOC_DIR}${m[2]}.md`);
    }
  }
  assertEquals(problems, [], `${problems.length} broken protocol citation(s) of ${checked}`);
});

Deno.test("protocol notes: their references to their own and each other's sections resolve", async () => {
  const headings = new Map<string, Set<string> | undefined>();
  for (const name of NOTE_NAMES) headings.set(name, await headingsOf(name));
  const problems: string[] = [];
  for (const name of NOTE_NAMES) {
    const text = await Deno.readTextFile(new URL(`${DOC_DIR}${name}.md`, ROOT));
    for (const m of text.matchAll(NOTE_REF)) {
      if (m[2]) continue;
      const target = m[1] ?? name;
      const sections = [m[3], ...Array.from((m[4] ?? "").matchAll(LIST_ITEM), (item) => item[2])];
      for (const s of sections) {
        if (!headings.get(target)?.has(s)) {
          problems.push(`${name}.md:${lineOf(text, m.index!)}: "${m[0].trim()}" → no §${s} in ${target}.md`);
        }
      }
    }
  }
  assertEquals(problems, []);
});

Deno.test("protocol notes: section headings are unique and the README lists every note", async () => {
  const problems: string[] = [];
  for (const name of NOTE_NAMES) {
    const text = await Deno.readTextFile(new URL(`${DOC_DIR}${name}.md`, ROOT));
    const seen = new Set<string>();
    for (const m of text.matchAll(HEADING)) {
      if (seen.has(m[1])) problems.push(`${name}.md: §${m[1]} appears twice`);
      seen.add(m[1]);
    }
    if (seen.size === 0) problems.push(`${name}.md: no § headings`);
  }
  const index = await Deno.readTextFile(new URL(`${DOC_DIR}README.md`, ROOT));
  for (const name of NOTE_NAMES) {
    if (!index.includes(`(${name}.md)`)) problems.push(`README.md does not link ${name}.md`);
  }
  assertEquals(problems, []);
});

Deno.test("citation scanner: lists, ranges, line breaks and bare names", () => {
  const doc = DOC_DIR;
  const text = [
    `// (${doc}wire.md §5.3–5.4, §6.5) and ${doc}ipc.md §4–§6`,
    ` * see ${doc}cli.md`,
    ` * §4.10). Bare: registry.md §2, §15; other/path/ipc.md §1`,
    `// whole file: (transport.md) but not lib/registry/wire.ts nor ${doc}ipc.md`,
  ].join("\n");
  const found = citationsIn("x.ts", text).map((c) => [c.where, c.prefix, c.file, c.sections.join(" ")]);
  assertEquals(found, [
    ["x.ts:1", doc, "wire", "5.3 5.4 6.5"],
    ["x.ts:1", doc, "ipc", "4 6"],
    ["x.ts:2", doc, "cli", "4.10"],
    ["x.ts:3", "", "registry", "2 15"],
    ["x.ts:3", "other/path/", "ipc", "1"],
  ]);
  assertEquals(Array.from(text.matchAll(BARE_FILE), (m) => m[2]), ["transport"]);
});
