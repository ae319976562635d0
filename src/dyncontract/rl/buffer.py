"""Transitions (:class:`Batch`) and the replay buffer (a ring of torch tensors)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Batch:
    """Transitions: obs (B, obs_dim), act (B, act_dim), rew (B,), next_obs (B, obs_dim),
    done (B,) with 1.0 where the episode terminated (no bootstrap; a time-limit truncation is
    not a termination)."""

    obs: torch.Tensor
    act: torch.Tensor
    rew: torch.Tensor
    next_obs: torch.Tensor
    done: torch.Tensor


class ReplayBuffer:
    """Stores transitions; ``sample`` draws uniformly with a CPU ``torch.Generator``.

    With ``group = M > 1`` transitions come and go in groups of M consecutive rows (M actions
    for one state) and ``sample(n)`` returns n / M whole groups, rows of a group adjacent.
    """

    FIELDS = ("obs", "act", "rew", "next_obs", "done")

    def __init__(
        self, capacity: int, obs_dim: int, act_dim: int, device: torch.device, group: int = 1
    ) -> None:
        self.group = group
        capacity = max(group, capacity - capacity % group)
        self.capacity = capacity
        self.device = device
        f32 = dict(dtype=torch.float32, device=device)
        self.obs = torch.zeros(capacity, obs_dim, **f32)
        self.act = torch.zeros(capacity, act_dim, **f32)
        self.rew = torch.zeros(capacity, **f32)
        self.next_obs = torch.zeros(capacity, obs_dim, **f32)
        self.done = torch.zeros(capacity, **f32)
        self.ptr = 0
        self.size = 0

    def add(self, b: Batch) -> None:
        """Append a batch of n transitions (overwriting the oldest when full)."""
        n = b.obs.shape[0]
        idx = (self.ptr + torch.arange(n, device=self.device)) % self.capacity
        for name in self.FIELDS:
            getattr(self, name)[idx] = getattr(b, name).to(self.device, torch.float32)
        self.ptr = int((self.ptr + n) % self.capacity)
        self.size = int(min(self.size + n, self.capacity))

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        m = self.group
        if m == 1:
            idx = torch.randint(0, self.size, (n,), generator=generator)
        else:
            g = torch.randint(0, self.size // m, (n // m,), generator=generator)
            idx = (g[:, None] * m + torch.arange(m)[None, :]).reshape(-1)
        idx = idx.to(self.device)
        return Batch(*(getattr(self, name)[idx] for name in self.FIELDS))

    def state_dict(self) -> dict:
        """Filled part only (in insertion-ring order, as stored)."""
        st: dict = {"ptr": self.ptr, "size": self.size}
        for name in self.FIELDS:
            st[name] = getattr(self, name)[: self.size].cpu().clone()
        return st

    def load_state_dict(self, st: dict) -> None:
        size = int(st["size"])
        if size > self.capacity:
            raise ValueError(f"buffer: checkpoint holds {size} > capacity {self.capacity}")
        for name in self.FIELDS:
            getattr(self, name)[:size] = st[name].to(self.device)
        self.ptr, self.size = int(st["ptr"]), size
