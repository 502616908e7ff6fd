"""vLLM and SGLang take their share of each GPU at start and fill what the weights and buffers
leave with the KV cache pool (expert review 3, fault 9): the advisory says so in the Memory
section and the JSON carries it, consistent with the largest context and SGLang's own figure."""
import json
import re

from click.testing import CliRunner

from advisor.cli import main


def _explain(*args, fmt="json"):
    r = CliRunner().invoke(main, ["explain", *args, "--format", fmt])
    assert r.exit_code == 0, r.output
    return json.loads(r.output) if fmt == "json" else r.output


def test_vllm_pool_is_the_largest_context_where_the_model_allows_more():
    # 70B BF16 on 2 x H100: the pool, not the model's limit, bounds the context
    j = _explain("llama-3.1-70b", "h100-80gb", "-n", "2", "--runtime", "vllm", "-p", "bf16")
    pool = j["memory"]["kv_pool"]
    assert pool["share"] == 0.9
    assert pool["tokens"] % 16 == 0  # whole 16-token blocks
    assert pool["tokens"] == j["memory"]["max_context_tokens"]["fp16"]
    per_token = j["memory"]["kv_cache_bytes"] / j["workload"]["context_tokens"]
    assert pool["tokens"] * per_token <= pool["bytes"] < (pool["tokens"] + 16) * per_token


def test_vllm_pool_grows_with_the_share():
    a = _explain("llama-3.1-8b", "h100-80gb", "--runtime", "vllm")["memory"]["kv_pool"]
    b = _explain("llama-3.1-8b", "h100-80gb", "--runtime", "vllm",
                 "--gpu-memory-utilization", "0.5")["memory"]["kv_pool"]
    assert b["share"] == 0.5 and 0 < b["tokens"] < a["tokens"]


def test_sglang_pool_matches_its_logged_figure_and_is_said_in_memory():
    args = ("llama-3.1-8b", "h100-80gb", "--runtime", "sglang", "--mem-fraction-static", "0.8")
    pool = _explain(*args)["memory"]["kv_pool"]
    text = _explain(*args, fmt="markdown")
    logged = int(re.search(r"max_total_num_tokens ([\d,]+)", text).group(1).replace(",", ""))
    assert pool["tokens"] == logged and pool["share"] == 0.8
    memory = text.split("## Memory", 1)[1].split("## Speed", 1)[0]
    assert "SGLang takes 0.8 of each GPU when it starts" in memory
    # (SGLang's max_total_num_tokens: the pool in all, in sequences of the context asked)
    ctx = int(re.search(r"sequences of ([\d,]+) tokens at once", memory).group(1).replace(",", ""))
    assert f"room for {logged:,} tokens in all: {logged // ctx} sequences of {ctx:,} tokens" in memory
    assert "not memory free for other programs" in memory


def test_llama_cpp_has_no_pool():
    j = _explain("llama-3.1-8b", "rtx-4090")
    assert "kv_pool" not in j["memory"]


def test_a_share_raised_to_the_cards_most_is_called_at_the_edge():
    """Review 3, fault 10: a plan that needs the most of each GPU vLLM can take says how little
    it leaves outside (Kimi K2 on 8 x H200 at 0.99; a 72B AWQ on 2 x 3090 at 0.95)."""
    j = _explain("qwen2.5-72b", "rtx-3090", "-n", "2", "--runtime", "vllm")
    changes = " ".join(j["plan"]["changes"])
    assert "share of each GPU 0.95 (at the edge: the 1.2 GiB a GPU left outside it" in changes
    calm = _explain("llama-3.1-70b", "h100-80gb", "-n", "2", "--runtime", "vllm")["plan"]
    assert calm["gpu_memory_utilization"] == 0.9
    assert not any("at the edge" in c for c in calm["changes"])
