"""Tests of the zenith Python package: the in-process Loader, the sidecar channel (when the
zenith-runtime binary is given in $ZENITH_RUNTIME_BINARY), zero-copy lending and errors."""

import io
import os
import signal
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import types
import unittest
from unittest import mock

import numpy as np

import zenith


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ _TABLE[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


def masked(crc):
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord(payloads):
    out = bytearray()
    for p in payloads:
        length = struct.pack("<Q", len(p))
        out += length + struct.pack("<I", masked(crc32c(length))) + p
        out += struct.pack("<I", masked(crc32c(p)))
    return bytes(out)


class ImportTest(unittest.TestCase):
    def test_import_loads_numpy_before_any_batch(self):
        """The extension would otherwise import NumPy on its first array, inside the first
        epoch of a trainer that never imported NumPy itself (a fresh interpreter here)."""
        out = subprocess.run(
            [sys.executable, "-c", "import sys, zenith; print('numpy' in sys.modules)"],
            capture_output=True, text=True, check=True, timeout=60)
        self.assertEqual(out.stdout.strip(), "True")


class LoaderTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = self.dir.name

    def tearDown(self):
        self.dir.cleanup()

    def test_npy_batches_are_zero_copy_tensors(self):
        rng = np.random.default_rng(1)
        arrays = [rng.standard_normal((10, 3, 4)).astype(np.float32) for _ in range(2)]
        for i, a in enumerate(arrays):
            np.save(os.path.join(self.path, "part%d.npy" % i), a)
        want = np.concatenate(arrays)
        got = []
        for batch in zenith.Loader(self.path, batch_size=4, shuffle=False):
            t = batch.tensor()
            self.assertEqual(t.dtype, np.float32)
            self.assertEqual(t.shape[1:], (3, 4))
            self.assertFalse(t.flags.owndata)  # a view into the segment
            self.assertFalse(t.flags.writeable)
            got.append(np.array(t))
        np.testing.assert_array_equal(np.concatenate(got), want)
        self.assertEqual([len(g) for g in got], [4] * 5)  # batches span files

    def test_tfrecord_samples_and_shuffle_cover_the_dataset(self):
        payloads = [("record-%04d" % i).encode() * (1 + i % 3) for i in range(200)]
        with open(os.path.join(self.path, "a.tfrecord"), "wb") as f:
            f.write(tfrecord(payloads[:120]))
        with open(os.path.join(self.path, "b.tfrecord"), "wb") as f:
            f.write(tfrecord(payloads[120:]))
        loader = zenith.Loader(self.path, batch_size=32, shuffle_seed=5, epochs=2)
        seen = {0: [], 1: []}
        for batch in loader:
            self.assertFalse(batch.is_tensor)
            seen[batch.epoch] += [bytes(a) for a in batch.field(0)]
        for epoch in (0, 1):
            self.assertEqual(sorted(seen[epoch]), sorted(payloads))
        self.assertNotEqual(seen[0], seen[1])  # reshuffled per epoch
        self.assertEqual(loader.stats()["zenith_runtime_samples_total"], 400)

    def test_mapped_files_give_the_same_batches_as_read_ones(self):
        payloads = [("m-%05d" % i).encode() * (1 + i % 5) for i in range(3000)]
        with open(os.path.join(self.path, "a.tfrecord"), "wb") as f:
            f.write(tfrecord(payloads))

        def batches(io, **extra):
            return [[bytes(a) for a in b.field(0)]
                    for b in zenith.Loader(self.path, batch_size=64, shuffle_seed=3, io=io,
                                           epochs=2, **extra)]

        # Two epochs: the second reads the mapping kept from the first (or, with
        # io_map_keep_bytes=0, a new one).
        mapped = batches("mmap")
        self.assertEqual(mapped, batches("auto"))
        self.assertEqual(mapped, batches("mmap", io_map_keep_bytes=0))
        self.assertEqual(sorted(sum(mapped, [])), sorted(payloads * 2))
        with self.assertRaisesRegex(zenith.ZenithError, "'io'"):
            zenith.Loader(self.path, io="mapped")

    def test_packed_data_and_index_views(self):
        payloads = [b"a" * (i + 1) for i in range(10)]
        with open(os.path.join(self.path, "a.tfrecord"), "wb") as f:
            f.write(tfrecord(payloads))
        (batch,) = list(zenith.Loader(self.path, batch_size=10, shuffle=False))
        data, index = batch.data(), batch.index()
        self.assertEqual(index.shape, (1, 10, 2))
        self.assertEqual([bytes(data[o:o + n]) for o, n in index[0]], payloads)
        self.assertEqual(batch.nbytes, sum(len(p) for p in payloads))

    def test_sharding_from_arguments(self):
        payloads = [b"%d" % i for i in range(50)]
        with open(os.path.join(self.path, "a.tfrecord"), "wb") as f:
            f.write(tfrecord(payloads))
        union = []
        for rank in range(3):
            for batch in zenith.Loader(self.path, batch_size=8, rank=rank, world_size=3):
                union += [bytes(a) for a in batch.field(0)]
        self.assertEqual(sorted(union), sorted(payloads))

    def test_webdataset_fields_from_pythons_tarfile(self):
        shard = os.path.join(self.path, "shard-000.tar")
        long_dir = "d" * 120  # forces pax headers
        with tarfile.open(shard, "w", format=tarfile.PAX_FORMAT) as tar:
            for i in range(5):
                for ext, data in (("jpg", b"JPEG%d" % i), ("cls", b"%d" % i)):
                    info = tarfile.TarInfo("%s/%05d.%s" % (long_dir, i, ext))
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        batches = list(zenith.Loader(shard, batch_size=5, shuffle=False))
        self.assertEqual(len(batches), 1)
        b = batches[0]
        self.assertEqual(b.fields, ["jpg", "cls"])
        self.assertEqual([bytes(x) for x in b.field("cls")], [b"%d" % i for i in range(5)])
        self.assertEqual(bytes(b.field("jpg")[3]), b"JPEG3")
        self.assertEqual(b.keys()[2].tolist()[0], 0)  # file index

    def test_buffers_are_lent_until_the_arrays_are_gone(self):
        np.save(os.path.join(self.path, "a.npy"), np.arange(64, dtype=np.int64).reshape(64, 1))
        loader = zenith.Loader(self.path, batch_size=1, shuffle=False, slots=2, prefetch=2,
                               timeout=0.5)
        held = [next(loader).tensor(), next(loader).tensor()]  # both buffers lent out
        with self.assertRaises(zenith.ZenithError) as e:
            next(loader)
        self.assertIn("no batch within", str(e.exception))
        self.assertEqual(int(held[1][0, 0]), 1)
        del held  # the arrays die, the batches die, the buffers go back
        self.assertEqual(int(next(loader).tensor()[0, 0]), 2)

    def test_errors_name_the_key_or_the_file(self):
        with self.assertRaises(zenith.ZenithError) as e:
            zenith.Loader(self.path, last_batch="sometimes")
        self.assertIn("last-batch", str(e.exception))
        with self.assertRaises(zenith.ZenithError) as e:
            zenith.Loader(self.path, batchsize=3)
        self.assertIn("batchsize", str(e.exception))
        data = bytearray(tfrecord([b"good", b"broken"]))
        data[-6] ^= 1
        bad = os.path.join(self.path, "bad.tfrecord")
        with open(bad, "wb") as f:
            f.write(data)
        with self.assertRaises(zenith.ZenithError) as e:
            list(zenith.Loader(bad, batch_size=1, shuffle=False))
        self.assertIn("bad.tfrecord", str(e.exception))
        self.assertIn("CRC mismatch", str(e.exception))
        # onError: skip delivers the good record and goes on.
        got = [bytes(a) for b in zenith.Loader(bad, batch_size=1, on_error="skip")
               for a in b.field(0)]
        self.assertEqual(got, [b"good"])

    def test_torch_dataset_wrapper_with_a_stub_torch(self):
        # torch is optional; a stub with the two names the wrapper uses checks the protocol.
        stub = types.ModuleType("torch")
        stub.utils = types.SimpleNamespace(
            data=types.SimpleNamespace(IterableDataset=type("IterableDataset", (), {})))
        stub.from_numpy = lambda a: ("tensor", a.shape)
        # patch.dict puts back the real torch, if one was imported: importing it twice fails.
        with mock.patch.dict(sys.modules, {"torch": stub}):
            np.save(os.path.join(self.path, "a.npy"), np.zeros((6, 2), dtype=np.uint8))
            ds = zenith.torch_dataset(source=self.path, batch_size=3, shuffle=False)
            self.assertIsInstance(ds, stub.utils.data.IterableDataset)
            self.assertEqual(list(ds), [("tensor", (3, 2)), ("tensor", (3, 2))])

    def test_cuda_path_pins_the_segment_and_holds_each_batch_until_its_copy_is_done(self):
        # The ordering, with a stub torch that records calls: the segment is registered once
        # and unregistered at the end; each copy is asynchronous and followed by an event
        # that is waited for before the next batch is taken (the batch, and so its buffer, is
        # held until then). Two slots: holding more than one buffer would stall the loader.
        log = []

        class Tensor:
            def __init__(self, a):
                self.a = a

            def to(self, device, non_blocking=False):
                log.append(("copy", non_blocking, int(self.a[0, 0])))
                return ("device", int(self.a[0, 0]))

        class Event:
            def record(self):
                log.append(("record",))

            def synchronize(self):
                log.append(("sync",))

        class Cudart:
            def cudaHostRegister(self, address, size, flags):
                log.append(("register", address, size, flags))
                return 0

            def cudaHostUnregister(self, address):
                log.append(("unregister", address))
                return 0

        class Device:
            def __init__(self, name):
                self.type = name.split(":")[0]

            def __str__(self):
                return self.type

        class DeviceScope:
            def __init__(self, device):
                pass

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

        stub = types.ModuleType("torch")
        stub.utils = types.SimpleNamespace(
            data=types.SimpleNamespace(IterableDataset=type("IterableDataset", (), {})))
        stub.from_numpy = Tensor
        stub.device = Device
        stub.cuda = types.SimpleNamespace(is_available=lambda: True, cudart=Cudart,
                                          Event=Event, device=DeviceScope)
        with mock.patch.dict(sys.modules, {"torch": stub}):
            arr = np.repeat(np.arange(8, dtype=np.uint8), 2).reshape(8, 2)
            np.save(os.path.join(self.path, "a.npy"), arr)
            ds = zenith.torch_dataset(source=self.path, batch_size=2, shuffle=False, slots=2,
                                      device="cuda")
            got = list(ds)
        self.assertEqual(got, [("device", 0), ("device", 2), ("device", 4), ("device", 6)])
        self.assertEqual(log[0][0], "register")
        self.assertGreater(log[0][2], 0)
        self.assertEqual(log[0][3], 1)
        self.assertEqual(log[-1], ("unregister", log[0][1]))
        body = log[1:-1]
        self.assertEqual(body, [e for i in range(4) for e in
                                (("copy", True, 2 * i), ("record",), ("sync",))])

    def test_cuda_device_without_cuda_is_an_error(self):
        stub = types.ModuleType("torch")
        stub.utils = types.SimpleNamespace(
            data=types.SimpleNamespace(IterableDataset=type("IterableDataset", (), {})))
        stub.device = lambda name: types.SimpleNamespace(type="cuda", __str__=lambda: name)
        stub.cuda = types.SimpleNamespace(is_available=lambda: False)
        with mock.patch.dict(sys.modules, {"torch": stub}):
            np.save(os.path.join(self.path, "a.npy"), np.zeros((4, 2), dtype=np.uint8))
            ds = zenith.torch_dataset(source=self.path, batch_size=2, device="cuda")
            with self.assertRaises(zenith.ZenithError) as e:
                list(ds)
            self.assertIn("no CUDA device", str(e.exception))


BINARY = os.environ.get("ZENITH_RUNTIME_BINARY")


@unittest.skipUnless(BINARY and os.path.exists(BINARY), "ZENITH_RUNTIME_BINARY not set")
class SidecarTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = self.dir.name
        self.data = os.path.join(self.path, "data")
        os.mkdir(self.data)
        arr = np.arange(100 * 8, dtype=np.uint16).reshape(100, 8)
        np.save(os.path.join(self.data, "x.npy"), arr)
        self.arr = arr

    def tearDown(self):
        self.dir.cleanup()

    def start(self, *flags):
        return subprocess.Popen(
            [BINARY, "--source=" + self.data, "--shm-dir=" + self.path, "--metrics.port=0",
             "--channel-name=py", "--batch-size=10", "--shuffle=false"] + list(flags),
            stderr=subprocess.DEVNULL)

    def test_channel_reads_every_batch_then_sigterm(self):
        proc = self.start("--epochs=1")
        try:
            chan = zenith.Channel(os.path.join(self.path, "py.zenith"), timeout=10)
            rows = np.concatenate([np.array(b.tensor()) for b in chan])
            np.testing.assert_array_equal(rows, self.arr)
        finally:
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=10), 0)

    def test_dead_sidecar_is_an_error_not_a_hang(self):
        proc = self.start("--epochs=0", "--slots=2", "--prefetch=1")
        try:
            chan = zenith.Channel(os.path.join(self.path, "py.zenith"), timeout=60)
            first = next(chan)
            self.assertEqual(first.num_samples, 10)
            del first
            proc.kill()
            proc.wait()
            start = time.monotonic()
            with self.assertRaises(zenith.ZenithError) as e:
                for _ in range(10):
                    next(chan)
            self.assertLess(time.monotonic() - start, 5)
            self.assertIn("died", str(e.exception))
        finally:
            if proc.poll() is None:
                proc.kill()


