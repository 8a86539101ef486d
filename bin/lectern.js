#!/usr/bin/env node
// From a source checkout, run the TypeScript directly through tsx; a production image ships only dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../src/main.ts', import.meta.url));
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source);
} else {
  await import(fileURLToPath(new URL('../dist/main.js', import.meta.url)));
}
