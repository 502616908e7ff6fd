"""Hostile-input findings, tenth round (issue 14; the findings in full: /work/notes/hostile10.md):
what landed with GPU sets (-ts, fit over sets), SGLang, --vllm-version and the wired-memory
lever on Macs. Each test is one kind of fault the pass found, checked through the command
line."""
from __future__ import annotations

import json

from click.testing import CliRunner

from advisor.cli import main


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env)


def _asked(out):
    return next(p for p in out["plans"] if p["path"] == "as-asked")


# -- a share asked is the share the command sets --------------------------------------------------

def test_a_share_given_is_printed_as_sized_not_rounded():
    """--gpu-memory-utilization 0.954 was sized at 0.954 (fits at 54,208 tokens) and printed as
    `--gpu-memory-utilization 0.95`, at which the tool itself says the context does not fit: the
    command vLLM would run refuses the asked --max-model-len. SGLang's --mem-fraction-static
    0.99999999 was printed as 1. The command carries the number sized, exactly. (A share
    that close to 1 is now refused: it leaves SGLang nothing outside its pool, issue 14; a
    share with as many digits that leaves room is printed whole.)"""
    base = ("explain", "llama-3.1-8b", "rtx-4090", "--runtime", "vllm", "--format", "json")
    # the longest context vLLM holds at 0.954 (54,208 tokens when found)
    first = json.loads(run(*base, "--gpu-memory-utilization", "0.954").output)
    longest = first["memory"]["max_context_tokens"]["fp16"]
    fits = json.loads(run(*base, "--gpu-memory-utilization", "0.954", "-c", str(longest)).output)
    assert fits["verdict"] in ("fits", "tight")
    assert "--gpu-memory-utilization 0.954" in _asked(fits)["command"]
    # the rounded share would not have held that context: the printed number must not be it
    rounded = json.loads(run(*base, "--gpu-memory-utilization", "0.95", "-c", str(longest)).output)
    assert rounded["verdict"] == "does-not-fit"
    r = run("explain", "llama-3.1-8b", "h100-80gb", "--runtime", "sglang", "--format", "json",
            "--mem-fraction-static", "0.93333333")
    assert r.exit_code == 0, r.output
    assert _asked(json.loads(r.output))["command"].endswith("--mem-fraction-static 0.93333333")


# -- a card smaller than its runtime's context in a set ---------------------------------------------

def _tiny_card_kb(root, memory_bytes):
    import yaml
    from tests.file_helpers import REPO
    entry = yaml.safe_load((REPO / "kb" / "gpus" / "rtx-3060-12gb.yaml").read_text())
    entry.update(id="tiny-card", name="Tiny Card", aliases=[], memory_bytes=memory_bytes)
    (root / "gpus").mkdir(parents=True)
    (root / "gpus" / "tiny-card.yaml").write_text(yaml.safe_dump(entry, sort_keys=False))
    return str(root)


def test_a_card_with_no_free_memory_in_a_set_gets_no_layers_not_a_traceback(tmp_path):
    """A user KB card of 300 MiB (or 1,000 bytes) beside an RTX 3090: its free memory (usable
    less llama.cpp's device context) is negative, and llama.cpp's split by free memory was
    handed a negative weight: a ValueError traceback from explain and fit. llama.cpp reads
    nothing free there: the card gets no layer, and the answer says it is short."""
    for mem in (300 * 2**20, 1000):
        kb = _tiny_card_kb(tmp_path / str(mem), mem)
        r = run("explain", "llama-3.1-8b", "rtx-3090,tiny-card", "--kb", kb, "--format", "json")
        assert r.exit_code == 0, r.output
        out = json.loads(r.output)
        assert out["verdict"] == "does-not-fit"
        assert out["placement"]["tensor_split"][1] == 0
        assert [c["layers"] for c in out["placement"]["cards"]][1] == 0
        r = run("explain", "llama-3.1-8b", "rtx-3090,2x tiny-card", "--kb", kb, "-ts", "1,1,1")
        assert r.exit_code == 0 and "Traceback" not in r.output, r.output
        r = run("fit", "rtx-3090,tiny-card", "--kb", kb)
        assert r.exit_code == 0, r.output
    # two cards with nothing free: one a card, the set holds nothing
    kb = _tiny_card_kb(tmp_path / "two", 300 * 2**20)
    r = run("explain", "llama-3.1-8b", "2x tiny-card,rtx-3090", "--kb", kb, "--format", "json")
    assert r.exit_code == 0, r.output


# -- the memory table adds up on a split with idle cards ---------------------------------------------

def test_a_split_that_leaves_cards_without_layers_adds_up_in_the_memory_table():
    """-ts 1,0,0 over rtx-3090,2x rtx-3060-12gb: the cards table gives the two idle cards their
    device context and no compute buffer (no graph to run), and the total counts that, but the
    memory table's line read "runtime overhead 1.71 GB | device context 1.44 GB, compute buffer
    0.81 GB" (a compute buffer on every card: 2.25 GB), as did the JSON breakdown. Both parts
    are the cards' own."""
    r = run("explain", "llama-3.1-8b", "rtx-3090,2x rtx-3060-12gb", "-ts", "1,0,0", "--format", "json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    mem, cards = out["memory"], out["placement"]["cards"]
    b = mem["breakdown"]
    assert b["overhead"] == mem["overhead_bytes"] == sum(c["overhead_bytes"] for c in cards)
    assert b["overhead_device_context"] + b["overhead_compute_buffer"] == b["overhead"]
    assert mem["total_bytes"] == sum(c["total_bytes"] for c in cards)


# -- llama.cpp drives at most 16 devices -------------------------------------------------------------

def test_llama_cpp_over_more_than_sixteen_gpus_cannot_run():
    """`explain llama-3.1-70b "20x rtx-3060-12gb"` (and a set of 10 + 10 unequal cards) said
    "fits" under llama.cpp; llama.cpp drives at most 16 devices in one process, RPC servers
    included (llama_max_devices() returns 16; -ts refuses 16 or more values). The question cannot
    run, and no llama.cpp or Ollama plan is offered on those cards; 16 cards still run."""
    for gpus in ("20x rtx-3060-12gb", "10x rtx-3060-12gb,10x rtx-3090"):
        r = run("explain", "llama-3.1-70b", gpus, "--format", "json")
        assert r.exit_code == 0, r.output
        out = json.loads(r.output)
        assert out["verdict"] == "cannot-run", out["verdict"]
        assert "16" in out["cannot_run"]
        assert not [p for p in out["plans"] if p["owned"] and p["runtime"] in ("llama.cpp", "ollama")]
    out = json.loads(run("explain", "llama-3.1-70b", "16x rtx-3060-12gb", "--format", "json").output)
    assert out["verdict"] == "fits"
