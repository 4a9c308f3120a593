// Issue 11.6: redaction against a corpus of real-looking secrets, one per provider (random bodies in each provider's
// published format), bare and behind option names, inside `sh -c` strings; ordinary arguments stay readable.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { REDACTED, redactArgv, redactText } from '../../src/contract/redact.ts';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const pick = (alphabet: string, n: number) => Array.from(randomBytes(n), (b) => alphabet[b % alphabet.length]).join('');
const alnum = (n: number) => pick(ALNUM, n);
const url64 = (n: number) => pick(`${ALNUM}_-`, n);
const digits = (n: number) => pick('0123456789', n);
const b64url = (s: string) => Buffer.from(s).toString('base64url');

const CORPUS: [string, string][] = [
  ['OpenAI (legacy sk-)', `sk-${alnum(20)}T3BlbkFJ${alnum(20)}`],
  ['OpenAI project key (sk-proj-)', `sk-proj-${url64(74)}T3BlbkFJ${url64(74)}`],
  ['Anthropic (sk-ant-)', `sk-ant-api03-${url64(93)}AA`],
  ['Hugging Face (hf_)', `hf_${pick('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', 34)}`],
  ['GitLab PAT (glpat-)', `glpat-${url64(20)}`],
  ['GitHub PAT (ghp_)', `ghp_${alnum(36)}`],
  ['GitHub fine-grained PAT', `github_pat_${alnum(22)}_${alnum(59)}`],
  ['AWS access key id', `AKIA${pick('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}`],
  ['Google API key', `AIza${url64(35)}`],
  ['Slack bot token', `xoxb-${digits(12)}-${digits(13)}-${alnum(24)}`],
  ['Stripe live key', `sk_live_${alnum(24)}`],
  ['npm token', `npm_${alnum(36)}`],
  ['SendGrid key', `SG.${url64(22)}.${url64(43)}`],
  ['JWT', `${b64url('{"alg":"HS256","typ":"JWT"}')}.${b64url('{"sub":"1234567890","name":"x"}')}.${url64(43)}`],
  ['JWT with a short last segment', `${b64url('{"alg":"HS256"}')}.${b64url('{"sub":"1234567890"}')}.ab`],
  ['studio-lite token', `slt_${url64(43)}`],
];

describe('11.6 redaction catches real-looking secrets of each provider', () => {
  it.each(CORPUS)('11.6 %s: bare, after an option, and inside sh -c', (_provider, secret) => {
    const shown = (argv: string[]) => JSON.stringify(redactArgv(argv));
    expect(shown(['python', 'train.py', secret])).not.toContain(secret);
    expect(shown(['python', 'train.py', '--header', `Bearer ${secret}`])).not.toContain(secret);
    expect(shown(['sh', '-c', `curl -H "x: ${secret}" https://example.org`])).not.toContain(secret);
    expect(redactText(`warning: request failed with ${secret}`)).not.toContain(secret);
  });
});

describe('11.6 option-name rules', () => {
  const cases: [string[], string[]][] = [
    [
      ['t', '--openai-key', 'sk-abc'],
      ['t', '--openai-key', REDACTED],
    ],
    [
      ['t', '--wandb-key', 'X1'],
      ['t', '--wandb-key', REDACTED],
    ],
    [
      ['t', '--key', 'X2'],
      ['t', '--key', REDACTED],
    ],
    [
      ['t', '--pwd', 'X3'],
      ['t', '--pwd', REDACTED],
    ],
    [
      ['t', '--db-pass=X4'],
      ['t', `--db-pass=${REDACTED}`],
    ],
    [
      ['mysql', '-p', 'X5'],
      ['mysql', '-p', REDACTED],
    ],
    [
      ['t', '--password', '-x'],
      ['t', '--password', REDACTED],
    ],
    [
      ['t', '--API_TOKEN', 'X6'],
      ['t', '--API_TOKEN', REDACTED],
    ],
    [
      ['t', '--client-credential', 'X7'],
      ['t', '--client-credential', REDACTED],
    ],
    [
      ['env', 'HF_AUTH=X8', 'python'],
      ['env', `HF_AUTH=${REDACTED}`, 'python'],
    ],
  ];
  it.each(cases)('11.6 %j -> %j', (argv, want) => {
    expect(redactArgv(argv)).toEqual(want);
  });

  it('11.6 inside one shell string: --password x, --key=x, NAME=x and -p x', () => {
    const [, , cmd] = redactArgv([
      'sh',
      '-c',
      "python train.py --password hunter2 --api-key='s3cr3t v' DB_PASS=pw1 && mysql -p pw2 --lr 0.1",
    ]);
    for (const s of ['hunter2', 's3cr3t', 'pw1', 'pw2']) expect(cmd).not.toContain(s);
    expect(cmd).toContain('--lr 0.1');
    expect(cmd).toContain('python train.py --password ***');
  });

  it('11.6 ordinary arguments stay readable', () => {
    const argv = ['python', 'train.py', '--lr', '0.1', '--epochs', '3', '--data', 'data/train.csv', '--model', 'gpt2'];
    expect(redactArgv(argv)).toEqual(argv);
    expect(redactArgv(['git', 'commit', '-m', 'fix the loss'])).toEqual(['git', 'commit', '-m', 'fix the loss']);
  });
});
