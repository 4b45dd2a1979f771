# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Looking at models, for the tools and benchmarks (not needed to train or
test): parameters and FLOPs (:mod:`van_mm.analysis.flops`), timing and
memory (:mod:`van_mm.analysis.profiling`), LKA attention maps and Grad-CAM
(:mod:`van_mm.analysis.attention`)."""
