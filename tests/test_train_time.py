"""Training time of fine-tuning (--train-tokens): the FLOPs a token, the time model, the fit
against the published runs, the CLI and the advisory."""
import json
import math
import statistics

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.cli.finetune_options import parse_token_count
from advisor.limits import MAX_TRAIN_TOKENS
from advisor.sizing import constants as c
from advisor.sizing.finetune import FinetuneSpec
from advisor.sizing.speed import active_compute_parameters
from advisor.sizing.train_time import (
    architecture_flops,
    flops_per_token,
    micro_step_seconds,
    training_time,
)
from tests.cli_helpers import one_line_error

P = 10**9


def run(*args):
    return CliRunner().invoke(main, ["explain", *args])


# --- FLOPs a token ------------------------------------------------------------------------------

@pytest.mark.parametrize("method, ckpt, per_p", [("full", False, 6), ("full", True, 8),
                                                  ("lora", False, 4), ("lora", True, 6),
                                                  ("qlora", False, 4), ("qlora", True, 6)])
def test_matrix_flops_are_the_textbook_multiples(method, ckpt, per_p):
    """6P for full (2 forward + 4 backward), 8P with checkpointing; LoRA: no weight gradients
    of the frozen weights, 4P, 6P with checkpointing. No attention at sequence length 0."""
    f = flops_per_token(P, 0, layers=32, q_dim=4096, seq_len=0, method=method,
                        gradient_checkpointing=ckpt)
    assert f.total == per_p * P


def test_adapters_cost_six_flops_a_parameter_and_attention_grows_with_the_sequence():
    a = flops_per_token(P, 10**7, 32, 4096, 0, "lora", False)
    assert a.total == 4 * P + 6 * 10**7
    short = flops_per_token(P, 0, 32, 4096, 2048, "full", False)
    long = flops_per_token(P, 0, 32, 4096, 4096, "full", False)
    # 12 x layers x q_dim x seq for forward + backward, times the causal share
    assert short.attention == pytest.approx(12 * 32 * 4096 * 2048 * c.FT_ATTENTION_CAUSAL_SHARE)
    assert long.attention == pytest.approx(2 * short.attention)


def test_unknown_method_is_refused():
    from advisor.errors import AdvisorError

    with pytest.raises(AdvisorError, match="unknown --method"):
        flops_per_token(P, 0, 1, 1, 1, "dora", False)


def test_full_costs_more_than_lora_on_every_model(kb):
    for mid in ("llama-3.1-8b", "llama-3.1-70b", "qwen2.5-7b"):
        a = kb.model(mid).architecture
        full = architecture_flops(a, FinetuneSpec(method="full")).total
        lora = architecture_flops(a, FinetuneSpec(method="lora")).total
        assert full > lora > 0.6 * full
        # the parameters a token multiplies: Llama 3.1 8B's 7.5B (8.03B less the 0.53B embedding)
    assert active_compute_parameters(kb.model("llama-3.1-8b").architecture) == 7_504_924_672


# --- time ---------------------------------------------------------------------------------------

def test_hours_scale_linearly_with_tokens_and_inversely_with_gpus(kb):
    a, g = kb.model("llama-3.1-8b").architecture, kb.gpu("h100-80gb")
    spec = FinetuneSpec(method="full", sharding="zero3")
    one = training_time(a, spec, g, 1, 10**9)
    assert training_time(a, spec, g, 1, 3 * 10**9).hours == pytest.approx(3 * one.hours)
    hours = [training_time(a, spec, g, n, 10**9).hours for n in (1, 2, 4, 8)]
    assert hours == sorted(hours, reverse=True)
    assert hours[1] == pytest.approx(hours[0] / 2)  # data parallel, no communication term
    assert one.tokens_per_s * one.hours * 3600 == pytest.approx(10**9)


def test_qlora_is_slower_than_lora_and_faster_cards_are_faster(kb):
    a = kb.model("llama-3.1-8b").architecture
    g = kb.gpu("rtx-4090")
    lora = training_time(a, FinetuneSpec(method="lora"), g, 1, P)
    qlora = training_time(a, FinetuneSpec(method="qlora"), g, 1, P)
    assert qlora.hours > lora.hours
    assert training_time(a, FinetuneSpec(), kb.gpu("h100-80gb"), 1, P).hours < lora.hours


def test_no_tensor_rate_gives_a_reason_not_a_guess(kb):
    a = kb.model("llama-3.1-8b").architecture
    for gid in ("m2-ultra-192gb", "v100-sxm2-32gb"):
        g = kb.gpu(gid)
        assert g.bf16_tflops is None
        t = training_time(a, FinetuneSpec(), g, 1, P)
        assert t.tokens_per_s is None and t.hours is None
        assert t.reason == f"no training time: {g.name} has no tensor throughput in the KB"


def test_amd_is_computed_but_marked_uncalibrated(kb):
    t = training_time(kb.model("llama-3.1-8b").architecture, FinetuneSpec(), kb.gpu("mi300x"), 1, P)
    assert t.hours is not None and not t.calibrated
    assert training_time(kb.model("llama-3.1-8b").architecture, FinetuneSpec(),
                         kb.gpu("h100-80gb"), 1, P).calibrated


