// A bounded soak on loopback: 240 requests, 16 at a time, mixed lengths, streamed or not, some
// with stop strings, some invalid (400 expected), some cancelled by the client mid-way. Checks:
// no 5xx, every answer well-formed, the server idle and its blocks free at the end, and RSS stable
// after warm-up (no leak per request).
import assert from 'node:assert/strict';
import { startServer, metrics, waitMetrics, rssKb, sleep, run } from './lib.mjs';

const TOTAL = 240, CONCURRENCY = 16, WARMUP = 80;
const PROMPTS = ['In the beginning', 'And God said', 'The LORD is my', 'Blessed', 'Then Jesus',
  'And it came to pass in those days that', 'Now'];
const srv = await startServer(['--max-batch', '8', '--max-queue', '64']);
const { base } = srv;

// A small deterministic generator, so a failure can be replayed.
let state = 12345;
const rand = (n) => {
  state = (state * 1103515245 + 12345) % 2147483648;
  return Math.floor((state / 2147483648) * n);
};

function plan(i) {
  const kind = rand(10); // 0-5 plain, 6-7 cancelled, 8 invalid, 9 stop strings
  const body = { model: 'kjv-llama', prompt: PROMPTS[rand(PROMPTS.length)],
    max_tokens: 1 + rand(96), temperature: rand(2) ? 0 : 0.9, seed: i, stream: rand(2) === 1 };
  if (kind === 9) body.stop = [' the', ','];
  if (kind === 8) body.temperature = -1;
  if (kind >= 6 && kind <= 7) body.ignore_eos = true, body.max_tokens = 200 + rand(200);
  return { body, cancel: kind >= 6 && kind <= 7, invalid: kind === 8 };
}

// Sends one planned request; returns a short description of a problem, or null.
async function one(i) {
  const { body, cancel, invalid } = plan(i);
  const abort = new AbortController();
  if (cancel) setTimeout(() => abort.abort(), 5 + rand(60));
  let res;
  try {
    res = await fetch(base + '/v1/completions', { method: 'POST', signal: abort.signal,
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status >= 500) return `request ${i}: status ${res.status}`;
    if (invalid) {
      const json = await res.json();
      return res.status === 400 && json.error.param === 'temperature' ? null :
        `request ${i}: invalid request got ${res.status}`;
    }
    if (res.status !== 200) return `request ${i}: status ${res.status} ${await res.text()}`;
    const text = await res.text();
    return body.stream ? checkStream(i, text, body) : checkFinal(i, JSON.parse(text), body);
  } catch (e) {
    if (cancel && e.name === 'AbortError') return null;
    return `request ${i}: ${e}`;
  }
}

function checkUsage(i, usage, body) {
  if (!usage || usage.total_tokens !== usage.prompt_tokens + usage.completion_tokens ||
      usage.completion_tokens < 1 || usage.completion_tokens > body.max_tokens)
    return `request ${i}: bad usage ${JSON.stringify(usage)}`;
  return null;
}

function checkFinal(i, json, body) {
  const c = json.choices?.[0];
  if (typeof c?.text !== 'string' || !['stop', 'length'].includes(c.finish_reason))
    return `request ${i}: malformed ${JSON.stringify(json)}`;
  return checkUsage(i, json.usage, body);
}

function checkStream(i, text, body) {
  const events = text.split('\n\n').filter((e) => e.length);
  if (events.at(-1) !== 'data: [DONE]') return `request ${i}: no [DONE]`;
  const chunks = events.slice(0, -1).map((e) => {
    if (!e.startsWith('data: ')) throw new Error(`request ${i}: bad event ${e}`);
    return JSON.parse(e.slice(6));
  });
  const last = chunks.at(-1);
  if (!chunks.slice(0, -1).every((c) => c.choices[0].finish_reason === null))
    return `request ${i}: finish_reason before the end`;
  return checkFinal(i, { choices: last.choices, usage: last.usage }, body);
}

const tests = [
  [`${TOTAL} mixed requests, ${CONCURRENCY} at a time`, async () => {
    const problems = [];
    let next = 0, rssWarm = 0;
    const worker = async () => {
      while (next < TOTAL) {
        const i = next++;
        if (i === WARMUP) rssWarm = rssKb(srv.proc.pid);
        const p = await one(i);
        if (p) problems.push(p);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    assert.deepEqual(problems, []);
    const m = await waitMetrics(base, (x) => x['ttt_running_requests'] === 0 &&
      x['ttt_queue_depth'] === 0);
    assert.equal(m['ttt_running_requests'], 0);
    assert.equal(m['ttt_queue_depth'], 0);
    assert.equal(m['ttt_kv_blocks_used'], 0);
    for (const key of Object.keys(m))
      assert.ok(!/status="5/.test(key), `5xx responses: ${key}`);
    assert.ok(m['ttt_requests_cancelled_total'] > 10, 'too few cancellations exercised');
    await sleep(100);
    const rssEnd = rssKb(srv.proc.pid);
    console.log(`  RSS after warm-up ${rssWarm} kB, at the end ${rssEnd} kB`);
    assert.ok(rssEnd - rssWarm < 4096, `RSS grew by ${rssEnd - rssWarm} kB after warm-up`);
  }],
];
await run(tests, () => srv.stop());
