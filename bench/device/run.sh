#!/bin/bash
# VBench 0.1.5 (its own code) vs svibench on a CUDA machine that has torch but nothing else
# and no network: the same videos, the same seeded random weights, one machine, one call.
#
# Prepare here (see bench/device/README.md): wheels for the device's Python in .whl/vb
# (VBench's side) and .whl/sv (svibench's side), a copy of shared/tools/vbench_ref in
# .gpu/vbench_ref and the videos in $VIDEOS (default .gpu/videos9). Then, on the machine:
#   bash bench/device/run.sh      # writes $OUT/{svibench_cuda_*.json,vbench_cuda.json}
set -u
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
VIDEOS=${VIDEOS:-.gpu/videos9}; VBREF=${VBREF:-.gpu/vbench_ref}; W=${WEIGHTS:-/tmp/w}
T0=$(date +%s)
log(){ echo "[$(( $(date +%s)-T0 ))s] $*"; }
nvidia-smi -L; python3 -V
python3 -c "import torch,torchvision,numpy;print('torch',torch.__version__,torchvision.__version__,numpy.__version__,torch.cuda.is_available())"
# two separate targets: VBench pins pyiqa 0.1.10, svibench uses a newer pyiqa
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/vb .whl/vb/*.whl || exit 1
cp bench/device/sitecustomize.py /tmp/vb/  # numpy-2 aliases for imgaug (VBench's pyiqa imports it)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/sv .whl/sv/*.whl || exit 1
log installed
PYTHONPATH=/tmp/vb python3 -W ignore -c "import decord, clip, pyiqa.archs.musiq_arch, vbench.utils, vbench.dynamic_degree, vbench.motion_smoothness, vbench2_beta_i2v.i2v_subject" || exit 1
PYTHONPATH=/tmp/sv:. python3 -W ignore -c "import open_clip, pyiqa.archs.musiq_arch, svibench.metrics.registry" || exit 1
rm -rf /tmp/vr && cp -r "$VBREF" /tmp/vr
# the reference runner evaluates on the CPU; the one change: VBench's device argument
sed -i 's/device = torch.device("cpu")/device = torch.device("cuda")/' /tmp/vr/run_vbench.py
grep -q 'torch.device("cuda")' /tmp/vr/run_vbench.py || exit 1
DIMS="temporal_flickering subject_consistency background_consistency aesthetic_quality imaging_quality dynamic_degree motion_smoothness i2v_subject"
log weights
PYTHONPATH=/tmp/vb:/tmp/vr python3 -W ignore /tmp/vr/make_weights.py --weights $W 2>&1 | tail -3
for dt in float32 bfloat16; do
  extra=""; [ $dt = bfloat16 ] && extra="--no-flops"
  log "svibench $dt"
  PYTHONPATH=/tmp/sv:. timeout 150 python3 -W ignore bench/metrics_vs_vbench.py --videos $VIDEOS --weights $W \
     --device cuda --threads $(nproc) --decoder cv2 --dtype $dt $extra \
     --dims $DIMS --out $OUT/svibench_cuda_$dt.json 2>&1 | grep -v -i warn
done
log vbench
PYTHONPATH=/tmp/vb timeout 330 python3 -W ignore /tmp/vr/run_vbench.py --videos $VIDEOS --weights $W \
   --out $OUT/vbench_cuda.json --dims $DIMS 2>&1 | tail -12
log end
# afterwards, here: .venv/bin/python bench/device/compare.py $OUT
