import { writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The pure-Python `studio` package shipped with the CLI (cli/python), found relative to this bundle or source. */
export function pythonPackageDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  // dist/studio-lite.js -> ../python ; src/commands/run/*.ts -> ../../../python
  return here.includes(`${join('cli', 'dist')}`) ? join(here, '..', 'python') : join(here, '..', '..', '..', 'python');
}

export function artifactEnvName(tag: string): string {
  return `STUDIOML_ARTIFACT_${tag.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * The script's view of its artifacts (Studio's contract): a JSON mapping file named by STUDIOML_ARTIFACT_MAPPING, one
 * STUDIOML_ARTIFACT_<TAG> per tag, the experiment key, and the `studio` package on PYTHONPATH.
 */
export function scriptEnv(
  base: NodeJS.ProcessEnv,
  o: { home: string; experiment: string; mapping: Record<string, string>; mappingFile: string },
): NodeJS.ProcessEnv {
  writeFileSync(o.mappingFile, `${JSON.stringify(o.mapping, null, 2)}\n`);
  const env: NodeJS.ProcessEnv = { ...base };
  for (const k of Object.keys(env)) if (k.startsWith('STUDIOML_ARTIFACT_')) delete env[k];
  delete env.STUDIOML_TOKEN;
  env.STUDIOML_HOME = o.home;
  env.STUDIOML_EXPERIMENT = o.experiment;
  env.STUDIOML_ARTIFACT_MAPPING = o.mappingFile;
  for (const [tag, path] of Object.entries(o.mapping)) env[artifactEnvName(tag)] = path;
  env.PYTHONPATH = [pythonPackageDir(), base.PYTHONPATH].filter(Boolean).join(delimiter);
  env.PYTHONUNBUFFERED = '1';
  return env;
}
