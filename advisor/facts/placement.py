"""Facts about where the model sits: GPUs, split, per-GPU bytes, nodes."""
from __future__ import annotations

from advisor.facts.question import Question
from advisor.sizing.plan import Placement

FACTS: dict[str, tuple[str, str]] = {
    "placement_split": ("str", "single, layer (llama.cpp layer split) or tensor (tensor parallel)"),
    "placement_tensor_parallel": ("int", "GPUs each layer is split over"),
    "placement_pipeline_stages": ("int", "groups of GPUs a token visits one after another"),
    "placement_nodes": ("int", "nodes of 8 GPUs the GPUs asked for span"),
    "placement_per_gpu_bytes": ("int", "bytes on the busiest GPU"),
    "ram_bytes": ("int", "system RAM assumed or given (--ram-gb)"),
    "ram_bandwidth_gb_s": ("float", "system RAM bandwidth assumed or given (--ram-bandwidth)"),
}
ALWAYS = set(FACTS)


def contribute(q: Question, pl: Placement, f: dict) -> None:
    s = pl.split
    f.update(placement_split=s.kind, placement_tensor_parallel=s.tensor_parallel,
             placement_pipeline_stages=s.pipeline_stages, placement_nodes=s.nodes,
             placement_per_gpu_bytes=s.per_gpu_bytes,
             ram_bytes=q.work.ram_bytes, ram_bandwidth_gb_s=float(q.work.ram_bandwidth_gb_s))
