/**
 * One rule of gitleaks' published ruleset (secret-rules.generated.ts, regenerated with
 * scripts/update-secret-rules.py). A file of its own so the generated data and the scanner do not import each other.
 */
export interface SecretRule {
  id: string;
  pattern: string;
  flags: string;
  /** Capture group holding the secret (0: the first group if any, else the whole match). */
  group: number;
  /** Minimum Shannon entropy of the secret (0: none). */
  entropy: number;
  /** Lower-case words of which one must occur in the text for the rule to run. */
  keywords: string[];
}
