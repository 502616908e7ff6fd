"""Which runtime runs which weight format on which hardware, and why not where it does not.

The planner offers only plans a runtime can run; an advisory whose question names a combination
that cannot run says so with the reason given here. Each entry cites the runtime's documentation:

- llama.cpp runs GGUF files (every llama.cpp type) on CUDA, ROCm/HIP, Metal, Vulkan and SYCL, and
  16/32-bit weights converted to GGUF F16/BF16/F32. It has no loader for AWQ, GPTQ, FP8,
  bitsandbytes or MXFP4 safetensors checkpoints: those are converted (convert_hf_to_gguf.py) and
  re-quantized to a GGUF type. https://github.com/ggml-org/llama.cpp/blob/master/docs/build.md
  It has no backend for Intel Gaudi accelerators: its SYCL backend runs Intel's GPUs (Data
  Center Max, Flex, Arc, integrated ones), and Gaudi is none of them
  (https://github.com/ggerganov/llama.cpp/blob/0617335927f66fe7d6de1825d36f5c7fb28c0448/docs/backend/SYCL.md#hardware).
- vLLM runs Hugging Face checkpoints on NVIDIA (CUDA, compute capability 7.0+) and AMD (ROCm)
  GPUs; not on Apple GPUs (CPU only on macOS). FP8 needs FP8 tensor math (Ada, Hopper,
  Blackwell, CDNA3) or, weight-only with Marlin kernels, Ampere; AWQ and GPTQ kernels need compute capability 7.5+ (Turing and newer) or
  ROCm; bfloat16 needs Ampere or newer (older cards run the model in float16); MXFP4 (gpt-oss)
  runs on Hopper, Blackwell, CDNA3, CDNA4 and RDNA4 (Radeon AI PRO R9700), and weight-only with
  the Marlin MXFP4 MoE kernel on Ampere and Ada ("GPT-OSS works on Ampere devices by default,
  using the TRITON_ATTN attention backend and Marlin MXFP4 MoE",
  https://github.com/vllm-project/recipes/blob/main/OpenAI/GPT-OSS.md).
  https://docs.vllm.ai/en/latest/features/quantization/supported_hardware.html
  and https://docs.vllm.ai/en/latest/getting_started/installation/gpu.html
- vLLM's ROCm builds run these AMD targets only: "MI200s (gfx90a), MI300 (gfx942), MI350
  (gfx950), Radeon RX 7900 series (gfx1100/1101), Radeon RX 9000 series (gfx1200/1201), Ryzen AI
  MAX / AI 300 Series (gfx1151/1150)" (docs/getting_started/installation/gpu.rocm.inc.md,
  requirements, vllm-project/vllm main of 2026; v0.5-0.6 listed gfx90a, gfx942 and gfx1100).
  The MI100 (gfx908) and the RX 7600 (gfx1102) are not among them (GPU.gfx_target).
- vLLM loads a model only where its model registry has a class for the Hugging Face
  architecture its config.json names (Model.hf_architecture): ModelRegistry.resolve_model_cls
  fails with "Model architectures [...] are not supported for now" otherwise. Which classes each
  version modelled here (--vllm-version) has, read from that release's registry, is
  advisor/data/vllm_architectures.yaml (advisor.sizing.vllm_models): vLLM 0.5.5 has no Qwen3,
  Gemma 3, DeepSeek V3 or gpt-oss class, for example. SGLang likewise loads only the classes its
  registry has (each python/sglang/srt/models/ module's EntryClass), read from its 0.5.23 wheel
  into advisor/data/sglang_architectures.yaml (advisor.sizing.runtime_models.SGLANG): it has no
  SmolLM3, Seed-OSS, ERNIE 4.5 dense, dots.llm1 or Phi-3-vision class, and would try its generic
  Transformers backend for those, which is not sized here.
- vLLM runs DeepSeek V3.2's sparse attention (the lightning indexer's DeepGEMM kernels and
  FlashMLA sparse) on Hopper and Blackwell data-center GPUs, SM90 and SM100 ("Only Hopper and
  Blackwell data center GPUs are supported for now", its recipe of September 2025; "We plan to
  expand the architectures supported beyond Hopper and Blackwell", vLLM's DeepSeek-V3.2-Exp post,
  https://github.com/vllm-project/vllm-project.github.io/blob/main/_posts/2025-09-29-deepseek-v3-2.md),
  and since v0.12.0 on AMD Instinct (CDNA3, CDNA4: "DeepSeek v3.2 + SparseMLA support (#26670)",
  https://github.com/vllm-project/vllm/releases/tag/v0.12.0). Later releases enable DSA models on
  SM120 (v0.24.0: "enabled on SM120 alongside GLM-5.1", #43477) for DeepSeek-V4; whether that
  covers V3.2 was not read, so consumer and workstation Blackwell stay refused.
- llama.cpp and Ollama run a Hugging Face checkpoint only once convert_hf_to_gguf.py has made a
  GGUF of it, which it does for the architecture classes it has a converter for (read from
  llama.cpp's source into advisor/data/llamacpp_architectures.yaml: no Phi-3-vision, no mllama);
  a model of another class runs under them only from a GGUF published of it (Model.gguf_repos).
- Neither llama.cpp nor vLLM runs Llama 3.2 Vision (mllama, cross-attention layers): llama.cpp
  has no mllama architecture, and vLLM removed it with the V0 encoder-decoder runner
  (https://github.com/vllm-project/vllm/pull/24907, September 2025, before v0.11.0). transformers
  runs it (MllamaForConditionalGeneration).
- Ollama runs what llama.cpp runs: since v0.30.0 it starts the upstream llama-server binary for
  every GGML model (ollama/ollama#16031, advisor/sizing/ollama.py), on CUDA, ROCm, Metal and
  Vulkan; its library tags and `hf.co/ORG/REPO:QUANT` are GGUF files. A safetensors checkpoint
  (AWQ, GPTQ, FP8) is not a GGUF: Ollama imports only 16-bit safetensors of some architectures
  (`ollama create`), which this tool does not plan.
- MLX (mlx-lm: mlx_lm.generate, mlx_lm.server) runs on Apple silicon only: MLX's GPU backend
  is Metal ("MLX is an array framework for machine learning on Apple silicon",
  https://github.com/ml-explore/mlx/blob/846d176227a0ac13d2667e58d2bb68b322109ab0/README.md; its
  CUDA backend is a separate build not sized here). mlx-lm loads Hugging Face 16-bit checkpoints
  and MLX's own quantized repos (mlx_lm.convert -q, the mlx-community repos); it has no loader
  for GGUF files, and AWQ/GPTQ only through a conversion (mlx_lm/utils.py _transform_awq_weights
  at ml-explore/mlx-lm d78bf58e217c904ec282ed8da9b947491f78c022), which this tool does not plan.
  MLX's affine formats run in MLX only.
- SGLang (python -m sglang.launch_server) runs Hugging Face checkpoints on NVIDIA GPUs (CUDA;
  its kernels, sgl-kernel and FlashInfer, are built for Turing, compute capability 7.5, and
  newer) and on AMD Instinct MI300X/MI325X (CDNA3) and MI350/MI355X (CDNA4) with ROCm
  ("SGLang supports AMD Instinct MI300X/MI325X/MI355X", docs/platforms/amd_gpu.md in
  sgl-project/sglang); its Apple-silicon MLX backend (SGLANG_USE_MLX=1) is experimental and not
  sized here. Formats and kernels as vLLM's: FP8 where the card computes in FP8 (weight-only on
  Ampere), AWQ/GPTQ on Turing and newer, MXFP4 as vLLM, DeepSeek V3.2's sparse attention (NSA)
  on Hopper, Blackwell data-center GPUs and CDNA3/CDNA4; its GGUF loader is experimental, so
  GGUF files run with llama.cpp. --quantization's values: python/sglang/srt/server_args.py
  QUANTIZATION_CHOICES.
- transformers (PyTorch) runs 16/32-bit weights on CUDA, ROCm and Apple's MPS; bitsandbytes
  (int8, nf4) and the AWQ/GPTQ kernels on CUDA (and ROCm builds); FP8 where the card computes in
  FP8. https://huggingface.co/docs/transformers/main/en/quantization/overview
"""
from __future__ import annotations

