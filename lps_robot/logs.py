"""Training logs: one CSV with a stable header, and TensorBoard scalars.

The CSV keeps one header line whatever happens: a column that first appears mid-run (an
evaluation) rewrites the file once with the wider header, and a resumed run appends under the
existing header (it used to write a second header mid-file). TensorBoard event files go to
``<out_dir>/tb`` when the ``tensorboard`` package is installed and asked for.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


class TrainLog:
    def __init__(self, out_dir: Path, resume: bool, tensorboard: bool = True) -> None:
        self.path = out_dir / "metrics.csv"
        self.rows: list[dict[str, Any]] = []
        self.fields: list[str] = []
        if resume and self.path.exists():
            with self.path.open(newline="") as f:
                reader = csv.DictReader(f)
                self.fields = list(reader.fieldnames or [])
                self.rows = [r for r in reader if r.get("step") != "step"]
        else:
            self.path.write_text("")
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # the package is optional; the CSV is always written
                SummaryWriter = None  # noqa: N806
            if SummaryWriter is not None:
                self.tb = SummaryWriter(str(out_dir / "tb"))

    def write(self, row: dict[str, Any]) -> None:
        new = [k for k in row if k not in self.fields]
        self.rows.append(row)
        if new or self.path.stat().st_size == 0:
            self.fields += new
            self._rewrite()
        else:
            with self.path.open("a", newline="") as f:
                csv.DictWriter(f, fieldnames=self.fields).writerow(row)
        if self.tb is not None:
            step = int(row["step"])
            for key, value in row.items():
                if key != "step" and isinstance(value, int | float):
                    self.tb.add_scalar(key, value, step)
            self.tb.flush()

    def _rewrite(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.fields, restval="")
            writer.writeheader()
            writer.writerows(self.rows)
        tmp.replace(self.path)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
