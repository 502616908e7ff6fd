"""Small model files and KB entries built byte by byte, for the hostile-input and fuzz tests:
GGUF headers with any metadata value type (the gguf package's writer checks what we want to
break), config.json folders and KB model entries."""
from __future__ import annotations

import json
import signal
import struct
from contextlib import contextmanager
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent

# GGUF metadata value types
U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = 4, 5, 6, 7, 8, 9, 10, 11, 12
_FMT = {U32: "<I", I32: "<i", F32: "<f", BOOL: "<?", U64: "<Q", I64: "<q", F64: "<d"}
ALIGN = 32


def _str(s: str) -> bytes:
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def _value(vtype: int, value) -> bytes:
    if vtype == STRING:
        return _str(value)
    if vtype == ARRAY:
        itype, items = value
        return struct.pack("<IQ", itype, len(items)) + b"".join(_value(itype, x) for x in items)
    return struct.pack(_FMT[vtype], value)


def gguf_bytes(kv: list[tuple[str, int, object]], tensors: list[tuple[str, tuple[int, ...]]]) -> bytes:
    """A GGUF v3 file: metadata (key, value type, value) and F32 tensors (name, shape) of zeros."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv))
    for key, vtype, value in kv:
        out += _str(key) + struct.pack("<I", vtype) + _value(vtype, value)
    offset, infos = 0, b""
    for name, dims in tensors:
        infos += _str(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        infos += struct.pack("<IQ", 0, offset)  # type 0: F32
        n = 4
        for d in dims:
            n *= d
        offset += -(-n // ALIGN) * ALIGN
    out += infos
    out += b"\0" * (-len(out) % ALIGN)
    return out + b"\0" * offset


def llama_gguf(path: Path, *, layers=2, hidden=64, heads=4, kv_heads=2, ffn=128, vocab=32,
               context=2048, extra=(), blocks=None, tensors=True, types=None) -> Path:
    """A tiny llama GGUF. `extra`: more (key, type, value) metadata; `blocks`: how many blk.N
    tensor groups to write (default: layers, capped at 8); `types`: value type per key."""
    types = types or {}
    meta = {"block_count": layers, "embedding_length": hidden, "attention.head_count": heads,
            "attention.head_count_kv": kv_heads, "feed_forward_length": ffn,
            "context_length": context}
    kv = [("general.architecture", STRING, "llama"), ("general.name", STRING, "Hostile Test")]
    kv += [(f"llama.{k}", types.get(k, U32), v) for k, v in meta.items() if v is not None]
    kv += list(extra)
    ts = []
    if tensors:
        h = hidden if isinstance(hidden, int) and 0 < hidden <= 256 else 64
        v = vocab if isinstance(vocab, int) and 0 < vocab <= 256 else 32
        n = blocks if blocks is not None else (min(layers, 8) if isinstance(layers, int) and layers > 0 else 2)
        ts.append(("token_embd.weight", (h, v)))
        for i in range(n):
            ts += [(f"blk.{i}.attn_q.weight", (h, h)), (f"blk.{i}.attn_norm.weight", (h,))]
        ts.append(("output_norm.weight", (h,)))
    path.write_bytes(gguf_bytes(kv, ts))
    return path


LLAMA_CONFIG = {"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64,
                "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2,
                "vocab_size": 100, "max_position_embeddings": 2048, "torch_dtype": "bfloat16"}


def config_folder(folder: Path, text: str | None = None, **over) -> Path:
    """A folder holding a config.json: LLAMA_CONFIG with `over`, or exactly `text`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(text if text is not None else json.dumps({**LLAMA_CONFIG, **over}))
    return folder


def kb_model_dir(root: Path, text: str | None = None, **arch) -> Path:
    """A user KB folder with one model entry (the built-in llama-3.1-8b under another id, its
    architecture fields replaced by `arch`), or exactly `text` as that entry."""
    (root / "models").mkdir(parents=True, exist_ok=True)
    if text is None:
        entry = yaml.safe_load((REPO / "kb" / "models" / "llama-3.1-8b.yaml").read_text())
        entry.update(id="hostile-model", name="Hostile Model", aliases=[], siblings=[])
        entry.pop("distilled_from", None)
        entry["architecture"].update(arch)
        text = yaml.safe_dump(entry, sort_keys=False)
    (root / "models" / "hostile-model.yaml").write_text(text)
    return root


@contextmanager
def time_limit(seconds: float):
    """Fail with TimeoutError when the block runs longer than `seconds` (a hang is a failure,
    not a stuck test run). Main thread, Unix only."""
    def alarm(signum, frame):
        raise TimeoutError(f"took longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
