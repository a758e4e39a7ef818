import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '../src/errors.js';
import { CONFIG_KEYS } from '../src/core/config.js';

const doc = (name: string) => readFileSync(new URL(`../docs/${name}`, import.meta.url), 'utf8');

test('every error code is documented in docs/errors.md', () => {
  const text = doc('errors.md');
  for (const code of Object.keys(ERROR_CODES)) assert.ok(text.includes('`' + code + '`'), `${code} missing`);
});

test('every configuration key is documented in docs/configuration.md', () => {
  const text = doc('configuration.md');
  for (const k of CONFIG_KEYS) assert.ok(text.includes(k.key), `${k.section}.${k.key} missing`);
});
