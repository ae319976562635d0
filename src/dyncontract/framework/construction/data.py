"""Private demonstrations at each ES and held-out evaluation missions (BabyAI).

Every episode comes from minigrid's procedural level generator seeded with one integer, and
its actions from minigrid's ``BabyAIBot`` (the expert); nothing is downloaded. Seeds are
drawn from disjoint ranges:

* ES ``e`` of a construction with seed ``s`` draws its level seeds from its own stream
  (``numpy`` Generator of ``SeedSequence((s, e))``) in ``[0, EVAL_SEED_BASE)``;
* held-out missions use seeds from ``EVAL_SEED_BASE`` up, which no ES ever draws: the
  *test* missions every report uses are ``TEST_SEED_BASE + j`` (j = 0, 1, ...); the
  *validation* missions ``EVAL_SEED_BASE + j`` are the ones the agent's design and defaults
  were tuned on (docs/notes/construction-tuning.md), so no reported number comes from
  missions that tuning has seen.

Non-IID missions: an ES's users ask for different things than another's. Each ES draws a mix
``w ~ Dirichlet(concentration)`` over one mission attribute (the colour, the object kind,
or both), then keeps a generated level only when its mission's attribute is the one it drew
from ``w`` (rejection sampling over level seeds). ``concentration: null`` is the IID split
(the level's own mission distribution).

A set of episodes is stored ragged: frames ``(F, 7, 7, 3)`` uint8, the agent's compass
direction ``(F,)`` uint8 (0-3, part of BabyAI's observation), actions ``(F,)`` int64,
``offsets`` ``(E + 1,)`` so that episode ``j`` is frames ``offsets[j]:offsets[j + 1]``, and
mission tokens ``(E, L_max)`` int64 padded with 0.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

#: First seed of the held-out missions; ES data seeds are all below it.
EVAL_SEED_BASE = 2**30
#: First seed of the test missions (validation missions lie between the two bases).
TEST_SEED_BASE = EVAL_SEED_BASE + 2 * 10**6

#: The BabyAI grammar's words (index 0 = padding, 1 = unknown word).
VOCAB: tuple[str, ...] = (
    "<pad>", "<unk>", "go", "to", "the", "a", "pick", "up", "open", "put", "next", "and",
    "then", "after", "you", "in", "front", "of", "behind", "on", "your", "left", "right",
    "red", "green", "blue", "purple", "yellow", "grey", "ball", "box", "key", "door", ",",
)  # fmt: skip
_WORD = {w: i for i, w in enumerate(VOCAB)}
#: Longest instruction kept (BabyAI's longest missions have ~30 words).
MAX_WORDS = 40

COLOURS: tuple[str, ...] = ("red", "green", "blue", "purple", "yellow", "grey")
KINDS: tuple[str, ...] = ("ball", "box", "key")

#: Attribute values per non-IID attribute.
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "colour": COLOURS,
    "kind": KINDS,
    "colour_kind": tuple(f"{c} {k}" for c in COLOURS for k in KINDS),
}

#: Level generations tried per kept episode before the ES accepts any mission.
MAX_REJECTIONS = 200


def tokenize(mission: str) -> list[int]:
    """Word ids of a mission string (BabyAI words; anything else is ``<unk>``)."""
    words = mission.lower().replace(",", " , ").split()[:MAX_WORDS]
    return [_WORD.get(w, 1) for w in words]


def mission_attribute(mission: str, attribute: str) -> str | None:
    """The attribute value of a mission: its first colour / object kind word (or both)."""
    words = mission.lower().replace(",", " ").split()
    colour = next((w for w in words if w in COLOURS), None)
    kind = next((w for w in words if w in KINDS), None)
    if attribute == "colour":
        return colour
    if attribute == "kind":
        return kind
    return None if colour is None or kind is None else f"{colour} {kind}"


def _quiet() -> None:
    # level generation prints "Sampling rejected: ..." lines from minigrid's RoomGridLevel
    warnings.filterwarnings("ignore", module="gymnasium")
    warnings.filterwarnings("ignore", module="minigrid")


@cache
def _env(level: str):  # one env per level and process, reset with explicit seeds
    import gymnasium as gym
    import minigrid  # noqa: F401  (registers the BabyAI levels)

    _quiet()
    return gym.make(level, disable_env_checker=True).unwrapped


def check_levels(levels: Sequence[str]) -> None:
    """Raise ValueError naming the first level that is not a registered BabyAI level."""
    import gymnasium as gym
    import minigrid  # noqa: F401

    for lv in levels:
        if lv not in gym.registry or not lv.startswith("BabyAI-"):
            raise ValueError(f"unknown BabyAI level {lv!r} (see minigrid's BabyAI-* ids)")


def make_env(level: str, seed: int):
    """The level's env reset with ``seed`` (one cached env per level and process) and its
    first observation."""
    env = _env(level)
    # minigrid prints "Sampling rejected: ..." while it generates some levels
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        obs, _ = env.reset(seed=int(seed))
    return env, obs


@dataclass(frozen=True)
class Episodes:
    """A ragged set of demonstrations (see the module docstring for the layout)."""

    frames: np.ndarray  # (F, 7, 7, 3) uint8
    directions: np.ndarray  # (F,) uint8
    actions: np.ndarray  # (F,) int64
    offsets: np.ndarray  # (E + 1,) int64
    missions: np.ndarray  # (E, L_max) int64, 0-padded
    attributes: np.ndarray  # (E,) int64 index of the attribute value (-1: none)

    @property
    def n_episodes(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "frames": self.frames,
            "directions": self.directions,
            "actions": self.actions,
            "offsets": self.offsets,
            "missions": self.missions,
            "attributes": self.attributes,
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> Episodes:
        return cls(**{k: np.asarray(a[k]) for k in cls.__dataclass_fields__})


def _pad(rows: list[list[int]]) -> np.ndarray:
    width = max(1, max((len(r) for r in rows), default=1))
    out = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


@dataclass(frozen=True)
class DemoStats:
    """What generating an ES's demonstrations cost."""

    cpu_s: float
    levels_generated: int
    bot_failures: int


