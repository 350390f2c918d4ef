import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertRejects } from "../../tests/assert.ts";
import { fromBase64, toHex } from "../bytes.ts";
import { signEd25519, verifyEd25519 } from "./ed25519.ts";
import { IdentityError } from "./errors.ts";
import {
  encodeIdentity,
  IDENTITY_FILE_NAME,
  loadIdentityFile,
  loadOrCreateIdentity,
  loadOrCreateIdentityFile,
} from "./identity.ts";
import { settleQuietly } from "../errors.ts";

const IS_POSIX = Deno.build.os !== "windows";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pilot-identity-" });
  try {
    await fn(dir);
  } finally {
    await settleQuietly(Deno.chmod(dir, 0o700), "cleanup");
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("identity: created with mode 0600 in a 0700 state dir, reloaded identical", async () => {
  await withTempDir(async (root) => {
    const stateDir = join(root, "nested", ".pilot");
    const first = await loadOrCreateIdentity(stateDir);
    assert(first.created);
    assertEquals(first.path, join(stateDir, IDENTITY_FILE_NAME));
    if (IS_POSIX) {
      assertEquals((await Deno.stat(first.path)).mode! & 0o777, 0o600);
      assertEquals((await Deno.stat(stateDir)).mode! & 0o777, 0o700);
    }
    const again = await loadOrCreateIdentity(stateDir);
    assert(!again.created);
    assertEquals(toHex(again.seed), toHex(first.seed));
    assertEquals(toHex(again.publicKey), toHex(first.publicKey));
    // Only the identity file is left behind (no temp files).
    assertEquals([...Deno.readDirSync(stateDir)].map((e) => e.name), [IDENTITY_FILE_NAME]);
    // The loaded key actually signs for the stored public key.
    const msg = new Uint8Array([1, 2, 3]);
    assert(verifyEd25519(first.publicKey, msg, signEd25519(again.seed, msg)));
  });
});

Deno.test("identity: the file uses the reference format (base64 seed‖pub, base64 pub)", async () => {
  await withTempDir(async (dir) => {
    const id = await loadOrCreateIdentity(dir);
    const doc = JSON.parse(await Deno.readTextFile(id.path));
    assertEquals(Object.keys(doc).sort(), ["private_key", "public_key"]);
    const priv = fromBase64(doc.private_key);
    assertEquals(priv.length, 64);
    assertEquals(toHex(priv.subarray(0, 32)), toHex(id.seed));
    assertEquals(toHex(priv.subarray(32)), toHex(id.publicKey));
    assertEquals(toHex(fromBase64(doc.public_key)), toHex(id.publicKey));
  });
});

Deno.test("identity: a reference-written file (RFC 8032 key, compact JSON) loads", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, IDENTITY_FILE_NAME);
    // Seed and public key of RFC 8032 test 1, as Go's json.Marshal would write them.
    const text =
      '{"private_key":"nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGg==",' +
      '"public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="}';
    await Deno.writeTextFile(path, text, { mode: 0o600 });
    const id = await loadOrCreateIdentity(dir);
    assert(!id.created);
    assertEquals(toHex(id.publicKey), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    assertEquals(await Deno.readTextFile(path), text);
  });
});

const CORRUPTIONS: [string, string, RegExp][] = [
  ["empty", "", /not valid JSON/],
  ["truncated", '{"private_key":"abc', /not valid JSON/],
  ["array", "[]", /not a JSON object/],
  ["missing field", '{"public_key":"AAAA"}', /"private_key" is missing/],
  ["bad base64", '{"private_key":"***","public_key":"AAAA"}', /"private_key" is not valid base64/],
  ["short key", '{"private_key":"AAAA","public_key":"AAAA"}', /decodes to 3 bytes, expected 64/],
];

for (const [name, text, re] of CORRUPTIONS) {
  Deno.test(`identity: corrupt file (${name}) is refused with a clear message and left untouched`, async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, IDENTITY_FILE_NAME);
      await Deno.writeTextFile(path, text, { mode: 0o600 });
      const err = await assertRejects(() => loadOrCreateIdentity(dir), IdentityError, re);
      assert(err.message.includes(path), err.message);
      assertEquals(await Deno.readTextFile(path), text);
    });
  });
}

