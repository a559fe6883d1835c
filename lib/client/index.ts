/** The Node client: connect() and chains, BIND, UDP, the HTTP agent. */
export { connect, connectChain, bind, parseProxy, checkConnectOptions, hopUrl } from './connect.js';
export type { ConnectOptions, ConnectResult, ProxyConfig, ProxySpec, Destination, BindResult, ClientLookup, SocketOptionsForProxy, Hop } from './connect.js';
export { udpAssociate, SocksUdpSocket } from './udp.js';
export type { UdpAssociateOptions, UdpRemoteInfo, SocksUdpSocketEvents } from './udp.js';
export { proxyUpstream } from './upstream.js';
export type { ProxyUpstream } from './upstream.js';
export { SocksAgent } from './agent.js';
export type { SocksAgentOptions, SocksAgentRequestOptions } from './agent.js';
// socksDispatcher() is exported from 'sockskit/undici' (lib/undici.ts): its types name undici's.
export { proxyForUrl, proxyForHost, noProxyMatches, PROXY_SCHEMES } from './proxy-env.js';
export type { ProxyEnv } from './proxy-env.js';
