"""Every card and model named in issue 13 resolves by its common name and, for models, by its
Hugging Face repo id, offline (HF_HUB_OFFLINE=1, set by conftest): the repo ids are answered by
the KB's aliases, not by the Hub. The lists below are the issue's, so that a renamed or dropped
alias fails here. Family names that name several entries ("Nemotron", "OLMo 2", "Granite 3.x")
are not aliases of one of them; they fail with the closest ids, which name the family's members."""
import json

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.errors import AdvisorError
from advisor.files import resolve_model

GPU_NAMES = {
    "RTX 2080 Ti": "rtx-2080-ti", "RTX 3060 Ti": "rtx-3060-ti", "RTX 4060": "rtx-4060",
    "RTX 4060 Ti 8GB": "rtx-4060-ti-8gb", "RTX 4070 Super": "rtx-4070-super",
    "RTX 4070 Ti Super": "rtx-4070-ti-super", "RTX 4080 Super": "rtx-4080-super",
    "RTX 5060 Ti 16GB": "rtx-5060-ti-16gb", "RTX 5070": "rtx-5070", "RTX 5070 Ti": "rtx-5070-ti",
    "Tesla P40": "tesla-p40", "V100 PCIe 16GB": "v100-pcie-16gb", "V100 PCIe 32GB": "v100-pcie-32gb",
    "A2": "a2", "L20": "l20", "H20": "h20", "H800": "h800", "A800": "a800-80gb", "B100": "b100",
    "GB200": "gb200", "B300": "b300", "MI355X": "mi355x", "MI350X": "mi350x", "MI100": "mi100",
    "RX 7800 XT": "rx-7800-xt", "RX 9070 XT": "rx-9070-xt", "Radeon PRO W7900": "radeon-pro-w7900",
    "Arc A770": "arc-a770-16gb", "Arc Pro B60": "arc-pro-b60",
    "Apple M1 (8 GB)": "m1-8gb", "Apple M1 (16 GB)": "m1-16gb", "Apple M2 (8 GB)": "m2-8gb",
    "Apple M2 (24 GB)": "m2-24gb", "Apple M3 (8 GB)": "m3-8gb", "Apple M3 (24 GB)": "m3-24gb",
    "Apple M4 (16 GB)": "m4-16gb", "Apple M4 (32 GB)": "m4-32gb",
    "Apple M1 Pro (16 GB)": "m1-pro-16gb", "Apple M2 Pro (16 GB)": "m2-pro-16gb",
    "Apple M3 Pro (18 GB)": "m3-pro-18gb", "Apple M4 Pro (24 GB)": "m4-pro-24gb",
    "M3 Ultra 256GB": "m3-ultra-256gb", "Apple M3 Ultra (512 GB)": "m3-ultra-512gb",
    "AMD Ryzen AI Max+ 395": "ryzen-ai-max-395-128gb", "Strix Halo": "ryzen-ai-max-395-128gb",
    "DGX Spark": "dgx-spark", "NVIDIA DGX Spark": "dgx-spark", "GB10": "dgx-spark",
    "Jetson AGX Orin": "jetson-agx-orin-64gb",
}

