#!/usr/bin/env node
// `npm run build`: the CLI as a few ES modules in dist/cli/ (main.js, one chunk per command and
// shared chunks), type-checked by tsc beforehand (package.json). Why a bundle rather than tsc's
// one file per module: Node 20 pays for every module it resolves, reads and links, and for
// loading CommonJS dependencies through its ESM loader; a command that loads ~50 files starts
// 30–50 ms slower (bench/startup.ts). better-sqlite3 stays outside: a native addon is loaded
// from node_modules at run time, as is zod, which src/config loads with require only when a
// config file is read.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// DK_BUILD_OUT: somewhere else than dist/ (test/build.test.ts builds into a scratch folder).
const out = process.env.DK_BUILD_OUT ?? 'dist';
rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: ['src/cli/main.ts'],
  outdir: `${out}/cli`,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  external: ['better-sqlite3', 'zod'],
  // CommonJS dependencies bundled into ES modules still call require() for Node's built-ins.
  banner: {
    js: "import { createRequire as __dkCreateRequire } from 'node:module'; const require = __dkCreateRequire(import.meta.url);",
  },
  sourcemap: 'linked',
  logLevel: 'warning',
});
