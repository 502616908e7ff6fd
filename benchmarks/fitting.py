"""What the speed fits share (benchmarks/fit_speed.py, fit_moe_speed.py, fit_offload_speed.py):
coordinate descent on the logs of a few values, and setting a profile's values for one block."""
from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import contextmanager


def log_descent(loss: Callable[[dict], float], start: dict, step: float, rounds: int,
                clamp: Callable[[str, float], float] = lambda k, v: v) -> dict:
    """The values (name -> number) that minimise loss(values), from `start`: each value in turn
    multiplied or divided by exp(step), a move kept when it lowers the loss, the step halved when
    no move helps (stop below 1e-3 or after `rounds`). clamp(name, value) keeps a trial value in
    its range."""
    cur, best = dict(start), loss(start)
    for _ in range(rounds):
        moved = False
        for k in start:
            for sign in (1, -1):
                trial = dict(cur, **{k: clamp(k, cur[k] * math.exp(sign * step))})
                v = loss(trial)
                if v < best - 1e-12:
                    cur, best, moved = trial, v, True
        if not moved:
            step /= 2
            if step < 1e-3:
                break
    return cur


@contextmanager
def patched(profile: dict, values: dict):
    """profile updated with values for the block, then restored as it was."""
    old = dict(profile)
    profile.update(values)
    try:
        yield
    finally:
        profile.clear()
        profile.update(old)
