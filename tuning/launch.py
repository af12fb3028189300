"""`--nproc N`: start N training processes (per node) through torchrun or `accelerate launch`.

Every rank runs the same `run_tuning`; the Trainer finds the ranks in the environment and wraps the
model in DDP (gloo on CPU, NCCL on GPUs). FSDP and DeepSpeed are chosen with an accelerate config
(`tuning/configs/accelerate/*.yaml`). The launcher claims the output folder once, before any rank starts.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tunewise.core.config import save_config
from tunewise.core.errors import ConfigError, DeviceError, TunewiseError
from tunewise.core.schema import TrainingRun
from tunewise.tuning.config import TuneConfig

LAUNCH_FILE = "launch.yaml"
ACCELERATE_CONFIGS = Path(__file__).parent / "configs" / "accelerate"


def launch(config: TuneConfig) -> TrainingRun:
    """Run `config` on `nproc` processes per node and return rank 0's `run.json`."""
    from tunewise.tuning.context import RUN_FILE, claim_output_folder
    from tunewise.tuning.lora import preflight

    if config.train is None or config.out is None:
        raise ConfigError("a tuning run needs 'train' (a data file) and 'out' (an output folder)")
    from tunewise.core.device import choose_device

    device = choose_device(config.device, config.precision, training=True)
    preflight(config, device)
    if config.launcher == "accelerate" and not device.is_cuda:
        # Without MPI, `accelerate launch` on CPUs starts a single process however many are asked for.
        raise DeviceError("--launcher accelerate needs CUDA GPUs here; on the CPU use --launcher torchrun")
    out = Path(config.out)
    claim_output_folder(config, out)
    spec = save_config(config.with_load_policy().model_copy(update={"force": False}), out / LAUNCH_FILE)
    command = launch_command(config, spec)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    done = subprocess.run(command, env=env)
    if done.returncode != 0:
        raise TunewiseError(f"the {config.nproc} training processes failed (exit {done.returncode}); "
                            "see their output above")
    return TrainingRun.load(out / RUN_FILE)


def launch_command(config: TuneConfig, spec: Path) -> list[str]:
    """The torchrun or `accelerate launch` command line; the worker is this module's `main`."""
    port = str(config.master_port or _free_port())
    worker = ["-m", "tunewise.tuning.launch", str(spec)]
    if config.launcher == "torchrun":
        return [
            sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={config.nproc}",
            f"--nnodes={config.nnodes}", f"--node-rank={config.node_rank}",
            f"--master-addr={config.master_addr}", f"--master-port={port}", *worker,
        ]
    accel = config.launch_config or ACCELERATE_CONFIGS / "gpu_ddp.yaml"
    if not Path(accel).is_file():
        raise ConfigError(f"{accel}: accelerate config not found")
    return [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(accel),
        "--num_processes", str(config.nproc * config.nnodes), "--num_machines", str(config.nnodes),
        "--machine_rank", str(config.node_rank), "--main_process_ip", config.master_addr,
        "--main_process_port", port, *worker,
    ]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(spec: str) -> int:
    """One rank: load the launcher's resolved config and train; user errors are one line, exit 1."""
    from tunewise.core.config import load_config
    from tunewise.tuning.registry import run_tuning

    try:
        config = load_config(TuneConfig, spec)
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world != config.nproc * config.nnodes:
            raise TunewiseError(f"the launcher started {world} process(es), not {config.nproc * config.nnodes}")
        run_tuning(config)
    except TunewiseError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
