"""advisor explain MODEL GPU"""
from __future__ import annotations

from dataclasses import replace

import click

from advisor.cli.finetune_options import (finetune_options, finetune_spec, given_options,
                                         train_tokens_option, with_train_tokens)
from advisor.cli.sources import kb_option, load_kb_from, load_rules_from, rules_option
from advisor.cli.terminal import format_option, write_markdown


@click.command()
@click.argument("model")
@click.argument("gpu", required=False, metavar="[GPU]")
@click.option("--precision", "-p", default=None,
              help="fp32, fp16, bf16, fp8, mxfp4, awq, gptq, nf4, int8 or a GGUF type (Q4_K_M ...). "
                   "Default: the checkpoint as published (bf16 for most models, FP8 for DeepSeek "
                   "V3/R1, MXFP4 for gpt-oss; an Ollama name's tag quantization, Q4_K_M unless it says otherwise).")
@click.option("--context", "-c", type=int, default=None, help="Context length in tokens. Default 8192, or the model's maximum if smaller."
              " A reasoning model's default holds the output its publisher recommends (a long prompt needs a longer context).")
@click.option("--batch", "-b", type=int, default=None, help="Sequences at once. Default 1.")
@click.option("--gpus", "-n", type=int, default=None,
              help="GPUs of this kind. Default 1, or as many as detected when GPU is left out. "
                   "With a set as GPU (rtx-3090,2x rtx-3060-12gb) leave it out, or give the "
                   "set's count.")
@click.option("--kv-cache", default=None,
              help="KV cache precision: fp16, bf16, fp8 (vLLM), q8_0, q5_1, q5_0, q4_1, iq4_nl, "
                   "q4_0 (llama.cpp), mlx-8bit, mlx-4bit (mlx-lm's --kv-bits). Default fp16, which plans may quantize; given, every plan "
                   "recommended over the question keeps it, and without --runtime a cache the "
                   "format's runtime lacks names the runtime that offers it (fp8: vLLM).")
@click.option("--runtime", default=None,
              help="llama.cpp, ollama, vllm, transformers, mlx (Apple silicon) or sglang: whose allocations to size, and the "
                   "only runtime plans use. Default: ollama for an Ollama name (llama3.1:70b), "
                   "else the format's (llama.cpp for GGUF and 16-bit weights, vLLM for quantized "
                   "checkpoints, mlx for MLX's mlx-4bit ...; a published MXFP4 or FP8 checkpoint "
                   "that runtime cannot run on the GPU, as on a Mac, is sized as llama.cpp's "
                   "MXFP4_MOE or Q8_0 GGUF, as is one asked with --runtime llama.cpp), and plans "
                   "may switch.")
@click.option("--flash-attn", "flash_attn", type=click.Choice(["on", "off", "auto"]), default="auto",
              show_default=True,
              help="llama.cpp's -fa: auto (on wherever the backend has the kernels: CUDA, ROCm, "
                   "Metal, Vulkan) or off, which adds f32 attention scores over the whole context "
                   "to the compute buffer and rules out a quantized V cache. Plans turn it on.")
@click.option("--n-gpu-layers", "-ngl", "n_gpu_layers", type=str, default=None,
              help="llama.cpp's -ngl (Ollama's num_gpu): layers on the GPU as llama.cpp counts "
                   "them, 0 to the model's layers + 1 (the output layer is the last; a GGUF's "
                   "trailing block, GLM-4.5's NextN, counts too; a larger "
                   "number, as in -ngl 99, or 'all' means every layer; 'auto' is the default). "
                   "Fewer than all: the rest run from system RAM, and the question is sized at "
                   "that split. Default: every layer on the GPUs.")
@click.option("--tensor-split", "-ts", "tensor_split", type=str, default=None,
              help="llama.cpp's -ts over several GPUs: one share a card, in device order, "
                   "comma-separated (3,1,1; llama.cpp's '/' also works). Every card is sized at "
                   "the layers llama.cpp gives it from these shares, and the command keeps them. "
                   "Default: llama.cpp's split by each card's free memory.")
