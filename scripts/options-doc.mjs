// Writes docs/options.md from the options tables in lib/service (after `npm run build`).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { optionsMarkdown, PROXY_OPTIONS, GATEWAY_OPTIONS } = await import(path.join(root, 'dist/lib/service/index.js'));
const text = `# Options of the service programs

Generated from the options tables in \`lib/service/\` (\`node scripts/options-doc.mjs\`
after a build; \`spec/service/options.spec.ts\` fails when this page is stale).
Each option is a flag, a key of the \`--config\` file (the long flag name) and a
\`SOCKSKIT_*\` environment variable; flags win over the environment, which wins
over the file (docs/operations.md). An \`MS\` value above 2147483647 (2^31-1,
about 24.8 days: what a Node timer holds) is refused.

## sockskit-proxy

${optionsMarkdown(PROXY_OPTIONS)}
## sockskit-electrum-gateway

${optionsMarkdown(GATEWAY_OPTIONS)}`;
writeFileSync(path.join(root, 'docs', 'options.md'), text);
