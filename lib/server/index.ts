/** The Node server: SocksServer, its command handlers and rules. */
export { SocksServer, createServer } from './server.js';
export type { SocksServerOptions, RequestContext, CommandHandler, ConnectionControl, LookupFunction } from './server.js';
export { parseCidr, allowedBy } from './rules.js';
export type { Cidr, Ruleset } from './rules.js';
export { bindHandler } from './bind.js';
export type { BindOptions } from './bind.js';
export { udpHandler } from './udp-relay.js';
export type { UdpOptions } from './udp-relay.js';
export { raiseDescriptorLimit, descriptorLimit, descriptorsInUse, connectionLimit } from './limits.js';
export type { DescriptorLimit, RaiseResult } from './limits.js';
