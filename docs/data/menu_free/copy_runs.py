"""Copy each run's metrics.csv and eval.json of an experiment into one flat folder.

usage: python copy_runs.py OUT/<experiment> DEST   (e.g. results/menu_free docs/data/menu_free/runs)
"""

import shutil
import sys
from pathlib import Path

src, dst = Path(sys.argv[1]), Path(sys.argv[2])
dst.mkdir(parents=True, exist_ok=True)
for done in sorted(src.glob("*/*/DONE")):
    run = done.parent
    method, seed = run.parent.name, run.name
    for name in ("metrics.csv", "eval.json"):
        if (run / name).exists():
            shutil.copyfile(run / name, dst / f"{method}_{seed}.{name}")
print(f"copied {len(list(dst.iterdir()))} files to {dst}")
