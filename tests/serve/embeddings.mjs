// POST /v1/embeddings on a sentence-transformers folder (tests/fixtures/hf/bert_tiny's weights with
// tests/fixtures/sentence_transformers/bert_tiny_kjv's tokenizer and pooling), through the real
// `openai` client: its default base64 encoding and "float" give the vectors `ttt embed` prints
// alone, usage counts the tokens `ttt tokenize --special` gives (truncated to the model's limit),
// concurrent clients sharing encoder passes get the vectors they get alone, and every refused
// request names its parameter. A causal-LM server answers /v1/embeddings with a 400.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ttt, startServer, metrics, rawRequest, post, run, rejects } from './lib.mjs';

const SOURCE = process.env.TTT_SOURCE_DIR;
if (!SOURCE) throw new Error('set TTT_SOURCE_DIR');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttt-serve-embed-'));
const MODEL = 'minilm-kjv';
const dir = path.join(tmp, MODEL);
fs.cpSync(path.join(SOURCE, 'tests/fixtures/sentence_transformers/bert_tiny_kjv'), dir,
  { recursive: true });
for (const f of ['config.json', 'model.safetensors'])
  fs.copyFileSync(path.join(SOURCE, 'tests/fixtures/hf/bert_tiny', f), path.join(dir, f));

const TEXTS = [
  'In the beginning God created the heaven and the earth.',
  'Jesus wept.',
  'And God said, Let there be light: and there was light.',
  'The LORD is my shepherd; I shall not want.',
  'For God so loved the world, that he gave his only begotten Son, that whosoever believeth in ' +
    'him should not perish, but have everlasting life.', // longer than the model's 16 tokens
  'Blessed are the meek: for they shall inherit the earth.',
  'Love worketh no ill to his neighbour.',
  'Remember now thy Creator in the days of thy youth.',
];
const DIM = 64;
const MAX_TOKENS = 16;
const TOLERANCE = 1e-6; // padding to a batch's longest input changes the sums' order only

// `ttt embed` of one text alone: the oracle (itself checked against HF in test_embed.sh).
function embedAlone(text) {
  const out = execFileSync(ttt, ['embed', '--model', dir, '--threads', '1', '--json', text],
    { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  return JSON.parse(out)[0];
}
function tokenCount(text) {
  const ids = JSON.parse(execFileSync(ttt, ['tokenize', '--model', dir, '--special', text]));
  return Math.min(ids.length, MAX_TOKENS);
}
const alone = TEXTS.map(embedAlone);
const tokens = TEXTS.map(tokenCount);
const sum = (a) => a.reduce((x, y) => x + y, 0);

function assertClose(got, want, what) {
  assert.equal(got.length, want.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  assert.ok(worst <= TOLERANCE, `${what}: max abs difference ${worst}`);
}

const srv = await startServer(['--max-batch', '4'], dir);
const { client, base, port } = srv;

await run([
  ['the client\'s default (base64) gives the vectors of ttt embed alone', async () => {
    const res = await client.embeddings.create({ model: MODEL, input: TEXTS });
    assert.equal(res.object, 'list');
    assert.equal(res.model, MODEL);
    assert.equal(res.data.length, TEXTS.length);
    res.data.forEach((d, i) => {
      assert.equal(d.object, 'embedding');
      assert.equal(d.index, i);
      assertClose(d.embedding, alone[i], `input ${i}`);
    });
    assert.deepEqual(res.usage, { prompt_tokens: sum(tokens), total_tokens: sum(tokens) });
    assert.ok(tokens[4] === MAX_TOKENS, 'the long text is truncated to the model\'s limit');
  }],
  ['encoding_format base64 on the wire: little-endian float32', async () => {
    const raw = await rawRequest(port, [post('/v1/embeddings',
      JSON.stringify({ input: TEXTS[2], encoding_format: 'base64' }))]);
    assert.equal(raw.status, 200);
    const b64 = JSON.parse(raw.body.slice(raw.body.indexOf('{'))).data[0].embedding;
    assert.equal(typeof b64, 'string');
    const bytes = Buffer.from(b64, 'base64');
    assert.equal(bytes.length, DIM * 4);
    const v = Array.from({ length: DIM }, (_, i) => bytes.readFloatLE(i * 4));
    assertClose(v, alone[2], 'base64');
  }],
  ['encoding_format float: numbers, unit norm, one string input', async () => {
    const res = await client.embeddings.create({ model: MODEL, input: TEXTS[1],
      encoding_format: 'float', dimensions: DIM });
    assert.equal(res.data.length, 1);
    const v = res.data[0].embedding;
    assert.ok(Array.isArray(v) && v.every((x) => typeof x === 'number'));
    assertClose(v, alone[1], 'float');
    assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5, 'Normalize module: unit norm');
    assert.equal(res.usage.prompt_tokens, tokens[1]);
  }],
  ['8 concurrent clients get the vectors they get alone', async () => {
    const before = await metrics(base);
    const all = await Promise.all(TEXTS.map((t) =>
      client.embeddings.create({ model: MODEL, input: [t], encoding_format: 'float' })));
    all.forEach((res, i) => assertClose(res.data[0].embedding, alone[i], `client ${i}`));
    const after = await metrics(base);
    assert.equal(after.ttt_prompt_tokens_total - before.ttt_prompt_tokens_total, sum(tokens));
    // + 1: the first GET /metrics is counted once it has been answered
    assert.equal(after['ttt_http_requests_total{status="200"}'] -
      before['ttt_http_requests_total{status="200"}'], TEXTS.length + 1);
  }],
  ['refused requests name their parameter', async () => {
    const e = (body) => client.embeddings.create({ model: MODEL, encoding_format: 'float', ...body });
    await rejects(e({ input: '' }), 400, 'input');
    await rejects(e({ input: [] }), 400, 'input');
    await rejects(e({ input: [1, 2, 3] }), 400, 'input');
    await rejects(e({ input: [[1, 2]] }), 400, 'input');
    await rejects(e({ input: ['ok', 7] }), 400, 'input');
    await rejects(e({ input: new Array(2049).fill('a') }), 400, 'input');
    await rejects(e({ input: 'x', dimensions: 32 }), 400, 'dimensions');
    await rejects(e({ input: 'x', encoding_format: 'hex' }), 400, 'encoding_format');
    await rejects(e({ input: 'x', model: 'other' }), 404, 'model', 'model_not_found');
    await rejects(client.completions.create({ model: MODEL, prompt: 'x' }), 400, 'model',
      'model_not_supported');
    const raw = await rawRequest(port, [post('/v1/embeddings', '{"input": ["a",')]);
    assert.equal(raw.status, 400);
    assert.match(raw.body, /not valid JSON/);
    const get = await rawRequest(port, [`GET /v1/embeddings HTTP/1.1\r\nHost: x\r\n` +
      'Connection: close\r\n\r\n']);
    assert.equal(get.status, 405);
  }],
  ['the server still answers after the errors', async () => {
    const res = await client.embeddings.create({ model: MODEL, input: TEXTS[0],
      encoding_format: 'float' });
    assertClose(res.data[0].embedding, alone[0], 'after errors');
  }],
  ['a causal-LM server refuses /v1/embeddings', async () => {
    const lm = await startServer([]);
    try {
      await rejects(lm.client.embeddings.create({ model: 'kjv-llama', input: 'x' }), 400, 'model',
        'model_not_supported');
    } finally {
      await lm.stop();
    }
  }],
], async () => {
  await srv.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});
