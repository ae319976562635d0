"""The instruction-following agent: four modules with their own parameter groups.

model.md §1 names the modules an ES builds; here they are torch modules whose parameters
are named ``<module>.<...>`` in the agent's state dict, so the CS can aggregate module by
module:

* ``perception`` — a small CNN over the 7×7×3 egocentric view (each cell's object, colour
  and state ids embedded and summed, then two 3×3 convolutions): ``(B, 7, 7, 3)`` uint8 →
  ``(B, C, 7, 7)``.
* ``planning`` — the instruction encoder (word embeddings + GRU) and its fusion with what is
  seen. Fusion has two parts: *grounding* maps, ``heads`` maps over the 7×7 view whose
  cell value is the product of an object-kind match and a colour match between the cell
  and the instruction (so "the yellow box" lights up exactly the yellow boxes; the product
  makes the conjunction easy to learn), concatenated to the view's features; then
  ``film_layers`` FiLM layers modulate the features by the instruction and a linear layer
  reads the whole map (positions kept): → ``(B, fused_dim)``.
* ``memory`` — a GRU carrying a recurrent state across the steps of an episode; its input
  is the fused features plus embeddings of the agent's compass direction and of its
  previous action (what it did last; "start" on the first step): → ``(B, H)``.
* ``action`` — the policy head: ``(B, H)`` → logits over the 7 BabyAI actions.

Training (behaviour cloning) runs whole episodes at once: perception and planning on every
frame, the GRU over each episode's sequence (packed, so padding costs nothing), the head on
every frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from dyncontract.framework.construction.data import VOCAB

#: The agent's modules, in the order the CS aggregates them (model.md §1).
MODULES: tuple[str, ...] = ("perception", "planning", "memory", "action")
#: BabyAI's action space (left, right, forward, pickup, drop, toggle, done).
N_ACTIONS = 7
#: Id ranges of the three channels of a cell (object <= 10, colour <= 5, state <= 2).
_CHANNEL_SIZE = 16


@dataclass(frozen=True)
class AgentSpec:
    """Sizes of the agent (all modules)."""

    channels: int = 16
    word_dim: int = 32
    instr_dim: int = 64
    fused_dim: int = 128
    memory_dim: int = 128
    head_dim: int = 64
    film_layers: int = 2
    heads: int = 4
    ground_dim: int = 16


class Perception(nn.Module):
    """Egocentric view ``(B, 7, 7, 3)`` uint8 → features ``(B, C, 7, 7)``."""

    def __init__(self, spec: AgentSpec) -> None:
        super().__init__()
        c = spec.channels
        self.embed = nn.Embedding(3 * _CHANNEL_SIZE, c)
        self.conv = nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU()
        )
        self.register_buffer(
            "_offsets", torch.arange(3, dtype=torch.long) * _CHANNEL_SIZE, persistent=False
        )

    def forward(self, view: torch.Tensor) -> torch.Tensor:
        ids = view.long().clamp_(0, _CHANNEL_SIZE - 1) + self._offsets  # (B, 7, 7, 3)
        x = self.embed(ids).sum(dim=3)  # (B, 7, 7, C)
        return self.conv(x.permute(0, 3, 1, 2).contiguous())


class Planning(nn.Module):
    """Instruction tokens ``(E, L)``, the view and its features → fused features
    ``(B, fused_dim)``.

    ``encode`` runs once per episode; ``fuse`` per frame with the episode's encoding.
    """

    def __init__(self, spec: AgentSpec) -> None:
        super().__init__()
        c, h, d = spec.channels, spec.heads, spec.ground_dim
        self.words = nn.Embedding(len(VOCAB), spec.word_dim, padding_idx=0)
        self.encoder = nn.GRU(spec.word_dim, spec.instr_dim, batch_first=True)
        self.kind_cells = nn.Embedding(_CHANNEL_SIZE, h * d)
        self.colour_cells = nn.Embedding(_CHANNEL_SIZE, h * d)
        self.kind_query = nn.Linear(spec.instr_dim, h * d)
        self.colour_query = nn.Linear(spec.instr_dim, h * d)
        # heads = 0: no grounding maps (a plain FiLM network; the ablation of the tuning notes)
        self.mix = nn.Conv2d(c + h, c, 3, padding=1) if h > 0 else None
        n = spec.film_layers
        self.film = nn.ModuleList([nn.Linear(spec.instr_dim, 2 * c) for _ in range(n)])
        self.convs = nn.ModuleList([nn.Conv2d(c, c, 3, padding=1) for _ in range(n)])
        self.out = nn.Linear(c * 49, spec.fused_dim)
        self.heads, self.ground_dim = h, d

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        lengths = (tokens != 0).sum(dim=1).clamp_(min=1).cpu()
        packed = pack_padded_sequence(
            self.words(tokens), lengths, batch_first=True, enforce_sorted=False
        )
        _, h = self.encoder(packed)
        return h[-1]  # (E, instr_dim)

    def ground(self, view: torch.Tensor, instr: torch.Tensor) -> torch.Tensor:
        """Grounding maps ``(B, heads, 7, 7)``: per head, relu(kind match) × relu(colour
        match), where a match is the dot product of the cell's embedding with a query made
        from the instruction (computed per id, then looked up per cell)."""
        b, h, d = view.shape[0], self.heads, self.ground_dim
        ids = view.long().clamp(0, _CHANNEL_SIZE - 1).reshape(b, 49, 3)

        def match(cells: nn.Embedding, query: nn.Linear, channel: int) -> torch.Tensor:
            table = torch.einsum(
                "vhd,bhd->bvh", cells.weight.view(-1, h, d), query(instr).view(b, h, d)
            )  # (B, ids, heads): the match of every possible id
            idx = ids[:, :, channel, None].expand(b, 49, h)
            return torch.relu(torch.gather(table, 1, idx))  # (B, 49, heads)

        maps = match(self.kind_cells, self.kind_query, 0) * match(
            self.colour_cells, self.colour_query, 1
        )
        return maps.transpose(1, 2).reshape(b, h, 7, 7)

    def fuse(self, view: torch.Tensor, feats: torch.Tensor, instr: torch.Tensor) -> torch.Tensor:
        x = feats
        if self.mix is not None:
            x = torch.relu(self.mix(torch.cat([feats, self.ground(view, instr)], dim=1)))
        for film, conv in zip(self.film, self.convs, strict=True):
            gamma, beta = film(instr).chunk(2, dim=1)
            y = conv(x) * (1.0 + gamma[:, :, None, None]) + beta[:, :, None, None]
            x = x + torch.relu(y)
        return torch.relu(self.out(x.flatten(1)))  # (B, fused_dim)


#: Previous-action id of an episode's first step.
START = N_ACTIONS


class Memory(nn.Module):
    """A GRU over the steps of an episode: fused features ``(B, D)``, compass direction
    ``(B,)``, previous action ``(B,)`` and state ``(B, H)`` → new state ``(B, H)``."""

    def __init__(self, spec: AgentSpec) -> None:
        super().__init__()
        self.direction = nn.Embedding(4, spec.fused_dim)
        self.previous = nn.Embedding(N_ACTIONS + 1, spec.fused_dim)
        self.gru = nn.GRU(spec.fused_dim, spec.memory_dim, batch_first=True)
        self.dim = spec.memory_dim

    def inputs(
        self, x: torch.Tensor, direction: torch.Tensor, previous: torch.Tensor
    ) -> torch.Tensor:
        return x + self.direction(direction.long()) + self.previous(previous.long())

    def step(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """One step: inputs ``(B, D)`` (from :meth:`inputs`), state ``(B, H)``."""
        _, h2 = self.gru(x[:, None, :], h[None])
        return h2[0]

    def sequence(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``x`` (E, T_max, D) padded episode inputs → states (E, T_max, H)."""
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.gru(packed)
        return pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]


