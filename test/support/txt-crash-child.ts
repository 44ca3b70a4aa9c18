/**
 * A danekeeper run that dies between publishing a DNS-01 TXT value and removing it: it adds
 * the values through txt-set with the state database, says so on stdout, and then hangs until
 * the test kills it (SIGKILL: no cleanup of any kind runs). With a reload command that hangs,
 * it is killed inside the change itself, after the file was written and before the values
 * were settled in the store (the pending window).
 */
import { openTxtOwnership } from '../../src/store/txt-ownership.js';
import { addTxt } from '../../src/publish/txt-set.js';
import { createZonefilePublisher } from '../../src/publish/zonefile.js';

interface Call {
  zone: string;
  file: string;
  store: string;
  owner: string;
  values: string[];
  reload?: string[];
}

const call = JSON.parse(process.argv[2]!) as Call;
const store = openTxtOwnership(call.store);
const p = createZonefilePublisher({
  zone: call.zone,
  file: call.file,
  ...(call.reload ? { reloadCommand: call.reload } : {}),
});
const r = await addTxt(p, call.owner, call.values, { store });
process.stdout.write(`published ${JSON.stringify(r.added)}\n`);
setInterval(() => {}, 60_000);