from advisor.sizing.constants import GGML_RUNTIMES, LLAMA_MAX_DEVICES
from advisor.kb.formats import native_formats
from advisor.sizing.runtime_models import LLAMACPP_CONVERTER, SGLANG
from advisor.sizing.vllm_models import cannot_load
from advisor.kb.schema import GPU
from advisor.sizing.precision import Precision, parse_precision

RUNTIMES = ("llama.cpp", "ollama", "vllm", "transformers", "mlx", "sglang")
# How each runtime is named in prose.
RUNTIME_NAMES = {"llama.cpp": "llama.cpp", "ollama": "Ollama", "vllm": "vLLM", "transformers": "transformers",
                 "mlx": "MLX (mlx-lm)", "sglang": "SGLang"}
# AMD GPUs SGLang's ROCm builds support (see above).
_SGLANG_AMD_ARCHITECTURES = ("cdna3", "cdna4")
# NVIDIA architectures older than Turing (compute capability < 7.5): no AWQ/GPTQ kernels in vLLM.
_PRE_TURING = ("pascal", "volta")
# vLLM needs compute capability 7.0 (Volta) or newer: Pascal cards do not run it
# (https://docs.vllm.ai/en/latest/getting_started/installation/gpu.html, "GPU: compute capability 7.0 or higher").
_PRE_VOLTA = ("pascal",)
# The AMD LLVM targets vLLM's ROCm builds support (see above), and the families wholly outside
# them, for an AMD card whose entry gives no gfx_target (a user's entry, a detected card).
_VLLM_ROCM_TARGETS = ("gfx90a", "gfx942", "gfx950", "gfx1100", "gfx1101", "gfx1200", "gfx1201",
                      "gfx1150", "gfx1151")
