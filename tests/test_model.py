"""The chapter 18–22 Model: API, training semantics, printed lines, history, guards, dtype."""
from __future__ import annotations

import re
import sys

import numpy as np
import pytest

import nnref
from nnref import (
    SGD,
    Adam,
    BinaryCrossentropy,
    CallOrderError,
    CategoricalAccuracy,
    CategoricalCrossentropy,
    Dense,
    Dropout,
    History,
    Linear,
    MeanSquaredError,
    Model,
    Optimizer,
    RegressionAccuracy,
    ReLU,
    Sigmoid,
    SigmoidBinaryCrossentropy,
    Softmax,
    SoftmaxCategoricalCrossentropy,
    TrainingDivergedError,
)


# ---------------------------------------------------------------- helpers

def blobs(n=120, seed=0, dtype=np.float64):
    """Three well-separated Gaussian blobs in 2-D, labels 0..2, shuffled."""
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]])
    y = rng.integers(0, 3, size=n)
    X = centers[y] + 0.3 * rng.standard_normal((n, 2))
    return X.astype(dtype), y


def classifier(*, dropout=0.0, log=None, dtype=None, lr=0.05, hidden=16):
    model = Model(log=log, dtype=dtype)
    model.add(Dense(2, hidden, rng=1))
    model.add(ReLU())
    if dropout:
        model.add(Dropout(dropout, rng=2))
    model.add(Dense(hidden, 3, rng=3))
    model.add(Softmax())
    model.set(loss=CategoricalCrossentropy(), optimizer=Adam(learning_rate=lr), accuracy=CategoricalAccuracy())
    model.finalize()
    return model


def regressor(*, log=None, optimizer=None):
    model = Model(log=log)
    model.add(Dense(1, 8, rng=1, weight_scale=0.1))
    model.add(ReLU())
    model.add(Dense(8, 1, rng=2, weight_scale=0.1))
    model.add(Linear())
    model.set(loss=MeanSquaredError(), optimizer=optimizer or Adam(learning_rate=0.01),
              accuracy=RegressionAccuracy())
    model.finalize()
    return model


class FrozenOptimizer(Optimizer):
    """Counts steps but never moves a parameter: lets epoch numbers be checked exactly."""

    def __init__(self):
        super().__init__(learning_rate=1.0)

    def update_params(self, layer):
        self._parameters(layer)  # the base class's checks, then no move


class Spy:
    """An identity layer that remembers every input it was given."""

    trainable = False

    def __init__(self):
        self.seen = []

    def forward(self, inputs, training=False):
        self.seen.append(inputs)
        self.output = inputs
        return inputs

    def backward(self, dvalues):
        self.dinputs = dvalues
        return dvalues


# ---------------------------------------------------------------- building

def test_model_is_exported_under_both_names():
    """``nnref.Model`` and the book's ``Model`` are the same class."""
    from nnref import book

    assert book.Model is nnref.Model is Model


def test_set_is_keyword_only():
    """``set`` takes keywords only, as the book's ``set(self, *, loss, optimizer, accuracy)``."""
    with pytest.raises(TypeError):
        Model().set(CategoricalCrossentropy())


def test_set_none_keeps_the_current_object():
    """``set(optimizer=...)`` alone keeps the loss and accuracy already set."""
    model = classifier()
    loss = model.loss
    model.set(optimizer=SGD())
    assert model.loss is loss and isinstance(model.optimizer, SGD)


def test_add_refuses_objects_without_forward_and_backward():
    """Adding something that is not a layer fails at ``add`` with the type named."""
    with pytest.raises(TypeError, match="int"):
        Model().add(3)


def test_finalize_needs_layers():
    """Finalizing an empty model is an error."""
    with pytest.raises(ValueError, match="no layers"):
        Model().finalize()


def test_calls_before_finalize_are_refused():
    """train/evaluate/predict before ``finalize`` raise CallOrderError naming finalize."""
    model = Model()
    model.add(Dense(2, 3, rng=0))
    model.add(Softmax())
    X, y = blobs(10)
    for call in (lambda: model.train(X, y), lambda: model.evaluate(X, y), lambda: model.predict(X)):
        with pytest.raises(CallOrderError, match="finalize"):
            call()


