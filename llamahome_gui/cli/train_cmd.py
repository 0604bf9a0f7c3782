"""``llamahome train``: one LoRA fine-tune, headless (the GUI starts this same command).

Exit codes: 0 done, 1 the run failed (message and hint on stderr), 2 bad arguments or
config, 130 interrupted (a checkpoint was saved; continue with ``--resume RUN_DIR``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from llamahome_gui.core.train.progress import ProgressDisplay

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
# Set to "gui" by the window's TrainWorker: messages then name the window's buttons.
FRONTEND_ENV = "LLAMAHOME_TRAIN_FRONTEND"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="fine-tune a LoRA adapter",
        description="Fine-tune a LoRA adapter with the training config. Works the same under "
        "`accelerate launch -m llamahome_gui train` and `torchrun -m llamahome_gui train`.")
    p.add_argument("--config-dir", type=Path, help="config folder (default: ./config or the "
                   "user's config folder)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config value for this run only, e.g. "
                   "training.training.max_steps=20 (TOML values; the files are not changed)")
    p.add_argument("--run-dir", type=Path, help="run folder to use (default: a new "
                   "<output_dir>/<yyyymmdd-hhmmss>-<name>); its run.toml, if present, is the config")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR",
                   help="continue a run from its latest checkpoint, with its run.toml")
    p.add_argument("--events", choices=["-"], help="write the JSON-lines events to stdout too")
    p.add_argument("--estimate", action="store_true",
                   help="print the memory the run needs next to what the machine has, and exit")
    p.add_argument("--json", action="store_true",
                   help="with --estimate: print the estimate as JSON (total_bytes and the terms)")
    p.add_argument("--force", action="store_true",
                   help="train even when the memory estimate says the run will not fit")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="run the Python code the model folder ships (only for models you "
                   "trust); a run.toml or ./config setting it is ignored without this flag")
    p.set_defaults(func=run)


# ---------------------------------------------------------------- config

def load_plan(args: argparse.Namespace) -> tuple[Any, Path | None]:
    """(plan, run_dir): the configs from --resume's or --run-dir's run.toml, else the config
    folder, with the --set overrides laid over them (core's run plan: the window's too)."""
    from llamahome_gui.config.manager import ConfigManager
    from llamahome_gui.core.runs import RUN_COMPONENTS, RUN_CONFIG, read_run_config
    from llamahome_gui.core.runs.plan import apply_overrides, plan_from_configs

    run_dir = args.run_dir or args.resume
    snapshot = None
    if args.resume is not None:
        if not (args.resume / RUN_CONFIG).is_file():
            raise ValueError(f"--resume {args.resume}: not a run folder (no {RUN_CONFIG})")
        snapshot = args.resume
    elif args.run_dir is not None and args.config_dir is None and (args.run_dir / RUN_CONFIG).is_file():
        snapshot = args.run_dir
    if snapshot is not None:
        configs: dict[str, Any] = read_run_config(snapshot)
        source, trusted = str(snapshot / RUN_CONFIG), False
    else:
        if args.config_dir is not None and not args.config_dir.is_dir():
            raise ValueError(f"--config-dir {args.config_dir} does not exist")
        manager = ConfigManager(args.config_dir)
        if manager.origin_note():
            print(manager.origin_note(), file=sys.stderr)
        configs = {name: manager.load(name) for name in RUN_COMPONENTS}
        source, trusted = str(manager.path("model")), manager.is_users_own
    configs = _remote_code_choice(configs, getattr(args, "trust_remote_code", False), trusted,
                                  source)
    return plan_from_configs(apply_overrides(configs, args.overrides)), run_dir


def _remote_code_choice(configs: dict[str, Any], flag: bool, trusted: bool,
                        source: str) -> dict[str, Any]:
    """trust_remote_code only by the user's explicit choice (see remote_code_allowed)."""
    from llamahome_gui.core.models.loading import remote_code_allowed

    model = configs["model"]
    allowed, note = remote_code_allowed(model.model.trust_remote_code, flag=flag,
                                        trusted_source=trusted, source=source)
    if note:
        print(note, file=sys.stderr)
    if allowed == model.model.trust_remote_code:
        return configs
    section = model.model.model_copy(update={"trust_remote_code": allowed})
    return {**configs, "model": model.model_copy(update={"model": section})}


# ---------------------------------------------------------------- helpers

