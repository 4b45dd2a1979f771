# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Checks before a long run: a config's parts against each other and the
data (:mod:`van_mm.checks.config`, run by tools/train.py and tools/test.py
before anything is built) and every file of its datasets
(:mod:`van_mm.checks.dataset`, tools/check_dataset.py)."""
