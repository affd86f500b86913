// `ttt serve` through the real `openai` client and raw HTTP: completions (streamed or not), usage,
// stop strings, the chat endpoint's 400 without a template, parameter and protocol errors, body
// limits, slow and stalled clients, KV-block admission, the bounded queue (429) and cancellation
// when a client disconnects (its slot and blocks are released, visible in /metrics).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  startServer, metrics, waitMetrics, rawRequest, post, generateAlone, sleep, run, rejects,
} from './lib.mjs';

const MODEL = 'kjv-llama';
const PROMPT = 'In the beginning';
const MAX_BODY = 65536;
// 31 KV blocks: one less than a full context (512 positions) needs.
// Blocks of the paged KV cache hold 16 positions of one layer; kjv-llama has 6 layers, so a
// sequence of n positions takes 6·ceil(n / 16) blocks.
const LAYERS = 6;
const KV_BLOCKS = 31 * LAYERS;
const srv = await startServer(['--max-body', String(MAX_BODY), '--kv-blocks', String(KV_BLOCKS)]);
const { client, base, port } = srv;
const oracle12 = generateAlone(PROMPT, 12);

// A raw response's body must be OpenAI's error JSON.
function errorBody(res) {
  const json = JSON.parse(res.body.slice(res.body.indexOf('{')));
  assert.equal(typeof json.error.message, 'string');
  assert.ok('param' in json.error && 'code' in json.error && 'type' in json.error);
  return json.error;
}

async function collect(stream) {
  let text = '', last = null, chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.choices.length) text += chunk.choices[0].text ?? chunk.choices[0].delta?.content ?? '';
    last = chunk;
  }
  return { text, last, chunks };
}

