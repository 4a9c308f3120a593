import { readFileSync } from 'node:fs';
import { StudioError } from '@studio-lite/functions/contract';
import * as z from 'zod';
import { readSavedLogin } from './auth/saved-login.ts';
import { cliPaths, studioHome } from './home/cli-home.ts';
import { rememberedTeam } from './team-memory.ts';

const configSchema = z
  .object({
    /** Team deployment URL; absent = the embedded local backend. */
    api_url: z.url().optional(),
    team: z.string().optional(),
    /** Seconds between captures of mutable artifacts (Studio's saveWorkspaceFrequency). */
    capture_interval: z.number().positive().optional(),
    /** How pulls and reused artifacts are laid out from the cache: copies (default) or hard links (opt-in). */
    materialize: z.enum(['link', 'copy']).optional(),
    /** `auto`: a run that cannot reach the deployment captures into the embedded backend for a later push. */
    offline: z.enum(['auto', 'never']).optional(),
  })
  .passthrough();

export interface CliConfig {
  home: string;
  apiUrl: string | null;
  team: string | null;
  captureInterval: number;
  materialize: 'link' | 'copy';
  offline: 'auto' | 'never';
}

const KNOWN_KEYS = ['api_url', 'team', 'capture_interval', 'materialize', 'offline'];
const warned = new Set<string>();

/** A misspelt key would be silently ignored: say so, once per file and process (commands may load it twice). */
function warnUnknownKeys(path: string, raw: unknown): void {
  if (warned.has(path) || typeof raw !== 'object' || raw === null || Array.isArray(raw)) return;
  warned.add(path);
  for (const k of Object.keys(raw)) {
    if (!KNOWN_KEYS.includes(k)) {
      process.stderr.write(`warning: config ${path}: unknown key "${k}" ignored (known: ${KNOWN_KEYS.join(', ')})\n`);
    }
  }
}

/**
 * Config = defaults < config file (--config, else $STUDIOML_HOME/config.yaml) < environment. The YAML parser is
 * loaded only when there is a file to parse (most homes have none; it is a tenth of the CLI's code).
 */
export async function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<CliConfig> {
  const home = studioHome(env);
  const path = file ?? cliPaths(home).config;
  let raw: unknown = {};
  try {
    const text = readFileSync(path, 'utf8');
    // yaml is CommonJS: imported dynamically from the bundle it comes as `default`.
    const yaml = (await import('yaml')) as typeof import('yaml') & { default?: typeof import('yaml') };
    const { parse } = yaml.default ?? yaml;
    raw = parse(text) ?? {};
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' || file !== undefined) {
      throw new StudioError('E_BAD_REQUEST', `cannot read config ${path}: ${(err as Error).message}`);
    }
  }
  warnUnknownKeys(path, raw);
  const r = configSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new StudioError('E_BAD_REQUEST', `config ${path}: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  const apiUrl = env.STUDIOML_API_URL || r.data.api_url || readSavedLogin(home)?.api_url || null;
  return {
    home,
    apiUrl,
    team: env.STUDIOML_TEAM || r.data.team || rememberedTeam(home, apiUrl) || null,
    captureInterval: r.data.capture_interval ?? 60,
    materialize: r.data.materialize ?? 'copy',
    offline: r.data.offline ?? 'never',
  };
}

/**
 * The same config aimed at another backend (null: this home's embedded one), acting in `team` or else the team
 * remembered for that backend: what a command reaching a backend other than the configured one uses (push, an
 * offline run, experiments listing offline runs).
 */
export function backendConfig(cfg: CliConfig, apiUrl: string | null, team: string | null = null): CliConfig {
  return { ...cfg, apiUrl, team: team ?? rememberedTeam(cfg.home, apiUrl) };
}
