r"""The Model: a list of layers trained, validated and used as one object.

Introduced in chapter 18 (``add``, ``set``, ``finalize``, ``train`` with
validation), extended with batches and epoch-level numbers in chapter 19,
``evaluate`` in chapter 20, parameters and saving in chapter 21 and
``predict`` in chapter 22.

A training step is the book's::

    output = model.forward(batch_X, training=True)     # every layer in order
    loss = data_loss + regularization_loss              # chapter 14
    model.backward(output, batch_y)                     # every layer, reversed
    optimizer.pre_update_params(); update each trainable layer; post_update_params()

What differs from the book's ``Model`` (each point is tested):

* a sigmoid output with binary cross-entropy also gets a combined backward
  pass (:class:`~nnref.losses.SigmoidBinaryCrossentropy`), as softmax with
  categorical cross-entropy does in the book;
* the data are checked once, up front (2-D, finite, as many targets as
  samples, the right number of features, labels in range), before anything
  about the model changes; hidden sizes that do not chain are refused by
  :meth:`Model.finalize`;
* when numpy is not patched, the Model trains, evaluates and predicts through
  :mod:`nnref.engine`, which computes the same numbers as these classes
  (tested) without their per-call overheads; after ``nnfs.init()`` or inside
  :func:`nnref.book_mode` it runs the plain classes, as the book does;
* the parameters follow the dtype of the data (float32 data train float32
  parameters, about twice as fast), or an explicit ``dtype``; after
  ``nnfs.init()`` or inside :func:`nnref.book_mode` nothing is cast, so the
  book's numbers come out;
* a NaN or infinite loss stops training with an error naming the epoch and step;
* ``train`` returns a :class:`History` of per-epoch numbers for plotting;
* ``get_parameters`` and ``set_parameters`` copy, so two models never share arrays;
* saving and loading go through :mod:`nnref.persistence` (no pickle).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, NamedTuple, Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from ._validate import (
    CallOrderError,
    NonFiniteError,
    NotFinite,
    all_finite,
    as_float_array,
    class_labels,
    layer_inputs,
    matching_targets,
    positive_int,
)
from .activations import Linear, ReLU, Sigmoid, Softmax
from .layers import Dense, Dropout, Input
from .losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    MeanAbsoluteError,
    MeanSquaredError,
    SigmoidBinaryCrossentropy,
    SoftmaxCategoricalCrossentropy,
)
from .repro import numpy_patched

__all__ = ["Model", "History", "Metrics", "TrainingDivergedError"]


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite during :meth:`Model.train`.

    Attributes
    ----------
    epoch, step : int
        Where it happened (epochs count from 1, steps from 0, as the book prints them).
    history : History
        The numbers of the epochs completed before it happened.
    """

    def __init__(self, message: str, *, epoch: int, step: int, history: "History") -> None:
        super().__init__(message)
        self.epoch = epoch
        self.step = step
        self.history = history


class Metrics(NamedTuple):
    """Loss and accuracy of one pass over a dataset (what :meth:`Model.evaluate` returns)."""

    loss: float
    accuracy: float


@dataclass
class History:
    """Per-epoch numbers of a :meth:`Model.train` call, ready to plot.

    Training numbers are recorded every epoch: with batches they are the
    epoch-level (accumulated) values of chapter 19, without batches the values
    of the single full-batch step. Validation numbers are recorded every epoch
    when training in batches, and every ``print_every`` epochs plus the last
    one without batches (``val_epoch`` says which).

    Examples
    --------
    >>> h = History()
    >>> len(h)
    0
    """

    epoch: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    data_loss: list[float] = field(default_factory=list)
    reg_loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    val_epoch: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.epoch)

    def as_dict(self) -> dict[str, list]:
        """Every series by name (a copy), e.g. for ``pandas.DataFrame`` or JSON."""
        return {name: list(values) for name, values in vars(self).items()}

    def _add_train(self, epoch: int, data_loss: float, reg_loss: float, accuracy: float, lr: float) -> None:
        self.epoch.append(epoch)
        self.data_loss.append(float(data_loss))
        self.reg_loss.append(float(reg_loss))
        self.loss.append(float(data_loss) + float(reg_loss))
        self.accuracy.append(float(accuracy))
        self.lr.append(float(lr))

    def _add_val(self, epoch: int, metrics: Metrics) -> None:
        self.val_epoch.append(epoch)
        self.val_loss.append(float(metrics.loss))
        self.val_accuracy.append(float(metrics.accuracy))