def test_adding_a_layer_after_finalize_requires_finalize_again():
    """A layer added after ``finalize`` is not silently left unlinked."""
    model = classifier()
    model.add(Softmax())
    with pytest.raises(CallOrderError):
        model.predict(np.zeros((2, 2)))


def test_finalize_links_layers_and_lists_trainable_ones():
    """Input layer, prev/next links, trainable layers, and the loss remembering them (chapter 18)."""
    model = classifier(dropout=0.1)
    dense1, relu, dropout, dense2, softmax = model.layers
    assert isinstance(model.input_layer, nnref.Input)
    assert dense1.prev is model.input_layer and dense1.next is relu
    assert softmax.prev is dense2 and softmax.next is model.loss
    assert model.trainable_layers == [dense1, dense2]
    assert model.loss.trainable_layers == [dense1, dense2]
    assert model.output_layer_activation is softmax


def test_finalize_picks_the_combined_backward():
    """Softmax + CCE gets the book's combined object, Sigmoid + BCE ours, anything else none."""
    assert isinstance(classifier().combined_output, SoftmaxCategoricalCrossentropy)
    assert isinstance(classifier().softmax_classifier_output, SoftmaxCategoricalCrossentropy)
    binary = Model(log=None)
    binary.add(Dense(2, 1, rng=0))
    binary.add(Sigmoid())
    binary.set(loss=BinaryCrossentropy())
    binary.finalize()
    assert isinstance(binary.combined_output, SigmoidBinaryCrossentropy)
    assert binary.softmax_classifier_output is None
    assert regressor().combined_output is None


def test_set_after_finalize_relinks_the_new_loss():
    """A loss set after ``finalize`` still learns the trainable layers (its regularization needs them)."""
    model = classifier()
    new_loss = CategoricalCrossentropy()
    model.set(loss=new_loss)
    assert new_loss.trainable_layers == model.trainable_layers
    assert isinstance(model.combined_output, SoftmaxCategoricalCrossentropy)


def test_finalize_leaves_every_layer_computing_its_input_gradient():
    """Training does not switch off the first layer's dL/dX: its backward still returns it and gradcheck passes."""
    from nnref.gradcheck import check_layer

    model = classifier()
    X, y = blobs(20)
    model.train(X, y, epochs=2)
    first = model.layers[0]
    first.forward(X[:5])
    assert first.backward(np.ones((5, 16))).shape == (5, 2)
    assert check_layer(first, X[:5]).passed


def test_hidden_sizes_that_do_not_chain_are_refused_by_finalize():
    """Dense(2, 16) then Dense(8, 3) fails in finalize with both layers named, not inside train."""
    model = Model(log=None)
    model.add(Dense(2, 16, rng=1))
    model.add(ReLU())
    model.add(Dense(8, 3, rng=2))
    model.add(Softmax())
    model.set(loss=CategoricalCrossentropy(), optimizer=Adam(), accuracy=CategoricalAccuracy())
    with pytest.raises(ValueError, match=r"layer 2 \(Dense\(8, 3\)\) takes 8 inputs, but layer 0 "
                                         r"\(Dense\(2, 16\)\) gives 16 outputs; make it Dense\(16, 3\)"):
        model.finalize()


def test_the_same_layer_object_cannot_be_added_twice():
    """One object keeps one set of inputs and gradients: adding it twice is refused with its position."""
    model = Model(log=None)
    relu = ReLU()
    model.add(Dense(2, 2, rng=0))
    model.add(relu)
    model.add(Dense(2, 2, rng=1))
    with pytest.raises(ValueError, match=r"already layer 1 of the model"):
        model.add(relu)


def test_a_refused_train_call_leaves_the_models_dtype_alone():
    """Bad targets are refused before the parameters are cast to the data's dtype."""
    model = classifier()
    X, y = blobs(20)
    bad = y.copy()
    bad[3] = 9
    with pytest.raises(ValueError, match="class labels"):
        model.train(X.astype(np.float32), bad)
    assert model.layers[0].weights.dtype == np.float64 and model.layers[2].biases.dtype == np.float64


# ---------------------------------------------------------------- passes