MODEL_NAMES = {
    # Qwen3 2507 Instruct / Thinking
    "Qwen3-30B-A3B-Instruct-2507": "qwen3-30b-a3b-instruct-2507",
    "Qwen/Qwen3-30B-A3B-Instruct-2507": "qwen3-30b-a3b-instruct-2507",
    "Qwen/Qwen3-30B-A3B-Thinking-2507": "qwen3-30b-a3b-thinking-2507",
    "Qwen/Qwen3-235B-A22B-Instruct-2507": "qwen3-235b-a22b-instruct-2507",
    "Qwen/Qwen3-235B-A22B-Thinking-2507": "qwen3-235b-a22b-thinking-2507",
    "Qwen/Qwen3-4B-Instruct-2507": "qwen3-4b-instruct-2507",
    "Qwen/Qwen3-4B-Thinking-2507": "qwen3-4b-thinking-2507",
    # Qwen3-Coder
    "Qwen3-Coder-30B-A3B-Instruct": "qwen3-coder-30b-a3b",
    "Qwen/Qwen3-Coder-30B-A3B-Instruct": "qwen3-coder-30b-a3b",
    "Qwen/Qwen3-Coder-480B-A35B-Instruct": "qwen3-coder-480b-a35b",
    # QwQ
    "QwQ-32B": "qwq-32b", "Qwen/QwQ-32B": "qwq-32b",
    # Mistral
    "Mistral Small 3.1": "mistral-small-3.1-24b",
    "mistralai/Mistral-Small-3.1-24B-Instruct-2503": "mistral-small-3.1-24b",
    "Mistral Small 3.2": "mistral-small-3.2-24b",
    "mistralai/Mistral-Small-3.2-24B-Instruct-2506": "mistral-small-3.2-24b",
    "Magistral": "magistral-small", "Magistral Small": "magistral-small",
    "mistralai/Magistral-Small-2506": "magistral-small",
    "mistralai/Magistral-Small-2509": "magistral-small-2509",
    "Devstral": "devstral-small", "Devstral Small": "devstral-small",
    "mistralai/Devstral-Small-2505": "devstral-small",
    "Mistral Large 2": "mistral-large-2", "mistralai/Mistral-Large-Instruct-2407": "mistral-large-2",
    "Ministral 8B": "ministral-8b", "mistralai/Ministral-8B-Instruct-2410": "ministral-8b",
    # Phi-4
    "Phi-4-mini": "phi-4-mini", "microsoft/Phi-4-mini-instruct": "phi-4-mini",
    "Phi-4-reasoning": "phi-4-reasoning", "microsoft/Phi-4-reasoning": "phi-4-reasoning",
    # Gemma 3 270M
    "Gemma 3 270M": "gemma-3-270m", "google/gemma-3-270m": "gemma-3-270m",
    "google/gemma-3-270m-it": "gemma-3-270m",
    # DeepSeek
    "DeepSeek V3.1": "deepseek-v3.1", "deepseek-ai/DeepSeek-V3.1": "deepseek-v3.1",
    "R1-0528": "deepseek-r1", "DeepSeek-R1-0528": "deepseek-r1",
    "deepseek-ai/DeepSeek-R1-0528": "deepseek-r1",
    "DeepSeek-R1-0528-Qwen3-8B": "deepseek-r1-0528-qwen3-8b",
    "deepseek-ai/DeepSeek-R1-0528-Qwen3-8B": "deepseek-r1-0528-qwen3-8b",
    # Kimi K2
    "Kimi K2": "kimi-k2", "moonshotai/Kimi-K2-Instruct": "kimi-k2",
    # GLM
    "GLM-4.5": "glm-4.5", "zai-org/GLM-4.5": "glm-4.5",
    "GLM-4.5-Air": "glm-4.5-air", "zai-org/GLM-4.5-Air": "glm-4.5-air",
    "GLM-4.6": "glm-4.6", "zai-org/GLM-4.6": "glm-4.6",
    # MiniMax, Cohere
    "MiniMax-M2": "minimax-m2", "MiniMaxAI/MiniMax-M2": "minimax-m2",
    "Command A": "command-a", "CohereLabs/c4ai-command-a-03-2025": "command-a",
    # Nemotron, Granite 3.x, OLMo 2, SmolLM3: each member by name and repo id
    "Llama 3.1 Nemotron 70B": "llama-3.1-nemotron-70b",
    "nvidia/Llama-3.1-Nemotron-70B-Instruct-HF": "llama-3.1-nemotron-70b",
    "Nemotron Nano 8B": "llama-3.1-nemotron-nano-8b",
    "nvidia/Llama-3.1-Nemotron-Nano-8B-v1": "llama-3.1-nemotron-nano-8b",
    "Granite 3.0 8B": "granite-3.0-8b", "ibm-granite/granite-3.0-8b-instruct": "granite-3.0-8b",
    "Granite 3.1 8B": "granite-3.1-8b", "ibm-granite/granite-3.1-8b-instruct": "granite-3.1-8b",
    "Granite 3.2 8B": "granite-3.2-8b", "ibm-granite/granite-3.2-8b-instruct": "granite-3.2-8b",
    "Granite 3.3 8B": "granite-3.3-8b", "ibm-granite/granite-3.3-8b-instruct": "granite-3.3-8b",
    "ibm-granite/granite-3.3-2b-instruct": "granite-3.3-2b",
    "OLMo 2 7B": "olmo-2-7b", "allenai/OLMo-2-1124-7B-Instruct": "olmo-2-7b",
    "OLMo 2 13B": "olmo-2-13b", "allenai/OLMo-2-1124-13B-Instruct": "olmo-2-13b",
    "OLMo 2 32B": "olmo-2-32b", "allenai/OLMo-2-0325-32B-Instruct": "olmo-2-32b",
    "OLMo 2 1B": "olmo-2-1b", "allenai/OLMo-2-0425-1B-Instruct": "olmo-2-1b",
    "SmolLM3": "smollm3-3b", "HuggingFaceTB/SmolLM3-3B": "smollm3-3b",
}

