"""The worked example of the page "From nnref to PyTorch" (docs/pytorch.md).

The page shows each section below (pymdownx.snippets) and, where PyTorch is
installed, runs them in order in one namespace while the site is built
(see the first executed block of the page), so what the reader sees is what
ran. Run it by hand with ``python docs/_build/pytorch_example.py``.
"""

# --8<-- [start:data]
import numpy as np

import nnref

# Fashion-MNIST's shape: 784 pixels scaled to [-1, 1] as in chapter 19, 10 classes.
# The labels come from a random linear "teacher", so there is something to learn.
rng = np.random.default_rng(0)
X = rng.uniform(-1, 1, size=(4096, 784)).astype(np.float32)
teacher = rng.standard_normal((784, 10)).astype(np.float32)
y = np.argmax(X @ teacher, axis=1)
# --8<-- [end:data]

# --8<-- [start:nnref]
model = nnref.Model(log=None)
model.add(nnref.Dense(784, 128, rng=1))
model.add(nnref.ReLU())
model.add(nnref.Dense(128, 128, rng=2))
model.add(nnref.ReLU())
model.add(nnref.Dense(128, 10, rng=3))
model.add(nnref.Softmax())
model.set(loss=nnref.CategoricalCrossentropy(), optimizer=nnref.Adam(decay=1e-3),
          accuracy=nnref.CategoricalAccuracy())
model.finalize()

before = model.train(X, y, epochs=5, batch_size=128)
print(f"after {len(before)} epochs in nnref: loss {before.loss[-1]:.4f}, "
      f"accuracy {before.accuracy[-1]:.3f}, {model.optimizer.iterations} Adam steps, "
      f"next learning rate {model.optimizer.learning_rate / (1 + model.optimizer.decay * model.optimizer.iterations):.6f}")
# --8<-- [end:nnref]

# --8<-- [start:export]
import torch

torch.set_num_threads(1)
net, loss_fn, optimizer, scheduler = nnref.to_torch(model, training=True)
print(net)
print("Adam state of the first weight matrix:",
      {key: tuple(value.shape) if value.ndim else float(value)
       for key, value in optimizer.state[net[0].weight].items()})
print("learning rate of the next step:", f"{optimizer.param_groups[0]['lr']:.6f}")
# --8<-- [end:export]

# --8<-- [start:torch]
def torch_epoch(X, y, batch_size=128):
    """One epoch in PyTorch, batch by batch in nnref's order; the mean loss over the samples."""
    inputs, targets = torch.from_numpy(X), torch.from_numpy(y)
    total = 0.0
    for start in range(0, len(X), batch_size):
        batch_x, batch_y = inputs[start:start + batch_size], targets[start:start + batch_size]
        optimizer.zero_grad()
        loss = loss_fn(net(batch_x), batch_y)
        loss.backward()
        optimizer.step()
        scheduler.step()  # nnref's decay: once per step
        total += float(loss.detach()) * len(batch_x)
    return total / len(X)


torch_losses = [torch_epoch(X, y) for _ in range(5)]
after = model.train(X, y, epochs=5, batch_size=128)  # nnref goes on too, to compare
for epoch, (ours, theirs) in enumerate(zip(after.loss, torch_losses), start=6):
    print(f"epoch {epoch:2d}: nnref {ours:.6f}   PyTorch {theirs:.6f}")
curve_gap = max(abs(ours - theirs) / ours for ours, theirs in zip(after.loss, torch_losses))
print(f"largest relative difference between the two curves: {curve_gap:.1e}")
assert curve_gap < 1e-3  # the page says the curves coincide
# --8<-- [end:torch]

# --8<-- [start:gap]
def weight_gap(model, net):
    """Largest |nnref − PyTorch| over all weights and biases, absolute and relative to the largest weight."""
    pairs = [(layer.weights, linear.weight.detach().numpy().T) for layer, linear in
             zip(model.trainable_layers, (m for m in net if isinstance(m, torch.nn.Linear)))]
    pairs += [(layer.biases[0], linear.bias.detach().numpy()) for layer, linear in
              zip(model.trainable_layers, (m for m in net if isinstance(m, torch.nn.Linear)))]
    absolute = max(float(np.max(np.abs(a - b))) for a, b in pairs)
    scale = max(float(np.max(np.abs(b))) for _, b in pairs)
    return absolute, absolute / scale


absolute, relative = weight_gap(model, net)
print(f"after 5 more epochs ({5 * len(X) // 128} steps) on each side: largest weight difference "
      f"{absolute:.2e}, {relative:.2e} of the largest weight")
# --8<-- [end:gap]

# --8<-- [start:closing]
def one_more_step(optimizer, dtype, steps=20):
    """Train `steps` batches in nnref, export with the optimizer state, one more step in each."""
    data, labels = X[:128 * (steps + 1)].astype(dtype), y[:128 * (steps + 1)]
    model = nnref.Model(log=None)
    for i, (n_in, n_out) in enumerate([(784, 128), (128, 128), (128, 10)]):
        model.add(nnref.Dense(n_in, n_out, rng=i + 1, dtype=dtype))
        model.add(nnref.ReLU() if n_out == 128 else nnref.Softmax())
    model.set(loss=nnref.CategoricalCrossentropy(), optimizer=optimizer, accuracy=nnref.CategoricalAccuracy())
    model.finalize()
    model.train(data[:-128], labels[:-128], epochs=1, batch_size=128)  # `steps` steps
    net, loss_fn, torch_optimizer, scheduler = nnref.to_torch(model, training=True)
    model.train(data[-128:], labels[-128:], epochs=1)  # the extra step in nnref ...
    torch_optimizer.zero_grad()  # ... and in PyTorch
    loss_fn(net(torch.from_numpy(data[-128:])), torch.from_numpy(labels[-128:])).backward()
    torch_optimizer.step()
    return weight_gap(model, net)


rows = ["| optimizer | dtype | largest difference | relative to the largest weight |", "|---|---|---|---|"]
for name, make in [("Adam(decay=1e-3)", lambda: nnref.Adam(decay=1e-3)),
                   ("SGD(learning_rate=0.1, decay=1e-3, momentum=0.9)",
                    lambda: nnref.SGD(learning_rate=0.1, decay=1e-3, momentum=0.9))]:
    for dtype in (np.float64, np.float32):
        absolute, relative = one_more_step(make(), dtype)
        assert relative <= (1e-12 if dtype == np.float64 else 1e-6), (name, dtype, relative)
        rows.append(f"| `{name}` | {np.dtype(dtype).name} | {absolute:.1e} | {relative:.1e} |")
print("\n".join(rows))
# --8<-- [end:closing]
