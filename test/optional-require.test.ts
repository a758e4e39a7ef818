import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as Yaml from 'yaml';
import { requireOptional } from '../src/core/optional-require.js';

test('optional packages load on first use; a missing one is APIMETER_ERR_MISSING_DEPENDENCY with the install line', () => {
  const yaml = requireOptional<typeof Yaml>('yaml', 'an alert rules file');
  assert.deepEqual(yaml.parse('a: [1, 2]'), { a: [1, 2] });
  assert.equal(requireOptional('yaml', 'again'), yaml, 'loaded once');
  assert.throws(
    () => requireOptional('apimeter-no-such-package', 'a test feature'),
    (error: Error & { code?: string }) =>
      error.code === 'APIMETER_ERR_MISSING_DEPENDENCY' &&
      /a test feature needs apimeter-no-such-package\. Install it: npm install apimeter-no-such-package/.test(
        error.message,
      ),
  );
});
