"""Read the Hugging Face architecture classes llama.cpp's convert_hf_to_gguf.py converts, without
running it, and print them as the `architectures` list of advisor/data/llamacpp_architectures.yaml.

Usage: python tools/read_llamacpp_converters.py LLAMA_CPP_DIR

LLAMA_CPP_DIR is a llama.cpp source tree (a checkout, or llama-cpp-python's sdist's
vendor/llama.cpp). Its converters are registered with the decorator `@ModelBase.register("Class",
...)`, in convert_hf_to_gguf.py itself (older trees) or in the modules of its conversion/ package
(newer ones). ModelBase.register files a class under MMPROJ when its model_arch is
MODEL_ARCH.MMPROJ (the MmprojModel subclasses: vision and audio projectors, `--mmproj`), under
TEXT otherwise; convert_hf_to_gguf.py without --mmproj looks the model's class up in TEXT and
fails with "Architecture ... not supported!" where it is absent. Only TEXT classes are printed.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def read(root: Path) -> tuple[list[str], list[str]]:
    """The (TEXT, MMPROJ) class names registered in the tree at `root`, each sorted."""
    files = sorted((root / "conversion").glob("*.py")) or [root / "convert_hf_to_gguf.py"]
    bases: dict[str, list[str]] = {}
    registered: dict[str, list[str]] = {}
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            bases[node.name] = [b for b in (_name(x) for x in node.bases) if b]
            for dec in node.decorator_list:
                if (isinstance(dec, ast.Call) and _name(dec.func) == "register"
                        and isinstance(dec.func, ast.Attribute) and _name(dec.func.value) == "ModelBase"):
                    names = [a.value for a in dec.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
                    registered.setdefault(node.name, []).extend(names)

    def is_mmproj(cls: str, seen: frozenset = frozenset()) -> bool:
        if cls == "MmprojModel":
            return True
        return any(is_mmproj(b, seen | {cls}) for b in bases.get(cls, ()) if b not in seen)

    text, mmproj = set(), set()
    for cls, names in registered.items():
        (mmproj if is_mmproj(cls) else text).update(names)
    return sorted(text), sorted(mmproj)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    text, mmproj = read(Path(argv[1]))
    print(f"# {len(text)} TEXT classes ({len(mmproj)} MMPROJ classes not listed)")
    print("architectures:")
    for name in text:
        print(f"- {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
