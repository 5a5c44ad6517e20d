"""The pretrained table (keras_resnet.pretrained) against timm's own pretrained
configs, recorded with timm installed by
`scripts/make_torch_goldens.py --pretrained-cfgs` in
tests/goldens/timm_pretrained_cfgs.json. Pure data: no model is built."""

import json
import os

import pytest

from keras_resnet.pretrained import PRETRAINED
from keras_resnet.registry import list_models

CFGS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "goldens",
                         "timm_pretrained_cfgs.json")
REGENERATE = "rerun `python scripts/make_torch_goldens.py --pretrained-cfgs` (see its docstring)"

# ImageNet-1k checkpoints timm hosts for a registered model name that the table
# deliberately leaves out, "model.tag" -> why. Empty with timm 1.0.31: every
# `*_in1k` tag of our names has the architecture of our model of that name.
# Not listed here because the recorder never counts them as ImageNet-1k tags:
# timm's resnet200 has no weights (only "untrained", no hf_hub_id), and
# resnet50.bamboo is a headless (num_classes=0) pretraining checkpoint. timm's
# other ResNet architectures (resnet50c/s/t, resnet200d, seresnet50, ...) are
# not registered names, so they are not compared at all.
EXCLUDED = {}

KERAS_APPLICATIONS = {"resnet50.imagenet", "resnet101.imagenet", "resnet152.imagenet",
                      "resnet50v2.imagenet", "resnet101v2.imagenet", "resnet152v2.imagenet"}

TIMM_ROWS = [row for row in PRETRAINED if row.source == "timm"]


@pytest.fixture(scope="module")
def recorded():
    with open(CFGS_PATH) as f:
        return json.load(f)


def _mismatches(row, cfg):
    """(field, table value, timm value) for each field of `row` that differs."""
    eval_size = (cfg["test_input_size"] or cfg["input_size"])[1]
    crop_pct = cfg["test_crop_pct"] if cfg["test_crop_pct"] is not None else cfg["crop_pct"]
    pairs = [("hub_repo", row.hub_repo, cfg["hf_hub_id"]),
             ("train_size", row.train_size, cfg["input_size"][1]),
             ("eval_size", row.eval_size, eval_size),
             ("crop_pct", row.crop_pct, pytest.approx(crop_pct)),
             ("interpolation", row.interpolation, cfg["interpolation"]),
             ("mean", row.mean, pytest.approx(tuple(cfg["mean"]))),
             ("std", row.std, pytest.approx(tuple(cfg["std"]))),
             ("num_classes", row.num_classes, cfg["num_classes"]),
             ("license", row.license, cfg["license"])]
    return [(field, ours, theirs) for field, ours, theirs in pairs if ours != theirs]


def test_recording_covers_the_table(recorded):
    assert recorded["timm_version"]
    missing = sorted({row.name for row in TIMM_ROWS} - set(recorded["cfgs"]))
    assert not missing, f"timm rows without a recorded cfg: {missing}; {REGENERATE}"
    # Every registered name was looked up in timm: found, or known to be absent.
    assert set(recorded["in1k_tags"]) | set(recorded["registered_not_in_timm"]) \
        == set(list_models()), REGENERATE


def test_timm_rows_match_timm_cfgs(recorded):
    unknown = [row.name for row in TIMM_ROWS if not recorded["cfgs"][row.name]["known"]]
    assert not unknown, f"timm {recorded['timm_version']} has no pretrained cfg for {unknown}"
    problems = [f"{row.name}.{field}: table {ours!r}, timm {theirs!r}"
                for row in TIMM_ROWS
                for field, ours, theirs in _mismatches(row, recorded["cfgs"][row.name])]
    assert not problems, "\n".join(problems)


def test_timm_rows_are_timm_in1k_tags(recorded):
    for row in TIMM_ROWS:
        assert row.tag in recorded["in1k_tags"].get(row.model, []), row.name
        assert row.hub_repo == f"timm/{row.name}" and row.filename == "model.safetensors"
        assert (row.variant, row.preprocessing) == ("v1.5", "mean_std"), row.name


def test_every_timm_in1k_tag_is_in_the_table_or_excluded(recorded):
    timm_tags = {f"{model}.{tag}" for model, tags in recorded["in1k_tags"].items()
                 for tag in tags}
    ours = {row.name for row in TIMM_ROWS}
    missing = sorted(timm_tags - ours - set(EXCLUDED))
    assert not missing, f"timm {recorded['timm_version']} ImageNet-1k tags the table misses " \
                        f"(add rows, or exclude them in EXCLUDED with the reason): {missing}"
    assert not set(EXCLUDED) & ours, "excluded tags that are in the table"
    assert set(EXCLUDED) <= timm_tags, "excluded tags timm no longer has"
    assert recorded["in1k_tags"]["resnet200"] == []  # timm's resnet200 has no weights


def test_names_are_unique():
    names = [row.name for row in PRETRAINED]
    assert len(names) == len(set(names))


def test_keras_applications_rows():
    rows = [row for row in PRETRAINED if row.source == "keras.applications"]
    assert {row.name for row in rows} == KERAS_APPLICATIONS
    assert len(rows) == len(KERAS_APPLICATIONS)
    for row in rows:
        assert row.num_classes == 1000 and row.eval_size == 224 and row.hub_repo is None
        v2 = row.model.endswith("v2")
        assert (row.variant, row.preprocessing) == (("v2", "tf") if v2 else ("v1", "caffe"))
    assert {row.source for row in PRETRAINED} == {"timm", "keras.applications"}
