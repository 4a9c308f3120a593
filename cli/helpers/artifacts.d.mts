// Types for artifacts.mjs (kept beside it so TypeScript scripts and the CLI can import it with types).
export declare const STUDIOML_HOME: 'STUDIOML_HOME';
export declare const STUDIOML_EXPERIMENT: 'STUDIOML_EXPERIMENT';
export declare const STUDIOML_ARTIFACT_MAPPING: 'STUDIOML_ARTIFACT_MAPPING';
export declare const ARTIFACT_ENV_PREFIX: 'STUDIOML_ARTIFACT_';

/** Thrown by getArtifact() for a tag the experiment does not have. */
export declare class ArtifactNotFoundError extends Error {
  readonly code: 'E_NOT_FOUND';
  readonly tag: string;
  constructor(tag: string, message: string);
}

/** Name of the per-tag variable, e.g. 'my-data' -> STUDIOML_ARTIFACT_MY_DATA. */
export declare function artifactEnvName(tag: string): string;
/** $STUDIOML_HOME, or ~/.studioml. */
export declare function getStudioHome(): string;
/** Key of the running experiment; outside the CLI a new uuid, kept for this process and its children. */
export declare function getExperimentKey(): string;
/** All artifacts of this experiment as {tag: local path}. */
export declare function getArtifacts(): Record<string, string>;
/** Local path of the artifact tagged `tag`; throws ArtifactNotFoundError for an unknown tag. */
export declare function getArtifact(tag: string): string;
