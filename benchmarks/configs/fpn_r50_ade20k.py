# Baseline for benchmarks/compare_inference.py: mmseg's Semantic FPN R-50.
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