class Action(nn.Module):
    """Policy head: state ``(B, H)`` → logits ``(B, 7)``."""

    def __init__(self, spec: AgentSpec) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(spec.memory_dim, spec.head_dim), nn.ReLU(), nn.Linear(spec.head_dim, 7)
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


class Agent(nn.Module):
    """The integrated agent (its state dict is ``<module>.<param>``)."""

    def __init__(self, spec: AgentSpec | None = None) -> None:
        super().__init__()
        self.spec = spec or AgentSpec()
        self.perception = Perception(self.spec)
        self.planning = Planning(self.spec)
        self.memory = Memory(self.spec)
        self.action = Action(self.spec)

    def modules_by_name(self) -> Iterator[tuple[str, nn.Module]]:
        for name in MODULES:
            yield name, getattr(self, name)

    def episode_logits(
        self,
        frames: torch.Tensor,
        directions: torch.Tensor,
        actions: torch.Tensor,
        offsets: torch.Tensor,
        missions: torch.Tensor,
    ) -> torch.Tensor:
        """Logits ``(F, 7)`` for every frame of ``E`` whole episodes (teacher forcing: the
        previous action is the demonstrated one).

        ``frames`` (F, 7, 7, 3) uint8 (episodes one after the other), ``directions`` (F,),
        ``actions`` (F,) int64, ``offsets`` (E + 1,) int64, ``missions`` (E, L) int64 tokens.
        """
        lengths = offsets[1:] - offsets[:-1]  # (E,)
        episode = torch.repeat_interleave(torch.arange(lengths.shape[0]), lengths)  # (F,)
        instr = self.planning.encode(missions)  # (E, D)
        previous = torch.cat([actions.new_full((1,), START), actions[:-1]])
        previous[offsets[:-1]] = START
        x = self.planning.fuse(frames, self.perception(frames), instr[episode])  # (F, D)
        x = self.memory.inputs(x, directions, previous)
        t_max = int(lengths.max())
        step = torch.arange(frames.shape[0]) - offsets[:-1][episode]  # (F,)
        padded = x.new_zeros(lengths.shape[0], t_max, x.shape[1])
        padded[episode, step] = x
        h = self.memory.sequence(padded, lengths)[episode, step]  # (F, H)
        return self.action(h)

    def initial_state(self, n: int) -> torch.Tensor:
        return torch.zeros(n, self.memory.dim)

    @torch.no_grad()
    def act(
        self,
        views: torch.Tensor,
        directions: torch.Tensor,
        previous: torch.Tensor,
        instr: torch.Tensor,
        h: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step of ``B`` episodes: views (B, 7, 7, 3), directions (B,), previous actions
        (B,) (:data:`START` on the first step), encoded instructions (B, D), states (B, H) →
        logits (B, 7), new states (B, H)."""
        x = self.planning.fuse(views, self.perception(views), instr)
        h = self.memory.step(self.memory.inputs(x, directions, previous), h)
        return self.action(h), h


def n_parameters(agent: nn.Module) -> dict[str, int]:
    """Parameter count per module (and ``total``)."""
    out = {
        name: sum(p.numel() for p in m.parameters())
        for name, m in agent.modules_by_name()  # type: ignore[attr-defined]
    }
    out["total"] = sum(out.values())
    return out
