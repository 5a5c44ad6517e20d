"""The pretrained table (keras_resnet.pretrained) against timm's own pretrained
configs, recorded with timm installed by
`scripts/make_torch_goldens.py --pretrained-cfgs --results-csv PATH` in
tests/goldens/timm_pretrained_cfgs.json, and its generated data module
(keras_resnet/pretrained_timm.py, written by scripts/make_timm_table.py) against
that recording. Pure data: no model is built."""

import dataclasses
import importlib.util
import json
import os
import types

import pytest

from keras_resnet import pretrained_timm
from keras_resnet.pretrained import PRETRAINED, list_pretrained, timm_variant
from keras_resnet.registry import REGISTRY, list_models
from keras_resnet.report import checkpoints_summary, license_counts

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFGS_PATH = os.path.join(ROOT, "tests", "goldens", "timm_pretrained_cfgs.json")
REGENERATE = ("rerun `python scripts/make_torch_goldens.py --pretrained-cfgs --results-csv PATH` "
              "and `python scripts/make_timm_table.py` (see their docstrings)")

# ImageNet-1k checkpoints timm hosts for a registered model name that the table
# deliberately leaves out, "model.tag" -> why. Empty with timm 1.0.31: every
# `*_in1k` tag of our names has the architecture of our model of that name.
# timm's resnet200 has no weights (only "untrained", no hf_hub_id).
EXCLUDED = {}

KERAS_APPLICATIONS = {"resnet50.imagenet", "resnet101.imagenet", "resnet152.imagenet",
                      "resnet50v2.imagenet", "resnet101v2.imagenet", "resnet152v2.imagenet"}

TIMM_ROWS = [row for row in PRETRAINED if row.source == "timm"]

# Every tag of timm 1.0.31's two modules, by classifier width: ImageNet-1k, the
# in12k and in21k heads, and the headless resnet50.bamboo.
TAG_COUNTS = {"resnet": 150, "resnetv2": 24}
CLASS_COUNTS = {1000: 162, 11821: 5, 21843: 6, 0: 1}


@pytest.fixture(scope="module")
def recorded():
    with open(CFGS_PATH) as f:
        return json.load(f)


def _family(recorded):
    return [name for tags in recorded["modules"].values() for name in tags]


def _data_rows():
    """Every row of the generated data module, registered or not, with the fields of
    `Pretrained` that come from timm."""
    for model, tags in pretrained_timm.TAGS.items():
        for tag, classes, train, size, crop, interp, (mean, std), lic, top1, top5 in tags:
            name = f"{model}.{tag}"
            yield types.SimpleNamespace(
                name=name, model=model, tag=tag, num_classes=classes, train_size=train,
                eval_size=size, crop_pct=crop, interpolation=interp, mean=mean, std=std,
                license=lic, top1=top1, top5=top5,
                hub_repo=pretrained_timm.HUB_REPOS.get(name, f"timm/{name}"),
                filename=pretrained_timm.HUB_FILENAMES.get(name, "model.safetensors"))


def _mismatches(row, cfg, published):
    """(field, table value, timm value) for each field of `row` that differs from timm's
    cfg and its published accuracy (None where timm publishes none)."""
    eval_size = (cfg["test_input_size"] or cfg["input_size"])[1]
    crop_pct = cfg["test_crop_pct"] if cfg["test_crop_pct"] is not None else cfg["crop_pct"]
    top1, top5 = (published["top1"], published["top5"]) if published else (None, None)
    pairs = [("hub_repo", row.hub_repo, cfg["hf_hub_id"]),
             ("filename", row.filename, cfg["hf_hub_filename"] or "model.safetensors"),
             ("train_size", row.train_size, cfg["input_size"][1]),
             ("eval_size", row.eval_size, eval_size),
             ("crop_pct", row.crop_pct, pytest.approx(crop_pct)),
             ("interpolation", row.interpolation, cfg["interpolation"]),
             ("mean", row.mean, pytest.approx(tuple(cfg["mean"]))),
             ("std", row.std, pytest.approx(tuple(cfg["std"]))),
             ("num_classes", row.num_classes, cfg["num_classes"]),
             ("license", row.license, cfg["license"]),
             ("top1", row.top1, top1),
             ("top5", row.top5, top5)]
    return [(field, ours, theirs) for field, ours, theirs in pairs if ours != theirs]


def test_recording_covers_the_table(recorded):
    assert recorded["timm_version"]
    missing = sorted({row.name for row in TIMM_ROWS} - set(recorded["cfgs"]))
    assert not missing, f"timm rows without a recorded cfg: {missing}; {REGENERATE}"
    # Every registered name was looked up in timm: found, or known to be absent (the
    # recording also covers the family's architectures not registered yet).
    assert set(recorded["in1k_tags"]) | set(recorded["registered_not_in_timm"]) \
        >= set(list_models()), REGENERATE
    assert set(recorded["arch_tags"]) <= set(recorded["in1k_tags"])


def test_timm_rows_match_timm_cfgs(recorded):
    unknown = [row.name for row in TIMM_ROWS if not recorded["cfgs"][row.name]["known"]]
    assert not unknown, f"timm {recorded['timm_version']} has no pretrained cfg for {unknown}"
    problems = [f"{row.name}.{field}: table {ours!r}, timm {theirs!r}"
                for row in TIMM_ROWS
                for field, ours, theirs in _mismatches(row, recorded["cfgs"][row.name],
                                                       recorded["published"].get(row.name))]
    assert not problems, "\n".join(problems)
    for row in TIMM_ROWS:  # the registered model's convention, in timm's layout
        assert (row.variant, row.preprocessing) == (timm_variant(row.model), "mean_std")
        assert row.variant == REGISTRY[row.model].variant or \
            (REGISTRY[row.model].variant, row.variant) == ("v1", "v1.5"), row.name