Deno.test("identity: mismatched public key is refused", async () => {
  await withTempDir(async (dir) => {
    const a = await loadOrCreateIdentity(join(dir, "a"));
    const b = await loadOrCreateIdentity(join(dir, "b"));
    const path = join(dir, IDENTITY_FILE_NAME);
    await Deno.writeTextFile(path, encodeIdentity(a.seed, b.publicKey), { mode: 0o600 });
    await assertRejects(() => loadOrCreateIdentityFile(path), IdentityError, /does not match/);
  });
});

Deno.test({
  name: "identity: a file readable by group or others is refused, not fixed or replaced",
  ignore: !IS_POSIX,
  fn: async () => {
    await withTempDir(async (dir) => {
      const created = await loadOrCreateIdentity(dir);
      const before = await Deno.readTextFile(created.path);
      for (const mode of [0o644, 0o640, 0o604, 0o660]) {
        await Deno.chmod(created.path, mode);
        await assertRejects(
          () => loadOrCreateIdentity(dir),
          IdentityError,
          new RegExp(`mode ${mode.toString(8)}.*chmod 600`),
        );
        assertEquals((await Deno.stat(created.path)).mode! & 0o777, mode);
      }
      assertEquals(await Deno.readTextFile(created.path), before);
    });
  },
});

Deno.test("identity: a state path that is not a directory, or an identity that is not a file, is refused", async () => {
  await withTempDir(async (dir) => {
    const notDir = join(dir, "plain-file");
    await Deno.writeTextFile(notDir, "x");
    const err = await assertRejects(() => loadOrCreateIdentity(notDir), IdentityError, /state directory/);
    assert(err.message.includes(notDir));
    await Deno.mkdir(join(dir, "s", IDENTITY_FILE_NAME), { recursive: true });
    await assertRejects(() => loadOrCreateIdentity(join(dir, "s")), IdentityError, /not a regular file/);
  });
});

/** Runs testdata/identity_probe.ts; as root, without the capabilities that bypass permission bits. */
async function probe(stateDir: string): Promise<{ ok: boolean; error?: string; message?: string }> {
  const script = new URL("./testdata/identity_probe.ts", import.meta.url).pathname;
  const denoArgs = ["run", "-A", script, stateDir];
  const [cmd, args] = Deno.uid() === 0
    ? ["setpriv", ["--bounding-set=-dac_override,-dac_read_search", Deno.execPath(), ...denoArgs]]
    : [Deno.execPath(), denoArgs];
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit" }).output();
  assert(out.success, `probe exited with ${out.code}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test({
  name: "identity: an unreadable or unwritable state directory is refused (in a subprocess)",
  ignore: !IS_POSIX,
  fn: async () => {
    await withTempDir(async (dir) => {
      const state = join(dir, "state");
      assertEquals((await probe(state)).ok, true);
      await Deno.chmod(state, 0o000);
      const unreadable = await probe(state);
      assertEquals(unreadable.error, "IdentityError");
      assertMatch(unreadable.message!, /cannot access identity file .*state\/identity\.json/);
      await Deno.chmod(state, 0o700);
      const readOnly = join(dir, "read-only");
      await Deno.mkdir(readOnly, { mode: 0o500 });
      await Deno.chmod(readOnly, 0o500);
      const unwritable = await probe(readOnly);
      assertEquals(unwritable.error, "IdentityError");
      assertMatch(unwritable.message!, /cannot write identity file .*read-only\/identity\.json/);
      assertEquals([...Deno.readDirSync(readOnly)].length, 0);
    });
  },
});

Deno.test("identity: loadIdentityFile does not create", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, IDENTITY_FILE_NAME);
    await assertRejects(() => loadIdentityFile(path), IdentityError, /does not exist/);
    await assertRejects(() => Deno.stat(path), Deno.errors.NotFound);
  });
});

Deno.test("identity: concurrent first starts agree on one identity", async () => {
  await withTempDir(async (dir) => {
    const results = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateIdentity(dir)));
    const keys = new Set(results.map((r) => toHex(r.publicKey)));
    assertEquals(keys.size, 1);
    assertEquals(results.filter((r) => r.created).length, 1);
  });
});
