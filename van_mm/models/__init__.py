# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
from .van import VAN

__all__ = ['VAN']
