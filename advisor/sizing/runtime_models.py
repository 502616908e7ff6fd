"""Which model architectures a runtime's release loads: vLLM's and SGLang's model registries
(issue 14 for vLLM; hostile tester 12 for SGLang: a `vllm serve` or `python -m
sglang.launch_server` command for a model whose class the runtime has no model for fails at start,
so it is never offered).

Both runtimes pick a model's implementation by the Hugging Face architecture class its
config.json names (`architectures`), looked up in a registry of their own model classes:
vLLM's ModelRegistry.resolve_model_cls and SGLang's (python/sglang/srt/models/registry.py, which
collects each model file's `EntryClass`) raise "Model architectures [...] are not supported for
now" for a class they lack. Each runtime's data file in advisor/data holds, for each version
profile, the release read and its registry's classes, with the file and commit (or wheel) they
come from; for the classes the knowledge base's models name, the first release whose registry
lists each (and the last release of a class the runtime removed); and `aliases`, classes the
runtime's own config code renames to a registered one before the look-up (SGLang reads
Olmo3ForCausalLM as Olmo2ForCausalLM). A KB model names its class in Model.hf_architecture (a
model read from config.json takes architectures[0]; a GGUF file or a KB entry of your own may
have none, and then the check is said not to have been made: `unchecked_note`).

One class, ModelClasses, answers for either runtime; VLLM and SGLANG are its two instances, and
advisor.sizing.vllm_models keeps vLLM's functions under their old names. Pure: no I/O beyond
reading each data file once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from advisor.sizing import constants as c

_DATA = Path(__file__).resolve().parent.parent / "data"


@lru_cache(maxsize=None)
def _data(path: Path) -> dict:
    from advisor.cache import data_file

    return data_file(path)


@dataclass(frozen=True)
class ModelClasses:
    """One runtime's registries: `name` (vLLM, SGLang) as prose says it, `command` (the start
    command that fails, as prose quotes it), the data file, the profile used when none is given,
    and `fallback`: what the runtime does with a class it lacks, beyond failing (SGLang's
    Transformers backend), said in the refusal where the runtime has one."""
    name: str
    command: str
    path: Path
    default_version: str
    fallback: str = ""
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def data(self) -> dict:
        """The parsed data file: {versions: {profile: {release, oldest, file, source,
        architectures, not_in_oldest?}}, first_release: {class: release}, removed: {class: last
        release}, aliases?: {class: registered class}}."""
        return _data(self.path)

    def _loaded(self, version: str) -> frozenset[str]:
        if version not in self._cache:
            self._cache[version] = frozenset(self.data()["versions"][version]["architectures"])
        return self._cache[version]

    def registered(self, hf_class: str) -> str:
        """The class the runtime looks up for `hf_class`: its alias where the runtime's config
        code renames it (SGLang: Olmo3ForCausalLM -> Olmo2ForCausalLM), else itself."""
        return (self.data().get("aliases") or {}).get(hf_class, hf_class)

    def release_of(self, version: str | None = None) -> str:
        """The release whose registry stands for profile `version` (vLLM "0.5" -> "0.5.5")."""
        return self.data()["versions"][version or self.default_version]["release"]

    def loads(self, version: str | None, hf_class: str) -> bool:
        """Whether the registry of profile `version` (None: the default) has a model class for
        the Hugging Face architecture `hf_class`. KeyError for an unknown profile."""
        return self.registered(hf_class) in self._loaded(version or self.default_version)

    def cannot_load(self, model, version: str | None = None) -> str | None:
        """Why the runtime at profile `version` (None: the default) cannot load `model`, in one
        line naming the release, the class and the release that added it (or removed it); None
        where it can, and None where the model names no class (unknown: see unchecked_note,
        never a pass said to be certain)."""
        version = version or self.default_version
        cls = getattr(model, "hf_architecture", None)
        if cls is None or self.loads(version, cls):
            return None
        data = self.data()
        release = self.release_of(version)
        first = data.get("first_release", {}).get(cls)
        last = data.get("removed", {}).get(cls)
        if last is not None and (first is None or _key(first) <= _key(release)):
            when = f"{self.name} removed it after {last}"
        elif first is not None and _key(first) > _key(release):
            when = f"it was added in {self.name} {first}"
        else:
            when = f"no {self.name} release read here has one"
        return (f"{self.name} {release} has no model class for {cls} (the architecture of "
                f"{model.name}); {when}{self.fallback}")

    def unchecked_note(self, model, version: str | None = None) -> str | None:
        """The note an advisory under this runtime carries when the model names no Hugging Face
        architecture class (a KB entry of your own without hf_architecture, a config.json
        without `architectures`): whether the runtime has a model class for it was not checked.
        None otherwise, and for a model read from a GGUF file (which neither runtime is asked to
        run: runtimes.cannot_run)."""
        inv = getattr(model, "weights_inventory", None)
        if getattr(model, "hf_architecture", None) is not None or getattr(inv, "format", None) == "gguf":
            return None
        return (f"{self.name} {self.release_of(version)}: the model's Hugging Face architecture "
                "class (config.json `architectures`) is not known here, so whether this "
                f"{self.name} has a model class for it was not checked; `{self.command}` fails "
                "at start where it has none")

    def release_note(self, model, version: str | None = None) -> str | None:
        """Where the profile stands for several releases (vLLM v1: every release since 0.8;
        SGLang: its 0.5 line) and the model's class came to the runtime after the oldest of
        them: a note naming the release that added it (older releases of the profile fail to
        load it). None otherwise (and for an unknown class)."""
        version = version or self.default_version
        cls = getattr(model, "hf_architecture", None)
        if cls is None or not self.loads(version, cls):
            return None
        data = self.data()
        spec = data["versions"][version]
        first = data.get("first_release", {}).get(cls)
        oldest, release, name, command = spec["oldest"], self.release_of(version), self.name, self.command
        if first is None and cls in spec.get("not_in_oldest", ()):
            return (f"{name} {release}'s model registry has {cls} ({model.name}'s architecture) "
                    f"and {oldest}'s has not: `{command}` of {oldest} (which this sizing also "
                    f"stands for) fails to load it, so run {name} {release}")
        if first is None or _key(first) <= _key(oldest):
            return None
        return (f"{name} has a model class for {cls} ({model.name}'s architecture) from release "
                f"{first} on (its model registry, read up to {release}): `{command}` of an older "
                f"release (this sizing stands for {oldest} on) fails to load it, so run {name} "
                f"{first} or newer")


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


# SGLang has no version option here: its sizing is the 0.5 line's (advisor/sizing/sglang_memory.py)
SGLANG_VERSION = "0.5"

VLLM = ModelClasses(name="vLLM", command="vllm serve", path=_DATA / "vllm_architectures.yaml",
                    default_version=c.VLLM_DEFAULT_VERSION)
SGLANG = ModelClasses(
    name="SGLang", command="python -m sglang.launch_server",
    path=_DATA / "sglang_architectures.yaml", default_version=SGLANG_VERSION,
    # model_loader/utils.py get_model_architecture: a class without an SGLang model goes to
    # resolve_transformers_arch, which runs transformers' own class where transformers has one
    # and it reports itself backend-compatible, and fails otherwise (advisor/data/
    # sglang_architectures.yaml)
    fallback=("; SGLang would try its generic Transformers backend instead (where transformers "
              "has the class), whose memory and speed this tool does not size"))


@dataclass(frozen=True)
class Converter:
    """llama.cpp's convert_hf_to_gguf.py: the Hugging Face architecture classes it converts to a
    GGUF (its TEXT converters, read from advisor/data/llamacpp_architectures.yaml). llama.cpp and
    Ollama run GGUF files only, so a model of another class runs under them only from a GGUF
    published of it (made from another form of the model)."""
    path: Path

    def data(self) -> dict:
        """The parsed data file: {commit, source, sdist, date, architectures: [class, ...]}."""
        return _data(self.path)

    def converts(self, hf_class: str) -> bool:
        """Whether convert_hf_to_gguf.py has a TEXT converter for `hf_class`."""
        return hf_class in _class_set(self.path)

    def cannot_convert(self, model) -> str | None:
        """Why no GGUF of `model` (a KB model or one read from config.json) can be had: its class
        (Model.hf_architecture) has no converter and no GGUF of it is published
        (Model.gguf_repos). None where one can be made or is published, where the model names
        no class (not checked), and for a model read from a GGUF file (it is one)."""
        cls = getattr(model, "hf_architecture", None)
        inv = getattr(model, "weights_inventory", None)
        if (cls is None or getattr(inv, "format", None) == "gguf" or getattr(model, "gguf_repos", None)
                or self.converts(cls)):
            return None
        return (f"llama.cpp's convert_hf_to_gguf.py has no converter for {cls} (the architecture "
                f"of {model.name}; read at llama.cpp {self.data()['commit']}), so no GGUF of it "
                "can be made, and none is published")


@lru_cache(maxsize=None)
def _class_set(path: Path) -> frozenset[str]:
    return frozenset(_data(path)["architectures"])


LLAMACPP_CONVERTER = Converter(path=_DATA / "llamacpp_architectures.yaml")
