#!/bin/bash
# One device call: build llama.cpp (CUDA, sm_90), write random Llama-shaped GGUFs, time and log memory.
set -u
T0=$(date +%s)
el() { echo "[t+$(( $(date +%s) - T0 ))s] $*"; }
export PYTHONUNBUFFERED=1
R=$PWD/.lcp
L=/tmp/logs; mkdir -p $L
trap 'tar czf $OUT/logs.tgz -C /tmp logs' EXIT
W=/tmp/lcp; if [ "$(df -BG --output=avail /dev/shm | tail -1 | tr -dc 0-9)" -gt 45 ]; then W=/dev/shm/lcp; fi; mkdir -p $W; echo "models in $W"
df -h /dev/shm /tmp | tee $L/env.txt
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv | tee -a $L/env.txt
nvcc --version | tail -2 | tee -a $L/env.txt
# models in the background while building
( python3 $R/make_model.py $W/l8-f16.gguf 4096 32 32 8 14336 128256 0 > $L/gen.txt 2>&1
  python3 $R/make_model.py $W/l3-f16.gguf 3072 28 24 8 8192 128256 1 >> $L/gen.txt 2>&1 ) &
GEN=$!
# bandwidth and matmul ceilings while the build runs? no: the build uses the CPU only; the GPU is free
python3 - <<'PY' 2>&1 | tee $L/ceilings.txt
import torch, time
x = torch.empty(8 * 2**30 // 2, dtype=torch.bfloat16, device="cuda").normal_()
for _ in range(3): x.sum()
torch.cuda.synchronize(); s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)
s.record()
for _ in range(20): x.sum()
e.record(); torch.cuda.synchronize(); ms = s.elapsed_time(e) / 20
print(f"read 8 GiB bf16 (sum): {x.numel()*2/ms/1e9:.0f} GB/s ({ms:.2f} ms)")
y = torch.empty_like(x)
for _ in range(3): y.copy_(x)
torch.cuda.synchronize(); s.record()
for _ in range(20): y.copy_(x)
e.record(); torch.cuda.synchronize(); ms = s.elapsed_time(e) / 20
print(f"copy 8 GiB (read+write): {2*x.numel()*2/ms/1e9:.0f} GB/s")
PY
el "ceilings done"
cd $R/llama.cpp
cmake -B /tmp/b -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DCMAKE_BUILD_TYPE=Release > $L/cmake.txt 2>&1 || { el "cmake failed"; tail -30 $L/cmake.txt; exit 1; }
el "configured"
timeout ${BUILD_S:-330} cmake --build /tmp/b -j16 --target llama-bench llama-quantize llama-completion > $L/build.txt 2>&1
rc=$?; el "build rc=$rc"; tail -5 $L/build.txt
[ $rc = 0 ] || exit 1
B=/tmp/b/bin
wait $GEN; cat $L/gen.txt; el "models written"
$B/llama-quantize $W/l8-f16.gguf $W/l8-q4km.gguf Q4_K_M 16 > $L/quant.txt 2>&1; el "q4km 8b"
$B/llama-quantize $W/l3-f16.gguf $W/l3-q4km.gguf Q4_K_M 16 >> $L/quant.txt 2>&1; el "q4km 3b"
bench() { timeout 90 $B/llama-bench -m $W/$1.gguf -ngl 99 "${@:2}" -r 3 -o md 2>>$L/bench_err.txt | tee -a $L/bench.md; el "bench $*"; }
bench l8-q4km -fa 1 -p 512,2048 -n 128
bench l3-q4km -fa 1 -p 512,2048 -n 128
for fa in on off; do for c in 8192 32768 131072; do
  echo "== l8-q4km -c $c -fa $fa" >> $L/mem.txt
  timeout 60 $B/llama-completion -m $W/l8-q4km.gguf -ngl 99 -c $c -fa $fa -n 4 -p "hello world" --no-warmup -no-cnv < /dev/null > $L/mem_${fa}_${c}.log 2>&1
  grep -E "buffer size|n_ctx|CUDA0 |fit" $L/mem_${fa}_${c}.log >> $L/mem.txt
done; done
el "mem done"; grep -E "==|buffer size" $L/mem.txt | head -60
bench l8-q4km -fa 0 -p 512 -n 128
$B/llama-quantize $W/l8-f16.gguf $W/l8-q80.gguf Q8_0 16 >> $L/quant.txt 2>&1; el "q8 8b"
bench l8-q80 -fa 1 -p 512 -n 128
bench l8-f16 -fa 1 -p 512 -n 128
ls -l $W | tee $L/files.txt
grep -h "model size\|quant size" $L/quant.txt
el "all done"
