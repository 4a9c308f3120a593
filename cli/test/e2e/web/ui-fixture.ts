// Experiments made by the real CLI, and `studio-lite ui` started on them, for the web UI browser tests.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, cliOk, collect, type Sandbox, startCli, waitFor } from '../helpers.ts';

/** A 2x2 PNG (valid, so the browser decodes it). */
export const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==',
  'base64',
);

/** `train.mjs`: two TensorFlow-style checkpoints (4 files + the `checkpoint` state file) in modeldir. */
const TRAIN = `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
const dir = process.env.STUDIOML_ARTIFACT_MODELDIR;
for (const n of [1, 2]) {
  writeFileSync(join(dir, \`ckpt-\${n}.index\`), 'i' + n);
  writeFileSync(join(dir, \`ckpt-\${n}.data-00000-of-00001\`), 'd' + n);
  console.log('epoch', n, 'loss', 1 / n);
}
writeFileSync(join(dir, 'checkpoint'), 'model_checkpoint_path: "ckpt-2"');
`;

export interface UiServer {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `studio-lite ui --no-open` and returns its one stdout line (the sign-in URL). */
export async function startUi(sb: Pick<Sandbox, 'cwd' | 'env'>, extra: string[] = []): Promise<UiServer> {
  const child = startCli(sb, ['ui', '--no-open', '--port', '0', ...extra]);
  const out = collect(child);
  let exited = false;
  void out.then(() => {
    exited = true;
  });
  await waitFor(() => exited || out.stdoutSoFar().includes('\n'), 'ui to print its URL');
  if (!out.stdoutSoFar().includes('\n')) throw new Error(`ui exited: ${(await out).stderr}`);
  return {
    url: out.stdoutSoFar().trim(),
    child,
    stop: async () => {
      child.kill('SIGTERM');
      await out;
    },
  };
}

/** The data folder of `src`: text, JSON, CSV, an image and nested folders. */
export function writeData(dir: string): void {
  mkdirSync(join(dir, 'sub', 'deep'), { recursive: true });
  writeFileSync(join(dir, 'notes.txt'), 'first line\nsecond line\n');
  writeFileSync(join(dir, 'metrics.json'), JSON.stringify({ loss: 0.25, acc: [0.5, 0.9] }));
  writeFileSync(join(dir, 'table.csv'), 'epoch,loss\n1,0.5\n2,0.25\n');
  writeFileSync(join(dir, 'plot.png'), PNG);
  writeFileSync(join(dir, 'sub', 'deep', 'weights.bin'), Buffer.alloc(5000, 3));
  writeFileSync(join(dir, 'remove-me.txt'), 'gone in v2');
}

/**
 * src (data@1, data@2 by --resume, modeldir with 2 checkpoints), consumer (reuses src/data), failing (exit 3).
 */
export async function makeExperiments(sb: Sandbox): Promise<{ data: string }> {
  const data = sb.tmp();
  writeData(data);
  writeFileSync(join(sb.cwd, 'train.mjs'), TRAIN);
  await cliOk(sb, ['run', '-q', '-e', 'src', '--project', 'vision', '-c', `${data}:data`, '--', 'node', 'train.mjs']);
  writeFileSync(join(data, 'notes.txt'), 'first line\nsecond line, edited\n');
  writeFileSync(join(data, 'added.txt'), 'new in v2');
  rmSync(join(data, 'remove-me.txt'));
  await cliOk(sb, ['run', '-q', '-e', 'src', '--resume', '-c', `${data}:data`, '--', 'node', 'train.mjs']);
  await cliOk(sb, ['run', '-q', '-e', 'consumer', '-r', 'src/data:input', '--', 'node', '-e', 'console.log(1)']);
  const failing = await cli(sb, ['run', '-q', '-e', 'failing', '--', 'node', '-e', 'process.exit(3)']);
  if (failing.code !== 3) throw new Error(`failing run exited ${failing.code}: ${failing.stderr}`);
  return { data };
}
