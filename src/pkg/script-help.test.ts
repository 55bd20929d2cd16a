import assert from 'node:assert/strict';
import { test } from 'node:test';
import { leadingComment } from './script-help.js';

test('leadingComment: a /** */ block or a run of // lines, without the comment marks', () => {
  assert.equal(
    leadingComment('/**\n * `npm run x -- --n 3`: does x.\n *   --n N  how many\n */\nimport a from "a";\n'),
    '`npm run x -- --n 3`: does x.\n  --n N  how many',
  );
  assert.equal(
    leadingComment('#!/usr/bin/env node\n// Does y.\n// Flags: --z\nimport b;\n// not this\n'),
    'Does y.\nFlags: --z',
  );
  assert.equal(leadingComment('/** One line. */\ncode();\n'), 'One line.');
  assert.equal(leadingComment('code();\n'), '');
});
