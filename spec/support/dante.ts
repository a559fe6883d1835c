import { existsSync } from 'node:fs';
import path from 'node:path';

/** danted configuration for the interop specs: 127.0.0.1 only, no authentication. */
export function danteConfig(port: number, options: { commands?: string; log?: boolean } = {}): string {
  return [
    'logoutput: stderr',
    `internal: 127.0.0.1 port = ${port}`,
    'external: 127.0.0.1',
    'clientmethod: none',
    'socksmethod: none',
    'user.privileged: root',
    'user.unprivileged: nobody',
    'client pass {',
    '  from: 127.0.0.0/8 to: 127.0.0.0/8',
    '}',
    'socks pass {',
    '  from: 127.0.0.0/8 to: 127.0.0.0/8',
    `  command: ${options.commands ?? 'bind connect udpassociate bindreply udpreply'}`,
    // `log: connect` writes one "tcp/connect" line per CONNECT: proof that a request went through Dante.
    ...(options.log ? ['  log: connect'] : []),
    '}',
    '',
  ].join('\n');
}

/**
 * Dante built WITH GSS-API (Debian's is built without): the prefix
 * .ci/build-dante-gssapi installed it in, from SOCKSKIT_DANTE_GSSAPI or the
 * script's default. `missing` says why it cannot be used.
 */
export function danteGssapi(): { sockd: string; socksify: string; lib: string; missing?: undefined } | { missing: string } {
  const prefix = process.env.SOCKSKIT_DANTE_GSSAPI || '/var/cache/sockskit-ci/dante-gssapi';
  const sockd = path.join(prefix, 'sbin', 'sockd');
  const socksify = path.join(prefix, 'bin', 'socksify');
  if (!existsSync(sockd) || !existsSync(socksify)) {
    return { missing: `Dante with GSS-API not found in ${prefix} (build it with .ci/build-dante-gssapi, or set SOCKSKIT_DANTE_GSSAPI)` };
  }
  return { sockd, socksify, lib: path.join(prefix, 'lib') };
}

/** sockd.conf for GSS-API: Kerberos from `keytab` (read as nobody: world-readable), service `service`. */
export function danteGssapiConfig(port: number, keytab: string, enctype: string, service = 'rcmd'): string {
  return [
    'logoutput: stderr',
    `internal: 127.0.0.1 port = ${port}`,
    'external: 127.0.0.1',
    'clientmethod: none',
    'socksmethod: gssapi',
    'user.privileged: root',
    'user.unprivileged: nobody',
    // The gssapi.* keys only take effect in the client rule.
    'client pass {',
    '  from: 127.0.0.0/8 to: 0.0.0.0/0',
    `  gssapi.keytab: ${keytab}`,
    `  gssapi.servicename: ${service}`,
    '}',
    'socks pass {',
    '  from: 127.0.0.0/8 to: 127.0.0.0/8',
    '  command: connect',
    `  gssapi.enctype: ${enctype}`,
    '  log: connect',
    '}',
    '',
  ].join('\n');
}

/** socks.conf for socksify: GSS-API to our proxy; the KDC port direct; names faked (sent to the proxy). */
export function socksifyGssapiConfig(proxyPort: number, kdcPort: number, enctype: string): string {
  return `resolveprotocol: fake
route {
  from: 0.0.0.0/0 to: 127.0.0.1/32 port = ${kdcPort} via: direct
}
route {
  from: 0.0.0.0/0 to: 0.0.0.0/0 via: 127.0.0.1 port = ${proxyPort}
  proxyprotocol: socks_v5
  command: connect
  method: gssapi
  gssapi.servicename: rcmd
  gssapi.enctype: ${enctype}
}
`;
}