@pytest.mark.parametrize("kind", ["softmax", "sigmoid"])
def test_combined_backward_equals_the_chained_one(kind):
    """The combined output gradient equals running the loss and activation backward separately."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((7, 3))
    model = Model(log=None)
    model.add(Dense(3, 4, rng=1))
    if kind == "softmax":
        model.add(Softmax())
        loss, y = CategoricalCrossentropy(), rng.integers(0, 4, 7)
    else:
        model.add(Sigmoid())
        loss, y = BinaryCrossentropy(), rng.integers(0, 2, (7, 4)).astype(float)
    model.set(loss=loss)
    model.finalize()
    output = model.forward(X, training=True)
    model.backward(output, y)
    combined_dw = model.layers[0].dweights.copy()
    activation = model.layers[1]
    activation.backward(loss.backward(output, y))
    model.layers[0].backward(activation.dinputs)
    np.testing.assert_allclose(combined_dw, model.layers[0].dweights, rtol=1e-10, atol=1e-12)


def test_dropout_runs_only_in_training():
    """forward(training=True) drops values; evaluate and predict never do (chapter 18)."""
    model = classifier(dropout=0.5)
    X, y = blobs(50)
    a = model.predict(X)
    b = model.predict(X)
    np.testing.assert_array_equal(a, b)
    t1 = model.forward(X, training=True).copy()
    t2 = model.forward(X, training=True).copy()
    assert not np.array_equal(t1, t2)
    m1 = model.evaluate(X, y)
    m2 = model.evaluate(X, y)
    assert m1 == m2


def test_predict_in_batches_equals_one_pass():
    """``predict(batch_size=...)`` stacks batch outputs into the full-pass result, even with a short last batch."""
    model = classifier()
    X, _ = blobs(23)
    np.testing.assert_allclose(model.predict(X, batch_size=5), model.predict(X), rtol=1e-12)
    assert model.predict(X, batch_size=5).shape == (23, 3)


def test_evaluate_returns_data_loss_and_accuracy():
    """``evaluate`` returns (loss, accuracy) computed as the loss and accuracy objects do, and logs the book's line."""
    lines = []
    model = classifier(log=lines.append)
    model.layers[0].weight_regularizer_l2 = 1.0  # a penalty that evaluate must leave out
    X, y = blobs(31)
    metrics = model.evaluate(X, y, batch_size=8)
    probs = model.predict(X)
    expected_loss = CategoricalCrossentropy().calculate(probs, y)
    expected_acc = np.mean(np.argmax(probs, axis=1) == y)
    assert metrics.loss == pytest.approx(expected_loss, rel=1e-12)
    assert metrics.accuracy == pytest.approx(expected_acc)
    assert lines == [f"validation, acc: {expected_acc:.3f}, loss: {expected_loss:.3f}"]


def test_evaluate_sets_the_regression_precision_of_a_fresh_model():
    """A model that was never trained can evaluate with regression accuracy (its band comes from y_val)."""
    model = regressor()
    X = np.linspace(0, 1, 40).reshape(-1, 1)
    y = np.sin(X)
    metrics = model.evaluate(X, y)
    assert model.accuracy.precision == pytest.approx(np.std(y) / 250)
    assert 0.0 <= metrics.accuracy <= 1.0


def test_batches_are_views_of_the_data():
    """Training batches are slices of X (views), not copies."""
    spy = Spy()
    model = Model(log=None)
    model.add(spy)
    model.add(Dense(2, 3, rng=0))
    model.add(Softmax())
    model.set(loss=CategoricalCrossentropy(), optimizer=Adam(), accuracy=CategoricalAccuracy())
    model.finalize()
    X, y = blobs(25)
    model.train(X, y, epochs=1, batch_size=10)
    assert [len(batch) for batch in spy.seen] == [10, 10, 5]
    assert all(batch.base is X for batch in spy.seen)


# ---------------------------------------------------------------- training output

def test_full_batch_lines_follow_chapter_18():
    """Without batches: an ``epoch: N, acc: ...`` line every print_every epochs, validation once at the end."""
    lines = []
    model = classifier(log=lines.append)
    X, y = blobs(60)
    model.train(X, y, epochs=6, print_every=3, validation_data=blobs(30, seed=1))
    pattern = (r"epoch: {}, acc: \d\.\d{{3}}, loss: \d+\.\d{{3}} \(data_loss: \d+\.\d{{3}}, "
               r"reg_loss: \d+\.\d{{3}}\), lr: 0\.05")
    assert len(lines) == 3
    assert re.fullmatch(pattern.format(3), lines[0])
    assert re.fullmatch(pattern.format(6), lines[1])
    assert re.fullmatch(r"validation, acc: \d\.\d{3}, loss: \d+\.\d{3}", lines[2])


