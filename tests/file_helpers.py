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
    if tensors:  # a whole llama block each: the tensors agree with the metadata they go with

        def ok(v, top, default):
            return v if isinstance(v, int) and not isinstance(v, bool) and 0 < v <= top else default
        h, v = ok(hidden, 256, 64), ok(vocab, 256, 32)
        nh = ok(heads, h, 4)
        nkv, ff = ok(kv_heads, nh, 2), ok(ffn, 512, 128)
        hd = max(h // nh, 1)
        n = blocks if blocks is not None else (min(layers, 8) if isinstance(layers, int) and layers > 0 else 2)
        ts.append(("token_embd.weight", (h, v)))
        for i in range(n):
            ts += [(f"blk.{i}.attn_norm.weight", (h,)), (f"blk.{i}.attn_q.weight", (h, nh * hd)),
                   (f"blk.{i}.attn_k.weight", (h, nkv * hd)), (f"blk.{i}.attn_v.weight", (h, nkv * hd)),
                   (f"blk.{i}.attn_output.weight", (nh * hd, h)), (f"blk.{i}.ffn_norm.weight", (h,)),
                   (f"blk.{i}.ffn_gate.weight", (h, ff)), (f"blk.{i}.ffn_up.weight", (h, ff)),
                   (f"blk.{i}.ffn_down.weight", (ff, h))]
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


_ST_BYTES = {"F32": 4, "F16": 2, "BF16": 2, "I32": 4, "U8": 1}


def safetensors_bytes(tensors: dict, header: bytes | None = None) -> bytes:
    """A safetensors file: tensors {name: (dtype, shape)} of zeros, or exactly `header` (bytes
    of JSON) with no data."""
    if header is None:
        entries, off = {}, 0
        for name, (dtype, shape) in tensors.items():
            n = _ST_BYTES[dtype]
            for d in shape:
                n *= d
            entries[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + n]}
            off += n
        header = json.dumps(entries).encode()
        return struct.pack("<Q", len(header)) + header + b"\0" * off
    return struct.pack("<Q", len(header)) + header


def llama_safetensors(layers: int = 2, hidden: int = 64, kv: int = 32, ffn: int = 128,
                      vocab: int = 100) -> dict:
    """The tensors {name: (dtype, shape)} of a tiny llama as in a Hugging Face checkpoint."""
    ts = {"model.embed_tokens.weight": ("BF16", (vocab, hidden)),
          "lm_head.weight": ("BF16", (vocab, hidden)), "model.norm.weight": ("BF16", (hidden,))}
    for i in range(layers):
        p = f"model.layers.{i}."
        ts.update({p + "self_attn.q_proj.weight": ("BF16", (hidden, hidden)),
                   p + "self_attn.k_proj.weight": ("BF16", (kv, hidden)),
                   p + "self_attn.v_proj.weight": ("BF16", (kv, hidden)),
                   p + "self_attn.o_proj.weight": ("BF16", (hidden, hidden)),
                   p + "mlp.gate_proj.weight": ("BF16", (ffn, hidden)),
                   p + "mlp.up_proj.weight": ("BF16", (ffn, hidden)),
                   p + "mlp.down_proj.weight": ("BF16", (hidden, ffn)),
                   p + "input_layernorm.weight": ("BF16", (hidden,)),
                   p + "post_attention_layernorm.weight": ("BF16", (hidden,))})
    return ts
