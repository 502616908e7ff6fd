"""jinja2 rendering of advisories. Undefined variables are errors, never blanks.

jinja2 is imported only to render markdown (JSON needs none of it). Compiled templates are kept
in the cache folder (advisor.cache) by jinja2's FileSystemBytecodeCache, in a folder named by a
digest of this module and of jinja2's own files (the environment's options and jinja2's
compiler shape the compiled code); jinja2 itself recompiles a template whose source changed. A
bytecode file that cannot be read or written is a miss, never an error. ADVISOR_NO_CACHE or
ADVISOR_NO_TEMPLATES_CACHE turn it off.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from advisor import cache
from advisor.paths import data_dir
from advisor.text import one_line  # noqa: F401 - the shared helper, imported from here too
from advisor.plans.runtimes import RUNTIME_NAMES, RUNTIMES, runs_on
from advisor.sizing.ollama import total_vram_bytes
from advisor.sizing import constants as c

if TYPE_CHECKING:
    import jinja2


# `_` between two letters or digits never starts emphasis (Q4_K_M): only the others are escaped
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|#&]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def md_text(text) -> str:
    """A name from a file or a KB entry as markdown text: one line (control, format and line
    separator characters and runs of whitespace become one space), with every character that
    markdown or the HTML inside it would read (`\\ ` * _ [ ] < > | # &`, and a leading - + =)
    escaped by a backslash (`_` inside a word is inert, and kept). Safe in prose, headings, list items, table cells and link text, and
    so in the HTML pages made from them (advisor.bulk.site reads the escapes back)."""
    return _md_text(str(text))


@lru_cache(maxsize=8192)
def _md_text(text: str) -> str:
    """md_text of a string (names repeat on every page of a bulk run)."""
    text = one_line(text)
    return re.sub(r"^([-+=])", r"\\\1", _MD_SPECIAL.sub(r"\\\1", text))


def md_code(text) -> str:
    """A command or path from a file or the user as a markdown code span: one line, in single
    backticks; text that holds a backtick itself (which would end the span, and leave the rest
    as markdown and HTML) is given as md_text instead."""
    text = one_line(text)
    return md_text(text) if "`" in text else f"`{text}`"


class FactsView:
    """The facts as the templates read them, `f.total_bytes` (an attribute, which jinja2 looks
    up first, so no failed attribute lookup a fact) as well as `f["..."]` and `"..." in f`."""

    def __init__(self, facts: dict):
        self.__dict__ = facts

    def __getitem__(self, name: str):
        return self.__dict__[name]

    def __contains__(self, name: str) -> bool:
        return name in self.__dict__


def gb(n: int | float | None) -> str:
    if n is None:
        raise ValueError("gb() of a missing number")
    v = n / 1e9
    return f"{v:,.1f} GB" if abs(v) >= 10 else f"{v:,.2f} GB"


def gib(n: int | float) -> str:
    return f"{n / c.GIB:,.1f} GiB"


def tps(x: float | None) -> str:
    if x is None:
        raise ValueError("tps() of a missing number")
    return f"{x:,.1f} tokens/s" if x >= 10 else f"{x:,.2f} tokens/s"


# Thinking tokens a reasoning model's pace is told in (pace): an illustration of a short chain
# of thought (rules/objective.yaml, usable: over 900 tokens for "2+3=?" from QwQ-32B and R1).
THINKING_TOKENS_TOLD = 2000


def pace(tps_value: float, reasoning: bool = False) -> str:
    """What a decode speed (tokens/s) means to a reader (people read about 5 words, some 7
    tokens, a second). reasoning: the model thinks before it answers (KB
    recommended_output_tokens); below 15 tokens/s the phrase says how long THINKING_TOKENS_TOLD
    thinking tokens take, since they are waited for, not read."""
    if tps_value < 1.5:
        out = "very slow: minutes an answer"
    elif tps_value < 5:
        out = "slow: fine for batch jobs, slow to chat with"
    elif tps_value < 15:
        out = "about reading speed"
    else:
        return "faster than you read"
    if reasoning and tps_value > 0:
        minutes = THINKING_TOKENS_TOLD / tps_value / 60
        out += f"; {THINKING_TOKENS_TOLD:,} thinking tokens take about {minutes:,.0f} minutes"
    return out


# What each vendor's GPU backend is called in llama.cpp's and PyTorch's messages.
_BACKEND = {"nvidia": "CUDA", "amd": "ROCm", "apple": "Metal", "intel": "SYCL"}
_OOM = {"nvidia": "`torch.OutOfMemoryError: CUDA out of memory`",
        "amd": "`torch.OutOfMemoryError: HIP out of memory`",
        "apple": "`RuntimeError: MPS backend out of memory`",
        "intel": "`torch.OutOfMemoryError: XPU out of memory`"}


# How formats are named in prose (JSON keeps the precision names --precision takes).
_FORMAT_NAMES = {"fp32": "FP32", "fp16": "FP16", "bf16": "BF16", "fp8": "FP8",
                 "fp8-ffn": "FP8 (feed-forward layers, Meta's recipe)", "mxfp4": "MXFP4",
                 "awq": "AWQ 4-bit", "gptq": "GPTQ 4-bit", "int4": "W4A16 4-bit",
                 "gptq-int8": "GPTQ 8-bit", "gptq-int3": "GPTQ 3-bit", "gptq-int2": "GPTQ 2-bit",
                 "nf4": "NF4 (bitsandbytes)", "int8": "LLM.int8 (bitsandbytes)",
                 "qat-q4_0": "QAT Q4_0 (Google's quantization-aware-trained file)"}


def fmt(p) -> str:
    name = getattr(p, "name", p)
    return _FORMAT_NAMES.get(name, name)


def plan_line(plan) -> str:
    """A plan in one line, for index rows and tables: what runs where, how fast."""
    where = f"{plan.gpu_count} × {plan.gpu.name}" if plan.gpu_count > 1 else plan.gpu.name
    if getattr(plan, "gpu_set", None) is not None:
        where = plan.gpu_set.words()
    if plan.path == "rent":
        where = "rent " + where
    elif plan.path == "more-cards":
        where = f"{plan.gpu_count} cards"
    else:
        where = "as asked" if plan.path == "as-asked" else "your hardware"
    kv = f", KV {plan.kv_cache_dtype}" if plan.kv_cache_dtype not in ("fp16", "bf16") else ""
    ram = ", part in RAM" if plan.offload else ""
    model = "" if plan.path != "another-model" else f"{plan.model.name}, "
    return f"{model}{fmt(plan.precision)}{kv}{ram}, {where}, {tps(plan.decode_tokens_per_s)}"


def hours(h: float) -> str:
    """Hours of training: one decimal below 100, whole hours above, with the days past 48."""
    text = f"{h:,.1f}" if h < 100 else f"{h:,.0f}"
    return text + (f" ({h / 24:,.1f} days)" if h >= 48 else "")


def usd(amount: float) -> str:
    """A dollar amount without its $: to the cent ('1,234.50', '0.05'; under a dollar to a tenth
    of a cent where the cent would round it: '0.047'), and an amount that is
    positive but under half a cent with the two significant digits that show it ('0.0028'), so a
    cost derived from a price (a million tokens at a fast plan's speed, a short training run) is
    never printed as 0.00, a free run (hostile tester 12; prices themselves are at least
    advisor.limits.MIN_USD_PER_GPU_HOUR)."""
    if 0 < amount < 0.005:
        return f"{amount:.2g}"
    if amount < 1 and abs(amount - round(amount, 2)) > 5e-6:
        # under a dollar, a tenth of a cent shows: SaladCloud's $0.047 a GPU-hour is not $0.05
        return f"{amount:.3f}"
    return f"{amount:,.2f}"


def params(n: int) -> str:
    return f"{n / 1e9:,.1f}B" if n >= 1e9 else f"{n / 1e6:,.0f}M"


def _bytecode_cache():
    """jinja2's bytecode cache in the cache folder, or None (turned off, or no folder)."""
    import jinja2

    if not cache.enabled("TEMPLATES"):
        return None

    class BytecodeCache(jinja2.FileSystemBytecodeCache):
        def load_bytecode(self, bucket):
            if not cache.trusted(Path(self.directory) / (self.pattern % bucket.key)):
                return  # missing, or not ours alone to write (compiled code runs when loaded)
            try:
                super().load_bytecode(bucket)
            except Exception:  # noqa: BLE001 - damaged or foreign: compile the template again
                bucket.reset()

        def dump_bytecode(self, bucket):
            try:
                super().dump_bytecode(bucket)
            except OSError:
                pass  # a cache that cannot be written costs only speed

    try:
        jinja = Path(jinja2.__file__).parent  # its version and compiler: upgraded, they change
        key = cache.Key(cache.code_files("render.py", "cache.py"))
        key.file(jinja / "__init__.py").file(jinja / "compiler.py")
        folder = cache.cache_dir() / f"templates-{key.digest()}"
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return BytecodeCache(str(folder))


@lru_cache(maxsize=4)
def count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 token', '8,192 tokens': a whole number with its noun, singular for exactly one."""
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


def environment(templates: str | None = None) -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates or str(data_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # the templates do not change during a run: no stat a page
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        bytecode_cache=_bytecode_cache(),
    )
    from advisor.speed_bands import band

    # band: a speed category (advisor.sizing.speed_category) -> its measured error band
    # (advisor.speed_bands.Band: .text(), .short())
    env.filters.update(gb=gb, gib=gib, tps=tps, params=params, pace=pace, fmt=fmt, usd=usd,
                       thousands=lambda n: f"{n:,}", md=md_text, hours=hours, band=band,
                       counted=count)
    return env


def _free_ts(s) -> str | None:
    """llama.cpp's own -ts for the question's cards (by free memory), where the user gave one."""
    mixed = getattr(s.placement, "mixed", None)
    if mixed is None or mixed.asked is None:
        return None
    from advisor.sizing.mixed import default_ts_arg

    return default_ts_arg(s.gpu_set)


def _mac_split(s, verdict: str) -> dict | None:
    """What llama.cpp (or Ollama's llama-server) does on a Mac with a model beyond the GPU's
    working set (advisor.sizing.offload.plan_offload at the default limit): the layers it keeps
    on the GPU and on the CPU, the speed, and the memory left to macOS; None elsewhere, or when
    not one layer fits."""
    from advisor.sizing.offload import mac_cpu_bandwidth_gb_s, plan_offload
    from advisor.sizing.wired import macos_split_reserve_bytes

    if (verdict != "does-not-fit" or not s.gpu.unified_memory or s.gpu_count != 1
            or s.work.runtime not in c.GGML_RUNTIMES or s.placement.offload is not None):
        return None
    off = plan_offload(s.model, s.gpu, s.precision, s.work)
    if off is None:
        return None
    used = off.gpu_bytes + off.ram_bytes
    return {"gpu_layers": off.gpu_layers, "ngl": off.ngl, "cpu_layers": off.cpu_layers,
            "tps": off.decode_tokens_per_s,
            "used": used, "left": s.gpu.memory_bytes - used, "reserve": macos_split_reserve_bytes(s.gpu),
            "fits": off.ram_fits, "cpu_bw": mac_cpu_bandwidth_gb_s(s.gpu),
            "layers": s.model.architecture.layers,
            # the words for the machine: a Mac's, or another unified-memory machine's (DGX
            # Spark, Ryzen AI Max), never macOS's on hardware that does not run it
            "os": "macOS" if s.gpu.vendor == "apple" else "the OS",
            "machine": "Mac" if s.gpu.vendor == "apple" else "machine"}


def _ollama_cards(s):
    """The cards Ollama sums for its default context: a mixed set's (placement.mixed), else the
    question's card."""
    mixed = getattr(s.placement, "mixed", None)
    return tuple(card.gpu for card in mixed.cards) if mixed is not None else s.gpu


def render_markdown(advisory, defaults: set[str] | frozenset = frozenset()) -> str:
    from advisor.plans.commands import ollama_no_rope_note, rope_scaling_for
    from advisor.sizing.mlx import wired_limit_mb
    from advisor.sizing.offload import gguf_trailing_blocks, ngl_all

    s = advisory.situation
    ctx = {
        "model": s.model, "gpu": s.gpu, "gpus": s.gpu_count, "precision": s.precision,
        "work": s.work, "f": FactsView(s.facts), "verdict": advisory.verdict,
        "recommendations": advisory.recommendations, "c": c, "defaults": set(defaults),
        "precision_source": getattr(advisory, "precision_source", None),
        # why a defaulted context is what it is (a reasoning model's output budget), one line
        "context_reason": getattr(advisory, "context_reason", None),
        "mem": s.placement.parts,
        "gpu_set": getattr(s, "gpu_set", None), "mixed": getattr(s.placement, "mixed", None),
        "offered": list(advisory.offered), "cannot_run": advisory.cannot_run,
        "floor_unmet": getattr(advisory, "floor_unmet", None),
        "prefer": advisory.prefer, "asked_n": s.gpu_count, "runtime_names": RUNTIME_NAMES,
        "backend": _BACKEND.get(s.gpu.vendor, "GPU"), "oom_error": _OOM.get(s.gpu.vendor, "an out-of-memory error"),
        "runs_here": any(runs_on(r, s.gpu) for r in RUNTIMES),
        "mlx_wired_mb": (wired_limit_mb(s.placement.total_bytes + s.placement.margin_bytes, s.gpu)
                         if s.work.runtime == "mlx" else None),
        "ollama_vram_gib": f"{total_vram_bytes(_ollama_cards(s), s.gpu_count) / c.GIB:.0f}",
        # Ollama beyond the config's positions of a model whose card needs rope scaling
        "ollama_rope_note": (ollama_no_rope_note(s.model, s.work.context_tokens)
                             if s.work.runtime == "ollama"
                             and rope_scaling_for(s.model, s.work.context_tokens) else None),
        "objective_path": md_text(getattr(advisory, "objective_path", "rules/objective.yaml")),
        "mixed_free_ts": _free_ts(s),
        "mac_split": _mac_split(s, advisory.verdict),
        # llama.cpp's -ngl counts a GGUF's blocks after the layers (GLM-4.5's NextN): the
        # verdict says so, and a plan's "every layer" is ngl_all(model)
        "trailing_blocks": gguf_trailing_blocks(s.model), "ngl_all": ngl_all,
    }
    name = "finetune.md.j2" if s.work.task == "finetune" else "advisory.md.j2"
    if s.work.task == "finetune":
        from advisor.sizing.finetune import explanation_numbers

        ctx["ft"] = s.work.finetune
        ctx["ftx"] = explanation_numbers(s.model.architecture, s.work.finetune)
        ctx["training"] = None
        if s.work.finetune.train_tokens is not None:
            from advisor.advise import asked_training
            from advisor.sizing.train_time import architecture_flops

            ctx["training"] = asked_training(advisory)
            from advisor.sizing.speed import active_compute_parameters

            ctx["train_flops"] = architecture_flops(s.model.architecture, s.work.finetune)
            ctx["train_params"] = active_compute_parameters(s.model.architecture)
    text = environment().get_template(name).render(**ctx)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text


def render_json(advisory) -> str:
    return json.dumps(advisory.to_json(), indent=2, sort_keys=False) + "\n"
