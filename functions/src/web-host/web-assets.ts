import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EMBEDDED_WEB_ASSETS } from './web-assets-embedded.ts';

export interface WebAsset {
  body: Uint8Array;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

function asset(name: string, body: Uint8Array): WebAsset {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
  return { body, type: TYPES[extname(name)] ?? 'application/octet-stream', etag };
}

let cached: Map<string, WebAsset> | undefined;

/** The web app's files by name (index.html, app.js, …); empty when it was never built (`npm run build`). */
export function webAssets(): Map<string, WebAsset> {
  if (cached) return cached;
  const out = new Map<string, WebAsset>();
  if (EMBEDDED_WEB_ASSETS) {
    for (const [name, b64] of Object.entries(EMBEDDED_WEB_ASSETS))
      out.set(name, asset(name, Buffer.from(b64, 'base64')));
  } else {
    // From source (tests, tsx): the folder scripts/build.mjs writes.
    const dir = fileURLToPath(new URL('../../../web/dist/', import.meta.url));
    if (existsSync(dir)) {
      for (const name of readdirSync(dir)) out.set(name, asset(name, readFileSync(`${dir}${name}`)));
    }
  }
  cached = out;
  return out;
}
