"""Models: the seeded ReLU MLP and a small registry of the paper's networks.

    model = mlp(784, (400, 400, 400), 10, seed=0)              # 784-400-400-400-10
    model = build("resnet56", seed=0)                          # CIFAR ResNet-56, 10 classes
    model = build("vgg11", width=0.25, batch_norm=False, seed=1)
    describe_model("resnet56")   # 'ResNet-56 (CIFAR, shortcut A, BN; 0.85M params)'

Registry (``build(name, *, n_classes=10, in_shape=(C, H, W), seed, **options)``):

- ``"mlp"``, option ``hidden`` (tuple of widths, default 20 × 50 = ICLR Fig. 1; e.g. (256, 256) for
  the memorization MLP): :func:`mlp` on the flattened input.
- ``"vgg11"``, options ``width`` (channel multiplier, default 1.0) and ``batch_norm`` (default True):
  the CIFAR VGG-11, 3×3 convs (padding 1, with bias) 64-M-128-M-256-256-M-512-512-M-512-512-M,
  each followed by [BN] and ReLU, then flatten and a single ``Linear(512 → n_classes)`` head (no
  hidden fully connected layers, no dropout).  On 32×32 inputs the last map is 1×1, so the head sees
  512 features (512·w with a width multiplier); larger inputs give a wider flatten.
- ``"resnet20"``, ``"resnet32"``, ``"resnet56"``, options ``width`` (default 1.0), ``batch_norm``
  (default True), ``shortcut`` (default ``"A"``): He et al. (2016) CIFAR ResNets, 3 stages of
  n = 3/5/9 basic blocks with 16/32/64 channels, depth 6n + 2, global average pool and a linear
  head.  Shortcut ``"A"`` (the paper's CIFAR choice) is the identity, subsampled by 2 and
  zero-padded in channels where the shape changes: no parameters.  Counts with 10 classes:
  269,722 / 464,154 / 853,018 (He et al. Table 6: 0.27M / 0.46M / 0.85M).  Shortcut ``"B"`` (1×1
  conv + BN projections) gives 272,474 / 466,906 / 855,770.  Convs carry no bias with BN, a zero bias
  without it.
- ``"small_cnn"``, options ``channels`` (default (32, 64)) and ``batch_norm`` (default False): per
  entry a 3×3 conv (padding 1) [BN] ReLU 2×2 max-pool, then flatten → Linear; a CPU-sized analogue.

Initialization, always drawn from a ``torch.Generator`` seeded with ``seed`` (models are built on
the meta device first), so the global random state is neither read nor changed and the same seed
gives the same parameters on every call and device; different seeds give different ones:

- ``nn.Linear``: PyTorch's default, weights and biases uniform in ±1/sqrt(fan_in)
  (``kaiming_uniform_(a=sqrt(5))``), as in :func:`mlp`.
- ``nn.Conv2d``: Kaiming normal, fan_out mode, ReLU gain (std sqrt(2 / (c_out·k·k))), as in
  torchvision's ResNets; conv biases zero.  In a ResNet *without* BN the second conv of every block
  is zero-initialized instead (each residual branch starts at zero, SkipInit-like), so that deep
  un-normalized ResNets start stable.
- BatchNorm: weight 1, bias 0, running mean 0, running variance 1.

Generators are drawn in module order (``model.modules()``); every model is float32 on the CPU.

Functional use: every model's forward is free of in-place ops and of data-dependent Python control
flow, so without BatchNorm it works with ``torch.func.functional_call`` and ``torch.func.vmap`` over
parameters stacked by ``torch.func.stack_module_state`` (vmapped ensembles).  With BatchNorm in
train mode, vmapped ensembles are NOT supported (BN updates its running-statistics buffers in place
and normalizes over the batch); ask :func:`has_batchnorm` (from the name and options) and build with
``batch_norm=False`` for ensembles.
"""
from __future__ import annotations

import math

import torch
from torch import nn


MLP_INITS = ("torch", "he", "xavier")


