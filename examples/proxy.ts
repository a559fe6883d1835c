#!/usr/bin/env node
/**
 * sockskit-proxy: a SOCKS5/4/4a proxy. Safe defaults: listens on
 * 127.0.0.1:1080; warns when it would be an open proxy beyond loopback.
 * Its options, config file, signals and workers all come from
 * sockskit/service (proxyProgram, runService); examples/custom-proxy.ts is
 * the same program with a request hook of its own.
 */
import { proxyProgram, runService } from '../lib/service/index.js';
import { runMain } from './cli.js';

runMain('sockskit-proxy', () => runService(proxyProgram()));
