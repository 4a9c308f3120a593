// A stand-in for a person's browser in the sign-in tests (`studio-lite login --browser-command "node <this>"`):
// opens the address given as its last argument, follows the redirects (to the fake Google, then back to the CLI's
// loopback listener) and appends what it saw to $TEST_BROWSER_LOG as one JSON line.
import { appendFileSync } from 'node:fs';

const url = process.argv.at(-1);
const log = (entry) => {
  if (process.env.TEST_BROWSER_LOG) appendFileSync(process.env.TEST_BROWSER_LOG, `${JSON.stringify(entry)}\n`);
};
try {
  const res = await fetch(url, { redirect: 'follow' });
  log({ url, status: res.status, finalUrl: res.url, body: await res.text() });
} catch (err) {
  log({ url, error: String(err) });
}
