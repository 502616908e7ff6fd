"""The GGUF publishers file (advisor/data/gguf_publishers.yaml): which types a KB model's
gguf_repos carry, per publisher and per repo, and what plans do with it: `-hf ORG/REPO:TAG`
for a type the repo carries (also a BF16/F16 file), the convert-and-quantize note otherwise."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.plans import publishers
from advisor.plans.candidates import weight_formats
from advisor.plans.publishers import (check_publishers, data_path, gguf_repo_for, hf_spec,
                                      known_file_types, repo_types)
from advisor.sizing.precision import parse_precision


def explain(*args) -> dict:
    r = CliRunner().invoke(main, ["explain", *args, "--format", "json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def _converts(plan: dict) -> bool:
    return any("convert_hf_to_gguf.py" in n for n in plan["notes"])


# -- the data file ------------------------------------------------------------------------------

def test_the_builtin_file_is_clean_against_the_kb(kb):
    assert check_publishers(kb.models.by_id) == []


def test_every_listed_repo_is_a_kb_models_gguf_repo(kb):
    named = {r for m in kb.models.by_id.values() for r in m.gguf_repos}
    data = publishers._publishers()
    listed = [r for pub in data.values() for r in (pub.get("repos") or {})]
    assert listed and set(listed) <= named


def test_every_type_is_a_llamacpp_file_type():
    known = known_file_types()
    assert {"BF16", "F16", "Q4_K_M", "MXFP4_MOE"} <= known and "bf16" not in known
    for org, pub in publishers._publishers().items():
        assert set(pub.get("types") or ()) <= known, org
        for repo, entry in (pub.get("repos") or {}).items():
            assert set(entry["types"]) <= known, repo


def _bad_copy(tmp_path: Path, old: str, new: str) -> Path:
    p = tmp_path / "gguf_publishers.yaml"
    text = data_path().read_text(encoding="utf-8")
    assert old in text
    p.write_text(text.replace(old, new, 1), encoding="utf-8")
    return p


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_an_unknown_type_is_a_file_line_error(tmp_path, kb):
    p = _bad_copy(tmp_path, "types: [F16, Q8_0, Q6_K, Q5_K_M, Q5_0]",
                  "types: [F16, Q8_0, Q6_KM, Q5_K_M, Q5_0]")
    errors = check_publishers(kb.models.by_id, p)
    assert len(errors) == 1
    assert errors[0].startswith(f"{p}:{_line_of(p, 'Q6_KM')}: ")
    assert "unknown GGUF type 'Q6_KM'" in errors[0] and "Q6_K" in errors[0]


def test_a_lower_case_type_is_unknown(tmp_path, kb):
    # types are llama.cpp's names; the spelling in file names goes in `tags`
    p = _bad_copy(tmp_path, "types: [F16, Q8_0,", "types: [fp16, Q8_0,")
    errors = check_publishers(kb.models.by_id, p)
    assert errors and "unknown GGUF type 'fp16'" in errors[0]


def test_a_repo_in_no_models_gguf_repos_is_a_file_line_error(tmp_path, kb):
    p = _bad_copy(tmp_path, "    Qwen/Qwen3-14B-GGUF:\n", "    Qwen/Qwen3-14B-Instruct-GGUF:\n")
    errors = check_publishers(kb.models.by_id, p)
    assert errors == [f"{p}:{_line_of(p, 'Qwen/Qwen3-14B-Instruct-GGUF:') + 1}: repo "
                      "'Qwen/Qwen3-14B-Instruct-GGUF' is in no KB model's gguf_repos"]


def test_a_repo_of_another_publisher_and_unknown_fields_are_errors(tmp_path, kb):
    p = _bad_copy(tmp_path, "    Qwen/Qwen3-14B-GGUF:\n", "    bartowski/Qwen3-14B-GGUF:\n")
    assert any("is not a repo of Qwen" in e for e in check_publishers(kb.models.by_id, p))
    p = _bad_copy(tmp_path, "  one_file: true\n", "  one_file: true\n  oen_file: true\n")
    errors = check_publishers(kb.models.by_id, p)
    assert errors == [f"{p}:{_line_of(p, 'oen_file')}: publisher 'ggml-org': unknown field "
                      "'oen_file' (known: note, one_file, repos, source, types)"]


def test_a_tag_for_a_type_the_repo_lacks_is_an_error(tmp_path, kb):
    p = _bad_copy(tmp_path, "tags: {F16: FP16}", "tags: {BF16: FP16}")
    assert any("tag for 'BF16', which is not among its types" in e
               for e in check_publishers(kb.models.by_id, p))


def test_kb_validate_reports_the_publishers_file(tmp_path, monkeypatch):
    bad = _bad_copy(tmp_path, "types: [F16, Q8_0, Q6_K,", "types: [F16, Q8_0, Q6_KK,")
    monkeypatch.setattr(publishers, "data_path", lambda: bad)
    r = CliRunner().invoke(main, ["kb", "validate"])
    assert r.exit_code == 2
    assert f"{bad}:{_line_of(bad, 'Q6_KK')}: unknown GGUF type 'Q6_KK'" in r.output


def test_a_damaged_builtin_file_stops_a_plan_with_its_line(tmp_path, monkeypatch, kb):
    bad = _bad_copy(tmp_path, "types: [F16, Q8_0, Q6_K,", "types: [F16, Q8_0, Q6_KK,")
    monkeypatch.setattr(publishers, "data_path", lambda: bad)
    publishers._publishers.cache_clear()
    try:
        from advisor.errors import AdvisorError

        with pytest.raises(AdvisorError, match=rf"^{bad}:{_line_of(bad, 'Q6_KK')}: unknown GGUF type"):
            gguf_repo_for(kb.model("qwen2-7b"), parse_precision("Q8_0"))
    finally:
        publishers._publishers.cache_clear()


# -- which repo a type comes from ---------------------------------------------------------------

def test_a_repo_entry_replaces_its_publishers_ladder():
    assert repo_types("lmstudio-community/Qwen2.5-7B-Instruct-1M-GGUF") == ("Q8_0", "Q6_K", "Q4_K_M", "Q3_K_L")
    assert "Q5_K_M" in repo_types("lmstudio-community/Mistral-7B-Instruct-v0.3-GGUF")
    assert repo_types("Qwen/Qwen2.5-72B-Instruct-GGUF") == ()          # not checked: none
    assert repo_types("mradermacher/DeepSeek-V2-Chat-GGUF") == ()      # byte-split files only
    assert repo_types("nobody/Anything-GGUF") == ()


def test_the_first_repo_with_the_type_is_taken(kb):
    m = kb.model("qwen2-7b")   # [Qwen/Qwen2-7B-Instruct-GGUF, bartowski/Qwen2-7B-Instruct-GGUF]
    assert gguf_repo_for(m, parse_precision("Q8_0")) == "Qwen/Qwen2-7B-Instruct-GGUF"
    # Qwen's repo has no 4-bit file: bartowski's has
    assert gguf_repo_for(m, parse_precision("Q4_K_M")) == "bartowski/Qwen2-7B-Instruct-GGUF"
    assert gguf_repo_for(m, parse_precision("fp16")) == "Qwen/Qwen2-7B-Instruct-GGUF"
    assert gguf_repo_for(m, parse_precision("bf16")) is None           # nobody publishes BF16
    assert gguf_repo_for(m, parse_precision("IQ1_S")) is None
    assert gguf_repo_for(m, parse_precision("fp32")) is None


def test_the_tag_is_spelled_as_the_files_are():
    q = "Qwen/Qwen2-7B-Instruct-GGUF"
    assert hf_spec(q, parse_precision("fp16")) == f"{q}:FP16"      # qwen2-7b-instruct-fp16.gguf
    assert hf_spec(q, parse_precision("Q5_K_M")) == f"{q}:Q5_K_M"  # -q5_k_m.gguf, case ignored
    u = "unsloth/Qwen3-30B-A3B-GGUF"
    assert hf_spec(u, parse_precision("bf16")) == f"{u}:BF16"
    assert hf_spec("ggml-org/gpt-oss-20b-GGUF", parse_precision("MXFP4_MOE")) == "ggml-org/gpt-oss-20b-GGUF"


def test_f16_is_not_taken_from_a_repo_that_also_has_bf16(monkeypatch, kb):
    # `-hf REPO:F16` matches `F16[.-]`, which ...-BF16.gguf (listed first) matches too
    data = json.loads(json.dumps(publishers._publishers()))
    data["unsloth"]["repos"]["unsloth/Qwen3-30B-A3B-GGUF"]["types"].append("F16")
    monkeypatch.setattr(publishers, "_publishers", lambda: data)
    m = kb.model("qwen3-30b-a3b")
    assert gguf_repo_for(m, parse_precision("fp16")) is None
    data["unsloth"]["repos"]["unsloth/Qwen3-30B-A3B-GGUF"]["tags"] = {"F16": "-F16"}
    assert gguf_repo_for(m, parse_precision("fp16")) == "unsloth/Qwen3-30B-A3B-GGUF"


def test_weight_formats_offer_the_published_16bit_file(kb):
    m, g = kb.model("qwen3-30b-a3b"), kb.gpu("h100-80gb")
    formats = dict((p.name, repo) for p, repo in weight_formats(m, "llama.cpp", g))
    assert formats["bf16"] == "unsloth/Qwen3-30B-A3B-GGUF"
    # Qwen's own repo is listed first but not checked (no entry): unsloth's carries Q4_K_M
    assert formats["Q4_K_M"] == "unsloth/Qwen3-30B-A3B-GGUF"
    assert formats["IQ1_S"] is None


# -- what plans say -----------------------------------------------------------------------------

def test_a_published_bf16_file_is_downloaded_not_converted():
    out = explain("qwen3-30b-a3b", "h100-80gb")
    bf16 = [p for p in out["plans"] if p["precision"] == "bf16" and p["runtime"] == "llama.cpp"]
    assert bf16
    for p in bf16:
        assert "-hf unsloth/Qwen3-30B-A3B-GGUF:BF16 " in p["command"]
        assert not _converts(p)


def test_a_type_the_repo_has_is_downloaded_and_one_it_lacks_is_made():
    # Qwen2-7B-Instruct-GGUF carries q5_0 and up; bartowski's carries 4-bit: IQ1_S nobody does
    rows = {}
    for prec in ("Q5_0", "Q4_K_M", "IQ1_S"):
        out = explain("qwen2-7b-instruct", "rtx-4090", "-p", prec)
        # the question as asked (IQ1_S on a 7B is below the usable quality, so What to do is
        # another format; the as-asked plan is still sized and listed)
        rows[prec] = next(p for p in out["plans"] if p["path"] == "as-asked")
    assert "-hf Qwen/Qwen2-7B-Instruct-GGUF:Q5_0 " in rows["Q5_0"]["command"]
    assert not _converts(rows["Q5_0"])
    assert "-hf bartowski/Qwen2-7B-Instruct-GGUF:Q4_K_M " in rows["Q4_K_M"]["command"]
    assert not _converts(rows["Q4_K_M"])
    assert "-m Qwen2-7B-Instruct-IQ1_S.gguf" in rows["IQ1_S"]["command"]
    assert _converts(rows["IQ1_S"])


def test_a_publisher_new_to_the_file_is_used():
    # TheBloke's Llama 2 7B chat at Q5_K_M: listed with TheBloke's ladder
    out = explain("llama-2-7b-chat", "rtx-4090", "-p", "Q5_K_M")
    assert "-hf TheBloke/Llama-2-7B-Chat-GGUF:Q5_K_M " in out["plan"]["command"]
    assert not _converts(out["plan"])


def test_the_plans_are_deterministic():
    a = CliRunner().invoke(main, ["explain", "qwen3-30b-a3b", "h100-80gb", "--format", "json"])
    b = CliRunner().invoke(main, ["explain", "qwen3-30b-a3b", "h100-80gb", "--format", "json"])
    assert a.exit_code == 0 and a.output == b.output


def test_a_copy_of_the_file_reads_the_same(tmp_path, kb):
    p = tmp_path / "copy.yaml"
    shutil.copy(data_path(), p)
    assert check_publishers(kb.models.by_id, p) == []
