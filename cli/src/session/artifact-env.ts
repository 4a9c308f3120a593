import { writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { packageRoot } from '../package-root.ts';

/** The pure-Python `studio` package shipped inside the CLI package (python/studio), wherever it is installed. */
export function pythonPackageDir(): string {
  return join(packageRoot(), 'python');
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