# Fine-tunes and re-releases of batch D (docs/models.md): common name and repo id
BATCH_D_NAMES = {
    "Hermes 4 14B": "hermes-4-14b", "NousResearch/Hermes-4-14B": "hermes-4-14b",
    "Hermes 4 70B": "hermes-4-70b", "NousResearch/Hermes-4-70B": "hermes-4-70b",
    "Hermes 4 405B": "hermes-4-405b", "NousResearch/Hermes-4-405B": "hermes-4-405b",
    "DeepScaleR-1.5B-Preview": "deepscaler-1.5b-preview",
    "agentica-org/DeepScaleR-1.5B-Preview": "deepscaler-1.5b-preview",
    "OpenThinker 7B": "openthinker-7b", "open-thoughts/OpenThinker-7B": "openthinker-7b",
    "OpenThinker 32B": "openthinker-32b", "open-thoughts/OpenThinker-32B": "openthinker-32b",
    "Sky-T1-32B-Preview": "sky-t1-32b-preview", "NovaSky-AI/Sky-T1-32B-Preview": "sky-t1-32b-preview",
    "Athene-V2-Chat": "athene-v2-chat", "Nexusflow/Athene-V2-Chat": "athene-v2-chat",
    "Cogito v1 Preview 14B": "cogito-v1-preview-qwen-14b",
    "deepcogito/cogito-v1-preview-qwen-14B": "cogito-v1-preview-qwen-14b",
    "QwQ-32B-Preview": "qwq-32b-preview", "Qwen/QwQ-32B-Preview": "qwq-32b-preview",
    "Granite 3.2 2B": "granite-3.2-2b", "ibm-granite/granite-3.2-2b-instruct": "granite-3.2-2b",
    "Llama-3.1-Nemotron-Nano-4B-v1.1": "llama-3.1-minitron-4b",
}

FAMILY_NAMES = {"Nemotron": "nemotron", "OLMo 2": "olmo-2", "Granite 3.x": "granite-3"}


@pytest.mark.parametrize("name, gpu_id", sorted(GPU_NAMES.items()))
def test_issue_gpu_names_resolve(kb, name, gpu_id):
    assert kb.gpu(name).id == gpu_id


@pytest.mark.parametrize("name, model_id", sorted({**MODEL_NAMES, **BATCH_D_NAMES}.items()))
def test_issue_model_names_resolve_offline(kb, name, model_id):
    # resolve_model is what `explain` uses: KB aliases first, then files, the HF cache, the Hub
    model, precision = resolve_model(kb, name)
    assert model.id == model_id and precision is None


@pytest.mark.parametrize("name, stem", sorted(FAMILY_NAMES.items()))
def test_family_names_point_at_their_members(kb, name, stem):
    with pytest.raises(AdvisorError, match="unknown model") as err:
        kb.model(name)
    assert stem in str(err.value)  # the closest ids it names are the family's


@pytest.mark.parametrize("model, gpu", [("zai-org/GLM-4.5-Air", "rtx-4090"),
                                        ("Qwen/Qwen3-Coder-30B-A3B-Instruct", "rtx-4090"),
                                        ("R1-0528", "rtx-4090"), ("llama-3.1-8b", "DGX Spark"),
                                        ("llama-3.1-8b", "Apple M4 Pro (24 GB)")])
def test_explain_takes_the_names(kb, model, gpu):
    result = CliRunner().invoke(main, ["explain", model, gpu, "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["model"]["id"] == kb.model(model).id and out["gpu"]["id"] == kb.gpu(gpu).id
