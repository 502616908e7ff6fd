"""The values a text fact can take, where they are a closed set: a rule condition comparing the
fact with any other literal (`path == 'rnet'`, `runtime == 'VLLM'`, `precision == 'q4_k_m'`)
never matches, so validation refuses it, naming the closest values (hostile pass 14A: `rules
check` passed such rules, which then silently never fired).

Each set is the constant the fact is made from, so it cannot drift from what the facts hold.
Facts whose values are open are absent: KB ids (a user's KB adds models and GPUs), the card's
architecture (a user's KB may name a new one), comma-joined lists, and the speed categories.
Pure: no I/O.
"""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _values() -> dict[str, tuple[str, ...]]:
    from advisor.kb.schema import VENDORS
    from advisor.plans.objective import PREFERENCES
    from advisor.plans.plan import PATHS
    from advisor.plans.runtimes import RUNTIMES
    from advisor.sizing.constants import RUNTIME_KV_DTYPES
    from advisor.sizing.finetune import METHODS, OPTIMIZERS, SHARDINGS
    from advisor.sizing.precision import all_precisions

    precisions = all_precisions()
    kv = tuple(dict.fromkeys(t for types in RUNTIME_KV_DTYPES.values() for t in types))
    return {
        "task": ("inference", "finetune"),
        "gpu_vendor": VENDORS,
        "precision": tuple(p.name for p in precisions),
        "precision_family": tuple(dict.fromkeys(p.family for p in precisions)),
        "runtime": RUNTIMES,
        "recommended_runtime": RUNTIMES,
        "kv_cache_dtype": kv,
        # advisor.sizing.parallel.Split.kind
        "placement_split": ("single", "layer", "tensor"),
        "finetune_method": METHODS,
        "finetune_optimizer": OPTIMIZERS,
        "finetune_sharding": SHARDINGS,
        # plan facts (advisor.facts.plans)
        "path": PATHS,
        "prefer": PREFERENCES,
    }


def fact_values(name: str, scope: str = "situation") -> tuple[str, ...] | None:
    """The closed set of values text fact `name` takes in `scope` ("situation" or "plan"), or
    None where the set is open or the fact is not text. `kind` is 'situation' or 'plan'."""
    if name == "kind":
        return (scope,)
    return _values().get(name)
