/**
 * The server's defaults, in one table: the options' doc comments, the
 * connection, the command handlers and the descriptor arithmetic read them
 * from here (milliseconds unless named otherwise). The transport's own
 * defaults (Happy Eyeballs' 250 ms stagger, the relay's 30 s linger) stay
 * with the transport, which the server passes `undefined` to.
 */
export const DEFAULTS = Object.freeze({
  /** From accept to the end of the handshake (handshakeTimeout). */
  handshakeTimeout: 10_000,
  /** Lookup and every address tried, together (connectTimeout). */
  connectTimeout: 10_000,
  /** Initial TCP keepalive delay on the client and CONNECT's outbound socket (keepAlive). */
  keepAlive: 60_000,
  /** BIND: waiting for the peer (BindOptions.timeout). */
  bindTimeout: 60_000,
  /** UDP: an association without a relayed datagram (UdpOptions.idleTimeout). */
  udpIdleTimeout: 300_000,
  /** UDP: remote endpoints remembered for reply filtering (UdpOptions.maxPeers). */
  udpMaxPeers: 1024,
  /** UDP: name lookups in flight per association (UdpOptions.maxLookups). */
  udpMaxLookups: 16,
  /** The connection limit when the descriptors allow more (memory, not descriptors, then bounds it). */
  maxConnectionsCap: 10_000,
  /** Descriptors kept back for listeners, log files, DNS, the event loop and BIND listeners. */
  descriptorHeadroom: 64,
  /** Closing a connection after its failure reply: pending writes get this long. */
  closeGrace: 2_000,
  /** At most one "out of descriptors" warning per this interval. */
  descriptorWarningInterval: 10_000,
});
