"""One run's record: its per-epoch history, best-validation parameters, divergence and stopping
epoch, and the payload the store keeps.
"""
from __future__ import annotations

import math

from torch import nn

from .config import TrainConfig

HISTORY_KEYS = ("epoch", "lr", "batch_size", "ratio", "steps", "batch_loss", "train_loss", "train_acc",
                "val_loss", "val_acc", "test_loss", "test_acc")
NOISE_KEYS = ("memorized_acc", "corrupted_true_acc", "clean_acc")


class Recorder:
    """Collects one run's history, best-validation parameters and divergence; builds the payload."""

    def __init__(self, cfg: TrainConfig, split):
        self.cfg = cfg
        keys = HISTORY_KEYS + (NOISE_KEYS if split.label_noise > 0 else ())
        self.history: dict[str, list] = {k: [] for k in keys}
        self.timing: dict[str, list] = {"train_seconds": [], "eval_seconds": []}
        self.hessian: list[dict] = []
        self.best_epoch: int | None = None
        self.best_val_acc = -1.0
        self.best_state: dict | None = None
        self.diverged = False
        self.diverged_epoch: int | None = None
        self.stopped_epoch: int | None = None     # the epoch at which target_loss was reached
        self.split_meta = split.metadata()

    def add_epoch(self, epoch: int, batch_loss: float, metrics: dict, train_seconds: float,
                  eval_seconds: float, state_fn) -> bool:
        """Record epoch ``epoch`` (1-based); returns False when the run diverged (stop it).  A run that
        reached ``target_loss`` at this epoch gets ``stopped_epoch`` set (stop it after its probes)."""
        cfg, e = self.cfg, epoch - 1
        row = {"epoch": epoch, "lr": cfg.lr_at(e), "batch_size": cfg.batch_size_at(e), "ratio": cfg.ratio_at(e),
               "steps": cfg.steps_at(e), "batch_loss": batch_loss, **metrics}
        for k in self.history:
            self.history[k].append(row.get(k))
        self.timing["train_seconds"].append(train_seconds)
        self.timing["eval_seconds"].append(eval_seconds)
        if not (math.isfinite(batch_loss) and math.isfinite(metrics["train_loss"])):
            self.diverged, self.diverged_epoch = True, epoch
            return False
        val = metrics.get("val_acc")
        if val is not None and val > self.best_val_acc:
            self.best_val_acc, self.best_epoch = val, epoch
            self.best_state = state_fn()
        if cfg.reached_target(metrics["train_loss"]):
            self.stopped_epoch = epoch
        return True

    @property
    def stopped(self) -> bool:
        return self.stopped_epoch is not None

    def payload(self, final_state: dict, n_parameters: int, **extra) -> dict:
        h = self.history
        final = {k: v[-1] for k, v in h.items()} if h["epoch"] else {}
        return {
            "history": h, "final": final, "hessian": self.hessian,
            "diverged": self.diverged, "diverged_epoch": self.diverged_epoch,
            "epochs_completed": len(h["epoch"]),
            "best_epoch": self.best_epoch, "best_val_acc": None if self.best_epoch is None else self.best_val_acc,
            "best_state_dict": self.best_state, "state_dict": final_state,
            "timing": self.timing, "split": self.split_meta,
            "n_parameters": n_parameters, "architecture": self.cfg.architecture,
            "last_batch": "dropped: floor(N/S) steps of exactly S examples per epoch",
            "target_loss": self.cfg.target_loss, "stopped_epoch": self.stopped_epoch,
            **extra,
        }


def cpu_state(model: nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}

