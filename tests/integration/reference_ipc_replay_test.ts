/**
 * The reference's clients against our daemon, without the reference: every IPC session the
 * reference pilotctl and its Go driver had with a reference daemon
 * (tests/fixtures/reference/services/reference_clients.json) is sent, frame by frame, to a real
 * `pilot daemon`, and each frame our daemon answers is checked against the one the reference daemon
 * answered: the same command, the same binary fields, every JSON key the reference sent, and the
 * same service bytes from the peer (the recorded peer ran our services, whose replies equal the
 * reference's: tests/services/reference_service_bytes_test.ts).
 */
import { assert, assertEquals } from "../assert.ts";
import { TestNetwork } from "../helpers/network.ts";
import { connect, type PilotClient } from "../../lib/sdk/mod.ts";
import {
  bytesEqual,
  fromBase64,
  fromUtf8,
  readU16,
  readU32,
  toHex,
  utf8,
  writeU32,
} from "../../lib/bytes.ts";
import { encodeFrame, FrameReader } from "../../lib/ipc/frame.ts";
import { Cmd } from "../../lib/ipc/commands.ts";
import { closeQuietly, ignoreRejection } from "../../lib/errors.ts";

interface RecordedFrame {
  session: number;
  label: string;
  dir: "client" | "daemon";
  cmd: number;
  frame: string;
}

interface Recording {
  nodes: { reference: { node_id: number; address: string }; ours: { node_id: number; address: string } };
  frames: RecordedFrame[];
}

const RECORDING: Recording = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/reference/services/reference_clients.json", import.meta.url)),
);
/** Sessions whose bytes cannot be replayed: the secure channel's keys are ephemeral. */
const NOT_REPLAYABLE = new Set(["secure-client"]);
/** Replies whose JSON carries one of these commands. */
const JSON_REPLIES = new Set<number>([
  Cmd.InfoOK,
  Cmd.HandshakeOK,
  Cmd.ResolveHostnameOK,
  Cmd.SetHostnameOK,
  Cmd.SetVisibilityOK,
  Cmd.SetTagsOK,
  Cmd.SetTaskExecOK,
  Cmd.NetworkOK,
  Cmd.HealthOK,
]);
const READ_TIMEOUT_MS = 15_000;

/** Reads IPC frames from one socket, with a deadline per frame. */
class FrameConn {
  readonly #reader = new FrameReader();
  readonly #buf = new Uint8Array(1 << 16);
  constructor(readonly conn: Deno.UnixConn) {}

  async next(timeoutMs = READ_TIMEOUT_MS): Promise<{ cmd: number; payload: Uint8Array } | null> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const f = this.#reader.next();
      if (f) return { cmd: f.cmd, payload: f.payload.slice() };
      const left = until - Date.now();
      if (left <= 0) return null;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        this.conn.read(this.#buf),
        new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), left)),
      ]);
      clearTimeout(timer);
      if (n === "timeout" || n === null) return null;
      this.#reader.push(this.#buf.slice(0, n));
    }
  }
}

/** Maps the recording's node ids, addresses and connection ids to the replay's. */
class Mapping {
  readonly conns = new Map<number, number>();
  constructor(readonly nodes: Map<number, number>, readonly texts: [string, string][]) {}

  node(recorded: number): number {
    return this.nodes.get(recorded) ?? recorded;
  }

  /** A client frame as our daemon must see it: ids and address texts replaced, lengths unchanged. */
  clientFrame(cmd: number, recorded: Uint8Array): Uint8Array {
    const p = recorded.slice();
    switch (cmd) {
      case Cmd.Dial:
      case Cmd.SendTo:
        writeU32(p, 2, this.node(readU32(p, 2)));
        break;
      case Cmd.Handshake:
        if ([1, 2, 3, 6].includes(p[0]) && p.length >= 5) writeU32(p, 1, this.node(readU32(p, 1)));
        break;
      case Cmd.Send:
      case Cmd.Close: {
        writeU32(p, 0, this.conns.get(readU32(p, 0)) ?? readU32(p, 0));
        if (cmd === Cmd.Send) {
          let text = fromUtf8(p.subarray(4));
          for (const [from, to] of this.texts) text = text.replaceAll(from, to);
          const body = utf8(text);
          if (body.length === p.length - 4) p.set(body, 4);
        }
        break;
      }
    }
    return encodeFrame(cmd, p);
  }
}