def test_batched_lines_follow_chapter_19():
    """With batches: ``epoch: N``, ``step:`` lines every print_every steps and at the last, ``training,``, ``validation,``."""
    lines = []
    model = classifier(log=lines.append)
    X, y = blobs(50)
    model.train(X, y, epochs=2, batch_size=8, print_every=3, validation_data=blobs(20, seed=1))
    heads = [line.split(",")[0] for line in lines]
    one_epoch = ["epoch: {}", "step: 0", "step: 3", "step: 6", "training", "validation"]
    assert heads == [h.format(1) for h in one_epoch] + [h.format(2) for h in one_epoch]
    assert re.fullmatch(r"training, acc: \d\.\d{3}, loss: \d+\.\d{3} \(data_loss: \d+\.\d{3}, "
                        r"reg_loss: \d+\.\d{3}\), lr: 0\.05", lines[4])


def test_default_log_prints_and_none_is_silent(capsys):
    """Lines go to stdout by default; ``log=None`` prints nothing."""
    X, y = blobs(20)
    model = classifier(log=print)
    model.train(X, y, epochs=2)
    assert capsys.readouterr().out.count("epoch: ") == 2
    quiet = classifier(log=None)
    quiet.train(X, y, epochs=2, validation_data=(X, y))
    assert capsys.readouterr().out == ""


def test_log_can_be_overridden_in_a_subclass():
    """A subclass that overrides ``log`` receives every line."""
    received = []

    class Recording(Model):
        def log(self, message):
            received.append(message)

    model = Recording()
    model.add(Dense(2, 3, rng=0))
    model.add(Softmax())
    model.set(loss=CategoricalCrossentropy(), optimizer=Adam(), accuracy=CategoricalAccuracy())
    model.finalize()
    model.train(*blobs(10), epochs=2)
    assert [m.split(",")[0] for m in received] == ["epoch: 1", "epoch: 2"]


def test_progress_bar_replaces_the_lines(capsys):
    """``progress=True`` shows a tqdm bar (on stderr) with loss, acc and lr; the step lines are not printed."""
    pytest.importorskip("tqdm")
    model = classifier(log=print)
    X, y = blobs(40)
    history = model.train(X, y, epochs=2, batch_size=16, progress=True)
    captured = capsys.readouterr()
    assert "step: " not in captured.out and "training, " not in captured.out
    assert "6/6" in captured.err and "loss=" in captured.err and "acc=" in captured.err and "lr=" in captured.err
    assert len(history) == 2


def test_progress_without_tqdm_is_a_clear_error(monkeypatch):
    """Without tqdm installed, ``progress=True`` raises ImportError saying what to install."""
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match="tqdm"):
        classifier().train(*blobs(10), progress=True)


# ---------------------------------------------------------------- history and accumulation

def test_history_has_one_entry_per_epoch():
    """History records loss, data/reg loss, accuracy and lr every epoch; loss = data_loss + reg_loss."""
    model = classifier()
    model.layers[0].weight_regularizer_l2 = 1e-3
    X, y = blobs(60)
    history = model.train(X, y, epochs=5, print_every=2, validation_data=blobs(20, seed=1))
    assert isinstance(history, History) and len(history) == 5
    assert history.epoch == [1, 2, 3, 4, 5]
    for name in ("loss", "data_loss", "reg_loss", "accuracy", "lr"):
        assert len(getattr(history, name)) == 5
    np.testing.assert_allclose(history.loss, np.add(history.data_loss, history.reg_loss))
    assert all(r > 0 for r in history.reg_loss)
    # without batches validation is recorded every print_every epochs and at the end
    assert history.val_epoch == [2, 4, 5]
    assert set(history.as_dict()) == {"epoch", "loss", "data_loss", "reg_loss", "accuracy", "lr",
                                      "val_epoch", "val_loss", "val_accuracy"}


def test_batched_history_validates_every_epoch():
    """With batches, every epoch has a validation entry."""
    model = classifier()
    history = model.train(*blobs(40), epochs=3, batch_size=16, validation_data=blobs(10, seed=2))
    assert history.val_epoch == [1, 2, 3] and len(history.val_loss) == 3


