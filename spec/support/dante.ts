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
