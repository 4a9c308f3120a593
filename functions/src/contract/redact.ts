import { maskSecrets } from './secret-scan.ts';

/**
 * Secrets never reach a record: command lines are redacted on the client before they are sent and again by the
 * API before they are stored. Three rules: values of options (and environment assignments) whose name says
 * "secret", the value after `-p`, and values a maintained secret-scanning ruleset recognises (gitleaks' rules,
 * secret-scan.ts) wherever they appear, inside shell strings (`sh -c '… --password x'`) too.
 */
export const REDACTED = '***';

/** An option or variable name that marks its value as secret: one of these anywhere in the name. */
const SECRET_NAME = /(key|secret|token|pass|pwd|credential|auth)/i;

const WORD = `('[^']*'|"[^"]*"|[^\\s'";&|)]+)`;
const START = `(^|[\\s;&|(])`;
const NAME = '[A-Za-z0-9_.-]*(?:key|secret|token|pass|pwd|credential|auth)[A-Za-z0-9_.-]*';
/** Inside one string (a shell command): `--name value`, `--name=value`, `NAME=value`, `-p value`. */
const IN_STRING: [RegExp, string][] = [
  [new RegExp(`${START}(-{1,2}${NAME})(=|\\s+)(?!--[A-Za-z])${WORD}`, 'gi'), `$1$2$3${REDACTED}`],
  [new RegExp(`${START}([A-Za-z_]${NAME})=${WORD}`, 'gi'), `$1$2=${REDACTED}`],
  [new RegExp(`${START}(-p)(\\s+)(?!-)${WORD}`, 'g'), `$1$2$3${REDACTED}`],
];

/** What the ruleset cannot know: this product's own tokens, JWTs of any shape, private keys cut short. */
const OWN_SECRETS: RegExp[] = [
  /slt_[A-Za-z0-9_-]{43}/g,
  // Any JWT, also with a short or empty signature segment (the ruleset wants 10+ characters there).
  /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
];

/**
 * Replaces credential-looking substrings, the password part of URLs (`scheme://user:pass@host`) and secret option
 * values inside a longer string.
 */
export function redactText(text: string): string {
  let out = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)([^/\s:@]+):([^/\s@]+)@/gi, `$1$2:${REDACTED}@`);
  for (const [re, to] of IN_STRING) out = out.replace(re, to);
  for (const re of OWN_SECRETS) out = out.replace(re, REDACTED);
  return maskSecrets(out, REDACTED);
}

const isOption = (s: string) => /^-{1,2}[A-Za-z0-9_.-]+$/.test(s);

/** A command line with secret option values (`--token X`, `--db-pass=X`, `-p X`, `PASSWORD=X`) and credentials masked. */
export function redactArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    const eq = /^(-{1,2}[A-Za-z0-9_.-]+|[A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(arg);
    if (eq && SECRET_NAME.test(eq[1] as string)) {
      out.push(`${eq[1]}=${REDACTED}`);
      continue;
    }
    out.push(redactText(arg));
    // `--token VALUE`, `-p VALUE`: the next word is the value (even `-x`), unless it is a long option itself.
    const next = argv[i + 1];
    const secretOption = isOption(arg) && (SECRET_NAME.test(arg) || arg === '-p');
    if (secretOption && next !== undefined && !/^--[A-Za-z]/.test(next)) {
      out.push(REDACTED);
      i += 1;
    }
  }
  return out;
}
