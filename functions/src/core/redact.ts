/**
 * Secrets never reach a record: command lines are redacted on the client before they are sent and again by the
 * API before they are stored. Two rules: values of options whose name says "secret", and values that look like a
 * credential wherever they appear.
 */
export const REDACTED = '***';

const SECRET_NAME = /(token|secret|passw(or)?d|passwd|api[-_]?key|access[-_]?key|private[-_]?key|credential|auth)/i;

const SECRET_VALUES: RegExp[] = [
  /slt_[A-Za-z0-9_-]{43}/g, // studio-lite tokens
  /AKIA[0-9A-Z]{16}/g, // AWS access key ids
  /gh[pousr]_[A-Za-z0-9]{36,}/g, // GitHub tokens
  /xox[abposr]-[A-Za-z0-9-]{10,}/g, // Slack tokens
  /ya29\.[A-Za-z0-9._-]{20,}/g, // Google OAuth access tokens
  /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, // JWTs
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
];

/** Replaces credential-looking substrings, and the password part of URLs (`scheme://user:pass@host`). */
export function redactText(text: string): string {
  let out = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)([^/\s:@]+):([^/\s@]+)@/gi, `$1$2:${REDACTED}@`);
  for (const re of SECRET_VALUES) out = out.replace(re, REDACTED);
  return out;
}

/** A command line with secret option values (`--token X`, `--api-key=X`, `PASSWORD=X`) and credentials masked. */
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
    // `--token VALUE`: the next word is the value, unless it is itself an option.
    const next = argv[i + 1];
    if (/^-{1,2}[A-Za-z0-9_.-]+$/.test(arg) && SECRET_NAME.test(arg) && next !== undefined && !next.startsWith('-')) {
      out.push(REDACTED);
      i += 1;
    }
  }
  return out;
}