_VLLM_ROCM_NOT = ("cdna1",)
# MXFP4 in vLLM: natively or with Marlin (Ampere, Ada, and Blackwell workstation cards), see above.
_VLLM_MXFP4_ARCHITECTURES = ("ampere", "ada-lovelace", "hopper", "blackwell", "cdna3", "cdna4", "rdna4")
# MXFP4 in transformers: its kernels (triton_kernels) need Hopper or newer; older cards dequantize.
_MXFP4_ARCHITECTURES = ("hopper", "blackwell", "cdna3", "cdna4")
# Ampere runs FP8 checkpoints weight-only (W8A16) with vLLM's Marlin kernels, computing in 16 bits
# (https://docs.vllm.ai/en/latest/features/quantization/fp8.html).
_FP8_WEIGHT_ONLY = ("ampere",)
# Accelerators no ggml backend runs (llama.cpp's SYCL backend is for Intel's GPUs, see above).
_NO_GGML_BACKEND = ("gaudi2", "gaudi3")
# DeepSeek V3.2's sparse attention in vLLM (see above).
_VLLM_SPARSE_MLA_ARCHITECTURES = ("hopper", "blackwell", "cdna3", "cdna4")
_CHECKPOINT_4BIT = ("awq", "gptq", "int4", "gptq-int8", "gptq-int3", "gptq-int2")


# Quantized formats vLLM, SGLang and transformers make from the 16-bit checkpoint as they load
# it: FP8 (vLLM and SGLang `--quantization fp8`; transformers FineGrainedFP8Config), 4-bit
# bitsandbytes (vLLM's in-flight `--quantization bitsandbytes` is 4-bit only,
# docs.vllm.ai/en/latest/features/quantization/bnb; transformers BitsAndBytesConfig, 4- and
# 8-bit). Every other checkpoint format (AWQ, GPTQ, W4A16, MXFP4, Meta's FP8-FFN, LLM.int8
# under vLLM/SGLang) needs a checkpoint made before: a calibration pass, not a load flag.
LOAD_TIME_FORMATS = {"vllm": ("fp8", "nf4"), "sglang": ("fp8",), "transformers": ("fp8", "nf4", "int8")}
# The tool that makes a 4-bit checkpoint of a format the model has none of, and what it writes
_MADE_WITH = {
    "int4": "llm-compressor (oneshot with GPTQModifier, scheme W4A16)",
    "awq": "llm-compressor (oneshot with AWQModifier) or AutoAWQ",
    "gptq": "GPTQModel (or llm-compressor's GPTQModifier, scheme W4A16)",
    "gptq-int8": "GPTQModel (bits=8)", "gptq-int3": "GPTQModel (bits=3)",
    "gptq-int2": "GPTQModel (bits=2)",
}


