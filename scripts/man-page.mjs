// Writes man/sockskit-proxy.8 from the options table in lib/service (after `npm run build`).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { proxyManPage, PROXY_OPTIONS } = await import(path.join(root, 'dist/lib/service/index.js'));
mkdirSync(path.join(root, 'man'), { recursive: true });
writeFileSync(path.join(root, 'man', 'sockskit-proxy.8'), proxyManPage(PROXY_OPTIONS));