@click.option("--gpu-memory-utilization", "gpu_memory_utilization", type=float, default=None,
              help="vLLM's share of each GPU (its --gpu-memory-utilization). Default 0.9, which "
                   "plans may raise to what the card allows (0.95 on a 24 GB card); given, every "
                   "plan keeps it.")
@click.option("--vllm-version", "vllm_version", type=click.Choice(["v1", "0.5"]), default=None,
              help="Whose start-up memory profiling to size vLLM by: v1 (the V1 engine of every "
                   "release since 0.8) or 0.5 (the V0 engine of 0.5.3.post1-0.5.x). Default v1.")
@click.option("--mem-fraction-static", "mem_fraction_static", type=float, default=None,
              help="SGLang's --mem-fraction-static: the share of each GPU's free memory at "
                   "start for weights and the KV pool (with --runtime sglang). Default: SGLang's "
                   "own for the card and TP size; given, every plan keeps it.")
@click.option("--data-parallel-size", "data_parallel_size", type=int, default=None,
              help="vLLM's --data-parallel-size: engine replicas, each with its own KV cache "
                   "for the full context; the --gpus are data parallel x tensor parallel (TP = "
                   "GPUs / DP). Implies --runtime vllm unless --runtime sglang is asked (SGLang's "
                   "--dp-size); every plan keeps it.")
@click.option("--enable-expert-parallel", "enable_expert_parallel", is_flag=True, default=False,
              help="vLLM's --enable-expert-parallel: whole routed experts a GPU, over all "
                   "DP x TP GPUs (mixture-of-experts models only). Implies --runtime vllm unless "
                   "--runtime sglang is asked (SGLang's --ep-size).")
@click.option("--prefer", type=click.Choice(["quality", "speed", "cost"]), default=None,
              help="What the plans optimise (rules/objective.yaml). Default: quality.")
@format_option("markdown", "json")
@rules_option
@kb_option
@click.option("--prompt-tokens", type=int, default=512, show_default=True,
              help="Prompt length for prefill speed and time to first token.")
@click.option("--ram-gb", type=float, default=None,
              help="System RAM for CPU offload, in GB as RAM is sold (binary: 64 means 64 GiB). "
                   "Default 64 (a desktop).")
@click.option("--ram-bandwidth", type=float, default=None,
              help="System RAM bandwidth in GB/s. Default 76.8 (dual-channel DDR5-4800).")
@finetune_options
@train_tokens_option
@click.option("--why", is_flag=True,
              help="Also list the rules that fired, in order, with the facts each one read.")
