import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { it } from 'node:test';
import { holderGone, processHolder } from './holder.js';

it('a holder is gone only when it is on this host and its process does not exist', () => {
  assert.equal(processHolder(), `${hostname()}:${process.pid}`);
  assert.equal(holderGone(processHolder()), false);
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  assert.equal(holderGone(`${hostname()}:${dead}`), true);
  assert.equal(holderGone(`another-host:${dead}`), false, 'another host: cannot tell');
  assert.equal(holderGone('no pid here'), false);
});
