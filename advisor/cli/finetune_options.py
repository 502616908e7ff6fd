"""The fine-tuning options of `advisor explain` (--task finetune and its knobs).

`finetune_options` adds them to a command; `finetune_spec` turns what was given into a
FinetuneSpec (None for inference) and the set of knobs left at their defaults.
"""
from __future__ import annotations

import click

from advisor.errors import AdvisorError
from advisor.sizing import constants as c
from advisor.sizing.finetune import (METHODS, OPTIMIZERS, SHARDINGS, FinetuneSpec,
                                     parse_lora_targets)

_OPTIONS = [
    click.option("--task", type=click.Choice(["inference", "finetune"]), default="inference",
                 show_default=True, help="Run the model, or fine-tune it."),
    click.option("--method", type=click.Choice(METHODS), default=None,
                 help="Fine-tuning: every weight, LoRA adapters, or LoRA on an NF4 base. Default lora."),
    click.option("--seq-len", type=int, default=None, help="Fine-tuning: tokens a sequence. Default 2048."),
    click.option("--micro-batch", type=int, default=None, help="Fine-tuning: sequences a GPU a step. Default 1."),
    click.option("--gradient-checkpointing/--no-gradient-checkpointing", default=None,
                 help="Fine-tuning: recompute activations layer by layer. Default on."),
    click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=None,
                 help="Fine-tuning optimizer. Default adamw."),
    click.option("--pure-bf16", is_flag=True, default=None,
                 help="Full fine-tuning without fp32 master weights (bf16 optimizer states)."),
    click.option("--lora-rank", type=int, default=None,
                 help=f"LoRA/QLoRA rank. Default {c.FT_DEFAULT_LORA_RANK}."),
    click.option("--lora-targets", default=None,
                 help="LoRA/QLoRA layers: comma-separated of q,k,v,o,gate,up,down, or all (default)."),
    click.option("--sharding", type=click.Choice(SHARDINGS), default=None,
                 help="Fine-tuning over --gpus: DeepSpeed ZeRO-2/3 or FSDP full shard. Default none."),
]
_KNOBS = ("method", "seq_len", "micro_batch", "gradient_checkpointing", "optimizer", "pure_bf16",
          "lora_rank", "lora_targets", "sharding")


_SUFFIXES = {"k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}


def parse_token_count(text: str) -> int:
    """'2000000000', '2_000_000_000', '2e9', '2B', '1.5b', '500M', '300k' -> a whole number of
    tokens (k, M, B or G, T: thousand, million, billion, trillion). Raises ValueError, naming
    what it accepts, for anything else, a fraction of a token included."""
    from decimal import Decimal, InvalidOperation, localcontext

    from advisor.limits import MAX_TRAIN_TOKENS, short

    t = text.strip().replace("_", "").replace(",", "")
    scale = 1
    if t and t[-1].lower() in _SUFFIXES:
        scale, t = _SUFFIXES[t[-1].lower()], t[:-1]
    whole = f"{short(text)} is not a whole number of tokens (write 2000000000, 2e9 or 2B)"
    with localcontext() as ctx:  # exact for every count up to far beyond the maximum
        ctx.prec, ctx.Emax, ctx.Emin = 60, 99, -99
        try:
            d = Decimal(t)
        except InvalidOperation:
            raise ValueError(whole) from None
        if not d.is_finite() or len(t) > 60 or (d and d.adjusted() < -30):
            raise ValueError(whole)
        if d.adjusted() > 30:  # 10**31 and more: refused before any arithmetic on it
            raise ValueError(f"{short(text)} is more than {MAX_TRAIN_TOKENS:,} tokens")
        try:
            d = d * scale
            exact = d == d.to_integral_value()
        except ArithmeticError:  # an exponent below the context's range: a fraction
            raise ValueError(whole) from None
    if not exact:
        raise ValueError(whole)
    return int(d)


class TokenCount(click.ParamType):
    name = "tokens"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        try:
            return parse_token_count(str(value))
        except ValueError as e:
            self.fail(str(e), param, ctx)


train_tokens_option = click.option(
    "--train-tokens", type=TokenCount(), default=None,
    help="Fine-tuning: tokens to train on (dataset tokens x epochs; 2e9, 2B and 2000000000 are "
         "the same); the advisory gives tokens/s and hours, for the asked setup and each plan.")


def with_train_tokens(spec: FinetuneSpec | None, tokens: int | None) -> FinetuneSpec | None:
    """The spec with --train-tokens; AdvisorError for it without --task finetune."""
    from dataclasses import replace

    if tokens is None:
        return spec
    if spec is None:
        raise AdvisorError("--train-tokens applies to --task finetune")
    return replace(spec, train_tokens=tokens)


def finetune_options(command):
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


# An inference option -> the fine-tuning knob that answers the same question, where there is one
_COUNTERPARTS = {"precision": "--method", "context": "--seq-len", "batch": "--micro-batch"}


def given_options(ctx: click.Context, values: dict) -> dict:
    """values (option name -> value) with None for each option left at its default: what the
    user gave, also for options whose default is not None (--kv-cache fp16, --prompt-tokens)."""
    from click.core import ParameterSource

    return {name: value if ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT,
                                                                   ParameterSource.DEFAULT_MAP)
            else None for name, value in values.items()}


def finetune_spec(task: str, given: dict, inference_only: dict) -> tuple[FinetuneSpec | None, set]:
    """given: the fine-tuning knobs (None when not set); inference_only: the inference options
    as given (None when not set: given_options). Raises AdvisorError for an option of the other
    task: fine-tuning sizes none of them, and an answer that ignored one would look as if it
    had taken it into account."""
    set_knobs = [k for k in _KNOBS if given.get(k) is not None]
    if task == "inference":
        if set_knobs:
            raise AdvisorError(f"{_flag(set_knobs[0])} applies to --task finetune")
        return None, set()
    for name, value in inference_only.items():
        if value is not None:
            hint = _COUNTERPARTS.get(name)
            raise AdvisorError(f"{_flag(name)} applies to inference; for fine-tuning use {hint}"
                               if hint else f"{_flag(name)} applies to inference, not to --task "
                                            f"finetune")
    method = given.get("method") or c.FT_DEFAULT_METHOD
    if method == "full":
        for k in ("lora_rank", "lora_targets"):
            if given.get(k) is not None:
                raise AdvisorError(f"{_flag(k)} applies to --method lora or qlora, not full")
    kw = {k: given[k] for k in set_knobs}
    if "lora_targets" in kw:
        kw["lora_targets"] = parse_lora_targets(kw["lora_targets"])
    kw["method"] = method
    kw["method_given"] = "method" in set_knobs
    return FinetuneSpec(**kw), {k for k in _KNOBS if k not in set_knobs}
