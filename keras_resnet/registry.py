"""The model registry: one row per named model, the single place a model is added.

Each row (`register(...)`) holds the model's architecture, its default
convention, the public builder it gets (`keras_resnet.ResNet50`, ...) and its
metadata: `params`, `trainable_params` and `macs` recorded at its default input
size and variant (as torchvision records `_meta`; the test suite rebuilds every
model and checks them, so they cannot drift), and `reference`, the published
figures it is compared against. The public builders, their docstrings, the
`keras-resnet list` table and the tests' per-model expectations all derive from
these rows. The builders themselves are in `keras_resnet.builders`.

This module imports no framework: listing models and their metadata is instant.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Dict, List, Mapping, Optional

from keras_resnet.specs import STEMS, ArchSpec, cifar_arch, get_variant


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """Metadata of one registered model (at its default size and variant).

    Attributes:
        name: Registry name, e.g. "resnet50".
        builder_name: Name of its public builder, e.g. "ResNet50".
        spec: Its architecture (`keras_resnet.specs.ArchSpec`).
        variant: Default convention ("v1", "v1.5", "v2", "v2.timm").
        description: What the builder's docstring says the model is, e.g.
            "pre-activation" (may be empty).
        params: `model.count_params()`, BN moving statistics included.
        trainable_params: Trainable parameters only (torchvision's figure).
        macs: Multiply-accumulates for one image at `input_shape`.
        reference: Published figures: "paper_gmacs" (the paper's Table 1),
            "keras_applications_params" (count_params), "torchvision_params"
            and "timm_params" (trainable, the same architecture with
            variant="v1.5"), "paper_params" (section 4.2), "paper_cifar10_error"
            (%, section 4.2).
    """

    name: str
    builder_name: str
    spec: ArchSpec
    variant: str
    description: str
    params: int
    trainable_params: int
    macs: int
    reference: Mapping[str, float]

    @property
    def arch(self) -> str:
        """Architecture name (the spec's), which keys its weight files."""
        return self.spec.name

    @property
    def input_shape(self) -> tuple:
        """Default input shape (channels last)."""
        return self.spec.default_input_shape

    @property
    def num_classes(self) -> int:
        """Default number of classes."""
        return self.spec.default_num_classes


REGISTRY: Dict[str, ModelInfo] = {}


def register(*, name: str, builder_name: str, spec: ArchSpec, params: int,
             trainable_params: int, macs: int, reference: Mapping[str, float],
             variant: Optional[str] = None, description: str = "") -> ModelInfo:
    """Add one model to the registry; a name or builder used twice raises."""
    variant = spec.default_variant if variant is None else variant
    get_variant(variant)
    taken = {info.builder_name: info.name for info in REGISTRY.values()}
    if name in REGISTRY or builder_name in taken:
        raise ValueError(f"Model {name!r} (builder {builder_name}) is already registered.")
    same_arch = [i.spec for i in REGISTRY.values() if i.spec.name == spec.name]
    if same_arch and same_arch[0] != spec:
        raise ValueError(f"Architecture {spec.name!r} is already registered with another spec.")
    info = ModelInfo(name=name, builder_name=builder_name, spec=spec, variant=variant,
                     description=description, params=params,
                     trainable_params=trainable_params, macs=macs,
                     reference=types.MappingProxyType(dict(reference)))
    REGISTRY[name] = info
    return info


# --- the rows: the paper's ImageNet nets (Table 1), by depth -------------------

_resnet50 = ArchSpec("resnet50", "bottleneck", (3, 4, 6, 3))
_resnet101 = ArchSpec("resnet101", "bottleneck", (3, 4, 23, 3))
_resnet152 = ArchSpec("resnet152", "bottleneck", (3, 8, 36, 3))

register(name="resnet18", builder_name="ResNet18",
         spec=ArchSpec("resnet18", "basic", (2, 2, 2, 2)),
         params=11_703_912, trainable_params=11_694_312, macs=1_814_073_344,
         reference=dict(paper_gmacs=1.8, torchvision_params=11_689_512))
register(name="resnet34", builder_name="ResNet34",
         spec=ArchSpec("resnet34", "basic", (3, 4, 6, 3)),
         params=21_823_208, trainable_params=21_806_184, macs=3_663_761_408,
         reference=dict(paper_gmacs=3.6, torchvision_params=21_797_672))
register(name="resnet50", builder_name="ResNet50", spec=_resnet50,
         params=25_636_712, trainable_params=25_583_592, macs=3_857_973_248,
         reference=dict(paper_gmacs=3.8, keras_applications_params=25_636_712,
                        torchvision_params=25_557_032))
register(name="resnet101", builder_name="ResNet101", spec=_resnet101,
         params=44_707_176, trainable_params=44_601_832, macs=7_570_194_432,
         reference=dict(paper_gmacs=7.6, keras_applications_params=44_707_176,
                        torchvision_params=44_549_160))
register(name="resnet152", builder_name="ResNet152", spec=_resnet152,
         params=60_419_944, trainable_params=60_268_520, macs=11_282_415_616,
         reference=dict(paper_gmacs=11.3, keras_applications_params=60_419_944,
                        torchvision_params=60_192_808))
register(name="resnet200", builder_name="ResNet200",
         spec=ArchSpec("resnet200", "bottleneck", (3, 24, 36, 3)),
         params=64_937_832, trainable_params=64_761_832, macs=14_776_270_848,
         reference=dict(timm_params=64_673_832))

# --- the family: ResNet-D (Bag of Tricks, as in timm), ResNeXt, Wide ResNet ------

register(name="resnet50d", builder_name="ResNet50D", description="ResNet-D, Bag of Tricks",
         spec=ArchSpec("resnet50d", "bottleneck", (3, 4, 6, 3), stem=STEMS["deep"],
                       avg_down=True, default_variant="v1.5"),
         params=25_629_512, trainable_params=25_576_264, macs=4_328_824_832,
         reference=dict(timm_params=25_576_264))
register(name="resnet101d", builder_name="ResNet101D", description="ResNet-D, Bag of Tricks",
         spec=ArchSpec("resnet101d", "bottleneck", (3, 4, 23, 3), stem=STEMS["deep"],
                       avg_down=True, default_variant="v1.5"),
         params=44_673_864, trainable_params=44_568_392, macs=8_041_046_016,
         reference=dict(timm_params=44_568_392))
register(name="resnext50_32x4d", builder_name="ResNeXt50_32x4d",
         spec=ArchSpec("resnext50_32x4d", "bottleneck", (3, 4, 6, 3), groups=32,
                       width_per_group=4, default_variant="v1.5"),
         params=25_097_128, trainable_params=25_028_904, macs=4_230_479_872,
         reference=dict(torchvision_params=25_028_904))
register(name="resnext101_32x8d", builder_name="ResNeXt101_32x8d",
         spec=ArchSpec("resnext101_32x8d", "bottleneck", (3, 4, 23, 3), groups=32,
                       width_per_group=8, default_variant="v1.5"),
         params=88_994_216, trainable_params=88_791_336, macs=16_414_015_488,
         reference=dict(torchvision_params=88_791_336))
register(name="wide_resnet50_2", builder_name="WideResNet50_2",
         spec=ArchSpec("wide_resnet50_2", "bottleneck", (3, 4, 6, 3), width_per_group=128,
                       default_variant="v1.5"),
         params=68_951_464, trainable_params=68_883_240, macs=11_398_021_120,
         reference=dict(torchvision_params=68_883_240))
register(name="wide_resnet101_2", builder_name="WideResNet101_2",
         spec=ArchSpec("wide_resnet101_2", "bottleneck", (3, 4, 23, 3), width_per_group=128,
                       default_variant="v1.5"),
         params=127_024_552, trainable_params=126_886_696, macs=22_753_050_624,
         reference=dict(torchvision_params=126_886_696))

# --- timm's ResNet family (timm's resnet.py): deep and tiered stems, ResNeXt, ---------
# channel attention (SE, ECA), anti-aliasing, SENet-154, ResNet-RS, pruned nets

# timm's ecaresnet{50,101}d_pruned (timm/models/_pruned/*.txt): the widths of each
# block's three convs, blocks separated by spaces.
_ECARESNET50D_PRUNED = (
    "47,18,19 52,22,19 64,35,19 85,37,171 107,80,171 120,85,171 125,87,171 198,126,818 "
    "255,232,818 256,233,818 253,235,818 256,225,818 256,239,818 492,237,2022 512,500,2022 "
    "512,490,2022")
_ECARESNET101D_PRUNED = (
    "45,25,26 53,20,26 60,27,26 81,24,142 93,49,142 102,54,142 122,78,142 101,25,278 "
    "239,160,278 234,156,278 250,176,278 253,191,278 251,175,278 230,128,278 244,154,278 "
    "244,159,278 238,97,278 244,149,278 253,181,278 245,119,278 255,216,278 256,201,278 "
    "253,149,278 254,141,278 256,190,278 256,217,278 255,156,278 256,155,278 256,232,278 "
    "256,214,278 499,289,2042 512,512,2042 512,502,2042")


def _widths(text: str) -> tuple:
    return tuple(tuple(int(w) for w in block.split(",")) for block in text.split())


register(name="resnet10t", builder_name="ResNet10T",
         description="tiered stem, ResNet-D shortcuts",
         spec=ArchSpec("resnet10t", "basic", (1, 1, 1, 1), stem=STEMS["tiered"], avg_down=True,
                       input_size=176, default_variant="v1.5"),
         params=5_441_360, trainable_params=5_435_488, macs=698_688_000,
         reference=dict(timm_params=5_435_488))
register(name="resnet14t", builder_name="ResNet14T",
         description="tiered stem, ResNet-D shortcuts",
         spec=ArchSpec("resnet14t", "bottleneck", (1, 1, 1, 1), stem=STEMS["tiered"],
                       avg_down=True, input_size=176, default_variant="v1.5"),
         params=10_101_072, trainable_params=10_081_632, macs=1_067_618_816,
         reference=dict(timm_params=10_081_632))
register(name="resnet18d", builder_name="ResNet18D",
         description="ResNet-D, Bag of Tricks",
         spec=ArchSpec("resnet18d", "basic", (2, 2, 2, 2), stem=STEMS["deep"], avg_down=True,
                       default_variant="v1.5"),
         params=11_718_472, trainable_params=11_708_744, macs=2_053_713_920,
         reference=dict(timm_params=11_708_744))
register(name="resnet26", builder_name="ResNet26",
         spec=ArchSpec("resnet26", "bottleneck", (2, 2, 2, 2), default_variant="v1.5"),
         params=16_026_024, trainable_params=15_995_176, macs=2_342_256_640,
         reference=dict(timm_params=15_995_176))
register(name="resnet26d", builder_name="ResNet26D",
         description="ResNet-D, Bag of Tricks",
         spec=ArchSpec("resnet26d", "bottleneck", (2, 2, 2, 2), stem=STEMS["deep"], avg_down=True,
                       default_variant="v1.5"),
         params=16_045_384, trainable_params=16_014_408, macs=2_581_897_216,
         reference=dict(timm_params=16_014_408))
register(name="resnet26t", builder_name="ResNet26T",
         description="tiered stem, ResNet-D shortcuts",
         spec=ArchSpec("resnet26t", "bottleneck", (2, 2, 2, 2), stem=STEMS["tiered"],
                       avg_down=True, input_size=256, default_variant="v1.5"),
         params=16_042_832, trainable_params=16_011_872, macs=3_330_359_296,
         reference=dict(timm_params=16_011_872))
register(name="resnet34d", builder_name="ResNet34D",
         description="ResNet-D, Bag of Tricks",
         spec=ArchSpec("resnet34d", "basic", (3, 4, 6, 3), stem=STEMS["deep"], avg_down=True,
                       default_variant="v1.5"),
         params=21_834_056, trainable_params=21_816_904, macs=3_903_401_984,
         reference=dict(timm_params=21_816_904))
register(name="resnet50c", builder_name="ResNet50C",
         description="ResNet-C deep stem",
         spec=ArchSpec("resnet50c", "bottleneck", (3, 4, 6, 3), stem=STEMS["deep"],
                       default_variant="v1.5"),
         params=25_629_512, trainable_params=25_576_264, macs=4_328_824_832,
         reference=dict(timm_params=25_576_264))
register(name="resnet50s", builder_name="ResNet50S",
         description="ResNet-S deep stem",
         spec=ArchSpec("resnet50s", "bottleneck", (3, 4, 6, 3), stem=STEMS["deep"], stem_width=128,
                       default_variant="v1.5"),
         params=25_734_312, trainable_params=25_680_808, macs=5_444_337_664,
         reference=dict(timm_params=25_680_808))
register(name="resnet101c", builder_name="ResNet101C",
         description="ResNet-C deep stem",
         spec=ArchSpec("resnet101c", "bottleneck", (3, 4, 23, 3), stem=STEMS["deep"],
                       default_variant="v1.5"),
         params=44_673_864, trainable_params=44_568_392, macs=8_041_046_016,
         reference=dict(timm_params=44_568_392))
register(name="resnet101s", builder_name="ResNet101S",
         description="ResNet-S deep stem",
         spec=ArchSpec("resnet101s", "bottleneck", (3, 4, 23, 3), stem=STEMS["deep"],
                       stem_width=128, default_variant="v1.5"),
         params=44_778_664, trainable_params=44_672_936, macs=9_156_558_848,
         reference=dict(timm_params=44_672_936))
register(name="resnet152c", builder_name="ResNet152C",
         description="ResNet-C deep stem",
         spec=ArchSpec("resnet152c", "bottleneck", (3, 8, 36, 3), stem=STEMS["deep"],
                       default_variant="v1.5"),
         params=60_363_592, trainable_params=60_212_040, macs=11_753_267_200,
         reference=dict(timm_params=60_212_040))
register(name="resnet152d", builder_name="ResNet152D",
         description="ResNet-D, Bag of Tricks",
         spec=ArchSpec("resnet152d", "bottleneck", (3, 8, 36, 3), stem=STEMS["deep"],
                       avg_down=True, input_size=256, default_variant="v1.5"),
         params=60_363_592, trainable_params=60_212_040, macs=15_350_579_200,
         reference=dict(timm_params=60_212_040))
register(name="resnet152s", builder_name="ResNet152S",
         description="ResNet-S deep stem",
         spec=ArchSpec("resnet152s", "bottleneck", (3, 8, 36, 3), stem=STEMS["deep"],
                       stem_width=128, default_variant="v1.5"),
         params=60_468_392, trainable_params=60_316_584, macs=12_868_780_032,
         reference=dict(timm_params=60_316_584))
register(name="resnet200d", builder_name="ResNet200D",
         description="ResNet-D, Bag of Tricks",
         spec=ArchSpec("resnet200d", "bottleneck", (3, 24, 36, 3), stem=STEMS["deep"],
                       avg_down=True, input_size=256, default_variant="v1.5"),
         params=64_869_192, trainable_params=64_693_064, macs=19_913_981_952,
         reference=dict(timm_params=64_693_064))
register(name="resnext50d_32x4d", builder_name="ResNeXt50D_32x4d",
         description="ResNeXt-D",
         spec=ArchSpec("resnext50d_32x4d", "bottleneck", (3, 4, 6, 3), groups=32,
                       width_per_group=4, stem=STEMS["deep"], avg_down=True,
                       default_variant="v1.5"),
         params=25_116_488, trainable_params=25_048_136, macs=4_470_120_448,
         reference=dict(timm_params=25_048_136))
register(name="resnext101_32x4d", builder_name="ResNeXt101_32x4d",
         spec=ArchSpec("resnext101_32x4d", "bottleneck", (3, 4, 23, 3), groups=32,
                       width_per_group=4, default_variant="v1.5"),
         params=44_315_560, trainable_params=44_177_704, macs=7_969_996_800,
         reference=dict(timm_params=44_177_704))
register(name="resnext101_32x16d", builder_name="ResNeXt101_32x16d",
         spec=ArchSpec("resnext101_32x16d", "bottleneck", (3, 4, 23, 3), groups=32,
                       width_per_group=16, default_variant="v1.5"),
         params=194_359_720, trainable_params=194_026_792, macs=36_163_289_088,
         reference=dict(timm_params=194_026_792))
register(name="resnext101_32x32d", builder_name="ResNeXt101_32x32d",
         spec=ArchSpec("resnext101_32x32d", "bottleneck", (3, 4, 23, 3), groups=32,
                       width_per_group=32, default_variant="v1.5"),
         params=469_123_496, trainable_params=468_530_472, macs=87_106_781_184,
         reference=dict(timm_params=468_530_472))
register(name="resnext101_64x4d", builder_name="ResNeXt101_64x4d",
         spec=ArchSpec("resnext101_64x4d", "bottleneck", (3, 4, 23, 3), groups=64,
                       width_per_group=4, default_variant="v1.5"),
         params=83_658_152, trainable_params=83_455_272, macs=15_460_270_080,
         reference=dict(timm_params=83_455_272))
register(name="ecaresnet26t", builder_name="ECAResNet26T",
         description="ECA, tiered stem",
         spec=ArchSpec("ecaresnet26t", "bottleneck", (2, 2, 2, 2), stem=STEMS["tiered"],
                       avg_down=True, attention="eca", input_size=256, default_variant="v1.5"),
         params=16_042_876, trainable_params=16_011_916, macs=3_330_359_296,
         reference=dict(timm_params=16_011_916))
register(name="ecaresnet50d", builder_name="ECAResNet50D",
         description="ECA, ResNet-D",
         spec=ArchSpec("ecaresnet50d", "bottleneck", (3, 4, 6, 3), stem=STEMS["deep"],
                       avg_down=True, attention="eca", default_variant="v1.5"),
         params=25_629_598, trainable_params=25_576_350, macs=4_328_824_832,
         reference=dict(timm_params=25_576_350))
register(name="ecaresnet50d_pruned", builder_name="ECAResNet50D_Pruned",
         description="ECA, ResNet-D, pruned",
         spec=ArchSpec("ecaresnet50d_pruned", "bottleneck", (3, 4, 6, 3), stem=STEMS["deep"],
                       avg_down=True, attention="eca", block_widths=_widths(_ECARESNET50D_PRUNED),
                       default_variant="v1.5"),
         params=19_982_401, trainable_params=19_939_713, macs=2_519_803_406,
         reference=dict(timm_params=19_939_713))
register(name="ecaresnet50t", builder_name="ECAResNet50T",
         description="ECA, tiered stem",
         spec=ArchSpec("ecaresnet50t", "bottleneck", (3, 4, 6, 3), stem=STEMS["tiered"],
                       avg_down=True, attention="eca", default_variant="v1.5"),
         params=25_627_046, trainable_params=25_573_814, macs=4_297_213_952,
         reference=dict(timm_params=25_573_814))
register(name="ecaresnetlight", builder_name="ECAResNetLight",
         description="ECA, 7x7 stem, ResNet-D shortcuts",
         spec=ArchSpec("ecaresnetlight", "bottleneck", (1, 1, 11, 3), avg_down=True,
                       attention="eca", default_variant="v1.5"),
         params=30_224_382, trainable_params=30_162_046, macs=4_089_184_256,
         reference=dict(timm_params=30_162_046))
register(name="ecaresnet101d", builder_name="ECAResNet101D",
         description="ECA, ResNet-D",
         spec=ArchSpec("ecaresnet101d", "bottleneck", (3, 4, 23, 3), stem=STEMS["deep"],
                       avg_down=True, attention="eca", default_variant="v1.5"),
         params=44_674_035, trainable_params=44_568_563, macs=8_041_046_016,
         reference=dict(timm_params=44_568_563))
register(name="ecaresnet101d_pruned", builder_name="ECAResNet101D_Pruned",
         description="ECA, ResNet-D, pruned",
         spec=ArchSpec("ecaresnet101d_pruned", "bottleneck", (3, 4, 23, 3), stem=STEMS["deep"],
                       avg_down=True, attention="eca", block_widths=_widths(_ECARESNET101D_PRUNED),
                       default_variant="v1.5"),
         params=24_933_562, trainable_params=24_876_040, macs=3_460_944_405,
         reference=dict(timm_params=24_876_040))
register(name="ecaresnet269d", builder_name="ECAResNet269D",
         description="ECA, ResNet-D",
         spec=ArchSpec("ecaresnet269d", "bottleneck", (3, 30, 48, 8), stem=STEMS["deep"],
                       avg_down=True, attention="eca", input_size=320, default_variant="v1.5"),
         params=102_346_005, trainable_params=102_093_077, macs=41_364_275_200,
         reference=dict(timm_params=102_093_077))
register(name="seresnet50", builder_name="SEResNet50",
         description="squeeze-and-excitation",
         spec=ArchSpec("seresnet50", "bottleneck", (3, 4, 6, 3), attention="se",
                       default_variant="v1.5"),
         params=28_141_144, trainable_params=28_088_024, macs=4_091_699_200,
         reference=dict(timm_params=28_088_024))
register(name="seresnet152d", builder_name="SEResNet152D",
         description="squeeze-and-excitation, ResNet-D",
         spec=ArchSpec("seresnet152d", "bottleneck", (3, 8, 36, 3), stem=STEMS["deep"],
                       avg_down=True, attention="se", input_size=256, default_variant="v1.5"),
         params=66_992_632, trainable_params=66_841_080, macs=15_357_157_376,
         reference=dict(timm_params=66_841_080))
register(name="seresnext26d_32x4d", builder_name="SEResNeXt26D_32x4d",
         description="squeeze-and-excitation, ResNeXt-D",
         spec=ArchSpec("seresnext26d_32x4d", "bottleneck", (2, 2, 2, 2), groups=32,
                       width_per_group=4, stem=STEMS["deep"], avg_down=True, attention="se",
                       default_variant="v1.5"),
         params=16_848_168, trainable_params=16_809_512, macs=2_711_740_416,
         reference=dict(timm_params=16_809_512))
register(name="seresnext26t_32x4d", builder_name="SEResNeXt26T_32x4d",
         description="squeeze-and-excitation, ResNeXt-T",
         spec=ArchSpec("seresnext26t_32x4d", "bottleneck", (2, 2, 2, 2), groups=32,
                       width_per_group=4, stem=STEMS["tiered"], avg_down=True, attention="se",
                       default_variant="v1.5"),
         params=16_845_616, trainable_params=16_806_976, macs=2_680_129_536,
         reference=dict(timm_params=16_806_976))
register(name="seresnext50_32x4d", builder_name="SEResNeXt50_32x4d",
         description="squeeze-and-excitation, ResNeXt",
         spec=ArchSpec("seresnext50_32x4d", "bottleneck", (3, 4, 6, 3), groups=32,
                       width_per_group=4, attention="se", default_variant="v1.5"),
         params=27_628_120, trainable_params=27_559_896, macs=4_232_994_816,
         reference=dict(timm_params=27_559_896))
register(name="seresnext101_32x4d", builder_name="SEResNeXt101_32x4d",
         description="squeeze-and-excitation, ResNeXt",
         spec=ArchSpec("seresnext101_32x4d", "bottleneck", (3, 4, 23, 3), groups=32,
                       width_per_group=4, attention="se", default_variant="v1.5"),
         params=49_093_272, trainable_params=48_955_416, macs=7_974_739_968,
         reference=dict(timm_params=48_955_416))
register(name="seresnext101_32x8d", builder_name="SEResNeXt101_32x8d",
         description="squeeze-and-excitation, ResNeXt",
         spec=ArchSpec("seresnext101_32x8d", "bottleneck", (3, 4, 23, 3), groups=32,
                       width_per_group=8, attention="se", default_variant="v1.5"),
         params=93_771_928, trainable_params=93_569_048, macs=16_418_758_656,
         reference=dict(timm_params=93_569_048))
register(name="seresnext101d_32x8d", builder_name="SEResNeXt101D_32x8d",
         description="squeeze-and-excitation, ResNeXt-D",
         spec=ArchSpec("seresnext101d_32x8d", "bottleneck", (3, 4, 23, 3), groups=32,
                       width_per_group=8, stem=STEMS["deep"], avg_down=True, attention="se",
                       default_variant="v1.5"),
         params=93_791_288, trainable_params=93_588_280, macs=16_658_399_232,
         reference=dict(timm_params=93_588_280))
register(name="seresnext101_64x4d", builder_name="SEResNeXt101_64x4d",
         description="squeeze-and-excitation, ResNeXt",
         spec=ArchSpec("seresnext101_64x4d", "bottleneck", (3, 4, 23, 3), groups=64,
                       width_per_group=4, attention="se", default_variant="v1.5"),
         params=88_435_864, trainable_params=88_232_984, macs=15_465_013_248,
         reference=dict(timm_params=88_232_984))
register(name="seresnextaa101d_32x8d", builder_name="SEResNeXtAA101D_32x8d",
         description="squeeze-and-excitation, ResNeXt-D, anti-aliased",
         spec=ArchSpec("seresnextaa101d_32x8d", "bottleneck", (3, 4, 23, 3), groups=32,
                       width_per_group=8, stem=STEMS["deep"], avg_down=True, attention="se",
                       anti_alias="avg", default_variant="v1.5"),
         params=93_791_288, trainable_params=93_588_280, macs=17_178_624_000,
         reference=dict(timm_params=93_588_280))
register(name="seresnextaa201d_32x8d", builder_name="SEResNeXtAA201D_32x8d",
         description="squeeze-and-excitation, ResNeXt-D, anti-aliased",
         spec=ArchSpec("seresnextaa201d_32x8d", "bottleneck", (3, 24, 36, 4), groups=32,
                       width_per_group=8, stem=STEMS["deep"], stem_width=128, avg_down=True,
                       attention="se", anti_alias="avg", default_variant="v1.5"),
         params=149_751_768, trainable_params=149_394_904, macs=34_276_270_080,
         reference=dict(timm_params=149_394_904))
register(name="senet154", builder_name="SENet154",
         description="squeeze-and-excitation, SENet",
         spec=ArchSpec("senet154", "bottleneck", (3, 8, 36, 3), groups=64, width_per_group=4,
                       stem=STEMS["deep"], stem_width=128, attention="se", reduce_first=2,
                       down_kernel_size=3, default_variant="v1.5"),
         params=115_336_536, trainable_params=115_088_984, macs=20_688_363_520,
         reference=dict(timm_params=115_088_984))
register(name="resnetaa50", builder_name="ResNetAA50",
         description="anti-aliased (average pool)",
         spec=ArchSpec("resnetaa50", "bottleneck", (3, 4, 6, 3), anti_alias="avg",
                       default_variant="v1.5"),
         params=25_610_152, trainable_params=25_557_032, macs=5_129_633_792,
         reference=dict(timm_params=25_557_032))
register(name="resnetaa50d", builder_name="ResNetAA50D",
         description="anti-aliased (average pool), ResNet-D",
         spec=ArchSpec("resnetaa50d", "bottleneck", (3, 4, 6, 3), stem=STEMS["deep"],
                       avg_down=True, anti_alias="avg", default_variant="v1.5"),
         params=25_629_512, trainable_params=25_576_264, macs=5_369_274_368,
         reference=dict(timm_params=25_576_264))
register(name="resnetaa101d", builder_name="ResNetAA101D",
         description="anti-aliased (average pool), ResNet-D",
         spec=ArchSpec("resnetaa101d", "bottleneck", (3, 4, 23, 3), stem=STEMS["deep"],
                       avg_down=True, anti_alias="avg", default_variant="v1.5"),
         params=44_673_864, trainable_params=44_568_392, macs=9_081_495_552,
         reference=dict(timm_params=44_568_392))
register(name="resnetblur50", builder_name="ResNetBlur50",
         description="anti-aliased (blur pool)",
         spec=ArchSpec("resnetblur50", "bottleneck", (3, 4, 6, 3), anti_alias="blur",
                       default_variant="v1.5"),
         params=25_618_792, trainable_params=25_557_032, macs=5_129_633_792,
         reference=dict(timm_params=25_557_032))
register(name="resnetrs50", builder_name="ResNetRS50",
         description="ResNet-RS",
         spec=ArchSpec("resnetrs50", "bottleneck", (3, 4, 6, 3), stem=STEMS["deep"],
                       stem_pool="conv", avg_down=True, attention="se", se_ratio=0.25,
                       input_size=160, default_variant="v1.5"),
         params=35_745_288, trainable_params=35_691_912, macs=2_278_629_376,
         reference=dict(timm_params=35_691_912))
register(name="resnetrs101", builder_name="ResNetRS101",
         description="ResNet-RS",
         spec=ArchSpec("resnetrs101", "bottleneck", (3, 4, 23, 3), stem=STEMS["deep"],
                       stem_pool="conv", avg_down=True, attention="se", se_ratio=0.25,
                       input_size=192, default_variant="v1.5"),
         params=63_724_296, trainable_params=63_618_696, macs=6_012_157_952,
         reference=dict(timm_params=63_618_696))
register(name="resnetrs152", builder_name="ResNetRS152",
         description="ResNet-RS",
         spec=ArchSpec("resnetrs152", "bottleneck", (3, 8, 36, 3), stem=STEMS["deep"],
                       stem_pool="conv", avg_down=True, attention="se", se_ratio=0.25,
                       input_size=256, default_variant="v1.5"),
         params=86_773_256, trainable_params=86_621_576, macs=15_527_886_848,
         reference=dict(timm_params=86_621_576))
register(name="resnetrs200", builder_name="ResNetRS200",
         description="ResNet-RS",
         spec=ArchSpec("resnetrs200", "bottleneck", (3, 24, 36, 3), stem=STEMS["deep"],
                       stem_pool="conv", avg_down=True, attention="se", se_ratio=0.25,
                       input_size=256, default_variant="v1.5"),
         params=93_386_248, trainable_params=93_209_992, macs=20_093_386_752,
         reference=dict(timm_params=93_209_992))
register(name="resnetrs270", builder_name="ResNetRS270",
         description="ResNet-RS",
         spec=ArchSpec("resnetrs270", "bottleneck", (4, 29, 53, 4), stem=STEMS["deep"],
                       stem_pool="conv", avg_down=True, attention="se", se_ratio=0.25,
                       input_size=256, default_variant="v1.5"),
         params=130_104_520, trainable_params=129_861_448, macs=26_950_189_056,
         reference=dict(timm_params=129_861_448))
register(name="resnetrs350", builder_name="ResNetRS350",
         description="ResNet-RS",
         spec=ArchSpec("resnetrs350", "bottleneck", (4, 36, 72, 4), stem=STEMS["deep"],
                       stem_pool="conv", avg_down=True, attention="se", se_ratio=0.25,
                       input_size=288, default_variant="v1.5"),
         params=164_268_360, trainable_params=163_956_168, macs=43_493_793_792,
         reference=dict(timm_params=163_956_168))
register(name="resnetrs420", builder_name="ResNetRS420",
         description="ResNet-RS",
         spec=ArchSpec("resnetrs420", "bottleneck", (4, 44, 87, 4), stem=STEMS["deep"],
                       stem_pool="conv", avg_down=True, attention="se", se_ratio=0.25,
                       input_size=320, default_variant="v1.5"),
         params=192_262_216, trainable_params=191_891_656, macs=63_942_344_704,
         reference=dict(timm_params=191_891_656))
register(name="test_resnet", builder_name="TestResNet",
         description="timm's test net",
         spec=ArchSpec("test_resnet", "basic", (1, 1, 1, 1), stem=STEMS["deep"], avg_down=True,
                       widths=(32, 48, 48, 96), stem_width=32,
                       stage_block_types=("basic", "basic", "bottleneck", "basic"), input_size=160,
                       default_variant="v1.5"),
         params=471_768, trainable_params=469_688, macs=102_547_200,
         reference=dict(timm_params=469_688))

# --- pre-activation (He et al. 2016), keras.applications' ResNetV2 ------------

register(name="resnet50v2", builder_name="ResNet50V2", spec=_resnet50, variant="v2",
         description="pre-activation",
         params=25_613_800, trainable_params=25_568_360, macs=3_482_255_360,
         reference=dict(keras_applications_params=25_613_800))
register(name="resnet101v2", builder_name="ResNet101V2", spec=_resnet101, variant="v2",
         description="pre-activation",
         params=44_675_560, trainable_params=44_577_896, macs=7_194_476_544,
         reference=dict(keras_applications_params=44_675_560))
register(name="resnet152v2", builder_name="ResNet152V2", spec=_resnet152, variant="v2",
         description="pre-activation",
         params=60_380_648, trainable_params=60_236_904, macs=10_906_697_728,
         reference=dict(keras_applications_params=60_380_648))

# --- timm's resnetv2.py: pre-activation as timm builds it ("v2.timm"), BiT ----------


def _timm_v2(name: str, block_type: str, blocks: tuple, *, deep: bool = False,
             norm: str = "batch", width_factor: int = 0) -> ArchSpec:
    """A timm resnetv2 architecture: "d" is the deep stem with average-pool shortcuts;
    a `width_factor` makes it BiT (the "fixed" stem, GroupNorm, weight-standardised
    convs, every width times the factor)."""
    if width_factor:
        return ArchSpec(name, block_type, blocks,
                        tuple(64 * width_factor * 2 ** i for i in range(4)), STEMS["fixed"],
                        norm="group", conv="ws", default_variant="v2.timm")
    return ArchSpec(name, block_type, blocks, stem=STEMS["deep" if deep else "imagenet"],
                    avg_down=deep, norm=norm, default_variant="v2.timm")


_TIMM_V2 = "pre-activation, timm"
_BIT = "BiT: GroupNorm + weight standardisation"
# name, builder, spec, description, params (= trainable for GN/EvoNorm/BiT), trainable, MACs.
# 101x3, 152x2 and 152x4 are recorded from timm's model on torch's meta device (its
# parameters and conv MACs equal this zoo's on every model built here, 50x3 included);
# the tests build none over 200M parameters, and check every count against timm's goldens.
for _name, _builder, _spec, _description, _params, _trainable, _macs in (
        ("resnetv2_18", "ResNetV2_18", _timm_v2("resnetv2_18", "basic", (2, 2, 2, 2)),
         _TIMM_V2, 11_695_528, 11_687_720, 1_814_073_344),
        ("resnetv2_18d", "ResNetV2_18D",
         _timm_v2("resnetv2_18d", "basic", (2, 2, 2, 2), deep=True),
         _TIMM_V2 + ", ResNet-D", 11_714_888, 11_706_952, 2_053_713_920),
        ("resnetv2_34", "ResNetV2_34", _timm_v2("resnetv2_34", "basic", (3, 4, 6, 3)),
         _TIMM_V2, 21_811_112, 21_795_880, 3_663_761_408),
        ("resnetv2_34d", "ResNetV2_34D",
         _timm_v2("resnetv2_34d", "basic", (3, 4, 6, 3), deep=True),
         _TIMM_V2 + ", ResNet-D", 21_830_472, 21_815_112, 3_903_401_984),
        ("resnetv2_50", "ResNetV2_50", _timm_v2("resnetv2_50", "bottleneck", (3, 4, 6, 3)),
         _TIMM_V2, 25_594_792, 25_549_352, 4_089_184_256),
        ("resnetv2_50d_gn", "ResNetV2_50D_GN",
         _timm_v2("resnetv2_50d_gn", "bottleneck", (3, 4, 6, 3), deep=True, norm="group"),
         _TIMM_V2 + ", ResNet-D, GroupNorm", 25_568_584, 25_568_584, 4_328_824_832),
        ("resnetv2_50d_evos", "ResNetV2_50D_EvoS",
         _timm_v2("resnetv2_50d_evos", "bottleneck", (3, 4, 6, 3), deep=True, norm="evonorm"),
         _TIMM_V2 + ", ResNet-D, EvoNorm-S0", 25_591_368, 25_591_368, 4_328_824_832),
        ("resnetv2_101", "ResNetV2_101",
         _timm_v2("resnetv2_101", "bottleneck", (3, 4, 23, 3)),
         _TIMM_V2, 44_639_144, 44_541_480, 7_801_405_440),
        ("resnetv2_50x1_bit", "ResNetV2_50x1_BiT",
         _timm_v2("resnetv2_50x1_bit", "bottleneck", (3, 4, 6, 3), width_factor=1),
         _BIT, 25_549_352, 25_549_352, 4_089_184_256),
        ("resnetv2_50x3_bit", "ResNetV2_50x3_BiT",
         _timm_v2("resnetv2_50x3_bit", "bottleneck", (3, 4, 6, 3), width_factor=3),
         _BIT, 217_319_080, 217_319_080, 36_082_286_592),
        ("resnetv2_101x1_bit", "ResNetV2_101x1_BiT",
         _timm_v2("resnetv2_101x1_bit", "bottleneck", (3, 4, 23, 3), width_factor=1),
         _BIT, 44_541_480, 44_541_480, 7_801_405_440),
        ("resnetv2_101x3_bit", "ResNetV2_101x3_BiT",
         _timm_v2("resnetv2_101x3_bit", "bottleneck", (3, 4, 23, 3), width_factor=3),
         _BIT, 387_934_888, 387_934_888, 69_492_277_248),
        ("resnetv2_152x2_bit", "ResNetV2_152x2_BiT",
         _timm_v2("resnetv2_152x2_bit", "bottleneck", (3, 8, 36, 3), width_factor=2),
         _BIT, 236_335_208, 236_335_208, 45_814_382_592),
        ("resnetv2_152x4_bit", "ResNetV2_152x4_BiT",
         _timm_v2("resnetv2_152x4_bit", "bottleneck", (3, 8, 36, 3), width_factor=4),
         _BIT, 936_533_224, 936_533_224, 182_777_282_560)):
    register(name=_name, builder_name=_builder, spec=_spec, description=_description,
             params=_params, trainable_params=_trainable, macs=_macs,
             reference=dict(timm_params=_trainable))

# timm's resnet.py with GroupNorm in place of every BatchNormalization.
register(name="resnet50_gn", builder_name="ResNet50_GN", description="GroupNorm",
         spec=ArchSpec("resnet50_gn", "bottleneck", (3, 4, 6, 3), norm="group",
                       default_variant="v1.5"),
         params=25_557_032, trainable_params=25_557_032, macs=4_089_184_256,
         reference=dict(timm_params=25_557_032))

# --- the paper's CIFAR nets (section 4.2), depth 6n + 2 -------------------------

# n, params, trainable, MACs, and the paper's parameter count and CIFAR-10 error (%).
for _n, _params, _trainable, _macs, _paper_params, _error in (
        (3, 271_098, 269_722, 40_551_040, 269_722, 8.75),
        (5, 466_426, 464_154, 68_862_592, 464_154, 7.51),
        (7, 661_754, 658_586, 97_174_144, 658_586, 7.17),
        (9, 857_082, 853_018, 125_485_696, 853_018, 6.97),
        (18, 1_736_058, 1_727_962, 252_887_680, 1_727_962, 6.43)):
    register(name=f"resnet{6 * _n + 2}", builder_name=f"ResNet{6 * _n + 2}",
             spec=cifar_arch(f"resnet{6 * _n + 2}", _n), description="for CIFAR (paper, 4.2)",
             params=_params, trainable_params=_trainable, macs=_macs,
             reference=dict(paper_params=_paper_params, paper_cifar10_error=_error))

# Every registered architecture by name (a V2 model shares its v1 twin's).
ARCHS: Dict[str, ArchSpec] = {info.spec.name: info.spec for info in REGISTRY.values()}


def list_models() -> List[str]:
    """Names of every registered model, in registry order (by family, then depth)."""
    return list(REGISTRY)


def model_info(name: str) -> ModelInfo:
    """Metadata of a registered model (see `ModelInfo`)."""
    return REGISTRY[_check_name(name)]


def builder_names() -> List[str]:
    """Names of the public builders, e.g. ["ResNet18", ...], in registry order."""
    return [info.builder_name for info in REGISTRY.values()]


def model_for(spec: ArchSpec, variant: Optional[str] = None) -> Optional[str]:
    """The registered model of architecture `spec` built with `variant` (None: the
    model named like the spec), or None for a custom architecture."""
    same = [info for info in REGISTRY.values() if info.spec == spec]
    if variant is not None:
        same = [info for info in same if info.variant == variant] or same
    else:
        same = [info for info in same if info.name == spec.name] or same
    return same[0].name if same else None


def _check_name(name: Optional[str]) -> str:
    key = name.lower() if isinstance(name, str) else name
    if key not in REGISTRY:
        raise ValueError(f"Unknown model {name!r}. `name` must be one of: "
                         f"{', '.join(REGISTRY)}.")
    return key
