/** System users the Debian packages create (postgres, news, prosody, ...). */
import { spawnSync } from 'node:child_process';

export function userIds(name: string): { uid: number; gid: number } {
  const u = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (u.status !== 0 || g.status !== 0)
    throw new Error(`No system user ${name}: is its Debian package installed (scripts/setup.sh)?`);
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}
