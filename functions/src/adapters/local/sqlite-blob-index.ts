import { StudioError } from '../../contract/errors.ts';
import type { BlobRecord, PackLocation, StoredBlobRecord } from '../../core/model.ts';
import type { BlobIndex } from '../../core/ports.ts';
import type { SqliteDb } from './sqlite-db.ts';

type Row = Record<string, unknown>;

const packOf = (r: Row) =>
  r.pack_id != null ? { pack: { id: r.pack_id as string, offset: r.pack_offset as number } } : {};

const toStoredBlob = (r: Row): StoredBlobRecord => ({
  sha256: r.sha256 as string,
  size: r.size as number,
  verified: r.verified === 1,
  ...(r.condemned_at != null ? { condemnedAt: r.condemned_at as string } : {}),
  ...packOf(r),
  createdAt: r.created_at as string,
  deleting: r.deleting === 1,
});

function statements(db: SqliteDb['db']) {
  return {
    // A record being deleted (deleting = 1) counts as absent for findBlobs.
    getBlob: db.prepare(
      'SELECT sha256, size, verified, condemned_at, pack_id, pack_offset FROM blobs WHERE team = ? AND sha256 = ? AND deleting = 0',
    ),
    isDeleting: db.prepare('SELECT 1 FROM blobs WHERE team = ? AND sha256 = ? AND deleting = 1'),
    // A record that becomes verified takes the place its verifier gave (a pack); a verified one keeps its place.
    putBlob: db.prepare(
      `INSERT INTO blobs (team, sha256, size, verified, created_at, pack_id, pack_offset) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (team, sha256) DO UPDATE SET
         pack_id = CASE WHEN blobs.verified = 0 AND excluded.verified = 1 THEN excluded.pack_id ELSE blobs.pack_id END,
         pack_offset = CASE WHEN blobs.verified = 0 AND excluded.verified = 1 THEN excluded.pack_offset ELSE blobs.pack_offset END,
         verified = MAX(verified, excluded.verified), condemned_at = NULL`,
    ),
    listBlobs: db.prepare('SELECT * FROM blobs WHERE team = ? AND sha256 > ? ORDER BY sha256 LIMIT ?'),
    // changes = 1 when created or newly condemned; 0 when already condemned or deleting (the WHERE of DO UPDATE).
    condemnBlob: db.prepare(
      'INSERT INTO blobs (team, sha256, size, verified, created_at, condemned_at) VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (team, sha256) DO UPDATE SET condemned_at = excluded.condemned_at WHERE blobs.condemned_at IS NULL AND blobs.deleting = 0',
    ),
    absolveBlob: db.prepare(
      'UPDATE blobs SET condemned_at = NULL WHERE team = ? AND sha256 = ? AND deleting = 0 AND condemned_at IS NOT NULL',
    ),
    // One statement, so the compare and the set are one step; an already deleting record matches too (changes = 1).
    beginBlobDelete: db.prepare(
      'UPDATE blobs SET deleting = 1 WHERE team = ? AND sha256 = ? AND (deleting = 1 OR condemned_at = ?)',
    ),
    finishBlobDelete: db.prepare('DELETE FROM blobs WHERE team = ? AND sha256 = ? AND deleting = 1'),
    movePacked: db.prepare(
      'UPDATE blobs SET pack_id = ?, pack_offset = ? WHERE team = ? AND sha256 = ? AND pack_id = ? AND pack_offset = ? AND deleting = 0',
    ),
  };
}

/** BlobIndex on the local metadata database; the GC compare-and-sets are single statements or IMMEDIATE writes. */
export function createSqliteBlobIndex(sdb: SqliteDb): BlobIndex {
  const q = statements(sdb.db);

  const putBlobs = sdb.write('putBlobs', (team: string, blobs: BlobRecord[], now: string) => {
    // Checked before any write, so a refused call writes nothing (the transaction would roll it back anyway).
    const deleting = [...new Set(blobs.map((b) => b.sha256))].filter((sha) => q.isDeleting.get(team, sha));
    if (deleting.length > 0) {
      throw new StudioError('E_CONFLICT', `${deleting.length} blob(s) are being deleted by garbage collection`, {
        details: { deleting },
      });
    }
    for (const b of blobs) {
      q.putBlob.run(team, b.sha256, b.size, b.verified ? 1 : 0, now, b.pack?.id ?? null, b.pack?.offset ?? null);
    }
  });
  const condemnBlobs = sdb.write(
    'condemnBlobs',
    (team: string, blobs: { sha256: string; size: number }[], at: string, now: string): string[] =>
      blobs.filter((b) => q.condemnBlob.run(team, b.sha256, b.size, now, at).changes > 0).map((b) => b.sha256),
  );
  const absolveBlobs = sdb.write('absolveBlobs', (team: string, sha256s: string[]) => {
    for (const sha of sha256s) q.absolveBlob.run(team, sha);
  });
  const movePacked = sdb.write(
    'movePackedBlobs',
    (team: string, moves: { sha256: string; from: PackLocation; to: PackLocation }[]): string[] =>
      moves
        .filter((m) => q.movePacked.run(m.to.id, m.to.offset, team, m.sha256, m.from.id, m.from.offset).changes > 0)
        .map((m) => m.sha256),
  );
  // One read transaction so a large batch sees one snapshot and costs one lock.
  const findBlobs = sdb.db.transaction((team: string, sha256s: string[]) => {
    const found = new Map<string, BlobRecord>();
    for (const sha of sha256s) {
      const r = q.getBlob.get(team, sha) as Row | undefined;
      if (!r) continue;
      const rec: BlobRecord = { sha256: sha, size: r.size as number, verified: r.verified === 1 };
      if (r.condemned_at != null) rec.condemnedAt = r.condemned_at as string;
      if (r.pack_id != null) rec.pack = { id: r.pack_id as string, offset: r.pack_offset as number };
      found.set(sha, rec);
    }
    return found;
  });

  return {
    async findBlobs(team, sha256s) {
      return findBlobs(team, sha256s);
    },
    async putBlobs(team, blobs) {
      putBlobs(team, blobs, new Date().toISOString());
    },
    async listBlobs(team, query) {
      const limit = Math.max(Math.trunc(query.limit) || 1, 1);
      return (q.listBlobs.all(team, query.after ?? '', limit) as Row[]).map(toStoredBlob);
    },
    async condemnBlobs(team, blobs, at) {
      return condemnBlobs(team, blobs, at, new Date().toISOString());
    },
    async absolveBlobs(team, sha256s) {
      absolveBlobs(team, sha256s);
    },
    async beginBlobDelete(team, sha256, condemnedAt) {
      return q.beginBlobDelete.run(team, sha256, condemnedAt).changes > 0;
    },
    async finishBlobDelete(team, sha256) {
      q.finishBlobDelete.run(team, sha256);
    },
    async movePackedBlobs(team, moves) {
      return moves.length ? movePacked(team, moves) : [];
    },
  };
}