def mlp(in_features: int, hidden: tuple[int, ...], n_classes: int, *, seed: int, init: str = "torch") -> nn.Sequential:
    """Flatten → [Linear → ReLU] per hidden width → Linear to ``n_classes`` logits (float32, CPU).

    ``init``: ``"torch"`` (PyTorch's default, weights and biases U(±1/sqrt(fan_in))), ``"he"``
    (weights N(0, 2/fan_in), biases 0: keeps the signal's scale through deep ReLU stacks) or
    ``"xavier"`` (weights U(±sqrt(6/(fan_in+fan_out))), biases 0)."""
    if init not in MLP_INITS:
        raise ValueError(f"mlp: option init={init!r} must be one of {', '.join(MLP_INITS)}")
    if in_features < 1 or n_classes < 1 or any(h < 1 for h in hidden):
        raise ValueError(f"layer widths must be positive: {in_features}, {tuple(hidden)}, {n_classes}")
    widths = [int(in_features), *map(int, hidden), int(n_classes)]
    layers: list[nn.Module] = [nn.Flatten()]
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(fan_in, fan_out, device="meta"))  # no storage, no draw from the global RNG
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers).to_empty(device="cpu")
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):
                if init == "he":
                    layer.weight.normal_(0.0, math.sqrt(2.0 / layer.in_features), generator=gen)
                    layer.bias.zero_()
                elif init == "xavier":
                    bound = math.sqrt(6.0 / (layer.in_features + layer.out_features))
                    nn.init.uniform_(layer.weight, -bound, bound, generator=gen)
                    layer.bias.zero_()
                else:
                    bound = 1.0 / math.sqrt(layer.in_features)
                    nn.init.uniform_(layer.weight, -bound, bound, generator=gen)
                    nn.init.uniform_(layer.bias, -bound, bound, generator=gen)
    return model


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def describe(in_features: int, hidden: tuple[int, ...], n_classes: int) -> str:
    """``"784-400-400-400-10"``."""
    return "-".join(str(w) for w in (in_features, *hidden, n_classes))


# ---------------------------------------------------------------------------------------------
# The model zoo: ``build(name, ...)``
# ---------------------------------------------------------------------------------------------
def _positive_int(name: str, option: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: option {option}={value!r} must be a positive integer")
    return int(value)


def _widths(name: str, option: str, value, *, min_len: int = 0) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{name}: option {option}={value!r} must be a tuple of positive integers")
    widths = tuple(value)
    if len(widths) < min_len or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths):
        raise ValueError(f"{name}: option {option}={value!r} must be a tuple of at least {min_len} positive integers")
    return tuple(int(w) for w in widths)


def _multiplier(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: option width={value!r} must be a positive finite number")
    return float(value)


def _flag(name: str, option: str, value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name}: option {option}={value!r} must be True or False")
    return value


def _scaled(channels: int, width: float) -> int:
    """``channels × width``, rounded, at least 1."""
    return max(1, int(round(channels * width)))


def _check_in_shape(name: str, in_shape) -> tuple[int, int, int]:
    try:
        shape = tuple(int(s) for s in in_shape)
        ok = len(shape) == 3 and all(s >= 1 for s in shape) and shape == tuple(in_shape)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name}: in_shape={in_shape!r} must be (channels, height, width) of positive integers")
    return shape  # type: ignore[return-value]


class VGG(nn.Module):
    """VGG feature stack (3×3 convs, padding 1, [BN], ReLU; 2×2 max-pools), flatten, one Linear head."""

    def __init__(self, plan, in_channels: int, n_classes: int, batch_norm: bool, spatial: tuple[int, int]):
        super().__init__()
        layers: list[nn.Module] = []
        c, (h, w) = in_channels, spatial
        for item in plan:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
                h, w = h // 2, w // 2
            else:
                layers.append(nn.Conv2d(c, item, 3, padding=1))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(item))
                layers.append(nn.ReLU())
                c = item
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c * h * w, n_classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class BasicBlock(nn.Module):
    """He et al. (2016) basic block: 3×3 conv [BN] ReLU, 3×3 conv [BN], + shortcut, ReLU.

    Shortcut where the shape changes: ``"A"`` = identity subsampled by 2 and zero-padded in the
    channels (parameter-free; He et al.'s CIFAR choice), ``"B"`` = 1×1 strided conv [+ BN]."""

    def __init__(self, c_in: int, c_out: int, stride: int, batch_norm: bool, shortcut: str):
        super().__init__()
        bias = not batch_norm  # convs carry a bias only when there is no BN after them
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=bias)
        self.bn1 = nn.BatchNorm2d(c_out) if batch_norm else nn.Identity()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=bias)
        self.bn2 = nn.BatchNorm2d(c_out) if batch_norm else nn.Identity()
        self.stride, self.pad = stride, (c_out - c_in)
        self.projection: nn.Module | None = None
        if (stride != 1 or c_in != c_out) and shortcut == "B":
            self.projection = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=bias),
                *([nn.BatchNorm2d(c_out)] if batch_norm else []))

    def shortcut(self, x):
        if self.projection is not None:
            return self.projection(x)
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.pad:
            x = nn.functional.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return x

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """3×3 conv (16·w) [BN] ReLU → 3 stages × n basic blocks (16·w, 32·w, 64·w channels; stride 2
    at the start of stages 2 and 3) → global average pool → Linear.  Depth 6n + 2."""

    def __init__(self, n: int, in_channels: int, n_classes: int, width: float, batch_norm: bool, shortcut: str):
        super().__init__()
        widths = [_scaled(c, width) for c in (16, 32, 64)]
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=not batch_norm)
        self.bn1 = nn.BatchNorm2d(widths[0]) if batch_norm else nn.Identity()
        blocks: list[nn.Module] = []
        c = widths[0]
        for stage, c_out in enumerate(widths):
            for i in range(n):
                stride = 2 if (stage > 0 and i == 0) else 1
                blocks.append(BasicBlock(c, c_out, stride, batch_norm, shortcut))
                c = c_out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c, n_classes)

    def forward(self, x):
        out = self.blocks(torch.relu(self.bn1(self.conv1(x))))
        return self.fc(out.mean(dim=(-2, -1)))


