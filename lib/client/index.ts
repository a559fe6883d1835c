/** The Node client: connect() and chains, BIND, UDP, the HTTP agent. */
export { connect, connectChain, bind, parseProxy } from './connect.js';
export type { ConnectOptions, ConnectResult, ProxyConfig, ProxySpec, Destination, BindResult, ClientLookup, SocketOptionsForProxy } from './connect.js';
export { udpAssociate, SocksUdpSocket } from './udp.js';
export type { UdpAssociateOptions, UdpRemoteInfo, SocksUdpSocketEvents } from './udp.js';
export { proxyUpstream } from './upstream.js';
export type { ProxyUpstream } from './upstream.js';
export { SocksAgent } from './agent.js';
export type { SocksAgentOptions } from './agent.js';
export { socksDispatcher } from './dispatcher.js';
export type { SocksDispatcherOptions } from './dispatcher.js';
export { proxyForUrl, proxyForHost, noProxyMatches, PROXY_SCHEMES } from './proxy-env.js';
export type { ProxyEnv } from './proxy-env.js';
