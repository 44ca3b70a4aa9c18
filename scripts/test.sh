#!/usr/bin/env bash
# The one test command: typecheck, lint, format check, unit tests, then the integration lab.
# `npm test` runs everything; `npm run test:unit` only the pure/unit part; `list` names the files.
# The lab needs root (network namespaces, port 25). Without root it is skipped with a loud
# notice, except on CI (CI=true), where a missing lab is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-all}"

# Decide first whether the lab can run, so that CI fails at once rather than after the unit tests.
lab_ok=false
if [[ "$mode" == all ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    if [[ "${CI:-}" == true ]]; then
      echo "The integration lab needs root and CI must run it: refusing to pass without it." >&2
      exit 1
    fi
    echo "NOTE: not root — the integration test files (test/lab, test/soak) will NOT run. Run 'sudo npm test' for them." >&2
  elif ! ip netns list >/dev/null 2>&1; then
    # As root, a broken `ip netns` would make every lab file skip itself: never quietly.
    if [[ "${CI:-}" == true ]]; then
      echo "The integration lab cannot run: 'ip netns' fails (iproute2 missing, or no permission to make namespaces), and CI must run it." >&2
      exit 1
    fi
    echo "NOTE: 'ip netns' fails — the integration test files (test/lab, test/soak) will NOT run." >&2
  else
    lab_ok=true
  fi
fi

# test/soak needs the lab too (namespaces, Postfix, Pebble): it runs last, with the lab files.
# test/soak/rotation.test.ts is pure (the soak's judgement of a rotation, no lab): a unit test.
pure_soak=(test/soak/rotation.test.ts)
mapfile -t unit < <(
  { find src test -name '*.test.ts' -not -path 'test/lab/*' -not -path 'test/soak/*'
    printf '%s\n' "${pure_soak[@]}"; } | sort
)
mapfile -t lab < <(find test/lab test/soak -name '*.test.ts' 2>/dev/null | grep -vxF -f <(printf '%s\n' "${pure_soak[@]}") | sort)
# `scripts/test.sh list`: which files each part would run, nothing run (test/test-lists.test.ts).
if [[ "$mode" == list ]]; then
  printf 'unit %s\n' "${unit[@]}"
  printf 'lab %s\n' "${lab[@]}"
  exit 0
fi

node_modules/.bin/tsc -p tsconfig.json --noEmit
node_modules/.bin/eslint .
node_modules/.bin/prettier --check . >/dev/null || { node_modules/.bin/prettier --check .; exit 1; }

files=("${unit[@]}")
if [[ "$lab_ok" == true ]]; then
  files+=("${lab[@]}")
elif [[ "$mode" == all ]]; then
  echo "NOTE: the ${#lab[@]} integration test files (test/lab) did NOT run (see above)." >&2
fi
# Lab files each bring up their own namespace; run files one at a time so they never collide.
exec node --import tsx --test --test-concurrency=1 "${files[@]}"
