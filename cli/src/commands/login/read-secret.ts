import { StudioError } from '@studio-lite/functions/contract';

/**
 * A secret from standard input, never from argv (which `ps` and shell history show): piped input is read whole
 * (`login URL --with-token < file`); on a terminal the person is prompted and nothing they type is echoed.
 */
export async function readSecret(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of stdin) chunks.push(c as Buffer);
    const secret = Buffer.concat(chunks).toString('utf8').trim();
    if (!secret) throw new StudioError('E_BAD_REQUEST', '--with-token read nothing from standard input');
    return secret;
  }
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = '';
      const onData = (buf: Buffer) => {
        for (const ch of buf.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            return resolve(typed.trim());
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            return reject(new StudioError('E_BAD_REQUEST', 'login cancelled'));
          }
          if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
          else typed += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}
