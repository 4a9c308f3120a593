import { readFileSync } from 'node:fs';
import { homePaths, studioHome } from '@studio-lite/functions/adapters/local/local-home.ts';
import { StudioError } from '@studio-lite/functions/core/errors.ts';
import { parse } from 'yaml';
import { z } from 'zod';
import { readSavedLogin } from './auth/saved-login.ts';

const configSchema = z
  .object({
    /** Team deployment URL; absent = the embedded local backend. */
    api_url: z.url().optional(),
    team: z.string().optional(),
    /** Seconds between captures of mutable artifacts (Studio's saveWorkspaceFrequency). */
    capture_interval: z.number().positive().optional(),
    /** How pulls and reused artifacts are laid out from the cache: copies (default) or hard links (opt-in). */
    materialize: z.enum(['link', 'copy']).optional(),
  })
  .passthrough();

export interface CliConfig {
  home: string;
  apiUrl: string | null;
  team: string | null;
  captureInterval: number;
  materialize: 'link' | 'copy';
}

/** Config = defaults < config file (--config, else $STUDIOML_HOME/config.yaml) < environment. */
export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): CliConfig {
  const home = studioHome(env);
  const path = file ?? homePaths(home).config;
  let raw: unknown = {};
  try {
    raw = parse(readFileSync(path, 'utf8')) ?? {};
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' || file !== undefined) {
      throw new StudioError('E_BAD_REQUEST', `cannot read config ${path}: ${(err as Error).message}`);
    }
  }
  const r = configSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new StudioError('E_BAD_REQUEST', `config ${path}: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return {
    home,
    apiUrl: env.STUDIOML_API_URL || r.data.api_url || readSavedLogin(home)?.api_url || null,
    team: env.STUDIOML_TEAM || r.data.team || null,
    captureInterval: r.data.capture_interval ?? 60,
    materialize: r.data.materialize ?? 'copy',
  };
}
