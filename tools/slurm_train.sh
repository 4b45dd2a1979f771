#!/usr/bin/env bash
# Training on a Slurm cluster:
#   [GPUS=8] [GPUS_PER_NODE=8] tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args]
#
# Preemption and time limits: on SIGTERM every task finishes its iteration,
# rank 0 saves iter_N.pth and all exit with code 75 (a requeue, not a
# failure); `--resume` continues at iteration N + 1 and starts at 0 when no
# checkpoint exists yet, so a requeued job can always pass it. srun replaces
# this shell (exec) and forwards SIGTERM to every task; Slurm also signals
# the tasks directly on preemption, on `scancel --signal=TERM JOBID`, and
# SECONDS before the time limit with `--signal=TERM@SECONDS`. In a batch
# script submitted with `sbatch --requeue --signal=TERM@120 job.sh`:
#   bash tools/slurm_train.sh PARTITION JOB CONFIG WORK_DIR --resume
#   [ $? -eq 75 ] && scontrol requeue "$SLURM_JOB_ID"
# (a preempted job with --requeue is requeued by Slurm itself). Allow at
# least one iteration plus one checkpoint save between the signal and the
# kill (KillWait / GraceTime).
set -x
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PY_ARGS=${@:5}

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
exec srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    --gres=gpu:"${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    ${PYTHON:-python3} -u "$(dirname "$0")/train.py" "${CONFIG}" \
    --work-dir="${WORK_DIR}" --launcher="slurm" ${PY_ARGS}