def no_checkpoint(runtime: str, p: Precision, model) -> str | None:
    """Why `runtime` cannot load `model` at checkpoint format `p`: no checkpoint of it is
    published (Model.checkpoints), the model is not stored at it (its native format, or the
    format of the file or folder asked about: FileModel.stored_precision) and the runtime does
    not make it at load time (LOAD_TIME_FORMATS). Loading the 16-bit repository instead would
    fill the memory sized for the quantized weights (a fits verdict, then an OOM at start).
    None where it can, or for runtimes and formats this does not apply to."""
    if runtime not in LOAD_TIME_FORMATS or p.family != "checkpoint" or model is None:
        return None
    stored = getattr(model, "stored_precision", None) or getattr(model, "native_precision", None) or "bf16"
    if p.name == stored or p.name in LOAD_TIME_FORMATS[runtime]:
        return None
    if any(ck.precision == p.name for ck in getattr(model, "checkpoints", ()) or ()):
        return None
    name = getattr(model, "name", None) or "this model"
    who = RUNTIME_NAMES.get(runtime, runtime)
    tool = _MADE_WITH.get(p.name)
    then = (f"make one first with {tool} and ask about the folder it writes, or ask for a "
            "published format" if tool else "ask for a published format or one it makes")
    made = " and ".join(", ".join(LOAD_TIME_FORMATS[runtime]).rsplit(", ", 1))
    return (f"No {p.name} checkpoint of {name} is published, and {who} makes only {made} from "
            f"the 16-bit weights as it loads them: {then}")


def cannot_run(runtime: str, p: Precision, gpu: GPU, model=None, gpus: int = 1,
               vllm_version: str | None = None, utilization: float | None = None) -> str | None:
    """Why `runtime` cannot run weights in format `p` on `gpu`, or None when it can. model: the
    model asked about, when known: the container matters as well as the type, so a model read
    from a GGUF file (advisor.files, a weights_inventory of format "gguf") is llama.cpp's at
    every type, its F32/F16/BF16 files too, and vLLM and transformers cannot run it; and vLLM
    loads only the Hugging Face architecture classes its model registry has at `vllm_version`
    (a key of advisor.sizing.vllm_memory.VLLM_VERSIONS; None: the default, "v1"), read from
    advisor/data/vllm_architectures.yaml (advisor.sizing.vllm_models.cannot_load). gpus: the
    cards of the question (a set's count): llama.cpp and Ollama drive at most LLAMA_MAX_DEVICES.
    utilization: vLLM's --gpu-memory-utilization of the question (None: not checked); where it
    asks more than the card has free once vLLM's CUDA context is up, vLLM stops at start
    (advisor.sizing.vllm_memory.vllm_utilization_problem). A share the user gave is refused
    before (advise: one line, exit 2), so a share that fails here is vLLM's default on a card
    too small for it (a 4 GB card). A format the model has no checkpoint of and the runtime
    does not make as it loads (no_checkpoint) cannot run either, after the card's reasons."""
    return (_cannot_run(runtime, p, gpu, model, gpus, vllm_version, utilization)
            or no_checkpoint(runtime, p, model))


