"""Training: plain (momentum) SGD with the whole dataset resident on the device.

**TrainConfig** (kind ``"train"``): the one training config every chapter uses::

    cfg = TrainConfig(dataset="fashion-mnist", n_train=10_000, n_val=2_000, model="mlp",
                      model_options={"hidden": (400, 400, 400)}, lr=0.05, batch_size=128, epochs=5,
                      hessian_epochs=(5,), hessian_samples=2_000)
    payload = train(cfg)                          # history, Hessian probes, parameters
    result = runs.train_stored(cfg, store)        # the same through the result store (replication.runs)
    model = load_model(cfg, result.payload, which="best")   # or "final"

What one run does, exactly:

- Data: :func:`replication.data.load_dataset` (``accept_unverified_data=True``, or
  ``REPLICATION_ACCEPT_UNVERIFIED=1`` when it is False, accepts non-canonical data, e.g. the
  CIFAR-10 JPEG stand-in; the result's provenance then says ``canonical=False``), split by
  :func:`replication.data.prepare` (``n_train`` / ``n_val`` / ``label_noise`` / ``data_seed``: a
  clean validation set held out of the training split, uniform random labels on a fraction of the
  training subset).  Everything is moved to ``device`` once; batches are gathered by index.
- Model: :func:`replication.models.build` (``model``, ``model_options``, ``seed``).
- Batches: one CPU ``torch.Generator`` seeded with ``seed`` draws a permutation of the N training
  examples per epoch (epochs differ); an epoch walks it in consecutive batches of S_e examples,
  ``floor(N / S_e)`` steps.  **The last N mod S_e examples of the permutation are not used in that
  epoch** (a different random set each epoch), so every step averages exactly S_e examples and
  has exactly the noise scale η_e / S_e.  With a batch-size schedule the number of steps changes
  from epoch to epoch; every epoch is still one permutation of the N examples.
- Augmentation (``augment``, CIFAR-10 only): :func:`replication.data.random_crop_flip` (pad 4,
  fill 0 = the mean colour, random crop, horizontal flip) per training batch, from a generator on
  the device seeded from ``seed``.
- Step: ``torch.optim.SGD(lr=η_e, momentum, weight_decay)`` on the mean cross-entropy of the
  batch (weight decay on every parameter; momentum as PyTorch: v ← μ v + g, θ ← θ − η v), with
  η_e = ``lr * lr_schedule.at(e)`` and S_e = ``round(batch_size * bs_schedule.at(e))``
  (:mod:`replication.schedules`).
- Throughput options (part of the config, so of its key; left out of ``to_dict`` at their defaults):
  ``precision="bf16"`` runs the forward and backward pass of each training step under bfloat16
  autocast (parameters, optimizer and evaluation stay float32); ``channels_last=True`` stores
  convolutional nets and their batches in NHWC layout.  Both run as single runs, never vmapped.
- After every epoch, in eval mode, over whole sets: training loss/accuracy (against the labels
  trained on), validation loss/accuracy (clean labels), test loss/accuracy; under label noise also
  the accuracy on the corrupted training examples against their noisy labels (``memorized_acc``:
  memorization), against their true labels (``corrupted_true_acc``) and on the uncorrupted ones
  (``clean_acc``); and η_e, S_e, η_e/S_e, steps, the mean minibatch loss.  The test set is the
  whole test split, or its first ``n_test`` examples (quick profiles).
- Hessian probes after the epochs in ``hessian_epochs`` (0 = at initialization): λ_max of the
  training loss by :func:`replication.hessian.lanczos` (tolerance ``hessian_tol``, at most
  ``hessian_max_iter`` HVPs), mode="eval", on a fixed subset of min(``hessian_samples``, N) training
  examples (their trained-on labels) drawn from ``data_seed`` (so every run of a grid on the same
  data probes the same examples), with its residual, convergence flag and HVP count.  **Warm
  starts**: a run's first probe starts Lanczos from a random vector seeded with ``seed``; every later
  probe of the same run starts from the previous probe's top eigenvector (``warm_start`` in the
  record), which cuts the HVPs of tracking λ_max over training (``benchmarks/bench_tracking.py``).
  The value agrees with a cold start to the tolerance; the HVP count depends on the start.
- Parameters: ``state_dict`` (CPU) at the end and ``best_state_dict`` at the epoch of best
  validation accuracy (the first one on ties; ``None`` without a validation set).
- Divergence: a run whose mean minibatch loss or training loss becomes non-finite stops after that
  epoch with ``diverged=True`` and its history so far; nothing raises.
- Training to a target (``target_loss``, optional): the run stops at the end of the first epoch k
  whose full training-set loss (the evaluated ``train_loss``, not the minibatch mean) is
  ``<= target_loss``; ``epochs`` is then a cap.  The payload records ``target_loss`` and
  ``stopped_epoch`` (= k, or ``None`` when the cap was reached first or the run diverged).  Hessian
  probes of epochs up to k run as listed; the probes listed after k are replaced by one probe at
  k, so "measure at the end" (``hessian_epochs=(epochs,)``) measures where the run stopped.  With
  ``target_loss=None`` (the default, left out of the config's key) nothing changes.
- Same config, same device and thread count: bit-identical history (CPU).

Many runs: :mod:`replication.runs` (grids, the store, vmapped ensembles of
:mod:`replication.ensemble`).

Modules: :mod:`~replication.train.config` (the config), :mod:`~replication.train.setup` (data,
model, probe subset), :mod:`~replication.train.loop` (the loop and the entry points),
:mod:`~replication.train.evaluation` (per-epoch metrics, Hessian probes),
:mod:`~replication.train.record` (history and payload).  Every name used elsewhere is re-exported here.
"""
from ..config import ConfigError
from .config import (DATA_CODE, DATASET_INFO, OPTIONAL_DEFAULTS, PRECISIONS, SETUP_CODE, THROUGHPUT_DEFAULTS,
                     TRAIN_CODE, TrainConfig)
from .evaluation import (CONV_EVAL_BATCH, EVAL_BATCH, _WARM_STARTS, epoch_metrics, eval_batch,
                         evaluate_sets, hessian_probe, synchronize)
from .loop import load_model, train
from .record import HISTORY_KEYS, NOISE_KEYS, Recorder, cpu_state
from .setup import build_model, data_provenance, hessian_indices, load_data, prepare_split

__all__ = ["ConfigError", "DATA_CODE", "SETUP_CODE", "TRAIN_CODE", "DATASET_INFO", "OPTIONAL_DEFAULTS",
           "PRECISIONS", "THROUGHPUT_DEFAULTS", "TrainConfig", "CONV_EVAL_BATCH", "EVAL_BATCH",
           "epoch_metrics", "eval_batch", "evaluate_sets", "hessian_probe", "synchronize", "load_model", "train",
           "HISTORY_KEYS", "NOISE_KEYS", "Recorder", "cpu_state", "build_model",
           "data_provenance", "hessian_indices", "load_data", "prepare_split"]
