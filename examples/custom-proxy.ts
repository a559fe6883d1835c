#!/usr/bin/env node
/**
 * "sockskit-proxy, but with my own request hook": every flag, the config
 * file, reload, metrics and workers of sockskit-proxy, plus a hook that
 * refuses port 25 and logs each destination.
 *
 *   node dist/examples/custom-proxy.js --listen 127.0.0.1:1080 [any sockskit-proxy flag]
 */
import { Reply } from '../lib/index.js';
import { proxyProgram, runService } from '../lib/service/index.js';
import { runMain } from './cli.js';

runMain('custom-proxy', () => runService(proxyProgram({
  prog: 'custom-proxy',
  server: {
    async onRequest(ctx) {
      const { host, port } = ctx.request.destination;
      if (port === 25) return ctx.deny(Reply.NotAllowedByRuleset);
      process.stderr.write(`custom-proxy: ${ctx.request.command} ${host}:${port}\n`);
      await ctx.accept();
    },
  },
})));