def test_every_tag_row_matches_timm(recorded):
    """All 174 rows of the data module, registered architecture or not."""
    problems = [f"{row.name}.{field}: data {ours!r}, timm {theirs!r}"
                for row in _data_rows()
                for field, ours, theirs in _mismatches(row, recorded["cfgs"][row.name],
                                                       recorded["published"].get(row.name))]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("field,wrong", [
    ("hub_repo", "timm/resnet50.a2_in1k"), ("filename", "pytorch_model.bin"),
    ("train_size", 288), ("eval_size", 224), ("crop_pct", 0.875),
    ("interpolation", "bilinear"), ("mean", (0.5, 0.5, 0.5)), ("std", (0.5, 0.5, 0.5)),
    ("num_classes", 21843), ("license", "cc-by-nc-4.0"), ("top1", 80.0), ("top5", None)])
def test_a_wrong_field_is_caught(recorded, field, wrong):
    row = next(r for r in TIMM_ROWS if r.name == "resnet50.a1_in1k")
    name = row.name
    assert not _mismatches(row, recorded["cfgs"][name], recorded["published"][name])
    bad = dataclasses.replace(row, **{field: wrong})
    assert [f for f, *_ in _mismatches(bad, recorded["cfgs"][name],
                                       recorded["published"][name])] == [field]


def test_the_data_module_is_what_the_generator_writes(recorded):
    spec = importlib.util.spec_from_file_location(
        "make_timm_table", os.path.join(ROOT, "scripts", "make_timm_table.py"))
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    with open(pretrained_timm.__file__) as f:
        assert f.read() == script.render(recorded), f"keras_resnet/pretrained_timm.py is " \
                                                    f"stale: {REGENERATE}"
    assert pretrained_timm.TIMM_VERSION == recorded["timm_version"]


def test_the_data_module_holds_every_tag_of_the_two_modules(recorded):
    family = _family(recorded)
    assert {m: len(tags) for m, tags in recorded["modules"].items()} == TAG_COUNTS
    rows = list(_data_rows())
    assert sorted(row.name for row in rows) == sorted(family), REGENERATE
    counts = {}
    for row in rows:
        counts[row.num_classes] = counts.get(row.num_classes, 0) + 1
    assert counts == CLASS_COUNTS
    # Published accuracy exactly where the head is ImageNet-1k's.
    assert {row.name for row in rows if row.top1 is None} == \
        {row.name for row in rows if row.num_classes != 1000}
    # timm's default checkpoint of each architecture (its first tag) is an ImageNet-1k one,
    # so weights="timm" always names a 1000-class head.
    assert all(tags[0][1] == 1000 for tags in pretrained_timm.TAGS.values())


def test_every_tag_of_the_two_modules_is_listed(recorded):
    listed = {row.name for row in list_pretrained() if row.source == "timm"}
    missing = sorted(set(_family(recorded)) - listed)
    assert not missing, f"{len(missing)} tags of timm's resnet/resnetv2 modules are not " \
                        f"listed: {missing}"


def test_a_registered_model_has_every_tag_of_its_data():
    """Only whole architectures are left out (their model not yet registered)."""
    for model, tags in pretrained_timm.TAGS.items():
        if model in REGISTRY:
            assert [row.tag for row in list_pretrained(model) if row.source == "timm"] == \
                [t[0] for t in tags], model


def test_timm_rows_are_tags_of_the_two_modules(recorded):
    family = set(_family(recorded))
    for row in TIMM_ROWS:
        assert row.name in family, row.name
        assert row.tag in recorded["in1k_tags"].get(row.model, []) + \
            recorded["other_tags"].get(row.model, []), row.name


def test_every_timm_in1k_tag_is_in_the_table_or_excluded(recorded):
    timm_tags = {f"{model}.{tag}" for model, tags in recorded["in1k_tags"].items()
                 if model in REGISTRY for tag in tags}
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


def test_readme_states_how_many_checkpoints_and_their_licenses():
    """README's figures are the whole table's: every tag of the data module (registered
    architecture or not, so they hold once the family is merged) and keras.applications'."""
    rows = [r for r in PRETRAINED if r.source == "keras.applications"] + list(_data_rows())
    counts = license_counts(rows)
    assert sum(counts.values()) == len(rows) == 6 + sum(TAG_COUNTS.values())
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = " ".join(f.read().split())
    assert f"loads {len(rows)} pretrained checkpoints" in readme
    assert f"all {sum(TAG_COUNTS.values())} of timm's" in readme
    licenses = ", ".join(f"{n} {lic}" + (" (non-commercial use only)" if lic == "cc-by-nc-4.0"
                                         else "") for lic, n in counts.items())
    assert licenses + "." in readme, licenses
    assert checkpoints_summary(rows).endswith(
        "; licenses: 141 apache-2.0, 17 bsd-3-clause, 15 cc-by-nc-4.0, 3 MIT, 4 not stated.")
    assert "(1 with no classifier, 5 with a 11821-class head, 6 with a 21843-class head)" \
        in checkpoints_summary(rows)
