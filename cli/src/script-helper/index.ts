// The script-side artifact helper for TypeScript callers (scripts and the CLI, which sets the same variables).
// The implementation lives in cli/helpers/artifacts.mjs, a zero-dependency file Node scripts import by path; one
// copy means the two can never drift.
export {
  ARTIFACT_ENV_PREFIX,
  ArtifactNotFoundError,
  artifactEnvName,
  getArtifact,
  getArtifacts,
  getExperimentKey,
  getStudioHome,
  STUDIOML_ARTIFACT_MAPPING,
  STUDIOML_EXPERIMENT,
  STUDIOML_HOME,
} from '../../helpers/artifacts.mjs';
