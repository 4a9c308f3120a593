import { describe, expect, it } from 'vitest';
import { table } from '../../src/format.ts';
import { sanitize } from '../../src/sanitize.ts';

describe('11.10 sanitize', () => {
  it('11.10 escapes C0, DEL, C1 and bidi controls; keeps ordinary text and Unicode', () => {
    expect(sanitize('\u001b[2J\u0007\u007f\u009b\u202e\n\t\r')).toBe('\\x1b[2J\\x07\\x7f\\x9b\\u202e\\n\\t\\r');
    expect(sanitize('grüße 模型 ✓ --lr 0.1')).toBe('grüße 模型 ✓ --lr 0.1');
  });
  it('11.10 table cells cannot add rows or escapes', () => {
    expect(table(['A', 'B'], [['x\ny', '\u001b[31mred']])).toBe('A     B\nx\\ny  \\x1b[31mred');
  });
});