class SmallCNN(nn.Module):
    """Per entry of ``channels``: 3×3 conv (padding 1) [BN] ReLU 2×2 max-pool; then flatten → Linear."""

    def __init__(self, channels: tuple[int, ...], in_shape: tuple[int, int, int], n_classes: int, batch_norm: bool):
        super().__init__()
        layers: list[nn.Module] = []
        c, h, w = in_shape
        for c_out in channels:
            layers += [nn.Conv2d(c, c_out, 3, padding=1), *([nn.BatchNorm2d(c_out)] if batch_norm else []),
                       nn.ReLU(), nn.MaxPool2d(2, 2)]
            c, h, w = c_out, h // 2, w // 2
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c * h * w, n_classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


VGG11_PLAN = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")
_RESNET_DEPTH = {"resnet20": 3, "resnet32": 5, "resnet56": 9}  # n blocks per stage; depth 6n + 2

#: name → (default options, default in_shape).  Options not listed here are rejected.
_REGISTRY: dict[str, tuple[dict, tuple[int, int, int]]] = {
    "mlp": ({"hidden": (50,) * 20, "init": "torch"}, (1, 28, 28)),
    "vgg11": ({"width": 1.0, "batch_norm": True}, (3, 32, 32)),
    **{name: ({"width": 1.0, "batch_norm": True, "shortcut": "A"}, (3, 32, 32)) for name in _RESNET_DEPTH},
    "small_cnn": ({"channels": (32, 64), "batch_norm": False}, (1, 28, 28)),
}
MODEL_NAMES = tuple(_REGISTRY)


