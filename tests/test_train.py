"""digits.train's recipes: the fast one fits the CNN on real MNIST digits with
a learning rate that warms up, then falls to nothing by the last batch."""

import pytest

from digits import train

IMAGES = 6400  # 50 batches of the fast recipe's 128


def test_fast_recipe_warms_up_then_ends_at_a_zero_rate(mnist):
    config = train.default_config("cnn", recipe="fast", train_images=IMAGES, epochs=1)
    model, history = train.train_model(config, mnist)
    rate = model.optimizer.learning_rate  # the schedule's value after the last batch
    assert float(rate) == pytest.approx(0.0, abs=1e-6)
    schedule, callbacks = train.make_learning_rate(config, batches=IMAGES // 128)
    peak = config.learning_rate
    assert float(schedule(0)) == pytest.approx(peak / 10)
    assert float(schedule(int(train.WARMUP * IMAGES // 128))) == pytest.approx(peak)
    assert callbacks == []  # no per-epoch rate on top
    accuracy = train.evaluate_model(model, mnist.x_test[:2000], mnist.y_test[:2000])
    assert accuracy > 0.85 and history["accuracy"][-1] > 0.6


def test_card_records_the_schedule_of_the_fast_recipe_only():
    fast = train.default_config("cnn", recipe="fast").as_dict()
    assert fast["schedule"] == "one-cycle"
    assert "schedule" not in train.default_config("cnn").as_dict()


def test_options_change_the_fast_recipe():
    config = train.default_config("cnn", recipe="fast", epochs=3, batch_size=None)
    assert (config.epochs, config.batch_size, config.augment) == (3, 128, False)


def test_unknown_recipe_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="choose one of: shipped, fast"):
        train.default_config("cnn", recipe="quick")