def bot_episode(level: str, seed: int) -> tuple[list[np.ndarray], list[int], list[int], str, bool]:
    """Run the expert bot on one level: frames, directions, actions, mission, success."""
    from minigrid.utils.baby_ai_bot import BabyAIBot

    env, obs = make_env(level, seed)
    bot = BabyAIBot(env)
    frames, directions, actions = [], [], []
    done, reward = False, 0.0
    while not done:
        a = int(bot.replan())
        frames.append(obs["image"].copy())
        directions.append(int(obs["direction"]))
        actions.append(a)
        obs, reward, term, trunc, _ = env.step(a)
        done = term or trunc
    return frames, directions, actions, obs["mission"], bool(reward > 0)


def generate_demos(
    levels: Sequence[str],
    n_episodes: int,
    rng: np.random.Generator,
    attribute: str = "colour",
    mix: np.ndarray | None = None,
) -> tuple[Episodes, DemoStats]:
    """``n_episodes`` bot demonstrations on ``levels`` (drawn uniformly per episode).

    ``mix`` (probabilities over ``ATTRIBUTES[attribute]``) makes the missions non-IID: each
    episode's attribute value is drawn from it and level seeds are rejected until the mission
    has that value (after ``MAX_REJECTIONS`` tries the ES keeps what it got). ``None``: IID.
    Episodes the bot fails are dropped (counted in ``bot_failures``). CPU time is this
    thread's (``time.thread_time``).
    """
    t0 = time.thread_time()
    values = ATTRIBUTES[attribute]
    frames: list[np.ndarray] = []
    directions: list[int] = []
    actions: list[int] = []
    offsets = [0]
    missions: list[list[int]] = []
    attrs: list[int] = []
    generated = failures = 0
    while len(missions) < n_episodes:
        level = levels[int(rng.integers(len(levels)))] if len(levels) > 1 else levels[0]
        want = None if mix is None else values[int(rng.choice(len(values), p=mix))]
        seed = int(rng.integers(EVAL_SEED_BASE))
        for _ in range(MAX_REJECTIONS):
            _, obs = make_env(level, seed)
            generated += 1
            if want is None or mission_attribute(obs["mission"], attribute) == want:
                break
            seed = int(rng.integers(EVAL_SEED_BASE))
        fr, di, ac, mission, ok = bot_episode(level, seed)
        if not ok:
            failures += 1
            continue
        frames.extend(fr)
        directions.extend(di)
        actions.extend(ac)
        offsets.append(offsets[-1] + len(ac))
        missions.append(tokenize(mission))
        val = mission_attribute(mission, attribute)
        attrs.append(values.index(val) if val in values else -1)
    eps = Episodes(
        frames=np.stack(frames).astype(np.uint8) if frames else np.zeros((0, 7, 7, 3), np.uint8),
        directions=np.asarray(directions, dtype=np.uint8),
        actions=np.asarray(actions, dtype=np.int64),
        offsets=np.asarray(offsets, dtype=np.int64),
        missions=_pad(missions),
        attributes=np.asarray(attrs, dtype=np.int64),
    )
    return eps, DemoStats(time.thread_time() - t0, generated, failures)


def attribute_mix(
    rng: np.random.Generator, attribute: str, concentration: float | None
) -> np.ndarray | None:
    """An ES's mix over the attribute's values: Dirichlet(concentration), None for IID."""
    if concentration is None:
        return None
    k = len(ATTRIBUTES[attribute])
    return rng.dirichlet(np.full(k, float(concentration)))


def eval_seeds(n: int, split: str = "test") -> np.ndarray:
    """Seeds of ``n`` held-out missions of ``split`` (``test`` or ``validation``), disjoint
    from every ES's data and from each other."""
    if split not in ("test", "validation"):
        raise ValueError(f"split must be test or validation, got {split!r}")
    base = TEST_SEED_BASE if split == "test" else EVAL_SEED_BASE
    return base + np.arange(int(n), dtype=np.int64)
