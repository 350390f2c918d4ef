/**
 * Whether a UDP port can be bound right now, so a well-known default port (the daemon's tunnel)
 * can be tried first and replaced by an ephemeral one when another process holds it.
 */

/** True when `host:port` can be bound for UDP at this moment (the probe socket is closed again). */
export async function udpPortFree(host: string, port: number): Promise<boolean> {
  // Loaded on use: a daemon given --listen never probes, and need not keep node:dgram.
  const { default: dgram } = await import("node:dgram");
  return await new Promise((resolve) => {
    const socket = dgram.createSocket({ type: host.includes(":") ? "udp6" : "udp4", reuseAddr: false });
    socket.once("error", () => {
      socket.close();
      resolve(false);
    });
    socket.bind({ address: host, port, exclusive: true }, () => socket.close(() => resolve(true)));
  });
}
