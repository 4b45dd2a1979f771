# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""What the training hooks agree on across processes: every rank calls these
at the same point of an iteration, and every rank gets the same answer, so
that all of them stop (or go on) together. Without a process group they
return the local value."""
from typing import List

import torch
from mmengine.dist import all_gather_object, all_reduce, get_world_size


def any_rank(flag: bool) -> bool:
    """True on every rank if ``flag`` is true on any rank."""
    if get_world_size() == 1:
        return bool(flag)
    data = torch.tensor([int(bool(flag))])
    all_reduce(data, op='max')
    return bool(data.item())


def sum_over_ranks(value: int) -> int:
    """The sum of ``value`` over all ranks, on every rank."""
    if get_world_size() == 1:
        return int(value)
    data = torch.tensor([int(value)])
    all_reduce(data, op='sum')
    return int(data.item())


def gather_lists(items: list) -> List:
    """The concatenation of every rank's ``items`` (in rank order), on
    every rank."""
    if get_world_size() == 1:
        return list(items)
    return [item for part in all_gather_object(list(items)) for item in part]
