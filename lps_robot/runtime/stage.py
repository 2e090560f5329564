"""Stage a policy file for loading without holding up the caller's threads.

Parsing a model with ``onnx`` and hashing its graph hold Python's GIL for as long as they
take (133 ms for a 207 MB model here), and onnxruntime built from in-memory bytes holds it
for 126 ms: inside the controller that stalls the control thread. `stage` does the parsing
and hashing in a child process, which also writes the model into a private staging
directory with its large tensors as external data (one side file); the caller then builds
its onnxruntime session from that copy by path. onnxruntime parses the model proto with the
GIL held (about 20 ms for 217 MB of weights inside it) but reads external data while
initializing, without it: staged this way a 217 MB model holds the caller's other threads up
for a few ms at most. What was hashed is exactly what runs, even if the source is rewritten
meanwhile. The helper runs as ``python -m lps_robot.runtime.stage``: one JSON request per
line in, one JSON line out, ``{"file_hash", "graph_hash", "bytes"}`` or ``{"error"}``.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from lps_robot.runtime.loader import LOAD_NICE, check_model_file
from lps_robot.runtime.manifest import PolicyRejected

WEIGHTS = "weights.bin"  # the staged model's external data, beside it
EXTERNAL_MIN_BYTES = 4096  # tensors at least this big move to the external data file


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


class Stager:
    """A staging child process kept running between loads (started by `start`, at configure).

    Spawning a process from a big one held the GIL for 4-9 ms (a late tick per swap); one
    helper, spawned before the loop commands anything, answers every later request over a
    pipe: one JSON line each way. A helper that does not answer in time is killed, and the
    next request starts a fresh one.
    """

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            self._spawn()

    def _spawn(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            cmd = [sys.executable, "-m", "lps_robot.runtime.stage"]
            if shutil.which("nice"):  # the helper yields the CPU to the control loop too
                cmd = ["nice", "-n", str(LOAD_NICE), *cmd]
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
            )
        return self._proc

    def close(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def stage(self, path: str | Path, max_bytes: int, timeout_s: float) -> Staged:
        """Copy, hash and parse ``path`` in the helper; `PolicyRejected` with the reason."""
        path = Path(path)
        check_model_file(path, max_bytes)  # FIFOs, devices, directories, size: refused cheaply
        tmp = Path(tempfile.mkdtemp(prefix="lps_stage_", dir=_staging_root()))
        dst = tmp / "model.onnx"
        request = json.dumps({"src": str(path), "dst": str(dst), "max_bytes": max_bytes})
        try:
            with self._lock:
                reply = self._ask(request, timeout_s)
        except PolicyRejected as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise PolicyRejected(f"{path}: {e}") from None
        if "error" in reply:
            shutil.rmtree(tmp, ignore_errors=True)
            raise PolicyRejected(reply["error"] or f"{path}: staging failed")
        return Staged(path, dst, reply["file_hash"], reply["graph_hash"])

    def _ask(self, request: str, timeout_s: float) -> dict:
        proc = self._spawn()
        try:
            proc.stdin.write(request + "\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
            line = proc.stdout.readline() if ready else ""
        except OSError as e:
            line, ready = "", [e]
        if not line:
            proc.kill()
            proc.wait()
            self._proc = None
            what = "did not finish" if not ready else "ended"
            raise PolicyRejected(f"staging {what} within {timeout_s:g} s")
        try:
            return json.loads(line)
        except json.JSONDecodeError as e:
            raise PolicyRejected(f"staging failed ({e})") from e


def stage(path: str | Path, max_bytes: int, timeout_s: float) -> Staged:
    """Stage ``path`` in a one-off helper (`Stager` keeps one for repeated loads)."""
    stager = Stager()
    try:
        return stager.stage(path, max_bytes, timeout_s)
    finally:
        stager.close()


def _child(src: str, dst: str, max_bytes: int) -> dict:
    from lps_robot.runtime.loader import read_model_file
    from lps_robot.runtime.manifest import graph_hash

    try:
        data = read_model_file(src, max_bytes)
    except PolicyRejected as e:
        return {"error": str(e)}
    import onnx

    try:
        model = onnx.load_from_string(data)
    except Exception as e:  # noqa: BLE001 - protobuf raises several types for junk
        return {"error": f"{src}: not a loadable ONNX model ({type(e).__name__})"}
    graph = graph_hash(model)
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        return {"error": f"{src}: refers to external data files; expected one self-contained file"}
    onnx.save_model(
        model,
        dst,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=WEIGHTS,
        size_threshold=EXTERNAL_MIN_BYTES,
    )
    return {"file_hash": hashlib.sha256(data).hexdigest(), "graph_hash": graph, "bytes": len(data)}


def _serve() -> None:
    """The helper's loop: one JSON request per line in, one JSON reply per line out."""
    for line in sys.stdin:
        try:
            req = json.loads(line)
            reply = _child(req["src"], req["dst"], int(req["max_bytes"]))
        except Exception as e:  # noqa: BLE001 - a reply for every request, whatever happens
            reply = {"error": f"staging failed ({type(e).__name__}: {e})"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    _serve()
