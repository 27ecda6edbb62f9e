#!/usr/bin/env bash
# The GPU figures in benchmarks/README.md ("GPU: what a prior call and a vi step cost"), run on a
# lent device machine (bare: PyTorch and transformers of its own, no priorbench, no weights).
#
# SmolLM2's weights (98 MB GGUF) do not fit the 64 MiB that travels to the device, so the model
# is SmolLM2-135M's exact shape (its config.json and tokenizer, .devcarry/smollm2-shape/) with
# RANDOM weights built there: a prior call's cost depends on the shape and the token counts,
# not on the weights. The pure-Python packages priorbench needs at the versions it pins
# (transformers 5.25, huggingface_hub, peft, gymnasium, ...) travel as .devcarry/site.tar.xz,
# made here from the venv's site-packages. Make both, then call the device tool with
# carry=[".devcarry"] and `bash benchmarks/device_gpu.sh`:
#
#   S=.venv/lib/python3.11/site-packages; mkdir -p .devcarry/smollm2-shape
#   (cd $S && tar cJf - --exclude=__pycache__ transformers transformers-*.dist-info huggingface_hub \
#       huggingface_hub-*.dist-info httpx2 httpx2-*.dist-info httpcore2 httpcore2-*.dist-info \
#       truststore truststore-*.dist-info gymnasium gymnasium-*.dist-info farama_notifications \
#       farama_notifications-*.dist-info peft peft-*.dist-info) > .devcarry/site.tar.xz
#   M=~/.cache/priorbench/models/SmolLM2-135M-Instruct.Q4_1-*; cp $M/{config.json,tokenizer_config.json,\
#       chat_template.jinja,generation_config.json} .devcarry/smollm2-shape/
#   xz -c $M/tokenizer.json > .devcarry/smollm2-shape/tokenizer.json.xz
#
# DEVICE=cpu QUICK=1 runs the same steps here, small, to check the script before spending
# device time. Outputs land in $OUT (the device tool brings them back) or /tmp/device-gpu.
set -uo pipefail
cd "$(dirname "$0")/.."
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-/tmp/device-gpu}
mkdir -p "$OUT" /tmp/pb-site /tmp/pb-pkg /tmp/pb-cache
tar xJf .devcarry/site.tar.xz -C /tmp/pb-site || exit 1
ln -sfn "$PWD" /tmp/pb-pkg/priorbench  # the repository's folders are priorbench.core, .agents, ...
export PYTHONPATH=/tmp/pb-site:/tmp/pb-pkg HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
export PRIORBENCH_CACHE=/tmp/pb-cache
# transformers 5.25 kernelizes models on CUDA by default and then needs the `kernels` package
# (not on the device); its Hub map has nothing for Llama/Qwen2 layers, so off changes nothing.
export USE_HUB_KERNELS=0
PY=${PY:-python3}
SHAPE=/tmp/pb-smollm2-shape
if [ -n "${QUICK:-}" ]; then REPS="--quick"; QWEN=""; STEPS=8; K=4; else REPS="--reps 10 --naive-reps 3"; QWEN="--qwen2"; STEPS=128; K=20; fi

$PY - "$SHAPE" <<'EOF' || exit 1
import json, lzma, shutil, sys
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

src, dst = Path(".devcarry/smollm2-shape"), Path(sys.argv[1])
dst.mkdir(parents=True, exist_ok=True)
for f in src.iterdir():
    if f.suffix == ".xz":
        (dst / f.stem).write_bytes(lzma.decompress(f.read_bytes()))
    else:
        shutil.copy(f, dst / f.name)
config = json.loads((dst / "config.json").read_text())
for key in ("quantization_config", "_model_name_or_path"):
    config.pop(key, None)
torch.manual_seed(0)
model = LlamaForCausalLM(LlamaConfig.from_dict(config))
model.save_pretrained(dst)
print(f"SmolLM2-135M shape, random weights: {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M "
      f"parameters; torch {torch.__version__}, cuda {torch.cuda.is_available()}", flush=True)
EOF
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"

for dtype in float32 bfloat16; do
    timeout 200 $PY benchmarks/prior_scoring.py --model "$SHAPE" --device "$DEVICE" --dtype $dtype \
        --skip-cache-run $QWEN $REPS 2>&1 | tee "$OUT/prior_scoring_$dtype.txt"
done
timeout 150 $PY benchmarks/eval_batch.py --model "$SHAPE" --device "$DEVICE" --dtype bfloat16 --k $K --json \
    2>&1 | tee "$OUT/eval_batch.json"
timeout 200 $PY benchmarks/vi_wall_time.py --configs top2,every-layer --steps $STEPS \
    --set "prior_params={model='$SHAPE', device='$DEVICE', dtype='bfloat16'}" 2>&1 | tee "$OUT/vi_wall_time.txt"
