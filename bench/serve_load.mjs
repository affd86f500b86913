#!/usr/bin/env node
// Load generator for `ttt serve`: for each concurrency level C (default 1, 4, 8), C clients each
// stream R completions back to back (temperature 0, ignore_eos so every request decodes exactly
// --tokens tokens) and the script reports, per level, the time to first token (mean and p90) and
// the tokens/s of each stream (after its first token), plus the aggregate tokens/s.
//
// usage: node bench/serve_load.mjs --url http://127.0.0.1:8080 [--levels 1,4,8] [--requests R]
//                                  [--tokens N] [--prompt TEXT] [--json]
// Needs node >= 18 (fetch); no npm packages.
const args = { url: 'http://127.0.0.1:8080', levels: '1,4,8', requests: 4, tokens: 64,
  prompt: 'In the beginning', json: false };
for (let i = 2; i < process.argv.length; i++) {
  const name = process.argv[i].replace(/^--/, '');
  if (!(name in args)) {
    console.error(`serve_load: unknown option ${process.argv[i]}`);
    process.exit(2);
  }
  args[name] = typeof args[name] === 'boolean' ? true : process.argv[++i];
}
const levels = String(args.levels).split(',').map(Number);
const requests = Number(args.requests), tokens = Number(args.tokens);
if (levels.some((c) => !(c >= 1)) || !(requests >= 1) || !(tokens >= 1)) {
  console.error('serve_load: --levels, --requests and --tokens must be positive');
  process.exit(2);
}

const model = (await (await fetch(`${args.url}/v1/models`)).json()).data[0].id;

// One streamed completion: seconds to the first token, tokens after it and their seconds.
async function one() {
  const t0 = performance.now();
  const res = await fetch(`${args.url}/v1/completions`, { method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model, prompt: args.prompt, max_tokens: tokens, temperature: 0,
      ignore_eos: true, stream: true }) });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let first = 0, last = 0, buffer = '', completion = 0;
  const decoder = new TextDecoder();
  for await (const bytes of res.body) {
    buffer += decoder.decode(bytes, { stream: true });
    let at;
    while ((at = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
      const chunk = JSON.parse(event.slice(6));
      if (chunk.usage) completion = chunk.usage.completion_tokens;
      if (!first) first = performance.now();
      last = performance.now();
    }
  }
  return { ttft: (first - t0) / 1000, tokens: completion, decodeSeconds: (last - first) / 1000 };
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(0.9 * xs.length))];

const report = [];
for (const c of levels) {
  const t0 = performance.now();
  const runs = (await Promise.all(Array.from({ length: c }, async () => {
    const out = [];
    for (let r = 0; r < requests; r++) out.push(await one());
    return out;
  }))).flat();
  const wall = (performance.now() - t0) / 1000;
  const perStream = runs.map((r) => (r.tokens - 1) / r.decodeSeconds).filter(Number.isFinite);
  report.push({ concurrency: c, requests: runs.length, ttft_mean_s: mean(runs.map((r) => r.ttft)),
    ttft_p90_s: p90(runs.map((r) => r.ttft)), stream_tok_s_mean: mean(perStream),
    aggregate_tok_s: runs.reduce((a, r) => a + r.tokens, 0) / wall });
}
if (args.json) {
  console.log(JSON.stringify({ model, tokens, prompt: args.prompt, levels: report }, null, 2));
} else {
  console.log(`model ${model}, ${tokens} tokens per request, ${requests} requests per client`);
  console.log('clients  TTFT mean   TTFT p90   tok/s per stream   aggregate tok/s');
  for (const r of report)
    console.log(`${String(r.concurrency).padStart(7)}  ${r.ttft_mean_s.toFixed(3).padStart(8)} s` +
      `${r.ttft_p90_s.toFixed(3).padStart(9)} s${r.stream_tok_s_mean.toFixed(1).padStart(19)}` +
      `${r.aggregate_tok_s.toFixed(1).padStart(18)}`);
}
