#!/bin/bash
# Generation figures on the lent GPU machine (bench/device/gpu_figures.py), one call:
#   random-init full-size Wan 2.1 I2V 14B through wan21-chained and svi-film: s/step, s/clip at
#   480x832x81, peak memory, then model offload and torch.compile while the budget lasts.
#
# Prepare here (the device has torch + transformers but no diffusers/peft/accelerate and no
# network; wheels travel, pure Python):
#   echo /.whl/ >> .git/info/exclude
#   pip download --no-deps -d .whl/gen diffusers==0.42.1 peft==0.21.2 accelerate==1.15.0 ftfy wcwidth  # the versions svibench is tested with
# then the device tool: command `bash bench/device/gpu_figures.sh`, carry [".whl"],
# timeout_s 600. Afterwards, here: put the figures into svibench/costs.py and docs/scaling.md.
# The metric pass (VBench vs svibench end to end) is bench/device/run.sh: a second call.
set -u
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
BUDGET=${BUDGET:-500}   # seconds for gpu_figures.py itself (the call's limit is 600)
T0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -V
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/gen .whl/gen/*.whl || exit 1
echo "[$(( $(date +%s)-T0 ))s] installed"
PYTHONPATH=/tmp/gen:. python3 -W ignore -c "import diffusers, peft, accelerate, svibench.generators.svi" || exit 1
PYTHONPATH=/tmp/gen:. timeout $((BUDGET + 60)) python3 -W ignore bench/device/gpu_figures.py \
  --out "$OUT/generation.json" --budget "$BUDGET" --phases ${PHASES:-wan21,svi,offload,compile} \
  2>&1 | grep -v -i warn | tee "$OUT/generation.log"
echo "[$(( $(date +%s)-T0 ))s] end"