def _cannot_run(runtime: str, p: Precision, gpu: GPU, model, gpus: int,
                vllm_version: str | None, utilization: float | None) -> str | None:
    vendor = gpu.vendor
    gguf = p.family == "gguf" or gguf_container(model)
    arch = getattr(model, "architecture", None)
    if runtime == "mlx":
        if vendor != "apple":
            return f"MLX runs on Apple silicon (Metal), not on {_vendor_name(vendor)} GPUs"
        if gguf:
            return "mlx-lm has no GGUF loader: run GGUF files with llama.cpp or Ollama"
        if p.family == "checkpoint":
            return (f"mlx-lm does not load {p.name} checkpoints as such: run the 16-bit "
                    "checkpoint or an MLX quantization (mlx-4bit, mlx-8bit)")
        if getattr(arch, "cross_attention_interval", None):
            return "mlx-lm has no Llama 3.2 Vision (mllama) text model: run it with transformers"
        return None
    if p.family == "mlx":
        return (f"{p.name} is MLX's own format (mlx_lm.convert): only MLX runs it, on Apple "
                "silicon (--runtime mlx)")
    if runtime == "sglang":
        return _sglang_cannot_run(p, gpu, gguf, arch, model)
    if getattr(arch, "cross_attention_interval", None) and runtime in ("llama.cpp", "vllm"):
        return (f"{RUNTIME_NAMES[runtime]} does not run Llama 3.2 Vision's cross-attention layers "
                "(mllama): llama.cpp has no such architecture and vLLM removed it in 2025; run "
                "it with transformers")
    if runtime == "ollama" and not gguf_container(model) and (
            getattr(arch, "cross_attention_interval", None)
            or getattr(model, "hf_architecture", None) == "MllamaForConditionalGeneration"):
        # Ollama's llama-server has no such architecture, and no GGUF can be made for it
        return ("Ollama runs the model with llama.cpp's llama-server, which has no Llama 3.2 "
                "Vision (mllama) architecture, and llama.cpp's convert_hf_to_gguf.py cannot "
                "convert MllamaForConditionalGeneration; Ollama's own library tag "
                "(llama3.2-vision) runs on Ollama's own engine, which this tool does not size: "
                "run it with transformers")
    if runtime in GGML_RUNTIMES:
        who = "llama.cpp" if runtime == "llama.cpp" else "Ollama (llama.cpp's engine)"
        if gpu.architecture in _NO_GGML_BACKEND:
            return (f"{who} has no backend for the {gpu.name}: its SYCL backend runs Intel's "
                    "GPUs (Data Center Max, Flex, Arc, integrated), not Gaudi accelerators")
        if p.family == "checkpoint":
            return (f"{who} has no loader for {p.name} checkpoints: it runs GGUF files "
                    "(convert and quantize to a GGUF type such as Q8_0 or Q4_K_M)")
        if gpus > LLAMA_MAX_DEVICES:
            return (f"{who} drives at most {LLAMA_MAX_DEVICES} GPUs in one process, RPC servers "
                    f"included (llama_max_devices), not {gpus}")
        if why := LLAMACPP_CONVERTER.cannot_convert(model):
            return f"{who} runs GGUF files, and {why}: run its checkpoint with another runtime"
        return None
    if runtime == "vllm":
        if vendor == "intel":
            # vLLM's installation docs list Intel XPU and Intel Gaudi (the vllm-gaudi plugin)
            # among its platforms: builds of their own, with their own kernels and memory
            # (HPU graphs, bucketing), which nothing here models; saying vLLM cannot run there
            # would be wrong (hostile pass 14B)
            what = "Gaudi (its vllm-gaudi plugin)" if gpu.architecture in _NO_GGML_BACKEND else "Intel GPUs (XPU)"
            return (f"vLLM runs on {what} in a build of its own, whose memory use and speed this "
                    "tool does not size: it sizes vLLM on NVIDIA and AMD GPUs only")
        if vendor not in ("nvidia", "amd"):
            return f"vLLM runs on NVIDIA and AMD GPUs, not on {_vendor_name(vendor)} GPUs"
        if vendor == "nvidia" and gpu.architecture in _PRE_VOLTA:
            return f"vLLM needs compute capability 7.0 or newer; the {gpu.name} (Pascal) is older"
        if vendor == "amd" and (gpu.gfx_target not in _VLLM_ROCM_TARGETS if gpu.gfx_target
                                else gpu.architecture in _VLLM_ROCM_NOT):
            target = f" ({gpu.gfx_target})" if gpu.gfx_target else ""
            return (f"vLLM's ROCm builds run the AMD targets gfx90a (MI200), gfx942 (MI300), "
                    f"gfx950 (MI350), gfx1100/1101 (RX 7700-7900, PRO W7800/W7900), gfx1200/1201 "
                    f"(RX 9000) and gfx1150/1151 (Ryzen AI 300/Max), not the {gpu.name}{target}: "
                    "run a GGUF with llama.cpp")
        if gguf:
            return ("vLLM's GGUF loader is experimental and under-optimized (and loads no split "
                    "files): run GGUF files with llama.cpp, or vLLM with its own 4-bit (AWQ/GPTQ) "
                    "or 8-bit (FP8) formats")
        no_class = cannot_load(model, vllm_version)
        if no_class is not None:
            return no_class
        if (p.name in ("fp8", "fp8-ffn") and "fp8" not in native_formats(gpu)
                and gpu.architecture not in _FP8_WEIGHT_ONLY):
            return _no_fp8_math(gpu, "vLLM")
        if p.name in _CHECKPOINT_4BIT and vendor == "nvidia" and gpu.architecture in _PRE_TURING:
            return f"vLLM's AWQ/GPTQ kernels need compute capability 7.5 or newer; the {gpu.name} is older"
        if p.name in _CHECKPOINT_4BIT and \
                vllm_float32_fallback(model, gpu, parse_precision("bf16"), "vllm") is not None:
            # the model's activations in float32 (no bfloat16 on the card, float16 refused for
            # the model), which vLLM's weight-quantized kernels do not take (their
            # get_supported_act_dtypes: "torch.float32 is not supported for quantization method")
            return (f"vLLM runs {getattr(model, 'name', 'this model')} in float32 on the "
                    f"{gpu.name} (no bfloat16 there, and vLLM refuses float16 for this model), "
                    f"and its {p.name} kernels take float16 or bfloat16 activations only: run "
                    "the 16-bit checkpoint (loaded in float32) or a GGUF with llama.cpp")
        if p.name == "mxfp4" and gpu.architecture not in _VLLM_MXFP4_ARCHITECTURES:
            return (f"vLLM's MXFP4 kernels run on Ampere and newer NVIDIA GPUs, CDNA3, CDNA4 and "
                    f"RDNA4, not on the {gpu.name}")
        if getattr(arch, "index_heads", None) and not (
                gpu.architecture in _VLLM_SPARSE_MLA_ARCHITECTURES and gpu.segment == "datacenter"):
            return (f"vLLM runs DeepSeek Sparse Attention (the lightning indexer) only on Hopper and "
                    f"Blackwell data-center GPUs and AMD Instinct MI300/MI350, not on the "
                    f"{gpu.name}: run a GGUF with llama.cpp")
        if utilization is not None:
            from advisor.sizing.vllm_memory import vllm_utilization_problem

            return vllm_utilization_problem(gpu, utilization, vllm_version or "v1", asked=False)
        return None
    if runtime == "transformers":
        if gguf:
            return "transformers dequantizes GGUF files to 16 bits on load: run GGUF files with llama.cpp"
        if vendor == "apple" and p.family != "float":
            return _no_mps_kernels(p.name)
        if vendor == "intel":
            return "transformers on Intel GPUs (XPU) is not sized by this tool"
        if p.name in ("fp8", "fp8-ffn") and "fp8" not in native_formats(gpu):
            return f"The {gpu.name} has no FP8 tensor math"
        if p.name == "mxfp4" and gpu.architecture not in _MXFP4_ARCHITECTURES:
            return f"transformers' MXFP4 kernels need Hopper or newer; the {gpu.name} dequantizes to BF16"
        return None
    return f"unknown runtime '{runtime}'"


