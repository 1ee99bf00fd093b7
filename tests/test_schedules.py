"""Per-epoch schedules: values, validation, JSON form, and the Fig. 4 CLR/CBS pair at equal η/S."""
import dataclasses
import json

import pytest

from replication import schedules as sch
from replication.config import ConfigError
from replication.train import TrainConfig


def test_values_of_each_kind():
    assert sch.constant().series(3) == [1.0, 1.0, 1.0] and sch.constant(0.5).at(7) == 0.5
    s = sch.step((2, 4), 0.1)
    assert s.series(6) == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])
    t = sch.triangular(0.2, 1.0, 4)  # Smith (2017): low at 0, high at step_size, low at 2*step_size
    assert t.series(9) == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 0.8, 0.6, 0.4, 0.2])
    assert t.at(12) == pytest.approx(1.0) and t.at(16) == pytest.approx(0.2)
    assert sch.table([1, 2, 3]).series(7) == [1, 2, 3, 1, 2, 3, 1]
    assert sch.table([1, 2, 3], cycle=False).series(5) == [1, 2, 3, 3, 3]


@pytest.mark.parametrize("make, message", [
    (lambda: sch.step((4, 2), 0.1), r"^milestones=\(4, 2\): strictly increasing"),
    (lambda: sch.step((2,), -1.0), r"^factor=-1.0: "),
    (lambda: sch.triangular(1.0, 0.5, 2), r"^high=0.5: a finite number >= low=1.0$"),
    (lambda: sch.triangular(0.1, 1.0, 0), r"^step_size=0: "),
    (lambda: sch.table([]), r"^values=\(\): "),
    (lambda: sch.constant(0), r"^value=0: "),
    (lambda: sch.constant().at(-1), r"^epoch=-1: "),
    (lambda: sch.from_dict({"kind": "cosine"}), r"^kind='cosine': one of constant, step, triangular, table$"),
    (lambda: sch.from_dict({"kind": "step", "gamma": 0.1}), r"^step schedule field='gamma': one of "),
])
def test_bad_values_fail_with_one_line_naming_them(make, message):
    with pytest.raises(ValueError, match=message) as info:
        make()
    assert isinstance(info.value, ConfigError) and "\n" not in str(info.value)


def test_frozen_hashable_and_json_round_trip():
    for s in (sch.constant(), sch.step([3, 6], 0.5), sch.triangular(0.1, 1, 3), sch.table([1, 0.5], cycle=False)):
        d = json.loads(json.dumps(s.to_dict()))
        assert sch.from_dict(d) == s and hash(sch.from_dict(d)) == hash(s)
        assert sch.parse(d) == s and sch.parse(s) is s
        with pytest.raises(dataclasses.FrozenInstanceError):
            s.kind_ = 1  # noqa: B010 - frozen
    assert sch.parse(2) == sch.constant(2.0) and sch.parse("constant") == sch.constant()


def test_clr_cbs_pair_has_equal_eta_over_S_at_every_epoch():
    base = TrainConfig(dataset="cifar10", n_train=45_000, model="vgg11", epochs=40)
    clr, cbs = sch.clr_cbs_pair(0.001, 0.005, 128, 640, step_size=4)
    a, b = dataclasses.replace(base, **clr), dataclasses.replace(base, **cbs)
    lrs, sizes = [a.lr_at(e) for e in range(40)], [b.batch_size_at(e) for e in range(40)]
    for e in range(40):
        assert a.ratio_at(e) == pytest.approx(b.ratio_at(e), rel=1e-12)
        assert a.batch_size_at(e) == 128 and b.lr_at(e) == 0.005        # CLR: fixed S; CBS: fixed eta
    assert min(lrs) == pytest.approx(0.001) and max(lrs) == pytest.approx(0.005)
    assert min(sizes) == 128 and max(sizes) == 640 and all(isinstance(s, int) for s in sizes)
    assert sizes[:9] == [640, 320, 213, 160, 128, 160, 213, 320, 640]     # low noise at epoch 0, period 8
    tri = sch.triangular(0.001, 0.005, 4)
    assert all(abs(lrs[e] - tri.at(e)) <= tri.at(e) / 256 for e in range(40))  # CLR within rounding of S
    assert a.key != b.key and TrainConfig(**a.to_dict()) == a                  # JSON-able run configs
    with pytest.raises(ConfigError, match=r"^bs_high=600: bs_low \* lr_high / lr_low = 640"):
        sch.clr_cbs_pair(0.001, 0.005, 128, 600, step_size=4)