def _check_inputs(configs: dict[str, Any], run_dir: Path | None) -> None:
    """Bad input found before anything is created (exit 2, one line): a model folder or a
    dataset that is missing or not what it should be, an output_dir no run folder can be
    created in."""
    from llamahome_gui.core.models.loading import resolve_model_dir
    from llamahome_gui.core.runs import runs_root
    from llamahome_gui.core.train import TrainingError
    from llamahome_gui.core.train.prepare import dataset_path

    if str(configs["model"].model.path).strip():  # empty: the starter, imported later
        resolve_model_dir(configs["model"].model.path)
    training = configs["training"].training
    try:
        dataset_path(training)
    except TrainingError as exc:
        raise ValueError(f"{exc.message}; {exc.hint}") from None
    if run_dir is not None:
        return
    root = runs_root(training.output_dir)
    existing = root
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"cannot create a run folder in {root}: {existing} is not a writable "
                         "folder; set training.training.output_dir to one you can write to")


def _estimate(configs: dict[str, Any], out: TextIO) -> Any:
    """The memory estimate (the same call the Train page makes)."""
    from llamahome_gui.core.runs.plan import estimate_memory
    from llamahome_gui.core.train.prepare import model_dir

    return estimate_memory(configs, model_dir(configs["model"].model,
                                              progress=lambda msg: print(msg, file=out)))


