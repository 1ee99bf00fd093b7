"""The model registry: shapes, exact parameter counts, seeded init, width/BN options, vmap, errors."""
import math

import pytest
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from replication import models
from replication.models import build, describe_model, has_batchnorm, n_parameters


def convs(model):
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)]


def bns(model):
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@pytest.mark.parametrize("name, options, in_shape", [
    ("mlp", {"hidden": (16, 8)}, (1, 28, 28)),
    ("small_cnn", {}, (1, 28, 28)),
    ("small_cnn", {"channels": (4, 8, 8), "batch_norm": True}, (3, 32, 32)),
    ("mlp", {"hidden": (8,)}, (3, 32, 32)),
    ("vgg11", {"width": 0.125}, (3, 32, 32)),
    ("resnet20", {"width": 0.5}, (3, 32, 32)),
])
def test_output_shapes(name, options, in_shape):
    for n_classes in (10, 7):
        model = build(name, n_classes=n_classes, in_shape=in_shape, seed=0, **options)
        out = model(torch.randn(2, *in_shape))
        assert out.shape == (2, n_classes) and out.dtype == torch.float32 and torch.isfinite(out).all()


def test_mlp_wraps_the_existing_mlp():
    model = build("mlp", hidden=(16, 8), seed=3)
    same = models.mlp(784, (16, 8), 10, seed=3)
    assert [type(m) for m in model] == [type(m) for m in same]
    for a, b in zip(model.parameters(), same.parameters()):
        assert torch.equal(a, b)
    assert n_parameters(build("mlp", seed=0)) == 784 * 50 + 50 + 19 * (50 * 50 + 50) + 50 * 10 + 10  # 20 × 50
    assert sum(isinstance(m, nn.Linear) for m in build("mlp", seed=0)) == 21


def resnet_count(n, shortcut):
    """CIFAR ResNet (16/32/64 channels, n blocks per stage, BN, 10 classes) counted layer by layer."""
    conv = lambda cin, cout, k=3: k * k * cin * cout  # noqa: E731 (no bias: BN follows)
    bn = lambda c: 2 * c  # noqa: E731
    total = conv(3, 16) + bn(16)
    c = 16
    for c_out in (16, 32, 64):
        for _ in range(n):
            total += conv(c, c_out) + bn(c_out) + conv(c_out, c_out) + bn(c_out)
            if c != c_out and shortcut == "B":
                total += conv(c, c_out, 1) + bn(c_out)
            c = c_out
    return total + 64 * 10 + 10


@pytest.mark.parametrize("name, n, option_a, paper_millions, option_b", [
    ("resnet20", 3, 269_722, 0.27, 272_474), ("resnet32", 5, 464_154, 0.46, 466_906),
    ("resnet56", 9, 853_018, 0.85, 855_770)])
def test_resnet_parameter_counts(name, n, option_a, paper_millions, option_b):
    # Option A (parameter-free shortcut): 269,722 / 464,154 / 853,018.  He et al. (2016), Table 6,
    # lists 0.27M / 0.46M / 0.85M.  The often-quoted 272,474 / 466,906 / 855,770 are the counts with
    # option-B (1×1 conv + BN) projections, which add (16·32 + 2·32) + (32·64 + 2·64) = 2,752
    # parameters; option A is within 1.1% of them (ResNet-20: 1.01%).
    a = n_parameters(build(name, seed=0))
    assert a == resnet_count(n, "A") == option_a and round(a / 1e6, 2) == paper_millions
    assert abs(a - option_b) / option_b < 0.011
    assert n_parameters(build(name, seed=0, shortcut="B")) == resnet_count(n, "B") == option_b


def test_vgg11_parameter_count_by_formula():
    plan = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
    for batch_norm in (True, False):
        total, cin = 0, 3
        for cout in (p for p in plan if p != "M"):
            total += 3 * 3 * cin * cout + cout + (2 * cout if batch_norm else 0)
            cin = cout
        total += 512 * 10 + 10
        model = build("vgg11", seed=0, batch_norm=batch_norm)
        assert n_parameters(model) == total
        assert [c.out_channels for c in convs(model)] == [p for p in plan if p != "M"]
        assert model.classifier.in_features == 512 and model.classifier.out_features == 10


@pytest.mark.parametrize("name, options", [
    ("mlp", {"hidden": (12, 12)}), ("small_cnn", {"batch_norm": True}), ("vgg11", {"width": 0.125}),
    ("resnet20", {"width": 0.25}), ("resnet32", {"width": 0.25, "batch_norm": False, "shortcut": "B"})])