/** Checks that `ours` has every key of `theirs` with a value of the same JSON kind. */
function assertKeysOf(theirs: unknown, ours: unknown, path: string): void {
  if (theirs === null || ours === null) return; // Go's nil slice is null where ours sends []
  if (Array.isArray(theirs)) {
    assert(Array.isArray(ours), `${path}: the reference sent an array, ours ${JSON.stringify(ours)}`);
    if (theirs.length > 0 && ours.length > 0) assertKeysOf(theirs[0], ours[0], `${path}[0]`);
    return;
  }
  if (typeof theirs === "object") {
    assert(typeof ours === "object" && !Array.isArray(ours), `${path}: the reference sent an object`);
    for (const [k, v] of Object.entries(theirs as Record<string, unknown>)) {
      assert(k in (ours as Record<string, unknown>), `${path}.${k}: missing in our reply`);
      assertKeysOf(v, (ours as Record<string, unknown>)[k], `${path}.${k}`);
    }
    return;
  }
  assertEquals(typeof ours, typeof theirs, `${path}: kind`);
}

/** What the peer does for a session once the daemon under test reached a point of it. */
interface PeerActions {
  /** After the daemon confirmed a Bind of `port`. */
  afterBind?: (port: number) => Promise<void>;
}

async function replaySession(
  socket: string,
  label: string,
  frames: RecordedFrame[],
  map: Mapping,
  actions: PeerActions,
): Promise<number> {
  const conn = new FrameConn(await Deno.connect({ transport: "unix", path: socket }));
  let checked = 0;
  try {
    for (const [i, f] of frames.entries()) {
      const recorded = fromBase64(f.frame).subarray(5);
      const where = `${label} frame ${i} (cmd 0x${f.cmd.toString(16)})`;
      if (f.dir === "client") {
        await conn.conn.write(map.clientFrame(f.cmd, recorded));
        continue;
      }
      if (f.cmd === Cmd.CloseOK) continue; // how many CloseOK arrive (reply, peer's close) is timing
      checked++;
      let got = await conn.next();
      while (got && got.cmd === Cmd.CloseOK) got = await conn.next();
      assert(got, `${where}: no reply from our daemon`);
      if (f.cmd === Cmd.Recv && got.cmd === Cmd.Recv) {
        // A stream's bytes may arrive in other chunks than the reference's: gather as many.
        const want = recorded.subarray(4);
        let data = got.payload.subarray(4);
        while (data.length < want.length) {
          const more = await conn.next();
          assert(more?.cmd === Cmd.Recv, `${where}: stream ended after ${data.length} bytes`);
          data = new Uint8Array([...data, ...more.payload.subarray(4)]);
        }
        assertEquals(readU32(got.payload, 0), map.conns.get(readU32(recorded, 0)), `${where}: conn id`);
        assertEquals(fromUtf8(data), fromUtf8(want), `${where}: stream bytes`);
        assert(bytesEqual(data, want), `${where}: stream bytes ${toHex(data)} != ${toHex(want)}`);
        continue;
      }
      assertEquals(
        got.cmd,
        f.cmd,
        `${where}: our daemon answered 0x${got.cmd.toString(16)} ${fromUtf8(got.payload)}`,
      );
      switch (f.cmd) {
        case Cmd.DialOK:
          map.conns.set(readU32(recorded, 0), readU32(got.payload, 0));
          break;
        case Cmd.BindOK:
          assertEquals(toHex(got.payload), toHex(recorded), where);
          await actions.afterBind?.(readU16(got.payload, 0));
          break;
        case Cmd.Accept:
          assertEquals(readU16(got.payload, 0), readU16(recorded, 0), `${where}: local port`);
          map.conns.set(readU32(recorded, 2), readU32(got.payload, 2));
          assertEquals(readU32(got.payload, 8), map.node(readU32(recorded, 8)), `${where}: remote node`);
          break;
        case Cmd.RecvFrom:
          assertEquals(readU32(got.payload, 2), map.node(readU32(recorded, 2)), `${where}: source node`);
          assertEquals(readU16(got.payload, 8), readU16(recorded, 8), `${where}: destination port`);
          assertEquals(fromUtf8(got.payload.subarray(10)), fromUtf8(recorded.subarray(10)), `${where}: data`);
          break;
        case Cmd.Error: {
          assertEquals(readU16(got.payload, 0), readU16(recorded, 0), `${where}: error code`);
          let text = fromUtf8(recorded.subarray(2));
          for (const [from, to] of map.nodes) text = text.replace(`node ${from} `, `node ${to} `);
          assertEquals(fromUtf8(got.payload.subarray(2)), text, `${where}: error text`);
          break;
        }
        default:
          if (JSON_REPLIES.has(f.cmd)) {
            assertKeysOf(JSON.parse(fromUtf8(recorded)), JSON.parse(fromUtf8(got.payload)), where);
          } else assertEquals(toHex(got.payload), toHex(recorded), where);
      }
    }
  } finally {
    conn.conn.close();
  }
  return checked;
}

