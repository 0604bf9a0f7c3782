"""The LoRA training loop: our own, because packing and head-only logits beat the stock
Trainer + per-batch padding on varied lengths, and every step must speak events.

One optimizer step = ``gradient_accumulation_steps`` micro-batches. The loss of each
micro-batch is the summed token loss divided by the token count of the whole step (over all
ranks), so accumulation and data parallelism give the same gradient as one big batch. Logits
are computed only at positions the loss counts (assistant tokens), which skips most of the
output head's work for instruction data.

Where the run is in the data follows from the step number alone (rows are laid out once,
each epoch shuffles them with a seed), so a checkpoint's step plus its RNG states is enough
to continue with the same batches and the same losses.
"""

from __future__ import annotations

import math
import os
import random
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

from llamahome_gui.core.runs.events import (
    Checkpointed,
    Evaluated,
    RunFailed,
    RunFinished,
    RunStarted,
    RunStopped,
    SampleGenerated,
    StatusReported,
    StepLogged,
)
from llamahome_gui.core.runs.folders import ADAPTER_DIR
from llamahome_gui.core.runs.history import latest_checkpoint
from llamahome_gui.core.runs.liveness import process_created
from llamahome_gui.core.train import distributed as dd
from llamahome_gui.core.train.batching import IGNORE, Row, collate, epoch_batches, rank_batches
from llamahome_gui.core.train.checkpoint import load_checkpoint, save_checkpoint
from llamahome_gui.core.train.errors import (
    TrainingError,
    failure_hint,
    is_out_of_memory,
    out_of_memory_error,
)
from llamahome_gui.core.train.events import EventLog
from llamahome_gui.core.train.lora import apply_lora, count_parameters
from llamahome_gui.core.train.prepare import (
    Prepared,
    autocast_dtype,
    configure_gpu,
    load_model,
    model_dir,
    set_threads,
)
from llamahome_gui.core.train.samples import choose_prompts, generate_samples
from llamahome_gui.core.train.session import (
    Interrupted,
    StopFlag,
    TrainResult,
    install_stop_hooks,
    load_run_records,
    prepare_run_data,
    run_summary,
)

__all__ = ["LoraTrainer", "StopFlag", "TrainResult"]

# Model types whose logits are exactly lm_head(decoder output): head-only logits are safe.
_HEAD_ONLY_TYPES = {"llama", "mistral", "qwen2", "qwen3", "smollm3", "phi3", "olmo2", "starcoder2"}


def _batches_for_rank(rows: list[Row], bs: int, seed: int, epoch: int, grouped: bool,
                      dist: dd.Dist) -> list[list[Row]]:
    return rank_batches(epoch_batches(rows, bs, seed, epoch, grouped), dist.rank, dist.world)