def _steps(n_samples: int, batch_size: int | None) -> int:
    """Number of batches: a last, partial batch counts as one more step (chapter 19)."""
    if batch_size is None:
        return 1
    return -(-n_samples // batch_size)  # ceil(n / batch_size)


def _batches(arr: Any, batch_size: int | None, steps: int) -> Iterator[Any]:
    """Consecutive slices of ``arr``; slicing makes views, never copies."""
    if batch_size is None:
        yield arr
        return
    for step in range(steps):
        yield arr[step * batch_size:(step + 1) * batch_size]


def _stats_line(prefix: str, accuracy: float, data_loss: float, reg_loss: float, lr: float) -> str:
    """The book's summary line (chapters 14–19)."""
    return (f"{prefix}acc: {accuracy:.3f}, loss: {data_loss + reg_loss:.3f} "
            f"(data_loss: {data_loss:.3f}, reg_loss: {reg_loss:.3f}), lr: {lr}")


# --8<-- [start:model]
class Model:
    r"""A neural network as one object: layers, loss, optimizer and accuracy.

    Introduced in chapter 18; batches and epoch numbers in chapter 19;
    ``evaluate`` in chapter 20; parameters and saving in chapter 21;
    ``predict`` in chapter 22.

    Parameters
    ----------
    dtype : dtype, optional
        Compute in this floating dtype: data and parameters are cast to it.
        By default the parameters follow the dtype of the training data
        (float32 data → float32 weights), except inside
        :func:`nnref.book_mode`, where nothing is cast, as in the book.
    log : callable or None, default print
        Receives each line the book prints (``epoch: ...``, ``step: ...``,
        ``training, ...``, ``validation, ...``). ``None`` trains silently.
        Subclasses can override :meth:`log` instead.

    Attributes
    ----------
    layers : list
        The layers in order, as added.
    loss, optimizer, accuracy
        Set with :meth:`set`.
    input_layer : Input
        Created by :meth:`finalize`.
    trainable_layers : list
        Layers whose ``trainable`` is True (those with weights and biases).
    output_layer_activation
        The last layer; its ``predictions`` turns outputs into predictions.

    Notes
    -----
    One training step on a batch $(X, y)$ with the layers $f_1, \dots, f_K$:

    $$\hat{y} = f_K(\dots f_1(X)), \qquad
      L = \frac{1}{N}\sum_n L_n(\hat{y}_n, y_n) + \sum_{\text{layers}} R(W, b)$$

    then $\partial L / \partial \hat{y}$ flows back through $f_K, \dots, f_1$
    and the optimizer moves every trainable layer's parameters. When the last
    layer is a softmax and the loss categorical cross-entropy (or a sigmoid and
    binary cross-entropy), the two backward passes are replaced by their
    combined form $(\hat{y} - y) / N$ (divided by the outputs $J$ as well for
    the sigmoid), which is faster and keeps the gradient finite.

    Examples
    --------
    >>> import numpy as np
    >>> from nnref import Dense, ReLU, Softmax, CategoricalCrossentropy, Adam, CategoricalAccuracy
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 2)); y = (X[:, 0] > 0).astype(int)
    >>> model = Model(log=None)
    >>> model.add(Dense(2, 8, rng=1)); model.add(ReLU())
    >>> model.add(Dense(8, 2, rng=2)); model.add(Softmax())
    >>> model.set(loss=CategoricalCrossentropy(), optimizer=Adam(learning_rate=0.05),
    ...           accuracy=CategoricalAccuracy())
    >>> model.finalize()
    >>> history = model.train(X, y, epochs=50)
    >>> history.accuracy[-1] > 0.9
    True
    >>> model.predict(X[:3]).shape
    (3, 2)
    """

    def __init__(self, *, dtype: DTypeLike | None = None, log: Callable[[str], Any] | None = print) -> None:
        self.layers: list = []
        self.loss = None
        self.optimizer = None
        self.accuracy = None
        self.input_layer: Input | None = None
        self.trainable_layers: list = []
        self.output_layer_activation = None
        #: The combined output-activation + loss object used by :meth:`backward`, if any.
        self.combined_output = None
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype.kind != "f":
                raise TypeError(f"Model: dtype must be a floating dtype such as float32, got {dtype}")
        self.dtype = dtype
        if log is not None and not callable(log):
            raise TypeError(f"Model: log must be a callable taking one string, or None, got {type(log).__name__}")
        self._log = log
        self._bar = None
        self._finalized = False

    # ------------------------------------------------------------------ building

    def add(self, layer: Any) -> None:
        """Append a layer (chapter 18). Call :meth:`finalize` after the last one."""
        if not (callable(getattr(layer, "forward", None)) and callable(getattr(layer, "backward", None))):
            raise TypeError(f"Model.add: a layer needs forward and backward methods, got {type(layer).__name__}")
        if any(layer is other for other in self.layers):
            raise ValueError(f"Model.add: this {layer!r} object is already layer {self._index(layer)} of the model; "
                             "one object keeps one set of inputs and gradients, so create a new layer instead")
        self.layers.append(layer)
        self._finalized = False

    def set(self, *, loss: Any = None, optimizer: Any = None, accuracy: Any = None) -> None:
        """Set the loss, optimizer and accuracy objects (chapter 18); ``None`` keeps the current one.

        Keyword-only, as in the book: ``model.set(loss=..., optimizer=..., accuracy=...)``.
        """
        if loss is not None:
            self.loss = loss
        if optimizer is not None:
            self.optimizer = optimizer
        if accuracy is not None:
            self.accuracy = accuracy
        if self._finalized:
            # A new loss must learn the trainable layers and the combined backward may change.
            self.finalize()

    # --8<-- [start:model_finalize]
    def finalize(self) -> None:
        """Link the layers and choose how the loss gradient enters them (chapter 18).

        Creates the input layer, lists the trainable layers (``trainable`` is
        True) and hands them to the loss for its regularization term, and picks
        the combined backward pass for softmax + categorical cross-entropy (the
        book) and for sigmoid + binary cross-entropy (our addition). Hidden
        sizes that do not chain are refused here, with the layers named.
        """
        if not self.layers:
            raise ValueError("Model.finalize: the model has no layers; call add() first")
        self._check_sizes_chain()
        self.input_layer = Input()
        # prev / next as in the book, for readers who follow the chain by hand
        for i, layer in enumerate(self.layers):
            layer.prev = self.input_layer if i == 0 else self.layers[i - 1]
            layer.next = self.layers[i + 1] if i < len(self.layers) - 1 else self.loss
        self.output_layer_activation = self.layers[-1]
        self.trainable_layers = [layer for layer in self.layers if getattr(layer, "trainable", False)]
        if self.loss is not None:
            self.loss.remember_trainable_layers(self.trainable_layers)
        last = self.layers[-1]
        if isinstance(last, Softmax) and isinstance(self.loss, CategoricalCrossentropy):
            self.combined_output = SoftmaxCategoricalCrossentropy()
        elif isinstance(last, Sigmoid) and isinstance(self.loss, BinaryCrossentropy):
            self.combined_output = SigmoidBinaryCrossentropy()
        else:
            self.combined_output = None
        self._finalized = True
    # --8<-- [end:model_finalize]

    @property
    def softmax_classifier_output(self):
        """The book's name for the combined softmax + cross-entropy object (``None`` otherwise)."""
        return self.combined_output if isinstance(self.combined_output, SoftmaxCategoricalCrossentropy) else None

    # ------------------------------------------------------------------ passes

    # --8<-- [start:model_passes]
    def forward(self, X: ArrayLike, training: bool = False) -> NDArray:
        """Run ``X`` through every layer; ``training`` switches dropout on (chapter 18).

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
        training : bool, default False

        Returns
        -------
        output : ndarray, shape (n_samples, n_outputs)
            The last layer's output.
        """
        self._require_finalized("forward")
        output = self.input_layer.forward(X, training)
        for layer in self.layers:
            output = layer.forward(output, training)
        return output

    def backward(self, output: NDArray, y: ArrayLike) -> None:
        r"""Send the loss gradient back through every layer (chapter 18).

        With a combined output object, its gradient $(\hat{y} - y)/N$ becomes
        the last layer's ``dinputs`` and the last layer's own backward is skipped.

        Parameters
        ----------
        output : ndarray, shape (n_samples, n_outputs)
            What :meth:`forward` returned.
        y : array_like
            The targets of the batch.
        """
        self._require_finalized("backward")
        if self.combined_output is not None:
            dvalues = self.combined_output.backward(output, y)
            self.layers[-1].dinputs = dvalues
            layers = self.layers[:-1]
        else:
            dvalues = self.loss.backward(output, y)
            layers = self.layers
        for layer in reversed(layers):
            dvalues = layer.backward(dvalues)
    # --8<-- [end:model_passes]

    # ------------------------------------------------------------------ training

    def train(
        self,
        X: ArrayLike,
        y: ArrayLike,
        *,
        epochs: int = 1,
        batch_size: int | None = None,
        print_every: int = 1,
        validation_data: tuple[ArrayLike, ArrayLike] | None = None,
        progress: bool = False,
    ) -> History:
        """Train on ``(X, y)`` (chapters 18–19) and return the per-epoch :class:`History`.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
        y : array_like, shape (n_samples,) or (n_samples, n_outputs)
        epochs : int, default 1
        batch_size : int, optional
            Samples per step; the last step takes what is left. ``None``: one
            full-batch step per epoch.
        print_every : int, default 1
            Without batches, log the epoch line every ``print_every`` epochs
            (chapter 18). With batches, log the step line every
            ``print_every`` steps and at the last step of each epoch (chapter 19).
        validation_data : (X_val, y_val), optional
            Without batches, validated every ``print_every`` epochs and logged
            once at the end (chapter 18); with batches, validated and logged
            after every epoch (chapters 19–20).
        progress : bool, default False
            Show a tqdm progress bar with loss, accuracy and learning rate
            instead of the epoch and step lines (``pip install nnref[progress]``).

        Returns
        -------
        History

        Raises
        ------
        TrainingDivergedError
            If the loss becomes NaN or infinite; names the epoch and the step.
        """
        self._require_finalized("train")
        for name, obj in (("loss", self.loss), ("optimizer", self.optimizer), ("accuracy", self.accuracy)):
            if obj is None:
                raise CallOrderError(f"Model.train: no {name} is set; call model.set({name}=...) first")
        self._require_predictions("train")
        epochs = positive_int(epochs, owner="Model.train", name="epochs")
        print_every = positive_int(print_every, owner="Model.train", name="print_every")
        if batch_size is not None:
            batch_size = positive_int(batch_size, owner="Model.train", name="batch_size")
        X, y, dtype = self._prepare(X, y, owner="Model.train", training=True)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("Model.train: validation_data must be a pair (X_val, y_val), "
                                f"got {type(validation_data).__name__}")
            X_val, y_val, _ = self._prepare(*validation_data, owner="Model.train (validation_data)", dtype=dtype)
            validation_data = (X_val, y_val)
        # Everything is checked: only now may the model change (its dtype first).
        if dtype is not None:
            self._cast_parameters(dtype)
        engine = self._engine(dtype, train=True)

        self.accuracy.init(y)
        history = History()
        self._checkpoints: tuple = (None, None)  # the state before the last two steps (plain classes only)
        train_steps = _steps(len(X), batch_size)
        bar = self._progress_bar(epochs * train_steps) if progress else None
        self._bar = bar
        try:
            for epoch in range(1, epochs + 1):
                self._train_epoch(X, y, epoch, epochs, batch_size, train_steps, print_every,
                                  validation_data, history, bar, engine)
        finally:
            self._bar = None
            if bar is not None:
                bar.close()
        return history

    # --8<-- [start:model_train_step]
    def _train_step(self, batch_X: NDArray, batch_y: NDArray) -> tuple[Any, Any, Any]:
        """One training step of chapters 18–19; returns ``(data_loss, regularization_loss, accuracy)``."""
        # forward through every layer, dropout on
        output = self.forward(batch_X, training=True)
        if not all_finite(output):
            raise NotFinite("the model's outputs became NaN or inf")
        # L = data loss + regularization loss  — chapter 14
        data_loss, reg_loss = self.loss.calculate(output, batch_y, include_regularization=True)
        if not math.isfinite(data_loss + reg_loss):
            raise NotFinite(f"the loss became {data_loss + reg_loss} (data_loss {data_loss}, reg_loss {reg_loss})")
        predictions = self.output_layer_activation.predictions(output)
        accuracy = self.accuracy.calculate(predictions, batch_y)
        # backward through every layer, in reverse order
        self.backward(output, batch_y)
        # the optimizer moves every trainable layer  — chapter 10
        self.optimizer.pre_update_params()
        for layer in self.trainable_layers:
            self.optimizer.update_params(layer)
        self.optimizer.post_update_params()
        return data_loss, reg_loss, accuracy
    # --8<-- [end:model_train_step]

    # --8<-- [start:model_train_epoch]
    def _train_epoch(self, X, y, epoch, epochs, batch_size, train_steps, print_every, validation_data,
                     history, bar, engine=None) -> None:
        """One epoch: the steps, the epoch numbers, and validation when it is due."""
        batched = batch_size is not None
        show_lines = bar is None
        if batched and show_lines:
            self.log(f"epoch: {epoch}")
        if bar is not None:
            bar.set_description(f"epoch {epoch}/{epochs}", refresh=False)
        self.loss.new_pass()
        self.accuracy.new_pass()
        # the same step, computed by the plain classes or by nnref.engine
        train_step = self._train_step if engine is None else engine.train_step
        for step, (batch_X, batch_y) in enumerate(zip(_batches(X, batch_size, train_steps),
                                                      _batches(y, batch_size, train_steps))):
            if engine is None:  # the engine keeps the previous step's state itself
                self._checkpoints = (self._checkpoints[1], self._checkpoint())
            try:
                data_loss, reg_loss, accuracy = train_step(batch_X, batch_y)
            except (NotFinite, NonFiniteError) as exc:  # the data were checked: the network diverged
                self._diverged(str(exc), epoch, step, history, batch_X, engine)
            lr = self.optimizer.current_learning_rate
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{data_loss + reg_loss:.3f}", acc=f"{accuracy:.3f}", lr=f"{lr:.3g}",
                                refresh=False)
            elif batched and (step % print_every == 0 or step == train_steps - 1):
                self.log(_stats_line(f"step: {step}, ", accuracy, data_loss, reg_loss, lr))
        lr = self.optimizer.current_learning_rate
        if batched:
            # Epoch numbers over all batches (chapter 19); the penalty is that of the current weights.
            data_loss, reg_loss = self.loss.calculate_accumulated(include_regularization=True)
            accuracy = self.accuracy.calculate_accumulated()
            if show_lines:
                self.log(_stats_line("training, ", accuracy, data_loss, reg_loss, lr))
        elif show_lines and epoch % print_every == 0:
            self.log(_stats_line(f"epoch: {epoch}, ", accuracy, data_loss, reg_loss, lr))
        history._add_train(epoch, data_loss, reg_loss, accuracy, lr)
        if validation_data is None:
            return
        if batched:
            history._add_val(epoch, self._evaluate(*validation_data, batch_size=batch_size, engine=engine))
        elif epoch % print_every == 0 or epoch == epochs:
            # Chapter 18 prints validation once, after the last epoch; we also record it on the way.
            metrics = self._evaluate(*validation_data, batch_size=None, quiet=epoch != epochs, engine=engine)
            history._add_val(epoch, metrics)
    # --8<-- [end:model_train_epoch]

    # ------------------------------------------------------------------ inference

    def evaluate(self, X_val: ArrayLike, y_val: ArrayLike, *, batch_size: int | None = None) -> Metrics:
        """Loss and accuracy on a dataset, with dropout off (chapter 20).

        Logs ``validation, acc: ..., loss: ...`` as the book prints it.

        Parameters
        ----------
        X_val : array_like, shape (n_samples, n_features)
        y_val : array_like, shape (n_samples,) or (n_samples, n_outputs)
        batch_size : int, optional
            Evaluate in slices of this many samples (same result, less memory).

        Returns
        -------
        Metrics
            ``(loss, accuracy)``; the loss is the data loss only, as in the book.
        """
        self._require_finalized("evaluate")
        for name, obj in (("loss", self.loss), ("accuracy", self.accuracy)):
            if obj is None:
                raise CallOrderError(f"Model.evaluate: no {name} is set; call model.set({name}=...) first")
        self._require_predictions("evaluate")
        if batch_size is not None:
            batch_size = positive_int(batch_size, owner="Model.evaluate", name="batch_size")
        X_val, y_val, dtype = self._prepare(X_val, y_val, owner="Model.evaluate")
        return self._evaluate(X_val, y_val, batch_size=batch_size, engine=self._engine(dtype, train=False))

    # --8<-- [start:model_evaluate]
    def _evaluate(self, X_val: NDArray, y_val: NDArray, *, batch_size: int | None, quiet: bool = False,
                  engine=None) -> Metrics:
        """:meth:`evaluate` on data already checked (chapters 18–20)."""
        # Regression accuracy needs its precision band; a loaded model may not have one yet.
        self.accuracy.init(y_val)
        steps = _steps(len(X_val), batch_size)
        self.loss.new_pass()
        self.accuracy.new_pass()
        for batch_X, batch_y in zip(_batches(X_val, batch_size, steps), _batches(y_val, batch_size, steps)):
            if engine is not None:
                try:
                    engine.evaluate_step(batch_X, batch_y)
                except NotFinite as exc:
                    raise ValueError(f"Model.evaluate: {exc}") from None
                continue
            # dropout off: the model as it will be used
            output = self.forward(batch_X, training=False)
            if not all_finite(output):
                raise ValueError("Model.evaluate: the model's outputs contain NaN or inf values "
                                 "(are the weights finite?)")
            self.loss.calculate(output, batch_y)
            self.accuracy.calculate(self.output_layer_activation.predictions(output), batch_y)
        metrics = Metrics(float(self.loss.calculate_accumulated()), float(self.accuracy.calculate_accumulated()))
        if not quiet:
            self.log(f"validation, acc: {metrics.accuracy:.3f}, loss: {metrics.loss:.3f}")
        return metrics
    # --8<-- [end:model_evaluate]

    # --8<-- [start:model_predict]
    def predict(self, X: ArrayLike, *, batch_size: int | None = None) -> NDArray:
        """The model's outputs for ``X``, with dropout off (chapter 22).

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
        batch_size : int, optional
            Predict in slices of this many samples.

        Returns
        -------
        ndarray, shape (n_samples, n_outputs)
            Raw outputs (e.g. class probabilities); turn them into labels with
            ``model.output_layer_activation.predictions(outputs)``.
        """
        self._require_finalized("predict")
        if batch_size is not None:
            batch_size = positive_int(batch_size, owner="Model.predict", name="batch_size")
        X = self._check_X(X, owner="Model.predict")
        dtype = self._parameter_dtype()
        X = self._cast_data(X, dtype)
        engine = self._engine(dtype, train=False, purpose="predict")
        steps = _steps(len(X), batch_size)
        if engine is None:
            outputs = [self.forward(batch_X, training=False) for batch_X in _batches(X, batch_size, steps)]
        else:  # the engine's outputs live in arrays it reuses: keep copies
            outputs = [engine.forward(batch_X, training=False).copy() for batch_X in _batches(X, batch_size, steps)]
        result = outputs[0] if len(outputs) == 1 else np.vstack(outputs)
        # Never hand back the caller's own array (a model of only element-wise layers may pass it through).
        return result.copy() if np.may_share_memory(result, X) else result
    # --8<-- [end:model_predict]

    # ------------------------------------------------------------------ parameters

    # --8<-- [start:model_parameters]
    def get_parameters(self) -> list[tuple[NDArray, NDArray]]:
        """``[(weights, biases), ...]`` of every trainable layer, as **copies** (chapter 21).

        The book returns the layers' own arrays, so changing what it returns
        changes the model; here the model is never changed through them.
        """
        self._require_finalized("get_parameters")
        return [(np.array(w, copy=True), np.array(b, copy=True))
                for w, b in (layer.get_parameters() for layer in self.trainable_layers)]

    def set_parameters(self, parameters: Sequence[tuple[ArrayLike, ArrayLike]]) -> None:
        """Give every trainable layer **copies** of the given ``(weights, biases)`` (chapter 21).

        Parameters
        ----------
        parameters : sequence of (weights, biases)
            One pair per trainable layer, in order, shaped like the layers' own.
        """
        self._require_finalized("set_parameters")
        try:
            parameters = list(parameters)
        except TypeError as exc:
            raise TypeError("Model.set_parameters: expected a list of (weights, biases) pairs, "
                            f"got {type(parameters).__name__}") from exc
        if len(parameters) != len(self.trainable_layers):
            raise ValueError(f"Model.set_parameters: the model has {len(self.trainable_layers)} trainable "
                             f"layers, got {len(parameters)} parameter pairs")
        for i, (pair, layer) in enumerate(zip(parameters, self.trainable_layers)):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise TypeError(f"Model.set_parameters: item {i} must be a (weights, biases) pair, "
                                f"got {type(pair).__name__}")
            # Dense.set_parameters checks the shapes and copies.
            layer.set_parameters(*pair)

    def save_parameters(self, path: Any) -> None:
        """Save the trainable layers' parameters to ``path`` (chapter 21); see :mod:`nnref.persistence`."""
        from . import persistence

        persistence.save_parameters(self, path)

    def load_parameters(self, path: Any) -> None:
        """Load parameters saved by :meth:`save_parameters` into this model (chapter 21)."""
        from . import persistence

        persistence.load_parameters(self, path)

    def save(self, path: Any) -> None:
        """Save the whole model, architecture and parameters, to ``path`` (chapter 21)."""
        from . import persistence

        persistence.save_model(self, path)

    @staticmethod
    def load(path: Any, *, log: Callable[[str], Any] | None = print) -> "Model":
        """Load a model saved by :meth:`save` (chapter 21). Nothing in the file can run code.

        ``log`` is the loaded model's ``log`` (see the class); ``None`` keeps it silent.
        """
        from . import persistence

        return persistence.load_model(path, log=log)

    # ------------------------------------------------------------------ helpers
    # --8<-- [end:model_parameters]

    def log(self, message: str) -> None:
        """Emit one line of training output (``print`` unless the model was built with another ``log``)."""
        if self._log is None:
            return
        if self._bar is not None and self._log is print:
            self._bar.write(message)  # print above the progress bar instead of through it
        else:
            self._log(message)

    def _diverged(self, what: str, epoch: int, step: int, history: History, batch_X: NDArray, engine) -> None:
        """Raise :class:`TrainingDivergedError`, naming the first layer whose output is not finite.

        Through the fast path the model first goes back to the parameters and
        optimizer state of the last step that gave finite outputs.
        """
        where = "; every layer's output is finite, the loss itself overflowed"
        with np.errstate(all="ignore"):
            a = batch_X
            for i, layer in enumerate(self.layers):
                a = layer.forward(a, training=False)
                if not all_finite(a):
                    where = f"; layer {i} ({layer!r}) is the first whose output is NaN or inf"
                    break
        restored = engine.rollback() if engine is not None else self._restore(self._checkpoints[0])
        kept = ("; the model keeps the parameters and optimizer state of the last step that gave finite "
                "outputs" if restored else "")
        raise TrainingDivergedError(
            f"Model.train: {what} at epoch {epoch}, step {step}{where}; training stopped{kept}. Lower the "
            "learning rate, or check the data and the initial weights", epoch=epoch, step=step, history=history)

    def _checkpoint(self) -> tuple:
        """Copies of the parameters, the optimizer's memory and its step count (for :meth:`_diverged`)."""
        optimizer = self.optimizer
        layers = [(layer.weights.copy(), layer.biases.copy(),
                   {key: value.copy() for key, value in optimizer._state.get(layer, {}).items()})
                  for layer in self.trainable_layers] if hasattr(optimizer, "_state") else None
        return optimizer.iterations, optimizer.current_learning_rate, layers

    def _restore(self, checkpoint: tuple | None) -> bool:
        """Put a :meth:`_checkpoint` back; False if there is none to put back."""
        if checkpoint is None or checkpoint[2] is None:
            return False
        optimizer = self.optimizer
        optimizer.iterations, optimizer.current_learning_rate, layers = checkpoint
        for layer, (weights, biases, memory) in zip(self.trainable_layers, layers):
            layer.weights, layer.biases = weights, biases
            optimizer._state[layer] = memory
        return True

    def _require_finalized(self, what: str) -> None:
        if not self._finalized:
            raise CallOrderError(f"Model.{what}: call model.finalize() after adding the layers and setting "
                                 "the loss (the book's order: add, set, finalize, train)")

    def _require_predictions(self, what: str) -> None:
        if not callable(getattr(self.output_layer_activation, "predictions", None)):
            raise TypeError(f"Model.{what}: the last layer ({self.output_layer_activation!r}) has no predictions() "
                            "method; end the model with an activation such as Softmax, Sigmoid or Linear")

    def _first_n_inputs(self) -> int | None:
        """Features the first layer with a fixed input size expects (element-wise layers keep the count)."""
        for layer in self.layers:
            n = getattr(layer, "n_inputs", None)
            if n is not None:
                return n
        return None

    def _check_X(self, X: ArrayLike, *, owner: str, name: str = "X") -> NDArray:
        # the same check as the first Dense layer's own (one helper for both)
        return layer_inputs(X, self._first_n_inputs(), owner=owner, name=name)

    def _output_width(self, n_features: int) -> int | None:
        """Columns of the model's output, or None if a layer of unknown kind might change them."""
        width = n_features
        for layer in self.layers:
            if isinstance(layer, Dense):
                width = layer.n_neurons
            elif not isinstance(layer, _ELEMENTWISE_LAYERS):
                return None
        return width

    def _check_sizes_chain(self) -> None:
        """Refuse a Dense layer whose input size is not the output size of the layers before it."""
        width, source = None, None
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Dense):
                if width is not None and layer.n_inputs != width:
                    raise ValueError(f"Model.finalize: layer {i} ({layer!r}) takes {layer.n_inputs} inputs, but "
                                     f"layer {source} ({self.layers[source]!r}) gives {width} outputs; "
                                     f"make it Dense({width}, {layer.n_neurons})")
                width, source = layer.n_neurons, i
            elif not isinstance(layer, _ELEMENTWISE_LAYERS):
                width, source = None, None  # a layer of the user's own: its width is unknown

    def _index(self, layer: Any) -> int:
        return next(i for i, other in enumerate(self.layers) if other is layer)

    def _check_targets(self, y: NDArray, n_features: int, *, owner: str) -> NDArray:
        """Check every target once against the output the model will produce.

        Class labels must lie in range for a categorical loss; element-wise
        losses need targets of exactly the output's shape (in [0, 1] for binary
        cross-entropy). The same checks as the losses' own (one helper each).
        """
        width = self._output_width(n_features)
        if width is None:
            return y  # a layer of unknown width: the loss checks each batch itself
        if isinstance(self.loss, CategoricalCrossentropy):
            return class_labels(y, n_samples=len(y), n_classes=width, owner=owner)
        if isinstance(self.loss, (BinaryCrossentropy, MeanSquaredError, MeanAbsoluteError)):
            if y.ndim != 2:
                raise ValueError(f"{owner}: y must have shape (n_samples, {width}), one column per output "
                                 f"of the model, got shape {y.shape}")
            return matching_targets(y, (len(y), width), owner=owner,
                                    binary=isinstance(self.loss, BinaryCrossentropy))
        return y

    def _prepare(self, X: ArrayLike, y: ArrayLike, *, owner: str, training: bool = False,
                 dtype: np.dtype | None = None) -> tuple[NDArray, NDArray, np.dtype | None]:
        """Check the data once and choose the dtype; returns ``(X, y, dtype)`` with the data cast.

        Changes nothing about the model: :meth:`train` casts the parameters
        only after every check has passed.
        """
        X = self._check_X(X, owner=owner)
        y = np.asarray(y)
        if y.ndim == 0 or y.ndim > 2:
            raise ValueError(f"{owner}: y must be 1-D or 2-D, got shape {y.shape}")
        if len(y) != len(X):
            raise ValueError(f"{owner}: X has {len(X)} samples but y has {len(y)}")
        if y.dtype.kind not in "fiub":
            raise TypeError(f"{owner}: y must hold numbers, got dtype {y.dtype}")
        if y.dtype.kind == "f" and not all_finite(y):
            raise ValueError(f"{owner}: y contains NaN or inf values")
        y = self._check_targets(y, X.shape[1], owner=owner)
        if dtype is None:
            dtype = self._data_dtype(X) if training else self._parameter_dtype()
        X = self._cast_data(X, dtype)
        if dtype is not None and y.dtype.kind == "f" and y.dtype != dtype:
            y = y.astype(dtype)  # regression targets in the model's dtype keep the gradient in it
        return X, y, dtype

    def _data_dtype(self, X: NDArray) -> np.dtype | None:
        """The dtype to train in: the explicit one, else the data's; None (leave all) in the book's set-up."""
        if self.dtype is not None:
            return self.dtype
        if numpy_patched():
            return None  # the book never casts: its numbers depend on float32 weights with float64 data
        return X.dtype

    def _parameter_dtype(self) -> np.dtype | None:
        if self.dtype is not None:
            return self.dtype
        if self.trainable_layers and not numpy_patched():
            return np.result_type(*[layer.weights for layer in self.trainable_layers])
        return None

    def _cast_data(self, X: NDArray, dtype: np.dtype | None) -> NDArray:
        if dtype is None:
            return X
        # the engine writes products into arrays of its own: it needs C-contiguous data
        return np.ascontiguousarray(X, dtype=dtype)

    def _cast_parameters(self, dtype: np.dtype) -> None:
        for layer in self.trainable_layers:
            if layer.weights.dtype != dtype:
                layer.weights = layer.weights.astype(dtype)
            if layer.biases.dtype != dtype:
                layer.biases = layer.biases.astype(dtype)

    def _engine(self, dtype: np.dtype | None, *, train: bool, purpose: str | None = None):
        """The fast path (:mod:`nnref.engine`) for this call, or None for the plain classes.

        None when numpy is patched (``nnfs.init()``, :func:`nnref.book_mode`):
        then the book's arithmetic is wanted, which is the plain classes'.
        None also for layers, losses or optimizers the engine has no kernel for
        (a user's own classes, subclasses included).
        """
        if dtype is None or numpy_patched():
            return None
        from . import engine

        if not engine.supports(self, purpose or ("train" if train else "evaluate")):
            return None
        if any(layer.weights.dtype != dtype or layer.biases.dtype != dtype for layer in self.trainable_layers):
            return None
        return engine.Engine(self, dtype, train=train)

    def _progress_bar(self, total: int):
        try:
            from tqdm.auto import tqdm
        except ImportError as exc:
            raise ImportError("Model.train(progress=True) needs tqdm; install it with "
                              "`pip install tqdm` or `pip install nnref[progress]`") from exc
        return tqdm(total=total, unit="step", leave=True)

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Model([{inner}], loss={self.loss!r}, optimizer={self.optimizer!r}, accuracy={self.accuracy!r})"
# --8<-- [end:model]



#: Layers whose output has as many columns as their input.
_ELEMENTWISE_LAYERS = (Dropout, ReLU, Softmax, Sigmoid, Linear)
