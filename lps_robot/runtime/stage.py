"""Stage a policy file for loading without holding up the caller's threads.

Parsing a model with ``onnx`` and hashing its graph hold Python's GIL for as long as they
take (133 ms for a 207 MB model here), and onnxruntime built from in-memory bytes holds it
for 126 ms: inside the controller that stalls the control thread. `stage` does the parsing
and hashing in a child process, which also copies the file into a private staging
directory; the caller then builds its onnxruntime session from that copy by path (which holds
the GIL for at most a few ms), so what was hashed is exactly what runs even if the source
is rewritten meanwhile. Run as ``python -m lps_robot.runtime.stage SRC DST MAX_BYTES``: one
JSON line, ``{"file_hash", "graph_hash", "bytes"}`` or ``{"error"}``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lps_robot.runtime.loader import check_model_file
from lps_robot.runtime.manifest import PolicyRejected


@dataclass
class Staged:
    """A private copy of a model file and what the child process learnt about it."""

    source: Path
    path: Path  # the private copy; `discard` removes it
    file_hash: str  # sha256 of the file's bytes
    graph_hash: str  # the manifest's content_hash recomputed from the graph

    def discard(self) -> None:
        shutil.rmtree(self.path.parent, ignore_errors=True)


def _staging_root() -> str | None:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def stage(path: str | Path, max_bytes: int, timeout_s: float) -> Staged:
    """Copy, hash and parse ``path`` in a child process; `PolicyRejected` with the reason."""
    path = Path(path)
    check_model_file(path, max_bytes)  # FIFOs, devices, directories, size: refused cheaply
    tmp = Path(tempfile.mkdtemp(prefix="lps_stage_", dir=_staging_root()))
    dst = tmp / "model.onnx"
    cmd = [sys.executable, "-m", "lps_robot.runtime.stage", str(path), str(dst), str(max_bytes)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        lines = out.stdout.strip().splitlines()
        reply = json.loads(lines[-1]) if lines else {"error": out.stderr.strip()[-500:]}
    except subprocess.TimeoutExpired:
        shutil.rmtree(tmp, ignore_errors=True)
        raise PolicyRejected(f"{path}: staging did not finish within {timeout_s:g} s") from None
    except (OSError, json.JSONDecodeError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise PolicyRejected(f"{path}: staging failed ({type(e).__name__}: {e})") from e
    if "error" in reply:
        shutil.rmtree(tmp, ignore_errors=True)
        raise PolicyRejected(reply["error"] or f"{path}: staging failed")
    return Staged(path, dst, reply["file_hash"], reply["graph_hash"])


def _child(src: str, dst: str, max_bytes: int) -> dict:
    from lps_robot.runtime.loader import read_model_file
    from lps_robot.runtime.manifest import graph_hash

    try:
        data = read_model_file(src, max_bytes)
    except PolicyRejected as e:
        return {"error": str(e)}
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    try:
        graph = graph_hash(data)
    except Exception as e:  # noqa: BLE001 - protobuf raises several types for junk
        return {"error": f"{src}: not a loadable ONNX model ({type(e).__name__})"}
    return {"file_hash": hashlib.sha256(data).hexdigest(), "graph_hash": graph, "bytes": len(data)}


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], sys.argv[2], int(sys.argv[3]))), flush=True)