def _sglang_cannot_run(p: Precision, gpu: GPU, gguf: bool, arch, model=None) -> str | None:
    """Why SGLang cannot run format `p` on `gpu` (module docstring), in the words of its
    requirements, or None; and why it cannot load `model`, whose Hugging Face class its model
    registry lacks (advisor/data/sglang_architectures.yaml, runtime_models.SGLANG)."""
    vendor = gpu.vendor
    if vendor == "apple":
        return ("SGLang runs on NVIDIA (CUDA) and AMD (ROCm) GPUs, not on Apple GPUs (its MLX "
                "backend is experimental): run it with MLX or llama.cpp")
    if vendor not in ("nvidia", "amd"):
        return f"SGLang runs on NVIDIA (CUDA) and AMD (ROCm) GPUs, not on {_vendor_name(vendor)} GPUs"
    if vendor == "nvidia" and gpu.architecture in _PRE_TURING:
        return (f"SGLang's kernels (sgl-kernel, FlashInfer) need compute capability 7.5 or newer; "
                f"the {gpu.name} is older")
    if vendor == "amd" and gpu.architecture not in _SGLANG_AMD_ARCHITECTURES:
        return (f"SGLang's ROCm builds run AMD Instinct MI300X/MI325X and MI350/MI355X (CDNA3, "
                f"CDNA4), not the {gpu.name}")
    if gguf:
        return "SGLang's GGUF loader is experimental: run GGUF files with llama.cpp"
    if p.family == "mlx":
        return f"{p.name} is MLX's own format: only MLX runs it, on Apple silicon (--runtime mlx)"
    no_class = SGLANG.cannot_load(model)
    if no_class is not None:
        return no_class
    if getattr(arch, "cross_attention_interval", None):
        return ("SGLang's Llama 3.2 Vision (mllama) cross-attention cache is not sized by this "
                "tool: run it with transformers")
    if (p.name in ("fp8", "fp8-ffn") and "fp8" not in native_formats(gpu)
            and gpu.architecture not in _FP8_WEIGHT_ONLY):
        return _no_fp8_math(gpu, "SGLang")
    if p.name == "mxfp4" and gpu.architecture not in _VLLM_MXFP4_ARCHITECTURES:
        return f"SGLang's MXFP4 kernels run on Ampere and newer NVIDIA GPUs and CDNA3/CDNA4, not on the {gpu.name}"
    if getattr(arch, "index_heads", None) and not (
            gpu.architecture in _VLLM_SPARSE_MLA_ARCHITECTURES and gpu.segment == "datacenter"):
        return (f"SGLang runs DeepSeek Sparse Attention (NSA) only on Hopper and Blackwell "
                f"data-center GPUs and AMD Instinct MI300/MI350, not on the {gpu.name}: run a GGUF "
                "with llama.cpp")
    return None


