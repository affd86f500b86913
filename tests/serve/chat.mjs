// /v1/chat/completions with a chat template: kjv-llama's weights and tokenizer in a folder whose
// tokenizer_config.json carries a small template (written here). The greedy reply must equal
// `ttt generate` on the rendered prompt, cut at the template's end-of-turn text (its eos_token, a
// comma here, which this prompt's reply contains); streamed and non-streamed replies agree; a template that
// raises answers 400 naming messages.
import assert from 'node:assert/strict';
import { OpenAI, startServer, generateAlone, modelWithTokenizerConfig, run } from './lib.mjs';

const template = '{{ bos_token }}{% for m in messages %}' +
  "{% if m.role == 'system' and m.content == 'raise' %}{{ raise_exception('no system raise') }}{% endif %}" +
  '{{ m.role | upper }}: {{ m.content | trim }}\n{% endfor %}' +
  '{% if add_generation_prompt %}ASSISTANT:{% endif %}';
const model = modelWithTokenizerConfig('kjv-chat', {
  bos_token: '<|begin_of_text|>', eos_token: ',', chat_template: template,
});

const srv = await startServer([], model.dir);
const { client } = srv;
const MODEL = 'kjv-chat';
const messages = [{ role: 'user', content: 'And the LORD spake unto Moses' }];
// What the template renders, without the BOS text (generate adds BOS itself).
const rendered = 'USER: And the LORD spake unto Moses\nASSISTANT:';
const alone = generateAlone(rendered, 24); // kjv-llama itself: no end of turn there
const cut = alone.indexOf(',');
assert.ok(cut > 0, `the oracle has no comma to stop at: '${alone}'`);
const expected = alone.slice(0, cut);

await run([
  ['chat: the model lists chat_template true', async () => {
    assert.equal((await client.models.retrieve(MODEL)).chat_template, true);
    assert.equal((await client.models.list()).data[0].chat_template, true);
  }],
  ['chat: greedy reply equals generate on the rendered prompt, cut at the end of turn', async () => {
    const r = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 24,
      temperature: 0 });
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(r.choices[0].message.content, expected);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.ok(r.usage.prompt_tokens > 5 && r.usage.completion_tokens >= 1, JSON.stringify(r.usage));
  }],
  ['chat: the streamed deltas make the same reply', async () => {
    const stream = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 24,
      temperature: 0, stream: true, stream_options: { include_usage: true } });
    let text = '', finish = null, usage = null;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        text += c.delta.content ?? '';
        finish = c.finish_reason ?? finish;
      }
    }
    assert.equal(text, expected);
    assert.equal(finish, 'stop');
    assert.ok(usage && usage.completion_tokens >= 1);
  }],
  ['chat: a template that raises is a 400 naming messages', async () => {
    try {
      await client.chat.completions.create({ model: MODEL, temperature: 0,
        messages: [{ role: 'system', content: 'raise' }, ...messages] });
    } catch (e) {
      assert.ok(e instanceof OpenAI.APIError, String(e));
      assert.equal(e.status, 400);
      assert.equal(e.param, 'messages');
      assert.match(e.error.message, /no system raise/);
      return;
    }
    assert.fail('expected HTTP 400');
  }],
], async () => {
  await srv.stop();
  model.remove();
});
