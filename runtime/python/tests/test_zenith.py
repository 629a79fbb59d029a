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
        sys.modules["torch"] = stub
        try:
            np.save(os.path.join(self.path, "a.npy"), np.zeros((6, 2), dtype=np.uint8))
            ds = zenith.torch_dataset(source=self.path, batch_size=3, shuffle=False)
            self.assertIsInstance(ds, stub.utils.data.IterableDataset)
            self.assertEqual(list(ds), [("tensor", (3, 2)), ("tensor", (3, 2))])
        finally:
            del sys.modules["torch"]


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


if __name__ == "__main__":
    unittest.main()