Deno.test({
  name:
    "reference pilotctl and driver IPC sessions, replayed against our daemon, get the reference's answers",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const net = await TestNetwork.start();
    const clients: PilotClient[] = [];
    try {
      const x = await net.addDaemon("x", ["--public", "--hostname", "rec-r"]);
      const y = await net.addDaemon("y", ["--public", "--hostname", "rec-o"]);
      const yc = await connect(y.socket, { timeoutMs: 10_000 });
      clients.push(yc);
      const { reference, ours } = RECORDING.nodes;
      const map = new Mapping(
        new Map([[reference.node_id, x.nodeId], [ours.node_id, y.nodeId]]),
        [[reference.address, x.address], [ours.address, y.address]],
      );
      const sessions = new Map<number, { label: string; frames: RecordedFrame[] }>();
      for (const f of RECORDING.frames) {
        const s = sessions.get(f.session) ?? { label: f.label, frames: [] };
        s.frames.push(f);
        sessions.set(f.session, s);
      }
      // The peer's side of the sessions that need one.
      const received: string[] = [];
      const portListener = await yc.listen(5005);
      const serving = (async () => {
        const c = await portListener.accept({ timeoutMs: 60_000 });
        for (
          let chunk = await c.read({ timeoutMs: 10_000 });
          chunk;
          chunk = await c.read({ timeoutMs: 10_000 })
        ) {
          received.push(fromUtf8(chunk));
        }
      })();
      ignoreRejection(serving, "reported elsewhere"); // awaited below; a replay that failed first closes the client under it
      // The reference driver's SendTo (session sendto) is for port 6001 of the peer.
      await yc.listen(6001);
      const actions: Record<string, PeerActions> = {
        "recv-port": {
          afterBind: async (port) => {
            const c = await yc.dial(x.address, port, { timeoutMs: 10_000 });
            await c.write(utf8("back-data")); // left open: the replayed client closes its end
          },
        },
        recvfrom: { afterBind: (port) => yc.sendTo(x.address, port, utf8("dgram-to-ref")) },
      };
      const background: Promise<number>[] = [];
      let checked = 0;
      const replayed: string[] = [];
      for (const { label, frames } of sessions.values()) {
        if (NOT_REPLAYABLE.has(label)) continue;
        const run = replaySession(x.socket, label, frames, map, actions[label] ?? {});
        replayed.push(label);
        if (label === "subscribe") {
          // Its event comes from the next session (publish): let it subscribe first.
          background.push(run);
          await new Promise((r) => setTimeout(r, 1_000));
        } else checked += await run;
      }
      for (const n of await Promise.all(background)) checked += n;
      await serving;
      assertEquals(received.join(""), "port-data");
      const datagram = await yc.recvFrom({ timeoutMs: 10_000 });
      assertEquals([datagram.dstPort, fromUtf8(datagram.data)], [6001, "dgram-from-ref"]);
      assertEquals(datagram.src.node, x.nodeId);
      assert(replayed.length >= 30, `only ${replayed.length} sessions replayed`);
      assert(checked >= 40, `only ${checked} daemon frames checked`);
    } finally {
      for (const c of clients) await closeQuietly(c);
      await net.close();
    }
  },
});