class LoraTrainer:
    """One run: ``LoraTrainer(run_dir, configs, ...).train()``."""

    def __init__(self, run_dir: Path, configs: dict[str, Any], *, resume: Path | None = None,
                 listeners: list[Any] | None = None, stop: StopFlag | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.cfg = configs
        self.training = configs["training"].training
        self.lora = configs["training"].lora
        self.resume = resume
        self.stop = stop or StopFlag()
        self._listeners = list(listeners or [])
        self.log = EventLog(None)
        self.step = 0
        self.losses: list[float] = []

    # ------------------------------------------------------------------ setup
    def _status(self, message: str) -> None:
        self.log.emit(StatusReported(message=message))

    def _setup(self) -> Prepared:
        import torch

        from llamahome_gui.core.models.loading import pick_device

        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        m = self.cfg["model"].model
        try:
            device = pick_device(m.device)
        except RuntimeError as exc:
            raise TrainingError(str(exc)) from exc
        from llamahome_gui.core.train.quantize import check_quantization

        check_quantization(m.quantization, device)  # before any data or weights load
        self.dist, self.device = dd.setup(device)
        if self.dist.main:
            (self.run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
            tb = self.cfg["monitoring"].visualization.tensorboard if "monitoring" in self.cfg else True
            self.log = EventLog(self.run_dir, listeners=self._listeners, tensorboard=tb)
        self.threads = set_threads(int(os.environ.get("LOCAL_WORLD_SIZE", self.dist.world)))
        seed = self.training.seed
        random.seed(seed)
        torch.manual_seed(seed + self.dist.rank)
        configure_gpu(self.device, self.cfg["resource"])
        records = load_run_records(self.training)  # before the model: bad data fails fast
        self.model_dir = model_dir(m, progress=self._status)
        self._status(f"loading {self.model_dir}")
        model, self.tokenizer = load_model(self.model_dir, m, self.device)
        data = prepare_run_data(self.cfg, self.tokenizer, records)
        self.sample_prompts = choose_prompts(self.training, records, self.tokenizer) \
            if self.dist.main else []
        if self.training.gradient_checkpointing:
            enable = getattr(model, "activation_checkpointing_enable", None)  # transformers >= 5.x
            if enable is not None:
                enable(activation_checkpointing_kwargs={"use_reentrant": False})
            else:
                model.gradient_checkpointing_enable(
                    gradient_checkpointing_kwargs={"use_reentrant": False})
        self.model = apply_lora(model, self.lora)
        self.amp = autocast_dtype(self.training, self.device)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp == torch.float16 else None
        base = self.model.get_base_model()
        mtype = getattr(base.config, "model_type", "")
        self._decoder = base.get_decoder() if mtype in _HEAD_ONLY_TYPES else None
        self._head = base.get_output_embeddings() if self._decoder is not None else None
        self.objective = None
        self._collate = collate
        self._count: Any = lambda c: float((c["targets"] != IGNORE).sum())
        if self.training.method == "dpo":
            from llamahome_gui.core.train.dpo import DpoObjective, collate_pairs, pair_count

            self.objective = DpoObjective(self.model, self._forward, self.cfg["training"].dpo)
            self._collate, self._count = collate_pairs, pair_count
        self._install_stop_hooks()
        return data

    def _install_stop_hooks(self) -> None:
        """In a several-process run all ranks must stop at the same step boundary instead."""
        if not self.dist.active:
            install_stop_hooks(self.model, self.stop)

    def _schedule(self, data: Prepared) -> None:
        import torch
        t = self.training
        probe = _batches_for_rank(data.train_rows, t.per_device_train_batch_size, t.seed, 0,
                                  not t.packing, self.dist)
        self.micro_per_epoch = len(probe)
        self.steps_per_epoch = max(1, math.ceil(self.micro_per_epoch / t.gradient_accumulation_steps))
        self.total_steps = t.max_steps or max(1, math.ceil(t.num_train_epochs * self.steps_per_epoch))
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.params = params
        fused = self.device.startswith("cuda")
        self.optimizer = torch.optim.AdamW(params, lr=t.learning_rate, weight_decay=t.weight_decay,
                                           fused=fused or None)
        from transformers import get_scheduler

        self.scheduler = get_scheduler(t.lr_scheduler, self.optimizer,
                                       num_warmup_steps=math.ceil(t.warmup_ratio * self.total_steps),
                                       num_training_steps=self.total_steps)

    # --------------------------------------------------------------- compute
    def _forward(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits, targets, mask): logits only at the positions the loss counts."""
        import torch
        ids = batch["input_ids"].to(self.device, non_blocking=True)
        pos = batch["position_ids"].to(self.device, non_blocking=True)
        tgt = batch["targets"].to(self.device, non_blocking=True)
        mask = tgt != IGNORE
        with torch.autocast(device_type=self.device.split(":")[0], dtype=self.amp,
                            enabled=self.amp is not None):
            if self._decoder is not None:
                hidden = self._decoder(input_ids=ids, position_ids=pos, use_cache=False)
                logits = self._head(hidden.last_hidden_state[mask])
            else:
                logits = self.model(input_ids=ids, position_ids=pos, use_cache=False).logits[mask]
        return logits, tgt[mask], mask

    def _loss_sum(self, batch: dict[str, Any]) -> torch.Tensor:
        import torch
        if self.objective is not None:
            return self.objective.loss_sum(batch)
        logits, targets, _ = self._forward(batch)
        return torch.nn.functional.cross_entropy(logits.float(), targets, reduction="sum")

    def _rewards(self, training: bool) -> dict[str, float]:
        """DPO's reward statistics since the last report (none for SFT)."""
        if self.objective is None:
            return {}
        rewards = self.objective.take(training, self.dist, self.device)
        return rewards if training else {f"eval_{k}": v for k, v in rewards.items()}

    def _evaluate(self, rows: list[Row]) -> float | None:
        import torch
        t = self.training
        if not rows:
            return None
        batches = _batches_for_rank(rows, t.per_device_train_batch_size, t.seed, 0, True, self.dist)
        self.model.eval()
        total = count = 0.0
        with torch.no_grad():
            for batch in batches:
                b = self._collate(batch, self.tokenizer.pad_token_id)
                total += float(self._loss_sum(b))
                count += self._count(b)
        self.model.train()
        total, count = dd.all_sum(self.dist, [total, count], self.device)
        return total / max(count, 1.0)

    def _micro_batches(self, step: int, cache: dict[str, Any], rows: list[Row]) -> list[list[Row]]:
        t = self.training
        epoch, window = divmod(step, self.steps_per_epoch)
        if cache.get("epoch") != epoch:
            cache["epoch"] = epoch
            cache["batches"] = _batches_for_rank(rows, t.per_device_train_batch_size, t.seed,
                                                 epoch, not t.packing, self.dist)
        ga = t.gradient_accumulation_steps
        return cache["batches"][window * ga:(window + 1) * ga]

    def _checkpoint(self, extra: dict[str, Any], rng: dict[str, Any]) -> Path | None:
        import torch
        rank_rng = dd.gather_objects(self.dist, rng["cpu"])  # every rank takes part
        if not self.dist.main:
            return None
        epoch, window = divmod(self.step, self.steps_per_epoch)
        state = {"step": self.step, "epoch": epoch,
                 "batch_index": window * self.training.gradient_accumulation_steps,
                 "total_steps": self.total_steps, "losses": self.losses, **extra}
        cpu_now = torch.get_rng_state()
        torch.set_rng_state(rng["cpu"])
        try:
            path = save_checkpoint(self.run_dir, self.model, self.optimizer, self.scheduler, state,
                                   self.scaler, rank_rng=rank_rng)
        finally:
            torch.set_rng_state(cpu_now)
        self.log.emit(Checkpointed(step=self.step, path=str(path)))
        return path

    # ------------------------------------------------------------------ run
    def train(self) -> TrainResult:
        try:
            return self._train()
        except TrainingError as exc:
            self._report(RunFailed(message=exc.message, hint=exc.hint, step=self.step))
            raise
        except Exception as exc:
            if is_out_of_memory(exc):
                err = out_of_memory_error(exc, getattr(self, "device", "cpu"), self.training,
                                          self.lora, self.step)
                self._report(RunFailed(message=err.message, hint=err.hint, step=self.step))
                raise err from exc
            self._report(RunFailed(
                message=f"{type(exc).__name__}: {exc}", step=self.step,
                hint=failure_hint(exc)))
            raise
        finally:
            self.log.close()
            dd.teardown(getattr(self, "dist", dd.Dist()))

    def _report(self, failure: RunFailed) -> None:
        """The run's last word, also when it failed before its event log was opened (e.g.
        no such device): the run then reads "failed" with this reason, not "created"."""
        if self.log.run_dir is None and os.environ.get("RANK", "0") in ("", "0") and \
                getattr(self, "dist", dd.Dist()).main:
            try:
                self.log = EventLog(self.run_dir, listeners=self._listeners, tensorboard=False)
            except OSError:
                pass
        self.log.emit(failure)

    def _train(self) -> TrainResult:
        import torch
        t = self.training
        started = time.time()
        data = self._setup()
        self._schedule(data)
        best, bad_evals = None, 0
        if self.resume is not None:
            ckpt = self.resume if (self.resume / "trainer_state.json").is_file() \
                else latest_checkpoint(self.resume)
            if ckpt is not None:
                state = load_checkpoint(ckpt, self.model, self.optimizer, self.scheduler,
                                        self.scaler, rank=self.dist.rank)
                self.step = int(state["step"])
                self.losses = list(state.get("losses", []))
                best, bad_evals = state.get("best_eval"), int(state.get("bad_evals", 0))
        trainable, total_params = count_parameters(self.model)
        self.log.emit(RunStarted(
            pid=os.getpid(), pid_created=process_created(), total_steps=self.total_steps,
            start_step=self.step, trainable_params=trainable, total_params=total_params,
            steps_per_epoch=self.steps_per_epoch, config=run_summary(self, data)))
        self.model.train()
        cache: dict[str, Any] = {}
        loop_start, tokens_seen, first_step = time.time(), 0.0, self.step
        reason = "max_steps" if t.max_steps else "epochs"
        last_loss = self.losses[-1] if self.losses else None
        rng = {"cpu": torch.get_rng_state()}
        while self.step < self.total_steps:
            rng = {"cpu": torch.get_rng_state()}
            if self._stop_requested():
                return self._stopped(rng)
            micro = self._micro_batches(self.step, cache, data.train_rows)
            collated = [self._collate(b, self.tokenizer.pad_token_id) for b in micro]
            local_tokens = sum(self._count(c) for c in collated)
            local_inputs = sum(float(sum(r.length for r in b)) for b in micro)
            global_tokens, global_inputs = dd.all_sum(self.dist, [local_tokens, local_inputs],
                                                      self.device)
            loss_acc = torch.zeros((), device=self.device)
            try:
                for batch in collated:
                    loss_sum = self._loss_sum(batch)
                    scaled = loss_sum / max(global_tokens, 1.0)
                    (self.scaler.scale(scaled) if self.scaler else scaled).backward()
                    loss_acc += loss_sum.detach()
                    if self.stop.requested and not self.dist.active:
                        raise Interrupted
            except Interrupted:
                self.optimizer.zero_grad(set_to_none=True)
                return self._stopped(rng)
            (loss_total,) = dd.all_sum(self.dist, [float(loss_acc)], self.device)
            loss = loss_total / max(global_tokens, 1.0)
            if not math.isfinite(loss):
                raise TrainingError(
                    f"the loss became {loss} at step {self.step + 1}; training stopped",
                    hint="lower training.training.learning_rate, set max_grad_norm (e.g. 1.0), "
                    "use mixed_precision=bf16 or no instead of fp16, and check the data")
            dd.all_sum_grads(self.dist, self.params)
            if self.scaler:
                self.scaler.unscale_(self.optimizer)
            clip = t.max_grad_norm if t.max_grad_norm > 0 else float("inf")
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.params, clip))
            lr = self.scheduler.get_last_lr()[0]
            if self.scaler:
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
            last_loss = loss
            self.losses.append(round(loss, 6))
            tokens_seen += global_inputs
            elapsed = time.time() - loop_start
            if self.step % t.logging_steps == 0 or self.step == self.total_steps:
                per_step = elapsed / max(1, self.step - first_step)
                self.log.emit(StepLogged(
                    step=self.step, max_steps=self.total_steps,
                    epoch=round(self.step / self.steps_per_epoch, 4), loss=loss, lr=lr,
                    grad_norm=grad_norm, tokens_per_s=round(tokens_seen / max(elapsed, 1e-9), 1),
                    elapsed_s=round(time.time() - started, 2),
                    eta_s=round(per_step * (self.total_steps - self.step), 1),
                    **self._rewards(True)))
            if data.eval_rows and (self.step % t.eval_steps == 0 or self.step == self.total_steps):
                try:
                    eval_loss = self._evaluate(data.eval_rows)
                except Interrupted:
                    self.model.train()
                    return self._stopped({"cpu": torch.get_rng_state()})
                self.log.emit(Evaluated(step=self.step, eval_loss=eval_loss,
                                        elapsed_s=round(time.time() - started, 2),
                                        **self._rewards(False)))
                if best is None or eval_loss < best - t.early_stopping_min_delta:
                    best, bad_evals = eval_loss, 0
                else:
                    bad_evals += 1
                if t.early_stopping_patience and bad_evals >= t.early_stopping_patience:
                    reason = "early_stopping"
                    break
            if self.step % t.eval_steps == 0 and self.step < self.total_steps:
                try:
                    self._sample()
                except Interrupted:
                    self.model.train()
                    return self._stopped({"cpu": torch.get_rng_state()})
            if self.step % t.save_steps == 0 and self.step < self.total_steps:
                self._checkpoint({"best_eval": best, "bad_evals": bad_evals},
                                 {"cpu": torch.get_rng_state()})
        return self._finish(started, last_loss, reason)

    def _stop_requested(self) -> bool:
        if not self.dist.active:
            return self.stop.requested
        (flag,) = dd.all_sum(self.dist, [1.0 if self.stop.requested else 0.0], self.device)
        return flag > 0

    def _stopped(self, rng: dict[str, Any]) -> TrainResult:
        from llamahome_gui.core.runs.history import checkpoint_step

        existing = latest_checkpoint(self.run_dir)
        if existing is not None and checkpoint_step(existing) == self.step:
            path = existing
        else:
            path = self._checkpoint({}, rng) if self.step > 0 else None
        dd.barrier(self.dist)
        self.log.emit(RunStopped(step=self.step, checkpoint=str(path) if path else None))
        return TrainResult("stopped", self.step, checkpoint=path,
                           final_loss=self.losses[-1] if self.losses else None, reason="interrupted")

    def _sample(self) -> None:
        """Greedy answers to the sample prompts with the adapter as it is now (rank 0)."""
        if not self.sample_prompts:
            return
        from llamahome_gui.core.train.session import system_prompt

        answers = generate_samples(self.model, self.tokenizer, self.sample_prompts,
                                   self.training.sample_max_new_tokens,
                                   system_prompt(self.cfg), self.device)
        for prompt, text, seconds in answers:
            self.log.emit(SampleGenerated(step=self.step, prompt=prompt.text, text=text,
                                          seconds=seconds))

    def _finish(self, started: float, last_loss: float | None, reason: str) -> TrainResult:
        adapter = self.run_dir / ADAPTER_DIR
        try:
            self._sample()
        except Interrupted:
            pass  # the run is done; its adapter matters more than the last samples
        if self.dist.main:
            self.model.save_pretrained(adapter, safe_serialization=True)
            self.tokenizer.save_pretrained(adapter)
        dd.barrier(self.dist)
        duration = round(time.time() - started, 2)
        self.log.emit(RunFinished(step=self.step, adapter=str(adapter), final_loss=last_loss,
                                  duration_s=duration, reason=reason))
        return TrainResult("done", self.step, adapter=adapter, final_loss=last_loss, reason=reason)
