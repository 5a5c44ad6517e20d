"""Training recipes as data, and the `train`, `evaluate` and `predict` functions.

One job per module:

    run.py         train (restore or build, callbacks, fit, write results), evaluate,
                   predict, and the run directory they write; a run's model and its
                   calibration images (for `keras-resnet export --int8`)
    settings.py    argument checks; a run's settings (RunSettings), new or read back
                   from run.json (RunRecord)
    recipes.py     Recipe, RECIPES; the optimizer, weight decay and compile settings
    callbacks.py   fit's callbacks, one class each: epoch statistics, epoch and
                   mid-epoch checkpoints; RunCallbacks orders them (imports Keras)
    distribute.py  tf.distribute strategies, TF_CONFIG, the chief, the multi-worker
                   workarounds (their Keras internals are in keras_resnet.keras_compat)
    files.py       atomic JSON and model writes, checkpoints, log.csv on resume;
                   RunWriteError
    preemption.py  termination signals (mid-epoch checkpoint, exit 75), lost workers
                   (exit 69), their exit codes
    reports.py     training curves and confusion matrix PNGs, training time from log.csv

Each module uses only the public (no leading underscore) names of the others.
"""

from keras_resnet.training.distribute import STRATEGIES, average_over_workers, make_strategy
from keras_resnet.training.files import CHECKPOINT_RE, RunWriteError, latest_checkpoint
from keras_resnet.training.recipes import RECIPES, Recipe, get_recipe, make_optimizer
from keras_resnet.training.reports import plot_confusion_matrix, plot_training_curves
from keras_resnet.training.run import (InputDataError, TrainResult, calibration_data, evaluate,
                                       evaluate_model, load_model_file, load_run, predict, train)
from keras_resnet.training.settings import PRECISIONS, RunRecord, RunSettings

__all__ = [
    "train", "evaluate", "predict", "evaluate_model", "TrainResult", "load_run",
    "load_model_file", "calibration_data", "RunSettings", "RunRecord", "RunWriteError",
    "InputDataError",
    "PRECISIONS", "STRATEGIES", "RECIPES", "Recipe", "get_recipe", "make_optimizer",
    "make_strategy", "average_over_workers", "CHECKPOINT_RE", "latest_checkpoint",
    "plot_training_curves", "plot_confusion_matrix",
]
