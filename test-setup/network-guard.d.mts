export declare const NETWORK_GUARD_CODE: 'ERR_STUDIO_NETWORK_GUARD';
/** True for loopback addresses and `localhost`; an absent host means localhost to Node. */
export declare function isLoopbackHost(host: unknown): boolean;
/** The host a `Socket#connect` call targets, or null for a unix socket / named pipe. */
export declare function connectTarget(args: unknown[]): { host: unknown; port: unknown } | null;
/** Installs the guard once per process; a second call only changes the mode. */
export declare function installNetworkGuard(options?: { mode?: 'throw' | 'error' }): void;
