/**
 * The IPC Handshake (0x0F) sub-commands (docs/protocol/ipc.md §5.1) mapped onto the trust service (the
 * daemon's side of IPC, so the service itself knows nothing of the IPC codec),
 * with the reference's reply bodies (§6.3) and error texts (`handshake <op>: …`).
 */
import type { HandshakeOp } from "../ipc/codec.ts";
import type { HandshakeReply } from "../ipc/replies.ts";
import type { TrustService } from "../services/trust/service.ts";
import { errorMessage } from "../errors.ts";

/** Runs one Handshake sub-command; a failure is thrown as `Error("handshake <op>: <why>")`. */
export async function handshakeCommand(
  service: TrustService | undefined,
  op: HandshakeOp,
): Promise<HandshakeReply> {
  if (!service) throw new Error("handshake: trust service is not running");
  const fail = (what: string) => (err: unknown): never => {
    throw new Error(`handshake ${what}: ${errorMessage(err)}`);
  };
  switch (op.sub) {
    case "request": {
      const via = await service.request(op.nodeId, op.justification).catch(fail("request"));
      return { status: "sent", node_id: op.nodeId, via };
    }
    case "approve":
      await service.approve(op.nodeId).catch(fail("approve"));
      return { status: "approved", node_id: op.nodeId };
    case "reject":
      await service.reject(op.nodeId, op.reason).catch(fail("reject"));
      return { status: "rejected", node_id: op.nodeId };
    case "revoke":
      await service.revoke(op.nodeId).catch(fail("revoke"));
      return { status: "revoked", node_id: op.nodeId };
    case "pending":
      return { pending: service.pending() };
    case "trusted":
      return { trusted: service.trusted() };
  }
}
