// E_NO_SPACE mapping (contract/no-space.ts): which raw errors mean a full disk, and what the coded error says.
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { isStudioError, StudioError } from '../../src/contract/errors.ts';
import { isNoSpace, noSpace } from '../../src/contract/no-space.ts';

const errno = (code: string) => Object.assign(new Error(code), { code });

describe('noSpace', () => {
  it('ENOSPC and EDQUOT become E_NO_SPACE naming the path, the size needed and the free space', () => {
    for (const code of ['ENOSPC', 'EDQUOT']) {
      const e = noSpace(errno(code), tmpdir(), 12_582_912);
      expect(isStudioError(e, 'E_NO_SPACE')).toBe(true);
      const msg = (e as StudioError).message;
      expect(msg).toContain(`no space left on the device of ${tmpdir()}`);
      expect(msg).toContain('needed 12.0 MiB (12582912 bytes)');
      expect(msg).toMatch(/MiB free/);
      expect((e as StudioError).details).toMatchObject({ path: tmpdir(), needed: 12_582_912 });
    }
  });

  it('SQLITE_FULL is a full disk; an SQLite I/O error only when the device is (nearly) full', () => {
    expect(isNoSpace(errno('SQLITE_FULL'))).toBe(true);
    // The temp folder is not full: an I/O error there is something else and stays what it was.
    expect(isNoSpace(errno('SQLITE_IOERR_WRITE'), tmpdir())).toBe(false);
    expect(isNoSpace(errno('SQLITE_IOERR_WRITE'), null)).toBe(false);
    const other = errno('SQLITE_IOERR_SHMSIZE');
    expect(noSpace(other, tmpdir(), null)).toBe(other);
  });

  it('leaves every other error alone, coded or not', () => {
    const coded = new StudioError('E_CONFLICT', 'x');
    expect(noSpace(coded, tmpdir(), 1)).toBe(coded);
    const raw = errno('EACCES');
    expect(noSpace(raw, tmpdir(), 1)).toBe(raw);
    expect(noSpace('text', null, null)).toBe('text');
  });

  it('uses the error’s own path when none is given', () => {
    const e = noSpace(Object.assign(errno('ENOSPC'), { path: '/some/file' }), null, null) as StudioError;
    expect(e.message).toContain('/some/file');
  });
});
