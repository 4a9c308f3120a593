// Vitest setup file: a forgotten endpoint must fail the test instead of leaving the machine.
import { installNetworkGuard } from './network-guard.mjs';

installNetworkGuard({ mode: 'throw' });