def _no_fp8_math(gpu: GPU, runtime: str) -> str:
    """Why vLLM or SGLang cannot run FP8 weights on `gpu` (no FP8 math, and not an Ampere card
    that runs them weight-only), in its own vendor's terms: NVIDIA's architectures and Marlin
    kernels are named only for an NVIDIA card."""
    if gpu.vendor == "nvidia":
        why = ("FP8 needs Ada, Hopper or Blackwell; Ampere runs FP8 weights with Marlin kernels")
    elif gpu.vendor == "amd":
        why = "on AMD cards FP8 needs FP8 math, as Instinct MI300 (CDNA3) and newer have"
    else:
        why = f"no FP8 kernels for {_vendor_name(gpu.vendor)} GPUs without FP8 math"
    return f"The {gpu.name} has no FP8 tensor math ({why}): {runtime}'s FP8 kernels do not run on it"


def _no_mps_kernels(name: str) -> str:
    """Why transformers cannot run a quantized checkpoint on Apple's MPS: the kernels of that
    format (not a list of every format's) are CUDA/ROCm only."""
    if name == "mxfp4":
        return "The MXFP4 kernels transformers uses (Triton) need an NVIDIA GPU, not Apple's MPS"
    kernels = {"nf4": "bitsandbytes NF4", "int8": "bitsandbytes int8", "awq": "AWQ",
               "int4": "GPTQ/AWQ", "fp8": "FP8", "fp8-ffn": "FP8"}.get(
        name, "GPTQ" if name.startswith("gptq") else name)
    return f"The {kernels} kernels transformers uses need an NVIDIA or AMD GPU, not Apple's MPS"


