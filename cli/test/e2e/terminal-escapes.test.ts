// Issue 11.10: text from a record never reaches the terminal raw. A command holding a clear-screen (CSI), a title
// change (OSC … BEL), a bidi override and a fake newline is shown escaped by `show` and `experiments`.
import { describe, expect, it } from 'vitest';
import { cliOk, useSandboxes } from './helpers.ts';

const sandbox = useSandboxes();
const NASTY = ['\u001b[2J', '\u001b]0;pwned\u0007', 'a\u202eb', 'x\nstatus      finished'];

describe('11.10 terminal escapes in records', () => {
  it('11.10 show and experiments print control characters escaped', async () => {
    const sb = sandbox();
    await cliOk(sb, ['run', '-q', '-e', 'esc', '--', process.execPath, '-e', '0', ...NASTY]);
    for (const args of [['show', 'esc'], ['experiments']]) {
      const out = (await cliOk(sb, args)).stdout;
      // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters is the test
      expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f\u202e]/);
      if (args[0] === 'show') {
        expect(out).toContain('\\x1b[2J');
        expect(out).toContain('\\x1b]0;pwned\\x07');
        expect(out).toContain('a\\u202eb');
        expect(out).toContain('x\\nstatus      finished');
      }
    }
  });
});
