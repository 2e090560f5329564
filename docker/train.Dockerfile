# Training image: CUDA PyTorch + the lps_robot train extras.
# Build from the repository root:  docker build -f docker/train.Dockerfile -t lps_robot:train .
FROM pytorch/pytorch:2.7.1-cuda12.6-cudnn9-runtime

RUN apt-get update \
    && apt-get install -y --no-install-recommends libegl1 libgl1-mesa-dri libusb-1.0-0 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/lps_robot
COPY pyproject.toml README.md ./
COPY lps_robot ./lps_robot
# torch comes from the base image; install the rest of the train extras without touching it.
RUN pip install --no-cache-dir h5py tqdm opencv-python-headless onnx onnxscript pyyaml \
    && pip install --no-cache-dir --no-deps -e .
ENTRYPOINT ["lps"]
CMD ["--help"]