def test_seeded_init_is_deterministic_and_leaves_the_global_rng_alone(name, options):
    state = torch.get_rng_state()
    a = build(name, seed=5, **options)
    b = build(name, seed=5, **options)
    c = build(name, seed=6, **options)
    assert torch.equal(state, torch.get_rng_state())
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert list(sa) == list(sb)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)
    first = next(p for p in a.parameters() if p.dim() > 1)  # the first weight already differs
    assert not torch.equal(first, next(p for p in c.parameters() if p.dim() > 1))


def test_initialization_as_documented():
    model = build("vgg11", seed=0)
    for bn in bns(model):  # to_empty leaves garbage: all BN state must be reset
        assert torch.equal(bn.weight, torch.ones_like(bn.weight)) and not bn.bias.any()
        assert not bn.running_mean.any() and torch.equal(bn.running_var, torch.ones_like(bn.running_var))
        assert bn.num_batches_tracked.item() == 0
    big = convs(model)[4]  # 256 → 512, 3×3: Kaiming normal with fan_out = 512·9 (not fan_in = 256·9)
    assert (big.in_channels, big.out_channels) == (256, 512)
    assert big.weight.std().item() == pytest.approx(math.sqrt(2 / (512 * 9)), rel=0.01)
    assert abs(big.weight.mean().item()) < 1e-3 and not big.bias.any()
    bound = 1 / math.sqrt(512)
    w = model.classifier.weight
    assert w.abs().max() <= bound and w.abs().max() > 0.95 * bound and model.classifier.bias.abs().max() <= bound
    plain = build("resnet20", seed=0, batch_norm=False)  # residual branches start at zero without BN
    blocks = [m for m in plain.modules() if isinstance(m, models.BasicBlock)]
    assert len(blocks) == 9 and all(not b.conv2.weight.any() and b.conv1.weight.any() for b in blocks)
    assert all(c.bias is not None for c in convs(plain))
    assert all(c.bias is None for c in convs(build("resnet20", seed=0)))


def test_option_a_shortcut_subsamples_and_zero_pads_both_sides():
    plain = build("resnet20", seed=0, batch_norm=False)  # zero residual branch: block(x) = relu(shortcut(x))
    block = plain.blocks[3]  # first block of stage 2: 16 → 32 channels, stride 2
    assert (block.conv1.in_channels, block.conv1.out_channels, block.conv1.stride) == (16, 32, (2, 2))
    x = torch.rand(2, 16, 8, 8)
    out = block(x)
    assert out.shape == (2, 32, 4, 4)
    assert torch.equal(out[:, 8:24], x[:, :, ::2, ::2])  # He et al. option A: 8 zero channels each side
    assert not out[:, :8].any() and not out[:, 24:].any()
    assert n_parameters(block) == (9 * 16 * 32 + 32) + (9 * 32 * 32 + 32)  # two biased convs, no projection


