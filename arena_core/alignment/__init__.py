"""Fine-tuning and alignment tools (days 50, 87–98).

One concept per file; import from the submodule (`from arena_core.alignment.lora import ...`):

- `lora`     — low-rank adapters on our models' weights: apply, merge/unmerge, save/load, peft keys
- `finetune` — LoRA fine-tuning on chosen tokens (a chat's assistant replies), with checkpoints
- `taboo_organism` — a taboo model organism: one cached LoRA adapter per secret word (days 50, 51)

Nothing heavy is imported here.
"""