def test_epoch_numbers_are_sample_weighted_means_over_batches():
    """Chapter 19: the epoch loss and accuracy average over samples, so a short last batch counts less."""
    model = classifier(lr=0.05)
    model.set(optimizer=FrozenOptimizer())  # weights fixed: the epoch numbers must equal one full pass
    X, y = blobs(10)
    history = model.train(X, y, epochs=1, batch_size=4)
    full = model.evaluate(X, y)
    assert history.data_loss[0] == pytest.approx(full.loss, rel=1e-12)
    assert history.accuracy[0] == pytest.approx(full.accuracy)
    assert model.optimizer.iterations == 3  # 4 + 4 + 2 samples


def test_learning_rate_in_history_follows_decay_per_step():
    """The lr recorded after epoch e is the decayed rate of the last step taken (decay counts steps)."""
    model = classifier()
    model.set(optimizer=Adam(learning_rate=0.01, decay=0.1))
    history = model.train(*blobs(20), epochs=2, batch_size=10)
    # 4 steps in all; the last used t = 3
    assert history.lr == [pytest.approx(0.01 / (1 + 0.1 * 1)), pytest.approx(0.01 / (1 + 0.1 * 3))]


# ---------------------------------------------------------------- guards

@pytest.mark.parametrize("kwargs, error", [
    ({"epochs": 0}, ValueError), ({"epochs": -1}, ValueError), ({"epochs": 1.5}, TypeError),
    ({"epochs": True}, TypeError), ({"batch_size": 0}, ValueError), ({"batch_size": 2.0}, TypeError),
    ({"print_every": 0}, ValueError), ({"print_every": None}, TypeError),
])
def test_invalid_training_settings_are_refused_up_front(kwargs, error):
    """Bad epochs, batch_size or print_every raise before any step is taken."""
    model = classifier()
    before = model.get_parameters()
    with pytest.raises(error, match="Model.train"):
        model.train(*blobs(10), **kwargs)
    assert model.optimizer.iterations == 0
    np.testing.assert_array_equal(before[0][0], model.get_parameters()[0][0])


def test_bad_data_is_refused_up_front():
    """NaN, wrong rank, wrong feature count and mismatched target counts are named at the boundary."""
    model = classifier()
    X, y = blobs(10)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.train(bad, y)
    with pytest.raises(ValueError, match="2-D"):
        model.train(X[:, 0], y)
    with pytest.raises(ValueError, match="2 features"):
        model.train(np.ones((10, 3)), y)
    with pytest.raises(ValueError, match="10 samples but y has 9"):
        model.train(X, y[:9])
    with pytest.raises(ValueError, match="validation_data"):
        model.train(X, y, validation_data=(X, y[:4]))
    with pytest.raises(TypeError, match="pair"):
        model.train(X, y, validation_data=X)
    assert model.optimizer.iterations == 0


def test_targets_are_checked_once_for_the_whole_dataset_before_any_step():
    """A bad label anywhere (here in the last batch) is refused before the first step, naming Model.train."""
    model = classifier()
    X, y = blobs(40)
    weights_before = model.layers[0].weights.copy()
    for bad_label in (3, -1):
        bad = y.copy()
        bad[-1] = bad_label
        with pytest.raises(ValueError, match=r"Model.train: class labels must lie in \[0, 2\]"):
            model.train(X, bad, batch_size=8)
        with pytest.raises(ValueError, match=r"Model.evaluate: class labels must lie in \[0, 2\]"):
            model.evaluate(X, bad)
    with pytest.raises(ValueError, match="validation_data.*class labels"):
        model.train(X, y, validation_data=(X, np.full(40, 7)))
    with pytest.raises(ValueError, match="whole numbers"):
        model.train(X, y + 0.5)
    assert model.optimizer.iterations == 0
    np.testing.assert_array_equal(model.layers[0].weights, weights_before)


