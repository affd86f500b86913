// Continuous batching keeps greedy decoding exact: 8 concurrent streams at temperature 0, and 8
// more joining a running batch at staggered times, each equal to `ttt generate` run alone.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startServer, metrics, generateAlone, sleep, run } from './lib.mjs';

const PROMPTS = ['In the beginning', 'And God said', 'The LORD is my shepherd', 'Blessed are the',
  'For God so loved', 'And it came to pass', 'Then Jesus', 'Now the serpent'];
const N = 48;
const oracle = PROMPTS.map((p) => generateAlone(p, N));
const srv = await startServer(['--max-batch', '8']);

// One stream: its text and the times of its first and last chunk.
async function stream(prompt) {
  const s = await srv.client.completions.create({ model: 'kjv-llama', prompt, max_tokens: N,
    temperature: 0, stream: true });
  let text = '', first = 0, last = 0, finish = null;
  for await (const chunk of s) {
    const c = chunk.choices[0];
    text += c.text;
    if (!first) first = performance.now();
    last = performance.now();
    finish = c.finish_reason ?? finish;
  }
  return { text, first, last, finish };
}

const tests = [
  ['8 concurrent greedy streams equal ttt generate alone', async () => {
    assert.ok(oracle.every((t) => t.length > 0));
    assert.ok(new Set(oracle).size === PROMPTS.length, 'the prompts should differ in output');
    const results = await Promise.all(PROMPTS.map((p) => stream(p)));
    results.forEach((r, i) => {
      assert.equal(r.text, oracle[i], `prompt ${JSON.stringify(PROMPTS[i])}`);
      assert.ok(r.finish === 'stop' || r.finish === 'length');
    });
    // They ran together: at some moment at least half of them were streaming (all 8, normally;
    // a loaded machine may delay some client's request).
    const together = Math.max(...results.map((r) =>
      results.filter((o) => o.first <= r.first && r.first <= o.last).length));
    assert.ok(together >= 4, `at most ${together} streams overlapped`);
  }],
  ['streams joining a running batch at step boundaries stay exact', async () => {
    const results = await Promise.all(PROMPTS.map(async (p, i) => {
      await sleep(i * 15);
      return stream(p);
    }));
    results.forEach((r, i) => assert.equal(r.text, oracle[i], `prompt ${JSON.stringify(PROMPTS[i])}`));
    const m = await metrics(srv.base);
    assert.equal(m['ttt_running_requests'], 0);
    assert.equal(m['ttt_kv_blocks_used'], 0);
  }],
  ['the load generator (bench/serve_load.mjs) reports every level', async () => {
    const script = fileURLToPath(new URL('../../bench/serve_load.mjs', import.meta.url));
    const out = JSON.parse(execFileSync(process.execPath, [script, '--url', srv.base, '--levels',
      '1,2', '--requests', '1', '--tokens', '6', '--json']).toString());
    assert.deepEqual(out.levels.map((l) => [l.concurrency, l.requests]), [[1, 1], [2, 2]]);
    for (const l of out.levels) {
      assert.ok(l.ttft_mean_s > 0 && l.ttft_p90_s > 0 && l.aggregate_tok_s > 0);
      assert.ok(l.stream_tok_s_mean > 0);
    }
  }],
  ['SIGTERM under load: the server exits cleanly and every client gets an answer or an end',
    async () => {
      const busy = await startServer(['--max-batch', '2', '--max-queue', '8']);
      const long = { model: 'kjv-llama', prompt: 'And', max_tokens: 400, ignore_eos: true };
      const settle = (p) => p.then(() => 'done', () => 'ended');
      const clients = [0, 1, 2, 3, 4, 5].map((i) => settle((async () => {
        const s = await busy.client.completions.create({ ...long, stream: i % 2 === 0 });
        if (i % 2 === 0) for await (const chunk of s) void chunk;
      })()));
      await sleep(200);
      await busy.stop(); // rejects unless the exit status is 0
      const outcomes = await Promise.race([Promise.all(clients), sleep(10000).then(() => null)]);
      assert.ok(outcomes, 'a client hung after the server stopped');
    }],
];
await run(tests, () => srv.stop());
