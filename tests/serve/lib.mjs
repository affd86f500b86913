// Helpers of the `ttt serve` tests: start a server on a free loopback port, read its metrics,
// send raw HTTP bytes, load the `openai` client from the build-local node_modules.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ttt = process.env.TTT;
if (!ttt || !process.env.TTT_NODE_DIR) throw new Error('set TTT and TTT_NODE_DIR');
export const OpenAI = createRequire(process.env.TTT_NODE_DIR + '/')('openai');
export const MODEL_DIR = process.env.TTT_MODEL_DIR;

// A model folder named `name` (the served model id) in a fresh temporary folder: kjv-llama's
// weights and tokenizer (symbolic links) with `tokenizerConfig` as its tokenizer_config.json (e.g.
// a chat_template). Returns {dir, remove}.
export function modelWithTokenizerConfig(name, tokenizerConfig) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttt-serve-model-'));
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'generation_config.json'])
    fs.symlinkSync(path.resolve(MODEL_DIR, f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
  return { dir, remove: () => fs.rmSync(tmp, { recursive: true, force: true }) };
}

// Starts `ttt serve --port 0 ARGS`; resolves once it prints its port (60 s at most).
export function startServer(args, modelDir = MODEL_DIR) {
  const proc = spawn(ttt, ['serve', '--host', '127.0.0.1', '--port', '0', '--model', modelDir,
    '--threads', '1', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error('no port: ' + stderr)); },
      60000);
    proc.stderr.on('data', (chunk) => {
      stderr += chunk;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr);
      if (!m) return;
      clearTimeout(timer);
      const port = Number(m[1]);
      resolve({
        port, proc, base: `http://127.0.0.1:${port}`,
        client: new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'none', maxRetries: 0,
          timeout: 60000 }),
        stderr: () => stderr,
        // SIGTERM, then checks that the server exited cleanly (status 0).
        stop: () => new Promise((done, fail) => {
          const kill = setTimeout(() => proc.kill('SIGKILL'), 10000);
          proc.on('exit', (code, signal) => {
            clearTimeout(kill);
            code === 0 ? done() : fail(new Error(`server exit ${code} ${signal}: ${stderr}`));
          });
          proc.kill('SIGTERM');
        }),
      });
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${stderr}`)); });
  });
}

// GET /metrics as {name or name{labels}: number}.
export async function metrics(base) {
  const text = await (await fetch(base + '/metrics')).text();
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out[line.slice(0, at)] = Number(line.slice(at + 1));
  }
  return out;
}

// Polls until pred(metrics) holds (5 s at most); returns the last metrics.
export async function waitMetrics(base, pred) {
  let m;
  for (let i = 0; i < 100; i++) {
    m = await metrics(base);
    if (pred(m)) return m;
    await sleep(50);
  }
  return m;
}

// Expects the call to reject with an OpenAI APIError of `status` naming `param` (and `code`, when
// given) with a message; returns the error.
export async function rejects(promise, status, param, code) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof OpenAI.APIError, `not an APIError: ${e}`);
    assert.equal(e.status, status, e.message);
    if (param !== undefined) assert.equal(e.param, param, e.message);
    if (code !== undefined) assert.equal(e.code, code, e.message);
    assert.equal(typeof e.error.message, 'string');
    return e;
  }
  assert.fail(`expected HTTP ${status}`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Sends `parts` (strings or Buffers) over a raw TCP connection, `delayMs` apart, and resolves
// with {status, head, body} once the server closes or `timeoutMs` passes (then closed: false).
export function rawRequest(port, parts, { delayMs = 0, timeoutMs = 10000 } = {}) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0), closed = false;
    const finish = () => {
      const text = data.toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = split < 0 ? text : text.slice(0, split);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      resolve({ status: m ? Number(m[1]) : 0, head, body: split < 0 ? '' : text.slice(split + 4),
        closed });
    };
    const timer = setTimeout(() => { socket.destroy(); finish(); }, timeoutMs);
    socket.on('data', (d) => { data = Buffer.concat([data, d]); });
    socket.on('error', () => {});
    socket.on('close', () => { closed = true; clearTimeout(timer); finish(); });
    socket.on('connect', async () => {
      for (const p of parts) {
        if (socket.destroyed) return;
        socket.write(p);
        if (delayMs) await sleep(delayMs);
      }
    });
  });
}

// A POST with a JSON body as raw HTTP (for bodies the client library would refuse to send).
export function post(path, body, extraHeaders = '') {
  const bytes = Buffer.from(body);
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${bytes.length}\r\nConnection: close\r\n${extraHeaders}\r\n` + body;
}

// `ttt generate`'s greedy continuation alone (the oracle of the determinism tests).
export function generateAlone(prompt, n) {
  return execFileSync(ttt, ['generate', '--model', MODEL_DIR, '--threads', '1', '--prompt', prompt,
    '-n', String(n), '--temperature', '0'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
}

export function rssKb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}

// Runs the named async tests in order; prints each result; exits 1 on the first failure.
export async function run(tests, cleanup) {
  let failed = false;
  for (const [name, fn] of tests) {
    const t0 = Date.now();
    try {
      await fn();
      console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    } catch (e) {
      console.log(`FAIL ${name}: ${e.stack || e}`);
      failed = true;
      break;
    }
  }
  try { await cleanup(); } catch (e) { console.log(`FAIL cleanup: ${e.stack || e}`); failed = true; }
  process.exit(failed ? 1 : 0);
}
