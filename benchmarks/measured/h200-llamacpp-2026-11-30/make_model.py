"""Write a Llama-shaped GGUF with random F16 weights (no download), for timing and memory logs.

usage: make_model.py OUT.gguf n_embd n_layer n_head n_head_kv n_ff vocab tied(0|1)
"""
import sys, os
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "llama.cpp", "gguf-py"))
import numpy as np
import gguf

out, n_embd, n_layer, n_head, n_kv, n_ff, vocab, tied = sys.argv[1], *map(int, sys.argv[2:9])
head_dim = n_embd // n_head
rng = np.random.default_rng(0)
biggest = max(vocab * n_embd, n_ff * n_embd)
pool = (rng.standard_normal(biggest + 4096, dtype=np.float32) * 0.02).astype(np.float16)
offset = [0]

def rand(rows, cols):
    n = rows * cols
    o = offset[0] % 4096
    offset[0] += 977
    return pool[o:o + n].reshape(rows, cols)

w = gguf.GGUFWriter(out, "llama")
w.add_name("random-llama")
w.add_context_length(131072)
w.add_embedding_length(n_embd)
w.add_block_count(n_layer)
w.add_feed_forward_length(n_ff)
w.add_head_count(n_head)
w.add_head_count_kv(n_kv)
w.add_rope_dimension_count(head_dim)
w.add_rope_freq_base(500000.0)
w.add_layer_norm_rms_eps(1e-5)
w.add_vocab_size(vocab)
w.add_file_type(1)
toks = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
toks += [f"\u2581t{i}" for i in range(vocab - len(toks))]
types = [2, 3, 3] + [6] * 256 + [1] * (vocab - 259)
w.add_tokenizer_model("llama")
w.add_token_list(toks)
w.add_token_scores([0.0] * vocab)
w.add_token_types(types)
w.add_bos_token_id(1)
w.add_eos_token_id(2)
w.add_unk_token_id(0)
ones = np.ones(n_embd, dtype=np.float32)
w.add_tensor("token_embd.weight", rand(vocab, n_embd))
w.add_tensor("output_norm.weight", ones)
if not tied:
    w.add_tensor("output.weight", rand(vocab, n_embd))
for i in range(n_layer):
    p = f"blk.{i}."
    w.add_tensor(p + "attn_norm.weight", ones)
    w.add_tensor(p + "attn_q.weight", rand(n_embd, n_embd))
    w.add_tensor(p + "attn_k.weight", rand(n_kv * head_dim, n_embd))
    w.add_tensor(p + "attn_v.weight", rand(n_kv * head_dim, n_embd))
    w.add_tensor(p + "attn_output.weight", rand(n_embd, n_embd))
    w.add_tensor(p + "ffn_norm.weight", ones)
    w.add_tensor(p + "ffn_gate.weight", rand(n_ff, n_embd))
    w.add_tensor(p + "ffn_up.weight", rand(n_ff, n_embd))
    w.add_tensor(p + "ffn_down.weight", rand(n_embd, n_ff))
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print("wrote", out, os.path.getsize(out))