def test_width_scales_channels_and_batch_norm_flag():
    full, quarter = build("vgg11", seed=0), build("vgg11", seed=0, width=0.25)
    assert [c.out_channels for c in convs(quarter)] == [c.out_channels // 4 for c in convs(full)]
    assert quarter.classifier.in_features == 128
    r = build("resnet20", seed=0, width=2)
    assert sorted({c.out_channels for c in convs(r)}) == [32, 64, 128] and r.fc.in_features == 128
    assert r(torch.randn(1, 3, 32, 32)).shape == (1, 10)
    assert n_parameters(build("resnet56", seed=0, width=0.5)) < 0.3 * n_parameters(build("resnet56", seed=0))
    cnn = build("small_cnn", seed=0, channels=(3, 5, 7))
    assert [c.out_channels for c in convs(cnn)] == [3, 5, 7] and cnn.classifier.in_features == 7 * 3 * 3
    for name, options in [("vgg11", {}), ("resnet20", {}), ("resnet20", {"shortcut": "B"}),
                          ("small_cnn", {"batch_norm": True})]:
        with_bn = build(name, seed=0, width=0.25, **options) if name != "small_cnn" else build(name, seed=0, **options)
        assert has_batchnorm(name, **options) and bns(with_bn)
        kw = {**options, "batch_norm": False}
        without = build(name, seed=0, width=0.25, **kw) if name != "small_cnn" else build(name, seed=0, **kw)
        assert not has_batchnorm(name, **kw) and not bns(without)
    assert not has_batchnorm("small_cnn") and not has_batchnorm("mlp", hidden=(8,))


@pytest.mark.parametrize("name", ["mlp", "vgg11", "resnet20", "resnet32", "resnet56", "small_cnn"])
@pytest.mark.parametrize("batch_norm", [None, True, False])
def test_has_batchnorm_reads_the_description_as_the_built_model_has_it(name, batch_norm):
    """From the name and options alone (nothing built), the answer the built model gives: BatchNorm
    layers, which are these models' only buffers (so False means a pure function of the parameters)."""
    if name == "mlp" and batch_norm is not None:
        with pytest.raises(ValueError, match=r"^mlp: unknown option\(s\) batch_norm"):
            has_batchnorm(name, batch_norm=batch_norm)
        return
    options = {} if batch_norm is None else {"batch_norm": batch_norm}
    small = {"width": 0.125} if name in ("vgg11", "resnet20", "resnet32", "resnet56") else {}
    model = build(name, seed=0, **small, **options)
    built = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert has_batchnorm(name, **options) == built == any(True for _ in model.buffers())


def test_has_batchnorm_refuses_what_the_registry_does_not_know():
    with pytest.raises(ValueError, match=r"^unknown model 'vgg19'"):
        has_batchnorm("vgg19")
    with pytest.raises(ValueError, match=r"^small_cnn: unknown option\(s\) depth"):
        has_batchnorm("small_cnn", depth=3)


@pytest.mark.parametrize("name, options, in_shape", [
    ("mlp", {"hidden": (16, 16)}, (1, 28, 28)),
    ("small_cnn", {"channels": (4, 8)}, (1, 28, 28)),
    ("resnet20", {"width": 0.25, "batch_norm": False}, (3, 16, 16)),  # option-A shortcuts under vmap
    ("vgg11", {"width": 0.0625, "batch_norm": False}, (3, 32, 32)),
])
def test_functional_call_vmap_over_stacked_copies(name, options, in_shape):
    copies = [build(name, in_shape=in_shape, seed=s, **options) for s in range(3)]
    params, buffers = stack_module_state(copies)
    base = build(name, in_shape=in_shape, seed=0, **options).to("meta")
    x = torch.randn(4, *in_shape, generator=torch.Generator().manual_seed(0))

    def f(p, b, x):
        return functional_call(base, (p, b), (x,))

    out = vmap(f, in_dims=(0, 0, None))(params, buffers, x)
    assert out.shape == (3, 4, 10)
    for i, model in enumerate(copies):
        torch.testing.assert_close(out[i], model(x), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(out[0], out[1])
    xs = torch.randn(3, 4, *in_shape)  # a different batch per copy
    out = vmap(f)(params, buffers, xs)
    for i, model in enumerate(copies):
        torch.testing.assert_close(out[i], model(xs[i]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("call, needle", [
    (lambda: build("resnet18", seed=0), "'resnet18'"),
    (lambda: build("vgg11", seed=0, depth=3), "depth"),
    (lambda: build("mlp", seed=0, width=2.0), "width"),
    (lambda: build("vgg11", seed=0, width=-1), "-1"),
    (lambda: build("vgg11", seed=0, batch_norm="yes"), "'yes'"),
    (lambda: build("resnet20", seed=0, shortcut="C"), "'C'"),
    (lambda: build("small_cnn", seed=0, channels=(4, 0)), "(4, 0)"),
    (lambda: build("mlp", seed=0, hidden=(16, -2)), "(16, -2)"),
    (lambda: build("vgg11", seed=0, in_shape=(1, 28, 28)), "(1, 28, 28)"),
    (lambda: build("small_cnn", seed=0, n_classes=0), "n_classes=0"),
    (lambda: describe_model("lenet"), "'lenet'"),
])
def test_errors_are_one_line_and_name_the_value(call, needle):
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and needle in message
    if "unknown" in message:
        assert "allowed" in message or "choose one of" in message


def test_error_lists_what_is_allowed():
    with pytest.raises(ValueError, match=r"choose one of mlp, vgg11, resnet20, resnet32, resnet56, small_cnn"):
        build("resnet18", seed=0)
    with pytest.raises(ValueError, match=r"allowed: width, batch_norm$"):
        build("vgg11", seed=0, hidden=(3,))


def test_describe_model():
    assert describe_model("mlp") == "ReLU MLP 784-50×20-10 (20 hidden layers; 88,210 params)"
    assert describe_model("mlp", hidden=(256, 256)).startswith("ReLU MLP 784-256-256-10 ")
    assert describe_model("resnet56") == "ResNet-56 (CIFAR, shortcut A, BN; 0.85M params)"
    assert describe_model("resnet20", shortcut="B") == "ResNet-20 (CIFAR, shortcut B, BN; 0.27M params)"
    assert describe_model("vgg11") == "VGG-11 (CIFAR, linear head, BN; 9.23M params)"
    assert "width ×0.25" in describe_model("vgg11", width=0.25, batch_norm=False)
    assert "no BN" in describe_model("vgg11", width=0.25, batch_norm=False)
    count = n_parameters(build("small_cnn", seed=0))
    assert describe_model("small_cnn") == f"small CNN (convs 32-64, no BN; {count:,} params)"
