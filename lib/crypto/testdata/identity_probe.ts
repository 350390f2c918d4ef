/**
 * Test helper: loadOrCreateIdentity(Deno.args[0]) in a separate process (so the test can drop root's
 * permission-bypass capabilities for it); prints {ok} or {error, message} as JSON.
 */
import { loadOrCreateIdentity } from "../identity.ts";

try {
  const id = await loadOrCreateIdentity(Deno.args[0]);
  console.log(JSON.stringify({ ok: true, created: id.created }));
} catch (err) {
  const e = err as Error;
  console.log(JSON.stringify({ ok: false, error: e.name, message: e.message }));
}
