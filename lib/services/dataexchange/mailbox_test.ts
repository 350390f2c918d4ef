import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import { fromBase64 } from "../../bytes.ts";
import { Mailbox, MAILBOX_DIR_MODE, MAILBOX_FILE_MODE, MailboxMissingError } from "./mailbox.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pilot-mailbox-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const fixed = new Date(2025, 0, 1, 9, 30, 0, 123);

Deno.test("messages are stored as the reference's JSON, 0600 in a 0700 inbox", async () => {
  await withDir(async (dir) => {
    const box = new Mailbox(dir, () => fixed);
    const path = await box.saveMessage("TEXT", "0:0000.0000.0007", new TextEncoder().encode("hello"));
    assert(path.endsWith("/inbox/TEXT-20250101-093000.123.json"), path);
    const stored = JSON.parse(await Deno.readTextFile(path));
    assertEquals(stored.type, "TEXT");
    assertEquals(stored.from, "0:0000.0000.0007");
    assertEquals(stored.data, "hello");
    assertEquals(stored.bytes, 5);
    assert(/^2025-01-01T09:30:00\.123/.test(stored.received_at));
    assertEquals((await Deno.stat(path)).mode! & 0o777, MAILBOX_FILE_MODE);
    assertEquals((await Deno.stat(box.inboxDir)).mode! & 0o777, MAILBOX_DIR_MODE);
    const binary = await box.saveMessage("BINARY", "x", new Uint8Array([0xff, 0, 1]));
    assertEquals(
      fromBase64(JSON.parse(await Deno.readTextFile(binary)).data_base64),
      new Uint8Array([0xff, 0, 1]),
    );
    assertEquals((await box.listMessages()).length, 2);
  });
});

Deno.test("same-millisecond saves never overwrite each other", async () => {
  await withDir(async (dir) => {
    const box = new Mailbox(dir, () => fixed);
    const paths = await Promise.all(
      Array.from({ length: 5 }, (_, i) => box.saveFile("a.txt", new Uint8Array([i]))),
    );
    assertEquals(new Set(paths).size, 5);
    const files = await box.listFiles();
    assertEquals(files.map((f) => f.name), [
      "a-20250101-093000.123-1.txt",
      "a-20250101-093000.123-2.txt",
      "a-20250101-093000.123-3.txt",
      "a-20250101-093000.123-4.txt",
      "a-20250101-093000.123.txt",
    ]);
    assertEquals(files.every((f) => f.bytes === 1), true);
  });
});

Deno.test("an existing symlink at the target name is never written through", async () => {
  await withDir(async (dir) => {
    const box = new Mailbox(dir, () => fixed);
    await Deno.mkdir(box.receivedDir, { recursive: true });
    const outside = `${dir}/outside`;
    await Deno.writeTextFile(outside, "keep");
    await Deno.symlink(outside, `${box.receivedDir}/a-20250101-093000.123.txt`);
    const path = await box.saveFile("a.txt", new TextEncoder().encode("new"));
    assert(path.endsWith("-1.txt"));
    assertEquals(await Deno.readTextFile(outside), "keep");
  });
});

Deno.test("clearing counts removed entries; a missing directory is MailboxMissingError", async () => {
  await withDir(async (dir) => {
    const box = new Mailbox(dir);
    await assertRejects(() => box.clearMessages(), MailboxMissingError);
    assertEquals(await box.listMessages(), []);
    assertEquals(await box.listFiles(), []);
    await box.saveMessage("JSON", "x", new TextEncoder().encode("{}"));
    await box.saveFile("f", new Uint8Array(3));
    await Deno.writeTextFile(`${box.inboxDir}/junk.json`, "not json");
    assertEquals((await box.listMessages()).length, 1);
    assertEquals(await box.clearMessages(), 2);
    assertEquals(await box.clearFiles(), 1);
    assertEquals(await box.listFiles(), []);
  });
});
