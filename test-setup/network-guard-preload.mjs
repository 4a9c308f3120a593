// Loaded into child processes through NODE_OPTIONS=--import (see vitest.config.ts): a forgotten endpoint in a
// spawned CLI fails like a refused connection instead of leaving the machine.
import { installNetworkGuard } from './network-guard.mjs';

installNetworkGuard({ mode: 'error' });
