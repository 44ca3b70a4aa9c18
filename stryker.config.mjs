// Mutation testing of the security-critical code (DESIGN.md: StrykerJS + its TAP runner over
// node's test runner, through tsx). Not run on CI: two cores make a full run take long.
// `npm run mutate` runs every target (scripts/mutate.mjs); `npm run mutate -- tsig` one.
// Incremental: results are kept between runs, so only changed code and tests are re-tested.

/**
 * What is mutated, by name: `DK_MUTATE=tsig npx stryker run` runs one target with its own
 * incremental file (scripts/mutate.mjs runs them all and prints the summary).
 */
export const targets = {
  // core/dane, one target per file, and verify.ts in line ranges: on the shared two-core machine
  // one mutant of verify.ts costs several seconds (verify.test.ts makes its PKI with openssl),
  // and each target keeps its own results, so a run cut short loses only its own part.
  // The OpenSSL cross-checks (openssl.test.ts, names-openssl.test.ts) start a TLS server and
  // s_client per case: reference tests, too slow to repeat for every mutant.
  'dane-names': {
    mutate: ['src/core/dane/names.ts'],
    tests: [
      'src/core/dane/names-mutants.test.ts',
      'src/core/dane/names.test.ts',
      'src/core/dane/verify.test.ts',
    ],
  },
  'dane-identity': {
    mutate: ['src/core/dane/identity.ts'],
    tests: [
      'src/core/dane/names-mutants.test.ts',
      'src/core/dane/names.test.ts',
      'src/core/dane/verify.test.ts',
    ],
  },
  ...Object.fromEntries(
    [
      ['a', '1-297'], // the path context: issuer links, dates, CA flags, names, whyNoPath
      ['b', '298-476'], // DANE-EE(3) and DANE-TA(2)
      ['c', '477-610'], // PKIX-TA(0)/PKIX-EE(1), usability, the verdict
    ].map(([part, lines]) => [
      `dane-verify-${part}`,
      {
        mutate: [`src/core/dane/verify.ts:${lines}`],
        tests: [
          'src/core/dane/verify-mutants3.test.ts',
          'src/core/dane/verify-mutants2.test.ts',
          'src/core/dane/verify-mutants.test.ts',
          'src/core/dane/names-mutants.test.ts',
          'src/core/dane/verify.test.ts',
          'src/core/dane/rules.test.ts',
        ],
      },
    ]),
  ),
  check: {
    mutate: ['src/check/check.ts', 'src/check/report.ts'],
    tests: [
      'src/check/check.test.ts',
      'src/check/rules.test.ts',
      'src/check/check-mutants.test.ts',
    ],
  },
  // check --file's shared judgement: a wrong memo key would hand one domain another's verdict
  'check-memo': {
    mutate: ['src/check/verify-memo.ts'],
    tests: [
      'src/check/verify-memo-property.test.ts',
      'src/check/verify-memo.test.ts',
      'src/check/bulk.test.ts',
    ],
  },
  'tlsa-set': {
    mutate: ['src/publish/tlsa-set.ts'],
    tests: ['src/publish/tlsa-set.test.ts', 'src/publish/tlsa-set-mutants.test.ts'],
  },
  tsig: {
    mutate: ['src/publish/rfc2136/tsig.ts'],
    tests: [
      'src/publish/rfc2136/tsig-mutants.test.ts',
      'src/publish/rfc2136/tsig.test.ts',
      'src/publish/rfc2136/tsig-fuzz.test.ts',
      'src/publish/rfc2136/publisher.test.ts',
      'src/publish/rfc2136/axfr.test.ts',
    ],
  },
};
const target = process.env.DK_MUTATE ?? 'tsig';
if (!(target in targets))
  throw new Error(`DK_MUTATE=${target}: one of ${Object.keys(targets).join(', ')}`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  testRunner: 'tap',
  plugins: ['@stryker-mutator/tap-runner'],
  tap: {
    testFiles: targets[target].tests,
    nodeArgs: ['--test-reporter=tap', '--import', 'tsx', '-r', '{{hookFile}}', '{{testFile}}'],
    forceBail: true,
  },
  mutate: targets[target].mutate,
  coverageAnalysis: 'perTest',
  incremental: true,
  // Outside the repository's tracked tree: node_modules/ is ignored by git, eslint and prettier.
  incrementalFile: `node_modules/.cache/stryker/${target}.incremental.json`,
  tempDirName: 'node_modules/.cache/stryker/tmp',
  cleanTempDir: 'always',
  // Shared two-core machine (other engineers' tests run too): one test process at a time.
  concurrency: 1,
  // A mutant whose test files run past this (plus 1.5 times the dry run) is a Timeout, counted as
  // detected. Those checked by hand were real hangs: the test file never finished with the
  // mutant in (docs/mutation.md); the summary lists every timeout for review.
  timeoutMS: 20000,
  reporters: ['clear-text', 'progress-append-only', 'json'],
  jsonReporter: { fileName: `node_modules/.cache/stryker/${target}.mutation.json` },
  clearTextReporter: {
    allowColor: false,
    logTests: false,
    maxTestsToLog: 0,
    reportScoreTable: true,
    reportMutants: true,
  },
  thresholds: { high: 90, low: 80, break: null },
};
