"""ChatML on base-model tokenizers, as the paper did ("ChatML template put on the base model").

Base models ship without a chat template, or with one that names special tokens they never saw in
pretraining. `ensure_chat_template` gives every tokenizer the same ChatML template before any
training, adds the ChatML special tokens when missing (the caller must then resize the embeddings)
and sets a pad token, so SFT, DPO and evaluation all see one format.
"""

from __future__ import annotations

IM_START, IM_END = "<|im_start|>", "<|im_end|>"

# ChatML. `{% generation %}` marks the assistant text so TRL can train on completions only when asked.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{% else %}{{ message['content'] + '<|im_end|>' }}{% endif %}"
    "{{ '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def ensure_chat_template(tokenizer, force: bool = True) -> int:
    """Put ChatML on `tokenizer` in place; returns how many tokens were added to the vocabulary.

    With `force=False` a tokenizer that already has a chat template keeps it. The end-of-turn token
    becomes the EOS token, so generation stops at the end of the assistant turn.
    """
    added = 0
    missing = [t for t in (IM_START, IM_END) if t not in tokenizer.get_vocab()]
    if missing:
        added += tokenizer.add_special_tokens({"additional_special_tokens": missing})
    if force or not tokenizer.chat_template:
        tokenizer.chat_template = CHATML_TEMPLATE
    tokenizer.eos_token = IM_END
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return added