def _shared_run_dir(plan: Any, chosen: Path | None) -> Path:
    """The run folder with its run.toml; in a several-process run rank 0 creates it and
    tells the others."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return plan.create(chosen)
    import torch.distributed as td

    from llamahome_gui.core.models.loading import pick_device
    from llamahome_gui.core.train import distributed as dd

    dd.setup(pick_device(plan.configs["model"].model.device))
    box = [str(chosen) if chosen else None]
    if td.get_rank() == 0:
        box = [str(plan.create(chosen))]
    td.broadcast_object_list(box, src=0)
    return Path(box[0])


def _install_signals(stop: Any, out: TextIO) -> dict[int, Any]:
    """SIGINT/SIGTERM: first a graceful stop (checkpoint), then an immediate exit.
    Returns the previous handlers so an in-process caller gets them back."""
    def handler(signum: int, frame: Any) -> None:
        if stop.requested:
            os._exit(EXIT_INTERRUPTED)
        stop.set()
        again = "press Stop again to force" if os.environ.get(FRONTEND_ENV) == "gui" \
            else "press Ctrl+C again to quit at once"
        print(f"\nstopping: saving a checkpoint ({again})", file=out, flush=True)

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    return previous


# ---------------------------------------------------------------- command

def run(args: argparse.Namespace) -> int:
    from llamahome_gui.cli.train_launch import rank_exit_code

    return rank_exit_code(_run(args))


def _run(args: argparse.Namespace) -> int:
    # Stop (SIGINT) must work from the first moment, also while the model loads, even when we
    # were started with SIGINT ignored (e.g. by a background job): Python then keeps SIG_IGN.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    rank = int(os.environ.get("RANK", "0") or 0)
    machine = args.events == "-" or (args.estimate and getattr(args, "json", False))
    human = sys.stderr if machine else sys.stdout  # stdout carries only the JSON then
    if getattr(args, "json", False) and not args.estimate:
        print("error: --json goes with --estimate (llamahome train --estimate --json)",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        plan, run_dir = load_plan(args)
        _check_inputs(plan.configs, run_dir)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    problem = _kbit_problem(plan.configs)
    if problem:  # refused in one line before anything loads
        _error(problem)
        _record_early_failure(run_dir, problem)
        return EXIT_USAGE
    from llamahome_gui.core.runs.lock import RunBusyError, RunLock
    from llamahome_gui.core.train import TrainingError
    from llamahome_gui.core.train.gpu_env import apply_gpu_env
    from llamahome_gui.core.train.resume import ResumeMismatchError

    chosen = apply_gpu_env(plan.configs["resource"].gpu).get("CUDA_VISIBLE_DEVICES")
    if chosen and rank == 0:
        print(f"GPUs {chosen} (resource.gpu.cuda_devices; CUDA_VISIBLE_DEVICES={chosen})",
              file=human, flush=True)
    from llamahome_gui.cli.train_launch import launch, processes_for
    from llamahome_gui.core.train.launch import launched

    processes = 1 if launched() or args.estimate else processes_for(plan.configs)
    if processes > 1:  # this process becomes the launcher of the ranks
        return launch(args, plan, run_dir, processes, human,
                      lambda: _preflight(args, plan.configs, human, 0))

    lock = None
    try:
        if rank == 0 and not args.estimate and run_dir is not None and run_dir.is_dir():
            lock = RunLock(run_dir).acquire()  # first: a second trainer is refused at once
        if rank == 0 and args.resume is not None and not args.estimate:
            from llamahome_gui.core.train.resume import check_resume

            check_resume(args.resume, plan.configs)  # before run.toml or anything changes
        code = _preflight(args, plan.configs, human, rank)
        if code is not None:
            return code
        from llamahome_gui.core.train.trainer import StopFlag

        stop = StopFlag()
        previous = _install_signals(stop, human)
        try:
            return _train(args, plan, run_dir, stop, human, rank)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    except (RunBusyError, ResumeMismatchError) as exc:
        _error(str(exc) if isinstance(exc, RunBusyError) else exc.message, exc.hint)
        return EXIT_USAGE
    except TrainingError as exc:
        _error(exc.message, exc.hint)
        _record_early_failure(run_dir, exc.message, exc.hint)
        return EXIT_FAILED
    finally:
        if lock is not None:
            lock.release()


def _kbit_problem(configs: dict[str, Any]) -> str | None:
    """The QLoRA pre-launch check (bitsandbytes and the device), or None."""
    from llamahome_gui.core.models.loading import pick_device
    from llamahome_gui.core.train.quantize import quantization_problem

    m = configs["model"].model
    if m.quantization == "none":
        return None
    try:
        return quantization_problem(m.quantization, pick_device(m.device))
    except RuntimeError as exc:  # no such device
        return str(exc)


def _error(message: str, hint: str = "") -> None:
    print(f"error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)


def _preflight(args: argparse.Namespace, configs: dict[str, Any], human: TextIO,
               rank: int) -> int | None:
    """``--estimate``, and the refusal of a run that will not fit; None: go on."""
    if not (args.estimate or not args.force) or rank != 0:
        return None
    estimate = _estimate(configs, human)
    if args.estimate:
        if getattr(args, "json", False):
            import json

            print(json.dumps(estimate.as_dict(), indent=2))
        else:
            print(estimate.table(), file=human)
        return 0
    if estimate.verdict == "won't fit":
        print(estimate.table(), file=sys.stderr)
        message = "this run will not fit in memory; change the settings above, or add --force " \
                  "to try anyway"
        print(f"error: {message}", file=sys.stderr)
        _record_early_failure(args.run_dir, message)
        return EXIT_FAILED
    return None


def _record_early_failure(run_dir: Path | None, message: str, hint: str = "") -> None:
    """A run folder the window prepared (run.toml, no events yet) that fails before the
    trainer starts is listed as failed with this reason, not as "created" forever."""
    from llamahome_gui.core.runs import RUN_CONFIG, read_events
    from llamahome_gui.core.train.events import record_failure

    if run_dir is not None and (run_dir / RUN_CONFIG).is_file() and not read_events(run_dir):
        try:
            record_failure(run_dir, message, hint)
        except OSError:  # a full disk: the message above is all there is
            pass


def _train(args: argparse.Namespace, plan: Any, run_dir: Path | None, stop: Any,
           human: TextIO, rank: int) -> int:
    from llamahome_gui.config.errors import ConfigWriteError
    from llamahome_gui.core.runs.events import encode
    from llamahome_gui.core.train import TrainingError, run_training

    configs = plan.configs
    fresh = run_dir is None
    try:
        run_dir = _shared_run_dir(plan, run_dir)
    except (OSError, ConfigWriteError) as exc:
        where = run_dir or plan.root
        _error(f"cannot write the run folder under {where}: {getattr(exc, 'strerror', None) or exc}",
               "free some space there, or set training.training.output_dir to another folder")
        return EXIT_FAILED
    if rank == 0:
        print(f"run folder: {run_dir}", file=human, flush=True)
    listeners = []
    if rank == 0:
        show_bar = configs["monitoring"].visualization.progress_bars and human.isatty()
        listeners.append(ProgressDisplay(human, bar=show_bar,
                                         every=configs["monitoring"].logging.log_interval))
        if args.events == "-":
            listeners.append(lambda e: print(encode(e), file=sys.stdout, flush=True))
    resume = args.resume
    if resume is not None:
        from llamahome_gui.core.runs import latest_checkpoint

        if latest_checkpoint(resume) is None and rank == 0:
            print(f"note: {resume} has no checkpoint yet; starting from step 0", file=human)
    started = time.time()
    try:
        result = run_training(run_dir, configs, resume=resume, listeners=listeners, stop=stop)
    except TrainingError as exc:
        _error(exc.message, exc.hint)
        if fresh and rank == 0:
            _drop_if_unused(run_dir)
        return EXIT_FAILED
    if result.status == "stopped":
        if rank == 0:
            print(f"stopped at step {result.step}; continue with: llamahome train --resume "
                  f"{run_dir}", file=human)
        return EXIT_INTERRUPTED
    if rank == 0:
        print(f"done in {time.time() - started:.0f}s; adapter: {result.adapter}", file=human)
    return 0


def _drop_if_unused(run_dir: Path) -> None:
    """A run folder this command made that failed before it could record anything (not
    even its error: e.g. a full disk) is removed instead of being left empty."""
    import shutil

    from llamahome_gui.core.runs import list_checkpoints, read_events

    if not read_events(run_dir) and not list_checkpoints(run_dir):
        shutil.rmtree(run_dir, ignore_errors=True)