def test_elementwise_loss_targets_must_have_the_output_shape():
    """(N,) targets for an (N, 1) regression output are refused up front instead of broadcasting to (N, N)."""
    model = regressor()
    X = np.linspace(-1, 1, 16).reshape(-1, 1)
    with pytest.raises(ValueError, match=r"Model.train: y must have shape \(n_samples, 1\)"):
        model.train(X, np.sin(X).ravel())
    binary = Model(log=None)
    binary.add(Dense(2, 1, rng=0))
    binary.add(Sigmoid())
    binary.set(loss=BinaryCrossentropy(), optimizer=Adam(), accuracy=CategoricalAccuracy(binary=True))
    binary.finalize()
    Xb, yb = blobs(12)
    with pytest.raises(ValueError, match="binary targets must lie in"):
        binary.train(Xb, (yb.reshape(-1, 1) * 2.0))


def test_a_subclassed_loss_trains_through_its_own_methods():
    """The fast path serves only nnref's own classes: a user's subclass is called on every batch."""
    model = classifier()
    seen = []

    class Recording(CategoricalCrossentropy):
        def forward(self, y_pred, y_true):
            seen.append(len(y_pred))
            return super().forward(y_pred, y_true)

    model.set(loss=Recording())
    model.train(*blobs(20), epochs=2, batch_size=10)
    assert seen == [10, 10, 10, 10]


def test_a_layer_of_unknown_width_keeps_the_loss_checking_every_batch():
    """With a user's own layer the Model cannot know the output width, so the loss still checks each batch."""
    model = Model(log=None)
    model.add(Dense(2, 3, rng=0))
    model.add(Spy())
    model.add(Softmax())
    model.set(loss=CategoricalCrossentropy(), optimizer=Adam(), accuracy=CategoricalAccuracy())
    model.finalize()
    X, y = blobs(20)
    bad = y.copy()
    bad[15] = 4
    with pytest.raises(ValueError, match="CategoricalCrossentropy.forward: class labels"):
        model.train(X, bad, batch_size=10)
    assert model.optimizer.iterations == 1  # the first batch trained; the second was refused by the loss


def test_evaluate_names_non_finite_outputs():
    """A model whose weights became NaN cannot report a silent NaN loss from evaluate."""
    model = classifier()
    X, y = blobs(10)
    model.layers[0].weights[0, 0] = np.nan
    with pytest.raises(ValueError, match="Model.evaluate: the model's outputs contain NaN"):
        model.evaluate(X, y)


def test_missing_loss_optimizer_or_accuracy_is_named():
    """Training without an optimizer says which object is missing."""
    model = Model(log=None)
    model.add(Dense(2, 3, rng=0))
    model.add(Softmax())
    model.set(loss=CategoricalCrossentropy(), accuracy=CategoricalAccuracy())
    model.finalize()
    with pytest.raises(CallOrderError, match="optimizer"):
        model.train(*blobs(10))


def test_last_layer_without_predictions_is_refused():
    """A model ending in a Dense layer cannot compute accuracy; train says so."""
    model = Model(log=None)
    model.add(Dense(2, 3, rng=0))
    model.set(loss=MeanSquaredError(), optimizer=Adam(), accuracy=RegressionAccuracy())
    model.finalize()
    with pytest.raises(TypeError, match="predictions"):
        model.train(np.ones((4, 2)), np.ones((4, 3)))


def test_divergence_stops_training_naming_epoch_and_step():
    """A loss that overflows stops training with TrainingDivergedError naming the epoch and step."""
    model = regressor(optimizer=SGD(learning_rate=50.0))
    X = np.linspace(-1, 1, 32).reshape(-1, 1)
    y = 3 * X
    with np.errstate(all="ignore"), pytest.raises(TrainingDivergedError) as info:
        model.train(X, y, epochs=1000, batch_size=16)
    err = info.value
    assert err.epoch > 1
    assert f"epoch {err.epoch}, step {err.step}" in str(err)
    assert len(err.history) == err.epoch - 1


def test_layers_still_check_their_inputs_after_training():
    """Training leaves no switch behind: a layer refuses NaN inputs afterwards, as before."""
    model = classifier()
    model.train(*blobs(10), epochs=1)
    with pytest.raises(ValueError, match="Dense.forward: inputs contains NaN"):
        model.layers[0].forward(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="ReLU.forward: inputs contains NaN"):
        model.layers[1].forward(np.full((2, 16), np.nan))


# ---------------------------------------------------------------- parameters

