export type Requirement = 'root' | 'strace' | 'cdb' | 'man' | 'openssl' | 'courier' | 'setpriv' | 'pty' | 'mount';
export function missing(...names: Requirement[]): string | undefined;
export function skipsForbidden(): boolean;
export function isRoot(): boolean;
export const NOBODY: number;
