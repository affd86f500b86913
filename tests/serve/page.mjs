// The chat page (GET /) in a real browser: Debian's chromium, headless, driven by playwright-core.
// On kjv-llama (no chat template) the page continues text through /v1/completions; on a copy
// with a template it chats through /v1/chat/completions and sends the history. Greedy replies
// must equal `ttt generate --temperature 0` (cut at the template's end of turn); the Stop button
// aborts the stream and the server frees the slot; model text is shown as text, never as HTML;
// server errors are shown. Screenshots (desktop and phone width) go to TTT_SCREENSHOT_DIR.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import {
  startServer, generateAlone, metrics, waitMetrics, modelWithTokenizerConfig, run,
} from './lib.mjs';

const { chromium } = createRequire(process.env.TTT_NODE_DIR + '/')('playwright-core');
const CHROMIUM = '/usr/bin/chromium';
if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/install-deps.sh`);
const shots = process.env.TTT_SCREENSHOT_DIR;
if (!shots) throw new Error('set TTT_SCREENSHOT_DIR');
fs.mkdirSync(shots, { recursive: true });

// As chat.mjs: "ROLE: content" lines, a comma ends a turn.
const template = '{{ bos_token }}{% for m in messages %}' +
  '{{ m.role | upper }}: {{ m.content | trim }}\n{% endfor %}' +
  '{% if add_generation_prompt %}ASSISTANT:{% endif %}';
const chatModel = modelWithTokenizerConfig('kjv-chat', {
  bos_token: '<|begin_of_text|>', eos_token: ',', chat_template: template,
});

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ttt-page-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM, headless: true, viewport: { width: 1100, height: 720 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const plain = await startServer([]);
const chat = await startServer([], chatModel.dir);

// Opens the page of `srv`; waits until it has asked the server which mode to use.
async function open(srv, viewport) {
  const page = await browser.newPage();
  if (viewport) await page.setViewportSize(viewport);
  const failures = [];
  page.on('pageerror', (e) => failures.push(String(e)));
  page.on('console', (m) => { // an error status (the error test's 400) is logged too: not a failure
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) failures.push(m.text());
  });
  await page.goto(srv.base + '/');
  await page.waitForSelector('body[data-ready]');
  page.failures = failures;
  return page;
}

async function settings(page, values) {
  for (const [id, value] of Object.entries(values)) await page.fill('#' + id, String(value));
}

// Waits until the n-th reply's state is one of `states`.
function replyState(page, n, states) {
  return page.waitForFunction(([i, wanted]) => wanted.includes(
    document.querySelectorAll('.msg.assistant')[i]?.dataset.state), [n, states], { timeout: 60000 });
}

// Types `text`, sends it with Enter; resolves with the reply once it ended (done/stopped/error).
async function ask(page, text) {
  const n = await page.locator('.msg.assistant').count();
  await page.fill('#prompt', text);
  await page.press('#prompt', 'Enter');
  await replyState(page, n, ['done', 'stopped', 'error']);
  const reply = page.locator('.msg.assistant').nth(n);
  return {
    state: await reply.getAttribute('data-state'),
    text: await reply.locator('.reply').textContent(),
    prompt: await reply.locator('.prompt').count() ? await reply.locator('.prompt').textContent() : null,
    meta: await reply.locator('.meta').textContent(),
    error: await reply.locator('.error').count() ? await reply.locator('.error').textContent() : '',
  };
}

// `ttt generate`'s greedy reply to a rendered chat prompt, cut at the end of turn (a comma).
function chatOracle(rendered, n) {
  const alone = generateAlone(rendered, n);
  const cut = alone.indexOf(',');
  return cut < 0 ? alone : alone.slice(0, cut);
}

let plainPage, chatPage;
await run([
  ['completion page: the greedy stream equals ttt generate', async () => {
    plainPage = await open(plain);
    assert.equal(await plainPage.getAttribute('body', 'data-ready'), 'completion');
    assert.equal(await plainPage.textContent('#mode'), 'text completion');
    assert.ok(await plainPage.locator('#system_label').isHidden());
    await settings(plainPage, { temperature: 0, max_tokens: 24 });
    const prompt = 'In the beginning';
    const reply = await ask(plainPage, prompt);
    assert.equal(reply.state, 'done', reply.error);
    assert.equal(reply.text, generateAlone(prompt, 24));
    assert.equal(reply.prompt, prompt); // the continuation reads on from its prompt
    assert.equal(await plainPage.locator('.msg.user').count(), 0);
    assert.match(reply.meta, /finish: length · 24 tokens/);
    // Each prompt is continued on its own: a second one gets its own greedy text.
    const second = await ask(plainPage, 'And God said');
    assert.equal(second.text, generateAlone('And God said', 24));
  }],
  ['the sampling settings are sent: stop strings, seeded sampling', async () => {
    await settings(plainPage, { stop_strings: 'tenth\n,' }); // two stop strings, one per line
    const greedy = generateAlone('In the beginning', 24);
    assert.ok(greedy.indexOf(',') > 0 && greedy.indexOf(',') < greedy.indexOf('tenth'), greedy);
    const stopped = await ask(plainPage, 'In the beginning');
    assert.equal(stopped.text, greedy.slice(0, greedy.indexOf(',')));
    assert.match(stopped.meta, /finish: stop/);
    await settings(plainPage, { stop_strings: '', temperature: 1.2, top_p: 0.9, top_k: 50, seed: 7 });
    const sampled = await ask(plainPage, 'In the beginning');
    const direct = await (await fetch(plain.base + '/v1/completions', { method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'kjv-llama', prompt: 'In the beginning', max_tokens: 24,
        temperature: 1.2, top_p: 0.9, top_k: 50, seed: 7 }) })).json();
    assert.equal(sampled.text, direct.choices[0].text);
    assert.notEqual(sampled.text, greedy);
    await settings(plainPage, { temperature: 0, seed: '' });
  }],
  ['the Stop button aborts the stream; the server frees the slot and its blocks', async () => {
    const before = await metrics(plain.base);
    // Greedy, this prompt runs to the end of the context without an end of sequence (~2 s). The
    // page itself presses Stop as soon as the first text shows (a test-side click could come too
    // late on a loaded machine), and notes the buttons' states at that moment.
    await settings(plainPage, { max_tokens: 500 });
    const prompt = 'And these are the generations of';
    const n = await plainPage.locator('.msg.assistant').count();
    await plainPage.evaluate((i) => {
      window.autoStop = new Promise((resolve) => {
        const observer = new MutationObserver(() => {
          const reply = document.querySelectorAll('.msg.assistant')[i]?.querySelector('.reply');
          if (!reply || !/\S/.test(reply.textContent)) return;
          observer.disconnect();
          const buttons = { stop: !document.getElementById('stop').disabled,
            send: !document.getElementById('send').disabled };
          document.getElementById('stop').click();
          resolve(buttons);
        });
        observer.observe(document.getElementById('log'),
          { childList: true, subtree: true, characterData: true });
      });
    }, n);
    await plainPage.fill('#prompt', prompt);
    await plainPage.click('#send');
    assert.deepEqual(await plainPage.evaluate(() => window.autoStop), { stop: true, send: false });
    await replyState(plainPage, n, ['done', 'stopped', 'error']);
    const reply = plainPage.locator('.msg.assistant').nth(n);
    const meta = await reply.locator('.meta').textContent();
    assert.equal(await reply.getAttribute('data-state'), 'stopped', meta);
    assert.match(meta, /^stopped/);
    assert.ok(await plainPage.isDisabled('#stop'));
    assert.ok(await plainPage.isEnabled('#send'));
    const partial = await reply.locator('.reply').textContent();
    const full = generateAlone(prompt, 500);
    assert.ok(partial.length > 0 && partial.length < full.length && full.startsWith(partial),
      `not a strict prefix of the greedy text: '${partial}'`);
    // The server saw the client go: the request is cancelled, its slot and blocks are free.
    const m = await waitMetrics(plain.base, (x) => x.ttt_requests_cancelled_total >
      before.ttt_requests_cancelled_total && x.ttt_running_requests === 0 &&
      x.ttt_kv_blocks_used === 0);
    assert.equal(m.ttt_requests_cancelled_total, before.ttt_requests_cancelled_total + 1);
    assert.equal(m.ttt_running_requests, 0);
    assert.equal(m.ttt_kv_blocks_used, 0);
    // The page goes on working after a stop.
    await settings(plainPage, { max_tokens: 8 });
    assert.equal((await ask(plainPage, 'In the beginning')).text, generateAlone('In the beginning', 8));
  }],
  ['desktop screenshot (docs/serve-page.png is a copy)', async () => {
    await plainPage.screenshot({ path: path.join(shots, 'page-desktop.png') });
  }],
  ['a server error is shown with the parameter it names', async () => {
    await settings(plainPage, { temperature: 5 });
    const reply = await ask(plainPage, 'In the beginning');
    assert.equal(reply.state, 'error');
    assert.match(reply.error, /^temperature: /);
    assert.equal(reply.text, '');
    await settings(plainPage, { temperature: 0 });
  }],
  ['model text is shown as text, never as HTML (stream split mid-event)', async () => {
    const evil = '<img src=x onerror="window.pwned=1"><b>bold</b> & "quotes"';
    const event = (text) => `data: ${JSON.stringify({ choices: [{ index: 0, text,
      finish_reason: null }] })}\n\n`;
    const body = event(evil.slice(0, 9)) + event(evil.slice(9)) +
      'data: {"choices":[{"index":0,"text":"","finish_reason":"stop"}]}\n\ndata: [DONE]\n\n';
    await plainPage.route('**/v1/completions', (route) => route.fulfill({
      status: 200, contentType: 'text/event-stream', body }));
    const reply = await ask(plainPage, '<i>user text</i>');
    await plainPage.unroute('**/v1/completions');
    assert.equal(reply.state, 'done');
    assert.equal(reply.text, evil);
    assert.equal(await plainPage.locator('#log img, #log b, #log i').count(), 0);
    assert.equal(await plainPage.evaluate(() => window.pwned), undefined);
    assert.equal(reply.prompt, '<i>user text</i>');
    assert.deepEqual(plainPage.failures, []);
  }],
  ['chat page at phone width: greedy replies equal ttt generate, the history is sent', async () => {
    chatPage = await open(chat, { width: 390, height: 844 });
    assert.equal(await chatPage.getAttribute('body', 'data-ready'), 'chat');
    assert.equal(await chatPage.textContent('#mode'), 'chat');
    // On a phone the settings start folded; they open with a tap.
    assert.equal(await chatPage.evaluate(() => document.getElementById('settings').open), false);
    await chatPage.click('#settings summary');
    await settings(chatPage, { temperature: 0, max_tokens: 24 });
    await chatPage.click('#settings summary');
    const first = 'And the LORD spake unto Moses';
    const turn1 = `USER: ${first}\nASSISTANT:`;
    const reply1 = await ask(chatPage, first);
    assert.equal(reply1.state, 'done', reply1.error);
    assert.equal(reply1.text, chatOracle(turn1, 24));
    assert.equal(reply1.prompt, null);
    assert.equal(await chatPage.locator('.msg.user .text').first().textContent(), first);
    const second = 'Who is he';
    const turn2 = `${turn1} ${reply1.text.trim()}\nUSER: ${second}\nASSISTANT:`;
    const reply2 = await ask(chatPage, second);
    assert.equal(reply2.text, chatOracle(turn2, 24));
    assert.notEqual(reply2.text, chatOracle(`USER: ${second}\nASSISTANT:`, 24),
      'the history changes this reply (else the test cannot tell it was sent)');
    await chatPage.screenshot({ path: path.join(shots, 'page-phone.png') });
    // A new conversation forgets the history.
    await chatPage.click('#settings summary');
    await chatPage.click('#clear');
    await chatPage.click('#settings summary');
    assert.equal(await chatPage.locator('.msg').count(), 0);
    assert.equal((await ask(chatPage, second)).text, chatOracle(`USER: ${second}\nASSISTANT:`, 24));
    assert.deepEqual(chatPage.failures, []);
  }],
], async () => {
  await browser.close();
  await plain.stop();
  await chat.stop();
  chatModel.remove();
  fs.rmSync(profile, { recursive: true, force: true });
});