def explain(model, gpu, precision, context, batch, gpus, kv_cache, runtime, flash_attn, n_gpu_layers,
            tensor_split, gpu_memory_utilization, vllm_version, mem_fraction_static, data_parallel_size,
            enable_expert_parallel, prefer, fmt, rules_dirs,
            kb_dirs, prompt_tokens, ram_gb, ram_bandwidth, why, task, train_tokens, **finetune):
    """Explain whether MODEL runs on GPU, and what to do if it does not. GPU is a KB id
    (rtx-4090) or a set of cards, comma-separated, each with an optional count: rtx-3090,2x
    rtx-3060-12gb (docs/hardware.md). Without GPU: on the GPUs and RAM detected on this
    machine (advisor hardware shows them)."""
    from advisor.advise import Advisor
    from advisor.render import render_json, render_markdown

    spec, defaults = finetune_spec(task, finetune, given_options(click.get_current_context(), {
        "precision": precision, "context": context, "batch": batch, "runtime": runtime,
        "kv_cache": kv_cache, "flash_attn": flash_attn, "n_gpu_layers": n_gpu_layers,
        "tensor_split": tensor_split,
        "gpu_memory_utilization": gpu_memory_utilization, "vllm_version": vllm_version,
        "mem_fraction_static": mem_fraction_static,
        "data_parallel_size": data_parallel_size,
        "enable_expert_parallel": enable_expert_parallel or None, "prefer": prefer,
        "prompt_tokens": prompt_tokens, "ram_gb": ram_gb, "ram_bandwidth": ram_bandwidth}))
    spec = with_train_tokens(spec, train_tokens)
    batch = 1 if batch is None else batch
    if precision is None:
        defaults = defaults | {"precision"}
    if context is None:
        defaults = defaults | {"context"}
    if runtime is None and not (gpu_memory_utilization is not None or vllm_version is not None
                                or data_parallel_size is not None or enable_expert_parallel):
        defaults = defaults | {"runtime"}  # vLLM's own settings name vLLM (advise.explain)
    if n_gpu_layers is None:
        defaults = defaults | {"n_gpu_layers"}
    from advisor.sizing.workload import Workload

    from advisor.errors import AdvisorError

    work = Workload(prompt_tokens=prompt_tokens)
    if vllm_version is not None:
        if runtime is not None and runtime.strip().lower() != "vllm":
            raise AdvisorError(f"--vllm-version is how vLLM is sized; --runtime {runtime} is not "
                               "vLLM (leave it out, or ask --runtime vllm)")
        if vllm_version == "0.5" and (data_parallel_size or enable_expert_parallel):
            raise AdvisorError("--data-parallel-size and --enable-expert-parallel are sized for the V1 "
                               "engine; vLLM 0.5 had neither (leave out --vllm-version 0.5)")
        work = replace(work, vllm_version=vllm_version)
    if mem_fraction_static is not None:
        if runtime is None or runtime.strip().lower() != "sglang":
            raise AdvisorError("--mem-fraction-static is SGLang's share of each GPU; ask it with "
                               "--runtime sglang (vLLM's is --gpu-memory-utilization)")
        if not 0 < mem_fraction_static <= 1:  # also refuses nan
            raise AdvisorError(f"--mem-fraction-static is SGLang's share of each GPU for weights "
                               f"and KV cache, above 0 and at most 1, not {mem_fraction_static}")
        work = replace(work, mem_fraction_static=mem_fraction_static)
    kb, machine = load_kb_from(kb_dirs), None
    if gpu is None:  # this machine's GPUs and RAM
        from advisor.cli.hardware import detected, detected_count

        kb, machine = detected(kb)
        gpu, gpus = machine.gpu.id, detected_count(machine.count, gpus)
        if machine.ram_bytes is not None:
            work = replace(work, ram_bytes=machine.ram_bytes)

    if ram_gb is not None:  # RAM is sold in binary sizes: "64 GB" of DIMMs is 64 GiB
        if not 0 <= ram_gb < 1e6:  # also refuses nan
            raise AdvisorError(f"--ram-gb must be a size in GiB from 0 to 1,000,000, not {ram_gb}")
        work = replace(work, ram_bytes=int(ram_gb * 2**30))
    if ram_bandwidth is not None:
        if not 0.1 <= ram_bandwidth < 1e5:
            raise AdvisorError(f"--ram-bandwidth must be in GB/s, from 0.1 to 100,000, not {ram_bandwidth}")
        work = replace(work, ram_bandwidth_gb_s=ram_bandwidth)
    rules, objective = load_rules_from(rules_dirs)
    advisor = Advisor(kb, rules, objective)
    adv = advisor.explain(model, gpu, precision, context, batch, gpus, work, kv_cache, runtime,
                          finetune=spec, prefer=prefer,
                          gpu_memory_utilization=gpu_memory_utilization,
                          flash_attn=None if flash_attn == "auto" else flash_attn,
                          data_parallel=data_parallel_size,
                          expert_parallel=enable_expert_parallel, gpu_layers=n_gpu_layers,
                          tensor_split=tensor_split,
                          every_path=fmt == "json" or why)
    if getattr(adv.situation.model, "weights_inventory", None) is not None:
        defaults.discard("precision")  # the file's own precision, not a default
    if adv.precision_source:
        defaults.discard("precision")  # the Ollama tag's, stated in the advisory
    text = render_json(adv) if fmt == "json" else render_markdown(adv, defaults)
    if machine is not None:
        from advisor.cli.hardware import with_machine

        text = with_machine(text, fmt, machine, ram_gb is not None, ram_bandwidth is not None)
    if why:
        from advisor.rules.why import add_why

        text = add_why(text, fmt, adv, advisor.rules, advisor.objective)
    write_markdown(text, fmt)
