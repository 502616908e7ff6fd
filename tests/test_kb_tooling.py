"""advisor kb list/show/validate, user KB folders (--kb, $ADVISOR_KB), cross-field checks,
the exported JSON Schema."""
import json
import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.errors import AdvisorError
from advisor.kb.jsonschema import SCHEMAS, schema_text
from advisor.kb.store import KBErrors, load_kb
from advisor.paths import data_dir

BUILTIN = data_dir("kb")

GPU_OK = """\
    id: {id}
    name: {name}
    vendor: nvidia
    architecture: ampere
    memory_bytes: {mem}
    bandwidth_gb_s: {bw}
    fp16_tflops: 100
    sources:
      - fields: [architecture, memory_bytes, bandwidth_gb_s, fp16_tflops]
        source: a test fixture, not a real card
    """


def write(root: Path, kind: str, name: str, text: str) -> Path:
    d = root / kind
    d.mkdir(parents=True, exist_ok=True)
    p = d / name
    p.write_text(textwrap.dedent(text))
    return p


def gpu_file(root, id, name="Test GPU", mem=25769803776, bw=900, file=None):
    return write(root, "gpus", file or f"{id}.yaml", GPU_OK.format(id=id, name=name, mem=mem, bw=bw))


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env or {"ADVISOR_KB": ""})


# -- layering ------------------------------------------------------------------------------------

def test_user_entry_is_added(tmp_path):
    gpu_file(tmp_path, "my-card", "My Card 24GB")
    kb = load_kb(extra=[tmp_path])
    assert kb.gpu("my card 24gb").id == "my-card"
    assert not kb.is_builtin(kb.gpu("my-card")) and kb.is_builtin(kb.gpu("a100-40gb"))


def test_user_entry_replaces_builtin_and_says_so(tmp_path):
    gpu_file(tmp_path, "rtx-3090", "NVIDIA GeForce RTX 3090", bw=1000)
    kb = load_kb(extra=[tmp_path])
    g = kb.gpu("rtx-3090")
    assert g.bandwidth_gb_s == 1000
    assert kb.overridden(g) == BUILTIN / "gpus" / "rtx-3090.yaml"
    assert kb.gpu("NVIDIA GeForce RTX 3090").bandwidth_gb_s == 1000
    with pytest.raises(AdvisorError, match="unknown gpu 'GeForce RTX 3090'"):
        kb.gpu("GeForce RTX 3090")   # replaced means replaced: the built-in entry's aliases went with it
    r = run("kb", "--kb", str(tmp_path), "list", "gpus")
    assert r.exit_code == 0 and "| rtx-3090* " in r.output and "replaces the built-in one" in r.output
    r = run("kb", "--kb", str(tmp_path), "show", "rtx-3090")
    assert "# replaces the built-in entry" in r.output and "bandwidth_gb_s: 1000" in r.output
    r = run("kb", "--kb", str(tmp_path), "validate")
    assert r.exit_code == 0 and "1 built-in entries replaced" in r.output


