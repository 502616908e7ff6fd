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
    "n_gpu_layers": ("int", "llama.cpp --n-gpu-layers as asked: layers on the GPU as llama.cpp counts "
                            "them (a GGUF's trailing NextN block too; the output layer is the last, "
                            "layers + 1 + trailing blocks)"),
    "offload_cpu_layers": ("int", "with --n-gpu-layers N <= layers: repeating layers in system RAM "
                                  "(the output layer is there too)"),
    "gpu_set": ("str", "a set of cards of more than one kind, as the GPU argument writes it "
                        "(rtx-3090,2x rtx-3060-12gb); only then"),
    "gpu_set_kinds": ("int", "kinds of card in a mixed set (2 or more); only then"),
    "offload_ram_bytes": ("int", "with --n-gpu-layers N <= layers: system RAM those layers, the "
                                 "output layer and the token embeddings need"),
}
ALWAYS = set(FACTS) - {"n_gpu_layers", "offload_cpu_layers", "offload_ram_bytes", "gpu_set",
                       "gpu_set_kinds"}
TOGETHER = [{"offload_cpu_layers", "offload_ram_bytes"}, {"gpu_set", "gpu_set_kinds"}]


def contribute(q: Question, pl: Placement, f: dict) -> None:
    s = pl.split
    f.update(placement_split=s.kind, placement_tensor_parallel=s.tensor_parallel,
             placement_pipeline_stages=s.pipeline_stages, placement_nodes=s.nodes,
             placement_per_gpu_bytes=s.per_gpu_bytes,
             ram_bytes=q.work.ram_bytes, ram_bandwidth_gb_s=float(q.work.ram_bandwidth_gb_s))
    if q.work.gpu_layers is not None:
        f["n_gpu_layers"] = q.work.gpu_layers
    if q.gpu_set is not None and q.gpu_set.mixed:
        f.update(gpu_set=q.gpu_set.spec(), gpu_set_kinds=len(q.gpu_set.kinds))
    if pl.offload is not None:
        f.update(offload_cpu_layers=pl.offload.cpu_layers, offload_ram_bytes=pl.offload.ram_bytes)
