/**
 * A throw-away INN news reader (Debian's inn2: nnrpd as a standalone daemon, `nnrpd -D -f`)
 * inside a lab namespace, with its own inn.conf (found through INNCONF, so the system's
 * /etc/news is never read), readers.conf, active file and directories in a temp dir, answering
 * STARTTLS (RFC 4642 §2.2) on one address. nnrpd is INN's reader; the relaying innd is not
 * needed to greet and start TLS. It runs as news, as INN insists.
 */
import { chownSync, copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Netns } from '../netns.js';
import { daemonDir, installTls, startDaemon, type Daemon, type TlsFiles } from './common.js';
import { userIds } from './users.js';

export async function startInn(
  ns: Netns,
  o: TlsFiles & { address: string; port?: number },
): Promise<Daemon & { port: number }> {
  const port = o.port ?? 119;
  const news = userIds('news');
  const dir = daemonDir('inn');
  const tls = installTls(dir, o, [news.uid, news.gid]);
  const paths: Record<string, string> = {};
  for (const p of [
    'etc',
    'db',
    'run',
    'log',
    'spool',
    'tmp',
    'overview',
    'articles',
    'incoming',
    'archive',
    'outgoing',
    'http',
  ]) {
    paths[p] = join(dir, p);
    mkdirSync(paths[p], { mode: 0o755 });
  }
  // nnrpd opens the active file and its descriptions at connection time.
  copyFileSync('/usr/lib/news/examples/active', join(paths.db!, 'active'));
  copyFileSync('/usr/lib/news/examples/newsgroups', join(paths.db!, 'newsgroups'));
  const innconf = join(paths.etc!, 'inn.conf');
  writeFileSync(
    innconf,
    [
      'mta: "/bin/false"',
      'organization: "danekeeper lab"',
      'ovmethod: tradindexed',
      'hismethod: hisv6',
      // a domain of our own: innconfval refuses a host name without one (a container's)
      'domain: lab.test',
      'pathhost: news.lab.test',
      'pathnews: /usr/lib/news',
      `pathetc: ${paths.etc}`,
      `pathdb: ${paths.db}`,
      `pathrun: ${paths.run}`,
      `pathlog: ${paths.log}`,
      `pathspool: ${paths.spool}`,
      `pathtmp: ${paths.tmp}`,
      `pathoverview: ${paths.overview}`,
      `patharticles: ${paths.articles}`,
      `pathincoming: ${paths.incoming}`,
      `patharchive: ${paths.archive}`,
      `pathoutgoing: ${paths.outgoing}`,
      `pathhttp: ${paths.http}`,
      'runasuser: news',
      'runasgroup: news',
      // nnrpd loads tlscertfile as a chain file (leaf, then issuers).
      `tlscertfile: ${tls.chainFile}`,
      `tlskeyfile: ${tls.keyFile}`,
      '',
    ].join('\n'),
  );
  // Anyone may read (nothing is there); without an access group nnrpd greets 502.
  writeFileSync(
    join(paths.etc!, 'readers.conf'),
    'auth "lab" {\n  hosts: "*"\n  default: "<lab>"\n}\naccess "lab" {\n  users: "*"\n  newsgroups: "*"\n}\n',
  );
  // nnrpd initialises the article store before greeting ("400 ... Try later!" without one);
  // timehash keeps articles under pathspool, and none ever arrive.
  writeFileSync(
    join(paths.etc!, 'storage.conf'),
    'method timehash {\n  newsgroups: *\n  class: 0\n}\n',
  );
  for (const p of Object.values(paths)) chownRecursive(p, news);
  // nnrpd opens the overview database read-only and greets 400 without one: makehistory -O
  // creates an empty tradindexed group.index (there are no articles to index).
  const mk = spawnSync(
    'runuser',
    ['-u', 'news', '--', '/usr/lib/news/bin/makehistory', '-O', '-x'],
    { encoding: 'utf8', env: { ...process.env, INNCONF: innconf }, cwd: dir },
  );
  if (mk.status !== 0)
    throw new Error(`makehistory for the lab's nnrpd failed: ${(mk.stderr || mk.stdout).trim()}`);
  const d = await startDaemon(ns, {
    name: 'nnrpd',
    dir,
    cmd: '/usr/lib/news/bin/nnrpd',
    args: ['-D', '-f', '-n', '-b', o.address, '-p', String(port)],
    env: { INNCONF: innconf },
    logFile: join(paths.log!, 'news.notice'),
    listeners: [{ address: o.address, port }],
  });
  return Object.assign(d, { port });
}

function chownRecursive(path: string, ids: { uid: number; gid: number }): void {
  chownSync(path, ids.uid, ids.gid);
  for (const e of readdirSync(path, { withFileTypes: true }))
    if (e.isDirectory()) chownRecursive(join(path, e.name), ids);
    else chownSync(join(path, e.name), ids.uid, ids.gid);
}
