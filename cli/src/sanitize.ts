/**
 * The one sanitizer for text taken from records (commands, hosts, warnings, names, server messages) before it reaches
 * a terminal: C0 controls (newline and tab included: a field must not fake lines or columns), DEL, C1 controls and
 * the Unicode bidirectional overrides are shown escaped (`\x1b`, `\n`, `\u202e`), so a record cannot move the cursor,
 * clear the screen, set the title (OSC) or reorder what a viewer reads.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function sanitize(text: string): string {
  return text.replace(UNSAFE, (ch) => {
    const named = NAMED[ch];
    if (named) return named;
    const code = ch.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Lines of our own, each sanitized (their joins stay real newlines). */
export function sanitizeLines(lines: string[]): string {
  return lines.map(sanitize).join('\n');
}