def _registered(name: str, options) -> tuple[dict, tuple]:
    """``(default options, default input shape)`` of the registered model ``name``, after checking
    that every option is one it takes; one-line ValueError otherwise."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    defaults, default_shape = _REGISTRY[name]
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ValueError(f"{name}: unknown option(s) {', '.join(unknown)}; allowed: {', '.join(defaults)}")
    return defaults, default_shape


def _resolve(name, n_classes, in_shape, options) -> tuple[dict, tuple[int, int, int], int]:
    """Validated (options with defaults, in_shape, n_classes); one-line ValueError otherwise."""
    defaults, default_shape = _registered(name, options)
    opts = {**defaults, **options}
    n_classes = _positive_int(name, "n_classes", n_classes)
    shape = _check_in_shape(name, default_shape if in_shape is None else in_shape)
    if "hidden" in opts:
        opts["hidden"] = _widths(name, "hidden", opts["hidden"])
    if "channels" in opts:
        opts["channels"] = _widths(name, "channels", opts["channels"], min_len=1)
        if shape[1] >> len(opts["channels"]) < 1 or shape[2] >> len(opts["channels"]) < 1:
            raise ValueError(f"{name}: in_shape={shape} is too small for {len(opts['channels'])} 2×2 pools")
    if "width" in opts:
        opts["width"] = _multiplier(name, opts["width"])
    if "batch_norm" in opts:
        opts["batch_norm"] = _flag(name, "batch_norm", opts["batch_norm"])
    if "init" in opts and opts["init"] not in MLP_INITS:
        raise ValueError(f"{name}: option init={opts['init']!r} must be one of {', '.join(MLP_INITS)}")
    if "shortcut" in opts and opts["shortcut"] not in ("A", "B"):
        raise ValueError(f"{name}: option shortcut={opts['shortcut']!r} must be 'A' or 'B'")
    if name == "vgg11" and (shape[1] < 32 or shape[2] < 32):
        raise ValueError(f"vgg11: in_shape={shape} is too small for 5 2×2 pools; need height and width >= 32")
    return opts, shape, n_classes


def _construct(name: str, opts: dict, shape: tuple[int, int, int], n_classes: int) -> nn.Module:
    """The architecture on the meta device (no storage, no random draws)."""
    with torch.device("meta"):
        if name == "vgg11":
            plan = [p if p == "M" else _scaled(p, opts["width"]) for p in VGG11_PLAN]
            return VGG(plan, shape[0], n_classes, opts["batch_norm"], shape[1:])
        if name in _RESNET_DEPTH:
            return CifarResNet(_RESNET_DEPTH[name], shape[0], n_classes, opts["width"], opts["batch_norm"],
                               opts["shortcut"])
        if name == "small_cnn":
            return SmallCNN(opts["channels"], shape, n_classes, opts["batch_norm"])
    raise AssertionError(name)  # pragma: no cover


def _initialize(model: nn.Module, seed: int, batch_norm: bool) -> nn.Module:
    """Materialize on the CPU and initialize every parameter and buffer from a seeded Generator."""
    model = model.to_empty(device="cpu")
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    zero_init = set()
    if not batch_norm:  # residual branches without BN start at zero (SkipInit-like)
        zero_init = {id(m.conv2.weight) for m in model.modules() if isinstance(m, BasicBlock)}
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                if id(m.weight) in zero_init:
                    m.weight.zero_()
                else:  # Kaiming normal, fan_out, ReLU gain, as torchvision's ResNets
                    fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1] // m.groups
                    m.weight.normal_(0.0, math.sqrt(2.0 / fan_out), generator=gen)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.Linear):  # PyTorch's default: U(±1/sqrt(fan_in)) for weight and bias
                bound = 1.0 / math.sqrt(m.in_features)
                m.weight.uniform_(-bound, bound, generator=gen)
                if m.bias is not None:
                    m.bias.uniform_(-bound, bound, generator=gen)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
                m.weight.fill_(1.0)
                m.bias.zero_()
            elif any(True for _ in m.parameters(recurse=False)) or any(True for _ in m.buffers(recurse=False)):
                raise AssertionError(f"no initializer for {type(m).__name__}")  # pragma: no cover
    return model


def build(name: str, *, n_classes: int = 10, in_shape: tuple[int, int, int] | None = None, seed: int,
          **options) -> nn.Module:
    """A freshly initialized float32 CPU model from the registry (see the module docstring).

    ``in_shape`` is (C, H, W); ``None`` means (1, 28, 28) for ``mlp``/``small_cnn`` and (3, 32, 32)
    for ``vgg11``/``resnet*``.  Unknown names, options or bad values raise a one-line ValueError."""
    opts, shape, n_classes = _resolve(name, n_classes, in_shape, options)
    if name == "mlp":
        return mlp(shape[0] * shape[1] * shape[2], opts["hidden"], n_classes, seed=seed, init=opts["init"])
    return _initialize(_construct(name, opts, shape, n_classes), seed, opts["batch_norm"])


def has_batchnorm(name: str, **options) -> bool:
    """Whether the model ``name`` of the registry with ``options`` (the description a config holds)
    has BatchNorm layers, read from the description (nothing is built).  BatchNorm's running
    statistics are the only buffers of these models, so without it a model is a pure function of
    its parameters (vmapped ensembles).  Unknown names or options raise a one-line ValueError."""
    defaults, _ = _registered(name, options)
    return "batch_norm" in defaults and _flag(name, "batch_norm", options.get("batch_norm", defaults["batch_norm"]))


def _count(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 100_000 else f"{n:,}"


def describe_model(name: str, *, n_classes: int = 10, in_shape: tuple[int, int, int] | None = None,
                   **options) -> str:
    """A short human description for figure footers, e.g. ``"ResNet-56 (CIFAR, shortcut A, BN; 0.85M params)"``."""
    opts, shape, n_classes = _resolve(name, n_classes, in_shape, options)
    if name == "mlp":
        widths = [shape[0] * shape[1] * shape[2], *opts["hidden"], n_classes]
        count = sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))
        parts, i = [], 0
        while i < len(widths):
            j = i
            while j + 1 < len(widths) and widths[j + 1] == widths[i]:
                j += 1
            run = j - i + 1
            parts.append(f"{widths[i]}×{run}" if run >= 3 else "-".join([str(widths[i])] * run))
            i = j + 1
        init = {"torch": "", "he": "He init; ", "xavier": "Xavier init; "}[opts["init"]]
        return f"ReLU MLP {'-'.join(parts)} ({len(opts['hidden'])} hidden layers; {init}{_count(count)} params)"
    count = n_parameters(_construct(name, opts, shape, n_classes))
    bits = ["BN" if opts["batch_norm"] else "no BN"]
    if opts.get("width", 1.0) != 1.0:
        bits.append(f"width ×{opts['width']:g}")
    if name == "vgg11":
        title = "VGG-11 (CIFAR, linear head"
    elif name in _RESNET_DEPTH:
        title = f"ResNet-{6 * _RESNET_DEPTH[name] + 2} (CIFAR, shortcut {opts['shortcut']}"
    else:
        title = f"small CNN (convs {'-'.join(map(str, opts['channels']))}"
    return f"{title}, {', '.join(bits)}; {_count(count)} params)"
