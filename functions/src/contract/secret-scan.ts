import type { SecretRule } from './secret-rule.ts';
import { GITLEAKS_RULES } from './secret-rules.generated.ts';

/**
 * Credential-looking values found by a maintained ruleset: gitleaks' published rules (secret-rules.generated.ts),
 * with its keyword prefilter and entropy thresholds.
 */

interface Compiled extends SecretRule {
  re: RegExp;
}

let compiled: Compiled[] | undefined;

function rules(): Compiled[] {
  compiled ??= GITLEAKS_RULES.map((r) => ({ ...r, re: new RegExp(r.pattern, r.flags) }));
  return compiled;
}

/** Shannon entropy in bits per character. */
export function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** [start, end) ranges of the secrets in `text`, with the id of the rule that found each. */
export function findSecrets(text: string): { start: number; end: number; rule: string }[] {
  const lower = text.toLowerCase();
  const out: { start: number; end: number; rule: string }[] = [];
  for (const r of rules()) {
    if (r.keywords.length > 0 && !r.keywords.some((k) => lower.includes(k))) continue;
    r.re.lastIndex = 0;
    for (let m = r.re.exec(text); m; m = r.re.exec(text)) {
      if (m[0] === '') {
        r.re.lastIndex += 1;
        continue;
      }
      const g = r.group || (m.length > 1 && m[1] !== undefined ? 1 : 0);
      const span = m.indices?.[g];
      const secret = m[g];
      if (!span || secret === undefined || secret === '') continue;
      if (r.entropy && entropy(secret) < r.entropy) continue;
      out.push({ start: span[0], end: span[1], rule: r.id });
    }
  }
  return out;
}

/** `text` with every secret `findSecrets` reports replaced by `mask`. */
export function maskSecrets(text: string, mask: string): string {
  const found = findSecrets(text).sort((a, b) => a.start - b.start || b.end - a.end);
  let out = '';
  let at = 0;
  for (const f of found) {
    if (f.end <= at) continue;
    out += text.slice(at, Math.max(at, f.start)) + mask;
    at = f.end;
  }
  return out + text.slice(at);
}
