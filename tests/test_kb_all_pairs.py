"""Every model x GPU pair in the KB explains without error, and the answer holds together.

A new KB entry cannot break `advisor explain` for any pair without this test failing. It runs
one explain per pair (4 models x 62 GPUs = 248 at the time of writing; about 1 s in all)."""
import pytest

from advisor.kb import load_kb

KB = load_kb()
PAIRS = [(m.id, g.id) for m in KB.all_models() for g in KB.all_gpus()]


@pytest.mark.parametrize("model,gpu", PAIRS, ids=[f"{m}-{g}" for m, g in PAIRS])
def test_pair_explains(advisor, model, gpu):
    d = advisor.explain(model, gpu).to_json()
    mem = d["memory"]
    assert d["verdict"] in {"fits", "tight", "does-not-fit", "cannot-run"}
    assert mem["total_bytes"] == mem["weights_bytes"] + mem["kv_cache_bytes"] + mem["overhead_bytes"]
    assert mem["available_bytes"] == advisor.kb.gpu(gpu).usable_memory_bytes
    if d["verdict"] != "fits":
        assert d["plan"], (model, gpu)      # something to do whenever it does not run as asked
    else:
        # it fits: run as asked, unless a plan beats it on what the question left to defaults
        # (rules/plan-better-than-asked.yaml) or the question as asked is below usable speed
        asked = next(p for p in d["plans"] if p["path"] == "as-asked")
        assert (d["plan"]["path"] == "as-asked" or d["plan"]["rule"] == "plan-better-than-asked"
                or not asked["usable"]), (model, gpu, d["plan"]["path"], d["plan"]["rule"])
    if d["verdict"] in ("fits", "tight"):
        assert d["throughput"]["decode_tokens_per_s"] > 0
