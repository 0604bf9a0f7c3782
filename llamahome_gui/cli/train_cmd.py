"""``llamahome train``: one LoRA fine-tune, headless (the GUI starts this same command).

Exit codes: 0 done, 1 the run failed (message and hint on stderr), 2 bad arguments or
config, 130 interrupted (a checkpoint was saved; continue with ``--resume RUN_DIR``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from llamahome_gui.core.train.progress import ProgressDisplay

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


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
    p.add_argument("--force", action="store_true",
                   help="train even when the memory estimate says the run will not fit")
    p.set_defaults(func=run)


# ---------------------------------------------------------------- config

def parse_override(item: str) -> tuple[str, str, str, Any]:
    """``component.section.key=VALUE`` -> (component, section, key, value)."""
    import tomlkit

    from llamahome_gui.config.schema import COMPONENTS

    key, sep, raw = item.partition("=")
    parts = key.strip().split(".")
    if not sep or len(parts) != 3:
        raise ValueError(f"--set {item!r}: write KEY=VALUE with KEY as component.section.key, "
                         "e.g. training.training.max_steps=20")
    component, section, name = parts
    if component not in COMPONENTS:
        raise ValueError(f"--set {key}: unknown component {component!r}; known: "
                         f"{', '.join(COMPONENTS)}")
    sections = COMPONENTS[component].model_fields
    if section not in sections or section == "schema_version":
        raise ValueError(f"--set {key}: {component} has no section {section!r}; known: "
                         f"{', '.join(s for s in sections if s != 'schema_version')}")
    keys = sections[section].annotation.model_fields  # type: ignore[union-attr]
    if name not in keys:
        raise ValueError(f"--set {key}: no key {name!r} in {component}.{section}; known: "
                         f"{', '.join(keys)}")
    try:
        value = tomlkit.parse(f"v = {raw}")["v"].unwrap()
    except Exception:
        value = raw  # a bare word: take it as a string
    return component, section, name, value


def apply_overrides(configs: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """New validated components with the ``--set`` values laid over them."""
    from pydantic import ValidationError

    nested: dict[str, dict[str, dict[str, Any]]] = {}
    for item in overrides:
        component, section, name, value = parse_override(item)
        nested.setdefault(component, {}).setdefault(section, {})[name] = value
    out = dict(configs)
    for component, sections in nested.items():
        data = out[component].model_dump()
        for section, values in sections.items():
            data[section].update(values)
        try:
            out[component] = type(out[component]).model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in (component, *err["loc"]))
            raise ValueError(f"--set {where}: {err['msg']}") from None
    return out


def load_configs(args: argparse.Namespace) -> tuple[dict[str, Any], Path | None]:
    """(configs, run_dir): from --resume's or --run-dir's run.toml, else the config folder;
    then the --set overrides."""
    from llamahome_gui.config.manager import ConfigManager
    from llamahome_gui.core.runs import RUN_COMPONENTS, RUN_CONFIG, read_run_config

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
    else:
        if args.config_dir is not None and not args.config_dir.is_dir():
            raise ValueError(f"--config-dir {args.config_dir} does not exist")
        manager = ConfigManager(args.config_dir)
        configs = {name: manager.load(name) for name in RUN_COMPONENTS}
    return apply_overrides(configs, args.overrides), run_dir


# ---------------------------------------------------------------- helpers

def _estimate(configs: dict[str, Any], out: TextIO) -> Any:
    """The memory estimate, or None when the estimator is not available."""
    try:
        from llamahome_gui.core.models.memory import estimate_training_memory
    except ImportError:
        return None
    from llamahome_gui.core.models.loading import pick_device
    from llamahome_gui.core.train.prepare import model_dir

    m = configs["model"].model
    folder = model_dir(m, progress=lambda msg: print(msg, file=out))
    t = configs["training"]
    return estimate_training_memory(
        folder, t.training, t.lora, pick_device(m.device), dtype=m.dtype,
        quantization=m.quantization, memory_fraction=configs["resource"].gpu.memory_fraction)


def _run_name(configs: dict[str, Any]) -> str:
    dataset = configs["training"].training.dataset_path.strip()
    stem = Path(dataset).stem if dataset else "sample"
    return f"{configs['model'].model.name}-{stem}"


def _shared_run_dir(configs: dict[str, Any], chosen: Path | None) -> Path:
    """The run folder; in a several-process run rank 0 creates it and tells the others."""
    from llamahome_gui.core.runs import new_run_dir

    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return chosen or new_run_dir(configs["training"].training.output_dir, _run_name(configs))
    import torch.distributed as td

    from llamahome_gui.core.models.loading import pick_device
    from llamahome_gui.core.train import distributed as dd

    dd.setup(pick_device(configs["model"].model.device))
    box = [str(chosen) if chosen else None]
    if td.get_rank() == 0 and chosen is None:
        box = [str(new_run_dir(configs["training"].training.output_dir, _run_name(configs)))]
    td.broadcast_object_list(box, src=0)
    return Path(box[0])


def _install_signals(stop: Any, out: TextIO) -> dict[int, Any]:
    """SIGINT/SIGTERM: first a graceful stop (checkpoint), then an immediate exit.
    Returns the previous handlers so an in-process caller gets them back."""
    def handler(signum: int, frame: Any) -> None:
        if stop.requested:
            os._exit(EXIT_INTERRUPTED)
        stop.set()
        print("\nstopping: saving a checkpoint (press Ctrl+C again to quit at once)",
              file=out, flush=True)

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    return previous


# ---------------------------------------------------------------- command

def run(args: argparse.Namespace) -> int:
    rank = int(os.environ.get("RANK", "0") or 0)
    human = sys.stderr if args.events == "-" else sys.stdout
    try:
        configs, run_dir = load_configs(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from llamahome_gui.core.models.loading import pick_device
    from llamahome_gui.core.train import TrainingError
    from llamahome_gui.core.train.quantize import quantization_problem

    m = configs["model"].model
    try:
        problem = quantization_problem(m.quantization, pick_device(m.device))
    except RuntimeError as exc:  # no such device
        problem = str(exc)
    if problem:  # refused before anything loads
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.estimate or not args.force:
            estimate = _estimate(configs, human) if rank == 0 else None
            if args.estimate:
                if estimate is None:
                    print("error: the memory estimator is not available", file=sys.stderr)
                    return EXIT_FAILED
                print(estimate.table(), file=human)
                return 0
            if estimate is not None and estimate.verdict == "won't fit":
                print(estimate.table(), file=sys.stderr)
                print("error: this run will not fit in memory; change the settings above, or "
                      "add --force to try anyway", file=sys.stderr)
                return EXIT_FAILED
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED

    from llamahome_gui.core.train.trainer import StopFlag

    stop = StopFlag()
    previous = _install_signals(stop, human)
    try:
        return _train(args, configs, run_dir, stop, human, rank)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _train(args: argparse.Namespace, configs: dict[str, Any], run_dir: Path | None, stop: Any,
           human: TextIO, rank: int) -> int:
    from llamahome_gui.core.runs import write_run_config
    from llamahome_gui.core.train import TrainingError, run_training

    run_dir = _shared_run_dir(configs, run_dir)
    if rank == 0:
        write_run_config(run_dir, configs)
        print(f"run folder: {run_dir}", file=human, flush=True)
    listeners = []
    if rank == 0:
        show_bar = configs["monitoring"].visualization.progress_bars and human.isatty()
        listeners.append(ProgressDisplay(human, bar=show_bar))
        if args.events == "-":
            listeners.append(lambda e: print(json.dumps(e), file=sys.stdout, flush=True))
    resume = args.resume
    if resume is not None:
        from llamahome_gui.core.runs import latest_checkpoint

        if latest_checkpoint(resume) is None and rank == 0:
            print(f"note: {resume} has no checkpoint yet; starting from step 0", file=human)
    started = time.time()
    try:
        result = run_training(run_dir, configs, resume=resume, listeners=listeners, stop=stop)
    except TrainingError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return EXIT_FAILED
    if result.status == "stopped":
        if rank == 0:
            print(f"stopped at step {result.step}; continue with: llamahome train --resume "
                  f"{run_dir}", file=human)
        return EXIT_INTERRUPTED
    if rank == 0:
        print(f"done in {time.time() - started:.0f}s; adapter: {result.adapter}", file=human)
    return 0