def test_get_parameters_returns_copies():
    """Changing what get_parameters returned leaves the model unchanged."""
    model = classifier()
    params = model.get_parameters()
    assert len(params) == 2 and params[0][0].shape == (2, 16) and params[1][1].shape == (1, 3)
    params[0][0][...] = 123.0
    assert not np.any(model.layers[0].weights == 123.0)


def test_set_parameters_copies_so_models_do_not_share_arrays():
    """Two models given the same parameters train independently (the book's version aliases them)."""
    a, b = classifier(), classifier()
    params = a.get_parameters()
    b.set_parameters(params)
    for (wa, ba), (wb, bb) in zip(a.get_parameters(), b.get_parameters()):
        np.testing.assert_array_equal(wa, wb)
        np.testing.assert_array_equal(ba, bb)
    params[0][0][...] = 0.0
    assert np.any(b.layers[0].weights != 0.0)
    a.train(*blobs(20), epochs=3)
    assert not np.array_equal(a.layers[0].weights, b.layers[0].weights)


def test_set_parameters_checks_count_and_shapes():
    """Wrong number of pairs, a non-pair and a wrong shape are refused."""
    model = classifier()
    params = model.get_parameters()
    with pytest.raises(ValueError, match="2 trainable layers, got 1"):
        model.set_parameters(params[:1])
    with pytest.raises(TypeError, match="pair"):
        model.set_parameters([params[0], params[1][0]])
    with pytest.raises(ValueError, match="shape"):
        model.set_parameters([params[0], (np.zeros((3, 3)), params[1][1])])


# ---------------------------------------------------------------- dtype

def test_float32_data_trains_float32_parameters():
    """float32 data: parameters, gradients, optimizer state and outputs stay float32 (issue 6)."""
    model = classifier()
    X, y = blobs(40, dtype=np.float32)
    history = model.train(X, y, epochs=3, batch_size=16)
    for layer in model.trainable_layers:
        assert layer.weights.dtype == np.float32 and layer.biases.dtype == np.float32
        assert layer.dweights.dtype == np.float32
        assert all(v.dtype == np.float32 for v in model.optimizer.state(layer).values())
    assert model.predict(X).dtype == np.float32
    assert np.isfinite(history.loss).all()


def test_explicit_dtype_casts_data_and_parameters():
    """``Model(dtype=np.float32)`` trains in float32 even on float64 data."""
    model = classifier(dtype=np.float32)
    X, y = blobs(40)
    model.train(X, y, epochs=2)
    assert model.layers[0].weights.dtype == np.float32
    assert model.predict(X).dtype == np.float32


def test_float64_data_trains_float64_parameters():
    """Parameters created as float32 follow float64 data."""
    model = classifier()
    for layer in model.trainable_layers:
        layer.weights = layer.weights.astype(np.float32)
    model.train(*blobs(20), epochs=1)
    assert model.layers[0].weights.dtype == np.float64


def test_non_float_dtype_is_refused():
    """An integer dtype is a TypeError at construction."""
    with pytest.raises(TypeError, match="floating"):
        Model(dtype=np.int32)


def test_book_mode_does_not_cast():
    """Inside book_mode the book's float32 weights stay float32 with float64 data, as in the book."""
    with nnref.book_mode():
        model = regressor()
        model.layers[0].weights = np.random.randn(1, 8) * 0.1  # float32 under nnfs's patch
        model.train(np.linspace(0, 1, 20).reshape(-1, 1), np.linspace(0, 1, 20).reshape(-1, 1), epochs=2)
        assert model.layers[0].weights.dtype == np.float32


# ---------------------------------------------------------------- end to end

def test_tiny_end_to_end_classifier_learns():
    """A 2-16-3 classifier with dropout learns three separated blobs (> 95% on held-out data)."""
    model = classifier(dropout=0.1)
    X, y = blobs(300)
    X_test, y_test = blobs(100, seed=7)
    history = model.train(X, y, epochs=10, batch_size=32, validation_data=(X_test, y_test))
    assert history.val_accuracy[-1] > 0.95
    assert history.loss[-1] < history.loss[0]
    predictions = model.output_layer_activation.predictions(model.predict(X_test))
    assert np.mean(predictions == y_test) > 0.95