def test_same_id_in_two_user_folders_is_an_error(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    gpu_file(a, "my-card")
    gpu_file(b, "my-card")
    with pytest.raises(KBErrors) as e:
        load_kb(extra=[a, b])
    assert f"{b}/gpus/my-card.yaml:1: field 'id': gpu id 'my-card' is also defined in {a}" in str(e.value)


def test_user_alias_clashing_with_another_entry_is_an_error(tmp_path):
    gpu_file(tmp_path, "my-card", name="RTX 4090")
    with pytest.raises(KBErrors, match=r"name or alias 'RTX 4090' also names 'rtx-4090'"):
        load_kb(extra=[tmp_path])


def test_env_and_option_both_layer(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    gpu_file(a, "card-a", "Card A")
    gpu_file(b, "card-b", "Card B")
    r = run("kb", "--kb", str(b), "list", "gpus", env={"ADVISOR_KB": str(a)})
    assert r.exit_code == 0 and "card-a" in r.output and "card-b" in r.output
    r = run("explain", "llama-3.1-8b", "card-a", "--format", "json", env={"ADVISOR_KB": str(a)})
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["gpu"]["id"] == "card-a"
    r = run("explain", "llama-3.1-8b", "card-b", "--kb", str(b), "--format", "json")
    assert r.exit_code == 0 and json.loads(r.output)["gpu"]["id"] == "card-b"


def test_missing_or_empty_user_folder_is_an_error(tmp_path):
    r = run("kb", "--kb", str(tmp_path / "nope"), "list")
    assert r.exit_code == 2 and "KB folder does not exist" in r.output
    r = run("kb", "--kb", str(tmp_path), "list")
    assert r.exit_code == 2 and "no models/ or gpus/ folder" in r.output


def test_stray_file_does_not_vanish(tmp_path):
    gpu_file(tmp_path, "my-card", file="my-card.yml")
    with pytest.raises(KBErrors, match=r"my-card.yml:1: not a KB entry"):
        load_kb(extra=[tmp_path])


# -- validation ----------------------------------------------------------------------------------

def test_validate_collects_every_error_with_file_line_field(tmp_path):
    write(tmp_path, "gpus", "a100-40gb-clone.yaml", """\
        id: a100-40gb-clone
        name: Clone
        vendor: nvidia
        architecture: ampere
        memory_bytes: 85899345920
        bandwidth_gb_s: 0
        sources:
          - fields: [architecture, memory_bytes, bandwidth_gb_s]
            source: a test fixture
        """)
    write(tmp_path, "gpus", "priced.yaml", """\
        id: priced
        name: Priced
        vendor: nvidia
        architecture: ampere
        memory_bytes: 85899345920
        bandwidth_gb_s: 100
        prices:
          - provider: Some Cloud
            usd_per_hour: 1.5
            kind: reserved
            gpus: 1
            per: gpu
            date: "2026-11"
            source: https://cloud.example.com/pricing
        sources:
          - fields: [architecture, memory_bytes, bandwidth_gb_s]
            source: a test fixture
        """)
    write(tmp_path, "gpus", "wrong-name.yaml", GPU_OK.format(id="other", name="O", mem=1, bw=1))
    write(tmp_path, "gpus", "broken.yaml", "id: [unclosed\n")
    write(tmp_path, "models", "m.yaml", """\
        id: m
        name: M
        family: m
        published_parameters: 1000
        architecture:
          layers: 2
          hidden_size: 64
          attention_heads: 6
          kv_heads: 4
          head_dim: 16
          ffn_size: 128
          vocab_size: 100
          tied_embeddings: false
          max_context: 128
        sources:
          - fields: [architecture, published_parameters]
            source: a test fixture
        """)
    r = run("kb", "validate", str(tmp_path))
    assert r.exit_code == 2
    out = r.output
    assert "a100-40gb-clone.yaml:6: field 'bandwidth_gb_s': Input should be greater than or equal to 1" in out
    assert "priced.yaml:10: field 'prices.0.kind': Input should be 'on-demand' or 'spot'" in out
    assert "wrong-name.yaml:1: field 'id': file name must be the id: 'other.yaml'" in out
    assert "broken.yaml:2: invalid YAML" in out
    assert "m.yaml:9: field 'architecture.kv_heads': kv_heads 4 does not divide attention_heads 6" in out
    assert "error(s) in the knowledge base" in out and "Traceback" not in out
    assert r.stdout == ""   # nothing half-written: errors go to stderr only


def test_memory_must_match_the_size_the_id_states(tmp_path):
    gpu_file(tmp_path, "card-40gb", "Card", mem=80 * 2**30)
    with pytest.raises(KBErrors) as e:
        load_kb(extra=[tmp_path])
    assert ("card-40gb.yaml:5: field 'memory_bytes': 85,899,345,920 bytes (80.0 GiB) is not the 40 GB "
            "the id 'card-40gb' states") in str(e.value)


@pytest.mark.parametrize("mem", [40 * 2**30, 40 * 10**9, 143771 * 2**20])
def test_stated_size_accepts_gib_and_gb(tmp_path, mem):
    gpu_file(tmp_path, "card-40gb" if mem < 10**11 else "card-141gb", "Card", mem=mem)
    load_kb(extra=[tmp_path])


def test_a_gpu_needs_a_16_bit_rate(tmp_path):
    src = GPU_OK.format(id="no-fp16", name="No FP16", mem=2**34, bw=100)
    src = src.replace("    fp16_tflops: 100\n", "").replace(", fp16_tflops]", "]")
    write(tmp_path, "gpus", "no-fp16.yaml", textwrap.dedent(src))
    with pytest.raises(KBErrors, match=r"no-fp16.yaml:1: field 'fp16_tflops': give the dense FP16 "
                                       r"\(fp16_tflops\) or BF16 \(bf16_tflops\) rate"):
        load_kb(extra=[tmp_path])
    write(tmp_path, "gpus", "no-fp16.yaml", textwrap.dedent(
        src.replace("bandwidth_gb_s: 100", "bandwidth_gb_s: 100\n    bf16_tflops: 50")
           .replace("bandwidth_gb_s]", "bandwidth_gb_s, bf16_tflops]")))
    assert load_kb(extra=[tmp_path]).gpu("no-fp16").bf16_tflops == 50   # BF16 alone will do


def test_parameters_within_one_percent_of_published(tmp_path):
    src = (BUILTIN / "models" / "llama-3.1-8b.yaml").read_text()
    write(tmp_path, "models", "llama-3.1-8b.yaml",
          src.replace("published_parameters: 8030261248", "published_parameters: 8200000000"))
    with pytest.raises(KBErrors, match=r"llama-3.1-8b.yaml:\d+: field 'published_parameters': the "
                                       r"architecture gives 8,030,261,248 parameters, 2.1% off"):
        load_kb(extra=[tmp_path])


def test_builtin_kb_validates(kb):
    r = run("kb", "validate")
    assert r.exit_code == 0 and r.output.startswith(f"ok: {len(kb.models.by_id)} models, "
                                                   f"{len(kb.gpus.by_id)} GPUs")


# -- list and show -------------------------------------------------------------------------------

def test_list_table_and_json(kb):
    r = run("kb", "list")
    assert r.exit_code == 0 and "## models" in r.output and "## gpus" in r.output
    assert "| llama-3.1-70b " in r.output and "| h100-pcie-80gb " in r.output
    d = json.loads(run("kb", "list", "gpus", "--format", "json").output)
    row = next(x for x in d["gpus"] if x["id"] == "m1-max-64gb")
    assert row["mem_gib"] == "64.0 (48 usable)" and row["bw_gb_s"] == "400"
    assert len(d["gpus"]) == len(kb.all_gpus()) and "models" not in d


def test_show_prints_the_entry_with_sources():
    r = run("kb", "show", "H100 PCIe")
    assert r.exit_code == 0
    assert r.output.splitlines()[0].endswith("kb/gpus/h100-pcie-80gb.yaml")
    assert "sources:" in r.output and "bandwidth_gb_s: 2000" in r.output
    d = json.loads(run("kb", "show", "llama-3.1-8b", "--format", "json").output)
    assert d["id"] == "llama-3.1-8b" and d["sources"] and d["replaces"] is None


def test_show_unknown_names_closest_and_exits_2():
    r = run("kb", "show", "rtx-309")
    assert r.exit_code == 2 and "unknown model or gpu 'rtx-309'; closest known:" in r.output
    assert "rtx-3090" in r.output and "Traceback" not in r.output


# -- JSON Schema ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_committed_json_schema_is_current(kind):
    path = BUILTIN / "schema" / f"{kind}.schema.json"
    assert path.read_text() == schema_text(kind), f"{path} is stale: run python tools/gen_kb_schema.py"


def test_json_schema_is_strict():
    gpu = json.loads(schema_text("gpu"))
    assert gpu["additionalProperties"] is False
    assert {"id", "memory_bytes", "bandwidth_gb_s", "sources"} <= set(gpu["required"])


# -- quality (issue 13) --------------------------------------------------------------------------

QUALITY = """\
    quality:
      - benchmark: mmlu-pro
        score: 48.3
        setting: 5-shot CoT
        variant: instruct
        evaluator: meta
        self_reported: true
        source: https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct
        date: "2024-07-23"
      - benchmark: mmlu-pro
        score: 37.1
        setting: 5-shot CoT
        variant: base
        evaluator: meta
        self_reported: true
        source: https://huggingface.co/meta-llama/Llama-3.1-8B
        date: "2024-07-23"
    """


def _with_quality(tmp_path, block: str):
    """A user copy of llama-3.1-8b whose quality list (if any) is replaced by `block`."""
    src = (BUILTIN / "models" / "llama-3.1-8b.yaml").read_text()
    cut = src.index("\nsources:")
    head, tail = src[:cut], src[cut:]
    head = re.sub(r"\nquality:\n(  .*\n?)*", "\n", head + "\n").rstrip("\n")
    write(tmp_path, "models", "llama-3.1-8b.yaml", head + "\n" + textwrap.dedent(block) + tail.lstrip("\n"))


def test_quality_scores_load_and_prefer_the_instruct_checkpoint(tmp_path):
    _with_quality(tmp_path, QUALITY)
    m = load_kb(extra=[tmp_path]).models.get("llama-3.1-8b")
    q = m.quality_score()
    assert (q.score, q.variant, q.setting) == (48.3, "instruct", "5-shot CoT")
    assert m.quality_score(variant="base").score == 37.1
    assert m.quality_score(evaluator="open-llm-leaderboard-v2") is None
    assert m.quality_score().self_reported and m.quality_score(evaluator="meta").score == 48.3
    assert m.quality_score("gpqa-diamond") is None
    assert [s.variant for s in m.quality_scores()] == ["instruct", "base"]
    assert q.comparability == m.quality_score(variant="base").comparability


def test_quality_shows_in_list_and_show(tmp_path):
    _with_quality(tmp_path, QUALITY)
    env = {"ADVISOR_KB": str(tmp_path)}
    d = json.loads(run("kb", "list", "models", "--format", "json", env=env).output)
    row = next(x for x in d["models"] if x["id"] == "llama-3.1-8b*")
    assert row["mmlu_pro"] == "48.3 (instruct)"
    # a score the publisher did not measure names who did (scores of two evaluators do not compare)
    mixtral = next(x for x in d["models"] if x["id"] == "mixtral-8x7b")
    assert mixtral["mmlu_pro"] == "40.4 (instruct, tiger-lab)"
    shown = json.loads(run("kb", "show", "llama-3.1-8b", "--format", "json", env=env).output)
    assert shown["quality"][0] == {
        "benchmark": "mmlu-pro", "score": 48.3, "setting": "5-shot CoT", "variant": "instruct",
        "evaluator": "meta", "self_reported": True,
        "source": "https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct",
        "date": "2024-07-23"}


@pytest.mark.parametrize("change, message", [
    (("score: 48.3", "score: 148.3"), r"quality.0.score"),
    (("variant: instruct", "variant: chat"), r"quality.0.variant"),
    (("benchmark: mmlu-pro\n        score: 48.3", "benchmark: mmlu_pro\n        score: 48.3"),
     r"quality.0.benchmark"),
    (('date: "2024-07-23"\n      - benchmark', 'date: "July 2024"\n      - benchmark'), r"quality.0.date"),
    (("source: https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct", "source: the model card"),
     r"quality.0.source"),
    (("variant: base", "variant: instruct"), r"lists mmlu-pro \(meta, 5-shot cot\) of the "
                                             r"instruct checkpoint twice"),
])
def test_bad_quality_entries_are_errors(tmp_path, change, message):
    old, new = change
    assert old in QUALITY
    _with_quality(tmp_path, QUALITY.replace(old, new, 1))
    r = run("kb", "validate", str(tmp_path))
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert re.search(message, r.output), r.output
