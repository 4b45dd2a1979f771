# VAN-B6 (Table 5 of the paper) with ImageNet-22K weights: its name,
# weights and stage widths. Weights: the official ImageNet-22K checkpoint
# (van_mm.checkpoint.pretrained, 'van_b6.in22k'), published only in the
# Tsinghua Cloud folder that VAN-Segmentation's README links
# (https://cloud.tsinghua.edu.cn/d/0100f0cea37d41ba8d08/): download
# van_b6_22k.pth into pretrained/, as the official configs name it.
van = dict(
    arch='b6',
    pretrained='pretrained/van_b6_22k.pth',
    channels=[96, 192, 384, 768],  # stages 1-4: what FPN and UperNet read
    stage3_channels=384,  # what the auxiliary FCN head reads
)