def test_tiny_end_to_end_binary_model_learns():
    """Sigmoid + binary cross-entropy with (N, 1) targets and binary accuracy learns a linear split."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 2))
    y = (X[:, :1] + X[:, 1:] > 0).astype(int)
    model = Model(log=None)
    model.add(Dense(2, 8, rng=1))
    model.add(ReLU())
    model.add(Dense(8, 1, rng=2))
    model.add(Sigmoid())
    model.set(loss=BinaryCrossentropy(), optimizer=Adam(learning_rate=0.05),
              accuracy=CategoricalAccuracy(binary=True))
    model.finalize()
    history = model.train(X, y, epochs=200)
    assert history.accuracy[-1] > 0.95


def test_save_and_load_delegate_to_persistence(monkeypatch, tmp_path):
    """save/load methods call nnref.persistence (where the safe formats live), with the model and the path."""
    import types

    calls = []
    fake = types.ModuleType("nnref.persistence")
    fake.save_parameters = lambda model, path: calls.append(("save_parameters", model, path))
    fake.load_parameters = lambda model, path: calls.append(("load_parameters", model, path))
    fake.save_model = lambda model, path: calls.append(("save_model", model, path))
    fake.load_model = lambda path, *, log=print: calls.append(("load_model", path, log)) or "loaded"
    monkeypatch.setitem(sys.modules, "nnref.persistence", fake)
    monkeypatch.setattr(nnref, "persistence", fake, raising=False)
    model = classifier()
    p = tmp_path / "m"
    model.save_parameters(p)
    model.load_parameters(p)
    model.save(p)
    assert Model.load(p) == "loaded"
    assert calls == [("save_parameters", model, p), ("load_parameters", model, p), ("save_model", model, p),
                     ("load_model", p, print)]


@pytest.mark.parametrize("book", [False, True], ids=["engine", "book_mode"])
def test_divergence_keeps_the_last_good_parameters_and_names_the_layer(book):
    """SGD at lr 1e6 diverges; the model goes back to the last finite step, names the layer, and can go on."""
    if book:  # the plain classes' path (the book's set-up), in a scope that undoes itself
        with nnref.book_mode():
            test_divergence_keeps_the_last_good_parameters_and_names_the_layer(False)
        return
    X = np.linspace(-1, 1, 32).reshape(-1, 1)
    y = 3 * X

    def run(steps):
        model = regressor(optimizer=SGD(learning_rate=1e6, momentum=0.5))
        if steps:
            model.train(X, y, epochs=steps)
        return model

    model = run(0)
    with np.errstate(all="ignore"), pytest.raises(TrainingDivergedError) as info:
        model.train(X, y, epochs=200)
    err = info.value
    assert re.search(r"layer \d \(.+?\) is the first whose output is NaN or inf|every layer's output is "
                     r"finite, the loss itself overflowed", str(err)), err
    assert "keeps the parameters and optimizer state of the last step" in str(err)
    good_steps = err.epoch - 2  # full batch: the forward of step epoch-1 failed, the update before it is undone
    assert good_steps >= 1 and model.optimizer.iterations == good_steps
    with np.errstate(all="ignore"):
        reference = run(good_steps)
    for (w, b), (ref_w, ref_b) in zip(model.get_parameters(), reference.get_parameters()):
        assert np.isfinite(w).all() and np.isfinite(b).all()
        np.testing.assert_array_equal(w, ref_w)
        np.testing.assert_array_equal(b, ref_b)
    for layer, ref_layer in zip(model.trainable_layers, reference.trainable_layers):
        memory, ref_memory = model.optimizer.state(layer), reference.optimizer.state(ref_layer)
        assert sorted(memory) == sorted(ref_memory)
        for key in memory:
            np.testing.assert_array_equal(memory[key], ref_memory[key])
    model.set_parameters(reference.get_parameters())
    model.optimizer.learning_rate = model.optimizer.current_learning_rate = 1e-6
    model.optimizer.momentum = 0.0
    history = model.train(X, y, epochs=5)
    assert np.isfinite(history.loss).all()


def test_divergence_names_the_first_layer_with_non_finite_output():
    """When a layer's output overflows, the error names that layer (here the first Dense, with huge weights)."""
    model = classifier(lr=1e-3)
    X, y = blobs(30)
    model.layers[0].weights[...] = 1e308
    with np.errstate(all="ignore"), pytest.raises(TrainingDivergedError,
                                                  match=r"layer 0 \(Dense\(2, 16\)\) is the first whose output"):
        model.train(X, y, epochs=2)