def _cuda_torch():
    try:
        import torch
    except ImportError:
        return None, "SKIPPED: torch is not installed"
    if not torch.cuda.is_available():
        return None, "SKIPPED: torch sees no CUDA device"
    return torch, ""


_TORCH, _NO_CUDA = _cuda_torch()


@unittest.skipUnless(_TORCH, _NO_CUDA)
class TorchCudaTest(unittest.TestCase):
    """The GPU path: batches copied by DMA from the page-locked segment, buffers reused."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = self.dir.name

    def tearDown(self):
        self.dir.cleanup()

    def test_device_batches_match_the_files_while_buffers_are_reused(self):
        torch = _TORCH
        rng = np.random.default_rng(7)
        arr = rng.integers(0, 255, size=(512, 64, 64), dtype=np.uint8)
        np.save(os.path.join(self.path, "x.npy"), arr)
        # Two slots: every buffer is reused many times while earlier copies may be in flight.
        ds = zenith.torch_dataset(source=self.path, batch_size=16, shuffle=False, slots=2,
                                  device="cuda")
        seen = 0
        for i, t in enumerate(ds):
            self.assertEqual(t.device.type, "cuda")
            # Trainer work on the stream before looking, so a late copy would be caught.
            total = t.to(torch.int64).sum()
            expected = arr[i * 16:(i + 1) * 16]
            self.assertEqual(int(total), int(expected.astype(np.int64).sum()), "batch %d" % i)
            self.assertTrue(np.array_equal(t.cpu().numpy(), expected), "batch %d" % i)
            seen += 1
        self.assertEqual(seen, 32)

    def test_pinned_segment_against_pageable_copies(self):
        torch = _TORCH
        batch_mib = 16
        rows = 64
        arr = np.ones((rows * 8, batch_mib * 1024 * 1024 // rows), dtype=np.uint8)
        np.save(os.path.join(self.path, "big.npy"), arr)

        # The copy itself: one batch in the loader's segment, copied from pageable memory
        # (a plain .to("cuda") stages it), then again once the segment is page-locked as
        # torch_dataset(device=...) does it.
        loader = zenith.Loader(self.path, batch_size=rows, shuffle=False)
        batch = next(loader)
        host = torch.from_numpy(batch.tensor())

        def copy_rate(non_blocking, repeat=20):
            host.to("cuda", non_blocking=non_blocking)
            torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(repeat):
                host.to("cuda", non_blocking=non_blocking)
            torch.cuda.synchronize()
            return repeat * host.numel() / (time.perf_counter() - start) / 1e9

        pageable = copy_rate(False)
        cudart = torch.cuda.cudart()
        address, size = loader._loader.segment_address, loader._loader.segment_bytes
        self.assertEqual(int(cudart.cudaHostRegister(address, size, 1)), 0)
        try:
            registered = copy_rate(True)
        finally:
            torch.cuda.synchronize()
            cudart.cudaHostUnregister(address)
        del host, batch, loader

        # End to end, reading included: timed from the first batch on the device, so the
        # loader's start and the one-time page-locking are left out.
        def rate(batches):
            got, start = 0, None
            for t in batches:
                if start is None:
                    torch.cuda.synchronize()
                    start = time.perf_counter()
                    continue
                got += t.numel()
            torch.cuda.synchronize()
            return got / (time.perf_counter() - start) / 1e9

        options = dict(source=self.path, batch_size=rows, shuffle=False, epochs=8)
        plain = rate(t.to("cuda") for t in zenith.torch_dataset(**options))
        pinned = rate(zenith.torch_dataset(device="cuda", **options))
        sys.stderr.write(
            "RESULT python_h2d_registered_segment zenith=%.1f pageable=%.1f unit=GB/s "
            "ratio=%.2f bytes=%d\n" % (registered, pageable, registered / pageable, batch_mib << 20))
        sys.stderr.write("python feeder end to end (reading included): device path %.2f GB/s, "
                         "plain .to(cuda) %.2f GB/s\n" % (pinned, plain))
        self.assertGreater(registered, 0)
        self.assertGreater(pinned, 0)


if __name__ == "__main__":
    unittest.main()
