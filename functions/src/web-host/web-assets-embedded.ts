/**
 * The built web app (file name -> base64), replaced at bundle time by scripts/build.mjs so the CLI and the Cloud
 * Function carry the exact same bytes. null when running from source: web-assets.ts then reads web/dist.
 */
export const EMBEDDED_WEB_ASSETS: Record<string, string> | null = null;
