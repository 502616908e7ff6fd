"""Which model architectures each vLLM version loads (issue 14: a `vllm serve` command for a model
that vLLM had no model class for fails at start, so it is never offered).

vLLM picks a model's implementation by the Hugging Face architecture class its config.json
names (`architectures`), looked up in its model registry: ModelRegistry.resolve_model_cls
raises "Model architectures [...] are not supported for now" for a class the registry lacks.
advisor/data/vllm_architectures.yaml holds, for each profile of advisor.sizing.vllm_memory
VLLM_VERSIONS, the release read and the classes of its registry's generation tables, with the
file and commit they come from; and, for the classes the knowledge base's models name, the first
release whose registry lists each (and, from vLLM's own _PREVIOUSLY_SUPPORTED_MODELS, the last
release of a class vLLM removed). A KB model names its class in Model.hf_architecture (a model
read from config.json takes architectures[0]; a GGUF file or a KB entry of your own may have
none, and then the check is said not to have been made: `unchecked_note`).

Pure: no I/O beyond reading the data file once.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from advisor.sizing import constants as c

_DATA = Path(__file__).resolve().parent.parent / "data" / "vllm_architectures.yaml"


@lru_cache(maxsize=1)
def vllm_architectures() -> dict:
    """The parsed advisor/data/vllm_architectures.yaml: {versions: {profile: {release, file,
    source, tables, architectures}}, first_release: {class: release}, removed: {class: last
    release}}."""
    from advisor.cache import data_file

    return data_file(_DATA)


@lru_cache(maxsize=None)
def _loaded(version: str) -> frozenset[str]:
    return frozenset(vllm_architectures()["versions"][version]["architectures"])


def release_of(version: str) -> str:
    """The vLLM release whose registry stands for profile `version` ("0.5" -> "0.5.5")."""
    return vllm_architectures()["versions"][version]["release"]


def loads(version: str, hf_class: str) -> bool:
    """Whether the registry of vLLM profile `version` (a key of VLLM_VERSIONS) has a model class
    for the Hugging Face architecture `hf_class`. KeyError for an unknown profile."""
    return hf_class in _loaded(version)


def cannot_load(model, version: str | None = None) -> str | None:
    """Why vLLM at profile `version` (None: VLLM_DEFAULT_VERSION) cannot load `model`, in one
    line naming the release, the class and the release that added it (or removed it); None where
    it can, and None where the model names no class (unknown: see unchecked_note, never a pass
    said to be certain)."""
    version = version or c.VLLM_DEFAULT_VERSION
    cls = getattr(model, "hf_architecture", None)
    if cls is None or loads(version, cls):
        return None
    data = vllm_architectures()
    release = release_of(version)
    first = data["first_release"].get(cls)
    last = data["removed"].get(cls)
    if last is not None and (first is None or _key(first) <= _key(release)):
        when = f"vLLM removed it after {last}"
    elif first is not None and _key(first) > _key(release):
        when = f"it was added in vLLM {first}"
    else:
        when = "no vLLM release read here has one"
    return f"vLLM {release} has no model class for {cls} (the architecture of {model.name}); {when}"


def unchecked_note(model, version: str | None = None) -> str | None:
    """The note an advisory under vLLM carries when the model names no Hugging Face architecture
    class (a KB entry of your own without hf_architecture, a config.json without
    `architectures`): whether vLLM has a model class for it was not checked. None otherwise, and
    for a model read from a GGUF file (which vLLM is not asked to run: runtimes.cannot_run)."""
    inv = getattr(model, "weights_inventory", None)
    if getattr(model, "hf_architecture", None) is not None or getattr(inv, "format", None) == "gguf":
        return None
    release = release_of(version or c.VLLM_DEFAULT_VERSION)
    return (f"vLLM {release}: the model's Hugging Face architecture class (config.json "
            "`architectures`) is not known here, so whether this vLLM has a model class for it "
            "was not checked; `vllm serve` fails at start where it has none")


def release_note(model, version: str | None = None) -> str | None:
    """Where the profile stands for several releases (v1: every release since 0.8) and the
    model's class came to vLLM after the oldest of them: a note naming the release that added it
    (older releases of the profile fail to load it). None otherwise (and for an unknown class)."""
    version = version or c.VLLM_DEFAULT_VERSION
    cls = getattr(model, "hf_architecture", None)
    if cls is None or not loads(version, cls):
        return None
    data = vllm_architectures()
    spec = data["versions"][version]
    first = data["first_release"].get(cls)
    oldest = spec["oldest"]
    if first is None and cls in spec.get("not_in_oldest", ()):
        return (f"vLLM {release_of(version)}'s model registry has {cls} ({model.name}'s "
                f"architecture) and {oldest}'s has not: `vllm serve` of {oldest} (which this "
                f"sizing also stands for) fails to load it, so run vLLM {release_of(version)}")
    if first is None or _key(first) <= _key(oldest):
        return None
    return (f"vLLM has a model class for {cls} ({model.name}'s architecture) from release "
            f"{first} on (its model registry, read up to {release_of(version)}): `vllm serve` of "
            f"an older release (this sizing stands for {oldest} on) fails to load it, so run "
            f"vLLM {first} or newer")


def _key(release: str) -> tuple:
    """A release number as a sortable tuple: "0.10.1.1" -> (0, 10, 1, 1), "0.8.5.post1" ->
    (0, 8, 5, 0, 1)."""
    out: list[int] = []
    for part in release.split("."):
        if part.startswith("post"):
            out += [0, int(part[4:] or 0)]
        else:
            out.append(int(part))
    return tuple(out)
