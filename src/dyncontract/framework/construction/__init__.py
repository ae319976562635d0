"""Real federated construction: ESs train the modules of a BabyAI agent on Flower.

Split as Flower's example apps are: task code (:mod:`.agent`, :mod:`.data`, :mod:`.task`),
the ES side (:mod:`.client_app`), the CS side (:mod:`.server_app`, :mod:`.strategy`), and
around them the work plan (:mod:`.plan`), the runtimes (:mod:`.runtime`), the measured
work unit (:mod:`.calibration`), the market and accounting (:mod:`.construct`) and the run
folder (:mod:`.report`). docs/construction.md describes the design.

Importing this package imports nothing heavy: torch, Flower and minigrid are imported by the
submodules that need them (the ``construct`` extra), so the config section
(:mod:`.config`) validates everywhere.
"""
