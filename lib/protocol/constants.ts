/**
 * Protocol constants, named after the RFCs that define them.
 * RFC 1928 (SOCKS5), RFC 1929 (username/password), RFC 1961 (GSS-API),
 * and the SOCKS4 / SOCKS4a protocol texts (Ying-Da Lee).
 */

export const SOCKS4_VERSION = 0x04;
export const SOCKS5_VERSION = 0x05;
/** SOCKS4 replies carry VN = 0, not 4 (SOCKS4 protocol text). */
export const SOCKS4_REPLY_VERSION = 0x00;

/** RFC 1928 §3: METHOD values. */
export const Method = {
  NoAuth: 0x00,
  GssApi: 0x01,
  UsernamePassword: 0x02,
  /** 0x80–0xFE are reserved for private methods. */
  PrivateFirst: 0x80,
  PrivateLast: 0xfe,
  NoAcceptable: 0xff,
} as const;

/** RFC 1928 §4: CMD values; 0xF0/0xF1 are Tor's RESOLVE extensions (answered 07 here). */
export const Command = {
  Connect: 0x01,
  Bind: 0x02,
  UdpAssociate: 0x03,
} as const;
export type CommandCode = (typeof Command)[keyof typeof Command];
export type CommandName = 'connect' | 'bind' | 'udp';

/** RFC 1928 §4/§5: ATYP values. */
export const AddressType = {
  IPv4: 0x01,
  DomainName: 0x03,
  IPv6: 0x04,
} as const;

/** RFC 1928 §6: REP values. */
export const Reply = {
  Succeeded: 0x00,
  GeneralFailure: 0x01,
  NotAllowedByRuleset: 0x02,
  NetworkUnreachable: 0x03,
  HostUnreachable: 0x04,
  ConnectionRefused: 0x05,
  TtlExpired: 0x06,
  CommandNotSupported: 0x07,
  AddressTypeNotSupported: 0x08,
} as const;
export type ReplyCode = number;

/** SOCKS4 CD values in replies. */
export const Socks4Reply = {
  Granted: 0x5a,
  Rejected: 0x5b,
  IdentUnreachable: 0x5c,
  IdentMismatch: 0x5d,
} as const;

/** RFC 1929 §2: sub-negotiation version and status. */
export const USERPASS_VERSION = 0x01;
export const UserPassStatus = { Success: 0x00, Failure: 0x01 } as const;

/** Largest legal messages, the bound on what a handshake ever buffers. */
export const Limits = {
  /** VER NMETHODS METHODS(255) */
  greeting: 2 + 255,
  /** VER CMD RSV ATYP LEN DOMAIN(255) PORT */
  request5: 4 + 1 + 255 + 2,
  /** VN CD PORT IP USERID(255) NUL HOST(255) NUL */
  request4: 8 + 256 + 256,
  /** RFC 1929 request: VER ULEN UNAME PLEN PASSWD */
  userpass: 1 + 1 + 255 + 1 + 255,
  /** SOCKS4 USERID and 4a hostname cap (the spec gives none). */
  socks4Field: 255,
} as const;

export function commandName(code: number): CommandName | undefined {
  switch (code) {
    case Command.Connect: return 'connect';
    case Command.Bind: return 'bind';
    case Command.UdpAssociate: return 'udp';
    default: return undefined;
  }
}

export function commandCode(name: CommandName): CommandCode {
  switch (name) {
    case 'connect': return Command.Connect;
    case 'bind': return Command.Bind;
    case 'udp': return Command.UdpAssociate;
  }
}
