# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""The VAN backbone (:mod:`van_mm.models.van`), its arch table
(:mod:`van_mm.models.archs`) and the layers of its deploy mode
(:mod:`van_mm.models.fusion`)."""
from .van import VAN

__all__ = ['VAN']