def gguf_container(model) -> bool:
    """The model was read from a GGUF file (its weights are that file's, whatever their type)."""
    inv = getattr(model, "weights_inventory", None)
    return inv is not None and getattr(inv, "format", None) == "gguf"


def default_runtime(p: Precision, gpu: GPU) -> str:
    """The runtime a format runs under when the user names none: llama.cpp for GGUF and 16-bit
    weights (every vendor, and it offloads), vLLM for quantized checkpoints on NVIDIA and AMD,
    transformers for bitsandbytes formats and for checkpoints on other hardware."""
    if p.family == "mlx":
        return "mlx"
    if p.family != "checkpoint":
        return "llama.cpp"
    if p.name in ("nf4", "int8"):
        return "transformers"
    return "vllm" if gpu.vendor in ("nvidia", "amd") else "transformers"


def runs_on(runtime: str, gpu: GPU) -> bool:
    """The runtime runs on this vendor's GPUs at all (some format of it)."""
    if runtime == "vllm":
        return gpu.vendor in ("nvidia", "amd") and gpu.architecture not in _PRE_VOLTA
    if runtime == "transformers":
        return gpu.vendor != "intel"
    if runtime == "mlx":
        return gpu.vendor == "apple"
    if runtime == "sglang":
        return ((gpu.vendor == "nvidia" and gpu.architecture not in _PRE_TURING)
                or (gpu.vendor == "amd" and gpu.architecture in _SGLANG_AMD_ARCHITECTURES))
    return gpu.architecture not in _NO_GGML_BACKEND


# vLLM's model types that refuse float16 ("Numerical instability. Please use bfloat16 or float32
# instead": _FLOAT16_NOT_SUPPORTED_MODELS in vllm/config/model.py: gemma2, gemma3, gemma3_text,
# plamo2, glm4), by the Hugging Face classes of those types that KB entries name (hf_architecture;
# Glm4MoeForCausalLM is glm4_moe, not listed).
_VLLM_NO_FLOAT16_CLASSES = ("Gemma2For", "Gemma3For", "Plamo2For", "Glm4For")


def vllm_float32_fallback(model, gpu: GPU, p: Precision, runtime: str) -> Precision | None:
    """fp32 where vLLM loads a 16-bit checkpoint in float32, else None: a model type that refuses
    float16 (_VLLM_NO_FLOAT16_CLASSES) on a card without bfloat16 (T4, V100, older): `--dtype
    auto` then takes float32, the platform's next supported dtype (_resolve_auto_dtype), so the
    weights are 4 bytes a weight and an explicit `--dtype float16` fails at start."""
    if runtime != "vllm" or p.name not in ("bf16", "fp16") or "bf16" in native_formats(gpu):
        return None
    if not (getattr(model, "hf_architecture", None) or "").startswith(_VLLM_NO_FLOAT16_CLASSES):
        return None
    return parse_precision("fp32")


def half_fallback(gpu: GPU, native_precision: str) -> str | None:
    """"float16" when the checkpoint is bf16 and the card lacks bfloat16 (the dtype PyTorch must
    be told to load it in), else None. vLLM is never told: its `--dtype auto` keeps the
    checkpoint's dtype where the card computes it and otherwise falls back to the platform's
    first supported dtype itself, with a warning, and for the models that refuse float16
    (Gemma 2/3, GLM-4: _FLOAT16_NOT_SUPPORTED_MODELS) to float32, where an explicit
    `--dtype float16` fails at start (vllm/config/model.py _resolve_auto_dtype and
    _check_valid_dtype, commit 18ec6629253632af0a384f2ffbb8c6b28af322e7)."""
    if native_precision == "bf16" and "bf16" not in native_formats(gpu):
        return "float16"
    return None


def _vendor_name(vendor: str) -> str:
    return {"nvidia": "NVIDIA", "amd": "AMD", "apple": "Apple", "intel": "Intel"}.get(vendor, vendor)