const tests = [
  ['models and health', async () => {
    const list = await client.models.list();
    assert.deepEqual(list.data.map((m) => m.id), [MODEL]);
    const model = await client.models.retrieve(MODEL);
    assert.equal(model.id, MODEL);
    assert.equal(model.chat_template, false); // kjv-llama has none (chat.mjs: a model that has one)
    assert.equal(list.data[0].chat_template, false);
    await rejects(client.models.retrieve('gpt-4'), 404, 'model', 'model_not_found');
    const health = await fetch(base + '/health');
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
  }],
  ['GET / is the chat page (compiled in); only GET', async () => {
    const page = await fetch(base + '/');
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(page.headers.get('content-security-policy'), /connect-src 'self'/);
    const source = new URL('../../apps/ttt/serve/page/index.html', import.meta.url);
    assert.equal(await page.text(), fs.readFileSync(source, 'utf8')); // byte for byte
    assert.equal((await fetch(base + '/', { method: 'POST', body: '{}' })).status, 405);
  }],
  ['completion: greedy text equals ttt generate, usage counts', async () => {
    assert.ok(oracle12.length > 0);
    const r = await client.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 12,
      temperature: 0 });
    assert.equal(r.object, 'text_completion');
    assert.equal(r.model, MODEL);
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0].text, oracle12);
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.deepEqual(r.usage, { prompt_tokens: 4, completion_tokens: 12, total_tokens: 16 });
  }],
  ['completion: a prompt of token ids', async () => {
    const r = await client.completions.create({ model: MODEL, prompt: [[...TOKEN_IDS]],
      max_tokens: 12, temperature: 0 });
    assert.equal(r.choices[0].text, oracle12);
    assert.equal(r.usage.prompt_tokens, TOKEN_IDS.length);
  }],
  ['completion: streamed chunks add up to the same text, usage in the final chunk', async () => {
    const { text, last, chunks } = await collect(await client.completions.create({
      model: MODEL, prompt: PROMPT, max_tokens: 12, temperature: 0, stream: true }));
    assert.equal(text, oracle12);
    assert.ok(chunks >= 2);
    assert.equal(last.choices[0].finish_reason, 'length');
    assert.deepEqual(last.usage, { prompt_tokens: 4, completion_tokens: 12, total_tokens: 16 });
    const withUsage = await collect(await client.completions.create({ model: MODEL, prompt: PROMPT,
      max_tokens: 5, temperature: 0, stream: true, stream_options: { include_usage: true } }));
    assert.deepEqual(withUsage.last.choices, []);
    assert.equal(withUsage.last.usage.completion_tokens, 5);
  }],
  ['stop strings cut the text (one token or across tokens), streamed or not', async () => {
    // Stops inside the oracle text: one at a token boundary, one spanning two tokens.
    for (const stop of [' the', 'e ye', ['zzz', 'year']]) {
      const first = Math.min(...[stop].flat().map((s) => oracle12.indexOf(s)).filter((i) => i >= 0));
      const want = oracle12.slice(0, first);
      const r = await client.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 12,
        temperature: 0, stop });
      assert.equal(r.choices[0].text, want, `stop ${JSON.stringify(stop)}`);
      assert.equal(r.choices[0].finish_reason, 'stop');
      assert.ok(r.usage.completion_tokens < 12);
      const s = await collect(await client.completions.create({ model: MODEL, prompt: PROMPT,
        max_tokens: 12, temperature: 0, stop, stream: true }));
      assert.equal(s.text, want, `streamed stop ${JSON.stringify(stop)}`);
      assert.equal(s.last.choices[0].finish_reason, 'stop');
      assert.equal(s.last.usage.completion_tokens, r.usage.completion_tokens);
    }
  }],
  ['seeded sampling is reproducible', async () => {
    const ask = () => client.completions.create({ model: MODEL, prompt: 'And', max_tokens: 16,
      temperature: 1, top_k: 50, top_p: 0.9, min_p: 0.01, seed: 7, ignore_eos: true });
    const [a, b] = [await ask(), await ask()];
    assert.equal(a.choices[0].text, b.choices[0].text);
    assert.equal(a.usage.completion_tokens, 16);
  }],
  ['presence and frequency penalties change greedy text (repeats penalized or favoured)', async () => {
    const ask = (extra) => client.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 12,
      temperature: 0, ...extra });
    const plain = await ask({ presence_penalty: 0, frequency_penalty: 0 });
    assert.equal(plain.choices[0].text, oracle12);
    assert.ok((oracle12.match(/ the /g) || []).length >= 2, 'the oracle repeats " the "');
    for (const extra of [{ frequency_penalty: 2 }, { presence_penalty: -2 }]) {
      const a = await ask(extra), b = await ask(extra);
      assert.notEqual(a.choices[0].text, oracle12, JSON.stringify(extra));
      assert.equal(a.choices[0].text, b.choices[0].text);
    }
  }],
  ['chat without a template: 400 naming messages (streamed or not)', async () => {
    const messages = [{ role: 'user', content: 'Hello' }];
    await rejects(client.chat.completions.create({ model: MODEL, messages }), 400, 'messages',
      'no_chat_template');
    await rejects(client.chat.completions.create({ model: MODEL, messages, stream: true }), 400,
      'messages', 'no_chat_template');
    await rejects(client.chat.completions.create({ model: MODEL, messages: [] }), 400, 'messages');
    await rejects(client.chat.completions.create({ model: MODEL, messages: [{ content: 'x' }] }),
      400, 'messages');
  }],
  ['parameter errors name the parameter', async () => {
    const bad = [
      [{ n: 2 }, 'n'], [{ temperature: 'hot' }, 'temperature'], [{ temperature: 3 }, 'temperature'],
      [{ max_tokens: 0 }, 'max_tokens'], [{ max_tokens: 1.5 }, 'max_tokens'],
      [{ top_p: 1.5 }, 'top_p'], [{ top_k: 'x' }, 'top_k'], [{ min_p: -1 }, 'min_p'],
      [{ seed: 'x' }, 'seed'], [{ stop: 5 }, 'stop'], [{ stop: [''] }, 'stop'],
      [{ stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'], [{ stream: 'yes' }, 'stream'],
      [{ presence_penalty: 2.5 }, 'presence_penalty'], [{ presence_penalty: '1' }, 'presence_penalty'],
      [{ frequency_penalty: 3 }, 'frequency_penalty'], [{ logprobs: 2 }, 'logprobs'],
      [{ echo: true }, 'echo'], [{ best_of: 2 }, 'best_of'], [{ suffix: 'x' }, 'suffix'],
      [{ logit_bias: { 5: 1 } }, 'logit_bias'], [{ prompt: {} }, 'prompt'],
      [{ prompt: ['a', 'b'] }, 'prompt'], [{ prompt: [1, 99999] }, 'prompt'],
      [{ prompt: undefined }, 'prompt'], [{ model: 7 }, 'model'],
    ];
    for (const [fields, param] of bad) {
      await rejects(client.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 4,
        ...fields }), 400, param);
    }
    await rejects(client.completions.create({ model: 'gpt-4', prompt: PROMPT }), 404, 'model',
      'model_not_found');
    await rejects(client.completions.create({ model: MODEL, prompt: 'the word '.repeat(400) }),
      400, 'prompt', 'context_length_exceeded');
  }],
  ['protocol errors: bad JSON, not an object, unknown route, wrong method', async () => {
    for (const body of ['{"prompt":', 'nonsense', '{"prompt":"a"} trailing', '\u0000']) {
      const res = await rawRequest(port, [post('/v1/completions', body)]);
      assert.equal(res.status, 400, body);
      assert.match(errorBody(res).message, /not valid JSON/);
    }
    const arr = await rawRequest(port, [post('/v1/completions', '[1,2]')]);
    assert.equal(arr.status, 400);
    assert.match(errorBody(arr).message, /JSON object/);
    const missing = await fetch(base + '/v1/nothing');
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, 'unknown_url');
    const method = await fetch(base + '/v1/completions');
    assert.equal(method.status, 405);
    assert.equal(typeof (await method.json()).error.message, 'string');
  }],
  ['bodies above --max-body get 413 (declared length or chunked)', async () => {
    const huge = JSON.stringify({ prompt: 'x'.repeat(MAX_BODY + 10) });
    const declared = await rawRequest(port, [post('/v1/completions', huge)]);
    assert.equal(declared.status, 413);
    errorBody(declared);
    const chunk = Buffer.from(huge);
    const chunked = await rawRequest(port, [
      'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
      chunk.length.toString(16) + '\r\n', chunk, '\r\n0\r\n\r\n']);
    assert.equal(chunked.status, 413);
    errorBody(chunked);
  }],
  ['a slow client is served; a stalled one is dropped while others are served', async () => {
    const body = JSON.stringify({ model: MODEL, prompt: PROMPT, max_tokens: 12, temperature: 0 });
    const req = post('/v1/completions', body);
    const pieces = [];
    for (let i = 0; i < req.length; i += 24) pieces.push(req.slice(i, i + 24));
    const slow = await rawRequest(port, pieces, { delayMs: 20 });
    assert.equal(slow.status, 200);
    assert.equal(JSON.parse(slow.body).choices[0].text, oracle12);
    // Headers that never end: the server closes the connection after --timeout (a server of its
    // own: a short idle timeout races with the keep-alive reuse of the client library).
    const quick = await startServer(['--timeout', '2']);
    try {
      const stalled = rawRequest(quick.port, ['POST /v1/completions HTTP/1.1\r\nHost: x\r\n'],
        { timeoutMs: 8000 });
      const other = await quick.client.completions.create({ model: MODEL, prompt: PROMPT,
        max_tokens: 12, temperature: 0 });
      assert.equal(other.choices[0].text, oracle12);
      const t0 = Date.now();
      const res = await stalled;
      assert.ok(res.closed, 'the stalled connection is still open after 8 s');
      assert.ok(Date.now() - t0 < 7000);
    } finally {
      await quick.stop();
    }
  }],
  ['a client that disconnects mid-stream releases its slot and blocks', async () => {
    const before = await metrics(base);
    const stream = await client.completions.create({ model: MODEL, prompt: PROMPT,
      max_tokens: 400, temperature: 0, ignore_eos: true, stream: true });
    let chunks = 0, during = null;
    for await (const chunk of stream) {
      assert.equal(typeof chunk.choices[0].text, 'string');
      if (++chunks < 3) continue;
      during = await metrics(base);
      break;
    }
    assert.equal(during['ttt_running_requests'], 1);
    // reserved for admission: 6·ceil((4 + 400 - 1) / 16); held: the tokens generated so far
    assert.equal(during['ttt_kv_blocks_reserved'], 26 * LAYERS);
    assert.ok(during['ttt_kv_blocks_used'] >= LAYERS && during['ttt_kv_blocks_used'] % LAYERS === 0 &&
      during['ttt_kv_blocks_used'] < 26 * LAYERS, `${during['ttt_kv_blocks_used']} blocks held`);
    assert.equal(during['ttt_kv_blocks_free'], KV_BLOCKS - during['ttt_kv_blocks_used']);
    // Breaking out of the iterator aborts the HTTP request: the socket closes.
    const after = await waitMetrics(base, (m) => m['ttt_running_requests'] === 0 &&
      m['ttt_requests_cancelled_total'] === before['ttt_requests_cancelled_total'] + 1);
    assert.equal(after['ttt_running_requests'], 0);
    assert.equal(after['ttt_kv_blocks_used'], 0);
    assert.equal(after['ttt_kv_blocks_reserved'], 0);
    assert.equal(after['ttt_requests_cancelled_total'], before['ttt_requests_cancelled_total'] + 1);
    assert.ok(after['ttt_generation_tokens_total'] - before['ttt_generation_tokens_total'] < 400,
      'the cancelled request ran to the end');
    // A non-streamed request whose client leaves before the answer is cancelled too.
    const body = JSON.stringify({ prompt: PROMPT, max_tokens: 400, ignore_eos: true });
    await rawRequest(port, [post('/v1/completions', body)], { timeoutMs: 100 });
    const gone = await waitMetrics(base, (m) =>
      m['ttt_requests_cancelled_total'] === before['ttt_requests_cancelled_total'] + 2 &&
      m['ttt_running_requests'] === 0);
    assert.equal(gone['ttt_requests_cancelled_total'], before['ttt_requests_cancelled_total'] + 2);
    assert.equal(gone['ttt_kv_blocks_used'], 0);
  }],
  ['metrics count statuses and tokens', async () => {
    const m = await metrics(base);
    assert.ok(m['ttt_http_requests_total{status="200"}'] >= 5);
    assert.ok(m['ttt_http_requests_total{status="400"}'] >= 20);
    assert.ok(m['ttt_http_requests_total{status="413"}'] >= 2);
    assert.ok(m['ttt_prompt_tokens_total'] >= 4 * 5);
    assert.ok(m['ttt_generation_tokens_total'] >= 12 * 4);
    assert.ok(m['ttt_time_to_first_token_seconds_count'] >= 5);
    assert.equal(m['ttt_time_to_first_token_seconds_bucket{le="+Inf"}'],
      m['ttt_time_to_first_token_seconds_count']);
    assert.ok(m['ttt_inter_token_latency_seconds_count'] >= 40);
    assert.equal(m['ttt_queue_depth'], 0);
    assert.equal(m['ttt_kv_blocks_free'], KV_BLOCKS);
  }],
  ['admission waits for KV blocks; a full queue answers 429 with Retry-After', async () => {
    // More than the pool: never admissible, a 400 (4 + 500 - 1 positions need 6·32 blocks).
    await rejects(client.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 500 }), 400,
      'max_tokens');
    // 6·33 blocks: a 4-token prompt with 500 new tokens reserves 6·32, so a second one waits
    // although the batch has room and the pool holds only the first one's tokens so far.
    const small = await startServer(['--max-batch', '2', '--kv-blocks', String(33 * LAYERS),
      '--max-queue', '1']);
    try {
      const long = { model: MODEL, prompt: PROMPT, max_tokens: 500, temperature: 0,
        ignore_eos: true, stream: true };
      const a = new AbortController(), b = new AbortController();
      const first = await small.client.completions.create(long, { signal: a.signal });
      const firstIter = first[Symbol.asyncIterator]();
      await firstIter.next();
      const second = await small.client.completions.create(long, { signal: b.signal });
      const m = await waitMetrics(small.base, (x) => x['ttt_queue_depth'] === 1);
      assert.equal(m['ttt_queue_depth'], 1, 'the second request is not waiting for blocks');
      assert.equal(m['ttt_running_requests'], 1);
      assert.equal(m['ttt_kv_blocks_reserved'], 32 * LAYERS);
      assert.ok(m['ttt_kv_blocks_used'] >= LAYERS && m['ttt_kv_blocks_used'] <= 32 * LAYERS);
      assert.equal(m['ttt_kv_blocks_free'], 33 * LAYERS - m['ttt_kv_blocks_used']);
      const third = await fetch(small.base + '/v1/completions', { method: 'POST',
        headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(long) });
      assert.equal(third.status, 429);
      assert.equal(third.headers.get('retry-after'), '1');
      assert.equal((await third.json()).error.type, 'rate_limit_error');
      // The same for a non-streamed request (answered after its connection was suspended).
      await rejects(small.client.completions.create({ ...long, stream: false }), 429);
      a.abort(); // the first leaves: the second is admitted into the freed blocks
      const m2 = await waitMetrics(small.base, (x) => x['ttt_queue_depth'] === 0 &&
        x['ttt_running_requests'] === 1);
      assert.equal(m2['ttt_queue_depth'], 0);
      assert.equal(m2['ttt_running_requests'], 1);
      b.abort();
      void second;
      const m3 = await waitMetrics(small.base, (x) => x['ttt_running_requests'] === 0);
      assert.equal(m3['ttt_kv_blocks_used'], 0);
      assert.equal(m3['ttt_kv_blocks_reserved'], 0);
    } finally {
      await small.stop();
    }
  }],
];

const TOKEN_IDS = JSON.parse((await import('node:child_process')).execFileSync(process.env.TTT,
  ['tokenize', '--special', '--model', process.env.TTT_MODEL_DIR, PROMPT]).toString());
await run(tests, () => srv.stop());
