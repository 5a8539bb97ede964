"""The search space's checks and the study's first trial: conf/model's own parameters."""

import optuna
import pytest

from demandcast.errors import UserError
from demandcast.models import tuning

SPACE = {"eta": [0.03, 0.3, "log"], "max_depth": [4, 10, "int"], "subsample": [0.6, 1.0, "linear"]}


def test_the_defaults_are_the_first_trial_when_the_space_holds_them():
    first = tuning.defaults_in_space({"eta": 0.08, "max_depth": 8, "subsample": 0.8, "nthread": 2}, SPACE)
    assert first == {"eta": 0.08, "max_depth": 8, "subsample": 0.8}  # searched names only
    study = optuna.create_study()
    study.enqueue_trial(first)
    study.optimize(lambda t: sum(tuning.suggest(t, SPACE).values()), n_trials=2)
    assert study.trials[0].params == first and study.trials[1].params != first


@pytest.mark.parametrize("params", [{"eta": 0.5, "max_depth": 8, "subsample": 0.8},  # above the space
                                    {"max_depth": 8, "subsample": 0.8}])              # not set
def test_no_default_first_trial_when_one_lies_outside_the_space(params):
    assert tuning.defaults_in_space(params, SPACE) is None


@pytest.mark.parametrize("bounds, says", [([0.3, 0.03, "log"], "must be below"),
                                          ([1, 2], "expected [low, high"),
                                          ([0.1, 0.2, "cubic"], "is not one of")])
def test_a_malformed_space_is_refused_by_name(bounds, says):
    with pytest.raises(UserError, match=r"tune\.space\.eta") as err:
        tuning.defaults_in_space({"eta": 0.1}, {"eta": bounds})
    assert says in str(err.value)
