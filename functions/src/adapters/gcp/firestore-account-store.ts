/**
 * AccountStore on Cloud Firestore, with the contract and error codes of the SQLite adapter.
 *
 *   users/{id}                    UserRecord (email lower-cased; looked up by the automatic index on email)
 *   users/{id}/teams/{team}       { team, role } mirror of members, written in the same batch
 *   teams/{team}                  TeamRecord (createTeam; older teams may have members only)
 *   teams/{team}/members/{userId} { team, userId, role } (firestore.rules reads it: isMember)
 *   teams/{team}/state/members    { n }: bumped by every membership change (see setMembership)
 */
import { FieldValue, type Firestore, type Timestamp } from '@google-cloud/firestore';
import { StudioError } from '../../contract/errors.ts';
import type { Role, TeamRecord } from '../../contract/model.ts';
import type { TeamMember, UserRecord } from '../../core/model.ts';
import type { AccountStore } from '../../core/ports.ts';
import { guard, isAlreadyExists, need, optimistic, teamDoc, validId } from './firestore-kit.ts';

const toUser = (u: UserRecord): UserRecord => ({
  id: u.id,
  name: u.name,
  createdAt: u.createdAt,
  email: u.email ?? null,
});

/** Like the SQLite upsert: a known user keeps its createdAt and only changes its name (last writer wins). */
async function putUser(db: Firestore, user: UserRecord): Promise<void> {
  need(user.id);
  const ref = db.collection('users').doc(user.id);
  const email = user.email ? user.email.toLowerCase() : null;
  if (email) {
    const other = await db.collection('users').where('email', '==', email).limit(2).get();
    if (other.docs.some((d) => d.id !== user.id)) {
      throw new StudioError('E_CONFLICT', `another user already has the email ${email}`);
    }
  }
  try {
    await ref.create({ id: user.id, name: user.name, createdAt: user.createdAt, email });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    await ref.update(email ? { name: user.name, email } : { name: user.name });
  }
}

/**
 * Every membership change also bumps state/members under a precondition, so a change made between our reads and our
 * write fails the batch and we re-read: the last-admin check and the write are one step.
 */
async function setMembership(
  db: Firestore,
  t: string,
  userId: string,
  role: Role | null,
  keepAdmin: boolean,
): Promise<void> {
  need(t, userId);
  const team = teamDoc(db, t);
  const members = team.collection('members');
  const member = members.doc(userId);
  const mirror = db.collection('users').doc(userId).collection('teams').doc(t);
  const rev = team.collection('state').doc('members');
  await optimistic('setMembership', async () => {
    const revSnap = await rev.get();
    if (keepAdmin && role !== 'admin') {
      const admins = (await members.where('role', '==', 'admin').get()).docs.map((d) => d.id);
      if (admins.includes(userId) && admins.length <= 1) {
        throw new StudioError('E_CONFLICT', `${userId} is the last admin of team ${t}; make someone else admin first`);
      }
    }
    const batch = db.batch();
    if (role === null) batch.delete(member).delete(mirror);
    else batch.set(member, { team: t, userId, role }).set(mirror, { team: t, role });
    if (revSnap.exists) {
      batch.update(rev, { n: FieldValue.increment(1) }, { lastUpdateTime: revSnap.updateTime as Timestamp });
    } else batch.create(rev, { n: 1 });
    await batch.commit();
  });
}

/** AccountStore on Firestore. Import lazily: it loads the Firestore SDK. */
export function createFirestoreAccountStore(db: Firestore): AccountStore {
  const users = () => db.collection('users');
  const team = (t: string) => teamDoc(db, t);
  return {
    putUser: (user) => guard('putUser', () => putUser(db, user)),
    getUser: (id) =>
      guard('getUser', async () => {
        if (!validId(id)) return null;
        const snap = await users().doc(id).get();
        return snap.exists ? toUser(snap.data() as UserRecord) : null;
      }),
    listUsers: () =>
      guard('listUsers', async () => {
        const snap = await users().orderBy('id').get();
        return snap.docs.map((d) => toUser(d.data() as UserRecord));
      }),
    findUserByEmail: (email) =>
      guard('findUserByEmail', async () => {
        const snap = await users().where('email', '==', email.toLowerCase()).limit(1).get();
        const u = snap.docs[0]?.data() as UserRecord | undefined;
        return u ? toUser(u) : null;
      }),
    createTeam: (rec: TeamRecord) =>
      guard('createTeam', async () => {
        need(rec.id);
        try {
          await team(rec.id).create({ id: rec.id, createdBy: rec.createdBy, createdAt: rec.createdAt });
        } catch (cause) {
          if (!isAlreadyExists(cause)) throw cause;
          throw new StudioError('E_CONFLICT', `team ${rec.id} already exists`, { cause });
        }
      }),
    getTeam: (id) =>
      guard('getTeam', async () => {
        if (!validId(id)) return null;
        const snap = await team(id).get();
        const d = snap.exists ? (snap.data() as TeamRecord) : null;
        return d ? { id: d.id, createdBy: d.createdBy, createdAt: d.createdAt } : null;
      }),
    setMembership: (t, userId, role, opts) =>
      guard('setMembership', () => setMembership(db, t, userId, role, opts?.keepAdmin === true)),
    getMemberships: (userId) =>
      guard('getMemberships', async () => {
        const out: Record<string, Role> = {};
        if (!validId(userId)) return out;
        const snap = await users().doc(userId).collection('teams').get();
        for (const d of snap.docs) out[d.id] = d.get('role') as Role;
        return out;
      }),
    listTeamMembers: (t) =>
      guard('listTeamMembers', async () => {
        if (!validId(t)) return [];
        const snap = await team(t).collection('members').get(); // document-id order = by user id
        return snap.docs.map((d): TeamMember => ({ userId: d.id, role: d.get('role') as Role }));
      }),
  };
}
