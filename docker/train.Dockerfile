# Training image: CUDA PyTorch + the lps_robot train extras (torch comes from the base image).
# Build from the repository root:  docker build -f docker/train.Dockerfile -t lps_robot:train .
# Train on the GPU:   docker run --gpus all -v /data:/data lps_robot:train \
#                       --dataset /data/task1 --out_dir /data/runs/task1
# Several GPUs:       docker run --gpus all --entrypoint torchrun lps_robot:train \
#                       --standalone --nproc_per_node 4 -m lps_robot.cli train --device cuda ...
FROM pytorch/pytorch:2.7.1-cuda12.6-cudnn9-runtime

RUN apt-get update \
    && apt-get install -y --no-install-recommends libegl1 libgl1-mesa-dri libusb-1.0-0 g++ \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/lps_robot
COPY docker/train-requirements.txt ./
RUN pip install --no-cache-dir -r train-requirements.txt
COPY pyproject.toml README.md ./
COPY lps_robot ./lps_robot
RUN pip install --no-cache-dir --no-deps -e .
ENTRYPOINT ["lps", "train", "--device", "cuda"]
CMD ["--help"]