def test_micro_step_overhead_and_dequantization_add_time():
    f = flops_per_token(P, 0, 32, 4096, 2048, "qlora", True)
    bare = micro_step_seconds(f, 2048, 100, 0.5, overhead_s=0)
    assert bare == pytest.approx(f.total * 2048 / (100e12 * 0.5))
    assert micro_step_seconds(f, 2048, 100, 0.5, overhead_s=0.1) == pytest.approx(bare + 0.1)
    # 3 passes (forward, backward, recomputed forward) x weights x bytes / bandwidth
    deq = micro_step_seconds(f, 2048, 100, 0.5, nf4_weights=P, bandwidth_gb_s=1000,
                             dequant_bytes_per_weight=4, overhead_s=0)
    assert deq == pytest.approx(bare + 3 * P * 4 / 1e12)


# --- the published runs -------------------------------------------------------------------------

def test_published_runs_are_predicted_within_the_stated_band():
    """The constants against benchmarks/data/finetune_speed.csv: the median and p90 errors the
    advisories quote (FT_TRAIN_FIT) hold for the constants as committed, within 3 points."""
    from benchmarks import train_speed as ts

    rows = [r for r in ts.load_rows() if r["use"] == "fit"
            and ts.implied_utilization(r, c.FT_ATTENTION_CAUSAL_SHARE) <= ts.CREDIBLE]
    params = {"full": c.FT_TRAIN_UTILIZATION["full"], "lora": c.FT_TRAIN_UTILIZATION["lora"],
              "dequant": c.FT_QLORA_DEQUANT_BYTES_PER_WEIGHT,
              "overhead": c.FT_MICRO_STEP_OVERHEAD_S}
    errs = sorted(abs(math.exp(ts.log_error(r, params, c.FT_ATTENTION_CAUSAL_SHARE)) - 1)
                  for r in rows)
    assert len(rows) == c.FT_TRAIN_FIT["rows"]
    assert len({r["source"] for r in rows}) == c.FT_TRAIN_FIT["sources"]
    assert statistics.median(errs) <= c.FT_TRAIN_FIT["median"] + 0.03
    assert errs[math.ceil(0.9 * len(errs)) - 1] <= c.FT_TRAIN_FIT["p90"] + 0.03
    # every row the fit uses is a single node's data-parallel run, on a card the KB rates
    for r in ts.load_rows():
        assert r["url"].startswith("https://github.com/") and "/blob/" in r["url"]
        assert r["use"] == "fit" or r["use"].startswith("excluded: ")


# --- the command line ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, n", [("2000000000", 2 * P), ("2_000_000_000", 2 * P),
                                     ("2e9", 2 * P), ("2B", 2 * P), ("1.5b", 1_500_000_000),
                                     ("500M", 500_000_000), ("300k", 300_000), ("1T", 10**12)])
def test_token_counts_parse(text, n):
    assert parse_token_count(text) == n


@pytest.mark.parametrize("bad", ["abc", "1.5", "2e-3", "nan", "inf", "", "1.2.3", "5X", "1e-200",
                                 "1e-9999999999999999999"])
def test_token_counts_refuse_what_is_not_a_whole_number(bad):
    with pytest.raises(ValueError, match="whole number of tokens"):
        parse_token_count(bad)


@pytest.mark.parametrize("value, words", [("0", ["--train-tokens", "at least 1"]),
                                          ("-5", ["--train-tokens"]),
                                          ("abc", ["--train-tokens", "whole number"]),
                                          ("0.5", ["--train-tokens", "whole number"]),
                                          ("1e16", ["--train-tokens", f"{MAX_TRAIN_TOKENS:,}"]),
                                          ("1e999999999", ["--train-tokens", f"{MAX_TRAIN_TOKENS:,}"]),
                                          ("9" * 40, ["--train-tokens", f"{MAX_TRAIN_TOKENS:,}"])])
def test_bad_train_tokens_is_one_line(value, words):
    one_line_error(run("llama-3.1-8b", "rtx-4090", "--task", "finetune", f"--train-tokens={value}"),
                   *words)


def test_train_tokens_without_finetune_is_one_line():
    one_line_error(run("llama-3.1-8b", "rtx-4090", "--train-tokens", "1e9"),
                   "--train-tokens", "--task finetune")


def test_train_tokens_reach_the_advisory_and_are_deterministic():
    a = run("llama-3.1-70b", "rtx-4090", "--task", "finetune", "--method", "qlora",
            "--train-tokens", "1e8")
    b = run("llama-3.1-70b", "rtx-4090", "--task", "finetune", "--method", "qlora",
            "--train-tokens", "100M")
    assert a.exit_code == 0, a.output
    assert a.output == b.output
    assert "## Training time" in a.output and "100,000,000 tokens" in a.output
    assert "| What to do: rent" in a.output and " an hour |" in a.output
    plain = run("llama-3.1-70b", "rtx-4090", "--task", "finetune", "--method", "qlora")
    assert "## Training time" not in plain.output


def test_json_gives_training_for_the_asked_setup_and_each_plan():
    r = run("llama-3.1-70b", "rtx-4090", "--task", "finetune", "--method", "qlora",
            "--train-tokens", "1e8", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    t = d["training"]
    assert t["train_tokens"] == 10**8 and t["tokens_per_s"] > 0 and t["reason"] is None
    assert t["hours"] == pytest.approx(10**8 / t["tokens_per_s"] / 3600, rel=1e-3)
    for p in d["plans"]:
        pt = p["training"]
        assert pt["gpus"] == p["gpu_count"]
        if p["path"] == "rent" and p["usd_per_hour"] is not None:
            assert pt["cost_usd"] == pytest.approx(pt["hours"] * p["usd_per_hour"], abs=0.02)
        else:
            assert pt["cost_usd"] is None
    plain = json.loads(run("llama-3.1-70b", "rtx-4090", "--task", "finetune", "--method", "qlora",
                           "--format", "json").output)
    assert "training" not in plain and all("training" not in p for p in plain["plans"])
