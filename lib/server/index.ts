/** The Node server: SocksServer, its command handlers and rules. */
export { SocksServer, createServer } from './server.js';
export type { SocksServerOptions, SocksServerStats, RequestContext, CommandHandler, ConnectionControl, LookupFunction, SocksServerEvents } from './server.js';
export { parseCidr, allowedBy, evaluateRules, evaluateBeforeLookup, parseRules, parseDestinationPattern } from './rules.js';
export type { Cidr, Ruleset, Rule, RuleInput, RuleVerdict, DestinationPattern } from './rules.js';
export { formatText, formatJson, escapeField, errorClass, ERROR_CLASSES } from './access-log.js';
export type { ConnectionRecord, EndReason, ErrorClass } from './access-log.js';
export { bindHandler } from './bind.js';
export type { BindOptions } from './bind.js';
export { udpHandler } from './udp-relay.js';
export type { UdpOptions } from './udp-relay.js';
export { ServerMetrics, mergeSnapshots, renderMetrics, handshakeOutcome, HANDSHAKE_BUCKETS } from './metrics.js';
export type { MetricsSnapshot } from './metrics.js';
export { raiseDescriptorLimit, descriptorLimit, descriptorsInUse, connectionLimit } from './limits.js';
export type { DescriptorLimit, RaiseResult } from './limits.js';
