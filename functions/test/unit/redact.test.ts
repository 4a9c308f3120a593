import { describe, expect, it } from 'vitest';
import { REDACTED, redactArgv, redactText } from '../../src/contract/redact.ts';

const tok = `slt_${'A'.repeat(43)}`;

describe('redactArgv', () => {
  it.each([
    [
      ['python3', 'train.py', '--token', 'abc', '--lr', '0.1'],
      ['python3', 'train.py', '--token', REDACTED, '--lr', '0.1'],
    ],
    [
      ['x', '--api-key=abc'],
      ['x', `--api-key=${REDACTED}`],
    ],
    [
      ['x', '--password=hunter2', '--user=bob'],
      ['x', `--password=${REDACTED}`, '--user=bob'],
    ],
    [
      ['env', 'AWS_SECRET_ACCESS_KEY=abc', 'HOME=/root'],
      ['env', `AWS_SECRET_ACCESS_KEY=${REDACTED}`, 'HOME=/root'],
    ],
    [
      ['x', '--auth-file', '-v'],
      ['x', '--auth-file', REDACTED],
    ],
    [
      ['x', '--auth-file', '--verbose'],
      ['x', '--auth-file', '--verbose'],
    ],
    [
      ['x', `--header=Bearer ${tok}`],
      ['x', `--header=Bearer ${REDACTED}`],
    ],
    [
      ['git', 'clone', 'https://bob:s3cret@example.org/r.git'],
      ['git', 'clone', `https://bob:${REDACTED}@example.org/r.git`],
    ],
    [
      ['x', 'AKIAABCDEFGHIJKLMNOP'],
      ['x', REDACTED],
    ],
  ])('%j -> %j', (input, expected) => {
    expect(redactArgv(input)).toEqual(expected);
  });

  it('leaves ordinary command lines alone', () => {
    const argv = ['python3', 'train.py', '--epochs', '10', '--out=./weights', 'data/tokens.txt'];
    expect(redactArgv(argv)).toEqual(argv);
  });
});

describe('redactText', () => {
  it('masks JWTs and private keys', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXZhbHVl';
    expect(redactText(`auth ${jwt} end`)).toBe(`auth ${REDACTED} end`);
    expect(redactText('-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----')).toBe(REDACTED);
  });
});
