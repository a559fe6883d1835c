/**
 * sockskit/service: the runtime of an operator's program, above the server,
 * client and Electrum layers and below the programs. The options table
 * (flags, config keys, SOCKSKIT_* names, --help, docs), the settings merge,
 * the access-log file, the metrics endpoint, the cluster supervisor,
 * signals, reload and drain: runService(program). It never exits the
 * process; the programs do.
 */
export { runService } from './run.js';
export type { ServiceConfig, ServiceProgram, ServiceIo, ServiceCounters } from './types.js';
export { UsageError, EnvError, ConfigFileError } from './errors.js';
export { envName, optionsOf, parseArgsOptions, renderOptions, optionsMarkdown, flagText, MAX_MS, millisecondOptions } from './options.js';
export type { OptionDef, OptionGroup, OptionTable } from './options.js';
export { loadSettings, readConfigFile } from './settings.js';
export type { Settings, Values } from './settings.js';
export { loadConfigFile, parseConfigText } from './config-file.js';
export type { ConfigEntry } from './config-file.js';
export { SERVICE_OPTIONS, KEEPALIVE_OPTION, serviceHelp, parseServiceOptions } from './service-options.js';
export type { ServiceOptions } from './service-options.js';
export { AccessLogFile, checkAccessLogWritable } from './access-log-file.js';
export { serveMetrics, statsLine, sumExtras, metricsWarning, METRICS_MAX_CONNECTIONS, WORKERS_SERIES } from './metrics-endpoint.js';
export { parseHostPort, parseNumber, parseChoice, packageVersion, describeFsError, isLoopback, permissionWarning, readSecretFile } from './values.js';
export type { HostPort } from './values.js';
export { gssapiFromFlags, parseUsers, usersFromFlags } from './auth-flags.js';
export { PROXY_OPTIONS } from './proxy-options.js';
export { manPage, proxyManPage } from './man-page.js';
export type { ManPageText } from './man-page.js';
export { buildProxyConfig, proxyProgram, rulesFromSettings } from './proxy.js';
export type { ProxyProgramOptions } from './proxy.js';
export { GATEWAY_OPTIONS, GATEWAY_DEFAULT_LISTEN } from './electrum-gateway-options.js';
export { buildGatewayConfig, gatewayProgram, gatewayStatus, hostPortText, GATEWAY_SERIES } from './electrum-gateway.js';
export type { GatewayConfig, GatewayStats } from './electrum-gateway.js';
export { CONNECT_OPTIONS, CONNECT_HELP, parseConnectArgs, connectMethods, describeConnectError, redactUrl } from './connect-options.js';
export type { ConnectPlan, ConnectArgs } from './connect-options.js';
